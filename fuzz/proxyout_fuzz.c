/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for proxyout.c: addresses, ports and TLV strings from
 * the input; every header built is read back by the frontend's parser
 * (proxy.c) to the same addresses and ports, whole, and never longer than
 * PROXYOUT_MAX or the buffer it was given.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "proxyout.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One address from 19 bytes: a family byte, 16 address bytes, a port. */
static void
take(const uint8_t *p, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	switch (p[0] % 4) {
	case 0:
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, p + 1, 4);
		memcpy(&sin->sin_port, p + 17, 2);
		break;
	case 1:
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, p + 1, 16);
		memcpy(&sin6->sin6_port, p + 17, 2);
		break;
	case 2:
		/* IPv4-mapped */
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] =
		    0xff;
		memcpy(sin6->sin6_addr.s6_addr + 12, p + 1, 4);
		memcpy(&sin6->sin6_port, p + 17, 2);
		break;
	default:
		ss->ss_family = AF_UNIX;
	}
}

/* Same address and port, whatever the family's spelling. */
static void
unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in	 sin;

	if (ss->ss_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
}

static void
check(const uint8_t *buf, size_t n, size_t cap, struct sockaddr_storage *s,
    struct sockaddr_storage *d)
{
	struct sockaddr_storage	 hs, hd;
	struct proxy_hdr	 h;
	int			 known;

	if (n == 0)
		return;
	if (n > cap || n > PROXYOUT_MAX)
		abort();
	if (proxy_probe(buf, n, &h) != PROBE_MATCH || h.consumed != n)
		abort();
	known = (s->ss_family == AF_INET || s->ss_family == AF_INET6) &&
	    (d->ss_family == AF_INET || d->ss_family == AF_INET6);
	if (h.local == known)
		abort();
	if (!known)
		return;
	hs = h.src;
	hd = h.dst;
	unmap(&hs);
	unmap(&hd);
	unmap(s);
	unmap(d);
	/* A mixed pair comes back mapped, then unmapped above. */
	if (memcmp(&hs, s, sizeof(hs)) != 0 || memcmp(&hd, d, sizeof(hd)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage	 s, d;
	uint8_t			*out;
	char			 auth[300], alpn[300];
	size_t			 cap, n, a, b;

	if (size < 2 * 19 + 3)
		return 0;
	take(data, &s);
	take(data + 19, &d);
	cap = data[38] * 3;
	if (cap > PROXYOUT_MAX + 64)
		cap = PROXYOUT_MAX + 64;
	a = data[39] % 2 ? (size_t)data[39] : 0;
	b = data[40];
	data += 41;
	size -= 41;
	a = a < size ? a : size;
	memcpy(auth, data, a);
	auth[a] = '\0';
	b = b < size - a ? b : size - a;
	memcpy(alpn, data + a, b);
	alpn[b] = '\0';
	/* An exact-size heap copy, so that ASan sees a write past cap. */
	if ((out = malloc(cap ? cap : 1)) == NULL)
		return 0;
	n = proxyout_v1(out, cap, (struct sockaddr *)&s,
	    (struct sockaddr *)&d);
	check(out, n, cap, &s, &d);
	take(data - 41, &s);
	take(data - 41 + 19, &d);
	n = proxyout_v2(out, cap, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, auth, alpn);
	check(out, n, cap, &s, &d);
	free(out);
	return 0;
}
