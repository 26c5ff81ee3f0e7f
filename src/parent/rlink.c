/* SPDX-License-Identifier: ISC */
/*
 * rlink.c: the parent's link to the relay (oneportd -R), a helper process
 * (proc.c) started when the config has a forward service; a client of a
 * forward service goes to it with its backend (IPC_FORWARD), in the
 * link's queue while its channel is full, and its slot here holds what
 * the connection's one log line needs until the relay's DONE (and a copy
 * of the client while the channel may hold it, rkeep.c). A relay's
 * sandbox names its backends (ports, socket paths) at its start: a
 * reload that adds one starts a new relay for new clients while the old
 * one carries its connections to their end, then exits.
 */
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/sockios.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define RL_CONNECT_MS		5000	/* the backend's connect */
#define RL_RESERVE_FDS		64	/* the relay's own, and slack */

#define REASON_BUSY		"busy"
#define REASON_SVC_BUSY		"service busy"
#define REASON_UNAVAIL		"service unavailable"

#define RL_DRAINING_MAX		8	/* old relays still carrying */
#define RL_BACKS		8	/* lent sockets a relay holds at most
					 * (relay/lent.c LENT_MAX) */
#define RL_STALL_MS		10000	/* clients wait, nothing heard: hung;
					 * or a ping unanswered (proc.c) */
#define RL_PING_MS		5000	/* nothing heard this long: IPC_PING */
#define RL_CHECK_MS		1000	/* how often it is looked at, busy */
#define RL_KEEP_MAX		4096	/* copies of clients in a channel
					 * (rkeep.c): more than it takes */
#define RL_IDLE_CHECK_MS	5000	/* and with nothing waiting */
#define RL_DIRECT_IDS		(1 << 21)	/* a relay's own ids, at most */

/* A relay process: the current one, or an old one draining. */
struct relay {
	struct proc	*p;
	char		*rules;		/* its sandbox's backends, as argv */
	int		 nused;		/* its connections */
	int		 draining;	/* takes no new one; stops when idle */
	uint32_t	 lent;		/* the frontend's socket to it: its
					 * generation, 0 none */
	uint32_t	 lentlast;	/* the newest it was ever lent */
	uint32_t	 closed;	/* the newest it said is closed */
	int		 back[RL_BACKS];	/* copies of its ends of the
					 * lent sockets, newest last: read
					 * only once it is gone; -1 none */
	uint64_t	 heard_ns;	/* it last sent or took a message */
	uint64_t	 stall_ns;	/* clients found waiting since, or 0 */
	uint64_t	 check_ns;	/* the next look (relay_watch) */
	uint64_t	 looked_ns;	/* the last one */
	int		 killed;	/* hung: SIGKILL sent */
	int		*dmap;		/* its own ids (STARTED): our slots */
	size_t		 ndmap;
	unsigned	 uncounted;	/* STARTEDs we had no memory for */
	struct rkeeps	 keeps;		/* clients we sent it, kept while
					 * they may be unread (rkeep.c) */
	struct relay	*next;
};

/* A relayed connection, until its DONE. */
struct slot {
	int		 used;
	struct relay	*rel;
	char		 name[SERVICE_NAME_MAX + 1];
	char		 peer[PEER_STRLEN];
	enum proto	 proto;
	uint64_t	 accepted_ns;
	int		 kept;		/* a copy in its relay's keeps */
};

static struct {
	struct config	*cfg;
	int		 debug, exefd;
	void		(*first_ready)(void);
	int		 announced;	/* first_ready told */
	struct relay	*cur;		/* NULL: no forward service yet */
	struct relay	*old;		/* draining, newest first */
	int		 nold;
	int		 stopping;
	struct slot	*slots;
	int		 nslots, nused, max;
	uint32_t	 lendgen;	/* the last IPC_LEND's generation */
	int		 keepmax;	/* copies kept, all relays' */
} r;

static const struct proc_def relay_def;

static int
has_forward(const struct config *cfg)
{
	int	i;

	for (i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].forward_host != NULL)
			return 1;
	return cfg->cluster != NULL;	/* implicit clients to members */
}

/*
 * The backends as the relay's argv: the ports (its Landlock rules) and
 * the socket paths, each once, each followed by a space.
 */
