/* SPDX-License-Identifier: ISC */
/*
 * relay.c: the relay's loop. Each client comes from the parent with its
 * backend's addresses (IPC_FORWARD); the relay connects to them in order
 * within a deadline, says "+" to a TCPMUX client only once connected,
 * writes the PROXY header first if asked, then splices both ways through
 * a pipe per direction. A full pipe stops reading its side (back-
 * pressure: the kernel's pipe is all the buffering there is), an empty
 * one stops writing; an EOF is passed on as a shutdown once its pipe is
 * drained. Nothing a client or backend does makes it exit.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "proxyout.h"
#include "relay.h"

#define SCAN_NS		(250ull * 1000000)	/* deadlines checked this often */
#define ROUNDS		16		/* splices per wake, for fairness */

#define REASON_UNAVAIL	"service unavailable"
#define REASON_BUSY	"service busy"


struct conn {
	struct rwatch	 cl, be;
	struct way	 up, down;	/* client->backend, backend->client */
	struct ipc_forward f;
	int		 connected;
	int		 retry;		/* a unix backend's queue was full */
	int		 tix;		/* its service's table entry, or -1 */
	uint32_t	 ai;		/* the backend address being tried */
	uint8_t		 hdr[PROXYOUT_MAX];	/* the PROXY header, to send */
	size_t		 hdrlen, hdroff;
	uint64_t	 deadline_ns;	/* connect by */
	uint64_t	 last_ns;	/* a byte moved, either way */
	uint64_t	 connected_ns;
	struct ipc_done	 done;		/* its end, told to the parent */
	int		 done_fd;	/* the client, refused: with the DONE */
	int		 dead;		/* ended, freed after this batch */
	int		 again;		/* on the ready list */
	struct conn	*prev, *next;	/* rl.conns, or rl.dead */
	struct conn	*rnext;		/* rl.ready */
};

static struct {
	struct rwatch	 parent;
	int		 epfd;
	int		 debug;
	struct conn	*conns;
	struct conn	*dead;		/* ended in this batch */
	struct conn	*pending, **pending_tail; /* DONE not sent yet */
	struct startq	*startq, **startq_tail;	/* STARTED, or a client
						 * back, not sent yet */
	int		 parent_out;	/* the channel is watched for room */
	int		 drain;		/* IPC_DRAIN to send (relay_drained) */
	struct conn	*ready;		/* to pump again without an event */
	int		 nconns;
	uint64_t	 next_scan;
} rl;

/* A STARTED the channel did not take, or (fd not -1) a client for the
 * parent (IPC_DISPATCH of s.d): sent in order, before any DONE. */
struct startq {
	struct startq		*next;
	struct ipc_started	 s;
	int			 fd;
};

static void	conn_end(struct conn *, const char *result, int refuse);

/* Something waits for room in the parent's channel. */
static int
queued(void)
{
	return rl.pending != NULL || rl.startq != NULL;
}

static void	fwdtab(const uint8_t *, size_t, int);

static void
log_to_parent(int pri, const char *msg)
{
	ipc_send_log(rl.parent.fd, pri, msg);
}

/*
 * Edge-triggered, for everything at once: the flags of each way say
 * what to try, and every stop waits for an edge that will come (an
 * EAGAIN on a socket, or bytes in a pipe whose sink will say when it
 * takes them), so no interest is ever changed and nothing spins.
 */
