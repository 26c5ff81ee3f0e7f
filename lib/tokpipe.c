/* SPDX-License-Identifier: ISC */
/*
 * tokpipe.c: the token pipe's lines (tokpipe.h). A line that breaks the
 * grammar, or is too long to be one, is skipped up to its LF, so one
 * bad line never costs the tokens after it.
 */
#include <string.h>

#include "tokpipe.h"

int
tokpipe_line(const unsigned char *b, size_t len, char *token,
    int64_t *expires)
{
	size_t	used, i, n = len;
	int64_t	v = 0;

	token[0] = '\0';
	*expires = -1;
	if (len == 0 || b[len - 1] != '\n')
		return -1;
	len--;
	if (len > 0 && b[len - 1] == '\r')
		len--;
	for (used = 0; used < len && b[used] != ' '; used++)
		;
	if (used == len) {
		/* A bare token line, as the client sends it. */
		if (oneport_reply_token(b, n, token, &used) != REPLY_OK ||
		    used != n) {
			token[0] = '\0';
			return -1;
		}
		return 0;
	}
	if (used < REPLY_TOKEN_MIN || used > REPLY_TOKEN_MAX ||
	    len - used - 1 < 1 || len - used - 1 > 19)
		return -1;
	for (i = used + 1; i < len; i++) {
		if (b[i] < '0' || b[i] > '9')
			return -1;
		if (v > (INT64_MAX - (b[i] - '0')) / 10)
			return -1;
		v = v * 10 + (b[i] - '0');
	}
	for (i = 0; i < used; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' &&
		    b[i] <= 'Z') || (b[i] >= '0' && b[i] <= '9') ||
		    b[i] == '-' || b[i] == '_'))
			return -1;
	memcpy(token, b, used);
	token[used] = '\0';
	*expires = v;
	return 0;
}

void
tokpipe_feed(struct tokpipe *p, const unsigned char *b, size_t n,
    void (*got)(void *, const char *, int64_t), void *arg)
{
	char	tok[REPLY_TOKEN_MAX + 1];
	int64_t	exp;
	size_t	i;

	for (i = 0; i < n; i++) {
		if (b[i] != '\n') {
			if (p->plen < sizeof(p->part) - 1)
				p->part[p->plen++] = b[i];
			else
				p->skip = 1;
			continue;
		}
		p->part[p->plen++] = '\n';
		if (!p->skip && tokpipe_line(p->part, p->plen, tok, &exp) == 0)
			got(arg, tok, exp);
		p->plen = 0;
		p->skip = 0;
	}
}
