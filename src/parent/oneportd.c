/*
 * oneportd.c: the privileged parent. It reads the configuration, binds the
 * listeners, starts the sandboxed frontend and then only does what the
 * frontend asks and is allowed to ask: start a configured service with a
 * client fd it was handed, pass it to a running service (handoff.c) or
 * say where the service lives (redirect.c). It never reads a client byte.
 * It also reaps what it started (child.c), reloads on SIGHUP and stops on
 * SIGTERM.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "frontend.h"
#include "parent.h"


static struct {
	struct config	*cfg;
	const char	*conffile;	/* NULL: command line only */
	char		**largs, **sargs;	/* -l and -s, kept for reload */
	uint32_t	 generation;
	int		 debug;
	int		 epfd;
	int		 sigfd;
	int		 fesock;	/* -1: no frontend */
	pid_t		 fepid;		/* -1: none running */
	int		 exefd;		/* ourselves, for the frontend */
	char		*fe_user, *fe_chroot;	/* its, as at start */
	struct ipc_queue feq;		/* messages the socket did not take */
	uint32_t	 fe_events;	/* what epoll watches on fesock */
	int		 config_due;	/* the frontend's names are stale */
	int		 announced;	/* readiness told, at the first READY */
	int		 fe_ready;	/* the running one has said READY */
	uint64_t	 fe_started_ns;
	uint64_t	 fe_restart_ns;	/* 0: no restart due */
	unsigned int	 fe_backoff_ms;
	int		 stopping;
	void		**deferred;	/* other things freed then */
	size_t		 ndeferred, maxdeferred;
	struct src	 sig_src, fe_src, linger_src;
} d;

/* A frontend that dies is restarted after this, doubling each time, and
 * back to the minimum once one has run this long. */
#define FE_BACKOFF_MIN_MS	100
#define FE_BACKOFF_MAX_MS	5000
#define FE_STABLE_NS		(10000ull * 1000000)

static void	frontend_lost(const char *);
static void	frontend_write(void);
static void	frontend_exited(int);
static void	frontend_ready(void);
static void	notify_ready(void);
static void	daemonize_done(void);

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: oneportd [-dnv] [-f file] [-l address:port] "
	    "[-s name=command]\n");
	exit(2);
}

/* ---- configuration ---- */

/*
 * Users that only matter at run time, checked now so that -n tells: the
 * frontend's (as root), and services' users that a non-root daemon
 * cannot switch to (it warns: they run as the daemon's own user).
 */
static int
check_users(const struct config *cfg)
{
	const struct service	*svc;
	int			 i;

	if (geteuid() == 0) {
		if (getpwnam(cfg->user) == NULL &&
		    strcmp(cfg->user, ONEPORTD_USER) != 0) {
			log_warnx("user %s: no such user", cfg->user);
			return -1;
		}
		return 0;
	}
	for (i = 0; i < cfg->nservices; i++) {
		svc = &cfg->services[i];
		if (svc->user == NULL || svc->uid == geteuid())
			continue;
		if (svc->line > 0)
			log_warnx("%s:%d: service \"%s\": not running as "
			    "root, so it runs as uid %d, not as %s", svc->file,
			    svc->line, svc->name, (int)geteuid(), svc->user);
		else
			log_warnx("service \"%s\": not running as root, so it "
			    "runs as uid %d, not as %s", svc->name,
			    (int)geteuid(), svc->user);
	}
	return 0;
}

static struct config *
load_config(void)
{
	struct config	*cfg;
	int		 i;

	if ((cfg = config_new()) == NULL)
		return NULL;
	if (d.conffile != NULL && parse_config(d.conffile, cfg) == -1)
		goto fail;
	for (i = 0; d.largs != NULL && d.largs[i] != NULL; i++)
		if (config_listener_arg(cfg, d.largs[i]) == -1) {
			log_warnx("-l %s: %s", d.largs[i], config_error());
			goto fail;
		}
	for (i = 0; d.sargs != NULL && d.sargs[i] != NULL; i++)
		if (config_service_arg(cfg, d.sargs[i]) == -1) {
			log_warnx("-s %s: %s", d.sargs[i], config_error());
			goto fail;
		}
	if (config_finish(cfg) == -1)
		goto fail;
	if (check_users(cfg) == -1)
		goto fail;
	redirect_check_ports(cfg);
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

static void
bind_listeners(struct config *cfg)
{
	struct listener	*l;
	int		 i, one = 1;
	char		 a[ADDR_STRLEN];

	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		addr_ntop((struct sockaddr *)&l->ss, a, sizeof(a));
		l->fd = socket(l->ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (l->fd == -1)
			fatal("socket %s", a);
		setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (l->ss.ss_family == AF_INET6)
			setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(l->fd, (struct sockaddr *)&l->ss, l->sslen) == -1)
			fatal("bind %s", a);
		if (listen(l->fd, SOMAXCONN) == -1)
			fatal("listen %s", a);
		/* Port 0: learn which port the kernel gave. */
		l->sslen = sizeof(l->ss);
		if (getsockname(l->fd, (struct sockaddr *)&l->ss,
		    &l->sslen) == -1)
			fatal("getsockname");
	}
}

