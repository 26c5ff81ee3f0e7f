/* SPDX-License-Identifier: ISC */
/*
 * proxy.c: the PROXY protocol header a trusted balancer sends before the
 * client's bytes (haproxy's proxy-protocol.txt, versions 1 and 2). A pure
 * function over (buf, len): no I/O, no globals, no allocation; each check
 * is made once the bytes it needs are in, in the order of the header, so
 * a split never changes the verdict (fuzz/proxy_fuzz.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "frontend.h"

#define V1_MAX		107	/* the longest v1 line, CR LF in */
#define V2_HDR		16	/* signature, ver_cmd, family, length */

#define BAD_V1		"bad PROXY v1 header"
#define BAD_V1_LONG	"PROXY v1 header too long"
#define BAD_VERSION	"bad PROXY version"
#define BAD_COMMAND	"bad PROXY command"
#define BAD_FAMILY	"unsupported PROXY family"
#define BAD_V2_LONG	"PROXY v2 header too long"
#define BAD_V2_SHORT	"PROXY v2 addresses cut short"
#define BAD_TLV		"bad PROXY v2 TLV"

static const uint8_t v1_sig[] = "PROXY ";
static const uint8_t v2_sig[] = "\r\n\r\n\0\r\nQUIT\n";

static enum probe_result
bad(struct proxy_hdr *h, const char *why)
{
	h->why = why;
	return PROBE_BAD;
}

/* A decimal of 1..5 digits, no leading zero, at most max. */
static int
decimal(const char *s, size_t n, unsigned max, unsigned *out)
{
	size_t		i;
	unsigned	v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Dotted quad, strictly: four decimals 0..255, no leading zeros. */
static int
v4(const char *s, size_t n, uint8_t out[4])
{
	size_t		i, j, part = 0;
	unsigned	v;

	for (i = 0; part < 4; part++, i = j + 1) {
		for (j = i; j < n && s[j] != '.'; j++)
			;
		if ((j == n) != (part == 3) || j - i > 3 ||
		    decimal(s + i, j - i, 255, &v) == -1)
			return -1;
		out[part] = (uint8_t)v;
	}
	return 0;
}

/* RFC 4291 text: hex digits, colons and a trailing dotted quad only. */
static int
v6(const char *s, size_t n, uint8_t out[16])
{
	char	copy[INET6_ADDRSTRLEN];
	size_t	i;

	if (n == 0 || n >= sizeof(copy))
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' ||
		    strchr("0123456789abcdefABCDEF:.", s[i]) == NULL)
			return -1;
	memcpy(copy, s, n);
	copy[n] = '\0';
	return inet_pton(AF_INET6, copy, out) == 1 ? 0 : -1;
}

/* An address and port in network byte order into a sockaddr. */
static void
set(struct sockaddr_storage *ss, int six, const uint8_t *a, unsigned port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (six) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		sin6->sin6_port = htons((uint16_t)port);
	} else {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		sin->sin_port = htons((uint16_t)port);
	}
}

/*
 * "PROXY TCP4|TCP6 src dst sport dport" or "PROXY UNKNOWN[ anything]",
 * single spaces, CR LF, the whole within 107 bytes.
 */
static enum probe_result
v1(const uint8_t *buf, size_t len, struct proxy_hdr *h)
{
	const char	*s = (const char *)buf, *tok[6];
	size_t		 i, n, ntok, toklen[6];
	unsigned	 sport, dport;
	uint8_t		 a[16], b[16];
	int		 six;

	for (i = 0; i < len && i < V1_MAX; i++) {
		if (buf[i] == '\n')
			break;
		if (buf[i] == '\r') {
			if (i + 1 < len && i + 1 < V1_MAX &&
			    buf[i + 1] != '\n')
				return bad(h, BAD_V1);
			continue;
		}
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return bad(h, BAD_V1);
	}
	if (i == V1_MAX)
		return bad(h, BAD_V1_LONG);
	if (i == len)
		return PROBE_AGAIN;
	if (i == 0 || buf[i - 1] != '\r')
		return bad(h, BAD_V1);
	h->consumed = i + 1;
	n = i - 1;			/* the line without CR LF */

	if (n >= 13 && memcmp(s, "PROXY UNKNOWN", 13) == 0 &&
	    (n == 13 || s[13] == ' ')) {
		h->local = 1;
		return PROBE_MATCH;
	}
	/* Split at single spaces into exactly six tokens. */
	for (ntok = 0, i = 0; ntok < 6; ntok++, i++) {
		tok[ntok] = s + i;
		while (i < n && s[i] != ' ')
			i++;
		toklen[ntok] = (size_t)(s + i - tok[ntok]);
		if (toklen[ntok] == 0 || (i == n) != (ntok == 5))
			return bad(h, BAD_V1);
	}
	if (toklen[1] != 4 || (memcmp(tok[1], "TCP4", 4) != 0 &&
	    memcmp(tok[1], "TCP6", 4) != 0))
		return bad(h, BAD_V1);
	six = tok[1][3] == '6';
	if ((six ? v6(tok[2], toklen[2], a) : v4(tok[2], toklen[2], a)) ||
	    (six ? v6(tok[3], toklen[3], b) : v4(tok[3], toklen[3], b)) ||
	    decimal(tok[4], toklen[4], 65535, &sport) ||
	    decimal(tok[5], toklen[5], 65535, &dport))
		return bad(h, BAD_V1);
	set(&h->src, six, a, sport);
	set(&h->dst, six, b, dport);
	return PROBE_MATCH;
}

