/* SPDX-License-Identifier: ISC */
/*
 * metrics.c: what the frontend tells the parent about itself, and the
 * "metrics on" HTTP listener. The frontend counts the outcomes it
 * decides (by name and result, as its log lines say them) and reports
 * them with its pending clients in an IPC_FSTATS, at most every
 * FSTATS_MS. A scrape of GET /metrics asks the parent for the text
 * (the parent renders it from its counters, at a rate it bounds) and is
 * answered with it; the parent never meets an HTTP client.
 *
 * Everything is fixed-size: METRICS_CONNS scrapes at once, each under a
 * deadline; one snapshot shared by the replies being written.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"

#define METRICS_LISTENERS	8
#define METRICS_CONNS		16
#define METRICS_REQ_NS		(5000ull * 1000000)	/* request, reply */
#define METRICS_WAIT_NS		(2000ull * 1000000)	/* for the parent */
#define METRICS_FRESH_NS	(1000ull * 1000000)	/* served as is */

/* The parent's text, shared by the replies that send it. */
struct snap {
	int		 refs;
	uint64_t	 got_ns;
	size_t		 len;
	char		 text[];
};

enum mstate { M_FREE, M_READ, M_WAIT, M_WRITE };

struct mconn {
	struct watch	 w;		/* first: epoll data points here */
	enum mstate	 state;
	uint64_t	 asked_ns;	/* M_WAIT: since */
	uint64_t	 deadline_ns;
	char		 req[HTTP_HEAD_MAX];
	size_t		 reqlen;
	char		 head[256];	/* the status line and headers */
	size_t		 headlen;
	struct snap	*snap;		/* the body, or NULL */
	const char	*body;
	size_t		 bodylen;
	size_t		 off;		/* of head, then body */
};

static struct {
	int		 epfd, parent;
	struct ipc_fstats r;		/* since the last report */
	uint32_t	 sent_pending;
	uint64_t	 sent_ns;
	int		 want;		/* a scrape waits for the text */
	struct watch	 listeners[METRICS_LISTENERS];
	int		 nlisteners;
	struct mconn	 conns[METRICS_CONNS];
	struct snap	*snap;
} m;

void
metrics_init(int epfd, int parent)
{
	m.epfd = epfd;
	m.parent = parent;
}

/* ---- the report ---- */