static int
same_addr(const struct listener *a, const struct listener *b)
{
	return a->sslen == b->sslen && memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

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

/* The frontend's view: settings, and every name, configured or
 * registered (each registration and its end sends this again), queued
 * in place of any older one the socket has not taken yet. -1 when out
 * of memory: then they are due still, and tried again soon. */
static int
queue_config(void)
{
	struct ipc_config	*c;
	struct ipc_service	*s;
	struct namelist		 nl;
	size_t			 len;
	int			 i;

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
	s = (struct ipc_service *)(c + 1);
	for (i = 0; i < d.cfg->nservices && i < MAX_SERVICES; i++) {
		memcpy(s[i].name, d.cfg->services[i].name,
		    sizeof(s[i].name));
		s[i].visible = d.cfg->services[i].visible;
	}
	nl.s = s;
	nl.n = i;
	nl.max = MAX_SERVICES;
	handoff_names(add_registered, &nl);
	c->nservices = nl.n;
	len = sizeof(*c) + nl.n * sizeof(*s);
	/*
	 * A static redirect's answer never changes: the frontend can give
	 * it without a hop through us. Those that do not fit in one
	 * message are answered here, as before.
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
		    len + n > IPC_MAX - sizeof(struct ipc_hdr))
			continue;
		memcpy((char *)c + len, line, n);
		s[i].answer_off = len - sizeof(*c) - nl.n * sizeof(*s);
		s[i].answer_len = n;
		len += n;
	}
	/* Sorted here: the frontend only checks the order (see ipc.c). */
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

/*
 * SIGHUP: new connections see the new file; children keep running and keep
 * counting against their service by name. Listeners are bound once, at
 * start: the frontend holds them, so changing them needs a restart.
 */
static void
reload(void)
{
	struct config	*cfg;
	int		 i, same;

	log_info("reloading configuration");
	if ((cfg = load_config()) == NULL) {
		log_warnx("configuration not reloaded; keeping the old one");
		return;
	}
	same = cfg->nlisteners == d.cfg->nlisteners;
	for (i = 0; same && i < cfg->nlisteners; i++) {
		/* The old port may have been 0, resolved at bind. */
		struct listener	tmp = cfg->listeners[i];

		if (addr_port((struct sockaddr *)&tmp.ss) == 0)
			((struct sockaddr_in *)&tmp.ss)->sin_port =
			    ((struct sockaddr_in *)&d.cfg->listeners[i].ss)
			    ->sin_port;
		same = same_addr(&tmp, &d.cfg->listeners[i]);
	}
	if (!same)
		log_warnx("listen changes take effect at restart");
	/* Every frontend drops to those of the start, restarted or not. */
	if (strcmp(cfg->user, d.fe_user) != 0 ||
	    strcmp(cfg->chroot, d.fe_chroot) != 0)
		log_warnx("user and chroot changes take effect at restart");
	/* The bound sockets stay; the new config inherits them. */
	free(cfg->listeners);
	cfg->listeners = d.cfg->listeners;
	cfg->nlisteners = d.cfg->nlisteners;
	d.cfg->listeners = NULL;
	d.cfg->nlisteners = 0;

	child_remap(cfg);
	config_free(d.cfg);
	d.cfg = cfg;
	d.generation++;
	handoff_configure(cfg);
	control_configure(cfg);
	supervise_configure(cfg);
	d.config_due = 1;
	frontend_write();
	log_info("configuration reloaded: %d services", cfg->nservices);
}

/* ---- children ---- */

void
parent_reply(int fd, const char *reason)
{
	char	line[128];
	int	n;

	n = snprintf(line, sizeof(line), "-%s\r\n", reason);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* A program's own long reason, cut, still ends its line. */
		n = sizeof(line) - 1;
		memcpy(line + n - 2, "\r\n", 2);
	}
	linger_reply(fd, line, n);
}

void
parent_log_conn(const char *peer, const char *name, const char *result, pid_t pid,
    uint64_t accepted_ns)
{
	char	p[16] = "-";

	if (pid > 0)
		snprintf(p, sizeof(p), "%d", (int)pid);
	log_info("conn peer=%s service=%s result=%s pid=%s dispatch=%.3fms",
	    peer, name, result, p, (now_ns() - accepted_ns) / 1e6);
}

void
parent_unwatch(int fd)
{
	epoll_ctl(d.epfd, EPOLL_CTL_DEL, fd, NULL);
}

void
parent_names_changed(void)
{
	d.generation++;
	/* Now, so a name is served once its registration is answered;
	 * while the socket is full, only the latest goes, later. */
	d.config_due = 1;
	frontend_write();
}

/* Freed after the current epoll batch, whose events may name it. */
void
parent_defer_free(void *p)
{
	if (d.ndeferred == d.maxdeferred) {
		d.maxdeferred = d.maxdeferred ? 2 * d.maxdeferred : 16;
		d.deferred = reallocarray(d.deferred, d.maxdeferred,
		    sizeof(*d.deferred));
		if (d.deferred == NULL)
			fatal("reallocarray");
	}
	d.deferred[d.ndeferred++] = p;
}

/* Also wake for fd writable, or stop: a queue of ours waits on it. */
void
parent_watch_out(int fd, struct src *src, int on)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = src;
	(void)epoll_ctl(d.epfd, EPOLL_CTL_MOD, fd, &ev);
}

