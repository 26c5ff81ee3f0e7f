/* SPDX-License-Identifier: ISC */
/*
 * route.c: which match rule a first message meets, most specific first
 * (oneportd.conf(5) documents the order). TLS: rules naming both an SNI
 * pattern and an ALPN name; ALPN only; SNI only; "match tls". Within a
 * tier with ALPN, the client's order of its offered names decides first
 * (the first offered name some rule of the tier takes, for this SNI),
 * then an exact name beats a "*." one. HTTP: exact host, "*." host,
 * "match http". Other protocols: the first rule of that protocol (the
 * config allows one). Pure: no I/O, no allocation.
 */
#include <arpa/inet.h>
#include <string.h>

#include "frontend.h"

/* Two IPv6 literals (an HTTP Host, a rule's) name one address however
 * each is written: "2001:db8:0::1" is "2001:db8::1". */
static int
same_v6(const char *a, const char *b)
{
	struct in6_addr	x, y;

	return strchr(a, ':') != NULL && strchr(b, ':') != NULL &&
	    inet_pton(AF_INET6, a, &x) == 1 &&
	    inet_pton(AF_INET6, b, &y) == 1 && memcmp(&x, &y, sizeof(x)) == 0;
}

/* Exact, or "*." and the rest: "*" stands for exactly one label. */
int
route_host_match(const char *pattern, const char *host)
{
	const char	*dot;

	if (*host == '\0')
		return 0;
	if (strcmp(pattern, host) == 0 || same_v6(pattern, host))
		return 1;
	if (strncmp(pattern, "*.", 2) != 0)
		return 0;
	if ((dot = strchr(host, '.')) == NULL || dot == host)
		return 0;
	return strcmp(dot + 1, pattern + 2) == 0;
}

enum { ANY_HOST, EXACT, WILD };

static int
host_ok(const struct route_rule *r, int how, const char *host)
{
	if (how == ANY_HOST)
		return r->host == NULL;
	if (r->host == NULL)
		return 0;
	if (how == EXACT)
		return strncmp(r->host, "*.", 2) != 0 &&
		    route_host_match(r->host, host);
	return strncmp(r->host, "*.", 2) == 0 &&
	    route_host_match(r->host, host);
}

/* name (n bytes, not NUL-terminated) NULL: the rule must name no ALPN. */
static int
alpn_ok(const struct route_rule *r, const uint8_t *name, size_t n)
{
	if (name == NULL)
		return r->alpn == NULL;
	return r->alpn != NULL && strlen(r->alpn) == n &&
	    memcmp(r->alpn, name, n) == 0;
}

/* The first rule of proto p meeting host "how" and the ALPN name. */
static int
first_rule(const struct route_rule *rules, size_t n, enum proto p, int how,
    const char *host, const uint8_t *name, size_t nlen, int check_alpn)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (rules[i].proto == p && host_ok(&rules[i], how, host) &&
		    (!check_alpn || alpn_ok(&rules[i], name, nlen)))
			return (int)i;
	return -1;
}

/* Exact before "*.", or any host when the tier names none. */
static int
by_host(const struct route_rule *rules, size_t n, enum proto p,
    int named, const char *host, const uint8_t *name, size_t nlen,
    int check_alpn)
{
	int	i;

	if (!named)
		return first_rule(rules, n, p, ANY_HOST, host, name, nlen,
		    check_alpn);
	if ((i = first_rule(rules, n, p, EXACT, host, name, nlen,
	    check_alpn)) != -1)
		return i;
	return first_rule(rules, n, p, WILD, host, name, nlen, check_alpn);
}

static int
tls(const struct route_rule *rules, size_t n, const struct tls_hello *h,
    const char **alpn)
{
	const uint8_t	*l = h->alpn;
	size_t		 i;
	int		 named, r;

	/* Tiers with ALPN, named host first, in the client's order. */
	for (named = 1; named >= 0; named--)
		for (i = 0; i + 1 <= h->alpn_len &&
		    i + 1 + l[i] <= h->alpn_len; i += 1 + l[i])
			if ((r = by_host(rules, n, PROTO_TLS, named, h->sni,
			    l + i + 1, l[i], 1)) != -1) {
				*alpn = rules[r].alpn;
				return r;
			}
	if ((r = by_host(rules, n, PROTO_TLS, 1, h->sni, NULL, 0, 1)) != -1)
		return r;
	return by_host(rules, n, PROTO_TLS, 0, h->sni, NULL, 0, 1);
}

int
route_find(const struct route_rule *rules, size_t n, const struct first *f,
    const char **alpn)
{
	size_t	i;
	int	r;

	*alpn = NULL;
	switch (f->proto) {
	case PROTO_TCPMUX:
		return -1;
	case PROTO_TLS:
		return tls(rules, n, &f->tls, alpn);
	case PROTO_HTTP:
		if ((r = by_host(rules, n, PROTO_HTTP, 1, f->http.host, NULL,
		    0, 0)) != -1)
			return r;
		return by_host(rules, n, PROTO_HTTP, 0, f->http.host, NULL,
		    0, 0);
	default:
		for (i = 0; i < n; i++)
			if (rules[i].proto == f->proto)
				return (int)i;
		return -1;
	}
}
