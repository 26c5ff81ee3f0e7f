/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the probes of a client's first bytes and for
 * route.c. Input: a flags byte (which protocols the second chain run
 * takes, and its max_line), a byte R, R bytes of rules ("t|h|s|q HOST
 * ALPN" lines, "-" for any), then the client's bytes. Each of tls_probe,
 * http_probe, ssh_probe and probe_first (every protocol on, then the
 * flags' set) must never read past len (ASan), give on the whole input
 * the verdict and fields of the first growing prefix with a verdict,
 * and return sane fields; route_find must pick a rule of the most
 * specific tier that matches, route_host_match agree with its rule.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ALL	((1u << PROTO_TLS) | (1u << PROTO_HTTP) | (1u << PROTO_SSH))
#define NRULES	16

enum kind { K_TLS, K_HTTP, K_SSH, K_FIRST };

struct out {
	enum probe_result r;
	struct first	 f;		/* the fields, whichever probe */
	const char	*why;
};

static void
run(enum kind k, const uint8_t *buf, size_t len, unsigned protos,
    size_t max_line, struct out *o)
{
	memset(o, 0, sizeof(*o));
	switch (k) {
	case K_TLS:
		o->f.proto = PROTO_TLS;
		o->r = tls_probe(buf, len, &o->f.tls);
		o->why = o->f.tls.why;
		break;
	case K_HTTP:
		o->f.proto = PROTO_HTTP;
		o->r = http_probe(buf, len, &o->f.http);
		o->why = o->f.http.why;
		break;
	case K_SSH:
		o->f.proto = PROTO_SSH;
		o->r = ssh_probe(buf, len, &o->why);
		break;
	case K_FIRST:
		o->r = probe_first(buf, len, protos, max_line, &o->f);
		o->why = o->f.why;
		break;
	}
}

static int
same(const struct out *a, const struct out *b)
{
	const struct first	*x = &a->f, *y = &b->f;

	if (a->r != b->r || (a->why == NULL) != (b->why == NULL) ||
	    (a->why != NULL && strcmp(a->why, b->why) != 0))
		return 0;
	if (a->r != PROBE_MATCH && a->r != PROBE_BAD)
		return 1;
	if (x->proto != y->proto)
		return 0;
	if (a->r == PROBE_BAD)
		return 1;
	switch (x->proto) {
	case PROTO_TLS:
		return strcmp(x->tls.sni, y->tls.sni) == 0 &&
		    x->tls.alpn_len == y->tls.alpn_len &&
		    memcmp(x->tls.alpn, y->tls.alpn, x->tls.alpn_len) == 0 &&
		    x->tls.ech == y->tls.ech;
	case PROTO_HTTP:
		return strcmp(x->http.host, y->http.host) == 0 &&
		    x->http.absolute == y->http.absolute;
	case PROTO_TCPMUX:
		return strcmp(x->req.name, y->req.name) == 0 &&
		    x->req.consumed == y->req.consumed &&
		    x->req.query == y->req.query && x->req.help == y->req.help;
	default:
		return 1;
	}
}

/* A name as the probes give it: lower case, LDH and "_", dots between
 * labels (and ":" in an HTTP IPv6 literal). */
static void
check_host(const char *s, int colon)
{
	size_t	i, n = strlen(s);

	if (n > HOST_NAME_LEN)
		abort();
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_' || s[i] == '.' || (colon && s[i] == ':')))
			abort();
	if (!colon && n > 0 && (s[0] == '.' || s[n - 1] == '.' ||
	    strstr(s, "..") != NULL))
		abort();
}

static void
check(const struct out *o, size_t len, size_t max_line)
{
	const struct first	*f = &o->f;
	size_t			 i;

	if ((o->r == PROBE_BAD) != (o->why != NULL))
		abort();
	if (o->r == PROBE_AGAIN && f->proto == PROTO_TLS && f->tls.need != 0 &&
	    (f->tls.need <= len || f->tls.need > HELLO_MAX))
		abort();
	if (o->r != PROBE_MATCH)
		return;
	switch (f->proto) {
	case PROTO_TLS:
		check_host(f->tls.sni, 0);
		if (f->tls.alpn_len > TLS_ALPN_MAX)
			abort();
		for (i = 0; i < f->tls.alpn_len; i += 1 + f->tls.alpn[i])
			if (f->tls.alpn[i] == 0)
				abort();
		if (i != f->tls.alpn_len)
			abort();
		break;
	case PROTO_HTTP:
		check_host(f->http.host, 1);
		break;
	case PROTO_TCPMUX:
		if (f->req.consumed == 0 || f->req.consumed > len ||
		    f->req.consumed > max_line || f->req.name[0] == '\0')
			abort();
		break;
	default:
		break;
	}
}

/* The verdict never changes once a growing prefix has one. */
static void
split(enum kind k, const uint8_t *buf, size_t len, unsigned protos,
    size_t max_line, struct out *whole)
{
	struct out	part;
	size_t		cut;

	run(k, buf, len, protos, max_line, whole);
	check(whole, len, max_line);
	for (cut = 0; cut < len; cut++) {
		run(k, buf, cut, protos, max_line, &part);
		check(&part, cut, max_line);
		if (part.r == PROBE_AGAIN)
			continue;
		if (!same(&part, whole))
			abort();
		break;
	}
}

/* ---- route.c, against a brute force of its precedence ---- */

struct rules {
	struct route_rule	r[NRULES];
	char			text[NRULES][2][256];
	size_t			n;
};

static const char *
token(const uint8_t **p, const uint8_t *end, char *out)
{
	size_t	n = 0;

	while (*p < end && **p != ' ' && **p != '\n') {
		if (n < 255)
			out[n++] = (char)**p;
		(*p)++;
	}
	if (*p < end && **p == ' ')
		(*p)++;
	out[n] = '\0';
	return strcmp(out, "-") == 0 ? NULL : out;
}

static void
parse_rules(const uint8_t *p, size_t len, struct rules *rs)
{
	const uint8_t	*end = p + len;
	char		 proto[256];

	for (rs->n = 0; p < end && rs->n < NRULES; p++) {
		struct route_rule	*r = &rs->r[rs->n];

		token(&p, end, proto);
		switch (proto[0]) {
		case 't': r->proto = PROTO_TLS; break;
		case 'h': r->proto = PROTO_HTTP; break;
		case 's': r->proto = PROTO_SSH; break;
		default: r->proto = PROTO_SILENCE; break;
		}
		r->service = (uint32_t)rs->n;
		r->host = token(&p, end, rs->text[rs->n][0]);
		r->alpn = token(&p, end, rs->text[rs->n][1]);
		while (p < end && *p != '\n')
			p++;
		rs->n++;
	}
}

static int
host_match(const char *pat, const char *host)
{
	struct in6_addr	 a, b;
	size_t		 np, nh;
	const char	*dot;

	if (strcmp(pat, host) == 0)
		return host[0] != '\0';
	if (inet_pton(AF_INET6, pat, &a) == 1 &&
	    inet_pton(AF_INET6, host, &b) == 1)
		return memcmp(&a, &b, sizeof(a)) == 0;
	if (strncmp(pat, "*.", 2) != 0)
		return 0;
	np = strlen(pat + 1);		/* ".rest" */
	nh = strlen(host);
	if (nh <= np || strcmp(host + nh - np, pat + 1) != 0)
		return 0;
	dot = strchr(host, '.');
	return dot == host + nh - np && dot != host;
}

/* Where the client offered name a: its position, or -1. */
static long
offered(const struct tls_hello *h, const char *a)
{
	size_t	i, n = strlen(a);
	long	k;

	for (i = 0, k = 0; i < h->alpn_len; i += 1 + h->alpn[i], k++)
		if (h->alpn[i] == n && i + 1 + n <= h->alpn_len &&
		    memcmp(h->alpn + i + 1, a, n) == 0)
			return k;
	return -1;
}

/* Rank of rule r for f, lower is better; -1 if it does not match. */
static long
rank(const struct route_rule *r, const struct first *f)
{
	const char	*host;
	long		 pos = 0, tier, wild;

	if (r->proto != f->proto)
		return -1;
	if (f->proto != PROTO_TLS && f->proto != PROTO_HTTP)
		return 0;
	host = f->proto == PROTO_TLS ? f->tls.sni : f->http.host;
	if (r->host != NULL && !host_match(r->host, host))
		return -1;
	wild = r->host != NULL && strncmp(r->host, "*.", 2) == 0;
	if (f->proto == PROTO_HTTP)
		return r->host == NULL ? 2 : wild;
	if (r->alpn != NULL && (pos = offered(&f->tls, r->alpn)) == -1)
		return -1;
	tier = r->host && r->alpn ? 0 : r->alpn ? 1 : r->host ? 2 : 3;
	return (tier << 20) | (pos << 1) | wild;
}

static void
route(const struct rules *rs, const struct first *f)
{
	const char	*alpn, *host;
	long		 best = -1, k;
	size_t		 i, j;
	int		 got;

	for (i = 0; i < rs->n; i++)
		if ((k = rank(&rs->r[i], f)) != -1 && (best == -1 || k < best))
			best = k;
	got = route_find(rs->r, rs->n, f, &alpn);
	if (got < -1 || got >= (int)rs->n)
		abort();
	if ((got == -1) != (best == -1))
		abort();
	if (got != -1 && rank(&rs->r[got], f) != best)
		abort();
	if (alpn != (got != -1 && f->proto == PROTO_TLS ?
	    rs->r[got].alpn : NULL))
		abort();

	host = f->proto == PROTO_TLS ? f->tls.sni : f->http.host;
	for (i = 0; i < rs->n; i++)
		for (j = 0; j < 2; j++)
			if (route_host_match(rs->text[i][j], host) !=
			    host_match(rs->text[i][j], host) ||
			    route_host_match(rs->text[i][j],
			    rs->text[(i + 1) % rs->n][j]) !=
			    host_match(rs->text[i][j],
			    rs->text[(i + 1) % rs->n][j]))
				abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules	 rs;
	struct out	 o;
	uint8_t		*copy;
	size_t		 nr, max_line;
	unsigned	 protos;

	if (size < 2)
		return 0;
	protos = (data[0] & 7u) << PROTO_TLS;
	max_line = 3 + (data[0] >> 3) * 4;
	nr = data[1] < size - 2 ? data[1] : size - 2;
	memset(&rs, 0, sizeof(rs));
	parse_rules(data + 2, nr, &rs);
	data += 2 + nr;
	size -= 2 + nr;

	/* An exact-size heap copy: any read past len is caught. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	split(K_TLS, copy, size, 0, 0, &o);
	if (o.r == PROBE_MATCH)
		route(&rs, &o.f);
	split(K_HTTP, copy, size, 0, 0, &o);
	if (o.r == PROBE_MATCH)
		route(&rs, &o.f);
	split(K_SSH, copy, size, 0, 0, &o);
	if (o.r == PROBE_MATCH)
		route(&rs, &o.f);
	split(K_FIRST, copy, size, ALL, 64, &o);
	if (o.r == PROBE_MATCH)
		route(&rs, &o.f);
	split(K_FIRST, copy, size, protos, max_line, &o);
	free(copy);
	return 0;
}
