/*
 * frontend.c: the unprivileged, sandboxed process that meets clients. It
 * accepts, reads the first line under one absolute deadline, answers what it
 * can (errors, HELP) and passes every valid request with its client fd to
 * the parent. It reads the request with MSG_PEEK and then consumes exactly
 * the line, so bytes the client sent after it stay in the socket for the
 * service. Per-connection state is preallocated and bounded.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "frontend.h"

#define REASON_TIMEOUT		"timeout"
#define REASON_INCOMPLETE	"incomplete request"
#define REASON_UNKNOWN		"unknown service"
#define REASON_HELP_OFF		"help disabled"
#define REASON_BUSY		"busy"
#define REASON_ADDR_LIMIT	"too many connections from your address"
#define REASON_SHUTDOWN		"shutting down"

#define ACCEPT_BATCH		64
#define GRACE_NS		(1000 * 1000000ull)	/* a newcomer's time to speak */
#define HELP_SNDBUF_MIN		4096	/* any fresh socket takes this */
#define EMFILE_PAUSE_NS		(100 * 1000000ull)
#define NBUCKETS		4096	/* power of two */

enum watch_kind { W_PARENT, W_LISTENER, W_CONN, W_LINGER };

struct watch {
	enum watch_kind	 kind;
	int		 fd;
};

/* A connection that has not yet sent its first line. */
struct conn {
	struct watch		 w;		/* first: epoll data points here */
	uint64_t		 accepted_ns;
	uint64_t		 deadline_ns;
	uint64_t		 akey;		/* client address, v6 as /64 */
	int			 spoke;		/* sent bytes, not yet a line */
	struct sockaddr_in6	 peer;		/* or sockaddr_in */
	struct conn		*prev, *next;	/* deadline FIFO, or free list */
	struct conn		*hnext;		/* same address bucket */
};

static struct {
	struct ipc_config	 set;
	struct ipc_service	*svcs;
	uint32_t		 nsvcs;
	uint8_t			*answers;	/* blob of fixed answers */
	size_t			 nanswers;
	int			 configured;

	struct watch		 parent;
	struct watch		 linger;	/* replied, awaiting FIN */
	struct watch		*listeners;
	int			 nlisteners;
	int			 epfd;
	int			 reserve_fd;	/* spent to answer at EMFILE */
	uint64_t		 paused_until;	/* 0: accepting */

	struct conn		*free;
	uint32_t		 capacity;	/* conns ever allocated */
	uint32_t		 npending;
	struct conn		*head, *tail;	/* oldest first */
	struct conn		*buckets[NBUCKETS];
	uint64_t		 seed;
	uint64_t		 draws;		/* early drop's random sequence */
	int			 debug;
} fe;

static uint8_t	iobuf[IPC_MAX];		/* peeks and messages; one at a time */

/* ---- bookkeeping ---- */

/* Keyed, so clients cannot aim at one bucket. */
static uint32_t
bucket_of(uint64_t key)
{
	return source_mix(key ^ fe.seed) & (NBUCKETS - 1);
}

/*
 * A source's score: connections it left without a line. It may leave a
 * burst of twice its pending limit, then an eighth of that limit a second
 * (64 and 4 by default); a refused attempt counts too, so a source that
 * keeps it up gets just that rate.
 */
static uint32_t
src_burst(void)
{
	return 2 * fe.set.max_pending_addr;
}

static uint32_t
src_leak(void)		/* milli-connections a second */
{
	return fe.set.max_pending_addr * 1000 / 8;
}

static void
conn_waste(const struct conn *c)
{
	source_charge(c->akey, now_ns(), src_leak(), src_burst());
}

/* What one address holds of the pending set. */
struct addr_view {
	uint32_t	 counted;	/* against max pending per-address */
	uint32_t	 young;		/* silent, within GRACE_NS */
	struct conn	*oldest;	/* of the counted ones */
};

