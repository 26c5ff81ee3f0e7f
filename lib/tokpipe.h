/* SPDX-License-Identifier: ISC */
/*
 * tokpipe.h: the lines oneportd writes on a shared program's token pipe
 * (ONEPORT_TOKEN_FD), split and parsed (tokpipe.c). Internal to
 * liboneport; pure: no I/O, no globals, no allocation, never reading past
 * len. Feeding the same bytes in any split gives the same tokens
 * (fuzz/tokpipe_fuzz.c).
 *
 *	line	= token [SP expires] [CR] LF
 *	expires	= 1*19DIGIT	; CLOCK_MONOTONIC milliseconds
 */
#ifndef ONEPORT_TOKPIPE_H
#define ONEPORT_TOKPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "reply.h"

#define TOKPIPE_LINE_MAX	(REPLY_TOKEN_MAX + 1 + 19 + 2)

struct tokpipe {
	unsigned char	part[TOKPIPE_LINE_MAX];	/* a line so far */
	size_t		plen;
	int		skip;		/* inside a line too long to be one */
};

/*
 * One line, its LF included in len: 0 with the token (REPLY_TOKEN_MAX + 1
 * bytes) and *expires (-1: the line gave none), or -1 if not a line of
 * the grammar.
 */
int	tokpipe_line(const unsigned char *, size_t, char *token,
	    int64_t *expires);

/* Feeds n bytes; got() is called for each good line, in order. */
void	tokpipe_feed(struct tokpipe *, const unsigned char *, size_t n,
	    void (*got)(void *, const char *, int64_t), void *arg);

#endif
