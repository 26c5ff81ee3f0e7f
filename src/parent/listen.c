/* SPDX-License-Identifier: ISC */
/*
 * listen.c: the parent's listening sockets. Some are handed to it at
 * start (socket activation: LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, as
 * systemd and systemd-socket-activate pass them; or its own earlier image
 * across an upgrade), the rest it binds. A handed socket whose address
 * (getsockname) is a `listen on` line's stands for that line; one that
 * matches no line is served as well. A reload binds the lines that are
 * new and closes those that went, keeping the sockets of the others, so
 * their queues and the connections in flight are untouched.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define SD_LISTEN_FDS_START	3
#define LISTEN_FDS_MAX		1024

/* A socket handed to us at start, until a listener takes it. */
struct handed {
	int			 fd;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 name[LISTEN_NAME_MAX];
	int			 ours;	/* 1: bound by us, 2: for port 0 */
};

static struct handed	*handed;
static int		 nhanded;
static int		 activated;	/* some were handed at start */
static int		 ours;		/* some were bound by our old image */

/* Address and port (or the address alone: anyport), nothing else of the
 * sockaddr (flow labels, scope). */
static int
same_where(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b, int anyport)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return (anyport || a4->sin_port == b4->sin_port) &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	a6 = (const struct sockaddr_in6 *)a;
	b6 = (const struct sockaddr_in6 *)b;
	return (anyport || a6->sin6_port == b6->sin6_port) &&
	    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return same_where(a, b, 0);
}

static int
number(const char *s, long max, long *v)
{
	char	*end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno != 0 || *s == '\0' || *end != '\0' || *v < 0 ||
	    *v > max ? -1 : 0;
}

/* The i-th of the colon-separated names, "" when there are fewer. */
static void
name_of(const char *names, int i, char *dst, size_t size)
{
	const char	*p = names, *end;
	size_t		 n;

	*dst = '\0';
	for (; p != NULL && i > 0; i--)
		if ((p = strchr(p, ':')) != NULL)
			p++;
	if (p == NULL)
		return;
	end = strchr(p, ':');
	n = end != NULL ? (size_t)(end - p) : strlen(p);
	if (n >= size)
		n = size - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* Only TCP sockets that listen are ours to serve: anything else handed
 * to us is closed, and said. */
static int
usable(int fd)
{
	int		 v;
	socklen_t	 len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == -1 ||
	    v != SOCK_STREAM)
		return 0;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1 ||
	    v == 0)
		return 0;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == -1 ||
	    (v != AF_INET && v != AF_INET6))
		return 0;
	return 1;
}

/*
 * At start-up, before any other descriptor is opened: the sockets of
 * LISTEN_FDS, if LISTEN_PID is us. The variables go either way, so that
 * no program we start takes them for its own; the sockets are
 * close-on-exec and non-blocking (the frontend never waits in accept).
 */
