/* SPDX-License-Identifier: ISC */
/*
 * reply_test: the client's line parsers (lib/reply.h) against tables of
 * replies, listing lines and token lines at and past every limit. Each is
 * parsed from an exact-size heap copy (ASan sees any read past len); every
 * proper prefix must give NEED_MORE or the same verdict; an accepted reply
 * must format back to a line that parses to the same fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

static int	failed, tests;

#define FAIL(...)	do { printf("FAIL " __VA_ARGS__); printf("\n"); \
			    failed++; } while (0)

#define NEED	REPLY_NEED_MORE
#define OK	REPLY_OK
#define BAD	REPLY_BAD

#define T16	"abcdefghijklmnop"
#define T64	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
#define L63	"a23456789012345678901234567890123456789012345678901234567890123"
/* 253 octets: three labels of 63 and one of 61, with dots. */
#define N253	L63 "." L63 "." L63 "." \
		"a234567890123456789012345678901234567890123456789012345678901"

struct row {
	const char	*what;
	const char	*in;
	size_t		 len;		/* 0: strlen(in); set it for a NUL */
	long		 max;		/* -1: REPLY_MAX */
	int		 want;
	int		 kind;
	size_t		 consumed;
	const char	*text;		/* '+', '-' */
	unsigned int	 port;		/* '@' */
	int		 host_type;
	const char	*host;
	const char	*token;
};

#define PLUS(w, in, c, t)	{ w, in, 0, -1, OK, '+', c, t, 0, 0, "", "" }
#define MINUS(w, in, c, t)	{ w, in, 0, -1, OK, '-', c, t, 0, 0, "", "" }
#define AT(w, in, c, p, ht, h, tok) \
				{ w, in, 0, -1, OK, '@', c, "", p, ht, h, tok }
#define NO(w, in)		{ w, in, 0, -1, BAD, 0, 0, "", 0, 0, "", "" }
#define NOLEN(w, in)		{ w, in, sizeof(in) - 1, -1, BAD, 0, 0, "", \
				    0, 0, "", "" }
#define MORE(w, in)		{ w, in, 0, -1, NEED, 0, 0, "", 0, 0, "", "" }
#define LIM(w, in, m, v, c, t)	{ w, in, 0, m, v, v == OK ? '+' : 0, c, t, \
				    0, 0, "", "" }