/*
 * A silent newcomer gets GRACE_NS to send its line before it counts
 * against its address's limit, so a burst accepted in one wake-up, before
 * any of it could be read, does not make its address look abusive; one
 * that has sent part of a line counts at once.
 */
static void
addr_look(uint64_t key, uint64_t now, struct addr_view *v)
{
	struct conn	*c;

	memset(v, 0, sizeof(*v));
	/* The chain is newest first: the last match is the oldest. */
	for (c = fe.buckets[bucket_of(key)]; c != NULL; c = c->hnext) {
		if (c->akey != key)
			continue;
		if (c->spoke || now - c->accepted_ns >= GRACE_NS) {
			v->counted++;
			v->oldest = c;
		} else
			v->young++;
	}
}

/*
 * Grows the pool to want, or as near as memory allows: a limit too big
 * for this process leaves the most that fits, never a pool of nothing.
 * Returns -1 if it fell short.
 */
static int
pool_grow(uint32_t want)
{
	struct conn	*chunk = NULL;
	uint32_t	 i, n;

	if (want <= fe.capacity)
		return 0;
	for (n = want - fe.capacity; n > 0; n /= 2)
		if ((chunk = calloc(n, sizeof(*chunk))) != NULL)
			break;
	for (i = 0; i < n; i++) {
		chunk[i].next = fe.free;
		fe.free = &chunk[i];
	}
	fe.capacity += n;
	return fe.capacity < want ? -1 : 0;
}

static void
conn_unlink(struct conn *c)
{
	struct conn	**pp;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		fe.head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		fe.tail = c->prev;
	for (pp = &fe.buckets[bucket_of(c->akey)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	fe.npending--;
}

/*
 * epoll watches the open file, not the descriptor: a socket passed to the
 * parent stays open there, so it must leave our set explicitly or its
 * events would keep arriving on this (reused) slot.
 */
static void
conn_free(struct conn *c)
{
	conn_unlink(c);
	if (c->w.fd != -1) {
		epoll_ctl(fe.epfd, EPOLL_CTL_DEL, c->w.fd, NULL);
		close(c->w.fd);
	}
	memset(c, 0, sizeof(*c));
	c->w.fd = -1;
	c->next = fe.free;
	fe.free = c;
}

/* ---- replies ---- */

static void
reply_fd(int fd, const char *reason)
{
	char	line[128];
	int	n;

	n = snprintf(line, sizeof(line), "-%s\r\n", reason);
	linger_reply(fd, line, n);
}

static void
log_outcome(const struct conn *c, const char *service, const char *result)
{
	char	peer[ADDR_STRLEN];

	log_info("conn peer=%s service=%s result=%s pid=- dispatch=%.3fms",
	    addr_ntop((const struct sockaddr *)&c->peer, peer, sizeof(peer)),
	    service, result, (now_ns() - c->accepted_ns) / 1e6);
}

static void
conn_reject(struct conn *c, const char *service, const char *reason)
{
	char	result[64];

	reply_fd(c->w.fd, reason);
	snprintf(result, sizeof(result), "-%s", reason);
	log_outcome(c, service, result);
	conn_free(c);
}

static int
svc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ipc_service *)a)->name,
	    ((const struct ipc_service *)b)->name);
}

