/* SPDX-License-Identifier: ISC */
/*
 * service.c: the service side of liboneport (oneport.h). Accepts oneportd's
 * channels and takes each HANDOFF in one step: lock the client's socket,
 * ACCEPT, write "+" (and the greeting, in the same write) to the client,
 * return the connection. Each connection says HELLO; on the data channel
 * the daemon then sends (version 2, lib/wire.h) a received HANDOFF is
 * ours outright: "+" at once, no lock, ACCEPT after it as a notice. A
 * malformed message costs its channel, never the server; wire.c alone
 * decodes the bytes.
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ancil.h"
#include "oneport.h"
#include "wire.h"

/* The library is built with -fvisibility=hidden; only these are public. */
#define EXPORT		__attribute__((visibility("default")))

#define CHANNELS_MAX	16	/* daemon connections held at once */
#define WAIT_MS		5000	/* for REGISTERED; bounds every send */
#define CONTROL_PATH	"/run/oneportd.sock"
#define LISTEN_FDS_START 3	/* sd_listen_fds(3) convention */

_Static_assert(ONEPORT_NAME_MAX == WIRE_NAME_MAX, "name sizes differ");
_Static_assert(ONEPORT_PREREAD_MAX == WIRE_PREREAD_MAX, "preread differs");
_Static_assert(ONEPORT_BY_TLS == WIRE_PROTO_TLS &&
    ONEPORT_BY_HTTP == WIRE_PROTO_HTTP && ONEPORT_BY_SSH == WIRE_PROTO_SSH &&
    ONEPORT_BY_SILENCE == WIRE_PROTO_SILENCE, "protocols differ");
_Static_assert(sizeof(((struct oneport_conn *)0)->match) ==
    WIRE_MATCH_MAX + 1 && sizeof(((struct oneport_conn *)0)->alpn) ==
    WIRE_ALPN_MAX + 1, "match or alpn differs");

/* A daemon connection (link -1), or a data channel that came on one. */
struct chan {
	int		 fd;
	int		 link;
	int		 kind;		/* a data channel's WIRE_CHAN_* */
};

struct oneport_server {
	int		 epfd;
	int		 listenfd;		/* -1: registered */
	struct chan	 chans[CHANNELS_MAX * 3];	/* oldest first */
	int		 nchans;
	int		 hello;			/* say HELLO (not ONEPORT_WIRE=1) */
	char		 name[WIRE_NAME_MAX + 1];	/* registered, or "" */
	int		 lost_errno;	/* why the registration ended */
	const char	*lost_why;
	/* What a TCPMUX client is sent: "+" CR LF and the greeting. */
	char		 plus[3 + ONEPORT_GREETING_MAX];
	size_t		 pluslen;
};

/* One received message, and the descriptor that came along. */
struct inmsg {
	uint8_t		 buf[WIRE_MSG_MAX];
	size_t		 len;
	int		 fd;		/* -1: none */
	int		 lost;		/* one was sent, dropped: EMFILE here */
};

static _Thread_local char errbuf[256];

