/* SPDX-License-Identifier: ISC */
/*
 * status.c: the status socket, where "oneport status" (or anything that
 * writes a line to a unix stream socket) reads the counters of stats.c:
 * "status" a table, "json" the same for scripts, "metrics" the
 * Prometheus text format. Only root, oneportd's own user and the
 * configured group may read it: the file's mode says so to the kernel,
 * and each peer's credentials are checked again at accept.
 *
 * The parent never waits for a reader: the view is rendered into a
 * bounded buffer and written as the socket takes it; a reader that
 * does not take it in time is cut off, and connections are capped.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "parent.h"

#define STATUS_CONNS	8
#define STATUS_REQ_MAX	64		/* the request line */
#define STATUS_OUT_MAX	(16u << 20)	/* the largest view */
#define STATUS_REQ_NS	(2000ull * 1000000)	/* to send the line */
#define STATUS_IDLE_NS	(5000ull * 1000000)	/* without taking a byte */
#define STATUS_ALL_NS	(30000ull * 1000000)	/* to take all of it */
#define STATUS_LOG_NS	(1000ull * 1000000)
#define STATUS_GROUPS	256		/* a peer's groups looked at */
#define METRICS_FDS	8		/* "metrics on" sockets */
#define METRICS_NS	(250ull * 1000000)	/* a render at most per */

struct sconn {
	struct src	 src;		/* first: epoll data points here */
	int		 fd;		/* -1: free */
	char		 req[STATUS_REQ_MAX];
	size_t		 reqlen;
	struct sbuf	 out;		/* out.p set: writing */
	size_t		 off;
	uint64_t	 accepted_ns, deadline_ns;
};

static struct {
	int		 fd;
	char		*path;
	gid_t		 gid;
	int		 group;		/* gid is a reader's group */
	struct src	 src;		/* the listener's; ptr NULL */
	int		 watched;
	struct sconn	 conns[STATUS_CONNS];
	int		 nconns;
	uint64_t	 logged_ns;
	unsigned int	 unlogged;
	int		 mfds[METRICS_FDS];	/* bound once, at start */
	int		 nmfds;
	int		 mbound;
	uint64_t	 msent_ns;	/* the frontend's last text */
	int		 masked;	/* it asked; due at msent_ns + METRICS_NS */
} s = { .fd = -1 };

static void	metrics_send(void);

/* What any local user can make happen is logged once a second. */
static int
status_log_due(unsigned int *held)
{
	uint64_t	now = now_ns();

	if (s.logged_ns != 0 && now - s.logged_ns < STATUS_LOG_NS) {
		s.unlogged++;
		return 0;
	}
	*held = s.unlogged;
	s.logged_ns = now;
	s.unlogged = 0;
	return 1;
}

static void
status_update(void)
{
	int	want = s.fd != -1 && s.nconns < STATUS_CONNS;

	if (want == s.watched)
		return;
	/* No room in epoll: not accepting, tried again at the next change. */
	if (want && parent_watch(s.fd, &s.src) == -1)
		return;
	if (!want)
		parent_unwatch(s.fd);
	s.watched = want;
}

static void
conn_close(struct sconn *c)
{
	parent_unwatch(c->fd);
	close(c->fd);
	c->fd = -1;
	sbuf_free(&c->out);
	s.nconns--;
	status_update();
}

/* A refusal before the close; what the reader sent is read away first,
 * or the close would be a reset that may beat the answer. */
static void
status_refuse(int fd, const char *why)
{
	char	buf[STATUS_REQ_MAX];

	(void)recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	(void)send(fd, why, strlen(why), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Root, ourselves, or a member of the group (primary or not). */
static int
peer_allowed(int fd, uid_t *uidp)
{
	struct ucred	cr;
	gid_t		groups[STATUS_GROUPS];
	socklen_t	len = sizeof(cr);
	size_t		i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return 0;
	*uidp = cr.uid;
	if (cr.uid == 0 || cr.uid == geteuid())
		return 1;
	if (!s.group)
		return 0;
	if (cr.gid == s.gid)
		return 1;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == s.gid)
			return 1;
	return 0;
}

static void
status_accept(void)
{
	struct sconn	*c;
	unsigned int	 held;
	uid_t		 uid = (uid_t)-1;
	int		 fd, i, k;

	for (k = 0; k < STATUS_CONNS && s.watched; k++) {
		fd = accept4(s.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED && status_log_due(&held))
				log_warn("status: accept");
			return;
		}
		if (!peer_allowed(fd, &uid)) {
			status_refuse(fd, "-permission denied\n");
			close(fd);
			if (status_log_due(&held))
				log_warnx("status: uid %d refused: not root "
				    "nor in the status group (and %u more not "
				    "logged)", (int)uid, held);
			continue;
		}
		for (i = 0; s.conns[i].fd != -1; i++)
			;
		c = &s.conns[i];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->src.kind = SRC_STATSOCK;
		c->src.ptr = c;
		c->accepted_ns = now_ns();
		c->deadline_ns = c->accepted_ns + STATUS_REQ_NS;
		if (parent_watch(fd, &c->src) == -1) {
			close(fd);
			c->fd = -1;
			continue;
		}
		s.nconns++;
		status_update();
	}
}