void
listen_inherit(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char	*names = getenv("LISTEN_FDNAMES");
	char		 a[ADDR_STRLEN];
	struct handed	*h;
	long		 p, n, i;
	int		 fd, fl;

	if (pid != NULL && fds != NULL) {
		if (number(pid, 0x7fffffff, &p) == -1 || p != getpid()) {
			log_warnx("LISTEN_PID=%s is not this process: its "
			    "sockets are not taken", pid);
			n = 0;
		} else if (number(fds, LISTEN_FDS_MAX, &n) == -1) {
			log_warnx("LISTEN_FDS=%s: not a count up to %d", fds,
			    LISTEN_FDS_MAX);
			n = 0;
		}
		if (n > 0 && (handed = calloc(n, sizeof(*handed))) == NULL)
			fatal("calloc");
		for (i = 0; i < n; i++) {
			fd = SD_LISTEN_FDS_START + i;
			h = &handed[nhanded];
			if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
				log_warn("LISTEN_FDS: fd %d", fd);
				continue;
			}
			h->sslen = sizeof(h->ss);
			if (!usable(fd) || getsockname(fd,
			    (struct sockaddr *)&h->ss, &h->sslen) == -1) {
				log_warnx("LISTEN_FDS: fd %d is not a listening "
				    "TCP socket: closed", fd);
				close(fd);
				continue;
			}
			if ((fl = fcntl(fd, F_GETFL)) == -1 ||
			    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
				fatal("LISTEN_FDS: fd %d", fd);
			h->fd = fd;
			name_of(names, i, h->name, sizeof(h->name));
			h->ours = strcmp(h->name, LISTEN_NAME_BOUND) == 0 ? 1 :
			    strcmp(h->name, LISTEN_NAME_ANY) == 0 ? 2 : 0;
			log_debug("LISTEN_FDS: fd %d on %s, name \"%s\"", fd,
			    addr_ntop((struct sockaddr *)&h->ss, a, sizeof(a)),
			    h->name);
			if (h->ours)
				ours = 1;
			else
				activated = 1;
			nhanded++;
		}
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

/* Handed sockets were given: then a config without `listen on` lines
 * binds nothing of its own (load_config tells, before the default). */
int
listen_handed(void)
{
	return activated;
}

/* Sockets our own earlier image bound were given (an upgrade, or the
 * manager's store after one). */
int
listen_ours(void)
{
	return ours;
}

/*
 * Takes a socket our earlier image bound for the line of its address
 * (a port-0 line's by the address alone), as if bound now; one that no
 * line wants any more is closed. 1: taken or closed.
 */
static int
take_ours(struct config *cfg, struct handed *h)
{
	struct listener	*l = NULL;
	char		 a[ADDR_STRLEN];
	int		 i, any = h->ours == 2;

	if (!h->ours)
		return 0;
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		if (l->fd == -1 && (addr_port((struct sockaddr *)&l->ss) == 0)
		    == any && same_where(&l->ss, &h->ss, any))
			break;
	}
	addr_ntop((struct sockaddr *)&h->ss, a, sizeof(a));
	if (i == cfg->nlisteners || l == NULL) {
		log_info("listener %s: no line for it any more: closed", a);
		close(h->fd);
		return 1;
	}
	memcpy(&l->ss, &h->ss, sizeof(l->ss));
	l->sslen = h->sslen;
	l->fd = h->fd;
	l->port0 = any;
	log_debug("listener %s: kept from the old image", a);
	return 1;
}

static struct listener *
listener_append(struct config *cfg)
{
	struct listener	*l;

	l = reallocarray(cfg->listeners, cfg->nlisteners + 1, sizeof(*l));
	if (l == NULL)
		return NULL;
	cfg->listeners = l;
	l = &cfg->listeners[cfg->nlisteners++];
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	return l;
}

/* A fresh socket for l; -1 after logging why. */
static int
listen_bind_one(struct listener *l)
{
	char	a[ADDR_STRLEN];
	int	fd, one = 1;

	addr_ntop((struct sockaddr *)&l->ss, a, sizeof(a));
	l->port0 = addr_port((struct sockaddr *)&l->ss) == 0;
	fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket %s", a);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&l->ss, l->sslen) == -1) {
		log_warn("bind %s", a);
		goto fail;
	}
	if (listen(fd, SOMAXCONN) == -1) {
		log_warn("listen %s", a);
		goto fail;
	}
	/* Port 0: learn which port the kernel gave. */
	l->sslen = sizeof(l->ss);
	if (getsockname(fd, (struct sockaddr *)&l->ss, &l->sslen) == -1) {
		log_warn("getsockname %s", a);
		goto fail;
	}
	l->fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * A client that connects and sends its line at once still wakes the
 * frontend twice, at the accept and at its bytes a moment later: with
 * "defer-accept" the kernel holds the connection until bytes come
 * (TCP_DEFER_ACCEPT, as nginx's "deferred" and HAProxy's
 * "defer-accept"), so the frontend meets it once, with its line. A
 * client that sends nothing comes a second late, and one not yet come
 * is not ours to answer at a stop or when a reload drops its listener.
 * Not with "match silence" (config.c). Off, it is cleared, also on a
 * handed socket (a socket unit's DeferAcceptSec=), since that would
 * break "match silence". The sockets are shared with an upgrade's new
 * image, which sets its own: one that fails, we set ours again.
 */
void
listen_defer(const struct config *cfg)
{
	char	a[ADDR_STRLEN];
	int	i, secs = cfg->defer_accept ? 1 : 0;

	for (i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].fd != -1 &&
		    setsockopt(cfg->listeners[i].fd, IPPROTO_TCP,
		    TCP_DEFER_ACCEPT, &secs, sizeof(secs)) == -1 && secs > 0)
			log_warn("defer-accept: %s", addr_ntop((struct
			    sockaddr *)&cfg->listeners[i].ss, a, sizeof(a)));
}

/*
 * Start-up: each listener takes the handed socket of its address, or a
 * socket of its own; the handed sockets no line names are listeners too.
 * A socket we cannot bind is fatal here (the daemon is not started).
 */
void
listen_start(struct config *cfg)
{
	struct listener	*l = NULL;
	char		 a[ADDR_STRLEN];
	int		 i, j, matched;

	for (j = 0; j < nhanded; j++) {
		if (take_ours(cfg, &handed[j]))
			continue;
		for (i = 0; i < cfg->nlisteners; i++) {
			l = &cfg->listeners[i];
			if (l->fd == -1 && addr_port((struct sockaddr *)
			    &l->ss) != 0 && same_addr(&l->ss, &handed[j].ss))
				break;
		}
		matched = i < cfg->nlisteners;
		if (!matched && (l = listener_append(cfg)) == NULL)
			fatal("listeners");
		memcpy(&l->ss, &handed[j].ss, sizeof(l->ss));
		l->sslen = handed[j].sslen;
		l->fd = handed[j].fd;
		l->handed = 1;
		memcpy(l->name, handed[j].name, sizeof(l->name));
		log_info("listener %s: handed over as fd %d%s%s%s, %s",
		    addr_ntop((struct sockaddr *)&l->ss, a, sizeof(a)),
		    handed[j].fd, *l->name ? " named \"" : "", l->name,
		    *l->name ? "\"" : "", matched ? "for its listen line" :
		    "served as well");
	}
	free(handed);
	handed = NULL;
	nhanded = 0;
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		if (l->fd == -1 && listen_bind_one(l) == -1)
			fatalx("cannot listen on %s", addr_ntop((struct
			    sockaddr *)&l->ss, a, sizeof(a)));
	}
	listen_defer(cfg);
}