/* The address block's size for a v2 family byte; -1 for none known. */
static int
v2_addrlen(uint8_t fam)
{
	switch (fam) {
	case 0x00:
		return 0;		/* UNSPEC */
	case 0x11: case 0x12:
		return 12;		/* TCP4, UDP4 */
	case 0x21: case 0x22:
		return 36;		/* TCP6, UDP6 */
	case 0x31: case 0x32:
		return 216;		/* UNIX stream, datagram */
	default:
		return -1;
	}
}

/*
 * The fixed 16 bytes, then the address block and TLVs, which must tile
 * the length exactly. LOCAL (a balancer's health check) keeps the
 * connection's own addresses whatever family it names, as the spec says;
 * PROXY must carry TCP over IPv4 or IPv6: oneport serves only those.
 */
static enum probe_result
v2(const uint8_t *buf, size_t len, struct proxy_hdr *h)
{
	const uint8_t	*p;
	size_t		 total, i, tlv, n;
	int		 alen, local;

	if (len <= 12)
		return PROBE_AGAIN;
	if ((buf[12] >> 4) != 2)
		return bad(h, BAD_VERSION);
	if ((buf[12] & 0xf) > 1)
		return bad(h, BAD_COMMAND);
	local = (buf[12] & 0xf) == 0;
	if (len <= 13)
		return PROBE_AGAIN;
	if ((alen = v2_addrlen(buf[13])) == -1 ||
	    (!local && buf[13] != 0x11 && buf[13] != 0x21))
		return bad(h, BAD_FAMILY);
	if (len < V2_HDR)
		return PROBE_AGAIN;
	total = V2_HDR + ((size_t)buf[14] << 8 | buf[15]);
	if (total > PROXY_MAX)
		return bad(h, BAD_V2_LONG);
	if (total < V2_HDR + (size_t)alen)
		return bad(h, BAD_V2_SHORT);
	if (len < total)
		return PROBE_AGAIN;

	for (i = V2_HDR + (size_t)alen; i < total; i += tlv) {
		if (total - i < 3)
			return bad(h, BAD_TLV);
		tlv = 3 + ((size_t)buf[i + 1] << 8 | buf[i + 2]);
		if (tlv > total - i)
			return bad(h, BAD_TLV);
	}
	h->consumed = total;
	h->local = local;
	if (local)
		return PROBE_MATCH;
	/* src, dst, then the two ports */
	n = alen == 12 ? 4 : 16;
	p = buf + V2_HDR + 2 * n;
	set(&h->src, n == 16, buf + V2_HDR, (unsigned)(p[0] << 8 | p[1]));
	set(&h->dst, n == 16, buf + V2_HDR + n, (unsigned)(p[2] << 8 | p[3]));
	return PROBE_MATCH;
}

/* A prefix of either signature: AGAIN; neither: NEXT. */
enum probe_result
proxy_probe(const uint8_t *buf, size_t len, struct proxy_hdr *h)
{
	size_t	n;

	memset(h, 0, sizeof(*h));
	n = len < sizeof(v1_sig) - 1 ? len : sizeof(v1_sig) - 1;
	if (memcmp(buf, v1_sig, n) == 0)
		return n < sizeof(v1_sig) - 1 ? PROBE_AGAIN : v1(buf, len, h);
	n = len < sizeof(v2_sig) - 1 ? len : sizeof(v2_sig) - 1;
	if (memcmp(buf, v2_sig, n) == 0)
		return n < sizeof(v2_sig) - 1 ? PROBE_AGAIN : v2(buf, len, h);
	return PROBE_NEXT;
}
