/* SPDX-License-Identifier: ISC */
/*
 * The parent's link to the frontend, a helper process (proc.c): what it
 * is started with (the listeners), what its messages mean (dispatches,
 * log lines, READY), and the names and settings it is written through a
 * queue that waits for room on the socket.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

static struct {
	struct config	*cfg;		/* the running one (felink_configure) */
	uint32_t	 generation;
	int		 debug;
	struct proc	*p;
	char		*fe_user, *fe_chroot;	/* its, as at start */
	int		 config_due;	/* the frontend's names are stale */
	struct lendmsg	*lends;		/* IPC_LEND/UNLEND the socket refused */
} d;

/* A lend (with its fd) or unlend that waits for room, in order. */
struct lendmsg {
	struct lendmsg	*next;
	struct ipc_lend	 l;
	int		 fd;		/* -1: an IPC_UNLEND */
};

/* Names that could not be queued for want of memory: tried this soon. */
#define FE_RETRY_MS	100

#define FE_PING_MS	5000	/* nothing heard this long: IPC_PING */
#define FE_STALL_MS	10000	/* a ping unanswered this long: hung */

struct namelist {
	struct ipc_service	*s;
	uint32_t		 n, max;
};

static void
add_registered(const char *name, void *arg)
{
	struct namelist	*nl = arg;

	/* A configured service of the same name wins, and is listed once. */
	if (nl->n >= nl->max || config_find(d.cfg, name) != NULL)
		return;
	snprintf(nl->s[nl->n].name, sizeof(nl->s[nl->n].name), "%s", name);
	nl->s[nl->n++].flags = SVC_VISIBLE;
}

/* Another host's: listed unless this host has the name itself. */
static void
add_remote(const char *name, void *arg)
{
	if (handoff_registered(name))
		return;
	add_registered(name, arg);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ipc_service *)a)->name,
	    ((const struct ipc_service *)b)->name);
}

/* A rule's string into the blob at *len, NUL after it; "any" is 0, 0. */
static void
put_string(struct ipc_config *c, size_t blob, size_t *len, const char *str,
    uint32_t *off, uint32_t *slen)
{
	size_t	n;

	*off = *slen = 0;
	if (str == NULL)
		return;
	n = strlen(str);
	memcpy((char *)c + *len, str, n + 1);
	*off = *len - blob;
	*slen = n;
	*len += n + 1;
}

/* The cluster's: the other hosts' rules, and the members as sources. */
static int		 remote_rules, nmembers;
static struct netmask	 members[MAX_PROXY_FROM];

/* Each configured service's rules by its name, then the trusted PROXY
 * sources and the allow/deny entries (the global ones first, then each
 * service's, which s[i] points at), then the rules' strings after the
 * answers at *len. */
static void
put_rules(struct ipc_config *c, struct ipc_service *s, struct ipc_rule *r,
    size_t blob, size_t *len)
{
	struct ipc_net		*n = (struct ipc_net *)(r + c->nrules);
	struct ipc_acl		*a = (struct ipc_acl *)(n + c->nproxy);
	const struct aclent	*e;
	const struct netmask	*nm;
	const struct matchrule	*m;
	const char		*name, *host, *alpn;
	enum proto		 proto;
	int			 i, j, k = 0;

	for (i = 0; i < d.cfg->nservices; i++)
		for (j = 0; j < d.cfg->services[i].nrules; j++, r++) {
			m = &d.cfg->services[i].rules[j];
			r->proto = m->proto;
			memcpy(r->service, d.cfg->services[i].name,
			    sizeof(r->service));
			put_string(c, blob, len, m->host, &r->host_off,
			    &r->host_len);
			put_string(c, blob, len, m->alpn, &r->alpn_off,
			    &r->alpn_len);
		}
	for (i = 0; i < remote_rules && clink_rule(i, &name, &proto, &host,
	    &alpn); i++, r++) {
		r->proto = proto;
		snprintf(r->service, sizeof(r->service), "%s", name);
		put_string(c, blob, len, host, &r->host_off, &r->host_len);
		put_string(c, blob, len, alpn, &r->alpn_off, &r->alpn_len);
	}
	for (i = 0; i < (int)c->nproxy; i++) {
		nm = i < d.cfg->nproxy_from ? &d.cfg->proxy_from[i] :
		    &members[i - d.cfg->nproxy_from];
		n[i].family = nm->family;
		n[i].prefix = nm->prefix;
		memcpy(n[i].addr, nm->addr, sizeof(n[i].addr));
	}
	for (i = -1; i < d.cfg->nservices; i++) {
		if (i >= 0) {
			s[i].acl_off = d.cfg->services[i].nacl > 0 ? k : 0;
			s[i].acl_len = d.cfg->services[i].nacl;
		}
		e = i < 0 ? d.cfg->acl : d.cfg->services[i].acl;
		for (j = 0; j < (i < 0 ? d.cfg->nacl :
		    d.cfg->services[i].nacl); j++, k++) {
			a[k].deny = e[j].deny;
			a[k].net.family = e[j].net.family;
			a[k].net.prefix = e[j].net.prefix;
			memcpy(a[k].net.addr, e[j].net.addr,
			    sizeof(a[k].net.addr));
		}
	}
}

