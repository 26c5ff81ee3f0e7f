/* SPDX-License-Identifier: ISC */
/*
 * proxyout.c: the PROXY header the relay sends a backend first, so that
 * the backend sees the real client. Both builders return the header's
 * length, or 0 when cap is too small; they never write past cap. A pair
 * of addresses that is not TCP over one family (after IPv4-mapped IPv6
 * is unmapped, or an IPv4 one mapped to meet an IPv6 one) is sent as
 * v1 UNKNOWN or v2 LOCAL: the backend then keeps the connection's own.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "proxyout.h"

static const uint8_t v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* An address as 4 or 16 bytes and a port; 0: not IPv4 or IPv6. */
static int
unpack(const struct sockaddr *sa, uint8_t a[16], uint16_t *port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*sin6 =
	    (const struct sockaddr_in6 *)sa;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(a, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	*port = ntohs(sin6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(a, sin6->sin6_addr.s6_addr + 12, 4);
		return 4;
	}
	memcpy(a, &sin6->sin6_addr, 16);
	return 16;
}

/* Both ends in one family: IPv4 is mapped when the other is IPv6. */
static int
pair(const struct sockaddr *src, const struct sockaddr *dst, uint8_t s[16],
    uint16_t *sp, uint8_t d[16], uint16_t *dp)
{
	int	ns = unpack(src, s, sp), nd = unpack(dst, d, dp);
	uint8_t	*v4;

	if (ns == 0 || nd == 0)
		return 0;
	if (ns == nd)
		return ns;
	v4 = ns == 4 ? s : d;
	memmove(v4 + 12, v4, 4);
	memset(v4, 0, 10);
	v4[10] = v4[11] = 0xff;
	return 16;
}

size_t
proxyout_v1(uint8_t *buf, size_t cap, const struct sockaddr *src,
    const struct sockaddr *dst)
{
	char		 sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	uint8_t		 s[16], d[16];
	uint16_t	 sp = 0, dp = 0;
	int		 n, fam;

	if ((fam = pair(src, dst, s, &sp, d, &dp)) == 0)
		n = snprintf((char *)buf, cap, "PROXY UNKNOWN\r\n");
	else {
		inet_ntop(fam == 4 ? AF_INET : AF_INET6, s, sa, sizeof(sa));
		inet_ntop(fam == 4 ? AF_INET : AF_INET6, d, da, sizeof(da));
		n = snprintf((char *)buf, cap, "PROXY TCP%c %s %s %u %u\r\n",
		    fam == 4 ? '4' : '6', sa, da, sp, dp);
	}
	/* snprintf's NUL is not part of the header. */
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* A TLV of an optional string; 0 when it does not fit. */
static size_t
tlv(uint8_t *p, size_t room, uint8_t type, const char *s)
{
	size_t	n = s == NULL ? 0 : strlen(s);

	if (n == 0)
		return 0;
	if (n > 255 || 3 + n > room)
		return (size_t)-1;
	p[0] = type;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	memcpy(p + 3, s, n);
	return 3 + n;
}

size_t
proxyout_v2(uint8_t *buf, size_t cap, const struct sockaddr *src,
    const struct sockaddr *dst, const char *authority, const char *alpn)
{
	uint8_t		 s[16], d[16];
	uint16_t	 sp = 0, dp = 0;
	size_t		 len, t;
	int		 fam;

	fam = pair(src, dst, s, &sp, d, &dp);
	len = 16 + (fam == 4 ? 12 : fam == 16 ? 36 : 0);
	if (cap < len)
		return 0;
	memcpy(buf, v2_sig, sizeof(v2_sig));
	buf[12] = fam == 0 ? 0x20 : 0x21;	/* version 2, LOCAL or PROXY */
	buf[13] = fam == 4 ? 0x11 : fam == 16 ? 0x21 : 0x00;
	if (fam != 0) {
		memcpy(buf + 16, s, fam);
		memcpy(buf + 16 + fam, d, fam);
		buf[16 + 2 * fam] = sp >> 8;
		buf[17 + 2 * fam] = sp & 0xff;
		buf[18 + 2 * fam] = dp >> 8;
		buf[19 + 2 * fam] = dp & 0xff;
		/* What the client asked for, as a ClientHello said it. */
		if ((t = tlv(buf + len, cap - len, PP2_TYPE_ALPN, alpn)) ==
		    (size_t)-1)
			return 0;
		len += t;
		if ((t = tlv(buf + len, cap - len, PP2_TYPE_AUTHORITY,
		    authority)) == (size_t)-1)
			return 0;
		len += t;
	}
	buf[14] = (uint8_t)((len - 16) >> 8);
	buf[15] = (uint8_t)(len - 16);
	return len;
}
