/* SPDX-License-Identifier: ISC */
/*
 * token.c: the program's side of a redirect with "token yes": read the
 * client's first line, exactly, and accept the token once if oneportd
 * gave it to this process (ONEPORT_TOKEN, or a line of the pipe at
 * ONEPORT_TOKEN_FD). The readers are lib/reply.c's token-line parser
 * and lib/tokpipe.c's pipe-line parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oneport.h"
#include "reply.h"
#include "tokpipe.h"
#include "internal.h"

#define EXPORT		__attribute__((visibility("default")))

#define TOKEN_WAIT_MS	5000		/* for a redirected client's line */
#define TOKEN_TTL_MS	30000		/* the longest a token is kept */
#define TOKENS_MAX	4096		/* held from ONEPORT_TOKEN_FD */
#define TOKEN_DRAIN_MAX	64		/* reads of the token pipe per check */

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the program's side of a redirect: the token line ---- */

/*
 * Tokens oneportd gave this process: ONEPORT_TOKEN, once; and each line
 * read from the pipe at ONEPORT_TOKEN_FD, once, until the time the line
 * says it expires (CLOCK_MONOTONIC, as oneportd's clock): a token's life
 * runs from when it was issued, not from when this process read it.
 * oneportd keeps at most TOKENS_MAX unexpired tokens per program, so one
 * that is waiting for its client is never pushed out by others.
 */
static struct {
	pthread_mutex_t	 lock;
	int		 loaded;
	int		 given;		/* ONEPORT_TOKEN or _FD was set */
	char		 env[REPLY_TOKEN_MAX + 1];	/* "" when used */
	int		 pipefd;			/* -1: none */
	struct {
		char	 tok[REPLY_TOKEN_MAX + 1];
		int64_t	 expires;
	}		 t[TOKENS_MAX];
	int		 n;
	struct tokpipe	 part;
} tokens = { .lock = PTHREAD_MUTEX_INITIALIZER, .pipefd = -1 };

/* Equal, in a time that does not depend on where they differ. */
static int
token_equal(const char *a, const char *b)
{
	char		x[REPLY_TOKEN_MAX] = { 0 }, y[REPLY_TOKEN_MAX] = { 0 };
	size_t		la, lb, i;
	unsigned char	d;

	la = strnlen(a, REPLY_TOKEN_MAX + 1);
	lb = strnlen(b, REPLY_TOKEN_MAX + 1);
	memcpy(x, a, la < sizeof(x) ? la : sizeof(x));
	memcpy(y, b, lb < sizeof(y) ? lb : sizeof(y));
	d = (unsigned char)(la != lb || la > REPLY_TOKEN_MAX);
	for (i = 0; i < sizeof(x); i++)
		d |= (unsigned char)(x[i] ^ y[i]);
	return d == 0;
}

static void
tokens_drop(int i)
{
	tokens.t[i] = tokens.t[--tokens.n];
}

/* Forgets what has expired. */
static void
tokens_expire(int64_t now)
{
	int	i;

	for (i = tokens.n - 1; i >= 0; i--)
		if (tokens.t[i].expires <= now)
			tokens_drop(i);
}

/* A line from the pipe; arg is the time it was read. */
static void
tokens_add(void *arg, const char *tok, int64_t expires)
{
	int64_t	now = *(const int64_t *)arg;
	int	i, old = 0;

	/* No later than TOKEN_TTL_MS from now, whatever the line says. */
	if (expires < 0 || expires > now + TOKEN_TTL_MS)
		expires = now + TOKEN_TTL_MS;
	if (expires <= now)
		return;
	if (tokens.n == TOKENS_MAX)
		tokens_expire(now);
	if (tokens.n == TOKENS_MAX) {
		/* More than oneportd gives: the one closest to its end. */
		for (i = 1; i < tokens.n; i++)
			if (tokens.t[i].expires < tokens.t[old].expires)
				old = i;
		tokens_drop(old);
	}
	memcpy(tokens.t[tokens.n].tok, tok, sizeof(tokens.t[0].tok));
	tokens.t[tokens.n++].expires = expires;
}

/* Takes the lines waiting in the pipe, without blocking. */
static void
tokens_drain(int64_t now)
{
	struct pollfd	pfd = { .fd = tokens.pipefd, .events = POLLIN };
	unsigned char	buf[4096];
	ssize_t		n;
	int		rounds;

	for (rounds = 0; rounds < TOKEN_DRAIN_MAX; rounds++) {
		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
			return;
		if ((n = read(tokens.pipefd, buf, sizeof(buf))) <= 0)
			return;
		tokpipe_feed(&tokens.part, buf, (size_t)n, tokens_add, &now);
	}
}