static const struct ipc_service *
svc_find(const char *name)
{
	struct ipc_service	key;

	if (fe.nsvcs == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	memcpy(key.name, name, strnlen(name, SERVICE_NAME_MAX));
	return bsearch(&key, fe.svcs, fe.nsvcs, sizeof(key), svc_cmp);
}

/* RFC 1078 HELP: the visible names, one per line, then close. */
static void
conn_help(struct conn *c)
{
	char		*p = (char *)iobuf;
	size_t		 len = 0;
	uint32_t	 i;
	int		 sz;

	if (!fe.set.help) {
		conn_reject(c, "help", REASON_HELP_OFF);
		return;
	}
	for (i = 0; i < fe.nsvcs && len + SERVICE_NAME_MAX + 2 <
	    sizeof(iobuf); i++) {
		if (!fe.svcs[i].visible)
			continue;
		len += snprintf(p + len, sizeof(iobuf) - len, "%s\r\n",
		    fe.svcs[i].name);
	}
	/*
	 * One send that does not block. A fresh socket's buffer takes a
	 * few KiB; a longer listing gets a buffer that holds all of it,
	 * read or not. One that still does not go whole is reset, never
	 * cut short where it would look complete.
	 */
	if (len > HELP_SNDBUF_MIN) {
		sz = 2 * len + HELP_SNDBUF_MIN;
		(void)setsockopt(c->w.fd, SOL_SOCKET, SO_SNDBUF, &sz,
		    sizeof(sz));
	}
	if (linger_reply(c->w.fd, p, len) == -1)
		log_outcome(c, "help", "-listing does not fit: reset");
	else
		log_outcome(c, "help", "help");
	conn_free(c);
}

/* A fixed answer (a static redirect) for request and query alike. */
static void
conn_answer(struct conn *c, const char *name, const uint8_t *line,
    size_t len)
{
	char	result[16];

	linger_reply(c->w.fd, line, len);
	snprintf(result, sizeof(result), "%.*s",
	    (int)strcspn((const char *)line, " \r"), (const char *)line);
	log_outcome(c, name, result);
	conn_free(c);
}

static void
conn_dispatch(struct conn *c, const char *name, int query)
{
	struct ipc_dispatch	d;

	memset(&d, 0, sizeof(d));
	d.generation = fe.set.generation;
	memcpy(d.name, name, strnlen(name, SERVICE_NAME_MAX));
	d.accepted_ns = c->accepted_ns;
	d.flags = query ? IPC_QUERY : 0;
	if (ipc_send(fe.parent.fd, IPC_DISPATCH, &d, sizeof(d),
	    c->w.fd) == -1) {
		/* The parent is not keeping up or is gone; say so. */
		conn_reject(c, name, REASON_BUSY);
		return;
	}
	/* The parent owns the connection now and logs its outcome. */
	conn_free(c);
}

/* ---- the first line ---- */

static void	parent_read(void);

static void
conn_read(struct conn *c, uint32_t events)
{
	struct request		 req;
	enum request_result	 r;
	const struct ipc_service *svc;
	ssize_t			 n;

	n = recv(c->w.fd, iobuf, fe.set.max_line, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0) {
		/* Half-closed before a byte: it may still read why. */
		conn_waste(c);
		conn_reject(c, "-", REASON_INCOMPLETE);
		return;
	}
	if (n < 0) {
		if (!c->spoke)
			conn_waste(c);
		log_outcome(c, "-", "reset");
		conn_free(c);
		return;
	}
	r = request_parse(iobuf, n, fe.set.max_line, &req);
	switch (r) {
	case REQ_NEED_MORE:
		/* The peer has shut down its side: no end of line will come. */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_reject(c, "-", REASON_INCOMPLETE);
		else
			c->spoke = 1;
		return;
	case REQ_REJECT:
		conn_reject(c, "-", req.reason);
		return;
	case REQ_OK:
		break;
	}
	/* Consume the line and nothing more; the peeked bytes are queued. */
	if (recv(c->w.fd, iobuf, req.consumed, MSG_DONTWAIT) !=
	    (ssize_t)req.consumed) {
		log_outcome(c, req.name, "reset");
		conn_free(c);
		return;
	}
	/*
	 * A name just registered is on its way from the parent, sent before
	 * the registrant was told: take what the parent has sent before
	 * calling a name unknown or listing the names (the line is
	 * consumed; iobuf is free).
	 */
	svc = req.help ? NULL : svc_find(req.name);
	if (svc == NULL) {
		parent_read();
		svc = req.help ? NULL : svc_find(req.name);
	}
	if (req.help)
		conn_help(c);
	else if (svc == NULL)
		conn_reject(c, req.name, REASON_UNKNOWN);
	else if (svc->answer_len > 0)
		conn_answer(c, req.name, fe.answers + svc->answer_off,
		    svc->answer_len);
	else
		conn_dispatch(c, req.name, req.query);
}

/* ---- accepting ---- */

/* Reads what one address's connections have sent; may free any of them. */
static void
addr_settle(uint64_t key)
{
	struct conn	*c, *next;

	for (c = fe.buckets[bucket_of(key)]; c != NULL; c = next) {
		next = c->hnext;	/* conn_read frees c at most */
		if (c->akey == key)
			conn_read(c, 0);
	}
}

static void
listeners_enable(int on)
{
	struct epoll_event	ev;
	int			i;

	for (i = 0; i < fe.nlisteners; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = on ? EPOLLIN : 0;
		ev.data.ptr = &fe.listeners[i];
		if (epoll_ctl(fe.epfd, EPOLL_CTL_MOD, fe.listeners[i].fd,
		    &ev) == -1)
			fatal("epoll_ctl");
	}
}

/*
 * Out of descriptors: spend the reserve to tell one client why, then stop
 * accepting briefly so the backlog, not a spinning loop, absorbs the burst.
 */
static void
accept_emfile(int lfd)
{
	int	fd;

	if (fe.reserve_fd != -1) {
		close(fe.reserve_fd);
		fe.reserve_fd = -1;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			reply_fd(fd, REASON_BUSY);
			close(fd);
			log_info("conn peer=? service=- result=-%s pid=- "
			    "dispatch=0.000ms", REASON_BUSY);
		}
		fe.reserve_fd = fcntl(fe.epfd, F_DUPFD_CLOEXEC, 0);
	}
	log_warnx("out of file descriptors; pausing accept");
	listeners_enable(0);
	fe.paused_until = now_ns() + EMFILE_PAUSE_NS;
}