/* config_finish bounds the counts; then all always fits. */
_Static_assert(sizeof(struct ipc_hdr) + sizeof(struct ipc_config) +
    MAX_SERVICES * sizeof(struct ipc_service) +
    MAX_RULES * (sizeof(struct ipc_rule) + HOST_NAME_LEN + ALPN_NAME_LEN +
    2) + MAX_PROXY_FROM * sizeof(struct ipc_net) +
    MAX_ACL * sizeof(struct ipc_acl) <= IPC_MAX,
    "the largest config fits in one message");

/* The frontend's view: settings, and every name, configured or
 * registered (each registration and its end sends this again), queued
 * in place of any older one the socket has not taken yet, then the match
 * rules, trusted PROXY sources and allow/deny lists. Built in one buffer
 * of the largest message, kept for every send, and sent from it when
 * nothing waits before it: a reload or a registration allocates nothing
 * unless the socket is full. -1 when out of memory for that copy: then
 * they are due still, and tried again soon. */
static union {
	struct ipc_config	c;
	uint8_t			b[IPC_MAX];
} cbuf;

static int
queue_config(void)
{
	struct ipc_config	*c = &cbuf.c;
	struct ipc_service	*s;
	struct ipc_rule		*r;
	struct namelist		 nl;
	const char		*rname, *rhost, *ralpn;
	enum proto		 rproto;
	size_t			 len, blob, slen = 0;
	int			 i, j, ndirect = 0;

	/* Nothing of the last one stays: the header and names are cleared
	 * now, the arrays after them below, the strings written whole. */
	memset(c, 0, sizeof(*c) + MAX_SERVICES * sizeof(*s));
	c->generation = d.generation;
	c->timeout_ms = d.cfg->timeout_ms;
	c->max_line = d.cfg->max_line;
	c->max_pending = d.cfg->max_pending;
	c->max_pending_addr = d.cfg->max_pending_addr;
	c->drop_start = d.cfg->drop_start;
	c->drop_rate = d.cfg->drop_rate;
	c->help = d.cfg->help;
	c->silence_ms = d.cfg->silence_ms;
	c->nproxy = d.cfg->nproxy_from;
	c->nacl = c->nacl_default = d.cfg->nacl;
	s = (struct ipc_service *)(c + 1);
	for (i = 0; i < d.cfg->nservices && i < MAX_SERVICES; i++) {
		memcpy(s[i].name, d.cfg->services[i].name,
		    sizeof(s[i].name));
		s[i].flags = d.cfg->services[i].visible ? SVC_VISIBLE : 0;
		/* The relay's table has the same ones (rlink_table). */
		if (rlink_direct(d.cfg, &d.cfg->services[i]) &&
		    ndirect++ < FWDTAB_MAX)
			s[i].flags |= SVC_RELAY;
		c->nacl += d.cfg->services[i].nacl;
		for (j = 0; j < d.cfg->services[i].nrules; j++) {
			const struct matchrule *m =
			    &d.cfg->services[i].rules[j];

			c->nrules++;
			slen += (m->host ? strlen(m->host) + 1 : 0) +
			    (m->alpn ? strlen(m->alpn) + 1 : 0);
		}
	}
	nl.s = s;
	nl.n = i;
	nl.max = MAX_SERVICES;
	handoff_names(add_registered, &nl);
	clink_names(add_remote, &nl);
	c->nservices = nl.n;
	nmembers = clink_members(members, MAX_PROXY_FROM - c->nproxy);
	c->nproxy += nmembers;
	c->nmember = nmembers;
	/* Rules only for names listed: none if the list was cut. */
	for (remote_rules = 0; nl.n < nl.max && c->nrules < MAX_RULES &&
	    clink_rule(remote_rules, &rname, &rproto, &rhost, &ralpn);
	    remote_rules++) {
		c->nrules++;
		slen += (rhost ? strlen(rhost) + 1 : 0) +
		    (ralpn ? strlen(ralpn) + 1 : 0);
	}
	r = (struct ipc_rule *)(s + nl.n);
	blob = sizeof(*c) + nl.n * sizeof(*s) + c->nrules * sizeof(*r) +
	    c->nproxy * sizeof(struct ipc_net) + c->nacl * sizeof(struct ipc_acl);
	len = blob;
	memset(r, 0, blob - ((char *)r - (char *)c));
	/*
	 * A static redirect's answer never changes: the frontend can give
	 * it without a hop through us. Those that do not fit in one
	 * message with the rules' strings are answered here, as before.
	 */
	for (i = 0; i < d.cfg->nservices && i < MAX_SERVICES; i++) {
		struct service	*svc = &d.cfg->services[i];
		char		 line[512];
		int		 n;

		if (svc->redirect != REDIRECT_STATIC)
			continue;
		n = snprintf(line, sizeof(line), "@%d host=%s\r\n",
		    svc->redirect_port, svc->redirect_host);
		if (n <= 0 || (size_t)n >= sizeof(line) ||
		    len + n + slen > IPC_MAX - sizeof(struct ipc_hdr))
			continue;
		memcpy((char *)c + len, line, n);
		s[i].answer_off = len - blob;
		s[i].answer_len = n;
		len += n;
	}
	put_rules(c, s, r, blob, &len);
	/* Sorted here: the frontend only checks the order (see ipc.c). The
	 * rules name their services, so the order is theirs to lose. */
	qsort(s, nl.n, sizeof(*s), name_cmp);
	/* felink_write comes here with nothing queued: straight out, unless
	 * the socket is full (or broken: the queue's flush says so). */
	if (ipc_send(proc_sock(d.p), IPC_CONFIG, c, len, -1) == 0)
		return 0;
	if (proc_queue(d.p, IPC_CONFIG, c, len, 1) == -1) {
		parent_short("memory", "the frontend's names wait");
		return -1;
	}
	return 0;
}