static int	seterr(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Records the detail for oneport_strerror; sets errno to err. Returns -1. */
static int
seterr(int err, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

static int
syserr(const char *what)
{
	int	saved = errno;

	return seterr(saved, "%s: %s", what, strerror(saved));
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A decimal number 0..max with nothing around it, or -1. */
static long
parse_num(const char *s, long max)
{
	long	v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* One call, not F_GETFL and F_SETFL: it runs once per hand-off. */
static int
make_blocking(int fd)
{
	int	off = 0;

	return ioctl(fd, FIONBIO, &off);
}

/* Every send on a channel is bounded: a stuck daemon cannot hang us. */
static int
set_sndtimeo(int fd)
{
	struct timeval	tv = { WAIT_MS / 1000, (WAIT_MS % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int
unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return seterr(ENAMETOOLONG, "socket path too long: %s", path);
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* ---- messages ---- */

static int
msg_send(int fd, const struct wire_msg *m)
{
	uint8_t	buf[WIRE_MSG_MAX];
	size_t	len;
	ssize_t	n;

	if ((len = wire_encode(buf, sizeof(buf), m)) == 0)
		return seterr(EINVAL, "message cannot be encoded");
	do {
		n = send(fd, buf, len, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return syserr("send to oneportd");
	if ((size_t)n != len)
		return seterr(EMSGSIZE, "short send to oneportd");
	return 0;
}

static int
send_status(int fd, enum wire_type type, uint32_t id, int status,
    const char *reason)
{
	struct wire_msg	m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.id = id;
	m.status = status;
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	return msg_send(fd, &m);
}

/*
 * Receive one message without waiting. Returns 1 with im filled, 0 at end
 * of stream, -1 with errno (EAGAIN: nothing there; EBADMSG: control data
 * other than at most one descriptor, or a message too long for any of
 * ours, whose descriptors are closed). A descriptor that came along is
 * in im->fd, close-on-exec; the caller owns it.
 */
static int
msg_recv(int fd, struct inmsg *im)
{
	ssize_t	n;

	im->len = 0;
	if ((n = ancil_recv(fd, im->buf, sizeof(im->buf), &im->fd,
	    &im->lost)) <= 0)
		return (int)n;
	im->len = (size_t)n;
	return 1;
}

/* ---- the server ---- */

static struct chan *
chan_of(struct oneport_server *srv, int fd)
{
	int	i;

	for (i = 0; i < srv->nchans; i++)
		if (srv->chans[i].fd == fd)
			return &srv->chans[i];
	return NULL;
}

static int
links(const struct oneport_server *srv)
{
	int	i, n = 0;

	for (i = 0; i < srv->nchans; i++)
		n += srv->chans[i].link == -1;
	return n;
}

/* A daemon connection goes with its data channels: the daemon takes back
 * what is queued on them when it sees the connection end. */
static void
channel_drop(struct oneport_server *srv, int chan, int err, const char *why)
{
	int	i, conn;

	for (i = 0; i < srv->nchans; i++)
		if (srv->chans[i].fd == chan)
			break;
	if (i == srv->nchans)
		return;
	conn = srv->chans[i].link == -1;
	memmove(&srv->chans[i], &srv->chans[i + 1],
	    (size_t)(srv->nchans - i - 1) * sizeof(srv->chans[0]));
	srv->nchans--;
	/* Out of the set first: a forked child may still hold a copy. */
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, chan, NULL);
	close(chan);
	/* A frontend's channel ends with its frontend: not the service's
	 * loss (the daemon lends a new one). */
	if (conn) {
		srv->lost_errno = err;
		srv->lost_why = why;
	}
	for (i = 0; i < srv->nchans; i++)
		if (srv->chans[i].link == chan) {
			channel_drop(srv, srv->chans[i].fd, err, why);
			i = -1;		/* the array moved */
		}
}

/* Takes chan, whatever happens. link: the connection a data channel came
 * on, or -1 for a connection, which says HELLO. */
static int
channel_add(struct oneport_server *srv, int chan, int link)
{
	struct epoll_event	ev;
	struct wire_msg		m;
	int			i;

	/* A daemon that reconnected left its old channel behind. */
	if (link == -1 && links(srv) == CHANNELS_MAX) {
		for (i = 0; srv->chans[i].link != -1; i++)
			;
		channel_drop(srv, srv->chans[i].fd, ECONNRESET, "replaced");
	}
	if (srv->nchans == (int)(sizeof(srv->chans) / sizeof(srv->chans[0]))) {
		close(chan);
		return 0;	/* more data channels than asked for: ignored */
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = chan;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, chan, &ev) == -1) {
		syserr("epoll_ctl");
		close(chan);
		return -1;
	}
	srv->chans[srv->nchans].fd = chan;
	srv->chans[srv->nchans].kind = 0;
	srv->chans[srv->nchans++].link = link;
	if (link == -1 && srv->hello) {
		memset(&m, 0, sizeof(m));
		m.type = WIRE_HELLO;
		m.version = WIRE_V2;
		/* Failing, the connection is broken: the next read says. */
		(void)msg_send(chan, &m);
	}
	return 0;
}

/* CHANNEL on connection chan, with fd: a data channel. Takes fd. */
static int
channel_data(struct oneport_server *srv, int chan, int fd, int kind)
{
	struct chan	*ch;
	int		 v;
	socklen_t	 vlen = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) == -1 ||
	    v != SOCK_SEQPACKET || set_sndtimeo(fd) == -1) {
		close(fd);
		return -1;
	}
	if (channel_add(srv, fd, chan) == -1)
		return -1;
	if ((ch = chan_of(srv, fd)) != NULL)
		ch->kind = kind;
	return 0;
}

/*
 * On a WIRE_CHAN_FRONT channel the daemon's frontend sends: it meets
 * clients and is trusted less than the daemon, which checks what it is
 * passed. Here, then: the client must be a TCP connection whose peer is
 * the address the message names.
 */
static int
front_peer_ok(int fd, const struct wire_msg *m)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len = sizeof(ss);
	uint8_t			 mapped[16] = { [10] = 0xff, [11] = 0xff };

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return m->family == 4 && ntohs(sin->sin_port) ==
		    m->peer_port && memcmp(&sin->sin_addr, m->peer_addr,
		    4) == 0;
	if (ss.ss_family != AF_INET6 || ntohs(sin6->sin6_port) !=
	    m->peer_port)
		return 0;
	if (m->family == 6)
		return memcmp(&sin6->sin6_addr, m->peer_addr, 16) == 0;
	memcpy(mapped + 12, m->peer_addr, 4);
	return memcmp(&sin6->sin6_addr, mapped, 16) == 0;
}

/*
 * A new channel from the listener. Only root and our own user may hand us
 * connections; anyone else is closed without a word. Returns -1 only for
 * what the caller must hear about (out of descriptors or memory).
 */
static int
channel_accept(struct oneport_server *srv)
{
	struct ucred	cr;
	socklen_t	crlen = sizeof(cr);
	int		fd;

	if ((fd = accept4(srv->listenfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ECONNABORTED || errno == EINTR ||
		    errno == EPROTO)
			return 0;
		return syserr("accept");
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == -1 ||
	    crlen != sizeof(cr) || (cr.uid != 0 && cr.uid != getuid()) ||
	    set_sndtimeo(fd) == -1) {
		close(fd);
		return 0;
	}
	return channel_add(srv, fd, -1);
}

static void
sockaddr_fill(struct sockaddr_storage *ss, socklen_t *len, uint8_t family,
    const uint8_t *addr, uint16_t port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == 4) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		*len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		*len = sizeof(*sin6);
	}
}

/*
 * A decoded HANDOFF with its one descriptor: take it, or say no when we
 * cannot. Takes fd. Returns 1 with *c filled (the client has had "+"),
 * 0 when there is nothing to return, or the reason the channel must go:
 * HANDOFF_BAD (not a hand-off we take from anyone) or HANDOFF_LOST (our
 * answer could not be sent).
 *
 * The order is what makes "+" truthful: the lock first, so that the
 * daemon cannot be answering the client at the same time; then ACCEPT,
 * which the daemon reads as "do not answer this client"; only once
 * ACCEPT has been queued on the channel, "+"; only then the caller's
 * bytes. If ACCEPT cannot be sent, the daemon still owns the answer and
 * we write nothing.
 */
#define HANDOFF_BAD	(-1)
#define HANDOFF_LOST	(-2)

static int
handoff(struct oneport_server *srv, int chan, const struct wire_msg *m,
    int fd, struct oneport_conn *c, int v2)
{
	struct wire_msg	 a;
	int		 type;
	socklen_t	 tlen = sizeof(type);
	size_t		 want;
	ssize_t		 n;

	if ((srv->name[0] != '\0' && strcmp(m->name, srv->name) != 0) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1 ||
	    type != SOCK_STREAM) {
		close(fd);
		return HANDOFF_BAD;
	}
	if (v2)
		goto plus;
	/* The daemon takes the same lock before it answers a hand-off it
	 * gave up waiting for: whoever holds it decides what the client
	 * hears. */
	if (ancil_lock(fd) == -1) {
		close(fd);
		if (errno == EAGAIN || errno == EACCES)
			return 0;	/* too late: the daemon answered */
		if (send_status(chan, WIRE_ACK, m->id, 1, "service busy") == -1)
			return HANDOFF_LOST;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.type = WIRE_ACCEPT;
	a.id = m->id;
	if (msg_send(chan, &a) == -1) {
		close(fd);
		return HANDOFF_LOST;
	}
plus:
	/* The socket is fresh, so "+" and the greeting fit; failing, the
	 * client or the daemon has shut it: there is no one to serve. A
	 * client that chose by its first bytes (HANDOFF_RAW) speaks its own
	 * protocol: no "+". */
	want = m->type == WIRE_HANDOFF ? srv->pluslen : 0;
	n = 0;
	while (want > 0 && (n = send(fd, srv->plus, want,
	    MSG_NOSIGNAL | MSG_DONTWAIT)) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)want || make_blocking(fd) == -1) {
		close(fd);
		return 0;
	}
	/* Version 2: received is ours, so "+" went first; the notice is
	 * for the daemon's log only, and the client is served without it. */
	if (v2) {
		memset(&a, 0, sizeof(a));
		a.type = WIRE_ACCEPT;
		a.id = m->id;
		(void)msg_send(chan, &a);
	}

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	memcpy(c->service, m->name, sizeof(c->service));
	sockaddr_fill(&c->peer, &c->peerlen, m->family, m->peer_addr,
	    m->peer_port);
	sockaddr_fill(&c->local, &c->locallen, m->family, m->local_addr,
	    m->local_port);
	if (m->preread_len > 0)
		memcpy(c->preread, m->preread, m->preread_len);
	c->preread_len = m->preread_len;
	c->by = m->type == WIRE_HANDOFF_RAW ? m->proto : ONEPORT_BY_TCPMUX;
	memcpy(c->match, m->match, sizeof(c->match));
	memcpy(c->alpn, m->alpn, sizeof(c->alpn));
	return 1;
}

/*
 * Handle one message on chan. Returns 1 with *c filled when a hand-off was
 * taken, 0 otherwise (the channel may have been dropped).
 */
static int
channel_read(struct oneport_server *srv, int chan, struct oneport_conn *c)
{
	struct inmsg		 im;
	struct wire_msg		 m;
	struct chan		*ch = chan_of(srv, chan);
	int			 r, v2 = ch != NULL && ch->link != -1;

	if (ch == NULL)
		return 0;
	if ((r = msg_recv(chan, &im)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EBADMSG)
			goto bad;
		channel_drop(srv, chan, errno, "oneportd channel failed");
		return 0;
	}
	if (r == 0) {
		channel_drop(srv, chan, ECONNRESET, "oneportd closed the "
		    "connection");
		return 0;
	}
	if (wire_decode(im.buf, im.len, &m) == -1)
		goto bad;

	switch (m.type) {
	case WIRE_HANDOFF:
	case WIRE_HANDOFF_RAW:
		if (im.lost) {
			/* Out of descriptors here: the client hears why. */
			if (send_status(chan, WIRE_ACK, m.id, 1,
			    "service out of descriptors") == -1)
				goto lost;
			return 0;
		}
		if (im.fd == -1)
			goto bad;
		if (ch->kind == WIRE_CHAN_FRONT && !front_peer_ok(im.fd, &m)) {
			close(im.fd);
			goto bad;
		}
		if ((r = handoff(srv, chan, &m, im.fd, c, v2)) == HANDOFF_BAD) {
			channel_drop(srv, chan, EPROTO, "malformed hand-off "
			    "from oneportd");
			return 0;
		}
		if (r == HANDOFF_LOST)
			goto lost;
		return r;
	case WIRE_CHANNEL:
		/* Only on a connection, and only after our HELLO. */
		if (v2 || !srv->hello || im.fd == -1 || im.lost)
			goto bad;
		if (m.kind >= WIRE_CHAN_MAX ||
		    channel_data(srv, chan, im.fd, m.kind) == -1)
			channel_drop(srv, chan, EPROTO, "malformed channel "
			    "from oneportd");
		return 0;
	default:
		goto bad;
	}
bad:
	if (im.fd != -1)
		close(im.fd);
	channel_drop(srv, chan, EPROTO, "malformed message from oneportd");
	return 0;
lost:
	channel_drop(srv, chan, ECONNRESET, "oneportd channel failed");
	return 0;
}

/* Takes listenfd (may be -1) and chan (may be -1), whatever happens. */
static struct oneport_server *
server_new(int listenfd, int chan, const char *name)
{
	struct oneport_server	*srv;
	struct epoll_event	 ev;
	const char		*env;
	int			 i;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		syserr("calloc");
		goto fail;
	}
	srv->listenfd = -1;
	env = getenv("ONEPORT_WIRE");
	srv->hello = env == NULL || strcmp(env, "1") != 0;
	memcpy(srv->plus, "+\r\n", 3);
	srv->pluslen = 3;
	if ((srv->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		syserr("epoll_create1");
		free(srv);
		srv = NULL;
		goto fail;
	}
	if (listenfd != -1) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.fd = listenfd;
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, listenfd, &ev) == -1) {
			syserr("epoll_ctl");
			goto fail;
		}
		srv->listenfd = listenfd;
		listenfd = -1;
	}
	if (chan != -1) {
		snprintf(srv->name, sizeof(srv->name), "%s", name);
		i = channel_add(srv, chan, -1);
		chan = -1;
		if (i == -1)
			goto fail;
	}
	return srv;
fail:
	if (listenfd != -1)
		close(listenfd);
	if (chan != -1)
		close(chan);
	oneport_close(srv);
	return NULL;
}

