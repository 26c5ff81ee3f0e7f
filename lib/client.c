/* SPDX-License-Identifier: ISC */
/*
 * client.c: the client side of liboneport (oneport.h): reach a function by
 * name through a rendezvous server, follow a redirect with its token, ask
 * a query or for the HELP listing (the program's side of a redirect, the
 * token check, is token.c). Every call runs under one absolute deadline,
 * and no byte after a reply line is ever read: it belongs to the function.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "oneport.h"
#include "reply.h"
#include "internal.h"
#include "name.h"

/* The library is built with -fvisibility=hidden; only these are public. */
#define EXPORT		__attribute__((visibility("default")))


_Static_assert(ONEPORT_REPLY_MAX == REPLY_MAX, "reply sizes differ");
_Static_assert(ONEPORT_HOST_MAX == REPLY_HOST_MAX, "host sizes differ");

/* One call: its deadline and options, and where its outcome goes. */
struct call {
	int64_t			 deadline;	/* now_ms() clock */
	int			 timeout_ms;
	int			 attempt_ms;
	int			 family;
	int			 flags;
	struct oneport_result	*res;
};

static int	fail(struct call *, int, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
left_ms(const struct call *c)
{
	int64_t	left = c->deadline - now_ms();

	return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/*
 * Records the outcome of a failed call and sets errno from the error
 * class (the system's own errno where there is one). Returns -1.
 */
static int
fail(struct call *c, int error, int sys, const char *fmt, ...)
{
	static const int	 errnos[] = {
		[ONEPORT_E_REFUSED] = ECONNREFUSED,
		[ONEPORT_E_CONNECT] = ECONNREFUSED,
		[ONEPORT_E_TIMEOUT] = ETIMEDOUT,
		[ONEPORT_E_PROTOCOL] = EPROTO,
		[ONEPORT_E_RESOLVE] = EHOSTUNREACH,
		[ONEPORT_E_REDIRECT] = EPERM,
		[ONEPORT_E_SYSTEM] = EINVAL,
	};
	va_list			 ap;

	c->res->error = error;
	c->res->sys_errno = sys;
	va_start(ap, fmt);
	vsnprintf(c->res->msg, sizeof(c->res->msg), fmt, ap);
	va_end(ap);
	errno = sys != 0 && error != ONEPORT_E_REFUSED ? sys : errnos[error];
	return -1;
}

/* The numeric host of sa, IPv6 without brackets. */
static const char *
addr_host(const struct sockaddr *sa, char *buf, size_t len)
{
	const void	*a;

	if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else
		a = NULL;
	if (a == NULL || inet_ntop(sa->sa_family, a, buf, (socklen_t)len) ==
	    NULL)
		snprintf(buf, len, "?");
	return buf;
}

static int
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		    ->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
		    ->sin_port);
	return 0;
}

static void
addr_set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)ss)->sin6_port =
		    htons((uint16_t)port);
	else if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port =
		    htons((uint16_t)port);
}

/* "192.0.2.1 port 1" or "2001:db8::1 port 1", for messages. */
static const char *
where(const struct sockaddr *sa, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s port %d", addr_host(sa, host, sizeof(host)),
	    addr_port(sa));
	return buf;
}

/* Server bytes for a message: printable ASCII, the rest as \xHH. */
static const char *
excerpt(const unsigned char *s, size_t n, char *buf, size_t len)
{
	size_t	i, o = 0;

	for (i = 0; i < n && o + 5 < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[o++] = (char)s[i];
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x",
			    s[i]);
	}
	buf[o] = '\0';
	return buf;
}

