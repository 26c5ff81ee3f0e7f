/*
 * token.c: the program's side of a redirect with "token yes": read the
 * client's first line, exactly, and accept the token once if oneportd
 * gave it to this process (ONEPORT_TOKEN, or a line of the pipe at
 * ONEPORT_TOKEN_FD). The reader is lib/reply.c's token-line parser.
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
#include "internal.h"

#define EXPORT		__attribute__((visibility("default")))

#define TOKEN_WAIT_MS	5000		/* for a redirected client's line */
#define TOKEN_TTL_MS	30000		/* a token not used by then is gone */
#define TOKENS_MAX	64		/* held from ONEPORT_TOKEN_FD */
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
 * read from the pipe at ONEPORT_TOKEN_FD, once, for TOKEN_TTL_MS. The
 * pipe is read only here, so a token's age counts from the check that
 * first saw it.
 */
static struct {
	pthread_mutex_t	 lock;
	int		 loaded;
	int		 given;		/* ONEPORT_TOKEN or _FD was set */
	char		 env[REPLY_TOKEN_MAX + 1];	/* "" when used */
	int		 pipefd;			/* -1: none */
	struct {
		char	 tok[REPLY_TOKEN_MAX + 1];
		int64_t	 since;
	}		 t[TOKENS_MAX];
	int		 n;
	unsigned char	 part[REPLY_TOKEN_MAX + 2];	/* a line so far */
	size_t		 plen;
	int		 skip;		/* inside a line too long to be one */
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
tokens_add(const unsigned char *line, size_t len, int64_t now)
{
	char	tok[REPLY_TOKEN_MAX + 1];
	size_t	used;

	if (oneport_reply_token(line, len, tok, &used) != REPLY_OK)
		return;
	if (tokens.n == TOKENS_MAX) {
		memmove(&tokens.t[0], &tokens.t[1],
		    (TOKENS_MAX - 1) * sizeof(tokens.t[0]));
		tokens.n--;
	}
	memcpy(tokens.t[tokens.n].tok, tok, sizeof(tok));
	tokens.t[tokens.n++].since = now;
}

/* Takes the lines waiting in the pipe, without blocking. */
static void
tokens_drain(int64_t now)
{
	struct pollfd	pfd = { .fd = tokens.pipefd, .events = POLLIN };
	unsigned char	buf[1024];
	ssize_t		n;
	size_t		i;
	int		rounds;

	for (rounds = 0; rounds < TOKEN_DRAIN_MAX; rounds++) {
		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
			return;
		if ((n = read(tokens.pipefd, buf, sizeof(buf))) <= 0)
			return;
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] == '\n') {
				if (!tokens.skip && tokens.plen <
				    sizeof(tokens.part)) {
					tokens.part[tokens.plen++] = '\n';
					tokens_add(tokens.part, tokens.plen,
					    now);
				}
				tokens.plen = 0;
				tokens.skip = 0;
			} else if (tokens.plen + 1 < sizeof(tokens.part))
				tokens.part[tokens.plen++] = buf[i];
			else
				tokens.skip = 1;
		}
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
	while (tokens.n > 0 && now - tokens.t[0].since > TOKEN_TTL_MS) {
		memmove(&tokens.t[0], &tokens.t[1],
		    (size_t)(tokens.n - 1) * sizeof(tokens.t[0]));
		tokens.n--;
	}
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
	memmove(&tokens.t[hit], &tokens.t[hit + 1],
	    (size_t)(tokens.n - hit - 1) * sizeof(tokens.t[0]));
	tokens.n--;
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
