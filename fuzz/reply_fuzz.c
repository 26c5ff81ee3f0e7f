/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the client's line parsers (lib/reply.h): the reply
 * line, a HELP listing line and the token line, each run over an
 * exact-size heap copy (ASan catches any read past len). A verdict never
 * changes when the input grows, as when bytes trickle in; an accepted
 * line ends at its first LF, within the limit, and its fields keep to the
 * grammar; an accepted reply formats back to a line that parses to the
 * same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same(const struct oneport_reply *a, const struct oneport_reply *b)
{
	return a->kind == b->kind && a->consumed == b->consumed &&
	    a->textlen == b->textlen &&
	    memcmp(a->text, b->text, a->textlen) == 0 && a->port == b->port &&
	    a->host_type == b->host_type && strcmp(a->host, b->host) == 0 &&
	    strcmp(a->token, b->token) == 0;
}

static int
token_ok(const char *t)
{
	size_t	i, n = strlen(t);

	if (n < REPLY_TOKEN_MIN || n > REPLY_TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' &&
		    t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9') ||
		    t[i] == '-' || t[i] == '_'))
			return 0;
	return 1;
}

/* An accepted line: its LF is the first one, and within the limit. */
static void
line_ok(const uint8_t *b, size_t size, size_t lim, size_t consumed)
{
	if (consumed == 0 || consumed > size || consumed > lim ||
	    b[consumed - 1] != '\n' || memchr(b, '\n', consumed - 1) != NULL)
		abort();
}

static void
reply(const uint8_t *b, size_t size, size_t max)
{
	struct oneport_reply	 w, p, back;
	enum oneport_reply_result v, pv;
	size_t			 lim = max < REPLY_MAX ? max : REPLY_MAX;
	size_t			 cut, i, n;
	char			 line[REPLY_MAX + 8];

	v = oneport_reply_parse(b, size, max, &w);
	switch (v) {
	case REPLY_OK:
		line_ok(b, size, lim, w.consumed);
		if (w.kind != '+' && w.kind != '-' && w.kind != '@')
			abort();
		if (w.kind == '-')
			for (i = 0; i < w.textlen; i++)
				if (w.text[i] < 0x20 || w.text[i] > 0x7e)
					abort();
		if (w.kind == '@' && (w.port < 1 || w.port > 65535 ||
		    (w.host_type == REPLY_HOST_NONE) != (w.host[0] == '\0') ||
		    (w.token[0] != '\0' && !token_ok(w.token))))
			abort();
		if (w.kind != '@' && w.text[w.textlen] != '\0')
			abort();
		break;
	case REPLY_BAD:
		if (w.why == NULL)
			abort();
		break;
	case REPLY_NEED_MORE:
		/* Every byte so far is line: the client may consume it. */
		if (size >= lim || memchr(b, '\n', size) != NULL)
			abort();
		break;
	default:
		abort();
	}
	/* A verdict, once reached on a prefix, never changes. */
	for (cut = 0; cut <= size; cut++) {
		pv = oneport_reply_parse(b, cut, max, &p);
		if (pv == REPLY_NEED_MORE)
			continue;
		if (pv != v || (v == REPLY_OK && !same(&p, &w)) ||
		    (v == REPLY_BAD && strcmp(p.why, w.why) != 0))
			abort();
		break;
	}
	/* Round trip: what a server would send for w says w again. */
	if (v == REPLY_OK &&
	    (n = oneport_reply_format(line, sizeof(line), &w)) != 0) {
		if (oneport_reply_parse((const uint8_t *)line, n, REPLY_MAX,
		    &back) != REPLY_OK || back.consumed != n)
			abort();
		back.consumed = w.consumed;
		if (!same(&back, &w))
			abort();
	}
}

static void
listing(const uint8_t *b, size_t size, size_t max)
{
	char			  name[REPLY_MAX], pname[REPLY_MAX];
	size_t			  lim = max < REPLY_MAX ? max : REPLY_MAX;
	size_t			  used, pused, cut;
	enum oneport_reply_result v, pv;

	v = oneport_reply_listing(b, size, max, name, &used);
	if (v == REPLY_OK) {
		line_ok(b, size, lim, used);
		if (strlen(name) == 0 || (strlen(name) != used - 1 &&
		    strlen(name) != used - 2) || strchr(name, ' ') != NULL)
			abort();
	}
	if (v == REPLY_NEED_MORE && (size >= lim ||
	    memchr(b, '\n', size) != NULL))
		abort();
	for (cut = 0; cut <= size; cut++) {
		pv = oneport_reply_listing(b, cut, max, pname, &pused);
		if (pv == REPLY_NEED_MORE)
			continue;
		if (pv != v || (v == REPLY_OK && (pused != used ||
		    strcmp(pname, name) != 0)))
			abort();
		break;
	}
}

static void
token(const uint8_t *b, size_t size)
{
	char			  tok[REPLY_TOKEN_MAX + 1];
	char			  ptok[REPLY_TOKEN_MAX + 1];
	size_t			  used, pused, cut;
	enum oneport_reply_result v, pv;

	v = oneport_reply_token(b, size, tok, &used);
	if (v == REPLY_OK) {
		line_ok(b, size, REPLY_TOKEN_MAX + 2, used);
		if (!token_ok(tok) || memcmp(b, tok, strlen(tok)) != 0)
			abort();
	}
	for (cut = 0; cut <= size; cut++) {
		pv = oneport_reply_token(b, cut, ptok, &pused);
		if (pv == REPLY_NEED_MORE)
			continue;
		if (pv != v || (v == REPLY_OK && (pused != used ||
		    strcmp(ptok, tok) != 0)))
			abort();
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	 max = REPLY_MAX;
	uint8_t	*copy;

	if (size > 0) {
		/* First byte picks the limit, past REPLY_MAX at times. */
		max = (size_t)data[0] * 3;
		data++;
		size--;
	}
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	reply(copy, size, max);
	listing(copy, size, max);
	token(copy, size);
	free(copy);
	return 0;
}
