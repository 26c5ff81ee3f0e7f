/* SPDX-License-Identifier: ISC */
/*
 * probe_test: the probes of a client's first bytes (ssh.c, proxy.c,
 * tls.c, http.c, the chain in probe.c) and route.c, against tables of
 * inputs. Each input is parsed from an exact-size heap copy (ASan sees a
 * read past len), whole and at every prefix: a prefix gives AGAIN or the
 * whole input's verdict with the same fields, and once a prefix has a
 * verdict every longer one keeps it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "hello_openssl.h"

static int	failed, checks, cases;

enum kind { K_SSH, K_PROXY, K_TLS, K_HTTP, K_FIRST };

/* What a probe said, in one comparable shape. */
struct out {
	enum probe_result r;
	int		 proto;		/* K_FIRST */
	const char	*why;
	char		 text[512];	/* name, SNI, Host or addresses */
	char		 alpn[TLS_ALPN_MAX * 2];	/* "h2,http/1.1" */
	int		 ech, absolute, local;
	size_t		 consumed;
};

#define ALL	((1u << PROTO_TLS) | (1u << PROTO_HTTP) | (1u << PROTO_SSH))
#define ANY	-1

static void
addr_text(char *buf, size_t cap, const struct sockaddr_storage *ss)
{
	char		 a[INET6_ADDRSTRLEN];
	unsigned	 port;
	const void	*p;

	if (ss->ss_family == AF_INET) {
		p = &((const struct sockaddr_in *)ss)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		p = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	} else {
		snprintf(buf, cap, "?");
		return;
	}
	inet_ntop(ss->ss_family, p, a, sizeof(a));
	snprintf(buf, cap, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    a, port);
}

static void
alpn_text(char *buf, size_t cap, const uint8_t *l, size_t n)
{
	size_t	i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < n && o + 1 < cap; i += 1 + l[i])
		o += snprintf(buf + o, cap - o, "%s%.*s", o ? "," : "",
		    (int)(i + 1 + l[i] <= n ? l[i] : 0),
		    (const char *)l + i + 1);
}

static void
run(enum kind k, const uint8_t *buf, size_t len, unsigned protos,
    struct out *o)
{
	struct proxy_hdr	 ph;
	struct tls_hello	 th;
	struct http_head	 hh;
	struct first		 f;
	char			 s[INET6_ADDRSTRLEN + 8], d[sizeof(s)];

	memset(o, 0, sizeof(*o));
	o->proto = ANY;
	switch (k) {
	case K_SSH:
		o->r = ssh_probe(buf, len, &o->why);
		break;
	case K_PROXY:
		o->r = proxy_probe(buf, len, &ph);
		o->why = ph.why;
		if (o->r != PROBE_MATCH)
			break;
		o->consumed = ph.consumed;
		o->local = ph.local;
		if (ph.local)
			snprintf(o->text, sizeof(o->text), "local");
		else {
			addr_text(s, sizeof(s), &ph.src);
			addr_text(d, sizeof(d), &ph.dst);
			snprintf(o->text, sizeof(o->text), "%s %s", s, d);
		}
		break;
	case K_TLS:
		o->r = tls_probe(buf, len, &th);
		o->why = th.why;
		if (o->r != PROBE_MATCH)
			break;
		snprintf(o->text, sizeof(o->text), "%s", th.sni);
		alpn_text(o->alpn, sizeof(o->alpn), th.alpn, th.alpn_len);
		o->ech = th.ech;
		break;
	case K_HTTP:
		o->r = http_probe(buf, len, &hh);
		o->why = hh.why;
		if (o->r != PROBE_MATCH)
			break;
		snprintf(o->text, sizeof(o->text), "%s%s", hh.host,
		    hh.absolute ? " (absolute)" : "");
		o->absolute = hh.absolute;
		break;
	case K_FIRST:
		o->r = probe_first(buf, len, protos, 64, &f);
		o->why = f.why;
		if (o->r == PROBE_NEXT)
			break;
		o->proto = f.proto;
		if (o->r != PROBE_MATCH)
			break;
		if (f.proto == PROTO_TCPMUX)
			snprintf(o->text, sizeof(o->text), "%s", f.req.name);
		else if (f.proto == PROTO_TLS) {
			snprintf(o->text, sizeof(o->text), "%s", f.tls.sni);
			alpn_text(o->alpn, sizeof(o->alpn), f.tls.alpn,
			    f.tls.alpn_len);
			o->ech = f.tls.ech;
		} else if (f.proto == PROTO_HTTP) {
			snprintf(o->text, sizeof(o->text), "%s", f.http.host);
			o->absolute = f.http.absolute;
		}
		break;
	}
}

static int
same(const struct out *a, const struct out *b)
{
	return a->r == b->r && a->proto == b->proto &&
	    (a->why == NULL) == (b->why == NULL) &&
	    (a->why == NULL || strcmp(a->why, b->why) == 0) &&
	    strcmp(a->text, b->text) == 0 && strcmp(a->alpn, b->alpn) == 0 &&
	    a->ech == b->ech && a->absolute == b->absolute &&
	    a->local == b->local && a->consumed == b->consumed;
}

static const char *const verdicts[] = { "AGAIN", "MATCH", "NEXT", "BAD" };

/*
 * One input: the verdict and, where the row says, the protocol, the text
 * field, the ALPN list and the reason; then every prefix.
 */
