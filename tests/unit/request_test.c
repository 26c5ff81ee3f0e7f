/* SPDX-License-Identifier: ISC */
/*
 * request_test: the request-line parser against a table of inputs, each fed
 * whole and then in every two-piece split, which must not change a verdict.
 */
#include <stdio.h>
#include <string.h>

#include "frontend.h"

struct row {
	const char		*in;
	size_t			 len;		/* 0: strlen(in) */
	size_t			 max_line;
	enum request_result	 want;
	const char		*name;		/* on REQ_OK */
	size_t			 consumed;	/* on REQ_OK */
	const char		*reason;	/* on REQ_REJECT */
};

#define OK(s, n, c)	{ s, 0, 64, REQ_OK, n, c, NULL }
#define MORE(s)		{ s, 0, 64, REQ_NEED_MORE, NULL, 0, NULL }
#define BAD(s)		{ s, 0, 64, REQ_REJECT, NULL, 0, REASON_BAD_NAME }
#define LONG(s, m)	{ s, 0, m, REQ_REJECT, NULL, 0, REASON_TOO_LONG }

static const struct row rows[] = {
	OK("echo\r\n", "echo", 6),
	OK("echo\n", "echo", 5),
	OK("ECHO\r\n", "echo", 6),
	OK("EcHo-2\r\n", "echo-2", 8),
	OK("help\r\n", "help", 6),
	OK("HELP\n", "help", 5),
	OK("a\r\n", "a", 3),
	OK("?echo\r\n", "echo", 7),		/* a query */
	OK("?ECHO\n", "echo", 6),
	BAD("??echo\r\n"),
	BAD("?help\r\n"),
	BAD("?\r\n"),
	BAD("ec?ho\r\n"),
	MORE("?"),
	OK("x1\r\nrest of stream", "x1", 4),	/* stops at the line */
	OK("abcdefghijklmno\r\n", "abcdefghijklmno", 17),	/* 15 chars */
	OK("9a\r\n", "9a", 4),
	MORE(""),
	MORE("ech"),
	MORE("echo\r"),
	MORE("abcdefghijklmnopqrstuvwxyz"),	/* length judged at LF */
	BAD("\r\n"),
	BAD("\n"),
	BAD("abcdefghijklmnop\r\n"),		/* 16 chars */
	BAD("-echo\r\n"),
	BAD("echo-\r\n"),
	BAD("ec--ho\r\n"),
	BAD("1234\r\n"),			/* no letter */
	BAD("ec ho\r\n"),
	BAD("echo \r\n"),
	BAD("echo\r\r\n"),
	BAD("ec\rho\r\n"),
	BAD("e_cho\r\n"),
	BAD("GET / HTTP/1.1\r\n"),
	BAD("SSH-2.0-OpenSSH_9.2\r\n"),
	BAD("\x16\x03\x01\x02\x00"),		/* TLS: at once, no LF needed */
	{ "ec\0ho\r\n", 7, 64, REQ_REJECT, NULL, 0, REASON_BAD_NAME },
	BAD("\xc3\xa9" "cho\r\n"),
	LONG("aaaaaaaa", 8),
	LONG("echo\r\n", 5),			/* LF at byte 6 > max 5 */
	OK("echo\r\n", "echo", 6),
	{ "echo\r\n", 0, 6, REQ_OK, "echo", 6, NULL },	/* exactly max */
	/* A CR in the last allowed byte: too long, whatever follows. */
	{ "ab\r\r", 0, 3, REQ_REJECT, NULL, 0, REASON_TOO_LONG },
	{ "ab\r", 0, 3, REQ_REJECT, NULL, 0, REASON_TOO_LONG },
};

static int
check(const struct row *r, const uint8_t *buf, size_t len, size_t split)
{
	struct request		req;
	enum request_result	got;

	/* The first piece alone reaches no verdict, or the same one. */
	if (split > 0 && split < len) {
		struct request	whole;

		got = request_parse(buf, split, r->max_line, &req);
		if (got != REQ_NEED_MORE) {
			if (got != request_parse(buf, len, r->max_line,
			    &whole) || (got == REQ_OK && (req.consumed !=
			    whole.consumed || strcmp(req.name, whole.name))) ||
			    (got == REQ_REJECT &&
			    strcmp(req.reason, whole.reason))) {
				printf("FAIL %.*s: prefix %zu gave %d\n",
				    (int)len, (const char *)buf, split, got);
				return 1;
			}
		}
	}
	got = request_parse(buf, len, r->max_line, &req);
	if (got != r->want) {
		printf("FAIL %.*s: got %d want %d\n", (int)len,
		    (const char *)buf, got, r->want);
		return 1;
	}
	if (got == REQ_OK && (strcmp(req.name, r->name) != 0 ||
	    req.consumed != r->consumed ||
	    req.query != (((const char *)buf)[0] == '?'))) {
		printf("FAIL %.*s: name %s consumed %zu\n", (int)len,
		    (const char *)buf, req.name, req.consumed);
		return 1;
	}
	if (got == REQ_REJECT && strcmp(req.reason, r->reason) != 0) {
		printf("FAIL %.*s: reason %s\n", (int)len, (const char *)buf,
		    req.reason);
		return 1;
	}
	return 0;
}

int
main(void)
{
	size_t	i, len, split;
	int	failed = 0, n = 0;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		len = rows[i].len ? rows[i].len : strlen(rows[i].in);
		for (split = 0; split <= len; split++, n++)
			failed += check(&rows[i], (const uint8_t *)rows[i].in,
			    len, split);
	}
	printf("request_test: %zu rows, %d checks, %d failed\n", i, n, failed);
	return failed != 0;
}
