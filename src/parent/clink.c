/* SPDX-License-Identifier: ISC */
/*
 * clink.c: the parent's link to the cluster process (oneportd -C), as
 * rlink.c is to the relay: started when the config has a cluster block,
 * again after a backoff when it dies. It is told this host's exported
 * names (configured with "export", and every registered one) whenever
 * they change, and it tells the other hosts' names as a whole table,
 * which is kept here for dispatch.c and the frontend's name list.
 *
 * A name two hosts export is answered by each in turn (round robin); a
 * name this host has itself is always served here. While etcd does not
 * answer, the table last seen serves for a lease time; then every
 * remote name is refused ("cluster unreachable") until etcd answers.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clusteripc.h"
#include "parent.h"

#define REASON_UNREACHABLE	"cluster unreachable"
#define CL_PING_MS		5000	/* at most: a third of the lease */
#define CL_STALL_MS		10000	/* a ping unanswered: hung */

static struct {
	struct config		*cfg;
	int			 debug;
	struct proc		*p;
	char			*args;		/* what it was started with */
	struct ipc_cl_entry	*tab;		/* the last table */
	uint32_t		 ntab, flags;
	int64_t			 revision;
	uint32_t		 rr;		/* round robin */
	int			 names_due;
} k;

static int	cluster_fresh(void);

/*
 * The watchdog (proc.c): a process that is heard within a lease time
 * holds the table fresh (cluster_fresh), so it is asked at least three
 * times in one; a stopped one is unheard, and the table is refused as
 * when etcd is away, until it is killed and the next one has a table.
 */
static void
watchdog(const struct config *cfg)
{
	unsigned int	ping = CL_PING_MS;

	if (k.p == NULL)
		return;
	if (cfg->cluster != NULL && cfg->cluster->lease_s * 1000 / 3 <
	    CL_PING_MS)
		ping = cfg->cluster->lease_s * 1000 / 3;
	proc_watchdog(k.p, ping, CL_STALL_MS);
}

/* The argv words after -C ROOT USER DEBUG VERBOSE, as one string. */
static char *
args_of(const struct config *cfg)
{
	const struct cluster_conf	*cl = cfg->cluster;
	char				*s, a[ADDR_STRLEN];
	size_t				 cap = 4096, n;
	int				 i;

	if ((s = calloc(1, cap)) == NULL)
		return NULL;
	n = snprintf(s, cap, "%d %s %s %s %d", cl->lease_s, cl->name,
	    cl->host, cl->address, cl->port);
	for (i = 0; i < cl->netcd && n < cap; i++)
		n += snprintf(s + n, cap - n, " %s:%d", addr_host((struct
		    sockaddr *)&cl->etcd_ss[i], a, sizeof(a)),
		    addr_port((struct sockaddr *)&cl->etcd_ss[i]));
	return s;
}