static void
test(const char *label, enum kind k, const void *in, size_t len,
    unsigned protos, enum probe_result want, int proto, const char *text,
    const char *alpn, const char *why)
{
	struct out	 whole, part;
	uint8_t		*copy;
	size_t		 cut;
	int		 seen = 0;

	cases++;
	if ((copy = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(copy, in, len);
	run(k, copy, len, protos, &whole);
	checks++;
	if (whole.r != want || (proto != ANY && whole.proto != proto) ||
	    (text && strcmp(whole.text, text) != 0) ||
	    (alpn && strcmp(whole.alpn, alpn) != 0) ||
	    (why && (whole.why == NULL || strcmp(whole.why, why) != 0)) ||
	    ((want == PROBE_BAD) != (whole.why != NULL))) {
		printf("FAIL %s: got %s proto %d text \"%s\" alpn \"%s\" "
		    "why \"%s\"; want %s proto %d text \"%s\" why \"%s\"\n",
		    label, verdicts[whole.r], whole.proto, whole.text,
		    whole.alpn, whole.why ? whole.why : "", verdicts[want],
		    proto, text ? text : "", why ? why : "");
		failed++;
	}
	/* every prefix; of a large input, the ends and every 13th */
	for (cut = 0; cut < len; cut += len < 4096 || cut < 64 ||
	    cut + 64 >= len ? 1 : 13) {
		free(copy);
		if ((copy = malloc(cut ? cut : 1)) == NULL)
			abort();
		memcpy(copy, in, cut);
		run(k, copy, cut, protos, &part);
		checks++;
		if (part.r == PROBE_AGAIN && !seen)
			continue;
		seen = 1;
		if (!same(&part, &whole)) {
			printf("FAIL %s: prefix %zu of %zu gave %s \"%s\"\n",
			    label, cut, len, verdicts[part.r],
			    part.why ? part.why : part.text);
			failed++;
			break;
		}
	}
	free(copy);
}

/* ---- text inputs ---- */

struct row {
	enum kind	 kind;
	const char	*in;
	unsigned	 protos;
	enum probe_result want;
	int		 proto;
	const char	*text;
	const char	*why;
};

#define SSH(s, w, why)		{ K_SSH, s, 0, w, ANY, NULL, why }
#define PX(s, w, t, why)	{ K_PROXY, s, 0, w, ANY, t, why }
#define HT(s, w, t, why)	{ K_HTTP, s, 0, w, ANY, t, why }
#define FIRST(s, p, w, pr, t, why)	{ K_FIRST, s, p, w, pr, t, why }
#define GET	"GET / HTTP/1.1\r\n"

#define MATCH	PROBE_MATCH
#define AGAIN	PROBE_AGAIN
#define NEXT	PROBE_NEXT
#define BAD	PROBE_BAD

static const struct row rows[] = {
	/* ssh.c */
	SSH("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", MATCH, NULL),
	SSH("SSH-2.0-x\r\n", MATCH, NULL),
	SSH("SSH-2.0-x\n", MATCH, NULL),		/* bare LF taken */
	SSH("SSH-1.99-x\r\nrest", MATCH, NULL),
	SSH("SSH-2.0-PuTTY_Release_0.78\r\n\0\0\0\x14", MATCH, NULL),
	SSH("SSH-2.0-", AGAIN, NULL),
	SSH("SSH-2.0-x", AGAIN, NULL),
	SSH("SSH-2.0-x\r", AGAIN, NULL),
	SSH("SSH", AGAIN, NULL),
	SSH("", AGAIN, NULL),
	SSH("SSH-2.0-\r\n", BAD, "bad SSH identification line"),
	SSH("SSH-2.0-\n", BAD, "bad SSH identification line"),
	SSH("SSH-2.0- x\r\n", BAD, "bad SSH identification line"),
	SSH("SSH-2.0-x\ry\r\n", BAD, "bad SSH identification line"),
	SSH("SSH-2.0-x\x01\r\n", BAD, "bad SSH identification line"),
	SSH("SSH-2.0-x\xc3\xa9\r\n", BAD, "bad SSH identification line"),
	SSH("SSH-1.5-x\r\n", BAD, "bad SSH protocol version"),
	SSH("SSH-2.1-x\r\n", BAD, "bad SSH protocol version"),
	SSH("SSH-3", BAD, "bad SSH protocol version"),
	SSH("SSH-2\r\n", BAD, "bad SSH protocol version"),
	SSH("SSH-2.0x", BAD, "bad SSH protocol version"),
	SSH("ssh-2.0-x\r\n", NEXT, NULL),
	SSH("GET / HTTP/1.1\r\n", NEXT, NULL),
	SSH("SSX", NEXT, NULL),
	SSH("\x16\x03\x01", NEXT, NULL),

	/* proxy.c: v1 */
	PX("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET",
	    MATCH, "192.168.0.1:56324 192.168.0.11:443", NULL),
	PX("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
	    MATCH, "0.0.0.0:0 255.255.255.255:65535", NULL),
	PX("PROXY TCP6 2001:db8::1 ::1 1 2\r\n",
	    MATCH, "[2001:db8::1]:1 [::1]:2", NULL),
	PX("PROXY TCP6 ::ffff:10.0.0.1 fe80::1:2 65535 80\r\n",
	    MATCH, "[::ffff:10.0.0.1]:65535 [fe80::1:2]:80", NULL),
	PX("PROXY UNKNOWN\r\n", MATCH, "local", NULL),
	PX("PROXY UNKNOWN ffff:f...f:ffff 1 2 whatever\r\n", MATCH, "local",
	    NULL),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 1 2", AGAIN, NULL, NULL),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", AGAIN, NULL, NULL),
	PX("PROXY", AGAIN, NULL, NULL),
	PX("PROX", AGAIN, NULL, NULL),
	PX("", AGAIN, NULL, NULL),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP4 ::1 ::1 1 2\r\n", BAD, NULL, "bad PROXY v1 header"),
	PX("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY TCP6 ::1%lo ::1 1 2\r\n", BAD, NULL, "bad PROXY v1 header"),
	PX("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", BAD, NULL,
	    "bad PROXY v1 header"),
	PX("PROXY UNKNOWNX\r\n", BAD, NULL, "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4\x01", BAD, NULL, "bad PROXY v1 header"),
	PX("PROXY TCP4 1.2.3.4\r5", BAD, NULL, "bad PROXY v1 header"),
	/* 107 bytes, CR LF in, is the longest line; one more is too long */
	PX("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    MATCH, "local", NULL),
	PX("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655351\r\n",
	    BAD, NULL, "PROXY v1 header too long"),
	PX("PROXY TCP4 1.2.3.4 5.6.7.8 1 2222222222222222222222222222222222222"
	    "22222222222222222222222222222222222222222222222222222222222222",
	    BAD, NULL, "PROXY v1 header too long"),
	PX("GET / HTTP/1.1\r\n", NEXT, NULL, NULL),
	PX("PROXX", NEXT, NULL, NULL),
	PX("\r\n\r\n\x01", NEXT, NULL, NULL),
	PX("SSH-2.0-x\r\n", NEXT, NULL, NULL),

	/* http.c */
	HT(GET "Host: example.org\r\n\r\n", MATCH, "example.org", NULL),
	HT(GET "hOsT: Example.ORG\r\n\r\n", MATCH, "example.org", NULL),
	HT(GET "Host:example.org.\r\n\r\n", MATCH, "example.org", NULL),
	HT(GET "Host: \t example.org:8080 \t\r\n\r\n", MATCH, "example.org",
	    NULL),
	HT(GET "Host: example.org:\r\n\r\n", MATCH, "example.org", NULL),
	HT(GET "Host: [2001:DB8::1]:443\r\n\r\n", MATCH, "2001:db8::1", NULL),
	HT(GET "Host: [::1]\r\n\r\n", MATCH, "::1", NULL),
	HT(GET "Host: [2001:DB8:0:0::0001]\r\n\r\n", MATCH, "2001:db8::1",
	    NULL),
	HT(GET "Host: [::FFFF:192.0.2.1]\r\n\r\n", MATCH, "::ffff:192.0.2.1",
	    NULL),
	HT(GET "Host: 192.0.2.1:80\r\n\r\n", MATCH, "192.0.2.1", NULL),
	HT(GET "Accept: */*\r\nHost: a_b.example.org\r\nX-Y: z\r\n\r\n",
	    MATCH, "a_b.example.org", NULL),
	HT("GET http://Abs.Example.org:8080/x?y HTTP/1.1\r\n"
	    "Host: other.org\r\n\r\n", MATCH, "abs.example.org (absolute)",
	    NULL),
	HT("GET HTTPS://[::1]/ HTTP/1.1\r\n\r\n", MATCH, "::1 (absolute)",
	    NULL),
	HT("GET http://example.org HTTP/1.1\r\n\r\n", MATCH,
	    "example.org (absolute)", NULL),
	HT("GET http://example.org?q HTTP/1.1\r\n\r\n", MATCH,
	    "example.org (absolute)", NULL),
	HT("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n"
	    "\r\n", MATCH, "example.org", NULL),
	HT("OPTIONS * HTTP/1.1\r\nHost: example.org\r\n\r\n", MATCH,
	    "example.org", NULL),
	HT("ABCDEFGHIJKLMNOPQRST / HTTP/1.1\r\n\r\n", MATCH, "", NULL),
	HT("GET / HTTP/1.0\r\n\r\n", MATCH, "", NULL),
	HT(GET "User-Agent: x\r\n\r\n", MATCH, "", NULL),
	HT(GET "Host:\r\n\r\n", MATCH, "", NULL),
	HT(GET "X: caf\xc3\xa9\r\n\r\n", MATCH, "", NULL),
	HT("GET / HTTP/1.1\nHost: example.org\n\n", MATCH, "example.org",
	    NULL),					/* bare LF */
	HT(GET "Host: example.org\n\r\n", MATCH, "example.org", NULL),
	HT(GET "Host: example.org\r\n\r\nbody\r\n\r\n", MATCH,
	    "example.org", NULL),
	HT(GET "Host: example.org\r\n", AGAIN, NULL, NULL),
	HT(GET, AGAIN, NULL, NULL),
	HT("GET ", AGAIN, NULL, NULL),
	HT("GET", AGAIN, NULL, NULL),
	HT("", AGAIN, NULL, NULL),
	HT(GET "Host: a\r\nHost: b\r\n\r\n", BAD, NULL, "two Host headers"),
	HT(GET "Host: a\r\nhost: a\r\n", BAD, NULL, "two Host headers"),
	HT("GET http://a/ HTTP/1.1\r\nHost: b\r\nHost: b\r\n\r\n", BAD,
	    NULL, "two Host headers"),
	HT("GET / HTTP/2.0\r\n\r\n", BAD, NULL, "bad request line"),
	HT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", BAD, NULL,
	    "bad request line"),
	HT("GET  / HTTP/1.1\r\n\r\n", BAD, NULL, "bad request line"),
	HT("GET / HTTP/1.1 \r\n\r\n", BAD, NULL, "bad request line"),
	HT("GET / http/1.1\r\n\r\n", BAD, NULL, "bad request line"),
	HT("GET / HTTP/1.x\r\n\r\n", BAD, NULL, "bad request line"),
	HT("GET /\r\n", BAD, NULL, "bad request line"),	/* HTTP/0.9 */
	HT("GET /\x7f HTTP/1.1\r\n", BAD, NULL, "bad request line"),
	HT("GET / HTTP/1.1\rX\n", BAD, NULL, "bad request line"),
	HT(GET "Host : x\r\n\r\n", BAD, NULL, "bad header line"),
	HT(GET " folded\r\n\r\n", BAD, NULL, "bad header line"),
	HT(GET "NoColon\r\n\r\n", BAD, NULL, "bad header line"),
	HT(GET ": x\r\n\r\n", BAD, NULL, "bad header line"),
	HT(GET "X: a\rb\r\n\r\n", BAD, NULL, "bad header line"),
	HT(GET "X: a\x01\r\n\r\n", BAD, NULL, "bad header line"),
	HT(GET "Host: exa mple.org\r\n\r\n", BAD, NULL, "bad Host header"),
	HT(GET "Host: example.org:80a\r\n\r\n", BAD, NULL,
	    "bad Host header"),
	HT(GET "Host: example.org:123456\r\n\r\n", BAD, NULL,
	    "bad Host header"),
	HT(GET "Host: :80\r\n\r\n", BAD, NULL, "bad Host header"),
	HT(GET "Host: [::1\r\n\r\n", BAD, NULL, "bad Host header"),
	HT(GET "Host: [zz::1]\r\n\r\n", BAD, NULL, "bad Host header"),
	HT(GET "Host: [::1]x\r\n\r\n", BAD, NULL, "bad Host header"),
	HT(GET "Host: ::1\r\n\r\n", BAD, NULL, "bad Host header"),
	HT(GET "Host: user@example.org\r\n\r\n", BAD, NULL,
	    "bad Host header"),
	HT(GET "Host: a..b\r\n\r\n", BAD, NULL, "bad Host header"),
	HT(GET "Host: caf\xc3\xa9.org\r\n\r\n", BAD, NULL,
	    "bad Host header"),
	HT("GET http://user@example.org/ HTTP/1.1\r\n\r\n", BAD, NULL,
	    "bad request target"),
	HT("GET http:/// HTTP/1.1\r\n\r\n", BAD, NULL, "bad request target"),
	HT("GET http://ex%41mple.org/ HTTP/1.1\r\n\r\n", BAD, NULL,
	    "bad request target"),
	HT("get / HTTP/1.1\r\n\r\n", NEXT, NULL, NULL),
	HT("GET\r\n", NEXT, NULL, NULL),
	HT(" GET / HTTP/1.1\r\n", NEXT, NULL, NULL),
	HT("G3T / HTTP/1.1\r\n", NEXT, NULL, NULL),
	HT("ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\n\r\n", NEXT, NULL, NULL),
	HT("SSH-2.0-x\r\n", NEXT, NULL, NULL),
	HT("\x16\x03\x01", NEXT, NULL, NULL),

	/* probe.c: the chain */
	FIRST(GET "Host: Example.org\r\n\r\n", ALL, MATCH, PROTO_HTTP,
	    "example.org", NULL),
	FIRST(GET "Host: Example.org\r\n\r\n", 1u << PROTO_HTTP, MATCH,
	    PROTO_HTTP, "example.org", NULL),
	FIRST(GET "Host: a\r\nHost: b\r\n\r\n", ALL, BAD, PROTO_HTTP, NULL,
	    "two Host headers"),
	FIRST(GET "Host: Example.org\r\n\r\n", ALL & ~(1u << PROTO_HTTP), BAD,
	    PROTO_TCPMUX, NULL, "bad name"),
	FIRST("PROXY / HTTP/1.1\r\n\r\n", ALL, BAD, PROTO_TCPMUX, NULL,
	    "PROXY header from an untrusted source"),
	FIRST("echo\r\n", ALL, MATCH, PROTO_TCPMUX, "echo", NULL),
	FIRST("GET\r\n", ALL, MATCH, PROTO_TCPMUX, "get", NULL),
	FIRST("SSH-2\r\n", ALL, MATCH, PROTO_TCPMUX, "ssh-2", NULL),
	FIRST("SSH-x\r\n", ALL, MATCH, PROTO_TCPMUX, "ssh-x", NULL),
	FIRST("PROXY\r\n", ALL, MATCH, PROTO_TCPMUX, "proxy", NULL),
	FIRST("SSH-2.0-x\r\n", ALL, MATCH, PROTO_SSH, NULL, NULL),
	FIRST("SSH-2.0-x\r\n", 1u << PROTO_SSH, MATCH, PROTO_SSH, NULL,
	    NULL),
	FIRST("SSH-2.0-x\r\n", 0, BAD, PROTO_TCPMUX, NULL, "bad name"),
	FIRST("SSH-2.0-x\r\n", ALL & ~(1u << PROTO_SSH), BAD, PROTO_TCPMUX,
	    NULL, "bad name"),
	FIRST("SSH-2.0-\r\n", ALL, BAD, PROTO_SSH, NULL,
	    "bad SSH identification line"),
	FIRST("SSH-3.0-x\r\n", ALL, BAD, PROTO_SSH, NULL,
	    "bad SSH protocol version"),
	FIRST("SSH-2", ALL, AGAIN, PROTO_SSH, NULL, NULL),
	FIRST("SSH-2\r", ALL, AGAIN, PROTO_TCPMUX, NULL, NULL),
	FIRST("SSH-2.0-x", ALL, AGAIN, PROTO_SSH, NULL, NULL),
	FIRST("SSH-2", 0, AGAIN, PROTO_TCPMUX, NULL, NULL),
	FIRST("GET / HTTP/1.1\r\n", ALL, AGAIN, PROTO_HTTP, NULL, NULL),
	FIRST("\x16\x03\x01", ALL, AGAIN, PROTO_TLS, NULL, NULL),
	FIRST("PROXY", ALL, AGAIN, PROTO_TCPMUX, NULL, NULL),
	FIRST("SSH-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaa", ALL, BAD, PROTO_SSH, NULL, "bad SSH protocol version"),
	FIRST("SSH", ALL, AGAIN, ANY, NULL, NULL),
	FIRST("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ALL, BAD, PROTO_TCPMUX,
	    NULL, "PROXY header from an untrusted source"),
	FIRST("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, BAD, PROTO_TCPMUX,
	    NULL, "PROXY header from an untrusted source"),
	FIRST("PROXY ", ALL, BAD, PROTO_TCPMUX, NULL,
	    "PROXY header from an untrusted source"),
	FIRST("PROXY", ALL, AGAIN, ANY, NULL, NULL),
	FIRST("\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c", ALL, BAD, PROTO_TCPMUX,
	    NULL, "bad name"),
	FIRST("\r\n", ALL, BAD, PROTO_TCPMUX, NULL, "bad name"),
	FIRST("", ALL, AGAIN, ANY, NULL, NULL),
	FIRST("ech", ALL, AGAIN, ANY, NULL, NULL),
	FIRST("GET", ALL, AGAIN, ANY, NULL, NULL),
	FIRST("GET", 0, AGAIN, ANY, NULL, NULL),
	FIRST("GET / HTTP/1.1\r\n", 0, BAD, PROTO_TCPMUX, NULL, "bad name"),
	FIRST("get / HTTP/1.1\r\n", ALL, BAD, PROTO_TCPMUX, NULL,
	    "bad name"),
	FIRST("\x16\x03\x01\x02\x00\x01", 0, BAD, PROTO_TCPMUX, NULL,
	    "bad name"),
	FIRST("\x16\x02\x01\x02\x00\x01", ALL, BAD, PROTO_TCPMUX, NULL,
	    "bad name"),
	/* SSLv2-style hello: NEXT for tls.c, so the line parser's "-" */
	FIRST("\x80\x2e\x01\x03\x01", ALL, BAD, PROTO_TCPMUX, NULL,
	    "bad name"),
};

/* ---- PROXY v2, built ---- */

static size_t
v2(uint8_t *b, uint8_t vc, uint8_t fam, const void *addr, size_t alen,
    const void *tlv, size_t tlen, int lie)
{
	size_t	n = alen + tlen + (size_t)lie;

	memcpy(b, "\r\n\r\n\0\r\nQUIT\n", 12);
	b[12] = vc;
	b[13] = fam;
	b[14] = (uint8_t)(n >> 8);
	b[15] = (uint8_t)n;
	if (alen)
		memcpy(b + 16, addr, alen);
	if (tlen)
		memcpy(b + 16 + alen, tlv, tlen);
	return 16 + alen + tlen;
}

static void
proxy_v2(void)
{
	static const uint8_t a4[] = { 10, 0, 0, 1, 192, 0, 2, 7,
	    0xdc, 0x04, 0x01, 0xbb };
	static const uint8_t a6[] = {
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 2 };
	static const uint8_t tlvs[] = { 0x01, 0, 2, 'h', '2',
	    0x04, 0, 0, 0x20, 0, 5, 1, 0, 0, 0, 0 };
	static uint8_t	big[PROXY_MAX + 32], zero[PROXY_MAX];
	uint8_t		b[512];
	size_t		n;

	n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, 0);
	test("v2 tcp4", K_PROXY, b, n, 0, MATCH, ANY,
	    "10.0.0.1:56324 192.0.2.7:443", NULL, NULL);
	memcpy(b + n, "\x16\x03\x01", 3);
	test("v2 tcp4, TLS after", K_PROXY, b, n + 3, 0, MATCH, ANY,
	    "10.0.0.1:56324 192.0.2.7:443", NULL, NULL);
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), tlvs, sizeof(tlvs), 0);
	test("v2 tcp4 tlvs", K_PROXY, b, n, 0, MATCH, ANY,
	    "10.0.0.1:56324 192.0.2.7:443", NULL, NULL);
	n = v2(b, 0x21, 0x21, a6, sizeof(a6), tlvs, sizeof(tlvs), 0);
	test("v2 tcp6 tlvs", K_PROXY, b, n, 0, MATCH, ANY,
	    "[2001:db8::1]:1 [::1]:2", NULL, NULL);
	n = v2(b, 0x20, 0x00, NULL, 0, NULL, 0, 0);
	test("v2 local unspec", K_PROXY, b, n, 0, MATCH, ANY, "local", NULL,
	    NULL);
	n = v2(b, 0x20, 0x11, a4, sizeof(a4), NULL, 0, 0);
	test("v2 local tcp4", K_PROXY, b, n, 0, MATCH, ANY, "local", NULL,
	    NULL);
	n = v2(b, 0x20, 0x12, a4, sizeof(a4), tlvs, sizeof(tlvs), 0);
	test("v2 local udp4", K_PROXY, b, n, 0, MATCH, ANY, "local", NULL,
	    NULL);
	n = v2(b, 0x21, 0x12, a4, sizeof(a4), NULL, 0, 0);
	test("v2 udp4", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "unsupported PROXY family");
	n = v2(b, 0x21, 0x31, zero, 216, NULL, 0, 0);
	test("v2 unix", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "unsupported PROXY family");
	n = v2(b, 0x21, 0x00, NULL, 0, NULL, 0, 0);
	test("v2 proxy unspec", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "unsupported PROXY family");
	n = v2(b, 0x21, 0x41, NULL, 0, NULL, 0, 0);
	test("v2 family 4", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "unsupported PROXY family");
	n = v2(b, 0x11, 0x11, a4, sizeof(a4), NULL, 0, 0);
	test("v2 version 1", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "bad PROXY version");
	n = v2(b, 0x22, 0x11, a4, sizeof(a4), NULL, 0, 0);
	test("v2 command 2", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "bad PROXY command");
	n = v2(b, 0x21, 0x11, a4, 8, NULL, 0, 0);
	test("v2 tcp4 short", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "PROXY v2 addresses cut short");
	n = v2(b, 0x21, 0x21, a6, 35, NULL, 0, 0);
	test("v2 tcp6 short", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "PROXY v2 addresses cut short");
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), tlvs, sizeof(tlvs) - 1, 0);
	test("v2 tlv cut", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "bad PROXY v2 TLV");
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), tlvs, 2, 0);
	test("v2 tlv header cut", K_PROXY, b, n, 0, BAD, ANY, NULL, NULL,
	    "bad PROXY v2 TLV");
	/* A length that lies: more than was sent waits, then the deadline */
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, 5);
	test("v2 length lies", K_PROXY, b, n, 0, AGAIN, ANY, NULL, NULL,
	    NULL);
	n = v2(big, 0x21, 0x11, a4, sizeof(a4), zero, 4096 - 12, 0);
	big[16 + 12] = 0xee;		/* one TLV fills it */
	big[16 + 13] = (4096 - 12 - 3) >> 8;
	big[16 + 14] = (uint8_t)(4096 - 12 - 3);
	test("v2 longest", K_PROXY, big, n, 0, MATCH, ANY,
	    "10.0.0.1:56324 192.0.2.7:443", NULL, NULL);
	n = v2(big, 0x21, 0x11, a4, sizeof(a4), zero, 4096 - 12 + 1, 0);
	test("v2 too long", K_PROXY, big, n, 0, BAD, ANY, NULL, NULL,
	    "PROXY v2 header too long");
	test("v2 signature cut", K_PROXY, "\r\n\r\n\0\r\nQUI", 10, 0, AGAIN,
	    ANY, NULL, NULL, NULL);
	test("v2 signature wrong", K_PROXY, "\r\n\r\n\0\r\nQUIX", 11, 0, NEXT,
	    ANY, NULL, NULL, NULL);
	/* From an untrusted source, the chain refuses it */
	n = v2(b, 0x21, 0x11, a4, sizeof(a4), NULL, 0, 0);
	test("v2 untrusted", K_FIRST, b, n, ALL, BAD, PROTO_TCPMUX, NULL,
	    NULL, "bad name");
}