static int
watch_add(struct rwatch *w)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = w;
	return epoll_ctl(rl.epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

/*
 * DONEs the channel did not take wait here, in order, each in its ended
 * connection (so they are bounded by the connections the parent let in:
 * it holds a slot for each until its DONE), and no FORWARD is read while
 * one waits: a full channel is back-pressure on the parent, and relaying
 * goes on. The channel is then watched for room instead of messages.
 */
static void
parent_interest(int out)
{
	struct epoll_event	ev;

	if (out == rl.parent_out)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = out ? EPOLLOUT : EPOLLIN;
	ev.data.ptr = &rl.parent;
	if (epoll_ctl(rl.epfd, EPOLL_CTL_MOD, rl.parent.fd, &ev) == -1)
		fatal("relay: epoll_ctl");
	rl.parent_out = out;
	/* The frontend's clients would need a STARTED each: they wait. */
	lent_interest(!out);
}

/* A message waits for room in the parent's channel: lent.c reads no
 * client meanwhile. */
int
relay_blocked(void)
{
	return rl.parent_out;
}

static void	done_flush(void);

/*
 * The frontend's last socket closed: the parent hears the generation of
 * the newest it lent (IPC_DRAIN, after the DONEs before it): no client
 * will come that way again, so a relay that drains may stop once its
 * own are done.
 */
void
relay_drained(void)
{
	rl.drain = 1;
	if (!queued() && !rl.parent_out)
		done_flush();
}

/* A STARTED, or with fd the client back to the parent: 0 sent (fd
 * closed), -1 the channel is full (anything else is fatal). */
static int
startq_try(const struct ipc_started *s, int fd)
{
	int	rv;

	rv = fd == -1 ? ipc_send(rl.parent.fd, IPC_STARTED, s, sizeof(*s), -1) :
	    ipc_send(rl.parent.fd, IPC_DISPATCH, &s->d, sizeof(s->d), fd);
	if (rv == 0) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (errno != EAGAIN && errno != ENOBUFS)
		fatal("relay: cannot tell the parent");
	return -1;
}

/* 0 sent, -1 the channel is full (anything else is fatal). */
static int
done_try(const struct ipc_done *d, int fd)
{
	if (ipc_send(rl.parent.fd, IPC_DONE, d, sizeof(*d), fd) == 0) {
		if (fd != -1)
			close(fd);
		if (d->id & DONE_DIRECT)
			id_put(d->id);
		return 0;
	}
	if (errno != EAGAIN && errno != ENOBUFS)
		fatal("relay: cannot tell the parent");
	return -1;
}

/* The waiting messages, as far as the channel takes them: STARTEDs
 * first, since a DONE may end one of theirs (a DONE's id is not given
 * again until it is sent, so no STARTED can be for an id a waiting DONE
 * still names). */
static void
done_flush(void)
{
	struct conn	*c;
	struct startq	*q;
	uint32_t	 gen;

	while ((q = rl.startq) != NULL) {
		if (startq_try(&q->s, q->fd) == -1) {
			parent_interest(1);
			return;
		}
		if ((rl.startq = q->next) == NULL)
			rl.startq_tail = &rl.startq;
		free(q);
	}
	while ((c = rl.pending) != NULL) {
		if (done_try(&c->done, c->done_fd) == -1) {
			parent_interest(1);
			return;
		}
		if ((rl.pending = c->next) == NULL)
			rl.pending_tail = &rl.pending;
		/* An event of this batch may still name it. */
		c->next = rl.dead;
		rl.dead = c;
	}
	/* After the DONEs before it: a draining relay's parent stops it
	 * once it has them all and this. */
	if (rl.drain) {
		gen = lent_generation();
		if (ipc_send(rl.parent.fd, IPC_DRAIN, &gen, sizeof(gen),
		    -1) == -1) {
			if (errno != EAGAIN && errno != ENOBUFS)
				fatal("relay: cannot tell the parent");
			parent_interest(1);
			return;
		}
		rl.drain = 0;
	}
	parent_interest(0);
}

/* The result's text, NUL-terminated in its field; fd the client to
 * refuse, or -1. 0: sent or queued in c (which then stays until it is
 * sent), 1: sent, c may go. */
static int
done_send(struct conn *c, const char *result, int fd)
{
	struct ipc_done	*d = &c->done;

	memset(d, 0, sizeof(*d));
	d->id = c->f.id;
	d->flags = fd != -1 ? DONE_REFUSED : 0;
	snprintf(d->result, sizeof(d->result), "%s", result);
	d->in = c->up.bytes;
	d->out = c->down.bytes;
	d->connected_ns = c->connected_ns;
	d->done_ns = now_ns();
	if (d->connected_ns == 0 || d->done_ns < d->connected_ns)
		d->done_ns = d->connected_ns == 0 ? d->done_ns :
		    d->connected_ns;
	c->done_fd = fd;
	if (!queued() && done_try(d, fd) == 0)
		return 1;
	c->next = NULL;
	*rl.pending_tail = c;
	rl.pending_tail = &c->next;
	parent_interest(1);
	return 0;
}

/* A DONE for a client that never had a connection here (no memory, no
 * descriptor): sent at once, or queued in a struct of its own, or
 * dropped with a word when even that fails (the parent's slot then
 * stays until the relay goes). */
static void
done_orphan(uint32_t id, const char *result, int fd)
{
	struct ipc_done	 d;
	struct conn	*c;

	/* Most often the channel has room: no memory needed. */
	if (!queued()) {
		memset(&d, 0, sizeof(d));
		d.id = id;
		d.flags = fd != -1 ? DONE_REFUSED : 0;
		snprintf(d.result, sizeof(d.result), "%s", result);
		d.done_ns = now_ns();
		if (done_try(&d, fd) == 0)
			return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("relay: out of memory: connection %u not told", id);
		if (fd != -1)
			close(fd);
		return;
	}
	c->f.id = id;
	if (done_send(c, result, fd) == 1)
		free(c);
}

/*
 * The end of a connection: everything closed and the parent told. With
 * refuse, the client has heard nothing and goes back to the parent,
 * which refuses it in its protocol.
 */
static void
conn_end(struct conn *c, const char *result, int refuse)
{
	/* The client's file may still be open in the parent (it closes its
	 * copy after the send, or has it back, refused): a close would not
	 * take it out of epoll. The backend's is ours alone. */
	if (c->cl.fd != -1) {
		epoll_ctl(rl.epfd, EPOLL_CTL_DEL, c->cl.fd, NULL);
		if (!refuse)
			close(c->cl.fd);
	}
	if (c->be.fd != -1)
		close(c->be.fd);
	table_count(c->tix, -1);
	way_close(&c->up);
	way_close(&c->down);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rl.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	rl.nconns--;
	c->dead = 1;
	c->prev = NULL;
	/* Events of this batch may still name it: freed after it, or once
	 * its DONE is sent. */
	if (done_send(c, result, refuse ? c->cl.fd : -1) == 1) {
		c->next = rl.dead;
		rl.dead = c;
	}
	c->cl.fd = c->be.fd = -1;
}

/* ---- connecting ---- */

static socklen_t
sa_len(const struct sockaddr_in6 *a)
{
	return a->sin6_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
}

/*
 * Start a connect to the next address; 0 in progress or done, -1 when
 * none is left. Out of descriptors is not the backend's fault: -2.
 */
/* The backend's socket, connecting or connected: 0, or -2 (no room). */
static int
backend_watch(struct conn *c, int fd)
{
	c->be.fd = fd;
	if (watch_add(&c->be) == -1) {
		close(fd);
		c->be.fd = -1;
		return -2;
	}
	return 0;
}

/*
 * A unix socket's connect ends at once: taken into its listen queue or
 * refused. A full queue (EAGAIN) is tried again at each scan until the
 * deadline, as a TCP backend slow to accept is waited for.
 */
static int
connect_path(struct conn *c)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->f.path, sizeof(c->f.path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -2;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		if (errno == EAGAIN) {
			c->retry = 1;
			return 0;
		}
		return -1;
	}
	c->retry = 0;
	return backend_watch(c, fd);
}