static const struct row rows[] = {
	/* "+" */
	PLUS("plus crlf", "+\r\n", 3, ""),
	PLUS("plus bare lf", "+\n", 2, ""),
	PLUS("plus and data after it", "+\r\nDATA", 3, ""),
	{ "plus xinetd text, then its NUL", "+Go\r\n\0hello", 11, -1, OK, '+',
	    5, "Go", 0, 0, "", "" },
	PLUS("plus any text", "+OK ready \x01\xff\r\n", 14, "OK ready \x01\xff"),
	PLUS("plus CR inside the text", "+a\rb\r\n", 6, "a\rb"),
	PLUS("plus only the last CR goes", "+\r\r\n", 4, "\r"),
	MORE("plus alone", "+"),
	MORE("plus CR", "+\r"),
	MORE("plus text", "+Go"),
	MORE("empty", ""),
	/* "-" */
	MINUS("minus reason", "-unknown service\r\n", 18, "unknown service"),
	MINUS("minus bare lf", "-busy\n", 6, "busy"),
	MINUS("minus empty reason (RFC 1078)", "-\r\n", 3, ""),
	MINUS("minus all printable", "- !~\r\n", 6, " !~"),
	MINUS("minus then more", "-timeout\r\nxyz", 10, "timeout"),
	NO("minus tab", "-a\tb\r\n"),
	NO("minus tab at once", "-a\t"),
	NO("minus 8-bit", "-caf\xe9\r\n"),
	NOLEN("minus NUL", "-a\0b\r\n"),
	NO("minus CR inside", "-a\rb\r\n"),
	NO("minus CR CR LF", "-a\r\r\n"),
	MORE("minus CR at the end so far", "-a\r"),
	/* "@" */
	AT("redirect port", "@7002\r\n", 7, 7002, REPLY_HOST_NONE, "", ""),
	AT("redirect bare lf", "@1\n", 3, 1, REPLY_HOST_NONE, "", ""),
	AT("redirect port max", "@65535\r\n", 8, 65535, REPLY_HOST_NONE, "",
	    ""),
	AT("redirect host name", "@7002 host=archive.example\r\n", 28, 7002,
	    REPLY_HOST_NAME, "archive.example", ""),
	AT("redirect HOST= any case", "@7002 HoSt=a\r\n", 14, 7002,
	    REPLY_HOST_NAME, "a", ""),
	AT("redirect host ipv4", "@80 host=192.0.2.1\r\n", 20, 80,
	    REPLY_HOST_IPV4, "192.0.2.1", ""),
	AT("redirect host ipv4 edges", "@80 host=0.255.250.9\r\n", 22, 80,
	    REPLY_HOST_IPV4, "0.255.250.9", ""),
	AT("redirect host ipv6", "@80 host=[2001:db8::1]\r\n", 24, 80,
	    REPLY_HOST_IPV6, "2001:db8::1", ""),
	AT("redirect host ipv6 loopback", "@80 host=[::1]\r\n", 16, 80,
	    REPLY_HOST_IPV6, "::1", ""),
	AT("redirect host ipv6 with ipv4", "@80 host=[::ffff:192.0.2.1]\r\n",
	    29, 80, REPLY_HOST_IPV6, "::ffff:192.0.2.1", ""),
	AT("redirect token 16", "@9 token=" T16 "\r\n", 27, 9,
	    REPLY_HOST_NONE, "", T16),
	AT("redirect token 64", "@9 token=" T64 "\r\n", 75, 9,
	    REPLY_HOST_NONE, "", T64),
	AT("redirect TOKEN= any case", "@9 TOKEN=" T16 "\n", 26, 9,
	    REPLY_HOST_NONE, "", T16),
	AT("redirect host and token", "@9 host=h-1.x token=" T16 "\r\n", 38, 9,
	    REPLY_HOST_NAME, "h-1.x", T16),
	AT("redirect 253-octet name", "@9 host=" N253 "\r\n", 263, 9,
	    REPLY_HOST_NAME, N253, ""),
	AT("redirect numeric label not last", "@9 host=1.example\r\n", 19, 9,
	    REPLY_HOST_NAME, "1.example", ""),
	AT("redirect 0x but not hex", "@9 host=0xg\r\n", 13, 9,
	    REPLY_HOST_NAME, "0xg", ""),
	AT("redirect then data", "@9\r\n@10\r\n", 4, 9, REPLY_HOST_NONE, "",
	    ""),
	NO("redirect no port", "@\r\n"),
	NO("redirect port 0", "@0\r\n"),
	NO("redirect port leading zero", "@07\r\n"),
	NO("redirect port 65536", "@65536\r\n"),
	NO("redirect port 6 digits", "@100000\r\n"),
	NO("redirect port sign", "@+1\r\n"),
	NO("redirect trailing space", "@1 \r\n"),
	NO("redirect two spaces", "@1  host=a\r\n"),
	NO("redirect unknown field", "@1 user=a\r\n"),
	NO("redirect token before host", "@1 token=" T16 " host=a\r\n"),
	NO("redirect host twice", "@1 host=a host=b\r\n"),
	NO("redirect token twice", "@1 token=" T16 " token=" T16 "\r\n"),
	NO("redirect empty host", "@1 host=\r\n"),
	NO("redirect host leading hyphen", "@1 host=-a\r\n"),
	NO("redirect host trailing hyphen", "@1 host=a-\r\n"),
	NO("redirect host empty label", "@1 host=a..b\r\n"),
	NO("redirect host trailing dot", "@1 host=a.\r\n"),
	NO("redirect host label 64", "@1 host=" L63 "4\r\n"),
	NO("redirect host 254", "@1 host=" N253 "x\r\n"),
	NO("redirect host underscore", "@1 host=a_b\r\n"),
	NO("redirect ipv4 octet 256", "@1 host=1.2.3.256\r\n"),
	NO("redirect ipv4 leading zero", "@1 host=010.1.1.1\r\n"),
	NO("redirect ipv4 short form", "@1 host=127.1\r\n"),
	NO("redirect ipv4 hex", "@1 host=0x7f000001\r\n"),
	NO("redirect ipv4 hex dotted", "@1 host=0x7f.0.0.1\r\n"),
	NO("redirect number alone", "@1 host=2130706433\r\n"),
	NO("redirect ipv6 unbracketed", "@1 host=::1\r\n"),
	NO("redirect ipv6 bad", "@1 host=[1::2::3]\r\n"),
	NO("redirect ipv6 zone", "@1 host=[fe80::1%25lo]\r\n"),
	NO("redirect ipv6 empty", "@1 host=[]\r\n"),
	NO("redirect ipv6 open", "@1 host=[::1\r\n"),
	NO("redirect token 15", "@1 token=abcdefghijklmno\r\n"),
	NO("redirect token 65", "@1 token=" T64 "x\r\n"),
	NO("redirect token bad char", "@1 token=abcdefghijklmno.\r\n"),
	NO("redirect tab at once", "@1\t"),
	NO("redirect CR inside", "@1\r2\r\n"),
	/* Neither */
	NO("listing line", "echo\r\n"),
	NO("HTTP", "HTTP/1.0 400 Bad Request\r\n"),
	NO("first octet alone", "H"),
	NO("empty line", "\r\n"),
	NOLEN("NUL first", "\0+\r\n"),
	/* The line limit: the LF must be within max. */
	LIM("max fits exactly", "+ab\r\n", 5, OK, 5, "ab"),
	LIM("max one short", "+ab\r\n", 4, BAD, 0, ""),
	LIM("max reached without LF", "+abc", 4, BAD, 0, ""),
	LIM("max CR in the last octet", "-ab\r\n", 4, BAD, 0, ""),
	LIM("max 1", "+\r\n", 1, BAD, 0, ""),
	LIM("max 0 on nothing", "", 0, BAD, 0, ""),
};