/* ---- TLS, built ---- */

struct out_buf {
	uint8_t	b[HELLO_MAX + 4096];
	size_t	n;
};

static void
put(struct out_buf *o, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (o->n + n > sizeof(o->b))
		abort();
	if (p != NULL)
		memcpy(o->b + o->n, p, n);
	else
		memset(o->b + o->n, 0x5a, n);	/* filler */
	o->n += n;
}

static void
put_n(struct out_buf *o, size_t v, int bytes)
{
	uint8_t	b[3];
	int	i;

	for (i = bytes - 1; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	put(o, b, (size_t)bytes);
}

/* An extension: type, length, data (NULL: n filler bytes). */
static void
ext(struct out_buf *o, unsigned type, const void *data, size_t n)
{
	put_n(o, type, 2);
	put_n(o, n, 2);
	put(o, data, n);
}

struct hello_spec {
	const char	*sni;		/* NULL: no server_name */
	const char	*alpn;		/* "h2,http/1.1"; NULL none */
	int		 ech;		/* an encrypted_client_hello */
	size_t		 mlkem;		/* X25519MLKEM768 share bytes, 0 none */
	size_t		 pad;		/* padding extension bytes, 0 none */
	int		 no_ext;	/* a hello without extensions */
	int		 dup;		/* 1: server_name twice, 2: ALPN */
};

/*
 * A ClientHello handshake message, its 4-byte header in, laid out as a
 * current browser sends it (Chrome 131 order, GREASE left out).
 */
static void
hello_msg(struct out_buf *o, const struct hello_spec *s)
{
	static const uint8_t suites[] = { 0x13, 0x01, 0x13, 0x02, 0x13, 0x03,
	    0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9,
	    0xcc, 0xa8, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x9c, 0x00, 0x9d,
	    0x00, 0x2f, 0x00, 0x35 };
	static const uint8_t groups[] = { 0, 8, 0x11, 0xec, 0x00, 0x1d,
	    0x00, 0x17, 0x00, 0x18 };
	static const uint8_t sigalgs[] = { 0, 16, 4, 3, 8, 4, 4, 1, 5, 3,
	    8, 5, 5, 1, 8, 6, 6, 1 };
	static const uint8_t versions[] = { 4, 3, 4, 3, 3 };
	struct out_buf	*e = calloc(1, sizeof(*e));
	size_t		 body, n;
	const char	*a;
	int		 i;

	if (e == NULL)
		abort();
	for (i = 0; s->sni && i < 1 + (s->dup == 1); i++) {
		n = strlen(s->sni);
		put_n(e, 0x0000, 2);
		put_n(e, n + 5, 2);
		put_n(e, n + 3, 2);
		put_n(e, 0, 1);
		put_n(e, n, 2);
		put(e, s->sni, n);
	}
	ext(e, 0x0017, NULL, 0);		/* extended_master_secret */
	ext(e, 0xff01, "\0", 1);		/* renegotiation_info */
	ext(e, 0x000a, groups, sizeof(groups));
	ext(e, 0x000b, "\1\0", 2);		/* ec_point_formats */
	ext(e, 0x0023, NULL, 0);		/* session_ticket */
	for (i = 0; s->alpn && i < 1 + (s->dup == 2); i++) {
		uint8_t	l[TLS_ALPN_MAX * 2];
		size_t	ln = 0;

		for (a = s->alpn; *a; a += n + (a[n] == ',')) {
			n = strcspn(a, ",");
			l[ln++] = (uint8_t)n;
			memcpy(l + ln, a, n);
			ln += n;
		}
		put_n(e, 0x0010, 2);
		put_n(e, ln + 2, 2);
		put_n(e, ln, 2);
		put(e, l, ln);
	}
	ext(e, 0x0005, "\1\0\0\0\0", 5);	/* status_request */
	ext(e, 0x000d, sigalgs, sizeof(sigalgs));
	ext(e, 0x0012, NULL, 0);		/* signed_certificate_timestamp */
	/* key_share: X25519MLKEM768 (1184 + 32 bytes) and X25519 */
	n = (s->mlkem ? 4 + s->mlkem : 0) + 4 + 32;
	put_n(e, 0x0033, 2);
	put_n(e, n + 2, 2);
	put_n(e, n, 2);
	if (s->mlkem) {
		put_n(e, 0x11ec, 2);
		put_n(e, s->mlkem, 2);
		put(e, NULL, s->mlkem);
	}
	put_n(e, 0x001d, 2);
	put_n(e, 32, 2);
	put(e, NULL, 32);
	ext(e, 0x002d, "\1\1", 2);		/* psk_key_exchange_modes */
	ext(e, 0x002b, versions, sizeof(versions));
	ext(e, 0x001b, "\2\0\2", 3);		/* compress_certificate */
	if (s->ech)
		ext(e, 0xfe0d, NULL, 250);	/* the outer hello's ECH */
	if (s->pad)
		ext(e, 0x0015, NULL, s->pad);

	body = 2 + 32 + 1 + 32 + 2 + sizeof(suites) + 2 +
	    (s->no_ext ? 0 : 2 + e->n);
	put_n(o, 1, 1);
	put_n(o, body, 3);
	put(o, "\3\3", 2);
	put(o, NULL, 32);			/* random */
	put_n(o, 32, 1);
	put(o, NULL, 32);			/* legacy_session_id */
	put_n(o, sizeof(suites), 2);
	put(o, suites, sizeof(suites));
	put(o, "\1\0", 2);			/* compression: null */
	if (!s->no_ext) {
		put_n(o, e->n, 2);
		put(o, e->b, e->n);
	}
	free(e);
}

/* hs cut into records of the given sizes (0 ends; the last the rest). */
static void
records(struct out_buf *o, const struct out_buf *hs, const size_t *sizes)
{
	size_t	at = 0, n;

	while (at < hs->n) {
		n = *sizes && *sizes < hs->n - at ? *sizes++ : hs->n - at;
		put(o, "\x16\x03\x01", 3);
		put_n(o, n, 2);
		put(o, hs->b + at, n);
		at += n;
	}
}

static struct out_buf *
tls_in(const struct hello_spec *s, const size_t *sizes)
{
	struct out_buf	*hs, *o;

	if ((hs = calloc(1, sizeof(*hs))) == NULL ||
	    (o = calloc(1, sizeof(*o))) == NULL)
		abort();
	hello_msg(hs, s);
	records(o, hs, sizes);
	free(hs);
	return o;
}

static void
tls_need(const char *label, const struct out_buf *o, size_t cut,
    size_t want)
{
	struct tls_hello	h;

	checks++;
	if (tls_probe(o->b, cut, &h) != PROBE_AGAIN || h.need != want) {
		printf("FAIL %s: need at %zu is %zu, want %zu\n", label, cut,
		    h.need, want);
		failed++;
	}
}

/* Each TLS case also goes through the chain, every protocol on. */
static void
tls_case(const char *label, const struct out_buf *o, enum probe_result want,
    const char *sni, const char *alpn, const char *why)
{
	test(label, K_TLS, o->b, o->n, 0, want, ANY, sni, alpn, why);
	if (want == PROBE_NEXT)		/* then the line parser's "-" */
		test(label, K_FIRST, o->b, o->n, ALL, PROBE_BAD, PROTO_TCPMUX,
		    NULL, NULL, "bad name");
	else
		test(label, K_FIRST, o->b, o->n, ALL, want,
		    want == PROBE_AGAIN ? ANY : PROTO_TLS, sni, alpn, why);
}

/* One byte of the first record's hello set, then parsed. */
static void
poke(const struct hello_spec *s, const size_t *sizes, size_t at,
    uint8_t v, const char *label, enum probe_result want, const char *why)
{
	struct out_buf	*o = tls_in(s, sizes);

	o->b[at] = v;
	tls_case(label, o, want, NULL, NULL, why);
	free(o);
}

/*
 * Offsets in a one-record hello: 5 the handshake type, 6..8 its length,
 * 43 the session id's, 76..77 the cipher suites', 108 compression's,
 * 110..111 the extensions', then server_name's type, length, list length.
 */
static void
lying(const struct hello_spec *pq)
{
	static const size_t one[] = { 0 }, two[] = { 2, 0 };
	struct out_buf	*o;

	poke(pq, one, 5, 2, "a ServerHello", BAD, "not a ClientHello");
	poke(pq, one, 43, 33, "session id of 33", BAD, "bad ClientHello");
	poke(pq, one, 77, 29, "odd cipher suites", BAD, "bad ClientHello");
	poke(pq, one, 77, 0, "no cipher suites", BAD, "bad ClientHello");
	poke(pq, one, 108, 0, "no compression", BAD, "bad ClientHello");
	poke(pq, one, 9, 2, "legacy_version 2.3", BAD, "bad ClientHello");
	poke(pq, one, 111, 0xff, "extensions lie", BAD,
	    "bad ClientHello lengths");
	poke(pq, one, 114, 0xff, "server_name lies", BAD,
	    "bad ClientHello lengths");
	poke(pq, one, 116, 0xff, "server_name list lies", BAD,
	    "bad server name");
	poke(pq, one, 6, 0xff, "handshake length lies", BAD,
	    "ClientHello too large");
	poke(pq, one, 7, 0x7f, "handshake length lies less", BAD,
	    "bad ClientHello lengths");
	poke(pq, one, 0, 0x17, "application data", NEXT, NULL);
	poke(pq, one, 1, 2, "record version 2", NEXT, NULL);
	poke(pq, one, 3, 0x40, "record too long", BAD, "bad TLS record");
	poke(pq, one, 3, 0x01, "record shorter than the hello", BAD,
	    "bad TLS record");
	poke(pq, two, 7, 0x17, "second record not handshake", BAD,
	    "bad TLS record");
	poke(pq, two, 8, 0x02, "second record version 2", BAD,
	    "bad TLS record");
	poke(pq, two, 10, 0, "second record empty", BAD, "bad TLS record");

	/* A record longer than the hello: the hello is all there. */
	o = tls_in(pq, one);
	o->b[3] += 1;
	tls_case("record longer than the hello", o, MATCH, "www.example.org",
	    "h2,http/1.1", NULL);
	/* Truncated: it waits, knowing how much it needs. */
	o->n -= 100;
	tls_case("truncated hello", o, AGAIN, NULL, NULL, NULL);
	tls_need("truncated hello", o, o->n, o->n + 100);
	free(o);
	test("empty", K_TLS, "", 0, 0, AGAIN, ANY, NULL, NULL, NULL);
	test("record header", K_TLS, "\x16\x03\x01\x00", 4, 0, AGAIN, ANY,
	    NULL, NULL, NULL);
	test("empty record", K_TLS, "\x16\x03\x01\x00\x00", 5, 0, BAD, ANY,
	    NULL, NULL, "bad TLS record");
	test("SSLv2 hello", K_TLS, "\x80\x2e\x01\x03\x01", 5, 0, NEXT, ANY,
	    NULL, NULL, NULL);
}

/* The head's limit: HTTP_HEAD_MAX bytes, its empty line in. */
static void
http_sizes(void)
{
	static char	b[HTTP_HEAD_MAX + 64];
	size_t		n;

	for (n = 0; n < sizeof(b); n++)
		b[n] = 'a';
	memcpy(b, GET "X: ", 19);
	memcpy(b + HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
	test("head of HTTP_HEAD_MAX", K_HTTP, b, HTTP_HEAD_MAX, 0, MATCH, ANY,
	    "", NULL, NULL);
	memcpy(b + HTTP_HEAD_MAX - 4, "a\r\n\r\n", 5);
	test("head past HTTP_HEAD_MAX", K_HTTP, b, HTTP_HEAD_MAX + 1, 0, BAD,
	    ANY, NULL, NULL, "request head too large");
	test("no end in HTTP_HEAD_MAX", K_HTTP, b, HTTP_HEAD_MAX + 60, 0, BAD,
	    ANY, NULL, NULL, "request head too large");
	test("no end in HTTP_HEAD_MAX, chain", K_FIRST, b, HTTP_HEAD_MAX + 60,
	    ALL, BAD, PROTO_HTTP, NULL, NULL, "request head too large");
	/* a Host of 253 bytes; and of 254 */
	memcpy(b, GET "Host: ", 22);
	for (n = 22; n < 22 + 253; n++)
		b[n] = n % 50 == 0 ? '.' : 'h';
	memcpy(b + n, "\r\n\r\n", 4);
	test("Host of 253", K_HTTP, b, n + 4, 0, MATCH, ANY, NULL, NULL, NULL);
	memcpy(b + n, "h\r\n\r\n", 5);
	test("Host of 254", K_HTTP, b, n + 5, 0, BAD, ANY, NULL, NULL,
	    "bad Host header");
}

static void
tls(void)
{
	static const size_t one[] = { 0 }, two[] = { 2, 0 },
	    three[] = { 3, 700, 0 }, mid[] = { 100, 0 },
	    four_k[] = { 4096, 0 }, tiny[] = { 1, 1, 1, 1, 1, 0 },
	    full[] = { 16384, 16384, 16384, 16384, 16384, 0 };
	struct hello_spec	 pq = { "www.example.org", "h2,http/1.1", 0,
				    1216, 0, 0, 0 };
	struct hello_spec	 s;
	struct out_buf		*o;

	test("openssl s_client", K_TLS, hello_openssl, sizeof(hello_openssl),
	    0, MATCH, ANY, "www.example.org", "h2,http/1.1", NULL);
	test("openssl s_client, chain", K_FIRST, hello_openssl,
	    sizeof(hello_openssl), ALL, MATCH, PROTO_TLS, "www.example.org",
	    "h2,http/1.1", NULL);

	/* post-quantum: one record of about 1.6 KB */
	o = tls_in(&pq, one);
	if (o->n < 1500 || o->n > 1800)
		printf("FAIL post-quantum hello is %zu bytes\n", o->n),
		    failed++;
	tls_case("post-quantum hello", o, MATCH, "www.example.org",
	    "h2,http/1.1", NULL);
	tls_need("post-quantum, header", o, 5, o->n);
	tls_need("post-quantum, hs header", o, 9, o->n);
	tls_need("post-quantum, some", o, 1000, o->n);
	tls_need("post-quantum, nothing", o, 4, 0);
	/* junk after it: a second record, then garbage */
	put(o, "\x16\x03\x03\x00\x01\x02\xff\x00garbage", 16);
	tls_case("post-quantum, junk after", o, MATCH, "www.example.org",
	    "h2,http/1.1", NULL);
	free(o);

	/* two records, the handshake header split across them */
	o = tls_in(&pq, two);
	tls_case("two records, split header", o, MATCH, "www.example.org",
	    "h2,http/1.1", NULL);
	tls_need("split header, first record", o, 6, 7);
	tls_need("split header, between", o, 7, 0);
	tls_need("split header, second header", o, 12, o->n);
	tls_need("split header, in", o, 14, o->n);
	free(o);
	o = tls_in(&pq, three);
	tls_case("three records", o, MATCH, "www.example.org", "h2,http/1.1",
	    NULL);
	/* in the second record: the rest needs one more header at least */
	tls_need("three records, second", o, 20, o->n);
	free(o);
	o = tls_in(&pq, mid);
	tls_need("two records, first", o, 50, 105 + 5 + (o->n - 110));
	tls_case("two records", o, MATCH, "www.example.org", "h2,http/1.1",
	    NULL);
	free(o);
	o = tls_in(&pq, tiny);
	tls_case("records of one byte", o, MATCH, "www.example.org",
	    "h2,http/1.1", NULL);
	free(o);

	/* 12 KiB: one record, and records of 4 KiB */
	s = pq;
	s.pad = 12 * 1024 - 1510;
	o = tls_in(&s, one);
	if (o->n < 12 * 1024 - 100 || o->n > 12 * 1024 + 100)
		printf("FAIL 12 KiB hello is %zu bytes\n", o->n), failed++;
	tls_case("12 KiB hello", o, MATCH, "www.example.org", "h2,http/1.1",
	    NULL);
	free(o);
	o = tls_in(&s, four_k);
	tls_case("12 KiB hello, 4 KiB records", o, MATCH, "www.example.org",
	    "h2,http/1.1", NULL);
	free(o);
	/* the largest: HELLO_MAX bytes in records of 16 KiB */
	s.pad = 60000;
	o = tls_in(&s, full);
	s.pad += HELLO_MAX - o->n;
	free(o);
	o = tls_in(&s, full);
	if (o->n != HELLO_MAX)
		printf("FAIL largest hello is %zu bytes\n", o->n), failed++;
	tls_case("largest hello", o, MATCH, "www.example.org", "h2,http/1.1",
	    NULL);
	free(o);
	s.pad++;
	o = tls_in(&s, full);
	tls_case("hello past HELLO_MAX", o, BAD, NULL, NULL,
	    "ClientHello too large");
	free(o);

	s = pq;
	s.sni = NULL;
	o = tls_in(&s, one);
	tls_case("no SNI", o, MATCH, "", "h2,http/1.1", NULL);
	free(o);
	s.alpn = NULL;
	o = tls_in(&s, one);
	tls_case("no SNI, no ALPN", o, MATCH, "", "", NULL);
	free(o);
	s = pq;
	s.alpn = "acme-tls/1";
	s.sni = "Acme.Example.ORG.";
	o = tls_in(&s, one);
	tls_case("ACME, trailing dot", o, MATCH, "acme.example.org",
	    "acme-tls/1", NULL);
	free(o);
	s = pq;
	s.ech = 1;
	s.sni = "public.example.net";
	o = tls_in(&s, one);
	tls_case("ECH", o, MATCH, "public.example.net", "h2,http/1.1", NULL);
	free(o);
	s = pq;
	s.no_ext = 1;
	o = tls_in(&s, one);
	tls_case("no extensions", o, MATCH, "", "", NULL);
	free(o);
	s = pq;
	s.sni = "a_b.example.org";
	o = tls_in(&s, one);
	tls_case("SNI with _", o, MATCH, "a_b.example.org", NULL, NULL);
	free(o);
	{
		static const char *const bad_names[] = { "a..b", ".a", "a/b",
		    "a b", "-\x80", "", ".", "a.." };
		size_t	i;

		for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]);
		    i++) {
			s.sni = bad_names[i];
			o = tls_in(&s, one);
			tls_case(bad_names[i], o, BAD, NULL, NULL,
			    "bad server name");
			free(o);
		}
	}
	s = pq;
	s.alpn = "h2,,http/1.1";
	o = tls_in(&s, one);
	tls_case("empty ALPN name", o, BAD, NULL, NULL, "bad ALPN list");
	free(o);
	s = pq;
	s.dup = 1;
	o = tls_in(&s, one);
	tls_case("server_name twice", o, BAD, NULL, NULL, "bad server name");
	free(o);
	s.dup = 2;
	o = tls_in(&s, one);
	tls_case("ALPN twice", o, BAD, NULL, NULL, "bad ALPN list");
	free(o);
	{
		static char	names[2][1200 + 8];
		size_t		i;

		/* 128 names of 7 bytes: a list of exactly TLS_ALPN_MAX */
		for (i = 0; i < 128; i++)
			memcpy(names[0] + 8 * i, i < 127 ? "abcdefg," :
			    "abcdefg", 8);
		s = pq;
		s.alpn = names[0];
		o = tls_in(&s, one);
		tls_case("ALPN of TLS_ALPN_MAX", o, MATCH, "www.example.org",
		    names[0], NULL);
		free(o);
		snprintf(names[1], sizeof(names[1]), "%.1200s,h", names[0]);
		s.alpn = names[1];
		o = tls_in(&s, one);
		tls_case("ALPN past TLS_ALPN_MAX", o, BAD, NULL, NULL,
		    "ALPN list too long");
		free(o);
	}
	lying(&pq);
}

