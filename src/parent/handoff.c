/* SPDX-License-Identifier: ISC */
/*
 * handoff.c: the parent's side of "pass" services. A client's socket is
 * sent, with a HANDOFF message (lib/wire.h), over a unix SOCK_SEQPACKET
 * channel to a service that is already running; the service locks the
 * socket, ACCEPTs and writes "+" itself, and from then on the client and
 * the service talk directly. No byte is proxied, and no message has to
 * come back before the service may speak: one trip, not two.
 *
 * The parent still answers every refusal, failure and timeout with "-".
 * Two fences keep those answers from crossing a "+": on a channel that
 * closes, shutdown(2) first, so that no ACCEPT can be queued after the
 * parent has read the last one; on a timeout, the client socket's POSIX
 * lock, which the service holds from before its ACCEPT (lib/wire.h).
 *
 * The parent, not the frontend, talks to service sockets: connecting to
 * paths and checking peer credentials needs the filesystem and socket
 * calls the frontend's sandbox forbids, and the parent already holds the
 * client fd after dispatch, so the hand-off costs no extra hop.
 *
 * Channels come two ways: the parent connects to a configured service's
 * socket (and checks who listens there), or a service connects to the
 * control socket and REGISTERs a name (checked against "register" rules);
 * such a name lives exactly as long as its connection.
 *
 * A service that says HELLO (version 2) gets a data channel, a socketpair
 * of which the parent keeps its own end and a copy of the service's: the
 * parent closes the client as soon as its HANDOFF is queued there, so the
 * client's end does not wait for the parent's next wake-up, and answers a
 * client itself only after receiving its HANDOFF back from the service's
 * end (take-back): the kernel gives a message to one reader only, so
 * there is no lock and no "+" to cross. ACCEPT is then only a notice, for
 * the one log line.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ancil.h"
#include "parent.h"
#include "takeback.h"
#include "wire.h"

#define DRAIN_MAX		4096	/* messages read to settle a channel */
#define QUEUE_MAX		1024	/* hand-offs waiting for a full channel */
#define REGISTER_TIMEOUT_NS	(5000ull * 1000000)	/* REGISTER within */
/* Out of descriptors or memory here: the client hears it, we go on. */
#define REASON_NORES		"busy"

_Static_assert((int)PROTO_TLS == (int)WIRE_PROTO_TLS &&
    (int)PROTO_HTTP == (int)WIRE_PROTO_HTTP &&
    (int)PROTO_SSH == (int)WIRE_PROTO_SSH &&
    (int)PROTO_SILENCE == (int)WIRE_PROTO_SILENCE,
    "HANDOFF_RAW's proto is enum proto");

/* A client handed over, waiting for the service's ACCEPT or ACK. */
struct pending {
	uint32_t	 id;
	int		 client;
	uint64_t	 deadline_ns;
	uint64_t	 accepted_ns;
	int		 locked;	/* we hold its lock, or it is unsent:
					 * ours to answer */
	int		 v2;		/* on the data channel: client is -1
					 * once sent, the queue decides */
	enum proto	 proto;		/* implicit: no "+", refusals in it */
	uint8_t		*unsent;	/* HANDOFF the channel had no room for */
	size_t		 unsent_len;
	char		 peer[PEER_STRLEN];
	struct pending	*next;
};

struct channel {
	struct src	 src;		/* first: epoll data points here */
	int		 fd;
	char		 name[SERVICE_NAME_MAX + 1];
	int		 registered;	/* came in on the control socket */
	int		 active;	/* registered: REGISTER accepted */
	int		 port;		/* registered a port: redirect there */
	char		*path;		/* configured: the socket it reached */
	uid_t		 owner;		/* configured: the owner it was held to */
	int		 stale;		/* a reload changed its service */
	uid_t		 uid;		/* peer's, from SO_PEERCRED */
	uint64_t	 opened_ns;
	struct pending	*pending;	/* oldest first */
	int		 nunsent;	/* of them not sent yet: back-pressure */
	int		 out_armed;	/* we wait for the fd to be writable */
	/* Version 2 (HELLO): the data channel. */
	int		 v2;
	int		 dfd;		/* our end: HANDOFF out, ACCEPT in */
	int		 dpeer;		/* our copy of the service's end, never
					 * watched: take-back reads it */
	struct src	 dsrc;		/* SRC_CHANNEL for dfd, ptr ch too */
	int		 hello;		/* HELLO waits for the queue to empty */
	uint32_t	 lent;		/* a WIRE_CHAN_FRONT lent the frontend:
					 * its generation; 0 none */
	const char	*closing;	/* channel_close's reason */
	struct channel	*next;
};

static struct {
	struct channel		*channels;
	uint32_t		 next_id;
	uint32_t		 lendgen;	/* the last front lend's */
	int			 quiet;	/* the caller sends the names itself */
	const struct config	*cfg;	/* the current one */
} h;

static uint8_t	msgbuf[WIRE_MSG_MAX];

/* ---- channels ---- */