/* The socket oneportd or systemd passed: LISTEN_FDS, named "oneport". */
static int
listen_env(void)
{
	const char	*names, *p, *q;
	long		 pid, n, i, pick = 0;
	int		 fd, v;
	socklen_t	 vlen;

	pid = parse_num(getenv("LISTEN_PID"), LONG_MAX);
	if (pid == -1 || pid != (long)getpid())
		return seterr(ENOENT, "no LISTEN_PID for this process");
	n = parse_num(getenv("LISTEN_FDS"), INT_MAX - LISTEN_FDS_START);
	if (n < 1)
		return seterr(ENOENT, "no LISTEN_FDS");
	if ((names = getenv("LISTEN_FDNAMES")) != NULL) {
		for (i = 0, p = names; i < n && p != NULL; i++) {
			q = strchr(p, ':');
			if ((q ? (size_t)(q - p) : strlen(p)) == 7 &&
			    strncmp(p, "oneport", 7) == 0) {
				pick = i;
				break;
			}
			p = q ? q + 1 : NULL;
		}
	}
	for (i = 0; i < n; i++)
		if (fcntl(LISTEN_FDS_START + (int)i, F_SETFD, FD_CLOEXEC) == -1)
			return seterr(EBADF, "LISTEN_FDS: descriptor %ld is "
			    "not open", LISTEN_FDS_START + i);
	fd = LISTEN_FDS_START + (int)pick;

	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vlen) == -1 ||
	    v != AF_UNIX)
		return seterr(ENOTSOCK, "LISTEN_FDS: descriptor %d is not a "
		    "unix socket", fd);
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) == -1 ||
	    v != SOCK_SEQPACKET)
		return seterr(EPROTOTYPE, "LISTEN_FDS: descriptor %d is not "
		    "SOCK_SEQPACKET", fd);
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen) == -1 ||
	    v != 1)
		return seterr(EINVAL, "LISTEN_FDS: descriptor %d is not "
		    "listening", fd);
	/* Its mode is shared with whoever passed it: left as it is. */
	return fd;
}

