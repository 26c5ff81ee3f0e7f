/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the token pipe's reader (lib/tokpipe.h): the
 * lines oneportd writes to a shared program's ONEPORT_TOKEN_FD. The input
 * is fed over exact-size heap copies whole, a byte at a time, and cut at
 * a place the input picks: each gives the same tokens with the same
 * expiry, in order; each token keeps to the grammar; each good line
 * parses on its own to the same token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/tokpipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define GOT_MAX	4096

struct got {
	char	tok[GOT_MAX][REPLY_TOKEN_MAX + 1];
	int64_t	exp[GOT_MAX];
	size_t	n;
};

static struct got	runs[3];

static void
got(void *arg, const char *tok, int64_t exp)
{
	struct got	*g = arg;
	size_t		 i, n = strlen(tok);

	if (n < REPLY_TOKEN_MIN || n > REPLY_TOKEN_MAX || exp < -1)
		abort();
	for (i = 0; i < n; i++)
		if (!((tok[i] >= 'a' && tok[i] <= 'z') || (tok[i] >= 'A' &&
		    tok[i] <= 'Z') || (tok[i] >= '0' && tok[i] <= '9') ||
		    tok[i] == '-' || tok[i] == '_'))
			abort();
	if (g->n == GOT_MAX)
		abort();	/* a line is at least 17 bytes: cannot happen */
	memcpy(g->tok[g->n], tok, n + 1);
	g->exp[g->n++] = exp;
}

static void
feed(struct got *g, const uint8_t *b, size_t size, size_t step)
{
	struct tokpipe	 p;
	uint8_t		*copy;
	size_t		 off, n;

	memset(&p, 0, sizeof(p));
	g->n = 0;
	for (off = 0; off < size; off += n) {
		n = size - off < step ? size - off : step;
		if ((copy = malloc(n)) == NULL)
			abort();
		memcpy(copy, b + off, n);
		tokpipe_feed(&p, copy, n, got, g);
		free(copy);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 tok[REPLY_TOKEN_MAX + 1];
	int64_t		 exp;
	const uint8_t	*nl;
	uint8_t		*line;
	size_t		 i, k = 0, len;

	if (size > GOT_MAX * 17)
		return 0;
	feed(&runs[0], data, size, size > 0 ? size : 1);
	feed(&runs[1], data, size, 1);
	feed(&runs[2], data, size, size > 0 ? 1 + data[0] % 97 : 1);
	for (i = 1; i < 3; i++) {
		if (runs[i].n != runs[0].n)
			abort();
		for (k = 0; k < runs[0].n; k++)
			if (strcmp(runs[i].tok[k], runs[0].tok[k]) != 0 ||
			    runs[i].exp[k] != runs[0].exp[k])
				abort();
	}
	/* Line by line: each short enough and good on its own is a token. */
	k = 0;
	while (size > 0 && (nl = memchr(data, '\n', size)) != NULL) {
		len = (size_t)(nl - data) + 1;
		if ((line = malloc(len)) == NULL)
			abort();
		memcpy(line, data, len);
		if (len <= TOKPIPE_LINE_MAX &&
		    tokpipe_line(line, len, tok, &exp) == 0 &&
		    (k >= runs[0].n || strcmp(runs[0].tok[k++], tok) != 0))
			abort();
		free(line);
		data += len;
		size -= len;
	}
	if (k != runs[0].n)
		abort();
	return 0;
}