static struct channel *
channel_new(int fd, const char *name, int registered, uid_t uid)
{
	struct channel	*ch;

	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		log_warn("channel");
		return NULL;
	}
	ch->src.kind = SRC_CHANNEL;
	ch->src.ptr = ch;
	ch->fd = fd;
	ch->dfd = ch->dpeer = -1;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->registered = registered;
	ch->uid = uid;
	ch->opened_ns = now_ns();
	if (parent_watch(fd, &ch->src) == -1) {
		free(ch);
		return NULL;
	}
	ch->next = h.channels;
	h.channels = ch;
	return ch;
}

/* p->client -1: a version 2 hand-off the service received and never
 * gave notice of. Its client had no word from us; the line says why. */
static void
pending_fail(struct pending *p, const char *name, const char *reason)
{
	char	result[WIRE_REASON_MAX + 2];

	snprintf(result, sizeof(result), "-%s", reason);
	if (p->client != -1) {
		parent_refuse(p->client, p->proto, reason);
		close(p->client);
	} else
		snprintf(result, sizeof(result), "unconfirmed");
	free(p->unsent);
	parent_log_conn(p->peer, name, result, 0, p->accepted_ns);
	free(p);
}

static void	front_lend(struct channel *);
static void	front_unlend(struct channel *);
static void	channel_settle(struct channel *);
static void	data_settle(struct channel *, const char *);
static int	channel_upgrade(struct channel *);

/*
 * Every client still waiting on it gets "-", unless the service had
 * already taken it; a registered name goes.
 */
static void
channel_close(struct channel *ch, const char *reason)
{
	struct channel	**pp;
	struct pending	 *p;
	int		  was_name = ch->registered && ch->active;

	ch->closing = reason;
	channel_settle(ch);
	while ((p = ch->pending) != NULL) {
		ch->pending = p->next;
		pending_fail(p, ch->name, reason);
	}
	for (pp = &h.channels; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	front_unlend(ch);
	parent_unwatch(ch->fd);
	close(ch->fd);
	ch->fd = -1;
	if (ch->dfd != -1) {
		parent_unwatch(ch->dfd);
		close(ch->dfd);
		close(ch->dpeer);
		ch->dfd = ch->dpeer = -1;
	}
	if (ch->registered)
		control_closed(ch->uid);
	free(ch->path);
	ch->path = NULL;
	if (was_name) {
		log_info("unregistered %s (uid %d)", ch->name, (int)ch->uid);
		if (!h.quiet)
			parent_names_changed();
	}
	/* Events for it may still be in this epoll batch. */
	parent_defer_free(ch);
}

static struct channel *
channel_find(const char *name, int registered)
{
	struct channel	*ch;

	for (ch = h.channels; ch != NULL; ch = ch->next)
		if (ch->registered == registered && !ch->stale &&
		    (!registered || ch->active) && strcmp(ch->name, name) == 0)
			return ch;
	return NULL;
}

/*
 * Connect to a configured service's socket. Whoever listens there must be
 * its owner (or we ourselves, who made the socket for a supervised
 * program): anyone else could have bound a stale path.
 */
static struct channel *
channel_connect(const struct service *svc, const char **reason)
{
	struct sockaddr_un	 sun;
	struct channel		*ch;
	char			*path;
	uid_t			 uid = (uid_t)-1;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(svc->socket) >= sizeof(sun.sun_path)) {
		*reason = "service unavailable";
		return NULL;
	}
	memcpy(sun.sun_path, svc->socket, strlen(svc->socket));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		/* EMFILE, ENFILE, ENOBUFS: ours, not the service's. */
		log_warn("%s: socket", svc->name);
		*reason = REASON_NORES;
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("%s: connect %s", svc->name, svc->socket);
		close(fd);
		*reason = "service unavailable";
		return NULL;
	}
	if (control_peer_uid(fd, &uid) == -1 || (uid != svc->owner_uid &&
	    uid != geteuid())) {
		log_warnx("%s: %s is served by uid %d, not its owner %d: "
		    "refused", svc->name, svc->socket, (int)uid,
		    (int)svc->owner_uid);
		close(fd);
		*reason = "service unavailable";
		return NULL;
	}
	if ((path = strdup(svc->socket)) == NULL ||
	    (ch = channel_new(fd, svc->name, 0, uid)) == NULL) {
		free(path);
		close(fd);
		*reason = REASON_NORES;
		return NULL;
	}
	ch->path = path;
	ch->owner = svc->owner_uid;
	return ch;
}