static int
set_blocking(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* RFC 6335, as the server checks it (name.c): no line can be smuggled in. */
static int
client_name_valid(const char *s)
{
	return s != NULL && name_valid(s, strlen(s), 0);
}

static int
call_init(struct call *c, const struct oneport_opts *o,
    struct oneport_result *res, const char *host)
{
	memset(res, 0, sizeof(*res));
	memset(c, 0, sizeof(*c));
	c->res = res;
	c->timeout_ms = o != NULL && o->timeout_ms > 0 ? o->timeout_ms :
	    ONEPORT_TIMEOUT_MS;
	c->attempt_ms = o != NULL && o->attempt_ms > 0 ? o->attempt_ms :
	    ONEPORT_ATTEMPT_MS;
	c->family = o != NULL ? o->family : AF_UNSPEC;
	c->flags = o != NULL ? o->flags : 0;
	c->deadline = now_ms() + c->timeout_ms;
	if (c->family != AF_UNSPEC && c->family != AF_INET &&
	    c->family != AF_INET6)
		return fail(c, ONEPORT_E_SYSTEM, EAFNOSUPPORT,
		    "address family %d is neither IPv4 nor IPv6", c->family);
	if (host == NULL || *host == '\0')
		return fail(c, ONEPORT_E_SYSTEM, EINVAL, "no host given");
	return 0;
}

/* ---- connecting ---- */

/*
 * One connect to sa within ms milliseconds (and the call's deadline).
 * Returns a non-blocking, close-on-exec socket, or -1 with errno
 * (ETIMEDOUT when ms passed).
 */
static int
dial_addr(struct call *c, const struct sockaddr *sa, socklen_t salen, int ms)
{
	struct pollfd	pfd;
	int64_t		until = now_ms() + ms;
	int		fd, err = 0, n, wait;
	socklen_t	elen = sizeof(err);

	if (until > c->deadline)
		until = c->deadline;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		err = errno;
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		wait = (int)(until - now_ms());
		if (wait <= 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		if ((n = poll(&pfd, 1, wait)) == -1 && errno != EINTR) {
			err = errno;
			goto fail;
		}
		if (n > 0)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
		err = errno;
	if (err == 0)
		return fd;
fail:
	close(fd);
	errno = err;
	return -1;
}

/*
 * Resolves host and tries each address in the resolver's order, the last
 * one with all the time left, the others with attempt_ms at most. On
 * success res->peer is the address connected to.
 */
static int
dial(struct call *c, const char *host, const char *port, int numeric)
{
	struct addrinfo	 hints, *ai0 = NULL, *ai;
	char		 detail[384], addr[INET6_ADDRSTRLEN], hbuf[256];
	size_t		 dl = 0, hl;
	int		 fd = -1, e, ms, left, tried = 0, last = 0;

	/* "[::1]" is how people write an IPv6 literal; the resolver not. */
	hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' &&
	    hl - 2 < sizeof(hbuf)) {
		memcpy(hbuf, host + 1, hl - 2);
		hbuf[hl - 2] = '\0';
		host = hbuf;
		numeric = 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = c->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = numeric ? AI_NUMERICHOST : 0;
	if ((e = getaddrinfo(host, port, &hints, &ai0)) != 0) {
		if (e == EAI_SYSTEM)
			return fail(c, ONEPORT_E_RESOLVE, errno,
			    "cannot resolve %s: %s", host, strerror(errno));
		if (e == EAI_SERVICE)
			return fail(c, ONEPORT_E_SYSTEM, EINVAL,
			    "unknown port %s", port);
		return fail(c, ONEPORT_E_RESOLVE, 0, "cannot resolve %s: %s",
		    host, gai_strerror(e));
	}
	detail[0] = '\0';
	for (ai = ai0; ai != NULL; ai = ai->ai_next) {
		if ((left = left_ms(c)) == 0)
			break;
		ms = ai->ai_next != NULL && left > c->attempt_ms ?
		    c->attempt_ms : left;
		tried++;
		if ((fd = dial_addr(c, ai->ai_addr, ai->ai_addrlen, ms)) !=
		    -1) {
			memcpy(&c->res->peer, ai->ai_addr, ai->ai_addrlen);
			c->res->peerlen = ai->ai_addrlen;
			break;
		}
		last = errno;
		if (dl < sizeof(detail))
			dl += (size_t)snprintf(detail + dl, sizeof(detail) - dl,
			    "%s%s: %s", dl > 0 ? "; " : "",
			    addr_host(ai->ai_addr, addr, sizeof(addr)),
			    strerror(last));
	}
	freeaddrinfo(ai0);
	if (fd != -1)
		return fd;
	if (left_ms(c) == 0)
		return fail(c, ONEPORT_E_TIMEOUT, ETIMEDOUT,
		    "timed out after %d ms connecting to %s port %s%s%s%s",
		    c->timeout_ms, host, port, tried ? " (" : "", detail,
		    tried ? ")" : "");
	return fail(c, ONEPORT_E_CONNECT, last,
	    "cannot connect to %s port %s (%s)", host, port, detail);
}

/* All of buf, under the deadline. A peer that has closed: EPIPE. */
static int
send_all(struct call *c, int fd, const char *buf, size_t len)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	ssize_t		n;
	int		wait;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -1;
		if ((wait = left_ms(c)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, wait) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Readable within the deadline: 1; passed: 0; failed: -1. */
static int
wait_readable(struct call *c, int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	int		n, wait;

	for (;;) {
		if ((wait = left_ms(c)) == 0)
			return 0;
		if ((n = poll(&pfd, 1, wait)) > 0)
			return 1;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

/* Takes exactly n bytes that a peek has shown are there. */
/* Take n bytes already peeked at; shared with token.c (internal.h). */
int
consume(int fd, unsigned char *buf, size_t n)
{
	ssize_t	k;

	while (n > 0) {
		k = recv(fd, buf, n, MSG_DONTWAIT);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * Reads the reply line and not one byte more: peeks, and consumes what
 * the parser has judged to be line. NEED_MORE means no LF yet, so every
 * byte peeked is line and can be taken, and the next poll waits for
 * new bytes instead of spinning on the old ones.
 */
static int
read_reply(struct call *c, int fd, struct oneport_reply *r)
{
	unsigned char			buf[REPLY_MAX];
	char				srv[INET6_ADDRSTRLEN + 16], ex[160];
	size_t				have = 0;
	ssize_t				n;
	int				w;
	enum oneport_reply_result	v;

	where((struct sockaddr *)&c->res->peer, srv, sizeof(srv));
	for (;;) {
		if ((w = wait_readable(c, fd)) == 0)
			return fail(c, ONEPORT_E_TIMEOUT, ETIMEDOUT,
			    "timed out after %d ms waiting for the reply of "
			    "%s", c->timeout_ms, srv);
		if (w == -1)
			return fail(c, ONEPORT_E_SYSTEM, errno, "poll: %s",
			    strerror(errno));
		n = recv(fd, buf + have, sizeof(buf) - have, MSG_PEEK);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return fail(c, ONEPORT_E_CONNECT, errno,
			    "reading the reply of %s: %s", srv,
			    strerror(errno));
		if (n == 0 && have == 0)
			return fail(c, ONEPORT_E_PROTOCOL, 0,
			    "%s closed the connection without a reply", srv);
		if (n == 0)
			return fail(c, ONEPORT_E_PROTOCOL, 0,
			    "%s closed the connection inside its reply: "
			    "\"%s\"", srv, excerpt(buf, have, ex, sizeof(ex)));
		v = oneport_reply_parse(buf, have + (size_t)n, REPLY_MAX, r);
		if (v == REPLY_BAD)
			return fail(c, ONEPORT_E_PROTOCOL, 0,
			    "bad reply from %s: %s: \"%s\"", srv, r->why,
			    excerpt(buf, have + (size_t)n < 64 ?
			    have + (size_t)n : 64, ex, sizeof(ex)));
		if (v == REPLY_OK)
			n = (ssize_t)(r->consumed - have);
		if (consume(fd, buf + have, (size_t)n) == -1)
			return fail(c, ONEPORT_E_CONNECT, errno,
			    "reading the reply of %s: %s", srv,
			    errno ? strerror(errno) : "short read");
		have += (size_t)n;
		if (v == REPLY_OK)
			return 0;
	}
}

/* Connects to the rendezvous port and sends line; the reply is next. */
static int
rendezvous(struct call *c, const char *host, const char *port,
    const char *line)
{
	char	srv[INET6_ADDRSTRLEN + 16];
	int	fd;

	if ((fd = dial(c, host, port != NULL ? port : ONEPORT_PORT, 0)) == -1)
		return -1;
	/*
	 * A server may answer before it has the whole line, and close: a
	 * failed send is judged by the reply that may be waiting.
	 */
	if (send_all(c, fd, line, strlen(line)) == -1 && errno == ETIMEDOUT) {
		close(fd);
		return fail(c, ONEPORT_E_TIMEOUT, ETIMEDOUT,
		    "timed out after %d ms sending to %s", c->timeout_ms,
		    where((struct sockaddr *)&c->res->peer, srv, sizeof(srv)));
	}
	return fd;
}

static int
refused(struct call *c, const struct oneport_reply *r, const char *what)
{
	char	srv[INET6_ADDRSTRLEN + 16];

	snprintf(c->res->reason, sizeof(c->res->reason), "%s", r->text);
	return fail(c, ONEPORT_E_REFUSED, 0, "%s refused %s: -%s",
	    where((struct sockaddr *)&c->res->peer, srv, sizeof(srv)), what,
	    r->text);
}

/* Where a redirect reply points, into res->host and res->port. */
static void
set_target(struct call *c, const struct oneport_reply *r)
{
	if (r->host_type == REPLY_HOST_NONE)
		addr_host((struct sockaddr *)&c->res->peer, c->res->host,
		    sizeof(c->res->host));
	else
		snprintf(c->res->host, sizeof(c->res->host), "%s", r->host);
	c->res->port = (int)r->port;
}

/* Is the host a redirect names the one the client called? */
static int
same_host(const struct call *c, const char *called,
    const struct oneport_reply *r)
{
	const struct sockaddr_storage	*p = &c->res->peer;
	unsigned char			 a[16];
	size_t				 n = strlen(called);

	if (n >= 2 && called[0] == '[' && called[n - 1] == ']') {
		called++;
		n -= 2;
	}
	if (strlen(r->host) == n && strncasecmp(r->host, called, n) == 0)
		return 1;
	if (r->host_type == REPLY_HOST_IPV4 && p->ss_family == AF_INET &&
	    inet_pton(AF_INET, r->host, a) == 1)
		return memcmp(a, &((const struct sockaddr_in *)(const void *)p)
		    ->sin_addr, 4) == 0;
	if (r->host_type == REPLY_HOST_IPV6 && p->ss_family == AF_INET6 &&
	    inet_pton(AF_INET6, r->host, a) == 1)
		return memcmp(a, &((const struct sockaddr_in6 *)(const void *)p)
		    ->sin6_addr, 16) == 0;
	return 0;
}

/*
 * Follows "@": a new connection to the port, on the address that
 * answered or on the host given, and the token line first. Returns the
 * blocking fd.
 */
static int
follow(struct call *c, const char *called, const struct oneport_reply *r)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = c->res->peerlen;
	char			 line[REPLY_TOKEN_MAX + 3], pbuf[8];
	char			 srv[INET6_ADDRSTRLEN + 16];
	int			 fd, err;

	set_target(c, r);
	if (c->flags & ONEPORT_NOREDIRECT)
		return fail(c, ONEPORT_E_REDIRECT, 0,
		    "redirected to %s port %u: not followed", c->res->host,
		    r->port);
	if (r->host_type != REPLY_HOST_NONE &&
	    !(c->flags & ONEPORT_ANYHOST) && !same_host(c, called, r))
		return fail(c, ONEPORT_E_REDIRECT, 0,
		    "redirected to another host, %s port %u: not followed",
		    r->host, r->port);
	if (r->host_type == REPLY_HOST_NONE) {
		/* The address that answered, whatever else the name has. */
		memcpy(&ss, &c->res->peer, sizeof(ss));
		addr_set_port(&ss, (int)r->port);
		if ((fd = dial_addr(c, (struct sockaddr *)&ss, sslen,
		    left_ms(c))) == -1) {
			err = errno;
			where((struct sockaddr *)&ss, srv, sizeof(srv));
			if (left_ms(c) == 0)
				return fail(c, ONEPORT_E_TIMEOUT, ETIMEDOUT,
				    "timed out after %d ms connecting to %s "
				    "(redirected)", c->timeout_ms, srv);
			return fail(c, ONEPORT_E_CONNECT, err,
			    "cannot connect to %s (redirected): %s", srv,
			    strerror(err));
		}
		memcpy(&c->res->peer, &ss, sizeof(ss));
	} else {
		snprintf(pbuf, sizeof(pbuf), "%u", r->port);
		if ((fd = dial(c, r->host, pbuf,
		    r->host_type != REPLY_HOST_NAME)) == -1)
			return -1;
	}
	c->res->redirected = 1;
	if (r->token[0] != '\0') {
		snprintf(line, sizeof(line), "%s\r\n", r->token);
		if (send_all(c, fd, line, strlen(line)) == -1) {
			err = errno;
			close(fd);
			where((struct sockaddr *)&c->res->peer, srv,
			    sizeof(srv));
			if (err == ETIMEDOUT)
				return fail(c, ONEPORT_E_TIMEOUT, err,
				    "timed out after %d ms sending the token "
				    "to %s", c->timeout_ms, srv);
			return fail(c, ONEPORT_E_CONNECT, err,
			    "sending the token to %s: %s", srv,
			    strerror(err));
		}
	}
	if (set_blocking(fd) == -1) {
		err = errno;
		close(fd);
		return fail(c, ONEPORT_E_SYSTEM, err, "fcntl: %s",
		    strerror(err));
	}
	return fd;
}

EXPORT int
oneport_connect(const char *host, const char *port, const char *name,
    const struct oneport_opts *o, struct oneport_result *res)
{
	struct oneport_result	 local;
	struct oneport_reply	 r;
	struct call		 c;
	char			 line[NAME_LEN_MAX + 3];
	int			 fd, err;

	if (res == NULL)
		res = &local;
	if (call_init(&c, o, res, host) == -1)
		return -1;
	if (!client_name_valid(name))
		return fail(&c, ONEPORT_E_SYSTEM, EINVAL,
		    "\"%.64s\" is not a service name", name ? name : "");
	if (strcasecmp(name, "help") == 0)
		return fail(&c, ONEPORT_E_SYSTEM, EINVAL,
		    "HELP is not a service name: use oneport_help");
	snprintf(line, sizeof(line), "%s\r\n", name);
	if ((fd = rendezvous(&c, host, port, line)) == -1)
		return -1;
	if (read_reply(&c, fd, &r) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (r.kind == '+') {
		if (set_blocking(fd) == -1) {
			err = errno;
			close(fd);
			return fail(&c, ONEPORT_E_SYSTEM, err, "fcntl: %s",
			    strerror(err));
		}
		addr_host((struct sockaddr *)&res->peer, res->host,
		    sizeof(res->host));
		res->port = addr_port((struct sockaddr *)&res->peer);
		return fd;
	}
	close(fd);
	if (r.kind == '-')
		return refused(&c, &r, name);
	return follow(&c, host, &r);
}

EXPORT int
oneport_query(const char *host, const char *port, const char *name,
    const struct oneport_opts *o, struct oneport_result *res)
{
	struct oneport_result	 local;
	struct oneport_reply	 r;
	struct call		 c;
	char			 line[NAME_LEN_MAX + 4], what[NAME_LEN_MAX + 2];
	char			 srv[INET6_ADDRSTRLEN + 16];
	int			 fd, err;

	if (res == NULL)
		res = &local;
	if (call_init(&c, o, res, host) == -1)
		return -1;
	if (!client_name_valid(name) || strcasecmp(name, "help") == 0)
		return fail(&c, ONEPORT_E_SYSTEM, EINVAL,
		    "\"%.64s\" is not a service name", name ? name : "");
	snprintf(line, sizeof(line), "?%s\r\n", name);
	snprintf(what, sizeof(what), "?%s", name);
	if ((fd = rendezvous(&c, host, port, line)) == -1)
		return -1;
	err = read_reply(&c, fd, &r) == -1 ? errno : 0;
	close(fd);
	if (err != 0) {
		errno = err;
		return -1;
	}
	if (r.kind == '-')
		return refused(&c, &r, what);
	if (r.kind == '+')
		/* An RFC 1078 server that took "?name" for a name. */
		return fail(&c, ONEPORT_E_PROTOCOL, 0,
		    "%s answered the query with \"+\": it does not know "
		    "queries", where((struct sockaddr *)&res->peer, srv,
		    sizeof(srv)));
	set_target(&c, &r);
	return 0;
}

EXPORT int
oneport_help(const char *host, const char *port,
    const struct oneport_opts *o, int (*fn)(const char *, void *),
    void *arg, struct oneport_result *res)
{
	struct oneport_result		 local;
	struct oneport_reply		 r;
	struct call			 c;
	unsigned char			 buf[2 * REPLY_MAX];
	char				 name[REPLY_MAX], ex[160];
	char				 srv[INET6_ADDRSTRLEN + 16];
	size_t				 have = 0, used;
	ssize_t				 n;
	int				 fd, w, count = 0, first = 1;
	enum oneport_reply_result	 v;

	if (res == NULL)
		res = &local;
	if (call_init(&c, o, res, host) == -1)
		return -1;
	if (fn == NULL)
		return fail(&c, ONEPORT_E_SYSTEM, EINVAL, "no function given");
	if ((fd = rendezvous(&c, host, port, "HELP\r\n")) == -1)
		return -1;
	where((struct sockaddr *)&res->peer, srv, sizeof(srv));
	/* The listing is everything up to the end of the stream. */
	for (;;) {
		if ((w = wait_readable(&c, fd)) <= 0) {
			close(fd);
			if (w == -1)
				return fail(&c, ONEPORT_E_SYSTEM, errno,
				    "poll: %s", strerror(errno));
			return fail(&c, ONEPORT_E_TIMEOUT, ETIMEDOUT,
			    "timed out after %d ms reading the listing of %s",
			    c.timeout_ms, srv);
		}
		n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			close(fd);
			return fail(&c, ONEPORT_E_CONNECT, errno,
			    "reading the listing of %s: %s", srv,
			    strerror(errno));
		}
		have += (size_t)n;
		for (;;) {
			if (first && have > 0 && (buf[0] == '-' ||
			    buf[0] == '+' || buf[0] == '@')) {
				v = oneport_reply_parse(buf, have, REPLY_MAX,
				    &r);
				if (v == REPLY_NEED_MORE)
					break;
				close(fd);
				if (v == REPLY_OK && r.kind == '-')
					return refused(&c, &r, "HELP");
				return fail(&c, ONEPORT_E_PROTOCOL, 0,
				    "bad answer to HELP from %s: \"%s\"", srv,
				    excerpt(buf, have < 64 ? have : 64, ex,
				    sizeof(ex)));
			}
			v = oneport_reply_listing(buf, have, REPLY_MAX, name,
			    &used);
			if (v == REPLY_NEED_MORE)
				break;
			if (v == REPLY_BAD) {
				close(fd);
				return fail(&c, ONEPORT_E_PROTOCOL, 0,
				    "bad line in the listing of %s: \"%s\"",
				    srv, excerpt(buf, have < 64 ? have : 64, ex,
				    sizeof(ex)));
			}
			first = 0;
			count++;
			memmove(buf, buf + used, have - used);
			have -= used;
			if (fn(name, arg) != 0) {
				close(fd);
				return count;
			}
		}
		if (n == 0) {
			close(fd);
			if (have > 0)
				return fail(&c, ONEPORT_E_PROTOCOL, 0,
				    "%s ended its listing inside a line: "
				    "\"%s\"", srv, excerpt(buf, have < 64 ?
				    have : 64, ex, sizeof(ex)));
			return count;
		}
	}
}

EXPORT const char *
oneport_errstr(int error)
{
	static const char *const	words[] = {
		[ONEPORT_E_OK] = "success",
		[ONEPORT_E_REFUSED] = "refused by the server",
		[ONEPORT_E_CONNECT] = "cannot connect",
		[ONEPORT_E_TIMEOUT] = "timed out",
		[ONEPORT_E_PROTOCOL] = "protocol error",
		[ONEPORT_E_RESOLVE] = "cannot resolve",
		[ONEPORT_E_REDIRECT] = "redirect not followed",
		[ONEPORT_E_SYSTEM] = "local error",
	};

	if (error < 0 || (size_t)error >= sizeof(words) / sizeof(words[0]))
		return "unknown error";
	return words[error];
}
