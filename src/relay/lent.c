/* SPDX-License-Identifier: ISC */
/*
 * lent.c: the frontend's clients that come straight to the relay, on
 * the relay's ends of the sockets the parent lent the frontend
 * (IPC_LEND). A restarted frontend or a new lend makes a new one, and
 * the old one ends with an EOF once its messages are read. While the
 * parent's channel is full (relay_blocked) they are not read: each
 * client needs a STARTED first, so the frontend sends its next ones by
 * the parent.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "relay.h"

#define LENT_MAX	8	/* the parent keeps a copy of each (rlink.c) */

static struct {
	struct rwatch	*lent[LENT_MAX];
	struct rwatch	*gone;		/* closed in this batch */
	uint32_t	 gen;		/* the newest IPC_LEND's */
	int		 epfd;
} le;

void
lent_init(int epfd)
{
	le.epfd = epfd;
}

uint32_t
lent_generation(void)
{
	return le.gen;
}

/* After each batch: an event of it may still have named these. */
void
lent_reap(void)
{
	struct rwatch	*w;

	while ((w = le.gone) != NULL) {
		le.gone = w->gnext;
		free(w);
	}
}

/* The last one closed: the parent hears of it (relay_drained), with
 * the generation of the newest it lent. */
static void
lent_none_left(void)
{
	int	i;

	for (i = 0; i < LENT_MAX; i++)
		if (le.lent[i] != NULL)
			return;
	relay_drained();
}

/* Back to the parent, in turn with the STARTEDs. */
static int
lent_take(const struct ipc_dispatch *d, int fd, void *arg)
{
	struct ipc_started	s;

	(void)arg;
	memset(&s, 0, sizeof(s));
	s.d = *d;
	return relay_started(&s, fd);
}

/*
 * A lent socket we give up on: the parent holds a copy of our end (to
 * answer its clients if we die), so a close alone would leave the
 * frontend sending into a socket no one reads; what it sent before
 * goes back to the parent. At an EOF there is none.
 */
static void
lent_give_back(int fd)
{
	int	lost;

	if ((lost = ipc_lent_drain(fd, lent_take, NULL)) > 0)
		log_warnx("relay: %d clients of the frontend were lost with "
		    "its socket", lost);
}

static void
lent_close(struct rwatch *w)
{
	int	i;

	if (w->kind == RW_GONE)
		return;
	epoll_ctl(le.epfd, EPOLL_CTL_DEL, w->fd, NULL);
	lent_give_back(w->fd);
	close(w->fd);
	for (i = 0; i < LENT_MAX; i++)
		if (le.lent[i] == w)
			le.lent[i] = NULL;
	/* An event of this batch may still name it (closed as the DONEs
	 * went, or replaced by a newer one): freed after the batch. */
	w->kind = RW_GONE;
	w->fd = -1;
	w->gnext = le.gone;
	le.gone = w;
	lent_none_left();
}

/* Level-triggered, so a socket not read is not watched. */
static int
lent_watch(struct rwatch *w, int op, int on)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = on ? EPOLLIN : 0;
	ev.data.ptr = w;
	return epoll_ctl(le.epfd, op, w->fd, &ev);
}

/*
 * Out of the epoll set while DONEs wait, not watched with no events: a
 * closed peer's EPOLLHUP is reported whatever the events, and would wake
 * the loop for nothing until the parent reads. Back in, a socket that
 * cannot be watched (no memory) is closed: its clients go by the parent.
 */
void
lent_interest(int on)
{
	struct rwatch	*gone[LENT_MAX];
	int		 i, n = 0;

	for (i = 0; i < LENT_MAX; i++) {
		if (le.lent[i] == NULL)
			continue;
		if (!on)
			(void)epoll_ctl(le.epfd, EPOLL_CTL_DEL, le.lent[i]->fd, NULL);
		else if (lent_watch(le.lent[i], EPOLL_CTL_ADD, 1) == -1) {
			log_warn("relay: epoll_ctl: a lent socket closed");
			gone[n++] = le.lent[i];
		}
	}
	for (i = 0; i < n; i++)
		lent_close(gone[i]);
}

/* The parent's IPC_LEND: the relay's end of a socket lent the frontend. */
void
lent_add(const uint8_t *buf, size_t n, int fd)
{
	struct ipc_lend	 l;
	struct rwatch	*w;
	const char	*why;
	int		 i;

	if (ipc_lend_parse(IPC_LEND, buf, n, fd != -1, &l, &why) == -1 ||
	    l.kind != LEND_RELAY)
		fatalx("relay: %s from the parent", why ? why : "bad lend");
	le.gen = l.generation;
	for (i = 0; i < LENT_MAX && le.lent[i] != NULL; i++)
		;
	/* More than the frontend can have had: the oldest goes. */
	if (i == LENT_MAX)
		lent_close(le.lent[i = 0]);
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warnx("relay: out of memory: a lent socket closed");
		lent_give_back(fd);
		close(fd);
		lent_none_left();
		return;
	}
	w->kind = RW_LENT;
	w->fd = fd;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* While DONEs wait it is added when they are sent. */
	if (!relay_blocked() && lent_watch(w, EPOLL_CTL_ADD, 1) == -1) {
		/* Its clients go by the parent: the frontend's sends fail
		 * once the socket is full, or at its close. */
		log_warn("relay: epoll_ctl: a lent socket closed");
		close(fd);
		free(w);
		lent_none_left();
		return;
	}
	le.lent[i] = w;
}