static char *
rules_of(const struct config *cfg)
{
	const struct service	*sv;
	char			*s, num[8];
	size_t			 len = 0, size = 1;
	int			 i, j;

	for (i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].forward_host != NULL)
			size += strlen(cfg->services[i].forward_host) + 8;
	size += 8;	/* a cluster's rendezvous port */
	if ((s = calloc(1, size)) == NULL)
		return NULL;
	for (i = 0; i < cfg->nservices; i++) {
		sv = &cfg->services[i];
		if (sv->forward_host == NULL)
			continue;
		for (j = 0; j < i; j++)
			if (cfg->services[j].forward_host != NULL &&
			    (sv->forward_port != 0 ? cfg->services[j].
			    forward_port == sv->forward_port : strcmp(
			    cfg->services[j].forward_host,
			    sv->forward_host) == 0))
				break;
		if (j < i)
			continue;
		if (sv->forward_port != 0) {
			snprintf(num, sizeof(num), "%d ", sv->forward_port);
			memcpy(s + len, num, strlen(num) + 1);
			len += strlen(num);
		} else {
			memcpy(s + len, sv->forward_host,
			    strlen(sv->forward_host));
			len += strlen(sv->forward_host);
			s[len++] = ' ';
			s[len] = '\0';
		}
	}
	/* The members' rendezvous port: taken to be the same as ours. */
	if (cfg->cluster != NULL) {
		snprintf(num, sizeof(num), "%d ", cfg->cluster->port);
		memcpy(s + len, num, strlen(num) + 1);
	}
	return s;
}

/* Every backend of want is among have's (both rules_of's). */
static int
covers(const char *have, const char *want)
{
	const char	*p, *q, *h;
	size_t		 n;

	for (p = want; (q = strchr(p, ' ')) != NULL; p = q + 1) {
		n = q - p + 1;
		for (h = have; *h != '\0'; h = strchr(h, ' ') + 1)
			if (strncmp(h, p, n) == 0)
				break;
		if (*h == '\0')
			return 0;
	}
	return 1;
}

/*
 * The cap in all: "max relays", else what the relay's descriptor limit
 * holds at RELAY_FDS a connection (the limit is ours: it inherits it).
 */
static int
max_relays(const struct config *cfg)
{
	struct rlimit	rl;
	rlim_t		n;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return cfg->max_relays > 0 ? cfg->max_relays : 1000;
	n = rl.rlim_cur > RL_RESERVE_FDS ? (rl.rlim_cur - RL_RESERVE_FDS) /
	    RELAY_FDS : 1;
	if (n > 1000000)
		n = 1000000;
	if (cfg->max_relays <= 0)
		return (int)n;
	/* Those past it are refused "service busy" by the relay, which
	 * runs out of descriptors (a pipe, a socket): say so now. */
	if (has_forward(cfg) && (rlim_t)cfg->max_relays > n)
		log_warnx("max relays %d is more than the descriptor limit "
		    "holds (%d at %d a connection)", cfg->max_relays, (int)n,
		    RELAY_FDS);
	return cfg->max_relays;
}

/* Copies of clients in a relay's channel (rkeep.c) may take an eighth of
 * our descriptors: the clients we hold for others need the rest. */
static int
keep_max(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur / 8 >= RL_KEEP_MAX)
		return RL_KEEP_MAX;
	return (int)(rl.rlim_cur / 8);
}

