/* SPDX-License-Identifier: ISC */
/*
 * The parent's link to the frontend: starting it (a fresh exec of
 * ourselves), restarting it after a backoff when it dies, reading what it
 * sends (dispatches, log lines, READY) and writing it the names and
 * settings through a queue that waits for room on the socket.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
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
	int		 fesock;	/* -1: no frontend */
	pid_t		 fepid;		/* -1: none running */
	int		 exefd;		/* ourselves, for the frontend */
	char		*fe_user, *fe_chroot;	/* its, as at start */
	struct ipc_queue feq;		/* messages the socket did not take */
	int		 fe_out;	/* epoll also watches fesock for room */
	int		 config_due;	/* the frontend's names are stale */
	int		 announced;	/* readiness told, at the first READY */
	int		 fe_ready;	/* the running one has said READY */
	uint64_t	 fe_started_ns;
	uint64_t	 fe_restart_ns;	/* 0: no restart due */
	unsigned int	 fe_backoff_ms;
	int		 stopping;
	void		(*first_ready)(void);
	struct src	 fe_src;
} d = { .fesock = -1, .fepid = -1 };

/* A frontend that dies is restarted after a backoff (parent_backoff);
 * these bound the retries of what is not its death. */
#define FE_BACKOFF_MIN_MS	100
#define FE_BACKOFF_MAX_MS	5000

static void	frontend_lost(const char *);
static void	frontend_ready(void);

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
	nl->s[nl->n++].visible = 1;
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
	for (i = 0; i < (int)c->nproxy; i++) {
		nm = &d.cfg->proxy_from[i];
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
 * rules, trusted PROXY sources and allow/deny lists. -1 when out of memory: then they are
 * due still, and tried again soon. */
static int
queue_config(void)
{
	struct ipc_config	*c;
	struct ipc_service	*s;
	struct ipc_rule		*r;
	struct namelist		 nl;
	size_t			 len, blob, slen = 0;
	int			 i, j;

	/* The largest message: names and answers are written in place. */
	if ((c = calloc(1, IPC_MAX)) == NULL)
		goto fail;
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
		s[i].visible = d.cfg->services[i].visible;
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
	c->nservices = nl.n;
	r = (struct ipc_rule *)(s + nl.n);
	blob = sizeof(*c) + nl.n * sizeof(*s) + c->nrules * sizeof(*r) +
	    c->nproxy * sizeof(struct ipc_net) + c->nacl * sizeof(struct ipc_acl);
	len = blob;
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
	if (ipc_queue_add(&d.feq, IPC_CONFIG, c, len, 1) == -1)
		goto fail;
	free(c);
	return 0;
fail:
	log_warn("the frontend's names");
	free(c);
	return -1;
}

void
felink_event(void)
{
	static uint8_t		 buf[IPC_MAX];
	struct ipc_hdr		 hdr;
	struct ipc_fmsg		 m;
	const char		*why;
	char			 line[IPC_LOG_MAX + 1];
	ssize_t			 n;
	int			 fd, i;

	/* A dispatch may lose the link (felink_write): stop then. */
	for (i = 0; i < 64 && d.fesock != -1; i++) {
		n = ipc_recv(d.fesock, &hdr, buf, sizeof(buf), &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1 && errno == EMFILE) {
			/* The client's fd could not be installed: it is
			 * closed by the kernel; we live on. */
			log_warnx("out of descriptors: a connection was lost");
			continue;
		}
		/* A reset: it went with messages of ours unread. */
		if ((n == 0 && hdr.type == 0) ||
		    (n == -1 && errno == ECONNRESET)) {
			frontend_lost("closed its channel");
			return;
		}
		if (n == -1) {
			log_warn("frontend: receive");
			frontend_lost("sent a broken message");
			return;
		}
		if (ipc_frontend_parse(hdr.type, buf, n, fd != -1, &m,
		    &why) == -1 || (m.type == IPC_READY && d.fe_ready)) {
			if (fd != -1)
				close(fd);
			log_warnx("%s from frontend", why != NULL ? why :
			    "second ready");
			frontend_lost("is broken");
			return;
		}
		switch (m.type) {
		case IPC_DISPATCH:
			dispatch(d.cfg, &m.dispatch, fd);
			break;
		case IPC_LOG:
			log_msg(m.pri, ipc_log_text(&m, line, sizeof(line)));
			break;
		case IPC_READY:
			frontend_ready();
			break;
		default:
			break;
		}
	}
}

/*
 * A fresh exec of ourselves (frontend_run), so that it holds only what its
 * messages give it: the names and limits, never a service's argv or env.
 * The channel goes to fd 3 and the listeners after it; nothing else stays
 * open. It dies with us: PR_SET_PDEATHSIG now, and again after its user
 * switch, which clears it.
 */
static void
start_frontend(void)
{
	char		 nl[16], dbg[4], verb[16];
	char		*argv[8], *envp[8];
	extern char	**environ;
	pid_t		 parent = getpid();
	int		 sv[2], *fds, nfds, exe, i, n = 0;
	int		 bufsz = IPC_MAX / 2 + 4096, sndbuf;
	socklen_t	 sl = sizeof(sndbuf);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("frontend: socketpair");
		return;
	}
	/*
	 * A message larger than the sender's buffer is refused outright
	 * (EMSGSIZE), and the largest config is IPC_MAX: the kernel doubles
	 * what we ask, so one of those fits, and no more than that waits in
	 * the socket. As root we may go past net.core.wmem_max, else we say
	 * it when it is too small.
	 */
	for (i = 0; i < 2; i++) {
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
		    sizeof(bufsz)) == -1)
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &bufsz,
			    sizeof(bufsz));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &bufsz,
		    sizeof(bufsz));
	}
	if (getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) == 0 &&
	    sndbuf < IPC_MAX + 1024)
		log_warnx("frontend: send buffer of %d bytes (net.core."
		    "wmem_max): a config message larger than that cannot "
		    "reach it", sndbuf);
	nfds = 1 + d.cfg->nlisteners;
	if ((fds = calloc(nfds, sizeof(int))) == NULL)
		fatal("calloc");
	fds[0] = sv[1];
	for (i = 0; i < d.cfg->nlisteners; i++)
		fds[i + 1] = d.cfg->listeners[i].fd;
	snprintf(nl, sizeof(nl), "%d", d.cfg->nlisteners);
	snprintf(dbg, sizeof(dbg), "%d", d.debug);
	snprintf(verb, sizeof(verb), "%d", log_verbose);
	argv[0] = (char *)"oneportd-front";
	argv[1] = (char *)"-F";
	argv[2] = nl;
	argv[3] = d.fe_user;
	argv[4] = d.fe_chroot;
	argv[5] = dbg;
	argv[6] = verb;
	argv[7] = NULL;
