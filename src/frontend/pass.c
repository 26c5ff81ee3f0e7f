/* SPDX-License-Identifier: ISC */
/*
 * pass.c: hand-offs the frontend sends itself. For a pass service whose
 * channel speaks version 2 and whose clients the parent would not judge
 * again (no allow/deny list, no PROXY header), the parent lends the
 * frontend one end of a second data channel (WIRE_CHAN_FRONT) and a copy
 * of the service's end (LEND_PASS, LEND_BACK). The frontend then sends
 * the HANDOFF there itself, so a client meets two processes, not three:
 * the parent is off the path.
 *
 * It keeps what the parent keeps for a version 2 hand-off (lib/wire.h,
 * take-back): a record per client in flight, oldest first. The service's
 * ACCEPT (or refusing ACK) on the channel ends the record with the log
 * line. Past the deadline the HANDOFF still queued is received back from
 * the copy of the service's end and refused here; the kernel gives a
 * message to one reader only, so the service and we cannot both answer.
 * When the parent takes the channel away (the service went, or a reload
 * changed it), what is still queued goes to the parent as any client
 * does, which serves or refuses it.
 *
 * What the parent would check, the service checks instead: liboneport
 * takes a HANDOFF on a WIRE_CHAN_FRONT channel only for a TCP socket
 * whose peer is the address the message names, so the frontend can send
 * no more than it could pass to the parent.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ancil.h"
#include "frontend.h"
#include "refusal.h"
#include "takeback.h"
#include "wire.h"

#define PASS_TIMEOUT_NS		(2000ull * 1000000)	/* as the parent's */
#define FLIGHTS_MAX		4096	/* in flight; beyond, via the parent */
#define DRAIN_MAX		4096	/* notices read to settle a channel */

/* A client sent, until the service's notice or its take-back. */
struct flight {
	struct flight		*prev, *next;
	uint32_t		 id;
	int			 received;	/* the service has it: no
						 * deadline, notice awaited */
	uint64_t		 accepted_ns;
	uint64_t		 deadline_ns;
	enum proto		 proto;
	char			 name[SERVICE_NAME_MAX + 1];
	struct sockaddr_in6	 peer;		/* or sockaddr_in */
	char			 host[HOST_NAME_LEN + 1];
	char			 alpn[ALPN_NAME_LEN + 1];
};

/* Oldest first: queued (by deadline), then received (no deadline). */
struct flights {
	struct flight	*head, *tail;
};

static struct {
	struct flights	 queued, received;
	uint32_t	 n;
	uint32_t	 seq;
	uint32_t	 generation;	/* the config's, for IPC_DISPATCH */
	int		 parent;
} ps = { .parent = -1 };

static uint8_t	pbuf[WIRE_MSG_MAX];

void
pass_init(int parent)
{
	ps.parent = parent;
}

void
pass_generation(uint32_t generation)
{
	ps.generation = generation;
}