/* Writes what the socket takes; done, it closes. */
static void
conn_write(struct sconn *c)
{
	ssize_t	n;

	while (c->off < c->out.len) {
		n = send(c->fd, c->out.p + c->off, c->out.len - c->off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			(void)parent_watch_out(c->fd, &c->src, 1);
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->off += n;
		c->deadline_ns = now_ns() + STATUS_IDLE_NS;
		if (c->deadline_ns > c->accepted_ns + STATUS_ALL_NS)
			c->deadline_ns = c->accepted_ns + STATUS_ALL_NS;
	}
	conn_close(c);
}

/* The request line: "status" (or empty), "json" or "metrics". */
static void
conn_request(struct sconn *c)
{
	enum stats_fmt	fmt;
	char		*req = c->req;

	req[strcspn(req, "\r\n")] = '\0';
	if (*req == '\0' || strcasecmp(req, "status") == 0)
		fmt = STATS_TEXT;
	else if (strcasecmp(req, "json") == 0)
		fmt = STATS_JSON;
	else if (strcasecmp(req, "metrics") == 0)
		fmt = STATS_PROM;
	else {
		status_refuse(c->fd, "-unknown request\n");
		conn_close(c);
		return;
	}
	/* Room kept to say it was cut. */
	c->out.max = STATUS_OUT_MAX - 64;
	stats_render(fmt, &c->out);
	if (c->out.cut) {
		c->out.max = STATUS_OUT_MAX;
		c->out.cut = 0;
		sbuf_printf(&c->out, "\n# cut: the view is larger than %u "
		    "bytes\n", STATUS_OUT_MAX);
	}
	if (c->out.p == NULL) {
		conn_close(c);
		return;
	}
	c->deadline_ns = now_ns() + STATUS_IDLE_NS;
	conn_write(c);
}

static void
conn_read(struct sconn *c)
{
	ssize_t	n;

	n = recv(c->fd, c->req + c->reqlen, sizeof(c->req) - 1 - c->reqlen,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* A request without its newline, then the end, counts. */
		if (n == 0 && c->reqlen > 0)
			conn_request(c);
		else
			conn_close(c);
		return;
	}
	c->reqlen += n;
	c->req[c->reqlen] = '\0';
	if (memchr(c->req, '\n', c->reqlen) != NULL)
		conn_request(c);
	else if (c->reqlen == sizeof(c->req) - 1)
		conn_close(c);
}

void
status_event(void *ptr)
{
	struct sconn	*c = ptr;

	if (c == NULL)
		status_accept();
	else if (c->fd != -1 && c->out.p != NULL)
		conn_write(c);
	else if (c->fd != -1)
		conn_read(c);
}

/* Readers that did not send their line, or take the view, in time. */
void
status_tick(uint64_t now)
{
	struct sconn	*c;
	unsigned int	 held;
	int		 i;

	if (s.masked && now >= s.msent_ns + METRICS_NS)
		metrics_send();
	for (i = 0; i < STATUS_CONNS; i++) {
		c = &s.conns[i];
		if (c->fd == -1 || c->deadline_ns > now)
			continue;
		if (c->out.p != NULL && status_log_due(&held))
			log_warnx("status: a reader took %zu of %zu bytes in "
			    "time: cut off (and %u more not logged)", c->off,
			    c->out.len, held);
		conn_close(c);
	}
}

/* ---- the frontend's metrics listeners ---- */

/* Bound once, by us (a port below 1024 needs root); the frontend
 * serves them. A change takes effect at restart. */
static void
metrics_bind(const struct config *cfg)
{
	char	a[ADDR_STRLEN];
	int	i, fd, one = 1;

	if (s.mbound) {
		if (cfg->nmetrics != s.nmfds)
			log_warnx("metrics changes take effect at restart");
		return;
	}
	s.mbound = 1;
	for (i = 0; i < cfg->nmetrics && s.nmfds < METRICS_FDS; i++) {
		const struct listener *l = &cfg->metrics[i];

		addr_ntop((const struct sockaddr *)&l->ss, a, sizeof(a));
		fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			log_warn("metrics on %s", a);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* An upgrade's new image binds it while the old one still
		 * serves it; only root's processes may share it so. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (l->ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) == -1 ||
		    listen(fd, 16) == -1) {
			log_warn("metrics on %s", a);
			close(fd);
			continue;
		}
		s.mfds[s.nmfds++] = fd;
	}
}

