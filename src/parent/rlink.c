/* SPDX-License-Identifier: ISC */
/*
 * rlink.c: the parent's link to the relay (oneportd -R), a helper process
 * (proc.c) started when the config has a forward service; a client of a
 * forward service goes to it with its backend (IPC_FORWARD) and its slot
 * here holds what the connection's one log line needs until the relay's
 * DONE.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
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

/* A relayed connection, until its DONE. */
struct slot {
	int		 used;
	char		 name[SERVICE_NAME_MAX + 1];
	char		 peer[PEER_STRLEN];
	enum proto	 proto;
	uint64_t	 accepted_ns;
};

static struct {
	struct config	*cfg;
	int		 debug;
	struct proc	*p;
	char		*ports;		/* the Landlock ports it started with */
	int		 stopping;
	struct slot	*slots;
	int		 nslots, nused, max;
} r;

static int
has_forward(const struct config *cfg)
{
	int	i;

	for (i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].forward_host != NULL)
			return 1;
	return 0;
}

/* The backends' ports, distinct, as the relay's argv: its Landlock rules. */
static char *
ports_of(const struct config *cfg)
{
	char	*s, num[8];
	size_t	 len = 1;
	int	 i, j, port;

	if ((s = calloc(1, (size_t)cfg->nservices * 7 + 1)) == NULL)
		return NULL;
	for (i = 0; i < cfg->nservices; i++) {
		if ((port = cfg->services[i].forward_port) == 0)
			continue;
		for (j = 0; j < i; j++)
			if (cfg->services[j].forward_port == port)
				break;
		if (j < i)
			continue;
		snprintf(num, sizeof(num), "%d ", port);
		memcpy(s + len - 1, num, strlen(num) + 1);
		len += strlen(num);
	}
	return s;
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

	if (cfg->max_relays > 0)
		return cfg->max_relays;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return 1000;
	n = rl.rlim_cur > RL_RESERVE_FDS ? (rl.rlim_cur - RL_RESERVE_FDS) /
	    RELAY_FDS : 1;
	return n > 1000000 ? 1000000 : (int)n;
}