void
parent_watch(int fd, struct src *src)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = src;
	if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		fatal("epoll_ctl");
}

/*
 * Stopping leaves running programs alone; a small process of our own
 * keeps logging their stderr until each closes (child_drain).
 */
static void __attribute__((noreturn))
drain_and_exit(void)
{
	sigset_t	none;
	int		i;

	/* The port closes with the daemon: before the fork, so that no
	 * client gets through once our exit is seen. */
	for (i = 0; i < d.cfg->nlisteners; i++)
		close(d.cfg->listeners[i].fd);
	if (child_stderr_open() == 0 || fork() != 0)
		exit(0);
	prctl(PR_SET_NAME, "oneportd-drain");
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	epoll_ctl(d.epfd, EPOLL_CTL_DEL, d.sigfd, NULL);
	linger_close_all();
	child_drain(d.epfd);
	exit(0);
}

static void
reap(void)
{
	pid_t	pid;
	int	st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == d.fepid) {
			frontend_exited(st);
			continue;
		}
		(void)child_waited(pid, st);
	}
}

/* ---- the frontend ---- */

static void
frontend_read(void)
{
	static uint8_t		 buf[IPC_MAX];
	struct ipc_hdr		 hdr;
	struct ipc_fmsg		 m;
	const char		*why;
	char			 line[IPC_LOG_MAX + 1];
	ssize_t			 n;
	int			 fd, i;

	/* A dispatch may lose the link (frontend_write): stop then. */
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
	int		 bufsz = 4 * IPC_MAX;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("frontend: socketpair");
		return;
	}
	for (i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &bufsz,
		    sizeof(bufsz));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &bufsz,
		    sizeof(bufsz));
	}
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
	d.fe_events = EPOLLIN;
	parent_watch(d.fesock, &d.fe_src);
	d.config_due = 1;
}

/*
 * Send what is queued, then the latest names if they changed; a full
 * socket leaves them queued and epoll tells us when it has room.
 */