#ifdef ONEPORT_SANITIZE
	/* The sanitizers' settings; no other variable of ours goes. */
	for (i = 0; environ[i] != NULL && n < 7; i++)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0 ||
		    strncmp(environ[i], "UBSAN_OPTIONS=", 14) == 0 ||
		    strncmp(environ[i], "LSAN_OPTIONS=", 13) == 0)
			envp[n++] = environ[i];
#else
	(void)environ;
#endif
	envp[n] = NULL;

	if ((d.fepid = fork()) == -1) {
		log_warn("frontend: fork");
		d.fepid = -1;
		close(sv[0]);
		close(sv[1]);
		free(fds);
		return;
	}
	if (d.fepid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(1);
		/* Its events are as short as ours, and as waited on. */
		loop_slice();
		/* Detached, it logs through us: keep no terminal or pipe of
		 * whoever started the daemon open. */
		if (!d.debug && (i = open("/dev/null", O_RDWR)) != -1) {
			dup2(i, 0);
			dup2(i, 1);
			dup2(i, 2);
			if (i > 2)
				close(i);
		}
		/* Above the targets first, so no move overwrites another;
		 * all but the targets close at exec. */
		if ((exe = fcntl(d.exefd, F_DUPFD_CLOEXEC, 3 + nfds)) == -1)
			_exit(1);
		for (i = 0; i < nfds; i++)
			if ((fds[i] = fcntl(fds[i], F_DUPFD, 3 + nfds)) == -1)
				_exit(1);
		for (i = 0; i < nfds; i++)
			if (dup2(fds[i], 3 + i) == -1)
				_exit(1);
		if (close_range(3 + nfds, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
			_exit(1);
		fexecve(exe, argv, envp);
		_exit(127);
	}
	free(fds);
	close(sv[1]);
	d.fesock = sv[0];
	fcntl(d.fesock, F_SETFL, O_NONBLOCK);
	d.fe_started_ns = now_ns();
	d.fe_ready = 0;
	d.fe_out = 0;
	parent_watch(d.fesock, &d.fe_src);
	d.config_due = 1;
}

/*
 * Send what is queued, then the latest names if they changed; a full
 * socket leaves them queued and epoll tells us when it has room.
 */
void
felink_write(void)
{
	int	r;

	if (d.fesock == -1)
		return;
	r = ipc_queue_flush(&d.feq, d.fesock);
	if (r == 0 && d.config_due && queue_config() == 0) {
		d.config_due = 0;
		r = ipc_queue_flush(&d.feq, d.fesock);
	}
	if (r == -1) {
		log_warn("frontend: send");
		frontend_lost("cannot be written to");
		return;
	}
	if ((r == 1) != d.fe_out &&
	    parent_watch_out(d.fesock, &d.fe_src, r == 1) == 0)
		d.fe_out = r == 1;
}

/* The link is broken: close it, and make sure the process goes too;
 * its exit (reap) schedules the next one. */
static void
frontend_lost(const char *why)
{
	if (d.fesock == -1)
		return;
	parent_unwatch(d.fesock);
	close(d.fesock);
	d.fesock = -1;
	ipc_queue_clear(&d.feq);
	d.fe_ready = 0;
	if (d.stopping)
		return;
	log_warnx("frontend %s", why);
	if (d.fepid > 0)
		kill(d.fepid, SIGKILL);
}

static void
frontend_ready(void)
{
	d.fe_ready = 1;
	if (d.announced) {
		log_info("frontend ready, pid %d", (int)d.fepid);
		return;
	}
	d.announced = 1;
	d.first_ready();
}

/*
 * The frontend exited. Stopping, that was expected: 1, for the caller to
 * finish; before it ever was ready, it is a start-up failure; otherwise
 * another one starts after a backoff, while the listen queues hold the
 * new clients. 0: pid was not the frontend's.
 */
int
felink_exited(pid_t pid, int st)
{
	uint64_t	now = now_ns();

	if (pid != d.fepid || pid <= 0)
		return 0;
	d.fepid = -1;
	frontend_lost("exited");
	if (d.stopping)
		return 1;
	if (!d.announced)
		fatalx("frontend exited before it was ready (status %d)", st);
	d.fe_backoff_ms = parent_backoff("frontend", d.fe_backoff_ms,
	    d.fe_started_ns, st);
	d.fe_restart_ns = now + d.fe_backoff_ms * 1000000ull;
	return 2;
}

void
felink_tick(uint64_t now)
{
	if (d.fe_restart_ns == 0 || now < d.fe_restart_ns || d.stopping)
		return;
	d.fe_restart_ns = 0;
	start_frontend();
	if (d.fepid == -1) {
		/* No fork or socket now: try again later. */
		d.fe_restart_ns = now + FE_BACKOFF_MAX_MS * 1000000ull;
		return;
	}
	log_info("frontend restarted, pid %d", (int)d.fepid);
}

uint64_t
felink_next_deadline(void)
{
	uint64_t	when = d.fe_restart_ns, soon;

	/* Names that could not be queued for want of memory: soon again. */
	if (d.config_due && d.fesock != -1 && d.feq.n == 0) {
		soon = now_ns() + FE_BACKOFF_MIN_MS * 1000000ull;
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
	d.exefd = exefd;
	d.first_ready = first_ready;
	d.fe_src.kind = SRC_FRONTEND;
	if ((d.fe_user = strdup(cfg->user)) == NULL ||
	    (d.fe_chroot = strdup(cfg->chroot)) == NULL)
		fatal("strdup");
	start_frontend();
	return d.fepid == -1 ? -1 : 0;
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

void
parent_names_changed(void)
{
	d.generation++;
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
	d.stopping = 1;
	frontend_lost("told to stop");
	return d.fepid == -1;
}

/* For the SRC_FRONTEND event: the link may be gone already. */
int
felink_open(void)
{
	return d.fesock != -1;
}