/*
 * Is something listening at sun? A refused connection means a stale file
 * left by a service that died; anything else is not ours to remove.
 */
static int
path_stale(const struct sockaddr_un *sun)
{
	int	fd, r;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return syserr("socket");
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	if (r == -1 && (errno == ECONNREFUSED || errno == ENOENT))
		r = 1;
	else if (r == 0 || errno == EAGAIN || errno == EINPROGRESS ||
	    errno == EPROTOTYPE)
		r = seterr(EADDRINUSE, "%s: in use by a running service",
		    sun->sun_path);
	else
		r = syserr(sun->sun_path);
	close(fd);
	return r;
}

static int
listen_path(const char *path)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd;

	if (unix_addr(path, &sun) == -1)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return seterr(EEXIST, "%s: exists and is not a socket",
			    path);
		if (path_stale(&sun) == -1)
			return -1;
		if (unlink(path) == -1 && errno != ENOENT)
			return syserr(path);
	} else if (errno != ENOENT)
		return syserr(path);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return syserr("socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		syserr(path);
		close(fd);
		return -1;
	}
	return fd;
}

EXPORT struct oneport_server *
oneport_listen(const char *path)
{
	int	fd;

	fd = path == NULL ? listen_env() : listen_path(path);
	if (fd == -1)
		return NULL;
	return server_new(fd, -1, NULL);
}

