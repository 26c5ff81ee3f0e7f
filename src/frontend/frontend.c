/* SPDX-License-Identifier: ISC */
/*
 * frontend.c: the unprivileged, sandboxed process that meets clients. It
 * accepts, reads the first message under one absolute deadline, answers
 * what it can (errors, HELP) and passes every valid request with its
 * client fd to the parent. The first message is a TCPMUX line, or for an
 * implicit name a TLS ClientHello, an HTTP request head, an SSH banner or
 * silence (the probes). It looks with MSG_PEEK: of a TCPMUX line it then
 * consumes exactly the line, of anything else nothing, so the service reads
 * the client's stream from where the line ended, or untouched. A trusted
 * balancer's PROXY header is read away first. Per-connection state is
 * preallocated and bounded.
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
#include "refusal.h"

#define REASON_TIMEOUT		"timeout"
#define REASON_INCOMPLETE	"incomplete request"
#define REASON_UNKNOWN		"unknown service"
#define REASON_HELP_OFF		"help disabled"
#define REASON_BUSY		"busy"
#define REASON_ADDR_LIMIT	"too many connections from your address"
#define REASON_SHUTDOWN		"shutting down"
#define REASON_BAD_REQUEST	"bad request"
#define REASON_NO_PROXY		"no PROXY header from a trusted source"
#define REASON_UNTRUSTED	"PROXY header from an untrusted source"
#define REASON_NO_HOST		"no Host"

/* The PROXY protocol v2 signature (its section 2.2). */
static const uint8_t proxy_v2[12] = "\r\n\r\n\0\r\nQUIT\n";

#define ACCEPT_BATCH		64
#define GRACE_NS		(1000 * 1000000ull)	/* a newcomer's time to speak */
#define HELP_SNDBUF_MIN		4096	/* any fresh socket takes this */
#define EMFILE_PAUSE_NS		(100 * 1000000ull)
#define NBUCKETS		4096	/* power of two */

/* A connection that has not yet sent its first line. */
struct conn {
	struct watch		 w;		/* first: epoll data points here */
	uint64_t		 accepted_ns;
	uint64_t		 deadline_ns;
	uint64_t		 akey;		/* client address, v6 as /64 */
	int			 spoke;		/* sent bytes, not yet a line */
	enum proto		 proto;		/* its refusals' protocol */
	int			 trusted;	/* a balancer: PROXY header due */
	int			 member;	/* a cluster member's: or not */
	int			 proxied;	/* peer and local are a header's */
	int			 silent;	/* on the silent list */
	int			 watched;	/* in the epoll set */
	uint32_t		 lowat;		/* SO_RCVLOWAT set, 0: none */
	struct sockaddr_in6	 peer;		/* or sockaddr_in */
	struct sockaddr_in6	 via;		/* proxied: the balancer */
	struct sockaddr_in6	 local;		/* what was called: proxied,
						 * or local_known */
	int			 local_known;	/* its listener's one address
						 * (a copy: the listener may
						 * go before it does) */
	struct conn		*prev, *next;	/* deadline FIFO, or free list */
	struct conn		*hnext;		/* same address bucket */
	struct conn		*sprev, *snext;	/* silent, oldest first */
};

/*
 * A listener bound to one address (not a wildcard) gives each of its
 * connections that address as theirs: a hand-off need not ask the
 * socket (getsockname) for it.
 */
struct lsock {
	struct watch		 w;		/* first: epoll data points here */
	struct sockaddr_in6	 bound;		/* or sockaddr_in */
	int			 specific;
};

static struct {
	struct ipc_config	 set;
	struct ipc_service	*svcs;
	uint32_t		 nsvcs;
	uint8_t			*answers;	/* blob: answers, rules' strings */
	size_t			 nanswers;
	int			 configured;
	struct route_rule	*rules;		/* strings point into answers */
	size_t			 nrules;
	struct netmask		*nets;		/* trusted PROXY sources */
	int			 nnets;
	int			 nmember;	/* the last ones: members */
	unsigned		 protos;	/* 1 << PROTO_x some rule names */

	struct watch		 parent;
	struct watch		 linger;	/* replied, awaiting FIN */
	struct watch		**listeners;	/* each its own, for epoll */
	int			 nlisteners;
	struct watch		**gone;		/* removed in this batch */
	int			 ngone;
	int			 draining;	/* no listener: ends when idle */
	int			 epfd;
	int			 reserve_fd;	/* spent to answer at EMFILE */
	uint64_t		 paused_until;	/* 0: accepting */

	struct conn		*free;
	uint32_t		 capacity;	/* conns ever allocated */
	uint32_t		 npending;
	uint32_t		 pending_max;	/* the most, for the status */
	struct conn		*head, *tail;	/* oldest first */
	struct conn		*shead, *stail;	/* silent so far, oldest first */
	struct conn		*buckets[NBUCKETS];
	uint64_t		 seed;
	uint64_t		 draws;		/* early drop's random sequence */
	int			 debug;
} fe;

