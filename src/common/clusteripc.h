/* SPDX-License-Identifier: ISC */
/*
 * The messages between the parent and the cluster process
 * (clusteripc.c): this host's exported names one way, the names the
 * other hosts export the other way; each a whole table, so the latest
 * alone matters (coalesced). LOG and READY are the frontend's.
 */
#ifndef CLUSTERIPC_H
#define CLUSTERIPC_H

#include <netinet/in.h>
#include <stdint.h>
#include "config.h"
#include "ipc.h"

#define CLUSTER_REMOTE_MAX	2048	/* names of other hosts, in all */
#define CLUSTER_LOCAL_MAX	MAX_SERVICES

/*
 * A name's match rules as they travel in etcd, for the other hosts to
 * know its implicit clients: words "PROTO,HOST,ALPN" (tls, http or ssh;
 * HOST a lower-case pattern or empty, only for tls and http; ALPN empty
 * or printable, only for tls), one space apart.
 */
#define CL_RULES_MAX		511

/* IPC_CL_NAMES: this, then n of struct ipc_cl_name. */
struct ipc_cl_names {
	uint32_t	 n;
};
struct ipc_cl_name {
	char		 name[SERVICE_NAME_MAX + 1];	/* lower case */
	char		 rules[CL_RULES_MAX + 1];
};

/* IPC_CL_TABLE: this, then n entries, sorted by name then host. */
struct ipc_cl_table {
	uint32_t	 n;
	uint32_t	 flags;		/* CL_* */
	int64_t		 revision;	/* etcd's, as last seen */
	uint32_t	 lease_s;	/* ours, as etcd granted it */
	uint32_t	 pad;
};
#define CL_CONNECTED	0x1	/* etcd answers now */
#define CL_STALE	0x2	/* not heard from etcd for a lease time */
#define CL_LEASED	0x4	/* our lease is held */

struct ipc_cl_entry {
	char		 name[SERVICE_NAME_MAX + 1];	/* lower case */
	char		 host[CLUSTER_NAME_MAX + 1];
	struct sockaddr_in6 addr;	/* or sockaddr_in; its rendezvous */
	char		 rules[CL_RULES_MAX + 1];
};

/* A table as clusteripc_table_parse found it: entries maybe unaligned. */
struct cl_table_view {
	struct ipc_cl_table	 t;
	const uint8_t		*entries;
};

int	clusteripc_names_parse(enum ipc_type, const uint8_t *, size_t,
	    int hasfd, uint32_t *n, const uint8_t **names, const char **why);
int	clusteripc_rules_valid(const char *);
int	clusteripc_rule_next(const char **p, enum proto *, char *host,
	    char *alpn);
int	clusteripc_table_parse(enum ipc_type, const uint8_t *, size_t,
	    int hasfd, struct cl_table_view *, struct ipc_fmsg *,
	    const char **why);
void	clusteripc_entry(const struct cl_table_view *, uint32_t i,
	    struct ipc_cl_entry *);

#endif