static void
refuse(int fd, const struct sockaddr_storage *ss, const char *reason)
{
	char	peer[ADDR_STRLEN];

	reply_fd(fd, reason);
	close(fd);
	log_info("conn peer=%s service=- result=-%s pid=- dispatch=0.000ms",
	    addr_ntop((const struct sockaddr *)ss, peer, sizeof(peer)),
	    reason);
}

/*
 * OpenSSH's MaxStartups for a source that has recently left connections
 * without a line: from drop_start pending on, its newcomer is refused
 * with a chance that grows from drop_rate percent there to all at
 * max_pending. A source with a clean record is never dropped, and at
 * max_pending it pushes out the oldest instead.
 */
static int
early_drop(void)
{
	uint64_t	span, n, r;

	if (fe.npending < fe.set.drop_start)
		return 0;
	if (fe.npending >= fe.set.max_pending)
		return 1;
	span = fe.set.max_pending - fe.set.drop_start;
	n = fe.npending - fe.set.drop_start;
	r = source_mix(fe.seed + ++fe.draws) % (100 * span);
	return r < fe.set.drop_rate * span + (100 - fe.set.drop_rate) * n;
}

/* Returns -1 when the listener has nothing more to give this round. */
static int
accept_one(int lfd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct epoll_event	 ev;
	struct addr_view	 v;
	struct conn		*c;
	uint64_t		 key, now;
	uint32_t		 b, score;
	int			 fd;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			accept_emfile(lfd);
		else if (errno == ECONNABORTED || errno == EINTR)
			return 0;
		else if (errno != EAGAIN)
			log_warn("accept");
		return -1;
	}
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
		close(fd);
		return 0;
	}
	key = addr_key((struct sockaddr *)&ss);
	now = now_ns();
	/*
	 * What a source has wasted counts with its young silent connections,
	 * which no per-address limit holds yet, so that the part of a flood
	 * not read yet counts too; older ones make room below instead. Near
	 * a limit, what the address has sent since the last wake-up is read
	 * first: a client that has spoken is never judged as silent.
	 */
	score = source_score(key, now, src_leak());
	addr_look(key, now, &v);
	if (score + v.young >= src_burst() ||
	    v.counted >= fe.set.max_pending_addr) {
		addr_settle(key);
		score = source_score(key, now, src_leak());
		addr_look(key, now, &v);
	}
	if (score + v.young >= src_burst()) {
		/* Still trying counts: a flood gets only the leak's rate. */
		source_charge(key, now, src_leak(), src_burst());
		refuse(fd, &ss, REASON_ADDR_LIMIT);
		return 0;
	}
	/*
	 * At its address's limit the oldest of that address goes, as at the
	 * global limit, so a client is not locked out by silent neighbours
	 * behind the same NAT.
	 */
	if (v.counted >= fe.set.max_pending_addr) {
		conn_waste(v.oldest);
		conn_reject(v.oldest, "-", REASON_ADDR_LIMIT);
	}
	if (score > 0 && early_drop()) {
		/* Counts too, or a source would be clean again too soon. */
		source_charge(key, now, src_leak(), src_burst());
		refuse(fd, &ss, REASON_BUSY);
		return 0;
	}
	/*
	 * Full: the oldest waiting client goes, not the newcomer. Silent
	 * clients are the oldest; a normal client sends its line at once and
	 * so is never the one evicted by a flood.
	 */
	if (fe.npending >= fe.set.max_pending && fe.head != NULL) {
		conn_waste(fe.head);
		conn_reject(fe.head, "-", REASON_BUSY);
	}
	if ((c = fe.free) == NULL) {
		reply_fd(fd, REASON_BUSY);
		close(fd);
		return 0;
	}
	fe.free = c->next;
	memset(c, 0, sizeof(*c));
	c->w.kind = W_CONN;
	c->w.fd = fd;
	c->akey = key;
	memcpy(&c->peer, &ss, sslen < sizeof(c->peer) ? sslen :
	    sizeof(c->peer));
	c->accepted_ns = now;
	c->deadline_ns = c->accepted_ns + fe.set.timeout_ms * 1000000ull;
	c->prev = fe.tail;
	if (fe.tail != NULL)
		fe.tail->next = c;
	else
		fe.head = c;
	fe.tail = c;
	b = bucket_of(key);
	c->hnext = fe.buckets[b];
	fe.buckets[b] = c;
	fe.npending++;

	/* Edge-triggered: peeking leaves data queued, so level would spin.
	 * Adding a socket that already has data reports it at once. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = &c->w;
	if (epoll_ctl(fe.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("epoll_ctl");
		conn_reject(c, "-", REASON_BUSY);
		return 0;
	}
	/* A line that came with the connection is served at once. */
	conn_read(c, 0);
	return 0;
}