static int
connect_next(struct conn *c)
{
	const struct sockaddr_in6 *a;
	int			   fd;

	if (c->f.naddrs == 0)
		return connect_path(c);
	for (; c->ai < c->f.naddrs; c->ai++) {
		a = &c->f.addrs[c->ai];
		fd = socket(a->sin6_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				return -2;
			continue;
		}
		if (connect(fd, (const struct sockaddr *)a, sa_len(a)) == 0 ||
		    errno == EINPROGRESS)
			return backend_watch(c, fd);
		close(fd);
	}
	return -1;
}

static void	connected(struct conn *);

/*
 * A backend on this host has usually taken the connection by the time
 * connect(2) returns (the kernel ran the handshake in the call): then
 * "+" and the client's bytes go at once, not after another epoll_wait,
 * so they reach a backend as it wakes for the accept and it reads them
 * in the same wake-up. Its first EPOLLOUT, still to come, finds it
 * connected. Nothing can have come from the backend that the event of
 * its watch will not report (added before this): its reading waits for
 * that event. c may have ended when this returns.
 */
static void
connect_now(struct conn *c)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	if (c->be.fd == -1 || c->f.naddrs == 0 ||
	    getsockopt(c->be.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
	    len < offsetof(struct tcp_info, tcpi_state) + 1 ||
	    ti.tcpi_state != TCP_ESTABLISHED)
		return;
	c->down.drained = 1;
	connected(c);
}