/* ---- route.c ---- */

static const struct route_rule rules[] = {
	{ PROTO_TLS, 0, NULL, NULL },
	{ PROTO_TLS, 1, "a.example.org", NULL },
	{ PROTO_TLS, 2, "*.example.org", NULL },
	{ PROTO_TLS, 3, NULL, "acme-tls/1" },
	{ PROTO_TLS, 4, "*.example.org", "h2" },
	{ PROTO_TLS, 5, "a.example.org", "http/1.1" },
	{ PROTO_HTTP, 6, "example.org", NULL },
	{ PROTO_HTTP, 7, "*.example.org", NULL },
	{ PROTO_HTTP, 8, NULL, NULL },
	{ PROTO_SSH, 9, NULL, NULL },
	{ PROTO_SILENCE, 10, NULL, NULL },
	{ PROTO_HTTP, 11, "2001:db8:0::1", NULL },
};

static void
route_one(size_t nrules, enum proto p, const char *host, const char *alpn,
    int want)
{
	struct first	 f;
	const char	*chosen, *a;
	size_t		 n = 0;
	int		 got;

	memset(&f, 0, sizeof(f));
	f.proto = p;
	snprintf(f.tls.sni, sizeof(f.tls.sni), "%s", host);
	snprintf(f.http.host, sizeof(f.http.host), "%s", host);
	/* alpn: names separated by ',', into the extension's form */
	for (a = alpn; a && *a; a += strcspn(a, ",") + (a[strcspn(a, ",")] ==
	    ',')) {
		f.tls.alpn[n] = (uint8_t)strcspn(a, ",");
		memcpy(f.tls.alpn + n + 1, a, f.tls.alpn[n]);
		n += 1 + f.tls.alpn[n];
	}
	f.tls.alpn_len = n;
	got = route_find(rules, nrules, &f, &chosen);
	checks++;
	if (got != want || (got != -1 && p == PROTO_TLS &&
	    chosen != rules[got].alpn) || (p != PROTO_TLS && chosen)) {
		printf("FAIL route %d \"%s\" \"%s\": got %d want %d\n", p,
		    host, alpn ? alpn : "", got, want);
		failed++;
	}
}