/* ---- messages from the parent ---- */

static void
parent_config(const uint8_t *p, size_t len)
{
	struct ipc_config_view	 v;
	struct ipc_config	 set;
	struct ipc_service	*svcs = NULL;
	uint8_t			*blob = NULL;
	size_t			 blen;
	const char		*why;

	/* The parent is trusted but checked: a broken one is fatal here. */
	if (ipc_config_parse(p, len, &v, &why) == -1)
		fatalx("frontend: config message: %s", why);
	set = v.set;
	blen = v.bloblen;
	if (set.nservices > 0 &&
	    (svcs = calloc(set.nservices, sizeof(*svcs))) == NULL)
		fatal("frontend: calloc");
	if (set.nservices > 0)
		memcpy(svcs, v.svcs, set.nservices * sizeof(*svcs));
	if (blen > 0 && (blob = malloc(blen)) == NULL)
		fatal("frontend: malloc");
	if (blen > 0)
		memcpy(blob, v.blob, blen);
	if (pool_grow(set.max_pending) == -1) {
		if (fe.capacity == 0)
			fatalx("frontend: no memory for any pending connection");
		log_warnx("frontend: max pending %u does not fit in memory; "
		    "using %u", set.max_pending, fe.capacity);
		set.max_pending = fe.capacity;
		if (set.drop_start > set.max_pending)
			set.drop_start = set.max_pending / 2;
	}
	/*
	 * A shorter deadline applies to those already waiting too, so the
	 * queue stays ordered by deadline: min() of two sequences that grow
	 * with arrival still grows with arrival.
	 */
	if (fe.configured && set.timeout_ms < fe.set.timeout_ms) {
		struct conn	*c;

		for (c = fe.head; c != NULL; c = c->next)
			if (c->deadline_ns > c->accepted_ns +
			    set.timeout_ms * 1000000ull)
				c->deadline_ns = c->accepted_ns +
				    set.timeout_ms * 1000000ull;
	}
	free(fe.svcs);
	fe.svcs = svcs;
	fe.nsvcs = set.nservices;
	free(fe.answers);
	fe.answers = blob;
	fe.nanswers = blen;
	fe.set = set;
	if (!fe.configured) {
		fe.configured = 1;
		listeners_enable(1);
		/* The parent declares the daemon ready on this, not before. */
		if (ipc_send(fe.parent.fd, IPC_READY, NULL, 0, -1) == -1)
			fatal("frontend: ready");
	}
	log_debug("frontend: config generation %u, %u services",
	    set.generation, set.nservices);
}