/*
 * A reload: a line of the new configuration takes the socket of the
 * running one's of the same address and port (a line of port 0 the
 * socket it was given, if it asked for port 0 before too); a handed
 * socket stays whatever the lines say; a socket that no line wants any
 * more is closed, and a new line bound. Kept sockets come first, in the
 * order they had, then the new ones: the frontend, told each change,
 * keeps the same list. A line that cannot be bound is logged and left
 * out; the reload goes on.
 */
void
listen_reload(struct config *old, struct config *cfg)
{
	struct listener	*nl, *o, *l;
	char		*taken = NULL, *gone = NULL, a[ADDR_STRLEN];
	int		 i, j, n = 0;

	nl = calloc(old->nlisteners + cfg->nlisteners + 1, sizeof(*nl));
	taken = calloc(cfg->nlisteners + 1, 1);
	gone = calloc(old->nlisteners + 1, 1);
	if (nl == NULL || taken == NULL || gone == NULL) {
		/* Nothing changes: the running sockets stay, all of them. */
		log_warn("listeners not changed");
		free(nl);
		nl = NULL;
		goto done;
	}
	for (i = 0; i < old->nlisteners; i++) {
		o = &old->listeners[i];
		for (j = 0; j < cfg->nlisteners; j++) {
			l = &cfg->listeners[j];
			if (!taken[j] && (addr_port((struct sockaddr *)&l->ss)
			    == 0 ? o->port0 && same_where(&l->ss, &o->ss, 1) :
			    same_addr(&l->ss, &o->ss)))
				break;
		}
		if (j < cfg->nlisteners)
			taken[j] = 1;
		else if (!o->handed) {
			gone[i] = 1;
			continue;
		}
		nl[n++] = *o;
	}
	/* From the last, so each index is still the frontend's. */
	for (i = old->nlisteners - 1; i >= 0; i--) {
		if (!gone[i])
			continue;
		o = &old->listeners[i];
		felink_listener(-1, i);
		close(o->fd);
		log_info("no longer listening on %s", addr_ntop((struct
		    sockaddr *)&o->ss, a, sizeof(a)));
	}
	for (j = 0; j < cfg->nlisteners; j++) {
		if (taken[j])
			continue;
		nl[n] = cfg->listeners[j];
		if (listen_bind_one(&nl[n]) == -1) {
			log_warnx("not listening on %s", addr_ntop((struct
			    sockaddr *)&nl[n].ss, a, sizeof(a)));
			continue;
		}
		felink_listener(nl[n].fd, 0);
		log_info("listening on %s", addr_ntop((struct sockaddr *)
		    &nl[n].ss, a, sizeof(a)));
		n++;
	}
done:
	free(taken);
	free(gone);
	free(cfg->listeners);
	if (nl == NULL) {
		cfg->listeners = old->listeners;
		n = old->nlisteners;
	} else {
		cfg->listeners = nl;
		free(old->listeners);
	}
	cfg->nlisteners = n;
	old->listeners = NULL;
	old->nlisteners = 0;
	listen_defer(cfg);
}