static int
raw_send(int fd, uint8_t *buf, size_t len, int passfd)
{
	struct iovec	 iov;
	ssize_t		 n;

	iov.iov_base = buf;
	iov.iov_len = len;
	if ((n = fd_sendmsg(fd, &iov, 1, passfd)) == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

static int
wire_send(int fd, const struct wire_msg *m, int passfd)
{
	size_t	len;

	if ((len = wire_encode(msgbuf, sizeof(msgbuf), m)) == 0) {
		errno = EINVAL;
		return -1;
	}
	return raw_send(fd, msgbuf, len, passfd);
}

/* Wake for the channel HANDOFFs go on writable, or stop. */
static void
chan_watch_out(struct channel *ch, int on)
{
	if (ch->v2)
		parent_watch_out(ch->dfd, &ch->dsrc, on);
	else
		parent_watch_out(ch->fd, &ch->src, on);
}

/*
 * Send the hand-offs the channel had no room for, oldest first, until it
 * is full again; wake for it writable while any is left. Returns -1 if
 * the channel broke (and is closed).
 */
static int
channel_flush(struct channel *ch)
{
	struct pending	*p;

	for (p = ch->pending; p != NULL && ch->nunsent > 0; p = p->next) {
		if (p->unsent == NULL)
			continue;
		if (raw_send(p->v2 ? ch->dfd : ch->fd, p->unsent,
		    p->unsent_len, p->client) == -1) {
			if (errno == EAGAIN || errno == ENOBUFS)
				break;
			log_warn("%s: hand-off", ch->name);
			channel_close(ch, "service unavailable");
			return -1;
		}
		free(p->unsent);
		p->unsent = NULL;
		p->locked = 0;		/* the service may take it now */
		ch->nunsent--;
		if (p->v2) {
			close(p->client);	/* queued: the queue decides */
			p->client = -1;
		}
	}
	if ((ch->nunsent > 0) != ch->out_armed) {
		ch->out_armed = ch->nunsent > 0;
		chan_watch_out(ch, ch->out_armed);
	}
	if (ch->hello && ch->nunsent == 0)
		return channel_upgrade(ch);
	return 0;
}

/*
 * Hand client over to name's running service. svc is the configured
 * service, or NULL for a registered name. Returns 0 when the client is in
 * flight (answered later, on ACK, failure or timeout), or -1 with a reason
 * for "-": then the caller still owns client.
 */
int
handoff_pass(const struct service *svc, const struct ipc_dispatch *req,
    int client, const char *peer, const char **reason)
{
	const char		*name = req->name;
	const struct sockaddr	*psa = (const struct sockaddr *)&req->peer;
	const struct sockaddr	*lsa = (const struct sockaddr *)&req->local;
	struct channel		*ch;
	struct pending		*p, **pp;
	struct wire_msg		 m;
	size_t			 len;

	*reason = "service unavailable";
	if ((ch = channel_find(name, svc == NULL)) == NULL || ch->port) {
		if (svc == NULL)
			return -1;	/* unregistered, or a port name */
		if ((ch = channel_connect(svc, reason)) == NULL)
			return -1;
	}

	/* Before the send: once sent, the service may take the client. */
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("%s: hand-off", name);
		*reason = REASON_NORES;
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.type = WIRE_HANDOFF;
	m.id = ++h.next_id;
	snprintf(m.name, sizeof(m.name), "%s", name);
	addr_wire(psa, lsa, &m.family, m.peer_addr, &m.peer_port,
	    m.local_addr, &m.local_port);
	if (req->proto != PROTO_TCPMUX && req->proto != PROTO_TOKEN) {
		/* An implicit client: the service must not send "+". */
		m.type = WIRE_HANDOFF_RAW;
		m.proto = req->proto;	/* WIRE_PROTO_* has the same order */
		snprintf(m.match, sizeof(m.match), "%s", req->host);
		snprintf(m.alpn, sizeof(m.alpn), "%s", req->alpn);
	}
	if ((len = wire_encode(msgbuf, sizeof(msgbuf), &m)) == 0) {
		free(p);
		return -1;
	}
	/* Behind others that wait, or into a full channel: queued, and
	 * the client waits, up to its deadline, for the service to read. */
	p->v2 = ch->v2;
	if (ch->nunsent > 0 || raw_send(ch->v2 ? ch->dfd : ch->fd, msgbuf,
	    len, client) == -1) {
		if (ch->nunsent == 0 && errno != EAGAIN && errno != ENOBUFS) {
			/* Gone: a fresh connection next time. */
			log_warn("%s: hand-off", name);
			free(p);
			channel_close(ch, "service unavailable");
			return -1;
		}
		if (ch->nunsent >= QUEUE_MAX ||
		    (p->unsent = malloc(len)) == NULL) {
			*reason = ch->nunsent >= QUEUE_MAX ? "service busy" :
			    REASON_NORES;
			free(p);
			return -1;
		}
		memcpy(p->unsent, msgbuf, len);
		p->unsent_len = len;
		p->locked = 1;
		if (ch->nunsent++ == 0) {
			ch->out_armed = 1;
			chan_watch_out(ch, 1);
		}
	} else if (p->v2) {
		/* Queued on the data channel: the client is the service's
		 * once it reads the message, ours only if we read it back.
		 * Our copy goes now, so that the service's close ends the
		 * client's connection. */
		close(client);
		client = -1;
	}

	p->id = m.id;
	p->client = client;
	p->proto = req->proto;
	p->accepted_ns = req->accepted_ns;
	p->deadline_ns = now_ns() + HANDOFF_TIMEOUT_NS;
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	for (pp = &ch->pending; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	return 0;
}

/* ---- messages from services ---- */

/* The hand-off id waits on ch: it is the caller's now. NULL if not. */
static struct pending *
pending_take(struct channel *ch, uint32_t id)
{
	struct pending	**pp, *p;

	/* One not sent yet cannot have been answered: not due, ignored. */
	for (pp = &ch->pending; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id && (*pp)->unsent == NULL && !(*pp)->v2) {
			p = *pp;
			*pp = p->next;
			return p;
		}
	return NULL;	/* answered already: the client has had "-" */
}

/* The service has taken the client and says "+" itself: let go. */
static void
pending_accepted(struct channel *ch, struct pending *p)
{
	parent_log_conn(p->peer, ch->name, "+", 0, p->accepted_ns);
	if (p->client != -1)
		close(p->client);
	free(p);
}

/* status 1: "-reason". status 0 comes from a service of before ACCEPT,
 * which waits for GO: then "+" goes first, then GO, so that nothing of
 * the service's can come before it on the client's stream. */
static void
pending_acked(struct channel *ch, struct pending *p, const struct wire_msg *m)
{
	struct wire_msg	 go;
	char		 result[WIRE_REASON_MAX + 2];

	if (m->status != 0) {
		snprintf(result, sizeof(result), "-%s",
		    m->reason[0] != '\0' ? m->reason : "refused");
		/* Version 2: a notice; the descriptor was lost on the way
		 * and no one holds the client to tell it. */
		if (p->client != -1)
			parent_refuse(p->client, p->proto, result + 1);
		parent_log_conn(p->peer, ch->name, result, 0, p->accepted_ns);
	} else {
		if (p->proto == PROTO_TCPMUX)
			(void)send(p->client, "+\r\n", 3,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		memset(&go, 0, sizeof(go));
		go.type = WIRE_GO;
		go.id = m->id;
		if (wire_send(ch->fd, &go, -1) == -1)
			log_warn("%s: GO", ch->name);
		parent_log_conn(p->peer, ch->name, "+", 0, p->accepted_ns);
	}
	if (p->client != -1)
		close(p->client);
	free(p);
}

static void
on_answer(struct channel *ch, const struct wire_msg *m)
{
	struct pending	*p;

	if ((p = pending_take(ch, m->id)) == NULL)
		return;
	if (m->type == WIRE_ACCEPT)
		pending_accepted(ch, p);
	else
		pending_acked(ch, p, m);
	/* Replaced by a reload and now idle: let it go. */
	if (ch->stale && ch->pending == NULL)
		channel_close(ch, "service unavailable");
}

/*
 * One message from ch into m. Returns 1, 0 at end of stream or on a
 * failed read, -1 when nothing is waiting, -2 for a malformed message:
 * a descriptor came with it (closed), or anything wire_decode refuses.
 */
static int
chan_recv(struct channel *ch, struct wire_msg *m)
{
	ssize_t	n;
	int	fd, lost;

	n = ancil_recv(ch->fd, msgbuf, sizeof(msgbuf), &fd, &lost);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n == -1 && errno != EBADMSG)
		return 0;
	if (fd != -1)
		close(fd);
	if (n == -1 || fd != -1 || lost)
		return -2;
	if (n == 0)
		return 0;
	return wire_decode(msgbuf, n, m) == 0 ? 1 : -2;
}

/* ---- version 2: the data channel and take-back ---- */

/* The record of a sent version 2 hand-off, out of the list; or NULL. */
static struct pending *
v2_take(struct channel *ch, uint32_t id)
{
	struct pending	**pp, *p;

	for (pp = &ch->pending; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id && (*pp)->v2 && (*pp)->unsent == NULL) {
			p = *pp;
			*pp = p->next;
			return p;
		}
	return NULL;
}

/*
 * A notice read while a channel settles: an ACCEPT (the client was
 * served) or a refusing ACK, of a record take finds (version 1 or 2).
 */
static void
settle_notice(struct channel *ch, const struct wire_msg *m,
    struct pending *(*take)(struct channel *, uint32_t))
{
	struct pending	*p;

	if (m->type == WIRE_ACCEPT && (p = take(ch, m->id)) != NULL)
		pending_accepted(ch, p);
	else if (m->type == WIRE_ACK && m->status != 0 &&
	    (p = take(ch, m->id)) != NULL)
		pending_acked(ch, p, m);
}

/* We received it back: the client is ours to answer with "-reason". */
static void
take_back_answer(struct channel *ch, const struct wire_msg *m, int fd,
    const char *reason)
{
	struct pending	*p;

	if ((p = v2_take(ch, m->id)) == NULL) {
		/* Not ours to log (none in phase 1): answered all the same. */
		if (fd != -1) {
			parent_refuse(fd, m->type == WIRE_HANDOFF_RAW ?
			    (enum proto)m->proto : PROTO_TCPMUX, reason);
			close(fd);
		}
		return;
	}
	p->client = fd;		/* -1: lost here; the line says so */
	pending_fail(p, ch->name, reason);
}

/*
 * Past a deadline: every HANDOFF still queued whose record is overdue is
 * received back and refused. The head is peeked first so that one not due
 * stays where it is; if the service received the head between the peek
 * and our receive, we got the next one, which goes back to the end of the
 * queue unless it is overdue too. Whatever the service received is its
 * own: never answered here.
 */
static void
take_back_overdue(struct channel *ch, uint64_t now)
{
	struct wire_msg	 m;
	struct pending	*p;
	int64_t		 head;
	size_t		 len;
	int		 fd;

	while ((head = takeback_head(ch->dpeer)) != -1) {
		for (p = ch->pending; p != NULL && p->id != (uint32_t)head;
		    p = p->next)
			;
		if (p != NULL && p->deadline_ns > now)
			break;
		if (takeback_recv(ch->dpeer, msgbuf, sizeof(msgbuf), &m, &fd,
		    &len) == 0)
			break;
		for (p = ch->pending; p != NULL && p->id != m.id; p = p->next)
			;
		if (p != NULL && p->deadline_ns > now && fd != -1) {
			if (raw_send(ch->dfd, msgbuf, len, fd) == 0) {
				close(fd);
				continue;
			}
			take_back_answer(ch, &m, fd, "service busy");
			continue;
		}
		log_warnx("%s: no acknowledgement in time", ch->name);
		take_back_answer(ch, &m, fd, "service not responding");
	}
}

/*
 * The channel is closing: the notices already sent are read (those
 * clients were served), then every HANDOFF still queued is received back
 * and refused with reason. Reads without handling errors: the caller
 * closes the channel whatever happens.
 */
static void
data_settle(struct channel *ch, const char *reason)
{
	struct wire_msg	 m;
	size_t		 len;
	ssize_t		 n;
	int		 fd, lost, i;

	for (i = 0; i < DRAIN_MAX; i++) {
		n = ancil_recv(ch->dfd, msgbuf, sizeof(msgbuf), &fd, &lost);
		if (n <= 0)
			break;
		if (fd != -1)
			close(fd);
		if (wire_decode(msgbuf, (size_t)n, &m) == -1)
			continue;
		settle_notice(ch, &m, v2_take);
	}
	while (takeback_recv(ch->dpeer, msgbuf, sizeof(msgbuf), &m, &fd,
	    &len) == 1)
		take_back_answer(ch, &m, fd, reason != NULL ? reason :
		    "service unavailable");
}

/*
 * HELLO: the service speaks version 2. A socketpair becomes the data
 * channel: one end ours, the other sent with CHANNEL, a copy of it kept
 * for take-back. Our copy of the service's end stays blocking: its mode
 * is the service's too; we only read it with MSG_DONTWAIT. Failing, the
 * channel stays version 1. Returns -1 if ch was closed.
 */
static int
channel_upgrade(struct channel *ch)
{
	struct wire_msg	 m;
	int		 sv[2];

	if (ch->nunsent > 0) {
		ch->hello = 1;		/* after the version 1 queue */
		return 0;
	}
	ch->hello = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: data channel", ch->name);
		return 0;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    parent_watch(sv[0], &ch->dsrc) == -1) {
		log_warn("%s: data channel", ch->name);
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.type = WIRE_CHANNEL;
	m.kind = WIRE_CHAN_DAEMON;
	if (wire_send(ch->fd, &m, sv[1]) == -1) {
		log_warn("%s: CHANNEL", ch->name);
		parent_unwatch(sv[0]);
		close(sv[0]);
		close(sv[1]);
		if (errno == EAGAIN || errno == ENOBUFS)
			return 0;
		channel_close(ch, "service unavailable");
		return -1;
	}
	ch->dsrc.kind = SRC_CHANNEL;
	ch->dsrc.ptr = ch;
	ch->dfd = sv[0];
	ch->dpeer = sv[1];
	ch->v2 = 1;
	log_info("%s: version 2 channel (take-back)", ch->name[0] ?
	    ch->name : "control");
	front_lend(ch);
	return 0;
}

/*
 * A channel whose clients the frontend may send itself (src/frontend/
 * pass.c): version 2, current, a name, and no allow/deny list, since the
 * frontend's word on access is not taken (dispatch.c judges again).
 */
static int
front_eligible(const struct channel *ch)
{
	int	n;

	if (!ch->v2 || ch->stale || ch->port || ch->fd == -1 ||
	    (ch->registered && !ch->active) || h.cfg == NULL)
		return 0;
	(void)config_acl(h.cfg, ch->registered ? NULL :
	    config_find(h.cfg, ch->name), &n);
	return n == 0;
}

/*
 * A second data channel, WIRE_CHAN_FRONT: the service gets one end, the
 * frontend the other and a copy of the service's (LEND_PASS, LEND_BACK),
 * so that it sends HANDOFFs and takes them back without us. We keep
 * nothing of it: the frontend's clients are the frontend's to answer.
 * Failing, the clients go by us as before.
 */
static void
front_lend(struct channel *ch)
{
	struct wire_msg	 m;
	int		 sv[2];

	if (ch->lent != 0 || !front_eligible(ch))
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: frontend channel", ch->name);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = WIRE_CHANNEL;
	m.kind = WIRE_CHAN_FRONT;
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1 ||
	    wire_send(ch->fd, &m, sv[0]) == -1) {
		log_warn("%s: frontend channel", ch->name);
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (++h.lendgen == 0)
		h.lendgen = 1;
	ch->lent = h.lendgen;
	felink_lend(LEND_PASS, ch->name, ch->lent, sv[1]);
	felink_lend(LEND_BACK, ch->name, ch->lent, sv[0]);
}

/* The frontend settles what it sent there and sends the rest to us. */
static void
front_unlend(struct channel *ch)
{
	if (ch->lent == 0)
		return;
	felink_unlend(LEND_PASS, ch->name, ch->lent);
	ch->lent = 0;
}

/* A new frontend: a new front channel for each (the service drops the
 * old one at its end of stream). */
void
handoff_lend_again(void)
{
	struct channel	*ch;

	for (ch = h.channels; ch != NULL; ch = ch->next)
		if (ch->lent != 0) {
			ch->lent = 0;
			front_lend(ch);
		}
}

/*
 * Before the parent answers the clients still waiting on ch itself: shut
 * the channel both ways, so that no ACCEPT can be queued from now on (the
 * service's send fails, and it then writes nothing to the client), and
 * read the answers already queued. An ACCEPT among them was sent before
 * the service wrote "+": that client is the service's. A refusal still
 * gives its reason; anything else is ignored now.
 */
static void
channel_settle(struct channel *ch)
{
	struct wire_msg	 m;
	int		 i;

	if (ch->pending == NULL)
		return;
	if (ch->v2)
		data_settle(ch, ch->closing);
	shutdown(ch->fd, SHUT_RDWR);
	for (i = 0; i < DRAIN_MAX && ch->pending != NULL; i++) {
		switch (chan_recv(ch, &m)) {
		case 1:
			break;
		case -2:
			continue;
		default:
			return;
		}
		settle_notice(ch, &m, pending_take);
	}
}

static int
may_register(const struct config *cfg, const char *name, uid_t uid)
{
	int	i;

	for (i = 0; i < cfg->nregrules; i++)
		if (cfg->regrules[i].uid == uid &&
		    fnmatch(cfg->regrules[i].pattern, name, 0) == 0)
			return 1;
	return 0;
}

/* Returns -1 if the channel was closed. */
static int
on_register(struct channel *ch, const struct wire_msg *m,
    const struct config *cfg)
{
	struct wire_msg	 r;
	const char	*why = NULL;

	if (ch->active)
		why = "already registered";
	else if (strcmp(m->name, "help") == 0)
		why = "reserved name";
	else if (config_find(cfg, m->name) != NULL ||
	    channel_find(m->name, 1) != NULL)
		why = "name taken";
	else if (!may_register(cfg, m->name, ch->uid))
		why = "not allowed";
	memset(&r, 0, sizeof(r));
	r.type = WIRE_REGISTERED;
	r.id = m->id;
	r.status = why != NULL;
	if (why != NULL)
		snprintf(r.reason, sizeof(r.reason), "%s", why);
	if (why != NULL) {
		(void)wire_send(ch->fd, &r, -1);
		log_warnx("register %s by uid %d: %s", m->name, (int)ch->uid,
		    why);
		channel_close(ch, "service unavailable");
		return -1;
	}
	snprintf(ch->name, sizeof(ch->name), "%s", m->name);
	ch->active = 1;
	if (m->type == WIRE_REGISTER_PORT)
		ch->port = m->port;
	if (ch->port)
		log_info("registered %s at port %d (uid %d)", ch->name,
		    ch->port, (int)ch->uid);
	else
		log_info("registered %s (uid %d)", ch->name, (int)ch->uid);
	/* The names go to the frontend before the service is told, so a
	 * client it sends at once finds the name (frontend.c reads them). */
	parent_names_changed();
	(void)wire_send(ch->fd, &r, -1);
	return 0;
}

static struct ancil_msg	batch[ANCIL_BATCH_MAX];
static uint8_t		batchbuf[ANCIL_BATCH_MAX][WIRE_MSG_MAX];

/* One message of a batch; data: from the data channel. Returns -1 if the
 * channel was closed. */
static int
channel_one(struct channel *ch, const struct ancil_msg *am,
    const struct config *cfg, int data)
{
	struct wire_msg	 m;
	struct pending	*p;

	if (am->len == 0) {
		channel_close(ch, "service failed");
		return -1;
	}
	if (am->len == -1 || am->fd != -1 || am->lost ||
	    wire_decode(am->buf, (size_t)am->len, &m) == -1) {
		log_warnx("%s: malformed message from service",
		    ch->name[0] ? ch->name : "control");
		channel_close(ch, "service failed");
		return -1;
	}
	/* On the data channel only notices, of version 2 hand-offs: an
	 * ACK that asks for GO is not one. */
	if (data && (m.type == WIRE_ACCEPT ||
	    (m.type == WIRE_ACK && m.status != 0))) {
		if ((p = v2_take(ch, m.id)) != NULL) {
			if (m.type == WIRE_ACCEPT)
				pending_accepted(ch, p);
			else
				pending_acked(ch, p, &m);
		}
		if (ch->stale && ch->pending == NULL) {
			channel_close(ch, "service unavailable");
			return -1;
		}
		return 0;
	}
	if (!data && m.type == WIRE_HELLO && !ch->v2 && !ch->hello &&
	    ch->port == 0 && (!ch->registered || ch->active))
		return channel_upgrade(ch);
	if (!data && (m.type == WIRE_ACK || m.type == WIRE_ACCEPT) &&
	    (!ch->registered || ch->active)) {
		on_answer(ch, &m);	/* may close a stale one */
		return ch->fd == -1 ? -1 : 0;
	}
	if (!data && (m.type == WIRE_REGISTER ||
	    m.type == WIRE_REGISTER_PORT) && ch->registered)
		return on_register(ch, &m, cfg);
	log_warnx("%s: unexpected message %d from service",
	    ch->name[0] ? ch->name : "control", m.type);
	channel_close(ch, "service failed");
	return -1;
}

/*
 * A service's bytes are as untrusted as a client's: anything malformed,
 * any fd, or a message that is not ours to receive ends its channel (and
 * its registration), never the daemon. Reads at most max messages, in
 * batches: with one answer queued, one call, and no second one to learn
 * that nothing follows.
 */
static void
channel_read(struct channel *ch, const struct config *cfg, int max, int data)
{
	int	i, j, n, stop, fd;

	for (i = 0; i < max && ch->fd != -1; i += n) {
		fd = data ? ch->dfd : ch->fd;
		for (j = 0; j < ANCIL_BATCH_MAX; j++) {
			batch[j].buf = batchbuf[j];
			batch[j].cap = sizeof(batchbuf[j]);
		}
		n = max - i < ANCIL_BATCH_MAX ? max - i : ANCIL_BATCH_MAX;
		if ((n = ancil_recvm(fd, batch, n)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				channel_close(ch, "service failed");
			return;
		}
		for (j = 0, stop = 0; j < n; j++) {
			/* A descriptor is never due here: closed, and the
			 * message judged malformed. */
			if (batch[j].fd != -1)
				close(batch[j].fd);
			if (!stop && channel_one(ch, &batch[j], cfg, data) == -1)
				stop = 1;
		}
		if (stop || n < ANCIL_BATCH_MAX)
			return;		/* closed, or all there was */
	}
}

void
handoff_channel_event(struct channel *ch, const struct config *cfg)
{
	/* ch->fd is -1 if it closed earlier in this epoll batch. */
	if (ch->fd == -1 || (ch->out_armed && channel_flush(ch) == -1))
		return;
	/* Either fd's event: the data channel carries nearly everything;
	 * the connection's read is one EAGAIN more. */
	if (ch->v2)
		channel_read(ch, cfg, 64, 1);
	channel_read(ch, cfg, 64, 0);
}

/* ---- registrations ---- */

/* A connection control.c accepted: it may REGISTER a name. Returns -1
 * (fd closed) when out of memory: the connection goes, the daemon stays. */
int
handoff_adopt(int fd, uid_t uid)
{
	if (channel_new(fd, "", 1, uid) == NULL) {
		close(fd);
		return -1;
	}
	return 0;
}

/*
 * A reload: a channel to a configured service whose socket or owner it
 * changed (or removed) takes no new clients; it closes once those it
 * already has are answered. A registered name that no "register" rule
 * allows any more is revoked: its connection is closed. The caller sends
 * the frontend the names that are left.
 */
void
handoff_configure(const struct config *cfg)
{
	struct channel		*ch, *next;
	const struct service	*svc;

	h.cfg = cfg;
	h.quiet = 1;
	for (ch = h.channels; ch != NULL; ch = next) {
		next = ch->next;
		if (ch->registered && ch->active &&
		    !may_register(cfg, ch->name, ch->uid)) {
			log_info("revoked %s (uid %d): no register rule "
			    "allows it", ch->name, (int)ch->uid);
			channel_close(ch, "service unavailable");
			continue;
		}
		if (ch->registered || ch->stale)
			continue;
		svc = config_find(cfg, ch->name);
		if (svc != NULL && svc->socket != NULL &&
		    strcmp(svc->socket, ch->path) == 0 &&
		    svc->owner_uid == ch->owner)
			continue;
		ch->stale = 1;
		if (ch->pending == NULL)
			channel_close(ch, "service unavailable");
	}
	/* An allow/deny list added or dropped, or the channel stale. */
	for (ch = h.channels; ch != NULL; ch = ch->next)
		if (ch->lent != 0 && !front_eligible(ch))
			front_unlend(ch);
		else
			front_lend(ch);
	h.quiet = 0;
}

/*
 * name's supervised program is down, and its next start is later than a
 * client would wait: those waiting on its channel are told now.
 */
void
handoff_down(const char *name)
{
	struct channel	*ch, *next;

	for (ch = h.channels; ch != NULL; ch = next) {
		next = ch->next;
		if (!ch->registered && strcmp(ch->name, name) == 0)
			channel_close(ch, "service unavailable");
	}
}

/* ---- time ---- */

/*
 * Try the lock the service takes on a client before its ACCEPT. 1: the
 * service holds it, so its ACCEPT is on the way or queued. 0: we hold it
 * now (or the lock cannot be had at all), and until we close the client
 * the service cannot take it: whatever it sent before is queued.
 */
static int
client_taken(int fd)
{
	return ancil_lock(fd) == -1 && (errno == EAGAIN || errno == EACCES);
}

/*
 * Clients on ch past their deadline: "-service not responding", unless the
 * service is taking them. The lock says. Every overdue client whose lock
 * we get is ours to answer, unless an answer for it was queued before:
 * so one read of the channel after the locks, and not before. Returns -1
 * if ch closed meanwhile.
 */
static int
channel_expire(struct channel *ch, uint64_t now)
{
	struct pending	*p, **pp;
	int		 mine = 0, v2 = 0;

	for (p = ch->pending; p != NULL && p->deadline_ns <= now; p = p->next) {
		if (p->v2 && p->unsent == NULL) {
			v2 = 1;		/* sent: the queue decides, not a lock */
			continue;
		}
		if (p->locked || (p->locked = !client_taken(p->client)))
			mine = 1;
	}
	if (mine) {
		channel_read(ch, h.cfg, DRAIN_MAX, 0);
		if (ch->fd == -1)
			return -1;
	}
	if (v2) {
		/* Notices first: those clients were served. */
		channel_read(ch, h.cfg, DRAIN_MAX, 1);
		if (ch->fd == -1)
			return -1;
		take_back_overdue(ch, now);
	}
	while ((p = ch->pending) != NULL && p->deadline_ns <= now) {
		ch->pending = p->next;
		if (p->unsent != NULL)
			ch->nunsent--;
		if (p->locked) {
			log_warnx("%s: no acknowledgement in time", ch->name);
			pending_fail(p, ch->name, "service not responding");
			continue;
		}
		/* The service holds it (version 1), or received it
		 * (version 2): its ACCEPT is on the way. To the back, as if
		 * sent now, so the list stays in deadline order. */
		p->deadline_ns = now + HANDOFF_TIMEOUT_NS;
		p->next = NULL;
		for (pp = &ch->pending; *pp != NULL; pp = &(*pp)->next)
			;
		*pp = p;
	}
	return 0;
}

/* Clients past their deadline get "-"; silent registrants go. */
void
handoff_expire(uint64_t now)
{
	struct channel	*ch, *next;

	for (ch = h.channels; ch != NULL; ch = next) {
		next = ch->next;
		if (channel_expire(ch, now) == -1)
			continue;
		if ((ch->registered && !ch->active &&
		    now - ch->opened_ns >= REGISTER_TIMEOUT_NS) ||
		    (ch->stale && ch->pending == NULL))
			channel_close(ch, "service unavailable");
	}
}

/* The earliest deadline, or 0 for none. */
uint64_t
handoff_next_deadline(void)
{
	struct channel	*ch;
	uint64_t	 when = 0, t;

	for (ch = h.channels; ch != NULL; ch = ch->next) {
		t = 0;
		if (ch->pending != NULL)
			t = ch->pending->deadline_ns;
		else if (ch->registered && !ch->active)
			t = ch->opened_ns + REGISTER_TIMEOUT_NS;
		if (t != 0 && (when == 0 || t < when))
			when = t;
	}
	return when;
}

/* ---- names ---- */

/* Registered names, for the frontend's list: calls fn for each. */
void
handoff_names(void (*fn)(const char *, void *), void *arg)
{
	struct channel	*ch;

	for (ch = h.channels; ch != NULL; ch = ch->next)
		if (ch->registered && ch->active)
			fn(ch->name, arg);
}

/* Clients handed over whose service has not answered yet. */
int
handoff_pending(void)
{
	struct channel	*ch;
	struct pending	*p;
	int		 k = 0;

	for (ch = h.channels; ch != NULL; ch = ch->next)
		for (p = ch->pending; p != NULL; p = p->next)
			k++;
	return k;
}

/* For the status: every channel, how it came, its peer's uid, and the
 * clients handed to it that it has not answered yet. */
void
handoff_each(void (*fn)(const char *, const char *, uid_t, int, int,
    void *), void *arg)
{
	struct channel	*ch;
	struct pending	*p;
	int		 n;

	for (ch = h.channels; ch != NULL; ch = ch->next) {
		for (n = 0, p = ch->pending; p != NULL; p = p->next)
			n++;
		fn(ch->name, !ch->registered ? "socket" : ch->active ?
		    "registered" : "registering", ch->uid, ch->port, n, arg);
	}
}

int
handoff_registered(const char *name)
{
	return channel_find(name, 1) != NULL;
}

/* The port a registered name redirects to, or 0 (a hand-off name). */
int
handoff_registered_port(const char *name)
{
	struct channel	*ch = channel_find(name, 1);

	return ch != NULL ? ch->port : 0;
}

/*
 * Stopping: clients still waiting are told, and every channel closes now,
 * so that a registered service learns at once that its name is gone
 * (sessions already handed over are the service's and go on).
 */
void
handoff_shutdown(void)
{
	struct channel	*ch;
	struct pending	*p;

	for (ch = h.channels; ch != NULL; ch = ch->next) {
		ch->closing = "shutting down";
		channel_settle(ch);
		while ((p = ch->pending) != NULL) {
			ch->pending = p->next;
			pending_fail(p, ch->name, "shutting down");
		}
	}
	h.quiet = 1;
	while (h.channels != NULL)
		channel_close(h.channels, "shutting down");
}