/* Wait up to WAIT_MS for the one answer to REGISTER. */
static int
register_wait(int fd, struct wire_msg *m)
{
	struct pollfd	pfd;
	struct inmsg	im;
	int64_t		deadline = now_ms() + WAIT_MS, left;
	int		r, reset = 0;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return seterr(ETIMEDOUT, "no answer from oneportd");
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, (int)left)) == -1 && errno != EINTR)
			return syserr("poll");
		if (r <= 0)
			continue;
		if ((r = msg_recv(fd, &im)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			/* oneportd closed with our REGISTER unread: the
			 * reset is reported once, before the refusal it
			 * sent, which the next read gets. */
			if (errno == ECONNRESET && !reset++)
				continue;
			if (errno != EBADMSG)
				return syserr("oneportd control socket");
			im.fd = -1;
		}
		if (r == 0)
			return seterr(ECONNRESET, "oneportd closed the "
			    "connection");
		if (im.fd != -1)
			close(im.fd);
		if (r == -1 || im.fd != -1 || im.lost ||
		    wire_decode(im.buf, im.len, m) == -1 ||
		    m->type != WIRE_REGISTERED)
			return seterr(EPROTO, "malformed answer from oneportd");
		return 0;
	}
}

/*
 * Connect to oneportd's control socket and register name, for hand-offs
 * (port 0) or as a redirect to port. Returns the connection, whose life
 * is the registration's, and the lower-cased name in lname.
 */