/* The current relay's process, with the config's backends. */
static int
start_relay(void *arg)
{
	struct relay	*rel = arg;
	char		 dbg[4], verb[16], *argv[PROC_ARGV_MAX + 1], *p, *q;
	int		 i, argc, rv;

	snprintf(dbg, sizeof(dbg), "%d", r.debug);
	snprintf(verb, sizeof(verb), "%d", log_verbose);
	argv[0] = (char *)"-R";
	argv[1] = r.cfg->user;
	argv[2] = r.cfg->chroot;
	argv[3] = dbg;
	argv[4] = verb;
	argc = 5;
	free(rel->rules);
	if ((rel->rules = rules_of(r.cfg)) == NULL)
		return -1;
	for (p = rel->rules; (q = strchr(p, ' ')) != NULL &&
	    argc < PROC_ARGV_MAX; p = q + 1) {
		*q = '\0';
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	rv = proc_exec(rel->p, argv, NULL, 0);
	/* argv pointed into the rules: they stay as the relay has them. */
	for (i = 5; i < argc; i++)
		argv[i][strlen(argv[i])] = ' ';
	rel->heard_ns = now_ns();
	rel->check_ns = rel->heard_ns + RL_IDLE_CHECK_MS * 1000000ull;
	rel->stall_ns = 0;
	rel->looked_ns = 0;
	rel->killed = 0;
	return rv;
}

static void
relay_announced(void)
{
	r.announced = 1;
	r.first_ready();
}

static struct relay *
relay_new(void)
{
	struct relay	*rel;
	int		 i;

	/* NULL without memory: a reload keeps the running relay. */
	if ((rel = calloc(1, sizeof(*rel))) == NULL) {
		log_warn("relay: calloc");
		return NULL;
	}
	if ((rel->p = proc_new(&relay_def, rel, r.debug, r.exefd,
	    relay_announced)) == NULL) {
		free(rel);
		return NULL;
	}
	/* One that hangs with no client waiting (relay_watch's case)
	 * holds its sessions for ever: they are lost with it, as at any
	 * death, and the next one serves. */
	proc_watchdog(rel->p, RL_PING_MS, RL_STALL_MS);
	for (i = 0; i < RL_BACKS; i++)
		rel->back[i] = -1;
	if (r.announced)
		proc_announced(rel->p);
	return rel;
}

static void
relay_free(struct relay *rel)
{
	struct relay	**pp;
	int		  i;

	for (pp = &r.old; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rel) {
			*pp = rel->next;
			r.nold--;
			break;
		}
	proc_free(rel->p);
	for (i = 0; i < RL_BACKS; i++)
		if (rel->back[i] != -1)
			close(rel->back[i]);
	rkeep_free(&rel->keeps);
	free(rel->rules);
	free(rel->dmap);
	free(rel);
}

/* A draining relay with no connection left, to which the frontend can
 * send none (its last lent socket closed): its channel closes, and it
 * exits (reaped by rlink_exited). */
static void
drain_check(struct relay *rel)
{
	if (rel->draining && rel->nused == 0 &&
	    (rel->lentlast == 0 || rel->closed == rel->lentlast))
		(void)proc_stop(rel->p);
}

/*
 * May the frontend send this service's clients straight to the relay?
 * The relay checks no access list, so only a service under none (its
 * own or the global one); the caps it keeps itself (IPC_FWDTAB).
 */
int
rlink_direct(const struct config *cfg, const struct service *svc)
{
	return svc->forward_host != NULL && svc->nacl == 0 && cfg->nacl == 0;
}

/* What a FORWARD says of svc, before its client. */
static void
forward_of(const struct service *svc, struct ipc_forward *f)
{
	int	i;

	memset(f, 0, sizeof(*f));
	memcpy(f->name, svc->name, sizeof(f->name));
	f->proxy = svc->proxy_out;
	f->idle_s = svc->idle_s;
	f->connect_ms = RL_CONNECT_MS;
	f->naddrs = svc->nforward_addrs;
	if (svc->forward_port == 0)
		snprintf(f->path, sizeof(f->path), "%s", svc->forward_host);
	for (i = 0; i < svc->nforward_addrs; i++)
		memcpy(&f->addrs[i], &svc->forward_addrs[i],
		    svc->forward_addrs[i].ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
}

/*
 * A message to rel, after those already waiting: sent now if the channel
 * takes it, else queued (a waiting FWDTAB replaced: only the latest
 * counts). fd (-1: none) is ours from here when this returns 0, but with
 * keep, 1 says it was sent now and is still the caller's; -1: not sent
 * (no memory, a broken channel: said), fd still the caller's.
 */
static int
relay_send(struct relay *rel, enum ipc_type type, const void *buf,
    size_t len, int fd, int keep)
{
	int	rv;

	if (proc_queued(rel->p) == 0) {
		if (ipc_send(proc_sock(rel->p), type, buf, len, fd) == 0) {
			if (keep)
				return 1;
			if (fd != -1)
				close(fd);
			return 0;
		}
		if (errno != EAGAIN && errno != ENOBUFS) {
			log_warn("relay: send");
			return -1;
		}
	}
	rv = fd != -1 ? proc_queue_fd(rel->p, type, buf, len, fd) :
	    proc_queue(rel->p, type, buf, len, type == IPC_FWDTAB);
	if (rv == -1)
		log_warnx("relay: no memory for a message that waits");
	return rv;
}

/*
 * The relay's table: the services rlink_direct allows, in the config's
 * order (by name), the first FWDTAB_MAX (felink marks the same ones),
 * and the caps. Without it, or before it, the relay hands the
 * frontend's clients to us.
 */
static void
send_table(struct relay *rel)
{
	struct ipc_fwdtab	*h;
	struct ipc_fwdsvc	*e;
	const struct service	*svc;
	int			 i;

	if ((h = calloc(1, sizeof(*h) + FWDTAB_MAX * sizeof(*e))) == NULL) {
		log_warnx("relay: out of memory for its forward table");
		return;
	}
	e = (struct ipc_fwdsvc *)(h + 1);
	h->max_total = r.max;
	for (i = 0; i < r.cfg->nservices && h->n < FWDTAB_MAX; i++) {
		svc = &r.cfg->services[i];
		if (!rlink_direct(r.cfg, svc))
			continue;
		e[h->n].max_instances = svc->max_instances;
		forward_of(svc, &e[h->n].f);
		h->n++;
	}
	if (relay_send(rel, IPC_FWDTAB, h, sizeof(*h) + h->n * sizeof(*e), -1,
	    0) == -1)
		log_warnx("relay: cannot send its forward table");
	free(h);
}

static void
slot_log(struct slot *s, const char *result, const struct ipc_done *d)
{
	uint64_t	conn = d != NULL && d->connected_ns != 0 ?
			    d->connected_ns : now_ns();

	if (d == NULL) {
		parent_log_conn(s->peer, s->name, result, 0, s->accepted_ns);
		return;
	}
	/* parent_log_conn's line, and what was relayed. */
	stats_relayed(s->name, result, s->accepted_ns, d->connected_ns, d->in,
	    d->out);
	log_info("conn peer=%s service=%s result=%s pid=- dispatch=%.3fms "
	    "in=%llu out=%llu duration=%.3fs", s->peer, s->name,
	    log_quote(result),
	    (conn - s->accepted_ns) / 1e6, (unsigned long long)d->in,
	    (unsigned long long)d->out,
	    d->connected_ns != 0 ? (d->done_ns - d->connected_ns) / 1e9 : 0.0);
}

static void
slot_free(struct slot *s)
{
	s->used = 0;
	r.nused--;
	s->rel->nused--;
	drain_check(s->rel);
}

static int
running(const char *name)
{
	int	i, n = 0;

	for (i = 0; i < r.nslots; i++)
		n += r.slots[i].used && strcmp(r.slots[i].name, name) == 0;
	return n;
}

/* A slot for a connection: -1 when memory says no. */
static int
slot_get(void)
{
	struct slot	*s;
	int		 i, n;

	for (i = 0; i < r.nslots; i++)
		if (!r.slots[i].used)
			return i;
	n = r.nslots == 0 ? 64 : r.nslots * 2;
	if ((s = reallocarray(r.slots, n, sizeof(*s))) == NULL)
		return -1;
	memset(s + r.nslots, 0, (n - r.nslots) * sizeof(*s));
	r.slots = s;
	i = r.nslots;
	r.nslots = n;
	return i;
}

/* Our copies, of every relay's clients: one budget of descriptors. */
static int
keeps_total(void)
{
	struct relay	*rel;
	int		 n = r.cur != NULL ? r.cur->keeps.n : 0;

	for (rel = r.old; rel != NULL; rel = rel->next)
		n += rel->keeps.n;
	return n;
}

/* A slot's copy went (rkeep_settle, rkeep_clear). */
static void
forget(int slot)
{
	r.slots[slot].kept = 0;
}

/*
 * A client of a forward service: to the relay, which answers it; or
 * refused here, in its protocol, with the reason in the log.
 */
void
rlink_forward(const struct service *svc, const struct ipc_dispatch *req,
    int fd, const char *peer)
{
	struct ipc_forward	 f;
	struct relay		*rel = r.cur;
	const char		*reason = NULL;
	char			 result[64];
	uint64_t		 written, read;
	int			 k, keep, rv;

	/* Until a new relay is ready, the newest old one that is. */
	if (rel == NULL || !proc_is_ready(rel->p))
		for (rel = r.old; rel != NULL; rel = rel->next)
			if (proc_is_ready(rel->p))
				break;
	if (rel == NULL)
		reason = REASON_UNAVAIL;
	else if (r.nused >= r.max)
		reason = REASON_BUSY;
	else if (svc->max_instances > 0 &&
	    running(svc->name) >= svc->max_instances)
		reason = REASON_SVC_BUSY;
	else if ((k = slot_get()) == -1)
		reason = REASON_BUSY;
	if (reason != NULL)
		goto refuse;
	forward_of(svc, &f);
	f.id = k;
	f.proto = req->proto;
	f.flags = req->proto == PROTO_TCPMUX ? FORWARD_PLUS : 0;
	f.peer = req->peer;
	f.local = req->local;
	memcpy(f.host, req->host, sizeof(f.host));
	memcpy(f.alpn, req->alpn, sizeof(f.alpn));
	/*
	 * A full channel is a burst the relay has not read yet (the
	 * frontend's clients, sent on while we were slow): the client waits
	 * in the link's queue, in order, counted in the cap as a relayed
	 * one, so "max relays" bounds the queue too. Sent now, a copy is
	 * kept while the channel may hold it (rkeep.c), marked before the
	 * relay can read it.
	 */
	rkeep_settle(&rel->keeps, proc_sock(rel->p), forget);
	keep = proc_queued(rel->p) == 0 &&
	    keeps_total() < r.keepmax &&
	    rkeep_marks(fd, &written, &read) == 0;
	if ((rv = relay_send(rel, IPC_FORWARD, &f, sizeof(f), fd,
	    keep)) == -1) {
		reason = REASON_BUSY;
		goto refuse;
	}
	r.slots[k].kept = 0;
	if (rv == 1) {
		if (rkeep_add(&rel->keeps, fd, k, written, read) == 0)
			r.slots[k].kept = 1;
		else
			close(fd);
	}
	r.slots[k].used = 1;
	r.slots[k].rel = rel;
	r.nused++;
	rel->nused++;
	memcpy(r.slots[k].name, svc->name, sizeof(r.slots[k].name));
	snprintf(r.slots[k].peer, sizeof(r.slots[k].peer), "%s", peer);
	r.slots[k].proto = req->proto;
	r.slots[k].accepted_ns = req->accepted_ns;
	return;
refuse:
	parent_refuse(fd, req->proto, reason);
	close(fd);
	snprintf(result, sizeof(result), "-%s", reason);
	parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
}

/*
 * A client the frontend sent the relay: a slot as rlink_forward's, found
 * by the relay's id. Without memory it goes uncounted, and its DONE
 * finds nothing: logged, not fatal.
 */
static int
started(struct relay *rel, const struct ipc_started *st)
{
	struct slot	*s;
	size_t		 idx = st->id & ~DONE_DIRECT, n, len;
	int		*m, k;

	if (idx >= RL_DIRECT_IDS || (idx < rel->ndmap && rel->dmap[idx] != -1)) {
		log_warnx("relay: started with a bad or busy id (%zu)", idx);
		return -1;
	}
	if (idx >= rel->ndmap) {
		n = rel->ndmap == 0 ? 64 : rel->ndmap;
		while (n <= idx)
			n *= 2;
		if ((m = reallocarray(rel->dmap, n, sizeof(*m))) == NULL)
			goto nomem;
		memset(m + rel->ndmap, 0xff, (n - rel->ndmap) * sizeof(*m));
		rel->dmap = m;
		rel->ndmap = n;
	}
	if ((k = slot_get()) == -1)
		goto nomem;
	s = &r.slots[k];
	s->used = 1;
	s->rel = rel;
	s->kept = 0;
	r.nused++;
	rel->nused++;
	rel->dmap[idx] = k;
	memcpy(s->name, st->d.name, sizeof(s->name));
	addr_ntop((const struct sockaddr *)&st->d.peer, s->peer,
	    sizeof(s->peer));
	len = strlen(s->peer);
	proto_tags(s->peer + len, sizeof(s->peer) - len, NULL, st->d.proto,
	    st->d.host, st->d.alpn);
	s->proto = st->d.proto;
	s->accepted_ns = st->d.accepted_ns;
	return 0;
nomem:
	log_warnx("relay: out of memory: a relayed connection not counted");
	rel->uncounted++;
	return 0;
}

static int
done(struct relay *rel, const struct ipc_done *d, int fd)
{
	struct slot	*s;
	const char	*reason;
	uint32_t	 k = d->id;
	size_t		 idx = d->id & ~DONE_DIRECT;
	int		 kfd, untouched;

	if (d->id & DONE_DIRECT) {
		k = idx < rel->ndmap ? (uint32_t)rel->dmap[idx] : UINT32_MAX;
		if (idx < rel->ndmap)
			rel->dmap[idx] = -1;
	}
	if (k >= (uint32_t)r.nslots || !r.slots[k].used ||
	    r.slots[k].rel != rel) {
		if (fd != -1)
			close(fd);
		/* One we could not count ends: no slot, no log line of its
		 * own, and no fault of the relay's. */
		if ((d->id & DONE_DIRECT) && rel->uncounted > 0) {
			rel->uncounted--;
			log_warnx("relay: an uncounted connection ended: %.*s",
			    (int)sizeof(d->result), d->result);
			return 0;
		}
		log_warnx("relay: done for no connection (%u)", d->id);
		return -1;
	}
	s = &r.slots[k];
	if (s->kept) {
		kfd = rkeep_take(&rel->keeps, (int)k, &untouched);
		s->kept = 0;
		/* A refusal for a client the relay never had (its fd was
		 * lost to EMFILE on the way): our copy is the one left. */
		if (fd == -1 && kfd != -1 && d->result[0] == '-' && untouched) {
			fd = kfd;
			kfd = -1;
		}
		if (kfd != -1)
			close(kfd);
	}
	if (fd != -1) {
		/* Untouched: refused in its protocol, as everywhere. */
		reason = d->result + 1;
		parent_refuse(fd, s->proto, reason);
		close(fd);
		slot_log(s, d->result, NULL);
	} else
		slot_log(s, d->result, d);
	slot_free(s);
	return 0;
}

/*
 * A socketpair, one end to the relay and the other lent to the frontend
 * (IPC_LEND, LEND_RELAY), so a client of a forward service goes from the
 * frontend straight to the relay. A new one replaces the frontend's last
 * (a restart of either, a new relay). Failing is fine: its clients come
 * by us.
 */
static void
relay_lend(struct relay *rel)
{
	struct ipc_lend	 l;
	int		 sv[2], back;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("relay: socketpair");
		return;
	}
	memset(&l, 0, sizeof(l));
	l.kind = LEND_RELAY;
	if (++r.lendgen == 0)
		r.lendgen = 1;
	l.generation = r.lendgen;
	/* As many as the relay keeps: past them, it closes the oldest of
	 * its own (and gives back what that held, relay/lent.c). */
	if (rel->back[0] != -1)
		close(rel->back[0]);
	memmove(rel->back, rel->back + 1, (RL_BACKS - 1) * sizeof(int));
	rel->back[RL_BACKS - 1] = -1;
	if ((back = fcntl(sv[0], F_DUPFD_CLOEXEC, 0)) == -1)
		log_warn("relay: a copy of the lent socket");
	if (relay_send(rel, IPC_LEND, &l, sizeof(l), sv[0], 0) == -1) {
		close(sv[0]);
		close(sv[1]);
		if (back != -1)
			close(back);
		return;
	}
	rel->back[RL_BACKS - 1] = back;
	rel->lent = rel->lentlast = l.generation;
	felink_lend(LEND_RELAY, "", l.generation, sv[1]);
}

/* The frontend no longer sends to rel: it is gone or drains. */
static void
relay_unlend(struct relay *rel)
{
	if (rel->lent == 0)
		return;
	felink_unlend(LEND_RELAY, "", rel->lent);
	rel->lent = 0;
}

/* A new frontend: the current relay's socket lent to it. */
void
rlink_lend_again(void)
{
	if (r.cur != NULL && proc_is_ready(r.cur->p) && !r.stopping)
		relay_lend(r.cur);
}

static int
message(void *arg, enum ipc_type type, const uint8_t *buf, size_t n, int fd)
{
	struct ipc_rmsg	 m;
	struct relay	*rel = arg;
	const char	*why;
	char		 line[IPC_LOG_MAX + 1];

	rel->heard_ns = now_ns();
	if (ipc_relay_parse(type, buf, n, fd != -1, &m, &why) == -1 ||
	    (m.type == IPC_READY && proc_ready(rel->p) == -1)) {
		if (fd != -1)
			close(fd);
		log_warnx("%s from relay", why != NULL ? why :
		    "second ready");
		return -1;
	}
	switch (m.type) {
	case IPC_READY:
		if (rel == r.cur && !r.stopping) {
			send_table(rel);
			relay_lend(rel);
		}
		break;
	case IPC_STARTED:
		return started(rel, &m.started);
	case IPC_DISPATCH:
		/* One the frontend sent it that it has no entry for. */
		dispatch(r.cfg, &m.f.dispatch, fd);
		break;
	case IPC_DRAIN:
		rel->closed = m.drained;
		drain_check(rel);
		break;
	case IPC_DONE:
		return done(rel, &m.done, fd);
	case IPC_LOG:
		log_msg(m.f.pri, ipc_log_text(&m.f, line, sizeof(line)));
		break;
	default:
		break;
	}
	return 0;
}

static int
lent_take(const struct ipc_dispatch *d, int fd, void *arg)
{
	(void)arg;
	dispatch(r.cfg, d, fd);
	return 0;
}

/*
 * The frontend's clients it had not read as it went: ours, as if the
 * frontend had sent them here (to an old relay that is ready, or
 * refused), and none is left in the socket when it closes.
 */
static void
lent_unread(struct relay *rel)
{
	int	i, lost = 0;

	for (i = 0; i < RL_BACKS; i++) {
		if (rel->back[i] == -1)
			continue;
		lost += ipc_lent_drain(rel->back[i], lent_take, NULL);
		close(rel->back[i]);
		rel->back[i] = -1;
	}
	if (lost > 0)
		log_warnx("relay: %d clients of the frontend it had not read "
		    "were lost", lost);
}

/* A client in a lent socket it has not read (SIOCINQ: bytes queued; an
 * EOF, the frontend's end closed, polls readable but is no client). */
static int
lent_waiting(const struct relay *rel)
{
	int	i, inq;

	for (i = 0; i < RL_BACKS; i++)
		if (rel->back[i] != -1 &&
		    ioctl(rel->back[i], SIOCINQ, &inq) == 0 && inq > 0)
			return 1;
	return 0;
}

/*
 * The clients we kept copies of, once the relay is gone for sure (it
 * could touch them while it lives): each it never touched is answered,
 * the others were relayed and are lost with it.
 */
static void
keeps_answer(struct relay *rel)
{
	struct rkeep	*k;
	struct slot	*s;
	int		 i;

	for (i = 0; i < rel->keeps.n; i++) {
		k = &rel->keeps.k[i];
		s = &r.slots[k->slot];
		if (!s->used || s->rel != rel || !s->kept)
			continue;	/* cannot be: a copy per slot of its */
		if (rkeep_untouched(k)) {
			parent_refuse(k->fd, s->proto, REASON_UNAVAIL);
			slot_log(s, "-" REASON_UNAVAIL, NULL);
		} else
			slot_log(s, "-relay lost", NULL);
		s->kept = 0;
		slot_free(s);
	}
	rkeep_clear(&rel->keeps, NULL);
}

/* Its connections went with it: each gets its log line now, but those
 * we kept copies of wait for its death to be sure (keeps_answer). */
static void
relay_lost(void *arg)
{
	struct relay	*rel = arg;
	int		 i;

	relay_unlend(rel);
	for (i = 0; i < r.nslots; i++)
		if (r.slots[i].used && r.slots[i].rel == rel &&
		    !r.slots[i].kept) {
			slot_log(&r.slots[i], "-relay lost", NULL);
			slot_free(&r.slots[i]);
		}
	if (proc_pid(rel->p) <= 0)
		keeps_answer(rel);
	/* Its ids went with it: the next relay counts from 0 again. */
	free(rel->dmap);
	rel->dmap = NULL;
	rel->ndmap = 0;
	rel->uncounted = 0;
	rel->closed = rel->lentlast = 0;
	lent_unread(rel);
}

/* A client still in the link's queue as the relay went: answered. */
static void
relay_unsent(void *arg, enum ipc_type type, const uint8_t *buf, size_t n,
    int fd)
{
	struct ipc_forward	f;

	if (type != IPC_FORWARD || n != sizeof(f)) {
		close(fd);
		return;
	}
	memcpy(&f, buf, sizeof(f));
	parent_refuse(fd, f.proto, REASON_UNAVAIL);
	close(fd);
	if (f.id < (uint32_t)r.nslots && r.slots[f.id].used &&
	    r.slots[f.id].rel == arg) {
		slot_log(&r.slots[f.id], "-" REASON_UNAVAIL, NULL);
		slot_free(&r.slots[f.id]);
	}
}

/* What waits for a relay's channel, as it takes it: before each wait
 * of the loop, so a queued message needs no flush where it is queued
 * (a failed write loses the relay: relay_unsent, then relay_lost). */
static void
relay_write(struct relay *rel)
{
	int	n = proc_queued(rel->p);

	if (n > 0 && (proc_flush(rel->p) == -1 || proc_queued(rel->p) < n))
		rel->heard_ns = now_ns();
}

void
rlink_write(void)
{
	struct relay	*rel;

	if (r.cur != NULL)
		relay_write(r.cur);
	for (rel = r.old; rel != NULL; rel = rel->next)
		relay_write(rel);
}

static const struct proc_def relay_def = {
	.name = "relay",
	.argv0 = "oneportd-relay",
	.bufsz = 1 << 20,
	.log_ready = 1,
	.maxmsg = sizeof(struct ipc_started) + IPC_LOG_MAX + 64,
	.batch = 256,
	.emfile = "a refused client was lost",
	.start = start_relay,
	.message = message,
	.lost = relay_lost,
	.unsent = relay_unsent,
};

/* Ours: the current relay's (restarted after a backoff) or an old one's
 * (gone for good). 0: not a relay's pid. */
int
rlink_exited(pid_t pid, int st)
{
	struct relay	*rel;
	int		 rv;

	if (r.cur != NULL && (rv = proc_exited(r.cur->p, pid, st)) != 0) {
		keeps_answer(r.cur);
		return rv;
	}
	for (rel = r.old; rel != NULL; rel = rel->next)
		if ((rv = proc_exited(rel->p, pid, st)) != 0) {
			keeps_answer(rel);
			relay_free(rel);
			return rv;
		}
	return 0;
}

/*
 * A relay that is alive but takes nothing (stopped, wedged) would hold
 * the clients waiting for it for ever, in our queue and in the lent
 * socket: when some have waited RL_STALL_MS with nothing heard from it,
 * it is killed, its clients answered (relay_unsent, lent_unread) and a
 * new one started, as after any death. A relay at work answers within
 * milliseconds, so this is never a busy one.
 */
static void
relay_watch(struct relay *rel, uint64_t now)
{
	int		waiting, outq, late;

	if (rel->killed || proc_pid(rel->p) <= 0 || proc_sock(rel->p) == -1 ||
	    now < rel->check_ns)
		return;
	/* Copies of clients it took all of: not kept for a long session. */
	rkeep_settle(&rel->keeps, proc_sock(rel->p), forget);
	/* In our queue, in the channel unread (a unix socket's SIOCOUTQ:
	 * what its reader has not taken), or in the frontend's sockets. */
	waiting = proc_queued(rel->p) > 0 ||
	    (ioctl(proc_sock(rel->p), SIOCOUTQ, &outq) == 0 && outq > 0) ||
	    lent_waiting(rel);
	/* We did not look for a while (our own loop was held): what the
	 * relay sent meanwhile is not read yet, so start the count again. */
	late = rel->looked_ns != 0 &&
	    now - rel->looked_ns > 2 * RL_CHECK_MS * 1000000ull;
	rel->looked_ns = now;
	rel->check_ns = now + (waiting ? RL_CHECK_MS : RL_IDLE_CHECK_MS) *
	    1000000ull;
	if (!waiting || late || rel->stall_ns == 0 ||
	    rel->heard_ns >= rel->stall_ns) {
		rel->stall_ns = waiting ? now : 0;
		return;
	}
	if (now - rel->stall_ns < RL_STALL_MS * 1000000ull)
		return;
	log_warnx("relay pid %d took no client for %d s: killed",
	    (int)proc_pid(rel->p), RL_STALL_MS / 1000);
	kill(proc_pid(rel->p), SIGKILL);
	rel->killed = 1;
}

void
rlink_tick(uint64_t now)
{
	struct relay	*rel;

	if (r.cur != NULL) {
		proc_tick(r.cur->p, now);
		relay_watch(r.cur, now);
	}
	/* Old ones too: a hung one is killed, draining or told to stop
	 * (proc.c); one that dies is not restarted, but freed. */
	for (rel = r.old; rel != NULL; rel = rel->next) {
		proc_tick(rel->p, now);
		relay_watch(rel, now);
	}
}

static uint64_t
earlier(uint64_t a, uint64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

uint64_t
rlink_next_deadline(void)
{
	struct relay	*rel;
	uint64_t	 when = 0;

	if (r.cur != NULL) {
		when = proc_next_deadline(r.cur->p);
		if (!r.cur->killed && proc_pid(r.cur->p) > 0 &&
		    proc_sock(r.cur->p) != -1)
			when = earlier(when, r.cur->check_ns);
	}
	/* As relay_watch looks: not one whose channel is closed already. */
	for (rel = r.old; rel != NULL; rel = rel->next) {
		when = earlier(when, proc_next_deadline(rel->p));
		if (!rel->killed && proc_pid(rel->p) > 0 &&
		    proc_sock(rel->p) != -1)
			when = earlier(when, rel->check_ns);
	}
	return when;
}

/* The first relay, and the others: first_ready once, at the first READY
 * of any; none needed, at once. */
static void
relay_start(struct relay *rel)
{
	r.cur = rel;
	if (start_relay(r.cur) == -1 && r.announced)
		proc_retry(r.cur->p);
}

/*
 * At start: a relay if some service forwards, first_ready at its first
 * READY; none needed, first_ready now. -1: it could not start.
 */
int
rlink_start(struct config *cfg, int debug, int exefd,
    void (*first_ready)(void))
{
	struct relay	*rel;

	r.cfg = cfg;
	r.debug = debug;
	r.exefd = exefd;
	r.first_ready = first_ready;
	r.max = max_relays(cfg);
	r.keepmax = keep_max();
	if (!has_forward(cfg)) {
		r.announced = 1;
		first_ready();
		return 0;
	}
	if ((rel = relay_new()) == NULL)
		return -1;
	relay_start(rel);
	return proc_pid(r.cur->p) == -1 ? -1 : 0;
}

/*
 * A reload. A relay's sandbox holds the backends of its start: when the
 * config has one it lacks, a new relay takes the new clients, and the
 * old one drains: it keeps its connections to their end, then its
 * channel is closed and it exits. Past RL_DRAINING_MAX old ones, the
 * oldest is stopped with its connections.
 */
void
rlink_configure(struct config *cfg)
{
	struct relay	*rel, *nrel, **pp;
	char		*rules;

	r.cfg = cfg;
	r.max = max_relays(cfg);
	r.keepmax = keep_max();
	if (!has_forward(cfg) || r.stopping)
		return;
	if (r.cur == NULL) {
		/* Without memory, the next reload tries again. */
		if ((rel = relay_new()) != NULL)
			relay_start(rel);
		return;
	}
	if ((rules = rules_of(cfg)) == NULL)
		return;
	if (r.cur->rules != NULL && covers(r.cur->rules, rules)) {
		free(rules);
		if (proc_is_ready(r.cur->p))
			send_table(r.cur);
		return;
	}
	free(rules);
	if ((nrel = relay_new()) == NULL) {
		log_warnx("relay: no memory for the new backends; the "
		    "running relay goes on");
		return;
	}
	rel = r.cur;
	log_info("relay: new backends; relay pid %d drains its %d "
	    "connections, a new one takes new clients",
	    (int)proc_pid(rel->p), rel->nused);
	rel->draining = 1;
	/* Its exit is expected, not followed by another (rlink_exited). */
	proc_draining(rel->p);
	relay_unlend(rel);
	rel->next = r.old;
	r.old = rel;
	r.nold++;
	relay_start(nrel);
	if (r.nold > RL_DRAINING_MAX) {
		for (pp = &r.old; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		log_warnx("relay pid %d stopped: more than %d relays "
		    "draining", (int)proc_pid((*pp)->p), RL_DRAINING_MAX);
		(void)proc_stop((*pp)->p);
	}
	/* Not running (between restarts), or nothing to carry. */
	if (proc_pid(rel->p) == -1)
		relay_free(rel);
	else
		drain_check(rel);
}

int
rlink_stop(void)
{
	struct relay	*rel;
	int		 none = 1;

	r.stopping = 1;
	if (r.cur != NULL)
		relay_unlend(r.cur);
	for (rel = r.old; rel != NULL; rel = rel->next)
		(void)proc_stop(rel->p);
	if (r.cur != NULL)
		none = proc_stop(r.cur->p);
	return none;
}