static void
frontend_write(void)
{
	struct epoll_event	ev;
	int			r;

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
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (r == 1 ? EPOLLOUT : 0);
	ev.data.ptr = &d.fe_src;
	if (ev.events != d.fe_events &&
	    epoll_ctl(d.epfd, EPOLL_CTL_MOD, d.fesock, &ev) == 0)
		d.fe_events = ev.events;
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
	char	a[ADDR_STRLEN];
	int	i;

	d.fe_ready = 1;
	if (d.announced) {
		log_info("frontend ready, pid %d", (int)d.fepid);
		return;
	}
	/* Ready means everything: listeners, control socket, programs,
	 * and a frontend that is sandboxed and accepting. */
	d.announced = 1;
	for (i = 0; i < d.cfg->nlisteners; i++)
		printf("listening on %s\n", addr_ntop((struct sockaddr *)
		    &d.cfg->listeners[i].ss, a, sizeof(a)));
	fflush(stdout);
	notify_ready();
	if (!d.debug)
		daemonize_done();
	log_info("started, %d services", d.cfg->nservices);
}

/*
 * The frontend exited. Stopping, that was expected; before it ever was
 * ready, it is a start-up failure; otherwise another one starts after a
 * backoff, while the listen queues hold the new clients.
 */
static void
frontend_exited(int st)
{
	uint64_t	now = now_ns();

	d.fepid = -1;
	frontend_lost("exited");
	if (d.stopping) {
		log_info("stopped");
		drain_and_exit();
	}
	if (!d.announced)
		fatalx("frontend exited before it was ready (status %d)", st);
	if (now - d.fe_started_ns >= FE_STABLE_NS)
		d.fe_backoff_ms = 0;
	d.fe_backoff_ms = d.fe_backoff_ms == 0 ? FE_BACKOFF_MIN_MS :
	    d.fe_backoff_ms * 2 > FE_BACKOFF_MAX_MS ? FE_BACKOFF_MAX_MS :
	    d.fe_backoff_ms * 2;
	if (WIFSIGNALED(st))
		log_warnx("frontend killed by signal %d; restarting in %ums",
		    WTERMSIG(st), d.fe_backoff_ms);
	else
		log_warnx("frontend exited with status %d; restarting in %ums",
		    WEXITSTATUS(st), d.fe_backoff_ms);
	d.fe_restart_ns = now + d.fe_backoff_ms * 1000000ull;
}

static void
frontend_tick(uint64_t now)
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

/* ---- start-up ---- */

static void
notify_ready(void)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	int			 fd;

	if (path == NULL || *path == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract namespace */
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    len) == -1)
		log_warn("NOTIFY_SOCKET %s", path);
	close(fd);
}

/*
 * Detach, but let the command that started us return only once we are
 * ready (or with our failure): it waits on a pipe that daemonize_done
 * writes to. Everything before that still logs to the caller's stderr.
 */
static int	ready_fd = -1;

static void
daemonize(void)
{
	int	p[2];
	char	c;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
}

static void
daemonize_done(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	log_init(0, "oneportd");
	(void)write(ready_fd, "", 1);
	close(ready_fd);
}

static void
setup(void)
{
	struct rlimit	 rl;
	sigset_t	 set;
	int		 fd;

	/* 0, 1 and 2 always open: the spawn recipe relies on it. */
	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	/* The frontend is this binary again, even once it is replaced. */
	if ((d.exefd = open("/proc/self/exe", O_PATH | O_CLOEXEC)) == -1)
		fatal("open /proc/self/exe");
	/* First: it records the limits and dispositions programs get. */
	spawn_init();
	/* Pending clients and children each hold descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((d.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
}

static void
on_signal(void)
{
	struct signalfd_siginfo	si;

	while (read(d.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap();
			break;
		case SIGHUP:
			if (!d.stopping)
				reload();
			break;
		case SIGTERM:
		case SIGINT:
			if (d.stopping)
				break;
			/* The frontend answers its waiting clients and
			 * exits when its channel closes; we follow. */
			log_info("stopping on signal %d", si.ssi_signo);
			d.stopping = 1;
			handoff_shutdown();
			control_shutdown();
			supervise_stop();
			redirect_stop();
			frontend_lost("told to stop");
			if (d.fepid == -1) {
				/* Between two frontends. */
				log_info("stopped");
				drain_and_exit();
			}
			break;
		}
	}
	reap();
}