static void
shutdown_pending(void)
{
	while (fe.head != NULL)
		conn_reject(fe.head, "-", REASON_SHUTDOWN);
	_exit(0);
}

static void
parent_read(void)
{
	struct ipc_hdr	hdr;
	ssize_t		n;
	int		fd;

	for (;;) {
		n = ipc_recv(fe.parent.fd, &hdr, iobuf, sizeof(iobuf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == 0 && hdr.type == 0)
			shutdown_pending();	/* the parent is going away */
		if (n == -1)
			fatal("frontend: message from parent");
		if (fd != -1)
			fatalx("frontend: unexpected fd from parent");
		if (hdr.type != IPC_CONFIG)
			fatalx("frontend: unexpected message %u", hdr.type);
		parent_config(iobuf, n);
	}
}

/* Not in -d mode: lines go to the parent, which owns syslog. */
static void
log_to_parent(int pri, const char *msg)
{
	uint8_t		buf[4 + 900];
	uint32_t	p = pri;
	size_t		len = strnlen(msg, sizeof(buf) - 4);

	memcpy(buf, &p, 4);
	memcpy(buf + 4, msg, len);
	(void)ipc_send(fe.parent.fd, IPC_LOG, buf, 4 + len, -1);
}

/* ---- the loop ---- */

static int
next_timeout(uint64_t now)
{
	uint64_t	when = 0;

	if (fe.head != NULL)
		when = fe.head->deadline_ns;
	if (fe.paused_until != 0 && (when == 0 || fe.paused_until < when))
		when = fe.paused_until;
	if (linger_next_deadline() != 0 &&
	    (when == 0 || linger_next_deadline() < when))
		when = linger_next_deadline();
	if (when == 0)
		return -1;
	if (when <= now)
		return 0;
	return (when - now + 999999) / 1000000;
}

/*
 * The frontend is a fresh exec of oneportd (see start_frontend in
 * oneportd.c), so it holds nothing of the parent's memory: no argv or env
 * of any service, only what its messages give it. Its command line:
 *	oneportd-front -F NLISTENERS USER CHROOT DEBUG VERBOSE
 * with the channel to the parent at fd 3 and the listeners from fd 4 up.
 */
#define FE_CHANNEL_FD	3

static int
number(const char *s, int max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 0 || v > max)
		fatalx("frontend: bad argument %s", s);
	return v;
}