static int
start_cluster(void *arg)
{
	char	 dbg[4], verb[16], *argv[8 + 5 + CLUSTER_ETCD_MAX], *words, *p;
	int	 argc = 0, rv;

	(void)arg;
	if (k.cfg->cluster == NULL)
		return -1;	/* the block went in a reload */
	free(k.args);
	if ((k.args = args_of(k.cfg)) == NULL || (words = strdup(k.args)) ==
	    NULL)
		return -1;
	snprintf(dbg, sizeof(dbg), "%d", k.debug);
	snprintf(verb, sizeof(verb), "%d", log_verbose);
	argv[argc++] = (char *)"-C";
	argv[argc++] = k.cfg->user;
	argv[argc++] = k.cfg->chroot;
	argv[argc++] = dbg;
	argv[argc++] = verb;
	/* The words and each endpoint "ADDRESS:PORT" as "ADDRESS PORT". */
	for (p = strtok(words, " "); p != NULL && argc < (int)(sizeof(argv) /
	    sizeof(argv[0])) - 1; p = strtok(NULL, " ")) {
		if (argc >= 10 && strrchr(p, ':') != NULL)
			*strrchr(p, ':') = ' ';
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	rv = proc_exec(k.p, argv, NULL, 0);
	free(words);
	k.names_due = 1;
	return rv;
}

struct namebuf {
	struct ipc_cl_name	*v;
	uint32_t		 n;
};

static void
add_name(const char *name, void *arg)
{
	struct namebuf	*nb = arg;
	uint32_t	 i;

	for (i = 0; i < nb->n; i++)
		if (strcmp(nb->v[i].name, name) == 0)
			return;
	if (nb->n < CLUSTER_LOCAL_MAX)
		snprintf(nb->v[nb->n++].name, sizeof(nb->v[0].name), "%s",
		    name);
}

/* A service's match rules as the others read them (clusteripc.h); as
 * many as fit, silence rules never (they are not about names). */
static void
rules_of(const struct service *svc, char *buf, size_t cap)
{
	const struct matchrule	*m;
	size_t			 n = 0;
	int			 i, w;

	buf[0] = '\0';
	for (i = 0; i < svc->nrules; i++) {
		m = &svc->rules[i];
		if (m->proto == PROTO_SILENCE)
			continue;
		w = snprintf(buf + n, cap - n, "%s%s,%s,%s", n > 0 ? " " : "",
		    config_proto_word(m->proto), m->host ? m->host : "",
		    m->alpn ? m->alpn : "");
		if (w < 0 || (size_t)w >= cap - n) {
			buf[n] = '\0';
			log_warnx("%s: its match rules do not all fit the "
			    "cluster's %d bytes", svc->name, CL_RULES_MAX);
			return;
		}
		n += w;
	}
}

/* This host's exported names: "export" services, registered names. */
static void
send_names(void)
{
	struct ipc_cl_names	*h;
	struct namebuf		 nb;
	int			 i;

	if (k.p == NULL || !proc_is_ready(k.p) || !k.names_due)
		return;
	if ((h = calloc(1, sizeof(*h) + CLUSTER_LOCAL_MAX *
	    sizeof(*nb.v))) == NULL)
		return;
	nb.v = (void *)(h + 1);
	nb.n = 0;
	for (i = 0; i < k.cfg->nservices; i++)
		if (k.cfg->services[i].export) {
			add_name(k.cfg->services[i].name, &nb);
			rules_of(&k.cfg->services[i], nb.v[nb.n - 1].rules,
			    sizeof(nb.v[0].rules));
		}
	handoff_names(add_name, &nb);
	h->n = nb.n;
	/* Only the latest list matters: it replaces one still queued. */
	if (proc_queue(k.p, IPC_CL_NAMES, h, sizeof(*h) + nb.n *
	    sizeof(*nb.v), 1) == 0) {
		k.names_due = 0;
		(void)proc_flush(k.p);
	}
	free(h);
}

void
clink_names_changed(void)
{
	k.names_due = 1;
	send_names();
}

static void
table(const struct cl_table_view *v)
{
	struct ipc_cl_entry	*t = NULL;
	uint32_t		 i;
	int			 changed;

	if (v->t.n > 0 && (t = calloc(v->t.n, sizeof(*t))) == NULL) {
		log_warn("cluster: table");
		return;
	}
	for (i = 0; i < v->t.n; i++)
		clusteripc_entry(v, i, &t[i]);
	changed = v->t.n != k.ntab || (v->t.n > 0 &&
	    memcmp(t, k.tab, v->t.n * sizeof(*t)) != 0);
	if ((v->t.flags & CL_STALE) != (k.flags & CL_STALE))
		log_warnx("cluster: %s", v->t.flags & CL_STALE ?
		    "etcd unreachable for a lease time: remote names refused"
		    : "etcd answers again: remote names served");
	free(k.tab);
	k.tab = t;
	k.ntab = v->t.n;
	k.flags = v->t.flags;
	k.revision = v->t.revision;
	if (changed) {
		log_debug("cluster: %u remote names at revision %lld",
		    k.ntab, (long long)k.revision);
		/* The frontend's list of names has the remote ones. */
		parent_names_changed();
	}
}

static int
message(void *arg, enum ipc_type type, const uint8_t *buf, size_t n, int fd)
{
	struct cl_table_view	 v;
	struct ipc_fmsg		 f;
	const char		*why;
	char			 line[IPC_LOG_MAX + 1];

	(void)arg;
	memset(&f, 0, sizeof(f));
	if (clusteripc_table_parse(type, buf, n, fd != -1, &v, &f, &why) ==
	    -1 || (f.type == IPC_READY && proc_ready(k.p) == -1)) {
		if (fd != -1)
			close(fd);
		log_warnx("%s from the cluster process", why != NULL ? why :
		    "second ready");
		return -1;
	}
	switch (f.type) {
	case IPC_CL_TABLE:
		table(&v);
		break;
	case IPC_LOG:
		log_msg(f.pri, ipc_log_text(&f, line, sizeof(line)));
		break;
	case IPC_READY:
		send_names();
		break;
	default:
		break;
	}
	return 0;
}

/* The table stays: it serves a lease time after the process was last
 * heard (cluster_fresh), as if etcd were away. */
static void
cluster_lost(void *arg)
{
	(void)arg;
	k.flags &= ~CL_CONNECTED;
}

static const struct proc_def cluster_def = {
	.name = "cluster process",
	.argv0 = "oneportd-cluster",
	.bufsz = 4 << 20,
	.log_ready = 1,
	.maxmsg = sizeof(struct ipc_cl_table) + CLUSTER_REMOTE_MAX *
	    sizeof(struct ipc_cl_entry) + 64,
	.batch = 64,
	.emfile = "a cluster message was lost",
	.start = start_cluster,
	.message = message,
	.lost = cluster_lost,
};

int
clink_exited(pid_t pid, int st)
{
	return k.p != NULL && proc_exited(k.p, pid, st) != 0;
}

/* A restart when due; the names when they changed. */
void
clink_tick(uint64_t now)
{
	if (k.p == NULL)
		return;
	proc_tick(k.p, now);
	send_names();
	(void)proc_flush(k.p);
}

uint64_t
clink_next_deadline(void)
{
	return k.p != NULL ? proc_next_deadline(k.p) : 0;
}

/*
 * oneport status: this host's row (its lease, whether etcd answers, the
 * table's age), then one per name another host exports.
 */
static void
cluster_fill(struct stats_out *o, void *arg)
{
	struct stats_field	 f[8];
	char			 a[ADDR_STRLEN];
	uint64_t		 stale;
	uint32_t		 j;

	(void)arg;
	if (k.cfg->cluster == NULL)
		return;
	stale = !cluster_fresh();
	f[0] = (struct stats_field){ "host", STATS_LABEL,
	    k.cfg->cluster->host, 0 };
	f[1] = (struct stats_field){ "name", STATS_LABEL, "-", 0 };
	f[2] = (struct stats_field){ "address", STATS_LABEL,
	    k.cfg->cluster->address, 0 };
	f[3] = (struct stats_field){ "self", STATS_GAUGE, NULL, 1 };
	f[4] = (struct stats_field){ "leased", STATS_GAUGE, NULL,
	    (k.flags & CL_LEASED) != 0 };
	f[5] = (struct stats_field){ "etcd", STATS_GAUGE, NULL,
	    (k.flags & CL_CONNECTED) != 0 };
	f[6] = (struct stats_field){ "stale", STATS_GAUGE, NULL, stale };
	f[7] = (struct stats_field){ "revision", STATS_GAUGE, NULL,
	    (uint64_t)k.revision };
	stats_row(o, f, 8);
	for (j = 0; j < k.ntab; j++) {
		f[0].str = k.tab[j].host;
		f[1].str = k.tab[j].name;
		f[2].str = addr_ntop((struct sockaddr *)&k.tab[j].addr, a,
		    sizeof(a));
		f[3].num = 0;
		f[4].num = 1;	/* in etcd: under a live lease */
		stats_row(o, f, 8);
	}
}

void
clink_start(struct config *cfg, int debug, int exefd)
{
	k.cfg = cfg;
	k.debug = debug;
	/* It does not hold up readiness: etcd may well be away. */
	k.p = proc_new(&cluster_def, NULL, debug, exefd, NULL);
	proc_announced(k.p);
	watchdog(cfg);
	stats_section("cluster", "The cluster: this host (self 1), its "
	    "lease and etcd, then each name another host exports.",
	    cluster_fill, NULL);
	if (cfg->cluster == NULL)
		return;
	if (ctoken_load(cfg->cluster->keyfile, cfg->cluster->name) == -1)
		fatalx("cannot start the cluster without its key");
	if (start_cluster(NULL) == -1)
		fatalx("cannot start the cluster process");
}

/* A reload: a new process for new settings, the names to the one
 * running; none for no cluster block (its lease is revoked). */
void
clink_configure(struct config *cfg)
{
	char	*args;

	k.cfg = cfg;
	watchdog(cfg);
	if (cfg->cluster == NULL) {
		if (proc_pid(k.p) != -1)
			proc_lost(k.p, "stopped: no cluster block");
		free(k.tab);
		k.tab = NULL;
		k.ntab = 0;
		return;
	}
	if (ctoken_load(cfg->cluster->keyfile, cfg->cluster->name) == -1)
		log_warnx("cluster: the key is kept as it was");
	if (proc_idle(k.p)) {
		(void)start_cluster(NULL);
		return;
	}
	args = args_of(cfg);
	if (args != NULL && k.args != NULL && strcmp(args, k.args) != 0) {
		log_info("cluster: settings changed; restarting its process");
		proc_lost(k.p, "restarted for new settings");
	}
	free(args);
	clink_names_changed();
}

void
clink_stop(void)
{
	/* Its channel closed, it revokes the lease and exits. */
	if (k.p != NULL)
		(void)proc_stop(k.p);
}

/*
 * The i-th match rule of the remote names the frontend lists (one host's
 * rules per name: the first's), for felink.c; 0 past the last. The
 * strings are valid until the next call.
 */
int
clink_rule(int i, const char **name, enum proto *proto, const char **host,
    const char **alpn)
{
	static char	 h[HOST_NAME_LEN + 1], a[ALPN_NAME_LEN + 1];
	const char	*p;
	uint32_t	 j;
	int		 n = 0;

	for (j = 0; j < k.ntab; j++) {
		if ((j > 0 && strcmp(k.tab[j].name, k.tab[j - 1].name) == 0) ||
		    config_find(k.cfg, k.tab[j].name) != NULL ||
		    handoff_registered(k.tab[j].name))
			continue;
		for (p = k.tab[j].rules; clusteripc_rule_next(&p, proto, h,
		    a) == 1; n++)
			if (n == i) {
				*name = k.tab[j].name;
				*host = h[0] != '\0' ? h : NULL;
				*alpn = a[0] != '\0' ? a : NULL;
				return 1;
			}
	}
	return 0;
}

/* Entry j's address as a netmask of one address. */
static void
member_net(uint32_t j, struct netmask *nm)
{
	const struct sockaddr_in	*sin = (const void *)&k.tab[j].addr;

	memset(nm, 0, sizeof(*nm));
	nm->family = k.tab[j].addr.sin6_family;
	if (nm->family == AF_INET) {
		memcpy(nm->addr, &sin->sin_addr, 4);
		nm->prefix = 32;
	} else {
		memcpy(nm->addr, &k.tab[j].addr.sin6_addr, 16);
		nm->prefix = 128;
	}
}

/* The members this host takes PROXY headers from: the hosts that export
 * names, each once; at most max. */
int
clink_members(struct netmask *nm, int max)
{
	uint32_t	j;
	int		n = 0, i;

	for (j = 0; j < k.ntab && n < max; j++) {
		member_net(j, &nm[n]);
		for (i = 0; i < n; i++)
			if (memcmp(&nm[i], &nm[n], sizeof(nm[n])) == 0)
				break;
		n += i == n;
	}
	return n;
}

/* A connection from a member: its PROXY header is taken. */
int
clink_member(const struct sockaddr *sa)
{
	struct netmask	nm;
	uint32_t	j;

	for (j = 0; j < k.ntab; j++) {
		member_net(j, &nm);
		if (addr_in_nets(sa, &nm, 1))
			return 1;
	}
	return 0;
}

/* Remote names for the frontend's list: those this host has not. */
void
clink_names(void (*cb)(const char *, void *), void *arg)
{
	uint32_t	i;

	for (i = 0; i < k.ntab; i++)
		if (i == 0 || strcmp(k.tab[i].name, k.tab[i - 1].name) != 0)
			cb(k.tab[i].name, arg);
}

/* The table serves: not stale as the process says, nor a lease time
 * after the process was last heard (it went, or it is stopped). */
static int
cluster_fresh(void)
{
	return !(k.flags & CL_STALE) && now_ns() - proc_heard_ns(k.p) <=
	    (uint64_t)k.cfg->cluster->lease_s * 1000000000ull;
}

/*
 * Where a remote name lives: a host exporting it (each in turn), or -1
 * with the reason: none does, or the table is a lease time old.
 */
int
clink_lookup(const char *name, struct ipc_cl_entry *e, const char **reason)
{
	uint32_t	i, first = 0, n = 0;

	*reason = "unknown service";
	for (i = 0; i < k.ntab; i++)
		if (strcmp(k.tab[i].name, name) == 0 && n++ == 0)
			first = i;
	if (n == 0)
		return -1;
	if (!cluster_fresh()) {
		*reason = REASON_UNREACHABLE;
		return -1;
	}
	*e = k.tab[first + k.rr++ % n];
	return 0;
}

int
clink_configured(void)
{
	return k.cfg != NULL && k.cfg->cluster != NULL;
}