static int
register_fd(const char *ctlpath, const char *name, int port,
    char lname[WIRE_NAME_MAX + 1])
{
	struct sockaddr_un	 sun;
	struct wire_msg		 m;
	const char		*path = ctlpath;
	uint8_t			 probe[WIRE_MSG_MAX];
	size_t			 i, len;
	int			 fd = -1;

	if (path == NULL && ((path = getenv("ONEPORT_CONTROL")) == NULL ||
	    *path == '\0'))
		path = CONTROL_PATH;
	memset(&m, 0, sizeof(m));
	m.type = port > 0 ? WIRE_REGISTER_PORT : WIRE_REGISTER;
	m.port = port;
	if (name == NULL || (len = strlen(name)) == 0 ||
	    len > WIRE_NAME_MAX || port < 0 || port > 65535) {
		seterr(EINVAL, "invalid service name or port");
		return -1;
	}
	/* Names are case-insensitive; the wire carries them in lower case. */
	for (i = 0; i < len; i++)
		lname[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
		    name[i] - 'A' + 'a' : name[i];
	lname[len] = '\0';
	memcpy(m.name, lname, len + 1);
	if (wire_encode(probe, sizeof(probe), &m) == 0) {
		seterr(EINVAL, "invalid service name: %s", name);
		return -1;
	}
	if (unix_addr(path, &sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		syserr("socket");
		return -1;
	}
	/* SO_SNDTIMEO bounds connect(2) on a unix socket, too. */
	if (set_sndtimeo(fd) == -1) {
		syserr("setsockopt");
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		syserr(path);
		goto fail;
	}
	/* Refused before it read a byte, oneportd says why before closing:
	 * read that rather than report the broken pipe. */
	if (msg_send(fd, &m) == -1 && errno != EPIPE && errno != ECONNRESET)
		goto fail;
	if (register_wait(fd, &m) == -1)
		goto fail;
	if (m.status != 0) {
		seterr(EPERM, "%s", m.reason[0] != '\0' ? m.reason :
		    "refused");
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

EXPORT struct oneport_server *
oneport_register(const char *ctlpath, const char *name)
{
	char	lname[WIRE_NAME_MAX + 1];
	int	fd;

	if ((fd = register_fd(ctlpath, name, 0, lname)) == -1)
		return NULL;
	return server_new(-1, fd, lname);
}

EXPORT int
oneport_register_port(const char *ctlpath, const char *name, int port)
{
	char	lname[WIRE_NAME_MAX + 1];

	if (port <= 0 || port > 65535) {
		seterr(EINVAL, "invalid port");
		return -1;
	}
	return register_fd(ctlpath, name, port, lname);
}

EXPORT int
oneport_accept(struct oneport_server *srv, struct oneport_conn *c)
{
	struct epoll_event	ev;
	int			n;

	for (;;) {
		if (srv->listenfd == -1 && srv->nchans == 0)
			return seterr(srv->lost_errno ? srv->lost_errno :
			    ECONNRESET, "registration of %s ended: %s",
			    srv->name, srv->lost_why ? srv->lost_why :
			    "closed");
		if ((n = epoll_wait(srv->epfd, &ev, 1, -1)) == -1)
			return syserr("epoll_wait");
		if (n == 0)
			continue;
		if (ev.data.fd == srv->listenfd) {
			if (channel_accept(srv) == -1)
				return -1;
			continue;
		}
		if (channel_read(srv, ev.data.fd, c) == 1)
			return 0;
	}
}

EXPORT int
oneport_greeting(struct oneport_server *srv, const void *buf, size_t len)
{
	if (len > ONEPORT_GREETING_MAX || (len > 0 && buf == NULL))
		return seterr(EINVAL, "greeting longer than %d bytes",
		    ONEPORT_GREETING_MAX);
	if (len > 0)
		memcpy(srv->plus + 3, buf, len);
	srv->pluslen = 3 + len;
	return 0;
}

EXPORT int
oneport_server_fd(const struct oneport_server *srv)
{
	return srv->epfd;
}

EXPORT void
oneport_conn_close(struct oneport_conn *c)
{
	if (c != NULL && c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

EXPORT void
oneport_close(struct oneport_server *srv)
{
	int	i, saved = errno;

	if (srv == NULL)
		return;
	for (i = 0; i < srv->nchans; i++)
		close(srv->chans[i].fd);
	if (srv->listenfd != -1)
		close(srv->listenfd);
	if (srv->epfd != -1)
		close(srv->epfd);
	free(srv);
	errno = saved;
}

EXPORT const char *
oneport_strerror(void)
{
	if (errbuf[0] == '\0')
		return strerror(errno);
	return errbuf;
}