static void	pump(struct conn *);

/* The backend took the connection: "+", the PROXY header, then bytes. */
static void
connected(struct conn *c)
{
	static const char	plus[] = "+\r\n";

	c->connected = 1;
	c->connected_ns = c->last_ns = now_ns();
	if (c->f.proxy == 1)
		c->hdrlen = proxyout_v1(c->hdr, sizeof(c->hdr),
		    (struct sockaddr *)&c->f.peer,
		    (struct sockaddr *)&c->f.local);
	else if (c->f.proxy == 2)
		c->hdrlen = proxyout_v2(c->hdr, sizeof(c->hdr),
		    (struct sockaddr *)&c->f.peer,
		    (struct sockaddr *)&c->f.local, c->f.host, c->f.alpn);
	if ((c->f.flags & FORWARD_PLUS) &&
	    send(c->cl.fd, plus, 3, MSG_NOSIGNAL | MSG_DONTWAIT) != 3) {
		conn_end(c, "-client gone", 0);
		return;
	}
	pump(c);
}

static void
connect_event(struct conn *c)
{
	int		err = 0, r;
	socklen_t	len = sizeof(err);

	if (getsockopt(c->be.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		connected(c);
		return;
	}
	if (err == EINPROGRESS || err == EALREADY)
		return;
	close(c->be.fd);
	c->be.fd = -1;
	c->ai++;
	if ((r = connect_next(c)) < 0)
		conn_end(c, r == -2 ? "-" REASON_BUSY : "-" REASON_UNAVAIL, 1);
	else
		connect_now(c);
}

/* ---- moving bytes ---- */

/*
 * One direction, as far as it goes now: from its source into the pipe,
 * from the pipe to its sink. Returns 1 if a byte moved, 0 if not, -1
 * when a side failed (a reset, a broken pipe): the connection ends.
 */
static int
way_move(struct conn *c, struct way *w, int from, int to, int hdr)
{
	ssize_t	n;
	int	moved = 0;

	if (w->queued >= w->cap)
		w->full = 1;
	if (!w->eof && !w->full && !w->drained) {
		n = splice(from, NULL, w->pipe[1], NULL, w->cap - w->queued,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			w->queued += n;
			moved = 1;
			/* Room may be left; the next round says. */
		} else if (n == 0)
			w->eof = 1;
		else if (errno == EAGAIN) {
			/* Either the socket is empty or the pipe is full;
			 * with bytes queued, wait for them to go first. An
			 * empty pipe: the socket is, and its next bytes
			 * bring an edge. */
			if (w->queued > 0) {
				w->full = 1;
				way_grow(w);
			} else
				w->drained = 1;
		} else if (errno != EINTR)
			return -1;
	}
	/* The PROXY header goes to the backend before any client byte. */
	if (hdr && c->hdroff < c->hdrlen && !w->blocked) {
		n = send(to, c->hdr + c->hdroff, c->hdrlen - c->hdroff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			c->hdroff += n;
		else if (n == -1 && errno == EAGAIN)
			w->blocked = 1;
		else
			return -1;
	}
	if (w->queued > 0 && !w->blocked && (!hdr || c->hdroff == c->hdrlen)) {
		n = splice(w->pipe[0], NULL, to, NULL, w->queued,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			w->queued -= n;
			w->bytes += n;
			w->full = 0;
			moved = 1;
		} else if (n == -1 && errno == EAGAIN)
			w->blocked = 1;
		else if (n == -1 && errno != EINTR)
			return -1;
	}
	if (w->eof && w->queued == 0 && !w->shut &&
	    (!hdr || c->hdroff == c->hdrlen)) {
		/* Passed on once all before it is. The backend's socket
		 * is ours alone and closes at once when the other way is
		 * over (pump): its close sends the same FIN, after all
		 * before it, with its receive queue at its end. */
		if (!hdr || !c->down.shut)
			shutdown(to, SHUT_WR);
		w->shut = 1;
		moved = 1;
	}
	return moved;
}

static void
pump(struct conn *c)
{
	int	i, up, down;

	for (i = 0; i < ROUNDS; i++) {
		if ((up = way_move(c, &c->up, c->cl.fd, c->be.fd, 1)) == -1 ||
		    (down = way_move(c, &c->down, c->be.fd, c->cl.fd, 0)) ==
		    -1) {
			conn_end(c, "+", 0);
			return;
		}
		if (up == 0 && down == 0)
			break;
		c->last_ns = now_ns();
	}
	if (c->up.shut && c->down.shut) {
		conn_end(c, "+", 0);
		return;
	}
	/* Still going: the others get their turn, then this one again
	 * (no edge will come for bytes we left). */
	if (i == ROUNDS && !c->again) {
		c->again = 1;
		c->rnext = rl.ready;
		rl.ready = c;
	}
}

static void
conn_event(struct rwatch *w, uint32_t events)
{
	struct conn	*c = w->c;

	if (c->dead)
		return;
	if (!c->connected) {
		/* The client waits, unread, until the backend is there. */
		if (w == &c->be && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			connect_event(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (w == &c->be)
			c->up.blocked = 0;
		else
			c->down.blocked = 0;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		if (w == &c->be)
			c->down.drained = 0;
		else
			c->up.drained = 0;
	}
	pump(c);
}

/* ---- the parent's messages ---- */

void
relay_forward(const struct ipc_forward *f, int fd)
{
	struct conn	*c;
	const char	*full;
	char		 result[64];
	int		 r, tix = table_find(f->name);

	/* The caps hold for every connection here, the parent's and those
	 * the frontend sent: only the relay sees them all. */
	if ((full = table_full(tix, rl.nconns)) != NULL) {
		snprintf(result, sizeof(result), "-%s", full);
		done_orphan(f->id, result, fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		done_orphan(f->id, "-" REASON_BUSY, fd);
		return;
	}
	c->f = *f;
	c->tix = tix;
	table_count(tix, 1);
	c->cl.kind = RW_CLIENT;
	c->be.kind = RW_BACKEND;
	c->cl.c = c->be.c = c;
	c->cl.fd = fd;
	c->be.fd = -1;
	c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
	c->next = rl.conns;
	if (rl.conns != NULL)
		rl.conns->prev = c;
	rl.conns = c;
	rl.nconns++;
	c->deadline_ns = now_ns() + f->connect_ms * 1000000ull;
	/* Nothing of the client is read until the backend is there. */
	/* No other status flag of a TCP socket matters here (O_ASYNC is
	 * nobody's): one call, not a F_GETFL before it. */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    watch_add(&c->cl) == -1 || way_open(&c->up) == -1 ||
	    way_open(&c->down) == -1) {
		conn_end(c, "-" REASON_BUSY, 1);
		return;
	}
	if ((r = connect_next(c)) < 0)
		conn_end(c, r == -2 ? "-" REASON_BUSY : "-" REASON_UNAVAIL, 1);
	else
		connect_now(c);
}

static void
parent_read(void)
{
	static uint8_t		 buf[sizeof(struct ipc_fwdtab) +
				    FWDTAB_MAX * sizeof(struct ipc_fwdsvc)];
	struct ipc_forward	 f;
	struct ipc_hdr		 hdr;
	const char		*why;
	ssize_t			 n;
	int			 fd, i;

	/* While a DONE waits, the parent's next clients wait too. */
	for (i = 0; i < 64 && !queued(); i++) {
		n = ipc_recv(rl.parent.fd, &hdr, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1 && errno == EMFILE) {
			/* The client's fd was dropped by the kernel (closed):
			 * the parent still frees its slot and logs it. */
			log_warnx("relay: out of descriptors: a connection "
			    "was lost");
			if (ipc_forward_parse(hdr.type, buf, hdr.len, 1, &f,
			    &why) == 0)
				done_orphan(f.id, "-" REASON_BUSY, -1);
			continue;
		}
		if (n == 0 && hdr.type == 0)
			exit(0);	/* the parent stops, or lost us */
		if (n == -1)
			fatal("relay: receive");
		if (hdr.type == IPC_LEND) {
			lent_add(buf, n, fd);
			continue;
		}
		if (hdr.type == IPC_FWDTAB) {
			fwdtab(buf, n, fd);
			continue;
		}
		if (hdr.type == IPC_PING) {
			/* The watchdog's (parent/proc.c): our loop turns. A
			 * full channel is the parent's to read, as good. */
			if (ipc_ping_parse(n, fd != -1, &why) == -1)
				fatalx("relay: %s from the parent", why);
			(void)ipc_send(rl.parent.fd, IPC_PING, NULL, 0, -1);
			continue;
		}
		if (ipc_forward_parse(hdr.type, buf, n, fd != -1, &f,
		    &why) == -1)
			fatalx("relay: %s from the parent", why);
		relay_forward(&f, fd);
	}
}

/* The parent's IPC_FWDTAB: the services the frontend may send here. */
static void
fwdtab(const uint8_t *buf, size_t n, int fd)
{
	struct ipc_fwdtab	 h;
	const uint8_t		*e;
	const char		*why;
	struct conn		*c;

	if (ipc_fwdtab_parse(IPC_FWDTAB, buf, n, fd != -1, &h, &e,
	    &why) == -1)
		fatalx("relay: %s from the parent", why);
	if (table_set(&h, e) == -1) {
		log_warnx("relay: out of memory: the old forward table "
		    "stays");
		return;
	}
	/* The connections that run on count against the new caps. */
	for (c = rl.conns; c != NULL; c = c->next) {
		c->tix = table_find(c->f.name);
		table_count(c->tix, 1);
	}
}

/*
 * The parent hears of a client before its DONE can come: now, or once
 * the channel has room (the lent sockets are not read meanwhile, so the
 * frontend sends its next clients by the parent). With fd, the client
 * itself goes back, in the same order. -1: no memory (fd still ours).
 */
int
relay_started(const struct ipc_started *s, int fd)
{
	struct startq	*q;

	if (!queued() && startq_try(s, fd) == 0)
		return 0;
	if ((q = malloc(sizeof(*q))) == NULL)
		return -1;
	q->s = *s;
	q->fd = fd;
	q->next = NULL;
	*rl.startq_tail = q;
	rl.startq_tail = &q->next;
	parent_interest(1);
	return 0;
}

/* Those that stopped at ROUNDS, once each. */
static void
again(void)
{
	struct conn	*c, *list = rl.ready;

	rl.ready = NULL;
	while ((c = list) != NULL) {
		list = c->rnext;
		c->again = 0;
		if (!c->dead)
			pump(c);
	}
}

/* Connect deadlines and idle times, every SCAN_NS at most. */
static void
scan(uint64_t now)
{
	struct conn	*c, *next;
	int		 r;

	for (c = rl.conns; c != NULL; c = next) {
		next = c->next;
		if (!c->connected && now >= c->deadline_ns)
			conn_end(c, "-" REASON_UNAVAIL, 1);
		else if (c->retry && (r = connect_path(c)) < 0)
			conn_end(c, r == -2 ? "-" REASON_BUSY :
			    "-" REASON_UNAVAIL, 1);
		else if (c->connected &&
		    now - c->last_ns >= c->f.idle_s * 1000000000ull)
			conn_end(c, "+", 0);
	}
	rl.next_scan = now + SCAN_NS;
}

static int
number(const char *s, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max)
		fatalx("-R: bad argument %s", s);
	return (int)v;
}

/*
 * argv: oneportd-relay -R USER ROOT DEBUG VERBOSE BACKEND...: the ports
 * the backends listen on, all it may connect to (Landlock), and the
 * paths of unix backends (/...), all its root will hold (sandbox.c).
 */
void
relay_run(int argc, char *argv[])
{
	struct epoll_event	 evs[64];
	struct rwatch		*w;
	struct conn		*c;
	struct ucred		 cr;
	socklen_t		 len = sizeof(cr);
	uint16_t		*ports;
	const char		**paths;
	uint64_t		 now;
	int			 i, n, type, timeout, nports = 0, npaths = 0;

	len = sizeof(type);
	if (argc < 6 || getsockopt(RL_CHANNEL_FD, SOL_SOCKET, SO_TYPE, &type,
	    &len) == -1 || type != SOCK_SEQPACKET)
		fatalx("-R: for oneportd's own use (its relay)");
	len = sizeof(cr);
	if (getsockopt(RL_CHANNEL_FD, SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == -1)
		fatal("relay: SO_PEERCRED");
	rl.debug = number(argv[4], 1);
	log_verbose = number(argv[5], 100);
	if ((ports = calloc(argc - 5, sizeof(*ports))) == NULL ||
	    (paths = calloc(argc - 5, sizeof(*paths))) == NULL)
		fatal("relay: calloc");
	for (i = 6; i < argc; i++)
		if (argv[i][0] == '/')
			paths[npaths++] = argv[i];
		else
			ports[nports++] = number(argv[i], 65535);
	rl.parent.kind = RW_PARENT;
	rl.parent.fd = RL_CHANNEL_FD;
	rl.pending_tail = &rl.pending;
	rl.startq_tail = &rl.startq;
	fcntl(rl.parent.fd, F_SETFD, FD_CLOEXEC);
	fcntl(rl.parent.fd, F_SETFL, O_NONBLOCK);
	prctl(PR_SET_NAME, "oneportd-relay");
	if (!rl.debug)
		log_set_sink(log_to_parent);
	else
		log_timestamps(1);
	if ((rl.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("relay: epoll_create1");
	lent_init(rl.epfd);
	{
		struct epoll_event	ev = { .events = EPOLLIN };

		ev.data.ptr = &rl.parent;
		if (epoll_ctl(rl.epfd, EPOLL_CTL_ADD, rl.parent.fd, &ev) == -1)
			fatal("relay: epoll_ctl");
	}

	relay_sandbox(argv[2], argv[3], cr.pid, ports, nports, paths, npaths);
	free(ports);
	free(paths);
	if (ipc_send(rl.parent.fd, IPC_READY, NULL, 0, -1) == -1)
		fatal("relay: ready");

	for (;;) {
		now = now_ns();
		timeout = -1;
		if (rl.ready != NULL)
			timeout = 0;
		else if (rl.conns != NULL)
			timeout = rl.next_scan <= now ? 0 :
			    (int)((rl.next_scan - now) / 1000000) + 1;
		n = epoll_wait(rl.epfd, evs, 64, timeout);
		if (n == -1 && errno != EINTR)
			fatal("relay: epoll_wait");
		/* A connection ended in this batch is marked, not freed
		 * (conn_end), so the events after it are skipped. */
		for (i = 0; i < n; i++) {
			w = evs[i].data.ptr;
			if (w->kind == RW_PARENT && rl.parent_out)
				done_flush();
			else if (w->kind == RW_PARENT)
				parent_read();
			else if (w->kind == RW_LENT)
				lent_read(w);
			else if (w->kind != RW_GONE)
				conn_event(w, evs[i].events);
		}
		again();
		while ((c = rl.dead) != NULL) {
			rl.dead = c->next;
			free(c);
		}
		lent_reap();
		if (rl.conns != NULL && now_ns() >= rl.next_scan)
			scan(now_ns());
	}
}