static void
route(void)
{
	static const struct {
		const char	*pattern, *host;
		int		 want;
	} hm[] = {
		{ "*.example.org", "a.example.org", 1 },
		{ "*.example.org", "example.org", 0 },
		{ "*.example.org", "a.b.example.org", 0 },
		{ "*.example.org", ".example.org", 0 },
		{ "*.example.org", "aexample.org", 0 },
		{ "*.example.org", "a.example.org.evil", 0 },
		{ "a.example.org", "a.example.org", 1 },
		{ "a.example.org", "b.example.org", 0 },
		{ "a.example.org", "", 0 },
		{ "", "", 0 },
		{ "2001:db8:0::1", "2001:db8::1", 1 },
		{ "2001:db8::2", "2001:db8::1", 0 },
		{ "192.0.2.1", "192.0.2.1", 1 },
	};
	size_t	i, all = sizeof(rules) / sizeof(rules[0]);

	for (i = 0; i < sizeof(hm) / sizeof(hm[0]); i++, checks++)
		if (route_host_match(hm[i].pattern, hm[i].host) !=
		    hm[i].want) {
			printf("FAIL route_host_match %s %s\n", hm[i].pattern,
			    hm[i].host);
			failed++;
		}
	/* TLS: the client's ALPN order before exact-over-wildcard */
	route_one(all, PROTO_TLS, "a.example.org", "h2,http/1.1", 4);
	route_one(all, PROTO_TLS, "a.example.org", "http/1.1,h2", 5);
	route_one(all, PROTO_TLS, "b.example.org", "http/1.1,h2", 4);
	route_one(all, PROTO_TLS, "a.example.org", "acme-tls/1", 3);
	route_one(all, PROTO_TLS, "a.example.org", "spdy,acme-tls/1,h2", 4);
	route_one(all, PROTO_TLS, "", "acme-tls/1", 3);
	route_one(all, PROTO_TLS, "", "h2", 0);
	route_one(all, PROTO_TLS, "a.example.org", NULL, 1);
	route_one(all, PROTO_TLS, "a.example.org", "spdy", 1);
	route_one(all, PROTO_TLS, "b.example.org", NULL, 2);
	route_one(all, PROTO_TLS, "example.org", NULL, 0);
	route_one(all, PROTO_TLS, "a.b.example.org", "h2", 0);
	route_one(all, PROTO_TLS, "", NULL, 0);
	route_one(3, PROTO_TLS, "x.org", NULL, 0);
	route_one(0, PROTO_TLS, "x.org", NULL, -1);
	route_one(all, PROTO_HTTP, "example.org", NULL, 6);
	route_one(all, PROTO_HTTP, "www.example.org", NULL, 7);
	route_one(all, PROTO_HTTP, "a.example.org", NULL, 7);
	route_one(all, PROTO_HTTP, "", NULL, 8);
	route_one(all, PROTO_HTTP, "other.org", NULL, 8);
	route_one(all, PROTO_HTTP, "2001:db8::1", NULL, 11);
	route_one(all, PROTO_HTTP, "2001:db8::2", NULL, 8);
	route_one(8, PROTO_HTTP, "", NULL, -1);
	route_one(8, PROTO_HTTP, "example.org", NULL, 6);
	route_one(all, PROTO_SSH, "", NULL, 9);
	route_one(all, PROTO_SILENCE, "", NULL, 10);
	route_one(9, PROTO_SILENCE, "", NULL, -1);
	route_one(all, PROTO_TCPMUX, "echo", NULL, -1);
}

int
main(void)
{
	const struct row	*r;
	size_t			 i;
	char			 label[64];

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = &rows[i];
		snprintf(label, sizeof(label), "row %zu \"%.40s\"", i, r->in);
		test(label, r->kind, r->in, strlen(r->in), r->protos,
		    r->want, r->proto, r->text, NULL, r->why);
	}
	proxy_v2();
	tls();
	http_sizes();
	route();
	printf("probe_test: %d inputs, %d checks, %d failed\n", cases, checks,
	    failed);
	return failed != 0;
}