static void
flights_add(struct flights *l, struct flight *f)
{
	f->next = NULL;
	f->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

static void
flights_remove(struct flights *l, struct flight *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
}

/* Notices come in order, so the head is the one, nearly always. */
static struct flight *
flight_find(uint32_t id, struct flights **in)
{
	struct flight	*f;

	for (f = ps.queued.head; f != NULL; f = f->next)
		if (f->id == id) {
			*in = &ps.queued;
			return f;
		}
	for (f = ps.received.head; f != NULL; f = f->next)
		if (f->id == id) {
			*in = &ps.received;
			return f;
		}
	return NULL;
}

/* The record's end, with its log line (result NULL: none, the parent
 * will write it). */
static void
flight_end(struct flight *f, struct flights *in, const char *result)
{
	char	peer[ADDR_STRLEN], tags[PROTO_TAGS_MAX];

	flights_remove(in, f);
	ps.n--;
	if (result != NULL) {
		addr_ntop((const struct sockaddr *)&f->peer, peer,
		    sizeof(peer));
		proto_tags(tags, sizeof(tags), NULL, f->proto,
		    f->host[0] != '\0' ? f->host : NULL,
		    f->alpn[0] != '\0' ? f->alpn : NULL);
		log_info("conn peer=%s%s service=%s result=%s pid=- "
		    "dispatch=%.3fms lent", peer, tags, f->name,
		    log_quote(result), (now_ns() - f->accepted_ns) / 1e6);
		metrics_count(f->name, result);
	}
	free(f);
}

int
pass_send(const struct pass_client *pc)
{
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);
	const struct sockaddr	*lp = pc->local;
	struct wire_msg		 m;
	struct flight		*f;
	struct lent		*l;
	struct iovec		 iov;
	size_t			 len;

	if ((l = lend_find(LEND_PASS, pc->name)) == NULL || l->back == -1 ||
	    ps.n >= FLIGHTS_MAX)
		return -1;
	if (lp == NULL) {
		if (getsockname(pc->fd, (struct sockaddr *)&local,
		    &llen) == -1)
			return -1;
		lp = (const struct sockaddr *)&local;
	}
	memset(&m, 0, sizeof(m));
	m.type = WIRE_HANDOFF;
	if (++ps.seq > ~WIRE_ID_FRONT)
		ps.seq = 1;
	m.id = WIRE_ID_FRONT | ps.seq;
	snprintf(m.name, sizeof(m.name), "%s", pc->name);
	addr_wire(pc->peer, lp, &m.family,
	    m.peer_addr, &m.peer_port, m.local_addr, &m.local_port);
	if (pc->proto != PROTO_TCPMUX) {
		/* An implicit client: the service must not send "+". */
		m.type = WIRE_HANDOFF_RAW;
		m.proto = pc->proto;
		snprintf(m.match, sizeof(m.match), "%s",
		    pc->host != NULL ? pc->host : "");
		snprintf(m.alpn, sizeof(m.alpn), "%s",
		    pc->alpn != NULL ? pc->alpn : "");
	}
	if ((len = wire_encode(pbuf, sizeof(pbuf), &m)) == 0 ||
	    (f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	iov.iov_base = pbuf;
	iov.iov_len = len;
	if (fd_sendmsg(l->w.fd, &iov, 1, pc->fd) != (ssize_t)len) {
		lend_failed(LEND_PASS, pc->name, errno);
		free(f);
		return -1;
	}
	f->id = m.id;
	f->accepted_ns = pc->accepted_ns;
	f->deadline_ns = now_ns() + PASS_TIMEOUT_NS;
	f->proto = pc->proto;
	memcpy(f->name, m.name, sizeof(f->name));
	memcpy(&f->peer, pc->peer, pc->peer->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	memcpy(f->host, m.match, sizeof(f->host) < sizeof(m.match) ?
	    sizeof(f->host) - 1 : sizeof(m.match) - 1);
	memcpy(f->alpn, m.alpn, sizeof(f->alpn) < sizeof(m.alpn) ?
	    sizeof(f->alpn) - 1 : sizeof(m.alpn) - 1);
	flights_add(&ps.queued, f);
	ps.n++;
	return 0;
}

/* ACCEPT: served; a refusing ACK: the service lost the descriptor, and
 * no one holds the client to tell it. */
static void
notice(const uint8_t *buf, size_t len)
{
	struct wire_msg	 m;
	struct flights	*in;
	struct flight	*f;
	char		 result[WIRE_REASON_MAX + 2];

	if (wire_decode(buf, len, &m) == -1 ||
	    (f = flight_find(m.id, &in)) == NULL)
		return;
	if (m.type == WIRE_ACCEPT)
		flight_end(f, in, "+");
	else if (m.type == WIRE_ACK && m.status != 0) {
		snprintf(result, sizeof(result), "-%s",
		    m.reason[0] != '\0' ? m.reason : "refused");
		flight_end(f, in, result);
	}
}

/*
 * Up to max notices, without waiting, a batch per call: one recvmmsg
 * says as well that nothing more waits. -1: the channel ended.
 */
static int
notices(struct lent *l, int max)
{
	static uint8_t		bufs[ANCIL_BATCH_MAX][WIRE_MSG_MAX];
	struct ancil_msg	am[ANCIL_BATCH_MAX];
	int			i, n, done = 0;

	while (done < max) {
		for (i = 0; i < ANCIL_BATCH_MAX; i++) {
			am[i].buf = bufs[i];
			am[i].cap = sizeof(bufs[i]);
		}
		if ((n = ancil_recvm(l->w.fd, am, ANCIL_BATCH_MAX)) == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		for (i = 0; i < n; i++) {
			if (am[i].fd != -1)
				close(am[i].fd);	/* a notice has none */
			if (am[i].len == 0)
				return -1;
			if (am[i].len > 0)
				notice(bufs[i], (size_t)am[i].len);
		}
		done += n;
		if (n < ANCIL_BATCH_MAX)
			break;
	}
	return 0;
}

void
pass_event(struct lent *l)
{
	if (notices(l, 64) == -1)
		lend_drop(LEND_PASS, l->name, 0);
}

/* A client taken back: refused here, in its protocol. */
static void
refuse(int fd, const struct wire_msg *m, const char *reason)
{
	enum proto	proto = m->type == WIRE_HANDOFF_RAW ?
			    (enum proto)m->proto : PROTO_TCPMUX;
	char		out[REFUSAL_MAX];
	size_t		n;

	if (fd == -1)
		return;
	n = refusal_format(proto, refusal_class_of(reason), reason, out,
	    sizeof(out));
	if (n > 0)
		(void)linger_reply(fd, out, n);
	close(fd);
}

static void
refuse_flight(int fd, const struct wire_msg *m, const char *reason)
{
	struct flights	*in;
	struct flight	*f;
	char		 result[WIRE_REASON_MAX + 2];

	refuse(fd, m, reason);
	snprintf(result, sizeof(result), "-%s", reason);
	if ((f = flight_find(m->id, &in)) != NULL)
		flight_end(f, in, fd != -1 ? result : "unconfirmed");
}

/*
 * Past the deadline on l: every HANDOFF still queued whose record is due
 * is received back and refused. The head is peeked first, so one not due
 * stays; if the service took the head between the peek and our receive,
 * we got the next one, which goes back to the end unless it is due too.
 */
static void
overdue(struct lent *l, uint64_t now)
{
	struct flights	*in;
	struct flight	*f;
	struct wire_msg	 m;
	struct iovec	 iov;
	int64_t		 head;
	size_t		 len;
	int		 fd;

	while ((head = takeback_head(l->back)) != -1) {
		f = flight_find((uint32_t)head, &in);
		if (f != NULL && f->deadline_ns > now)
			break;
		if (takeback_recv(l->back, pbuf, sizeof(pbuf), &m, &fd,
		    &len) == 0)
			break;
		f = flight_find(m.id, &in);
		if (f != NULL && f->deadline_ns > now && fd != -1) {
			iov.iov_base = pbuf;
			iov.iov_len = len;
			if (fd_sendmsg(l->w.fd, &iov, 1, fd) == (ssize_t)len) {
				close(fd);
				continue;
			}
			refuse_flight(fd, &m, "service busy");
			continue;
		}
		log_warnx("%s: no acknowledgement in time", l->name);
		refuse_flight(fd, &m, "service not responding");
	}
}

uint64_t
pass_next_deadline(void)
{
	return ps.queued.head != NULL ? ps.queued.head->deadline_ns : 0;
}

void
pass_expire(uint64_t now)
{
	struct flight	*f;
	struct lent	*l;

	while ((f = ps.queued.head) != NULL && f->deadline_ns <= now) {
		if ((l = lend_find(LEND_PASS, f->name)) != NULL &&
		    l->back != -1) {
			(void)notices(l, DRAIN_MAX);
			if (ps.queued.head != f)
				continue;	/* its notice was waiting */
			overdue(l, now);
		}
		if (ps.queued.head == f) {
			/* Not queued: the service has it; its notice ends
			 * the record, or the channel's end does. */
			flights_remove(&ps.queued, f);
			f->received = 1;
			flights_add(&ps.received, f);
		}
	}
}

/* A client taken back as the channel goes: to the parent, as any. */
static void
redispatch(int fd, const struct wire_msg *m)
{
	struct ipc_dispatch	 d;
	struct flights		*in;
	struct flight		*f;

	if (fd == -1)
		return;
	memset(&d, 0, sizeof(d));
	d.generation = ps.generation;
	snprintf(d.name, sizeof(d.name), "%s", m->name);
	d.accepted_ns = now_ns();
	d.proto = m->type == WIRE_HANDOFF_RAW ? m->proto : PROTO_TCPMUX;
	snprintf(d.host, sizeof(d.host), "%s", m->match);
	snprintf(d.alpn, sizeof(d.alpn), "%s", m->alpn);
	if ((f = flight_find(m->id, &in)) != NULL)
		d.accepted_ns = f->accepted_ns;
	if (ipc_send(ps.parent, IPC_DISPATCH, &d, sizeof(d), fd) == -1) {
		refuse_flight(fd, m, "busy");
		return;
	}
	close(fd);
	if (f != NULL)
		flight_end(f, in, NULL);	/* the parent logs it */
}

/*
 * The channel goes (lend.c, before it closes it): the notices already
 * sent are read, every HANDOFF still queued goes to the parent, and a
 * record left is a client the service received and gave no notice of.
 */
void
pass_settle(struct lent *l)
{
	struct flight	*f, *next;
	struct wire_msg	 m;
	size_t		 len;
	int		 fd, i;

	(void)notices(l, DRAIN_MAX);
	for (i = 0; l->back != -1 && i < DRAIN_MAX &&
	    takeback_recv(l->back, pbuf, sizeof(pbuf), &m, &fd, &len) == 1;
	    i++)
		redispatch(fd, &m);
	for (f = ps.queued.head; f != NULL; f = next) {
		next = f->next;
		if (strcmp(f->name, l->name) == 0)
			flight_end(f, &ps.queued, "unconfirmed");
	}
	for (f = ps.received.head; f != NULL; f = next) {
		next = f->next;
		if (strcmp(f->name, l->name) == 0)
			flight_end(f, &ps.received, "unconfirmed");
	}
}
