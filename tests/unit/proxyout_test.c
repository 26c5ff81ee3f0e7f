/* SPDX-License-Identifier: ISC */
/*
 * proxyout_test.c: the PROXY headers the relay builds (proxyout.c), byte
 * for byte for a few, and each read back by the frontend's parser
 * (proxy.c): the same addresses and ports, the whole header consumed, the
 * TLVs where they belong; a buffer too small gives 0 and no overrun.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "frontend.h"
#include "proxyout.h"

static int	failed, checks;

#define CHECK(cond, ...) do {						\
	checks++;							\
	if (!(cond)) {							\
		failed++;						\
		printf("FAIL %s:%d: ", __FILE__, __LINE__);		\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	}								\
} while (0)

static void
addr(struct sockaddr_storage *ss, const char *a, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
}

struct row {
	const char	*src, *dst;
	int		 sport, dport;
	const char	*v1;		/* the exact line */
	const char	*rsrc, *rdst;	/* as read back; NULL: local */
};

static const struct row rows[] = {
	{ "192.0.2.1", "198.51.100.2", 56324, 443,
	  "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
	  "192.0.2.1", "198.51.100.2" },
	{ "2001:db8::1", "2001:db8::2", 1, 65535,
	  "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n",
	  "2001:db8::1", "2001:db8::2" },
	/* Mapped IPv4 on both sides is IPv4. */
	{ "::ffff:10.0.0.1", "::ffff:10.0.0.2", 5, 6,
	  "PROXY TCP4 10.0.0.1 10.0.0.2 5 6\r\n", "10.0.0.1", "10.0.0.2" },
	/* One of each: the IPv4 one is mapped. */
	{ "10.0.0.1", "2001:db8::2", 5, 6,
	  "PROXY TCP6 ::ffff:10.0.0.1 2001:db8::2 5 6\r\n",
	  "::ffff:10.0.0.1", "2001:db8::2" },
	{ "unknown", "10.0.0.2", 5, 6, "PROXY UNKNOWN\r\n", NULL, NULL },
};

static void
readback(const struct row *r, const uint8_t *buf, size_t n, int v)
{
	struct sockaddr_storage	 src, dst;
	struct proxy_hdr	 h;
	enum probe_result	 res;

	res = proxy_probe(buf, n, &h);
	CHECK(res == PROBE_MATCH, "v%d %s: parser says %d (%s)", v, r->src,
	    res, h.why ? h.why : "");
	if (res != PROBE_MATCH)
		return;
	CHECK(h.consumed == n, "v%d %s: consumed %zu of %zu", v, r->src,
	    h.consumed, n);
	CHECK(h.local == (r->rsrc == NULL), "v%d %s: local %d", v, r->src,
	    h.local);
	if (r->rsrc == NULL)
		return;
	addr(&src, r->rsrc, r->sport);
	addr(&dst, r->rdst, r->dport);
	CHECK(memcmp(&h.src, &src, sizeof(src)) == 0, "v%d %s: source",
	    v, r->src);
	CHECK(memcmp(&h.dst, &dst, sizeof(dst)) == 0, "v%d %s: destination",
	    v, r->src);
}

/* The TLV of a type in a v2 header, or NULL. */
static const uint8_t *
find_tlv(const uint8_t *buf, size_t n, int type, size_t *len)
{
	size_t	i = 16 + (buf[13] == 0x11 ? 12 : buf[13] == 0x21 ? 36 : 0);

	while (i + 3 <= n) {
		*len = (size_t)buf[i + 1] << 8 | buf[i + 2];
		if (buf[i] == type)
			return buf + i + 3;
		i += 3 + *len;
	}
	return NULL;
}

static void
tlvs(void)
{
	struct sockaddr_storage	 s, d;
	uint8_t			 buf[PROXYOUT_MAX], small[40];
	const uint8_t		*p;
	size_t			 n, len = 0;
	char			 alpn[300];
	struct proxy_hdr	 h;

	addr(&s, "192.0.2.1", 1000);
	addr(&d, "192.0.2.2", 443);
	n = proxyout_v2(buf, sizeof(buf), (struct sockaddr *)&s,
	    (struct sockaddr *)&d, "www.example.org", "h2");
	CHECK(n == 16 + 12 + 3 + 2 + 3 + 15, "v2 with TLVs: %zu bytes", n);
	CHECK(proxy_probe(buf, n, &h) == PROBE_MATCH && h.consumed == n,
	    "v2 with TLVs read back");
	p = find_tlv(buf, n, PP2_TYPE_AUTHORITY, &len);
	CHECK(p != NULL && len == 15 && memcmp(p, "www.example.org", 15) == 0,
	    "authority TLV");
	p = find_tlv(buf, n, PP2_TYPE_ALPN, &len);
	CHECK(p != NULL && len == 2 && memcmp(p, "h2", 2) == 0, "ALPN TLV");
	/* Empty strings are no TLV. */
	n = proxyout_v2(buf, sizeof(buf), (struct sockaddr *)&s,
	    (struct sockaddr *)&d, "", NULL);
	CHECK(n == 28, "v2 without TLVs: %zu bytes", n);
	CHECK(memcmp(buf, "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x01\xc0\x00\x02\x02\x03\xe8\x01\xbb", 28) == 0,
	    "v2 bytes");
	/* Too small: 0, nothing past cap. */
	memset(small, 0xaa, sizeof(small));
	CHECK(proxyout_v2(small, 30, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, "www.example.org", NULL) == 0 &&
	    small[30] == 0xaa, "v2 in 30 bytes");
	memset(small, 0xaa, sizeof(small));
	CHECK(proxyout_v1(small, 20, (struct sockaddr *)&s,
	    (struct sockaddr *)&d) == 0 && small[20] == 0xaa, "v1 in 20");
	memset(alpn, 'a', sizeof(alpn) - 1);
	alpn[sizeof(alpn) - 1] = '\0';
	CHECK(proxyout_v2(buf, sizeof(buf), (struct sockaddr *)&s,
	    (struct sockaddr *)&d, NULL, alpn) == 0, "ALPN over 255");
	alpn[255] = '\0';
	n = proxyout_v2(buf, sizeof(buf), (struct sockaddr *)&s,
	    (struct sockaddr *)&d, alpn, alpn);
	CHECK(n > 0 && n <= PROXYOUT_MAX && proxy_probe(buf, n, &h) ==
	    PROBE_MATCH, "the longest header fits PROXYOUT_MAX");
}

int
main(void)
{
	struct sockaddr_storage	 s, d;
	uint8_t			 buf[PROXYOUT_MAX];
	size_t			 i, n;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		addr(&s, rows[i].src, rows[i].sport);
		addr(&d, rows[i].dst, rows[i].dport);
		n = proxyout_v1(buf, sizeof(buf), (struct sockaddr *)&s,
		    (struct sockaddr *)&d);
		CHECK(n == strlen(rows[i].v1) &&
		    memcmp(buf, rows[i].v1, n) == 0, "v1 %s: %.*s",
		    rows[i].src, (int)n, buf);
		readback(&rows[i], buf, n, 1);
		n = proxyout_v2(buf, sizeof(buf), (struct sockaddr *)&s,
		    (struct sockaddr *)&d, NULL, NULL);
		readback(&rows[i], buf, n, 2);
	}
	tlvs();
	printf("proxyout_test: %d checks, %d failed\n", checks, failed);
	return failed != 0;
}
