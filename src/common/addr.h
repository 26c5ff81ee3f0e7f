/* SPDX-License-Identifier: ISC */
/* addr.c: socket addresses as text and keys; the monotonic clock. */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>
#include <stdint.h>

/* addr.c */
#define ADDR_STRLEN	64	/* "[v6]:port" fits */
const char	*addr_ntop(const struct sockaddr *, char *, size_t);
const char	*addr_host(const struct sockaddr *, char *, size_t);
int		 addr_port(const struct sockaddr *);
uint64_t	 addr_key(const struct sockaddr *);
int		 addr_specific(const struct sockaddr *);
uint64_t	 now_ns(void);
void		 addr_wire(const struct sockaddr *peer,
		    const struct sockaddr *local, uint8_t *family,
		    uint8_t paddr[16], uint16_t *pport, uint8_t laddr[16],
		    uint16_t *lport);
struct netmask;
struct aclent;
int		 addr_in_nets(const struct sockaddr *, const struct netmask *,
		    int n);
int		 addr_acl_allows(const struct sockaddr *,
		    const struct aclent *, int n);

#endif