/* A new frontend: it gets the listeners first, on its empty socket. */
void
status_frontend_started(int sock)
{
	int	i;

	for (i = 0; i < s.nmfds; i++)
		if (ipc_send(sock, IPC_METRICS, NULL, 0, s.mfds[i]) == -1)
			log_warn("frontend: metrics listener");
	s.msent_ns = 0;
}

static void
metrics_send(void)
{
	struct sbuf	b;

	memset(&b, 0, sizeof(b));
	b.max = IPC_MAX - sizeof(struct ipc_hdr) - 64;
	stats_render(STATS_PROM, &b);
	if (b.cut) {
		b.max += 64;
		b.cut = 0;
		sbuf_printf(&b, "# cut: larger than one message\n");
	}
	if (b.p != NULL)
		felink_send(IPC_METRICS, b.p, b.len);
	sbuf_free(&b);
	s.msent_ns = now_ns();
	s.masked = 0;
}

/* A scrape waits: the text now, or once METRICS_NS has passed since
 * the last (the frontend is not trusted to ask at a sane rate). */
void
status_metrics_asked(void)
{
	if (s.nmfds == 0)
		return;
	if (now_ns() - s.msent_ns >= METRICS_NS)
		metrics_send();
	else
		s.masked = 1;
}

uint64_t
status_next_deadline(void)
{
	uint64_t	when = s.masked ? s.msent_ns + METRICS_NS : 0;
	int		i;

	for (i = 0; i < STATUS_CONNS; i++)
		if (s.conns[i].fd != -1 && (when == 0 ||
		    s.conns[i].deadline_ns < when))
			when = s.conns[i].deadline_ns;
	return when;
}

static void
status_close(void)
{
	if (s.fd == -1)
		return;
	if (s.watched)
		parent_unwatch(s.fd);
	close(s.fd);
	unlink(s.path);
	s.fd = -1;
	s.watched = 0;
	free(s.path);
	s.path = NULL;
}

/*
 * Open, move or close the socket as the config says; mode 0600, or
 * 0660 and the group's. One that cannot be made is said and done
 * without: the daemon serves on. Connections open stay.
 */
void
status_configure(const struct config *cfg)
{
	char	*path = NULL;
	int	 fd, i;

	if (s.nconns == 0)
		for (i = 0; i < STATUS_CONNS; i++)
			s.conns[i].fd = -1;
	s.src.kind = SRC_STATSOCK;
	s.src.ptr = NULL;
	s.group = cfg->status_group != NULL;
	s.gid = cfg->status_gid;
	metrics_bind(cfg);
	if (cfg->status == NULL) {
		status_close();
		return;
	}
	if (s.path == NULL || strcmp(s.path, cfg->status) != 0) {
		/* The default path, taken by another oneportd: not an
		 * error of this one's config. */
		if (!cfg->status_given && control_path_live(cfg->status)) {
			log_debug("status socket %s: another oneportd has it",
			    cfg->status);
			return;
		}
		if ((fd = control_listen_type("status socket", cfg->status,
		    0177, 16, SOCK_STREAM | SOCK_NONBLOCK)) == -1)
			return;
		if ((path = strdup(cfg->status)) == NULL) {
			log_warn("status socket %s", cfg->status);
			close(fd);
			unlink(cfg->status);
			return;
		}
		status_close();
		s.fd = fd;
		s.path = path;
	}
	if (chown(s.path, -1, s.group ? s.gid : getegid()) == -1 ||
	    chmod(s.path, s.group ? 0660 : 0600) == -1)
		log_warn("status socket %s", s.path);
	status_update();
}

/* An upgrade's old image: the path is the new image's socket now, and
 * the metrics sockets are shared with it (SO_REUSEPORT); ours close. */
void
status_detach(void)
{
	int	i;

	if (s.fd != -1) {
		if (s.watched)
			parent_unwatch(s.fd);
		close(s.fd);
		s.fd = -1;
		s.watched = 0;
	}
	for (i = 0; i < s.nmfds; i++)
		close(s.mfds[i]);
	s.nmfds = 0;
}

/* Stopping: the socket goes; readers in the middle get what is sent. */
void
status_shutdown(void)
{
	status_close();
}