static void
tokens_load(void)
{
	const char	*s;
	char		*end;
	long		 fd;
	size_t		 used;

	if (tokens.loaded)
		return;
	tokens.loaded = 1;
	if ((s = getenv("ONEPORT_TOKEN")) != NULL && strlen(s) <=
	    REPLY_TOKEN_MAX) {
		char	line[REPLY_TOKEN_MAX + 2];

		snprintf(line, sizeof(line), "%s\n", s);
		if (oneport_reply_token((const unsigned char *)line,
		    strlen(line), tokens.env, &used) != REPLY_OK)
			tokens.env[0] = '\0';
		tokens.given = 1;
	}
	if ((s = getenv("ONEPORT_TOKEN_FD")) != NULL && *s != '\0') {
		errno = 0;
		fd = strtol(s, &end, 10);
		if (errno == 0 && *end == '\0' && fd >= 0 && fd <= INT32_MAX &&
		    fcntl((int)fd, F_GETFD) != -1) {
			tokens.pipefd = (int)fd;
			tokens.given = 1;
		}
	}
}

/* 1 if tok is one we were given and has not been used; it is now. */
static int
tokens_take(const char *tok)
{
	int64_t	now = now_ms();
	int	i, hit = -1, env = 0;

	if (tokens.pipefd != -1)
		tokens_drain(now);
	tokens_expire(now);
	/* Every entry is compared, matched or not. */
	if (tokens.env[0] != '\0' && token_equal(tokens.env, tok))
		env = 1;
	for (i = 0; i < tokens.n; i++)
		if (token_equal(tokens.t[i].tok, tok) && hit == -1)
			hit = i;
	if (env) {
		memset(tokens.env, 0, sizeof(tokens.env));
		return 1;
	}
	if (hit == -1)
		return 0;
	tokens_drop(hit);
	return 1;
}

/*
 * The client's first line, exactly: peeks and consumes what is line, as
 * read_reply does; on something not a socket, a byte at a time.
 */
static int
token_read(int fd, int64_t deadline, char *tok)
{
	struct pollfd			pfd = { .fd = fd, .events = POLLIN };
	unsigned char			buf[REPLY_TOKEN_MAX + 2];
	size_t				have = 0, used;
	ssize_t				n;
	int				wait, peek = 1, p;
	enum oneport_reply_result	v;

	for (;;) {
		if ((wait = (int)(deadline - now_ms())) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((p = poll(&pfd, 1, wait)) == -1 && errno != EINTR)
			return -1;
		if (p <= 0)
			continue;
		n = peek ? recv(fd, buf + have, sizeof(buf) - have,
		    MSG_PEEK | MSG_DONTWAIT) : read(fd, buf + have, 1);
		if (n == -1 && peek && errno == ENOTSOCK) {
			peek = 0;
			continue;
		}
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		v = oneport_reply_token(buf, have + (size_t)n, tok, &used);
		if (v == REPLY_BAD) {
			errno = EPROTO;
			return -1;
		}
		if (peek && consume(fd, buf + have, v == REPLY_OK ?
		    used - have : (size_t)n) == -1)
			return -1;
		have += v == REPLY_OK ? used - have : (size_t)n;
		if (v == REPLY_OK)
			return 0;
	}
}

EXPORT int
oneport_token_check(int fd, const char *token, int timeout_ms)
{
	char	got[REPLY_TOKEN_MAX + 1];
	int	ok;

	if (timeout_ms <= 0)
		timeout_ms = TOKEN_WAIT_MS;
	if (token == NULL) {
		pthread_mutex_lock(&tokens.lock);
		tokens_load();
		ok = tokens.given;
		pthread_mutex_unlock(&tokens.lock);
		if (!ok) {
			errno = ENOENT;
			return -1;
		}
	} else if (strlen(token) < REPLY_TOKEN_MIN ||
	    strlen(token) > REPLY_TOKEN_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (token_read(fd, now_ms() + timeout_ms, got) == -1)
		return -1;
	if (token != NULL)
		ok = token_equal(token, got);
	else {
		pthread_mutex_lock(&tokens.lock);
		ok = tokens_take(got);
		pthread_mutex_unlock(&tokens.lock);
	}
	if (!ok) {
		errno = EACCES;
		return -1;
	}
	return 0;
}