static int
same_peer(const struct sockaddr_storage *ss, const struct sockaddr_in6 *p)
{
	const struct sockaddr_in	*a = (const struct sockaddr_in *)ss;
	const struct sockaddr_in	*b = (const struct sockaddr_in *)p;
	const struct sockaddr_in6	*a6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family != p->sin6_family)
		return 0;
	if (ss->ss_family == AF_INET)
		return a->sin_port == b->sin_port &&
		    a->sin_addr.s_addr == b->sin_addr.s_addr;
	return ss->ss_family == AF_INET6 && a6->sin6_port == p->sin6_port &&
	    a6->sin6_scope_id == p->sin6_scope_id &&
	    memcmp(&a6->sin6_addr, &p->sin6_addr, sizeof(p->sin6_addr)) == 0;
}

/* The kernel answers TCP_INFO for a TCP socket only (the parent's
 * check of what the frontend passes it, dispatch.c). */
static int
is_tcp(int fd)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0;
}

/*
 * A client the frontend sent straight here (IPC_DISPATCH on a lent
 * socket). The frontend meets clients and is not trusted: the socket
 * must be TCP and the peer it names the socket's own, since it goes
 * into the PROXY header and the log, and the local address is asked of
 * the socket. The parent hears of it (STARTED) before anything can end
 * it; a service the table lacks (a reload between the two) goes to the
 * parent as the frontend's clients do, in turn with the STARTEDs.
 */
static void
direct_start(const uint8_t *buf, size_t n, int fd)
{
	struct ipc_fmsg		 m;
	struct ipc_started	 s;
	struct ipc_forward	 f;
	struct sockaddr_storage	 ss, ls;
	socklen_t		 len = sizeof(ss), llen;
	const char		*why;
	int			 ix;

	if (ipc_frontend_parse(IPC_DISPATCH, buf, n, fd != -1, &m,
	    &why) == -1 || m.dispatch.flags != 0) {
		log_warnx("relay: %s from the frontend: dropped",
		    why != NULL ? why : "a dispatch only the parent takes");
		if (fd != -1)
			close(fd);
		return;
	}
	ix = table_find(m.dispatch.name);
	/* The local address only for a PROXY header. */
	memset(&ls, 0, sizeof(ls));
	llen = 0;
	if (!is_tcp(fd)) {
		log_warnx("relay: the frontend sent what is not a TCP "
		    "connection: dropped");
		close(fd);
		return;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (ix != -1 && table_forward(ix)->proxy != 0 &&
	    (llen = sizeof(ls), getsockname(fd, (struct sockaddr *)&ls,
	    &llen)) == -1)) {
		close(fd);	/* the client is gone, or it is no socket */
		return;
	}
	if (!same_peer(&ss, &m.dispatch.peer)) {
		log_warnx("relay: the frontend named a peer that is not the "
		    "socket's: dropped");
		close(fd);
		return;
	}
	memset(&s, 0, sizeof(s));
	s.d = m.dispatch;
	if (ix == -1) {
		/* In turn with the STARTEDs: a full channel queues it. */
		if (relay_started(&s, fd) == -1) {
			log_warnx("relay: out of memory: a client for the "
			    "parent was lost");
			close(fd);
		}
		return;
	}
	if ((s.id = id_get()) == 0) {
		log_warnx("relay: out of connection ids: a client dropped");
		close(fd);
		return;
	}
	if (relay_started(&s, -1) == -1) {
		log_warnx("relay: out of memory: a client dropped");
		id_put(s.id);
		close(fd);
		return;
	}
	f = *table_forward(ix);
	f.id = s.id;
	f.proto = s.d.proto;
	f.flags = f.proto == PROTO_TCPMUX ? FORWARD_PLUS : 0;
	f.peer = s.d.peer;
	memcpy(&f.local, &ls, llen < sizeof(f.local) ? llen :
	    sizeof(f.local));
	memcpy(f.host, s.d.host, sizeof(f.host));
	memcpy(f.alpn, s.d.alpn, sizeof(f.alpn));
	relay_forward(&f, fd);
}

/* The frontend's clients on a lent socket; its end closed: ours too.
 * While a DONE waits (parent_interest), the socket is not watched. */
void
lent_read(struct rwatch *w)
{
	struct ipc_hdr	 hdr;
	uint8_t		 buf[sizeof(struct ipc_dispatch) + 64];
	ssize_t		 n;
	int		 fd, i;

	for (i = 0; i < 64 && !relay_blocked() && w->kind == RW_LENT; i++) {
		n = ipc_recv(w->fd, &hdr, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == 0 && hdr.type == 0) {
			lent_close(w);
			return;
		}
		if (n >= 0 && hdr.type == IPC_DISPATCH) {
			direct_start(buf, n, fd);
			continue;
		}
		if (n == -1 && errno == EMFILE) {
			/* The kernel closed the client's fd: it is gone. */
			log_warnx("relay: out of descriptors: a client of "
			    "the frontend was lost");
			continue;
		}
		if (fd != -1)
			close(fd);
		log_warnx("relay: unexpected message on the frontend's "
		    "socket: closed");
		lent_close(w);
		return;
	}
}