/* The lends that wait, in order, as far as the socket takes them: 0 all
 * went, -1 some wait (full), the link is lost for anything else. */
static int
lends_flush(void)
{
	struct lendmsg	*m;
	int		 sock = proc_sock(d.p);

	while ((m = d.lends) != NULL) {
		if (sock == -1)
			return -1;
		if (ipc_send(sock, m->fd != -1 ? IPC_LEND : IPC_UNLEND, &m->l,
		    sizeof(m->l), m->fd) == -1) {
			if (errno == EAGAIN || errno == ENOBUFS)
				return -1;
			log_warn("frontend: lend");
			proc_lost(d.p, "cannot be lent a socket");
			return -1;
		}
		d.lends = m->next;
		if (m->fd != -1)
			close(m->fd);
		free(m);
	}
	return 0;
}

static void
lends_clear(void)
{
	struct lendmsg	*m;

	while ((m = d.lends) != NULL) {
		d.lends = m->next;
		if (m->fd != -1)
			close(m->fd);
		free(m);
	}
}

static void
lend_queue(uint32_t kind, const char *name, uint32_t generation, int fd)
{
	struct lendmsg	*m, **pp;

	if (proc_sock(d.p) == -1 || (m = calloc(1, sizeof(*m))) == NULL) {
		/* No frontend (the next is lent anew), or no memory: its
		 * clients go by us. */
		if (fd != -1)
			close(fd);
		return;
	}
	m->l.kind = kind;
	m->l.generation = generation;
	snprintf(m->l.name, sizeof(m->l.name), "%s", name);
	m->fd = fd;
	for (pp = &d.lends; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = m;
	(void)lends_flush();
}

/*
 * Lend the frontend fd (ours until sent: closed here after), a socket on
 * which it sends clients of kind and name past us (ipc.h IPC_LEND); one
 * with the same kind and name replaces the last. Its owner lends again
 * each time a frontend starts (felink_lend_again).
 */
void
felink_lend(uint32_t kind, const char *name, uint32_t generation, int fd)
{
	lend_queue(kind, name, generation, fd);
}

/* The frontend drops the lent socket of kind and name of that
 * generation (0: any). */
void
felink_unlend(uint32_t kind, const char *name, uint32_t generation)
{
	lend_queue(kind, name, generation, -1);
}

static int
message(void *arg, enum ipc_type type, const uint8_t *buf, size_t n, int fd)
{
	struct ipc_fmsg		 m;
	const char		*why;
	char			 line[IPC_LOG_MAX + 1];

	(void)arg;
	if (ipc_frontend_parse(type, buf, n, fd != -1, &m, &why) == -1 ||
	    (m.type == IPC_READY && proc_ready(d.p) == -1)) {
		if (fd != -1)
			close(fd);
		log_warnx("%s from frontend", why != NULL ? why :
		    "second ready");
		return -1;
	}
	switch (m.type) {
	case IPC_DISPATCH:
		dispatch(d.cfg, &m.dispatch, fd);
		break;
	case IPC_LOG:
		log_msg(m.pri, ipc_log_text(&m, line, sizeof(line)));
		break;
	case IPC_FSTATS:
		stats_frontend(&m.fstats);
		if (m.fstats.flags & FSTATS_WANT)
			status_metrics_asked();
		break;
	default:
		break;
	}
	return 0;
}

/*
 * A fresh exec of ourselves (frontend_run), so that it holds only what its
 * messages give it: the names and limits, never a service's argv or env.
 * The listeners follow its channel (fd 3).
 */
static int
start_frontend(void *arg)
{
	char		 nl[16], dbg[4], verb[16];
	char		*argv[7];
	int		*fds, i, rv;

	(void)arg;
	if ((fds = calloc(d.cfg->nlisteners + 1, sizeof(int))) == NULL) {
		/* A restart: proc.c tries again later. */
		log_warn("frontend: calloc");
		return -1;
	}
	for (i = 0; i < d.cfg->nlisteners; i++)
		fds[i] = d.cfg->listeners[i].fd;
	snprintf(nl, sizeof(nl), "%d", d.cfg->nlisteners);
	snprintf(dbg, sizeof(dbg), "%d", d.debug);
	snprintf(verb, sizeof(verb), "%d", log_verbose);
	argv[0] = (char *)"-F";
	argv[1] = nl;
	argv[2] = d.fe_user;
	argv[3] = d.fe_chroot;
	argv[4] = dbg;
	argv[5] = verb;
	argv[6] = NULL;
	rv = proc_exec(d.p, argv, fds, d.cfg->nlisteners);
	free(fds);
	if (rv == 0) {
		d.config_due = 1;
		status_frontend_started(proc_sock(d.p));
		/* Its lent sockets died with the last one. */
		lends_clear();
		rlink_lend_again();
		handoff_lend_again();
	}
	return rv;
}

static const struct proc_def frontend_def = {
	.name = "frontend",
	.argv0 = "oneportd-front",
	/* The largest config is IPC_MAX: one of those fits, doubled by
	 * the kernel, and no more than that waits in the socket. */
	.bufsz = IPC_MAX / 2 + 4096,
	.minsnd = IPC_MAX + 1024,
	.slice = 1,
	.maxmsg = IPC_MAX,
	.batch = 64,
	.emfile = "a connection was lost",
	.start = start_frontend,
	.message = message,
};

/*
 * Send what is queued, then the latest names if they changed; a full
 * socket leaves them queued and epoll tells us when it has room.
 */
void
felink_write(void)
{
	(void)lends_flush();
	if (proc_flush(d.p) == 0 && d.config_due && queue_config() == 0) {
		d.config_due = 0;
		(void)proc_flush(d.p);
	}
}

/* 1 when pid was the frontend's and we were stopping; 2 a restart is
 * due; 0 not its. */
int
felink_exited(pid_t pid, int st)
{
	return proc_exited(d.p, pid, st);
}

void
felink_tick(uint64_t now)
{
	proc_tick(d.p, now);
	/* Lends the socket had no room for: tried at each tick. */
	if (d.lends != NULL)
		(void)lends_flush();
}

uint64_t
felink_next_deadline(void)
{
	uint64_t	when = proc_next_deadline(d.p), soon;

	/* Names that could not be queued for want of memory, or lends the
	 * socket had no room for: soon again. */
	if ((d.lends != NULL || (d.config_due && proc_queued(d.p) == 0)) &&
	    proc_sock(d.p) != -1) {
		soon = now_ns() + FE_RETRY_MS * 1000000ull;
		if (when == 0 || soon < when)
			when = soon;
	}
	return when;
}

/*
 * The first frontend. first_ready is called once, at its first READY
 * (every later one only logs); the user and chroot are those of the
 * start, for every frontend after it too. -1: it could not start.
 */
int
felink_start(struct config *cfg, int debug, int exefd,
    void (*first_ready)(void))
{
	d.cfg = cfg;
	d.debug = debug;
	if ((d.p = proc_new(&frontend_def, NULL, debug, exefd,
	    first_ready)) == NULL)
		return -1;
	/* The listening sockets are ours: the clients in their queues wait
	 * for the next frontend; those a hung one held are lost with it. */
	proc_watchdog(d.p, FE_PING_MS, FE_STALL_MS);
	if ((d.fe_user = strdup(cfg->user)) == NULL ||
	    (d.fe_chroot = strdup(cfg->chroot)) == NULL)
		fatal("strdup");
	return start_frontend(NULL);
}

/* A reload: the new names and settings go out; user and chroot stay. */
void
felink_configure(struct config *cfg)
{
	if (strcmp(cfg->user, d.fe_user) != 0 ||
	    strcmp(cfg->chroot, d.fe_chroot) != 0)
		log_warnx("user and chroot changes take effect at restart");
	d.cfg = cfg;
	d.generation++;
	d.config_due = 1;
	felink_write();
}

/* A message for the frontend that only matters in its latest version
 * (the metrics text); dropped with the link. */
void
felink_send(enum ipc_type type, const void *p, size_t len)
{
	if (proc_sock(d.p) == -1 || proc_queue(d.p, type, p, len, 1) == -1)
		return;
	felink_write();
}

void
parent_names_changed(void)
{
	d.generation++;
	clink_names_changed();
	/* Now, so a name is served once its registration is answered;
	 * while the socket is full, only the latest goes, later. */
	d.config_due = 1;
	felink_write();
}

/* Stopping: the frontend answers its waiting clients and exits when its
 * channel closes. 1: none is running (between two), nothing to wait for. */
int
felink_stop(void)
{
	return proc_stop(d.p);
}

/*
 * A reload changed the listeners: the running frontend is told each
 * change, in order (a socket more, appended; the one at an index gone),
 * as the parent's list makes it. One it cannot be told of is restarted,
 * with the whole list. -1 for an fd: index goes.
 */
void
felink_listener(int fd, uint32_t index)
{
	int	r, sock = proc_sock(d.p);

	if (sock == -1)
		return;	/* the next one is started with the list */
	if (fd != -1)
		r = ipc_send(sock, IPC_LISTEN, NULL, 0, fd);
	else
		r = ipc_send(sock, IPC_UNLISTEN, &index, sizeof(index), -1);
	if (r == -1) {
		log_warn("frontend: listener change");
		proc_lost(d.p, "cannot be told its listeners");
	}
}

/* An upgrade: the frontend finishes its clients and exits, its channel
 * kept for their requests; its exit is the end of this daemon. */
void
felink_drain(void)
{
	int	sock = proc_sock(d.p);

	proc_draining(d.p);
	if (sock != -1 && ipc_send(sock, IPC_DRAIN, NULL, 0, -1) == -1) {
		log_warn("frontend: drain");
		proc_lost(d.p, "cannot be told to drain");
	}
}