void
frontend_run(int argc, char *argv[])
{
	struct epoll_event	 evs[64], ev;
	struct watch		*w;
	struct ucred		 cr;
	socklen_t		 len = sizeof(cr);
	uint64_t		 now;
	int			 i, n, k, type;

	len = sizeof(type);
	if (argc != 7 || getsockopt(FE_CHANNEL_FD, SOL_SOCKET, SO_TYPE, &type,
	    &len) == -1 || type != SOCK_SEQPACKET)
		fatalx("-F: for oneportd's own use (its frontend)");
	len = sizeof(cr);
	if (getsockopt(FE_CHANNEL_FD, SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == -1)
		fatal("frontend: SO_PEERCRED");
	fe.nlisteners = number(argv[2], 65536);
	fe.debug = number(argv[5], 1);
	log_verbose = number(argv[6], 100);
	fe.parent.kind = W_PARENT;
	fe.parent.fd = FE_CHANNEL_FD;
	fe.reserve_fd = -1;
	prctl(PR_SET_NAME, "oneportd-front");
	if (getrandom(&fe.seed, sizeof(fe.seed), 0) != sizeof(fe.seed))
		fe.seed = now_ns() ^ (uint64_t)getpid() << 32;
	source_init(source_mix(fe.seed + 1));
	if (!fe.debug)
		log_set_sink(log_to_parent);

	if ((fe.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("frontend: epoll_create1");
	fe.reserve_fd = fcntl(fe.epfd, F_DUPFD_CLOEXEC, 0);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &fe.parent;
	if (epoll_ctl(fe.epfd, EPOLL_CTL_ADD, fe.parent.fd, &ev) == -1)
		fatal("frontend: epoll_ctl");
	fe.linger.kind = W_LINGER;
	fe.linger.fd = linger_init();
	ev.data.ptr = &fe.linger;
	if (epoll_ctl(fe.epfd, EPOLL_CTL_ADD, fe.linger.fd, &ev) == -1)
		fatal("frontend: epoll_ctl");
	/* Listeners wait, disabled, until the first config has arrived. */
	if ((fe.listeners = calloc(fe.nlisteners + 1, sizeof(*w))) == NULL)
		fatal("frontend: calloc");
	for (i = 0; i < fe.nlisteners; i++) {
		fe.listeners[i].kind = W_LISTENER;
		fe.listeners[i].fd = FE_CHANNEL_FD + 1 + i;
		ev.events = 0;
		ev.data.ptr = &fe.listeners[i];
		if (fcntl(fe.listeners[i].fd, F_SETFD, FD_CLOEXEC) == -1 ||
		    epoll_ctl(fe.epfd, EPOLL_CTL_ADD, fe.listeners[i].fd,
		    &ev) == -1)
			fatal("frontend: listener %d", i);
	}
	fcntl(fe.parent.fd, F_SETFD, FD_CLOEXEC);

	sandbox_frontend(argv[3], argv[4], cr.pid);

	for (;;) {
		n = epoll_wait(fe.epfd, evs, 64, next_timeout(now_ns()));
		if (n == -1 && errno != EINTR)
			fatal("frontend: epoll_wait");
		/*
		 * Connections first, listeners last: accepting may evict a
		 * pending connection, whose event must not be read after.
		 */
		for (i = 0; i < n; i++) {
			w = evs[i].data.ptr;
			if (w->kind == W_PARENT)
				parent_read();
			else if (w->kind == W_LINGER)
				linger_event();
			else if (w->kind == W_CONN)
				conn_read((struct conn *)w, evs[i].events);
		}
		for (i = 0; i < n; i++) {
			w = evs[i].data.ptr;
			if (w->kind != W_LISTENER)
				continue;
			for (k = 0; k < ACCEPT_BATCH && fe.paused_until == 0;
			    k++)
				if (accept_one(w->fd) == -1)
					break;
		}
		now = now_ns();
		while (fe.head != NULL && fe.head->deadline_ns <= now) {
			conn_waste(fe.head);
			conn_reject(fe.head, "-", REASON_TIMEOUT);
		}
		linger_expire(now);
		if (fe.paused_until != 0 && fe.paused_until <= now) {
			fe.paused_until = 0;
			listeners_enable(1);
		}
	}
}