/* An outcome the frontend decided: name as logged ("-" for none). */
void
metrics_count(const char *name, const char *result)
{
	struct ipc_fcount	*c;
	uint32_t		 i;

	for (i = 0; i < m.r.n; i++) {
		c = &m.r.c[i];
		if (strcmp(c->name, name) == 0 &&
		    strncmp(c->result, result, FSTATS_RESULT_LEN - 1) == 0) {
			c->n++;
			return;
		}
	}
	/* Full: the last slot takes whatever else comes. */
	if (m.r.n == IPC_FSTATS_MAX) {
		c = &m.r.c[IPC_FSTATS_MAX - 1];
		snprintf(c->name, sizeof(c->name), "-");
		snprintf(c->result, sizeof(c->result), "-other");
		c->n++;
		return;
	}
	c = &m.r.c[m.r.n++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	/* Printable, as the parent checks. */
	for (i = 0; result[i] != '\0' && i < sizeof(c->result) - 1; i++)
		c->result[i] = result[i] >= ' ' && result[i] <= '~' ?
		    result[i] : '?';
	c->result[i] = '\0';
	c->n = 1;
}

/* Sends the report if it is due (every FSTATS_MS at most, when
 * anything changed); a full socket keeps it for the next time. */
void
metrics_tick(uint64_t now, uint32_t pending, uint32_t pending_max)
{
	if (m.r.n == 0 && pending == m.sent_pending && !m.want)
		return;
	if (now - m.sent_ns < FSTATS_MS * 1000000ull)
		return;
	m.r.pending = pending;
	m.r.pending_max = pending_max;
	m.r.flags = m.want ? FSTATS_WANT : 0;
	if (ipc_send(m.parent, IPC_FSTATS, &m.r, sizeof(m.r), -1) == -1)
		return;
	m.sent_ns = now;
	m.sent_pending = pending;
	m.want = 0;
	memset(&m.r, 0, sizeof(m.r));
}

/*
 * The parent's watchdog asks whether our loop turns (IPC_PING): a report
 * now, due or not, even with nothing new in it. One the socket cannot
 * take now is tried again at each tick, as any report is.
 */
void
metrics_ping(uint32_t pending, uint32_t pending_max)
{
	m.sent_ns = 0;			/* past FSTATS_MS */
	m.sent_pending = ~pending;	/* something to say */
	metrics_tick(now_ns(), pending, pending_max);
}

uint64_t
metrics_next_deadline(uint32_t pending)
{
	uint64_t	when = 0;
	int		i;

	if (m.r.n > 0 || pending != m.sent_pending || m.want)
		when = m.sent_ns + FSTATS_MS * 1000000ull;
	for (i = 0; i < METRICS_CONNS; i++)
		if (m.conns[i].state != M_FREE && (when == 0 ||
		    m.conns[i].deadline_ns < when))
			when = m.conns[i].deadline_ns;
	return when;
}

/* ---- the HTTP side ---- */

static void
snap_drop(struct snap *s)
{
	if (s != NULL && --s->refs == 0)
		free(s);
}

static void
conn_end(struct mconn *c)
{
	epoll_ctl(m.epfd, EPOLL_CTL_DEL, c->w.fd, NULL);
	close(c->w.fd);
	snap_drop(c->snap);
	memset(c, 0, sizeof(*c));
	c->state = M_FREE;
}

static void
conn_out(struct mconn *c)
{
	struct epoll_event	ev;
	ssize_t			n;
	const char		*p;
	size_t			 len;

	for (;;) {
		if (c->off < c->headlen) {
			p = c->head + c->off;
			len = c->headlen - c->off;
		} else if (c->off < c->headlen + c->bodylen) {
			p = c->body + (c->off - c->headlen);
			len = c->headlen + c->bodylen - c->off;
		} else {
			conn_end(c);
			return;
		}
		n = send(c->w.fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			memset(&ev, 0, sizeof(ev));
			ev.events = EPOLLOUT;
			ev.data.ptr = &c->w;
			epoll_ctl(m.epfd, EPOLL_CTL_MOD, c->w.fd, &ev);
			return;
		}
		if (n <= 0) {
			conn_end(c);
			return;
		}
		c->off += n;
	}
}

static void
conn_reply(struct mconn *c, const char *status, struct snap *s,
    const char *body)
{
	c->snap = s;
	if (s != NULL) {
		s->refs++;
		c->body = s->text;
		c->bodylen = s->len;
	} else {
		c->body = body;
		c->bodylen = strlen(body);
	}
	c->headlen = snprintf(c->head, sizeof(c->head), "HTTP/1.1 %s\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
	    c->bodylen);
	c->state = M_WRITE;
	c->deadline_ns = now_ns() + METRICS_REQ_NS;
	c->off = 0;
	conn_out(c);
}

static void
conn_in(struct mconn *c)
{
	ssize_t	n;

	n = recv(c->w.fd, c->req + c->reqlen, sizeof(c->req) - c->reqlen,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_end(c);
		return;
	}
	c->reqlen += n;
	switch (metrics_request((const uint8_t *)c->req, c->reqlen)) {
	case METRICS_AGAIN:
		if (c->reqlen == sizeof(c->req))
			conn_reply(c, "431 Request Header Fields Too Large",
			    NULL, "request too large\n");
		return;
	case METRICS_GET:
		break;
	case METRICS_NOT_FOUND:
		conn_reply(c, "404 Not Found", NULL, "only /metrics here\n");
		return;
	case METRICS_METHOD:
		conn_reply(c, "405 Method Not Allowed", NULL, "GET only\n");
		return;
	case METRICS_BAD:
		conn_reply(c, "400 Bad Request", NULL, "bad request\n");
		return;
	}
	if (m.snap != NULL && now_ns() - m.snap->got_ns < METRICS_FRESH_NS) {
		conn_reply(c, "200 OK", m.snap, NULL);
		return;
	}
	/* The parent is asked for the text; the reply waits for it. */
	c->state = M_WAIT;
	c->asked_ns = now_ns();
	c->deadline_ns = c->asked_ns + METRICS_WAIT_NS;
	m.want = 1;
}

static void
metrics_accept(int lfd)
{
	static const char	 busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	struct epoll_event	 ev;
	struct mconn		*c = NULL;
	int			 fd, i;

	for (i = 0; i < METRICS_CONNS; i++)
		if (m.conns[i].state == M_FREE) {
			c = &m.conns[i];
			break;
		}
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	if (c == NULL) {
		/* Scrapes come a few at a time; more is a flood. */
		(void)send(fd, busy, sizeof(busy) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->w.kind = W_METRICS;
	c->w.fd = fd;
	c->state = M_READ;
	c->deadline_ns = now_ns() + METRICS_REQ_NS;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &c->w;
	if (epoll_ctl(m.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		close(fd);
		c->state = M_FREE;
	}
}

/* Draining (an upgrade): the new image's frontend takes the scrapes;
 * those being answered here finish. */
void
metrics_drain(void)
{
	int	i;

	for (i = 0; i < m.nlisteners; i++) {
		epoll_ctl(m.epfd, EPOLL_CTL_DEL, m.listeners[i].fd, NULL);
		close(m.listeners[i].fd);
	}
	m.nlisteners = 0;
}

/* An event on a metrics listener or connection. */
void
metrics_event(struct watch *w)
{
	struct mconn	*c;
	int		 i;

	for (i = 0; i < m.nlisteners; i++)
		if (w == &m.listeners[i]) {
			metrics_accept(w->fd);
			return;
		}
	c = (struct mconn *)w;
	if (c->state == M_READ)
		conn_in(c);
	else if (c->state == M_WRITE)
		conn_out(c);
}

/* Scrapes past their deadline: one waiting for the parent gets what
 * there is, any other is closed. */
void
metrics_expire(uint64_t now)
{
	struct mconn	*c;
	int		 i;

	for (i = 0; i < METRICS_CONNS; i++) {
		c = &m.conns[i];
		if (c->state == M_FREE || c->deadline_ns > now)
			continue;
		if (c->state == M_WAIT && m.snap != NULL)
			conn_reply(c, "200 OK", m.snap, NULL);
		else if (c->state == M_WAIT)
			conn_reply(c, "503 Service Unavailable", NULL,
			    "no metrics yet\n");
		else
			conn_end(c);
	}
}

/*
 * An IPC_METRICS from the parent: with an fd, a listener to serve (the
 * parent bound it); without, the text, for every scrape waiting.
 */
void
metrics_parent(const uint8_t *p, size_t len, int fd)
{
	struct epoll_event	 ev;
	struct snap		*s;
	int			 i;

	if (fd != -1) {
		if (m.nlisteners == METRICS_LISTENERS)
			fatalx("frontend: unexpected metrics listener");
		m.listeners[m.nlisteners].kind = W_METRICS;
		m.listeners[m.nlisteners].fd = fd;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = &m.listeners[m.nlisteners];
		if (epoll_ctl(m.epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
			fatal("frontend: metrics listener");
		m.nlisteners++;
		return;
	}
	if ((s = malloc(sizeof(*s) + len)) == NULL) {
		log_warn("frontend: metrics");
		return;
	}
	s->refs = 1;
	s->got_ns = now_ns();
	s->len = len;
	memcpy(s->text, p, len);
	snap_drop(m.snap);
	m.snap = s;
	for (i = 0; i < METRICS_CONNS; i++)
		if (m.conns[i].state == M_WAIT)
			conn_reply(&m.conns[i], "200 OK", s, NULL);
}
