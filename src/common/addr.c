/* SPDX-License-Identifier: ISC */
/*
 * addr.c: socket addresses as text, for logs, the readiness line and the
 * UCSPI environment, and the one clock every duration is measured on.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "config.h"

/* The numeric host alone; IPv4-mapped IPv6 shown as IPv4, as users expect. */
const char *
addr_host(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	const struct sockaddr_in	*sin = (const void *)sa;

	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		if (inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf,
		    len) != NULL)
			return buf;
	} else if (sa->sa_family == AF_INET6) {
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, buf, len) != NULL)
			return buf;
	} else if (sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &sin->sin_addr, buf, len) != NULL)
			return buf;
	}
	snprintf(buf, len, "?");
	return buf;
}

int
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		    ->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
		    ->sin_port);
	return 0;
}

/* One address as a HANDOFF carries it (lib/wire.h): IPv4 in the first 4
 * bytes, or as6: IPv6, IPv4 as ::ffff:a.b.c.d. */
static int
addr_wire_one(const struct sockaddr *sa, int as6, uint8_t addr[16],
    uint16_t *port)
{
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	const struct sockaddr_in	*sin = (const void *)sa;
	int				 v6 = sa->sa_family == AF_INET6 &&
					    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);

	memset(addr, 0, 16);
	*port = addr_port(sa);
	if (as6 && sa->sa_family == AF_INET6)
		memcpy(addr, &sin6->sin6_addr, 16);
	else if (as6) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &sin->sin_addr, 4);
	} else if (v6)
		memcpy(addr, &sin6->sin6_addr, 16);
	else if (sa->sa_family == AF_INET6)
		memcpy(addr, &sin6->sin6_addr.s6_addr[12], 4);
	else
		memcpy(addr, &sin->sin_addr, 4);
	return v6 ? 6 : 4;
}

/*
 * A client's peer and local address for a HANDOFF, of one family: 4 if
 * both are IPv4 (or v4-mapped), else 6 (a v4-mapped peer on a v6 socket,
 * or a PROXY header of two families: both kept as v6).
 */
void
addr_wire(const struct sockaddr *peer, const struct sockaddr *local,
    uint8_t *family, uint8_t paddr[16], uint16_t *pport, uint8_t laddr[16],
    uint16_t *lport)
{
	int	pf, lf;

	pf = addr_wire_one(peer, 0, paddr, pport);
	lf = addr_wire_one(local, 0, laddr, lport);
	*family = (uint8_t)pf;
	if (pf != lf) {
		*family = 6;
		(void)addr_wire_one(peer, 1, paddr, pport);
		(void)addr_wire_one(local, 1, laddr, lport);
	}
}

/* "1.2.3.4:5" or "[::1]:5". */
const char *
addr_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	addr_host(sa, host, sizeof(host));
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", host, addr_port(sa));
	else
		snprintf(buf, len, "%s:%d", host, addr_port(sa));
	return buf;
}

/* Not a wildcard: a socket bound there has that address for each of
 * its connections (unless transparent, which the caller asks). */
int
addr_specific(const struct sockaddr *sa)
{
	const struct sockaddr_in	*a = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*a6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return a->sin_addr.s_addr != htonl(INADDR_ANY);
	return sa->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) &&
	    !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr);
}

/* A client address as a limit counts it: IPv4 whole, IPv6 by its /64. */
uint64_t
addr_key(const struct sockaddr *sa)
{
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	const struct sockaddr_in	*sin = (const void *)sa;
	uint64_t			 k;

	if (sa->sa_family == AF_INET)
		return (1ull << 63) | ntohl(sin->sin_addr.s_addr);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		uint32_t a;

		memcpy(&a, &sin6->sin6_addr.s6_addr[12], 4);
		return (1ull << 63) | ntohl(a);
	}
	/* One IPv6 subscriber usually owns a whole /64: count it as one. */
	memcpy(&k, sin6->sin6_addr.s6_addr, 8);
	return k & ~(1ull << 63);
}

uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/*
 * The address as the networks compare it: its family and bytes. An IPv4
 * client on an IPv6 listener arrives mapped (::ffff:a.b.c.d) and is
 * compared as the IPv4 address it is. NULL for another family.
 */
static const uint8_t *
addr_bytes(const struct sockaddr *sa, int *family)
{
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	const struct sockaddr_in	*sin = (const void *)sa;

	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		return (const uint8_t *)&sin->sin_addr;
	}
	if (sa->sa_family != AF_INET6)
		return NULL;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		*family = AF_INET;
		return &sin6->sin6_addr.s6_addr[12];
	}
	*family = AF_INET6;
	return sin6->sin6_addr.s6_addr;
}

/* Whether a (of family) is inside net (host bits zero). */
static int
net_has(const struct netmask *net, int family, const uint8_t *a)
{
	int	bits = net->prefix, full = bits / 8;

	if (net->family != family || memcmp(a, net->addr, full) != 0)
		return 0;
	return bits % 8 == 0 || ((a[full] ^ net->addr[full]) &
	    (0xff << (8 - bits % 8)) & 0xff) == 0;
}

/* Whether an address is inside one of the networks (config.h's netmask). */
int
addr_in_nets(const struct sockaddr *sa, const struct netmask *nets, int n)
{
	const uint8_t	*a;
	int		 family, i;

	if ((a = addr_bytes(sa, &family)) == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (net_has(&nets[i], family, a))
			return 1;
	return 0;
}

/*
 * Whether allow and deny lists (config.h's aclent) admit an address: not
 * inside a deny entry, and inside an allow entry if there is any. An
 * address of no known family is admitted by empty lists only.
 */
int
addr_acl_allows(const struct sockaddr *sa, const struct aclent *acl, int n)
{
	const uint8_t	*a;
	int		 family, i, allows = 0, allowed = 0;

	if (n == 0)
		return 1;
	if ((a = addr_bytes(sa, &family)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (!acl[i].deny)
			allows = 1;
		if (!net_has(&acl[i].net, family, a))
			continue;
		if (acl[i].deny)
			return 0;
		allowed = 1;
	}
	return allowed || !allows;
}