static const struct ipc_service *svc_find(const char *);

static uint8_t	iobuf[IPC_MAX > PEEK_MAX ? IPC_MAX : PEEK_MAX];
					/* peeks and messages; one at a time */

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
addr_look(uint64_t key, uint64_t now, const struct conn *self,
    struct addr_view *v)
{
	struct conn	*c;

	memset(v, 0, sizeof(*v));
	/* The chain is newest first: the last match is the oldest. */
	for (c = fe.buckets[bucket_of(key)]; c != NULL; c = c->hnext) {
		if (c->akey != key || c == self)
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

/*
 * The silent list: connections that have sent nothing yet, oldest first,
 * so the one whose silence ends first is always at its head.
 */
static void
silent_add(struct conn *c)
{
	c->silent = 1;
	c->snext = NULL;
	c->sprev = fe.stail;
	if (fe.stail != NULL)
		fe.stail->snext = c;
	else
		fe.shead = c;
	fe.stail = c;
}

static void
silent_remove(struct conn *c)
{
	if (!c->silent)
		return;
	c->silent = 0;
	if (c->sprev != NULL)
		c->sprev->snext = c->snext;
	else
		fe.shead = c->snext;
	if (c->snext != NULL)
		c->snext->sprev = c->sprev;
	else
		fe.stail = c->sprev;
	c->sprev = c->snext = NULL;
}

static void
bucket_remove(struct conn *c)
{
	struct conn	**pp;

	for (pp = &fe.buckets[bucket_of(c->akey)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
}

static void
bucket_insert(struct conn *c)
{
	uint32_t	b = bucket_of(c->akey);

	c->hnext = fe.buckets[b];
	fe.buckets[b] = c;
}

static void
conn_unlink(struct conn *c)
{

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		fe.head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		fe.tail = c->prev;
	bucket_remove(c);
	silent_remove(c);
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
		if (c->watched)
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

/*
 * The one line per connection the frontend decides: the peer, how it
 * chose (proto_tags), and the outcome. host and alpn: what a probe found
 * and a rule chose, or NULL.
 */
static void
log_what(const struct conn *c, const char *service, const char *result,
    const char *host, const char *alpn)
{
	char	peer[ADDR_STRLEN], tags[PROTO_TAGS_MAX];

	addr_ntop((const struct sockaddr *)&c->peer, peer, sizeof(peer));
	proto_tags(tags, sizeof(tags), c->proxied ?
	    (const struct sockaddr *)&c->via : NULL, c->proto, host, alpn);
	log_info("conn peer=%s%s service=%s result=%s pid=- "
	    "dispatch=%.3fms", peer, tags, service, log_quote(result),
	    (now_ns() - c->accepted_ns) / 1e6);
	/* A name no service has is the client's to make up: not a row. */
	metrics_count(strcmp(service, "help") == 0 || svc_find(service) !=
	    NULL ? service : "-", result);
}

static void
log_outcome(const struct conn *c, const char *service, const char *result)
{
	log_what(c, service, result, NULL, NULL);
}

/*
 * A refusal in the client's protocol (refusal.c): "-reason" to a TCPMUX
 * client, an alert to TLS, a response to HTTP, a close to the others.
 */
static void	conn_refuse_why(struct conn *, const char *,
		    enum refusal_class, const char *, const char *,
		    const char *);

static void
conn_refuse(struct conn *c, const char *service, enum refusal_class class,
    const char *reason, const char *host)
{
	conn_refuse_why(c, service, class, reason, reason, host);
}

/* The same, the log saying more than the client is told (why). */
static void
conn_refuse_why(struct conn *c, const char *service,
    enum refusal_class class, const char *reason, const char *why,
    const char *host)
{
	char	out[REFUSAL_MAX], result[160];
	size_t	n;

	n = refusal_format(c->proto, class, reason, out, sizeof(out));
	if (n > 0)
		linger_reply(c->w.fd, out, n);
	snprintf(result, sizeof(result), "-%s", why);
	log_what(c, service, result, host, NULL);
	conn_free(c);
}

static void
conn_reject(struct conn *c, const char *service, const char *reason)
{
	conn_refuse(c, service, refusal_class_of(reason), reason, NULL);
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

/* RFC 1078 HELP: the visible names this client may reach, one per line,
 * then close; what it may not reach it is not told of. */
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
		if (!(fe.svcs[i].flags & SVC_VISIBLE) || !access_allows(&fe.svcs[i],
		    (const struct sockaddr *)&c->peer))
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

/*
 * Passes the client to the parent. f: what an implicit client's probe
 * found (NULL for a TCPMUX request), alpn the name a rule chose.
 */
static void
conn_dispatch(struct conn *c, const char *name, int query,
    const struct first *f, const char *alpn, const char *token)
{
	struct ipc_dispatch	d;
	struct pass_client	pc;
	const struct ipc_service *svc;
	const char		*host = NULL;

	if (f != NULL && f->proto == PROTO_TLS)
		host = f->tls.sni;
	else if (f != NULL && f->proto == PROTO_HTTP)
		host = f->http.host;
	/* A running service's own channel, past the parent (pass.c). */
	if (!query && (token == NULL || token[0] == '\0') && !c->proxied) {
		pc.fd = c->w.fd;
		pc.name = name;
		pc.proto = c->proto;
		pc.peer = (const struct sockaddr *)&c->peer;
		pc.local = c->local_known ? (const struct sockaddr *)&c->local :
		    NULL;
		pc.host = host;
		pc.alpn = alpn;
		pc.accepted_ns = c->accepted_ns;
		if (pass_send(&pc) == 0) {
			conn_free(c);
			return;
		}
	}
	memset(&d, 0, sizeof(d));
	d.generation = fe.set.generation;
	memcpy(d.name, name, strnlen(name, SERVICE_NAME_MAX));
	d.accepted_ns = c->accepted_ns;
	d.flags = query ? IPC_QUERY : 0;
	d.proto = c->proto;
	if (token != NULL && token[0] != '\0') {
		d.flags |= IPC_TOKEN;
		snprintf(d.token, sizeof(d.token), "%s", token);
	}
	if (host != NULL)
		snprintf(d.host, sizeof(d.host), "%s", host);
	if (alpn != NULL)
		snprintf(d.alpn, sizeof(d.alpn), "%s", alpn);
	/* Always the peer: the relay checks it against the socket's. */
	d.peer = c->peer;
	if (c->proxied) {
		d.flags |= IPC_PROXIED;
		d.local = c->local;
	} else if (d.flags == 0 && (svc = svc_find(name)) != NULL &&
	    (svc->flags & SVC_RELAY) && lend_relay(&d, c->w.fd) == 0) {
		/* A forward service's client, straight to the relay, which
		 * tells the parent (it logs it). */
		conn_free(c);
		return;
	}
	if (ipc_send(fe.parent.fd, IPC_DISPATCH, &d, sizeof(d),
	    c->w.fd) == -1) {
		/* The parent is not keeping up or is gone; say so. */
		conn_refuse(c, name, REFUSE_BUSY, REASON_BUSY, d.host);
		return;
	}
	/* The parent owns the connection now and logs its outcome. */
	conn_free(c);
}

/* ---- the first message ---- */

static void	parent_read(void);
static void	conn_read(struct conn *, uint32_t);

/* The service of the one rule of a protocol that has no names (SSH,
 * silence), or NULL. */
static const struct ipc_service *
rule_only(enum proto p)
{
	size_t	i;

	for (i = 0; i < fe.nrules; i++)
		if (fe.rules[i].proto == p)
			return &fe.svcs[fe.rules[i].service];
	return NULL;
}

/*
 * An implicit client's complete first message: route it by its rules and
 * pass it on with every byte unread, or refuse it in its protocol.
 */
static void
conn_implicit(struct conn *c, const struct first *f)
{
	const struct ipc_service *svc = NULL;
	const char		*alpn = NULL, *host = NULL;
	int			 i;

	c->proto = f->proto;
	if (f->proto == PROTO_TLS)
		host = f->tls.sni;
	else if (f->proto == PROTO_HTTP)
		host = f->http.host;
	if (f->proto == PROTO_SSH)
		svc = rule_only(PROTO_SSH);
	else if ((i = route_find(fe.rules, fe.nrules, f, &alpn)) >= 0)
		svc = &fe.svcs[fe.rules[i].service];
	if (svc == NULL && f->proto == PROTO_HTTP && *host == '\0') {
		/* HTTP/1.0 without Host and no "match http": nothing to
		 * route by. */
		conn_refuse(c, "-", REFUSE_BAD, REASON_NO_HOST, NULL);
		return;
	}
	if (svc == NULL) {
		conn_refuse(c, "-", REFUSE_UNKNOWN, REASON_UNKNOWN, host);
		return;
	}
	if (!access_allows(svc, (const struct sockaddr *)&c->peer)) {
		conn_refuse(c, svc->name, REFUSE_DENIED, REASON_DENIED, host);
		return;
	}
	if (c->lowat > 1) {
		/* The service reads from the first byte: no low mark. */
		int	one = 1;

		(void)setsockopt(c->w.fd, SOL_SOCKET, SO_RCVLOWAT, &one,
		    sizeof(one));
	}
	conn_dispatch(c, svc->name, 0, f, alpn, NULL);
}

/* A client that said nothing for the silence rule's time. */
static void
conn_silence(struct conn *c)
{
	const struct ipc_service *svc;
	uint8_t			 b;

	if (c->trusted)
		return;		/* a balancer's header first: the deadline */
	silent_remove(c);
	/* Bytes that came in this very wake-up are read, not ignored. */
	if (recv(c->w.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != -1 ||
	    (errno != EAGAIN && errno != EINTR)) {
		conn_read(c, 0);
		return;
	}
	if ((svc = rule_only(PROTO_SILENCE)) == NULL)
		return;		/* the rule went in a reload: wait on */
	c->proto = PROTO_SILENCE;
	if (!access_allows(svc, (const struct sockaddr *)&c->peer))
		conn_refuse(c, svc->name, REFUSE_DENIED, REASON_DENIED, NULL);
	else
		conn_dispatch(c, svc->name, 0, NULL, NULL, NULL);
}

/* Moves a connection to another address's bucket (a PROXY header's). */
static void
conn_rekey(struct conn *c, uint64_t key)
{
	bucket_remove(c);
	c->akey = key;
	bucket_insert(c);
}

static int	 addr_admit(uint64_t key, uint64_t now, struct conn *self,
		    const char **reason);

/*
 * A trusted balancer's connection starts with a PROXY header: read it
 * away, and from then on the client it names is the peer, for limits,
 * logs and services. Returns 1 when read, 0 to wait, -1 if c was freed.
 */
static int
conn_proxy(struct conn *c, size_t n)
{
	struct proxy_hdr	 h;
	const char		*reason;
	char			 why[96];

	switch (proxy_probe(iobuf, n, &h)) {
	case PROBE_AGAIN:
		c->spoke = 1;
		return 0;
	case PROBE_NEXT:
		/* A member relays some clients and is a client itself. */
		if (c->member) {
			c->trusted = c->member = 0;
			return 1;
		}
		conn_refuse_why(c, "-", REFUSE_BAD, REASON_BAD_REQUEST,
		    REASON_NO_PROXY, NULL);
		return -1;
	case PROBE_BAD:
		snprintf(why, sizeof(why), "bad PROXY header: %s", h.why);
		conn_refuse_why(c, "-", REFUSE_BAD, REASON_BAD_REQUEST, why,
		    NULL);
		return -1;
	case PROBE_MATCH:
		break;
	}
	if (recv(c->w.fd, iobuf, h.consumed, MSG_DONTWAIT) !=
	    (ssize_t)h.consumed) {
		log_outcome(c, "-", "reset");
		conn_free(c);
		return -1;
	}
	c->trusted = c->member = 0;
	if (h.local)
		return 1;	/* the balancer's own: a health check */
	c->via = c->peer;
	memcpy(&c->peer, &h.src, sizeof(c->peer));
	memcpy(&c->local, &h.dst, sizeof(c->local));
	c->proxied = 1;
	conn_rekey(c, addr_key((struct sockaddr *)&c->peer));
	/* The client now meets the limits its own address has. */
	if (addr_admit(c->akey, now_ns(), c, &reason) == -1) {
		conn_reject(c, "-", reason);
		return -1;
	}
	return 1;
}

/*
 * Waiting for more of a message whose length is known: the socket wakes
 * us when all of it is there, not at every segment (a hello dribbled a
 * byte at a time costs one wake-up, not thousands).
 */
static void
conn_lowat(struct conn *c, size_t have, size_t need)
{
	int	v;

	if (need <= have || need > PEEK_MAX || need == c->lowat)
		return;
	v = need;
	if (setsockopt(c->w.fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)) == 0)
		c->lowat = need;
}

static void
conn_read(struct conn *c, uint32_t events)
{
	struct first		 f;
	const struct ipc_service *svc;
	size_t			 want;
	ssize_t			 n;

	want = fe.protos != 0 || c->trusted ? PEEK_MAX : fe.set.max_line;
again:
	n = recv(c->w.fd, iobuf, want, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0) {
		/* Half-closed before a byte: it may still read why. */
		if (!c->spoke)
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
	if (c->trusted) {
		if (conn_proxy(c, n) <= 0)
			return;
		goto again;	/* what followed the header, if anything yet */
	}
	silent_remove(c);
	switch (probe_first(iobuf, n, fe.protos, fe.set.max_line, &f)) {
	case PROBE_AGAIN:
		/*
		 * Bytes that can no longer begin a TCPMUX line are surely the
		 * other protocol's: a timeout or an end now is refused in its
		 * terms (an HTTP 408 or 400, a TLS close or alert).
		 */
		if (f.proto != PROTO_TCPMUX && request_parse(iobuf, n,
		    fe.set.max_line, &f.req) == REQ_REJECT)
			c->proto = f.proto;
		/* The peer has shut down its side: no more will come. */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_reject(c, "-", REASON_INCOMPLETE);
		else {
			c->spoke = 1;
			conn_lowat(c, n, f.need);
		}
		return;
	case PROBE_BAD:
		/*
		 * A TCPMUX client hears the line parser's reasons; other
		 * bytes that are no request are a "bad request". A PROXY v2
		 * signature begins with an empty line, which the parser
		 * refuses at its second byte; come whole, as it does from a
		 * balancer, it is called what it is.
		 */
		c->proto = f.proto;
		if (f.proto == PROTO_TCPMUX && (size_t)n >= sizeof(proxy_v2) &&
		    memcmp(iobuf, proxy_v2, sizeof(proxy_v2)) == 0)
			f.why = REASON_UNTRUSTED;
		conn_refuse_why(c, "-", REFUSE_BAD, f.proto != PROTO_TCPMUX ||
		    f.why == f.req.reason ? f.why : REASON_BAD_REQUEST, f.why,
		    NULL);
		return;
	case PROBE_NEXT:	/* never: the TCPMUX parser has the last word */
		conn_reject(c, "-", REASON_BAD_REQUEST);
		return;
	case PROBE_MATCH:
		break;
	}
	if (f.proto != PROTO_TCPMUX) {
		conn_implicit(c, &f);
		return;
	}
	/* Consume the line and nothing more; the peeked bytes are queued. */
	if (recv(c->w.fd, iobuf, f.req.consumed, MSG_DONTWAIT) !=
	    (ssize_t)f.req.consumed) {
		log_outcome(c, f.req.name, "reset");
		conn_free(c);
		return;
	}
	/*
	 * A name just registered is on its way from the parent, sent before
	 * the registrant was told: take what the parent has sent before
	 * calling a name unknown or listing the names (the line is
	 * consumed; iobuf is free).
	 */
	svc = f.req.help ? NULL : svc_find(f.req.name);
	if (svc == NULL) {
		parent_read();
		svc = f.req.help ? NULL : svc_find(f.req.name);
	}
	if (f.req.help)
		conn_help(c);
	else if (svc == NULL)
		conn_reject(c, f.req.name, REASON_UNKNOWN);
	else if (!access_allows(svc, (const struct sockaddr *)&c->peer))
		conn_reject(c, f.req.name, REASON_DENIED);
	else if (svc->answer_len > 0)
		conn_answer(c, f.req.name, fe.answers + svc->answer_off,
		    svc->answer_len);
	else
		conn_dispatch(c, f.req.name, f.req.query, NULL, NULL,
		    f.req.token);
}

/* ---- accepting ---- */

/* Reads what one address's connections have sent; may free any of them
 * but self. */
static void
addr_settle(uint64_t key, const struct conn *self)
{
	struct conn	*c, *next;

	for (c = fe.buckets[bucket_of(key)]; c != NULL; c = next) {
		next = c->hnext;	/* conn_read frees c at most */
		if (c->akey == key && c != self)
			conn_read(c, 0);
	}
}

static void
listeners_enable(int on)
{
	struct epoll_event	ev;
	int			i;

	for (i = 0; i < fe.nlisteners; i++) {
		if (fe.listeners[i]->fd == -1)
			continue;	/* lost (parent_read) */
		memset(&ev, 0, sizeof(ev));
		ev.events = on ? EPOLLIN : 0;
		ev.data.ptr = fe.listeners[i];
		/* MOD allocates nothing: it fails only for an fd not in
		 * the set, a broken invariant. */
		if (epoll_ctl(fe.epfd, EPOLL_CTL_MOD, fe.listeners[i]->fd,
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
			log_info("conn peer=? service=- result=%s pid=- "
			    "dispatch=0.000ms", log_quote("-" REASON_BUSY));
			metrics_count("-", "-" REASON_BUSY);
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
	char	peer[ADDR_STRLEN], result[160];

	reply_fd(fd, reason);
	close(fd);
	snprintf(result, sizeof(result), "-%s", reason);
	log_info("conn peer=%s service=- result=%s pid=- dispatch=0.000ms",
	    addr_ntop((const struct sockaddr *)ss, peer, sizeof(peer)),
	    log_quote(result));
	metrics_count("-", result);
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

/*
 * Whether a newcomer from key may wait for its line (self: one that has
 * just been re-keyed by a PROXY header, not to be counted against
 * itself). 0: yes; -1: no, *reason says why, and its source is charged.
 * What a source has wasted counts with its young silent connections,
 * which no per-address limit holds yet, so that the part of a flood not
 * read yet counts too; older ones make room instead. Near a limit, what
 * the address has sent since the last wake-up is read first: a client
 * that has spoken is never judged as silent.
 */
static int
addr_admit(uint64_t key, uint64_t now, struct conn *self,
    const char **reason)
{
	struct addr_view	 v;
	uint32_t		 score;

	score = source_score(key, now, src_leak());
	addr_look(key, now, self, &v);
	if (score + v.young >= src_burst() ||
	    v.counted >= fe.set.max_pending_addr) {
		addr_settle(key, self);
		score = source_score(key, now, src_leak());
		addr_look(key, now, self, &v);
	}
	if (score + v.young >= src_burst()) {
		/* Still trying counts: a flood gets only the leak's rate. */
		source_charge(key, now, src_leak(), src_burst());
		*reason = REASON_ADDR_LIMIT;
		return -1;
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
		*reason = REASON_BUSY;
		return -1;
	}
	return 0;
}

/* Returns -1 when the listener has nothing more to give this round. */
static int
accept_one(const struct lsock *li)
{
	int			 lfd = li->w.fd;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct epoll_event	 ev;
	struct conn		*c;
	const char		*reason;
	uint64_t		 key, now;
	int			 fd, trusted;

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
	/* A balancer speaks for many clients: each is judged once its PROXY
	 * header has named it (conn_proxy). */
	trusted = fe.nnets > 0 && addr_in_nets((struct sockaddr *)&ss,
	    fe.nets, fe.nnets);
	if (!trusted && addr_admit(key, now, NULL, &reason) == -1) {
		refuse(fd, &ss, reason);
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
		metrics_count("-", "-" REASON_BUSY);
		return 0;
	}
	fe.free = c->next;
	memset(c, 0, sizeof(*c));
	c->w.kind = W_CONN;
	c->w.fd = fd;
	if (li->specific) {
		c->local = li->bound;
		c->local_known = 1;
	}
	c->akey = key;
	c->trusted = trusted;
	c->member = trusted && !addr_in_nets((struct sockaddr *)&ss, fe.nets,
	    fe.nnets - fe.nmember);
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
	bucket_insert(c);
	silent_add(c);
	if (++fe.npending > fe.pending_max)
		fe.pending_max = fe.npending;

	/*
	 * A line that came with the connection is served at once, and the
	 * connection never enters the epoll set (two calls saved on the
	 * common path). conn_read frees c or leaves it pending, as it was.
	 */
	conn_read(c, 0);
	if (c->w.kind != W_CONN || c->w.fd != fd)
		return 0;
	/* Edge-triggered: peeking leaves data queued, so level would spin.
	 * Adding a socket that already has data reports it at once, so
	 * bytes that came since the read above are not missed. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = &c->w;
	if (epoll_ctl(fe.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("epoll_ctl");
		conn_reject(c, "-", REASON_BUSY);
		return 0;
	}
	c->watched = 1;
	return 0;
}

/* ---- messages from the parent ---- */

static void	parent_rules(const struct ipc_config_view *,
		    struct route_rule *, struct netmask *);

static void
parent_config(const uint8_t *p, size_t len)
{
	struct ipc_config_view	 v;
	struct ipc_config	 set;
	struct ipc_service	*svcs = NULL;
	struct route_rule	*rules = NULL;
	struct netmask		*nets = NULL;
	struct aclent		*acl = NULL;
	uint8_t			*blob = NULL;
	size_t			 blen;
	const char		*why;

	/* The parent is trusted but checked: a broken one is fatal here. */
	if (ipc_config_parse(p, len, &v, &why) == -1)
		fatalx("frontend: config message: %s", why);
	set = v.set;
	blen = v.bloblen;
	/*
	 * All of it or none: the lists point into each other (a rule at its
	 * service, a service at its allow/deny entries), so without memory
	 * for every one the old config is kept whole, and the next message
	 * (a reload, a registration) brings it up to date. Only the first
	 * one, at start-up, is fatal without.
	 */
	if ((set.nservices > 0 &&
	    (svcs = calloc(set.nservices, sizeof(*svcs))) == NULL) ||
	    (blen > 0 && (blob = malloc(blen)) == NULL) ||
	    (set.nrules > 0 &&
	    (rules = calloc(set.nrules, sizeof(*rules))) == NULL) ||
	    (set.nproxy > 0 &&
	    (nets = calloc(set.nproxy, sizeof(*nets))) == NULL) ||
	    (set.nacl > 0 && (acl = calloc(set.nacl, sizeof(*acl))) == NULL)) {
		free(svcs);
		free(blob);
		free(rules);
		free(nets);
		if (!fe.configured)
			fatal("frontend: config");
		log_warnx("frontend: out of memory: config generation %u "
		    "not taken, %u kept", set.generation, fe.set.generation);
		return;
	}
	if (set.nservices > 0)
		memcpy(svcs, v.svcs, set.nservices * sizeof(*svcs));
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
	parent_rules(&v, rules, nets);
	access_load(&v, acl);
	if (!fe.configured) {
		fe.configured = 1;
		listeners_enable(1);
		/* The parent declares the daemon ready on this, not before. */
		if (ipc_send(fe.parent.fd, IPC_READY, NULL, 0, -1) == -1)
			fatal("frontend: ready");
	}
	pass_generation(fe.set.generation);
	log_debug("frontend: config generation %u, %u services",
	    set.generation, set.nservices);
}

/*
 * The rules and trusted sources of a config just taken (its services and
 * blob already in fe): rules point at strings in the blob and at services
 * by index. ipc_config_parse has checked that every one is there.
 */
static void
parent_rules(const struct ipc_config_view *v, struct route_rule *rules,
    struct netmask *nets)
{
	const struct ipc_service *svc;
	struct ipc_rule		 r;
	struct ipc_net		 n;
	uint32_t		 i;

	fe.protos = 0;
	for (i = 0; i < v->set.nrules; i++) {
		memcpy(&r, v->rules + i * sizeof(r), sizeof(r));
		if ((svc = svc_find(r.service)) == NULL)
			fatalx("frontend: rule for a name not sent");
		rules[i].proto = r.proto;
		rules[i].service = svc - fe.svcs;
		rules[i].host = r.host_len > 0 ?
		    (const char *)fe.answers + r.host_off : NULL;
		rules[i].alpn = r.alpn_len > 0 ?
		    (const char *)fe.answers + r.alpn_off : NULL;
		if (r.proto != PROTO_SILENCE)
			fe.protos |= 1u << r.proto;
	}
	for (i = 0; i < v->set.nproxy; i++) {
		memcpy(&n, v->nets + i * sizeof(n), sizeof(n));
		nets[i].family = n.family;
		nets[i].prefix = n.prefix;
		memcpy(nets[i].addr, n.addr, sizeof(n.addr));
	}
	free(fe.rules);
	fe.rules = rules;
	fe.nrules = v->set.nrules;
	free(fe.nets);
	fe.nets = nets;
	fe.nnets = v->set.nproxy;
	fe.nmember = v->set.nmember;
}

/*
 * A listener the parent bound at a reload (or, at start, one it passed
 * on the command line): accepted from as soon as the others are.
 */
static void
listener_add(int fd)
{
	struct epoll_event	  ev;
	struct watch		**l, *w;
	struct lsock		 *li;
	socklen_t		  len = sizeof(li->bound), tlen;
	int			  on;

	if ((l = reallocarray(fe.listeners, fe.nlisteners + 1,
	    sizeof(*l))) == NULL)
		fatal("frontend: listeners");
	fe.listeners = l;
	if ((li = calloc(1, sizeof(*li))) == NULL)
		fatal("frontend: listener");
	w = &li->w;
	w->kind = W_LISTENER;
	w->fd = fd;
	fe.listeners[fe.nlisteners++] = w;
	if (fd == -1)
		return;
	if (getsockname(fd, (struct sockaddr *)&li->bound, &len) == 0 &&
	    addr_specific((struct sockaddr *)&li->bound)) {
		/* A transparent one takes connections to other addresses
		 * (TPROXY): those are asked of each socket. */
		tlen = sizeof(on);
		on = 1;
		if (li->bound.sin6_family == AF_INET)
			(void)getsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, &tlen);
		else
			(void)getsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on,
			    &tlen);
		li->specific = !on;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = fe.configured && fe.paused_until == 0 ? EPOLLIN : 0;
	ev.data.ptr = w;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    epoll_ctl(fe.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		/* No room in epoll: its place stays, empty, as above. */
		log_warn("frontend: listener %d", fe.nlisteners - 1);
		close(fd);
		w->fd = -1;
	}
}

/* The i-th listener goes (the parent's list lost it too, at the same
 * place). Its event may be in this batch: freed after it. */
static void
listener_remove(int i)
{
	struct watch	**g, *w = fe.listeners[i];

	if ((g = reallocarray(fe.gone, fe.ngone + 1, sizeof(*g))) == NULL)
		fatal("frontend: listeners");
	fe.gone = g;
	fe.gone[fe.ngone++] = w;
	epoll_ctl(fe.epfd, EPOLL_CTL_DEL, w->fd, NULL);
	close(w->fd);
	w->kind = W_FREE;
	w->fd = -1;
	memmove(&fe.listeners[i], &fe.listeners[i + 1],
	    (fe.nlisteners - i - 1) * sizeof(*fe.listeners));
	fe.nlisteners--;
}

/*
 * An upgrade: another frontend accepts from the same sockets now. This
 * one closes its copies and finishes the clients it has, each within
 * its deadline, as usual (their requests still go to our parent); it
 * exits once none is left.
 */
static void
frontend_drain(void)
{
	while (fe.nlisteners > 0)
		listener_remove(fe.nlisteners - 1);
	metrics_drain();
	fe.draining = 1;
	log_info("frontend: draining, %u pending", fe.npending);
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
	struct ipc_hdr	 hdr;
	struct ipc_pmsg	 m;
	const char	*why;
	ssize_t		 n;
	int		 fd;

	for (;;) {
		n = ipc_recv(fe.parent.fd, &hdr, iobuf, sizeof(iobuf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		/* The parent is going away; a reset: with a report of
		 * ours unread (metrics.c). */
		if ((n == 0 && hdr.type == 0) || (n == -1 && errno == ECONNRESET))
			shutdown_pending();
		/* A listener the parent sent that we had no room for (the
		 * kernel closed it): its place is kept, empty, so that the
		 * parent's indices still name ours. Any other message with
		 * an fd is lost with it; we go on. */
		if (n == -1 && errno == EMFILE) {
			log_warnx("frontend: out of descriptors: a %s from the "
			    "parent was lost", hdr.type == IPC_LISTEN ?
			    "new listener" : "message");
			if (hdr.type == IPC_LISTEN)
				listener_add(-1);
			continue;
		}
		if (n == -1)
			fatal("frontend: message from parent");
		/* The parent is trusted but checked: a broken one is fatal. */
		if (ipc_parent_parse(hdr.type, iobuf, n, fd != -1, &m,
		    &why) == -1)
			fatalx("frontend: %s %u from parent", why, hdr.type);
		switch (m.type) {
		case IPC_CONFIG:
			parent_config(iobuf, n);
			break;
		case IPC_LISTEN:
			listener_add(fd);
			break;
		case IPC_UNLISTEN:
			if (m.index >= (uint32_t)fe.nlisteners)
				fatalx("frontend: no listener %u", m.index);
			listener_remove(m.index);
			break;
		case IPC_DRAIN:
			frontend_drain();
			break;
		case IPC_PING:
			/* The parent's watchdog: the loop is turning. */
			metrics_ping(fe.npending, fe.pending_max);
			break;
		case IPC_METRICS:
			metrics_parent(iobuf, n, fd);
			break;
		default:	/* IPC_LEND, IPC_UNLEND */
			lend_parent(&m, fd);
			break;
		}
	}
}

/* Not in -d mode: lines go to the parent, which owns syslog. */
static void
log_to_parent(int pri, const char *msg)
{
	ipc_send_log(fe.parent.fd, pri, msg);
}

/* ---- the loop ---- */

/* When the oldest silent client's silence ends, if a rule waits for it;
 * 0 if none. A balancer's connection waits for its header, not this. */
static uint64_t
silence_due(void)
{
	struct conn	*c;

	if (fe.set.silence_ms == 0)
		return 0;
	for (c = fe.shead; c != NULL && c->trusted; c = c->snext)
		;
	return c != NULL ? c->accepted_ns + fe.set.silence_ms * 1000000ull :
	    0;
}

static void
silence_expire(uint64_t now)
{
	struct conn	*c, *next;
	uint64_t	 ns = fe.set.silence_ms * 1000000ull;

	if (ns == 0)
		return;
	for (c = fe.shead; c != NULL && c->accepted_ns + ns <= now; c = next) {
		next = c->snext;
		if (!c->trusted)
			conn_silence(c);	/* frees c at most */
	}
}

static int
next_timeout(uint64_t now)
{
	uint64_t	when = 0;

	if (fe.head != NULL)
		when = fe.head->deadline_ns;
	if (silence_due() != 0 && (when == 0 || silence_due() < when))
		when = silence_due();
	if (fe.paused_until != 0 && (when == 0 || fe.paused_until < when))
		when = fe.paused_until;
	if (linger_next_deadline() != 0 &&
	    (when == 0 || linger_next_deadline() < when))
		when = linger_next_deadline();
	if (pass_next_deadline() != 0 && (when == 0 ||
	    pass_next_deadline() < when))
		when = pass_next_deadline();
	if (metrics_next_deadline(fe.npending) != 0 && (when == 0 ||
	    metrics_next_deadline(fe.npending) < when))
		when = metrics_next_deadline(fe.npending);
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
	int			 i, n, k, nl, type;

	len = sizeof(type);
	if (argc != 7 || getsockopt(FE_CHANNEL_FD, SOL_SOCKET, SO_TYPE, &type,
	    &len) == -1 || type != SOCK_SEQPACKET)
		fatalx("-F: for oneportd's own use (its frontend)");
	len = sizeof(cr);
	if (getsockopt(FE_CHANNEL_FD, SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == -1)
		fatal("frontend: SO_PEERCRED");
	nl = number(argv[2], 65536);
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
	else
		log_timestamps(1);

	if ((fe.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("frontend: epoll_create1");
	metrics_init(fe.epfd, fe.parent.fd);
	lend_init(fe.epfd);
	pass_init(fe.parent.fd);
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
	for (i = 0; i < nl; i++)
		listener_add(FE_CHANNEL_FD + 1 + i);
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
			else if (w->kind == W_METRICS)
				metrics_event(w);
			else if (w->kind == W_LENT)
				pass_event((struct lent *)w);
		}
		for (i = 0; i < n; i++) {
			w = evs[i].data.ptr;
			if (w->kind != W_LISTENER)
				continue;
			for (k = 0; k < ACCEPT_BATCH && fe.paused_until == 0;
			    k++)
				if (accept_one((struct lsock *)w) == -1)
					break;
		}
		now = now_ns();
		silence_expire(now);
		while (fe.head != NULL && fe.head->deadline_ns <= now) {
			conn_waste(fe.head);
			conn_reject(fe.head, "-", REASON_TIMEOUT);
		}
		linger_expire(now);
		pass_expire(now);
		metrics_expire(now);
		metrics_tick(now, fe.npending, fe.pending_max);
		if (fe.paused_until != 0 && fe.paused_until <= now) {
			fe.paused_until = 0;
			listeners_enable(1);
		}
		while (fe.ngone > 0)
			free(fe.gone[--fe.ngone]);
		/* Hand-offs of ours still queued are waited for: their
		 * outcome is ours to log (pass.c). */
		if (fe.draining && fe.npending == 0 &&
		    linger_next_deadline() == 0 && pass_next_deadline() == 0) {
			log_info("frontend: drained");
			_exit(0);
		}
	}
}