static int
check_fields(const struct row *t, const struct oneport_reply *r)
{
	if (r->kind != t->kind || r->consumed != t->consumed)
		return 0;
	if (t->kind == '@')
		return r->port == t->port && r->host_type == t->host_type &&
		    strcmp(r->host, t->host) == 0 &&
		    strcmp(r->token, t->token) == 0;
	return r->textlen == strlen(t->text) ? memcmp(r->text, t->text,
	    r->textlen) == 0 : 0;
}

/* Only the text's length can hold a NUL; strlen() rows have none. */
static int
same_reply(const struct oneport_reply *a, const struct oneport_reply *b)
{
	return a->kind == b->kind && a->textlen == b->textlen &&
	    memcmp(a->text, b->text, a->textlen) == 0 && a->port == b->port &&
	    a->host_type == b->host_type && strcmp(a->host, b->host) == 0 &&
	    strcmp(a->token, b->token) == 0;
}

static void
reply_rows(void)
{
	struct oneport_reply	 r, p, back;
	const struct row	*t;
	unsigned char		*copy;
	char			 line[REPLY_MAX + 8];
	size_t			 i, len, max, cut, n;
	int			 v, pv;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t = &rows[i];
		len = t->len ? t->len : strlen(t->in);
		max = t->max < 0 ? REPLY_MAX : (size_t)t->max;
		tests++;
		copy = malloc(len ? len : 1);
		memcpy(copy, t->in, len);
		v = oneport_reply_parse(copy, len, max, &r);
		if (v != t->want) {
			FAIL("%s: verdict %d, want %d (%s)", t->what, v,
			    t->want, r.why ? r.why : "");
			free(copy);
			continue;
		}
		if (v == BAD && r.why == NULL)
			FAIL("%s: BAD without a why", t->what);
		if (v == OK && !check_fields(t, &r))
			FAIL("%s: fields: kind %c consumed %zu text \"%s\" "
			    "port %u host %d \"%s\" token \"%s\"", t->what,
			    r.kind, r.consumed, r.text, r.port, r.host_type,
			    r.host, r.token);
		/* Prefixes: NEED_MORE, or the same verdict and fields. */
		for (cut = 0; cut < len; cut++) {
			pv = oneport_reply_parse(copy, cut, max, &p);
			if (pv == NEED)
				continue;
			if (pv != v || (v == OK && (p.consumed != r.consumed ||
			    !same_reply(&p, &r))) || (v == BAD &&
			    strcmp(p.why, r.why) != 0))
				FAIL("%s: prefix of %zu gives %d", t->what,
				    cut, pv);
		}
		/* Round trip. */
		if (v == OK) {
			n = oneport_reply_format(line, sizeof(line), &r);
			if (n == 0 || oneport_reply_parse((unsigned char *)line,
			    n, REPLY_MAX, &back) != OK || back.consumed != n ||
			    !same_reply(&back, &r))
				FAIL("%s: round trip", t->what);
		}
		free(copy);
	}
}

struct lrow {
	const char	*what;
	const char	*in;
	size_t		 max;
	int		 want;
	const char	*name;
	size_t		 consumed;
};

static const struct lrow lrows[] = {
	{ "name crlf", "echo\r\nhello\r\n", 0, OK, "echo", 6 },
	{ "name lf", "echo\n", 0, OK, "echo", 5 },
	{ "digit first", "9p\r\n", 0, OK, "9p", 4 },
	{ "RFC 1078 name", "sql*net\r\n", 0, OK, "sql*net", 9 },
	{ "incomplete", "ech", 0, NEED, "", 0 },
	{ "nothing", "", 0, NEED, "", 0 },
	{ "hyphen first", "-help disabled\r\n", 0, BAD, "", 0 },
	{ "plus first", "+\r\n", 0, BAD, "", 0 },
	{ "space inside", "ec ho\r\n", 0, BAD, "", 0 },
	{ "empty line", "\r\n", 0, BAD, "", 0 },
	{ "CR inside", "ec\rho\r\n", 0, BAD, "", 0 },
	{ "too long", "abcdef", 4, BAD, "", 0 },
	{ "fits", "ab\r\n", 4, OK, "ab", 4 },
};