/* Milliseconds until the earliest timer, or -1. */
static int
loop_timeout(void)
{
	uint64_t	when = handoff_next_deadline(), now;
	uint64_t	sup = supervise_next_deadline();
	uint64_t	red = redirect_next_deadline(d.cfg);
	uint64_t	ctl = control_next_deadline();
	uint64_t	lin = linger_next_deadline();

	if (d.fe_restart_ns != 0 && (when == 0 || d.fe_restart_ns < when))
		when = d.fe_restart_ns;
	/* Names that could not be queued for want of memory: soon again. */
	if (d.config_due && d.fesock != -1 && d.feq.n == 0) {
		now = now_ns() + FE_BACKOFF_MIN_MS * 1000000ull;
		if (when == 0 || now < when)
			when = now;
	}
	if (sup != 0 && (when == 0 || sup < when))
		when = sup;
	if (ctl != 0 && (when == 0 || ctl < when))
		when = ctl;
	if (red != 0 && (when == 0 || red < when))
		when = red;
	if (lin != 0 && (when == 0 || lin < when))
		when = lin;
	if (when == 0)
		return -1;
	now = now_ns();
	return when <= now ? 0 : (int)((when - now + 999999) / 1000000);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[64];
	struct src		*src;
	int			 ch, noaction = 0, i, n;

	/* Our frontend, exec'd by start_frontend. */
	if (argc > 1 && strcmp(argv[1], "-F") == 0)
		frontend_run(argc, argv);
	log_init(1, "oneportd");
	while ((ch = getopt(argc, argv, "df:l:ns:v")) != -1) {
		switch (ch) {
		case 'd':
			d.debug = 1;
			break;
		case 'f':
			d.conffile = optarg;
			break;
		case 'l':
			d.largs = strv_add(d.largs, optarg);
			break;
		case 'n':
			noaction = 1;
			break;
		case 's':
			d.sargs = strv_add(d.sargs, optarg);
			break;
		case 'v':
			log_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (d.conffile == NULL && d.sargs == NULL)
		d.conffile = ONEPORTD_CONF;
	/* Reloads happen after the chdir("/") of daemonize. */
	if (d.conffile != NULL && d.conffile[0] != '/') {
		char	*abs = realpath(d.conffile, NULL);

		if (abs != NULL)
			d.conffile = abs;
	}

	if ((d.cfg = load_config()) == NULL)
		exit(1);
	if ((d.fe_user = strdup(d.cfg->user)) == NULL ||
	    (d.fe_chroot = strdup(d.cfg->chroot)) == NULL)
		fatal("strdup");
	if (noaction) {
		if (log_verbose)
			print_config(d.cfg);
		printf("configuration OK\n");
		exit(0);
	}

	setup();
	if (control_check(d.cfg) == -1)
		exit(1);
	bind_listeners(d.cfg);
	if (!d.debug)
		daemonize();
	if ((d.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	d.sig_src.kind = SRC_SIGNAL;
	d.fe_src.kind = SRC_FRONTEND;
	d.linger_src.kind = SRC_LINGER;
	parent_watch(d.sigfd, &d.sig_src);
	parent_watch(linger_init(), &d.linger_src);
	start_frontend();
	if (d.fepid == -1)
		fatalx("cannot start the frontend");
	handoff_configure(d.cfg);
	control_configure(d.cfg);
	supervise_configure(d.cfg);
	/* Readiness is told when the frontend says READY (frontend_ready). */

	for (;;) {
		/* Names changed in the last batch go out once, coalesced. */
		frontend_tick(now_ns());
		frontend_write();
		n = epoll_wait(d.epfd, evs, 64, loop_timeout());
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			src = evs[i].data.ptr;
			switch (src->kind) {
			case SRC_SIGNAL:
				on_signal();
				break;
			case SRC_FRONTEND:
				if (d.fesock != -1)
					frontend_read();
				break;
			case SRC_STDERR:
				child_stderr_event(src->ptr);
				break;
			case SRC_STATUS:
				child_status_event(src->ptr);
				break;
			case SRC_CHANNEL:
				handoff_channel_event(src->ptr, d.cfg);
				break;
			case SRC_CONTROL:
				control_event();
				break;
			case SRC_LINGER:
				linger_event();
				break;
			}
		}
		handoff_expire(now_ns());
		control_tick(now_ns());
		supervise_tick(now_ns(), d.cfg);
		redirect_tick(now_ns(), d.cfg);
		linger_expire(now_ns());
		while (d.ndeferred > 0)
			free(d.deferred[--d.ndeferred]);
		child_free_dead();
	}
}