static int
start_relay(void *arg)
{
	char		 dbg[4], verb[16], *argv[8 + MAX_SERVICES], *p, *q;
	int		 i, argc, rv;

	(void)arg;
	snprintf(dbg, sizeof(dbg), "%d", r.debug);
	snprintf(verb, sizeof(verb), "%d", log_verbose);
	argv[0] = (char *)"-R";
	argv[1] = r.cfg->user;
	argv[2] = r.cfg->chroot;
	argv[3] = dbg;
	argv[4] = verb;
	argc = 5;
	free(r.ports);
	if ((r.ports = ports_of(r.cfg)) == NULL)
		return -1;
	for (p = r.ports; (q = strchr(p, ' ')) != NULL &&
	    argc < (int)(sizeof(argv) / sizeof(argv[0])) - 1; p = q + 1) {
		*q = '\0';
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	rv = proc_exec(r.p, argv, NULL, 0);
	/* argv pointed into r.ports: the ports stay as the relay has them. */
	for (i = 5; i < argc; i++)
		argv[i][strlen(argv[i])] = ' ';
	return rv;
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
	log_info("conn peer=%s service=%s result=%s pid=- dispatch=%.3fms "
	    "in=%llu out=%llu duration=%.3fs", s->peer, s->name, result,
	    (conn - s->accepted_ns) / 1e6, (unsigned long long)d->in,
	    (unsigned long long)d->out,
	    d->connected_ns != 0 ? (d->done_ns - d->connected_ns) / 1e9 : 0.0);
}

static void
slot_free(struct slot *s)
{
	s->used = 0;
	r.nused--;
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

/*
 * A client of a forward service: to the relay, which answers it; or
 * refused here, in its protocol, with the reason in the log.
 */
void
rlink_forward(const struct service *svc, const struct ipc_dispatch *req,
    int fd, const char *peer)
{
	struct ipc_forward	 f;
	const char		*reason = NULL;
	char			 result[64];
	int			 i, k;

	if (!proc_is_ready(r.p))
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
	memset(&f, 0, sizeof(f));
	f.id = k;
	memcpy(f.name, svc->name, sizeof(f.name));
	f.proto = req->proto;
	f.flags = req->proto == PROTO_TCPMUX ? FORWARD_PLUS : 0;
	f.proxy = svc->proxy_out;
	f.idle_s = svc->idle_s;
	f.connect_ms = RL_CONNECT_MS;
	f.naddrs = svc->nforward_addrs;
	for (i = 0; i < svc->nforward_addrs; i++)
		memcpy(&f.addrs[i], &svc->forward_addrs[i],
		    svc->forward_addrs[i].ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	f.peer = req->peer;
	f.local = req->local;
	memcpy(f.host, req->host, sizeof(f.host));
	memcpy(f.alpn, req->alpn, sizeof(f.alpn));
	if (ipc_send(proc_sock(r.p), IPC_FORWARD, &f, sizeof(f), fd) == -1) {
		/* A relay that does not keep up: back-pressure, not a queue
		 * of descriptors here. */
		if (errno != EAGAIN && errno != ENOBUFS)
			log_warn("relay: send");
		reason = REASON_BUSY;
		goto refuse;
	}
	r.slots[k].used = 1;
	r.nused++;
	memcpy(r.slots[k].name, svc->name, sizeof(r.slots[k].name));
	snprintf(r.slots[k].peer, sizeof(r.slots[k].peer), "%s", peer);
	r.slots[k].proto = req->proto;
	r.slots[k].accepted_ns = req->accepted_ns;
	close(fd);
	return;
refuse:
	parent_refuse(fd, req->proto, reason);
	close(fd);
	snprintf(result, sizeof(result), "-%s", reason);
	parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
}

static int
done(const struct ipc_done *d, int fd)
{
	struct slot	*s;
	const char	*reason;

	if (d->id >= (uint32_t)r.nslots || !r.slots[d->id].used) {
		if (fd != -1)
			close(fd);
		log_warnx("relay: done for no connection (%u)", d->id);
		return -1;
	}
	s = &r.slots[d->id];
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

static int
message(void *arg, enum ipc_type type, const uint8_t *buf, size_t n, int fd)
{
	struct ipc_rmsg	 m;
	const char	*why;
	char		 line[IPC_LOG_MAX + 1];

	(void)arg;
	if (ipc_relay_parse(type, buf, n, fd != -1, &m, &why) == -1 ||
	    (m.type == IPC_READY && proc_ready(r.p) == -1)) {
		if (fd != -1)
			close(fd);
		log_warnx("%s from relay", why != NULL ? why :
		    "second ready");
		return -1;
	}
	switch (m.type) {
	case IPC_DONE:
		return done(&m.done, fd);
	case IPC_LOG:
		log_msg(m.f.pri, ipc_log_text(&m.f, line, sizeof(line)));
		break;
	default:
		break;
	}
	return 0;
}

/* Its connections went with it: each gets its log line now. */
static void
relay_lost(void *arg)
{
	int	i;

	(void)arg;
	for (i = 0; i < r.nslots; i++)
		if (r.slots[i].used) {
			slot_log(&r.slots[i], "-relay lost", NULL);
			slot_free(&r.slots[i]);
		}
}

static const struct proc_def relay_def = {
	.name = "relay",
	.argv0 = "oneportd-relay",
	.bufsz = 1 << 20,
	.log_ready = 1,
	.maxmsg = sizeof(struct ipc_done) + IPC_LOG_MAX + 64,
	.batch = 256,
	.emfile = "a refused client was lost",
	.start = start_relay,
	.message = message,
	.lost = relay_lost,
};

int
rlink_exited(pid_t pid, int st)
{
	return proc_exited(r.p, pid, st);
}

void
rlink_tick(uint64_t now)
{
	proc_tick(r.p, now);
}

uint64_t
rlink_next_deadline(void)
{
	return proc_next_deadline(r.p);
}

/*
 * At start: a relay if some service forwards, first_ready at its first
 * READY; none needed, first_ready now. -1: it could not start.
 */
int
rlink_start(struct config *cfg, int debug, int exefd,
    void (*first_ready)(void))
{
	r.cfg = cfg;
	r.debug = debug;
	r.p = proc_new(&relay_def, NULL, debug, exefd, first_ready);
	r.max = max_relays(cfg);
	if (!has_forward(cfg)) {
		proc_announced(r.p);
		first_ready();
		return 0;
	}
	return start_relay(NULL);
}

/*
 * A reload. A relay holds the Landlock ports of its start: new ports
 * need a new one, which starts when the old one's connections are done
 * (it is told to stop by a closed channel once it has none) -- here,
 * simply: a relay is started when one is needed and none runs, and one
 * whose ports no longer cover the config is replaced.
 */
void
rlink_configure(struct config *cfg)
{
	char	*ports;

	r.cfg = cfg;
	r.max = max_relays(cfg);
	if (!has_forward(cfg) || r.stopping)
		return;
	if (proc_idle(r.p)) {
		proc_announced(r.p);
		(void)start_relay(NULL);
		return;
	}
	ports = ports_of(cfg);
	if (ports != NULL && r.ports != NULL && strcmp(ports, r.ports) != 0) {
		log_info("relay: backend ports changed; restarting it");
		proc_lost(r.p, "restarted for new ports");
	}
	free(ports);
}

int
rlink_stop(void)
{
	r.stopping = 1;
	return proc_stop(r.p);
}