static void
listing_rows(void)
{
	const struct lrow	*t;
	unsigned char		*copy;
	char			 name[REPLY_MAX];
	size_t			 i, len, used, cut, pu;
	int			 v, pv;

	for (i = 0; i < sizeof(lrows) / sizeof(lrows[0]); i++) {
		t = &lrows[i];
		len = strlen(t->in);
		tests++;
		copy = malloc(len ? len : 1);
		memcpy(copy, t->in, len);
		v = oneport_reply_listing(copy, len, t->max ? t->max :
		    REPLY_MAX, name, &used);
		if (v != t->want || (v == OK && (strcmp(name, t->name) != 0 ||
		    used != t->consumed)))
			FAIL("listing %s: verdict %d name \"%s\" used %zu",
			    t->what, v, name, used);
		for (cut = 0; cut < len; cut++) {
			pv = oneport_reply_listing(copy, cut, t->max ? t->max :
			    REPLY_MAX, name, &pu);
			if (pv != NEED && (pv != v || (v == OK && pu != used)))
				FAIL("listing %s: prefix of %zu gives %d",
				    t->what, cut, pv);
		}
		free(copy);
	}
}

struct trow {
	const char	*what;
	const char	*in;
	int		 want;
	const char	*token;
	size_t		 consumed;
};

static const struct trow trows[] = {
	{ "token 16 crlf", T16 "\r\n", OK, T16, 18 },
	{ "token 16 lf, then data", T16 "\nping\n", OK, T16, 17 },
	{ "token 64", T64 "\r\n", OK, T64, 66 },
	{ "token 32 hex", "0123456789abcdef0123456789abcdef\r\n", OK,
	    "0123456789abcdef0123456789abcdef", 34 },
	{ "token 15", "abcdefghijklmno\r\n", BAD, "", 0 },
	{ "token 65", T64 "x\r\n", BAD, "", 0 },
	{ "token 65, no line end yet", T64 "x", NEED, "", 0 },
	{ "token 66 without LF", T64 "xy", BAD, "", 0 },
	{ "token dot", "abcdefghijklmno.\r\n", BAD, "", 0 },
	{ "token space", "abcdefgh ijklmnop\r\n", BAD, "", 0 },
	{ "token empty", "\r\n", BAD, "", 0 },
	{ "token incomplete", "abcdef", NEED, "", 0 },
	{ "token CR inside", "abcdefgh\rijklmnop\r\n", BAD, "", 0 },
	{ "token data first", "ping\n", BAD, "", 0 },
};

static void
token_rows(void)
{
	const struct trow	*t;
	unsigned char		*copy;
	char			 tok[REPLY_TOKEN_MAX + 1];
	size_t			 i, len, used, cut, pu;
	int			 v, pv;

	for (i = 0; i < sizeof(trows) / sizeof(trows[0]); i++) {
		t = &trows[i];
		len = strlen(t->in);
		tests++;
		copy = malloc(len ? len : 1);
		memcpy(copy, t->in, len);
		v = oneport_reply_token(copy, len, tok, &used);
		if (v != t->want || (v == OK && (strcmp(tok, t->token) != 0 ||
		    used != t->consumed)))
			FAIL("token %s: verdict %d token \"%s\" used %zu",
			    t->what, v, tok, used);
		for (cut = 0; cut < len; cut++) {
			pv = oneport_reply_token(copy, cut, tok, &pu);
			if (pv != NEED && (pv != v || (v == OK && pu != used)))
				FAIL("token %s: prefix of %zu gives %d",
				    t->what, cut, pv);
		}
		free(copy);
	}
}

/* The longest line the limit allows, and one octet more. */
static void
limit_rows(void)
{
	struct oneport_reply	r;
	unsigned char		buf[REPLY_MAX + 1];

	tests++;
	memset(buf, 'x', sizeof(buf));
	buf[0] = '-';
	buf[REPLY_MAX - 1] = '\n';
	if (oneport_reply_parse(buf, REPLY_MAX, REPLY_MAX, &r) != OK ||
	    r.textlen != REPLY_MAX - 2)
		FAIL("limit: a %d-octet line", REPLY_MAX);
	tests++;
	buf[REPLY_MAX - 1] = 'x';
	buf[REPLY_MAX] = '\n';
	if (oneport_reply_parse(buf, REPLY_MAX + 1, REPLY_MAX, &r) != BAD)
		FAIL("limit: a %d-octet line", REPLY_MAX + 1);
	tests++;
	/* A larger max is capped: the text buffer cannot overflow. */
	if (oneport_reply_parse(buf, REPLY_MAX + 1, 100000, &r) != BAD)
		FAIL("limit: max above REPLY_MAX is not capped");
}

int
main(void)
{
	reply_rows();
	listing_rows();
	token_rows();
	limit_rows();
	printf("reply_test: %d tests, %d failed\n", tests, failed);
	return failed != 0;
}
