/* SPDX-License-Identifier: ISC */
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
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "frontend.h"
#include "parent.h"
#include "relay.h"
#include "cluster.h"


static struct {
	struct config	*cfg;
	const char	*conffile;	/* NULL: command line only */
	char		**largs, **sargs;	/* -l and -s, kept for reload */
	int		 debug;
	int		 epfd;
	int		 sigfd;
	int		 exefd;		/* ourselves, for the frontend */
	int		 stopping;
	int		 upgraded;	/* we are the new image of an upgrade */
	int		 fe_gone;	/* an upgrade's old one: frontend done */
	struct src	 sig_src, linger_src;
} d;

static void	part_ready(void);
static void	announce(void);
static void	daemonize_done(void);

#define SYNOPSIS	"usage: oneportd [-dnv] [-f file] [-l address:port] " \
			"[-s name=command]\n       oneportd -h | -V\n"

static void __attribute__((noreturn))
usage(void)
{
	fputs(SYNOPSIS, stderr);
	exit(2);
}

static void __attribute__((noreturn))
help(void)
{
	printf("%s\n"
	    "The TCPMUX (RFC 1078) rendezvous daemon: one port, services "
	    "by name.\n\n"
	    "  -d            stay in the foreground, log to stderr\n"
	    "  -f FILE       the configuration (%s)\n"
	    "  -l ADDR:PORT  listen there too (port 0: any, printed)\n"
	    "  -n            check the configuration and exit (-nv: "
	    "print it)\n"
	    "  -s NAME=CMD   a service that runs CMD, words split at "
	    "spaces\n"
	    "  -v            log more (debug)\n"
	    "  -h, --help    this text\n"
	    "  -V, --version the version\n\n"
	    "Example: oneportd -d -l 127.0.0.1:7001 -s echo=cat\n"
	    "See oneportd(8) and oneportd.conf(5).\n", SYNOPSIS,
	    ONEPORTD_CONF);
	exit(fflush(stdout) == EOF);
}

static const struct option longopts[] = {
	{ "help",	no_argument,	NULL,	'h' },
	{ "version",	no_argument,	NULL,	'V' },
	{ NULL,		0,		NULL,	0 },
};

/* ---- configuration ---- */

/*
 * Services' users that a non-root daemon cannot switch to: it warns,
 * they run as the daemon's own user. (config_check does the frontend's.)
 */
static void
check_users(const struct config *cfg)
{
	const struct service	*svc;
	int			 i;

	if (geteuid() == 0)
		return;
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
}

/* The config being loaded, for load_config to free if memory runs out. */
static struct config	*loading;

static struct config *
load_config_file(void)
{
	struct config	*cfg;
	int		 i, asked;

	if ((cfg = loading = config_new()) == NULL)
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
	asked = cfg->nlisteners > 0;
	if (config_finish(cfg) == -1)
		goto fail;
	/* Sockets handed to us stand for the default port 1. */
	if (!asked && listen_handed())
		cfg->nlisteners = 0;
	/* At start only: the frontend keeps its user and root. */
	if (config_check(cfg, d.cfg == NULL) == -1)
		goto fail;
	check_users(cfg);
	redirect_check_ports(cfg);
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

/*
 * A failed allocation while loading returns here (config_nomem): the
 * half-built config goes, NULL as for any error in it, and a reload
 * keeps the old one. No memory is load, not a reason to exit.
 */
static struct config *
load_config(void)
{
	jmp_buf		 jb;
	struct config	*cfg;

	loading = NULL;
	if (setjmp(jb) != 0) {
		parse_reset();
		config_free(loading);
		loading = NULL;
		log_warnx("out of memory while loading the configuration");
		return NULL;
	}
	config_nomem_catch(&jb);
	cfg = load_config_file();
	config_nomem_catch(NULL);
	loading = NULL;
	return cfg;
}

/*
 * SIGHUP: new connections see the new file; children keep running and keep
 * counting against their service by name. Listeners of the new file are
 * bound and those it dropped closed (listen_reload); the others keep their
 * sockets, queues and all.
 */
static void
reload(void)
{
	struct config	*cfg;

	log_info("reloading configuration");
	if ((cfg = load_config()) == NULL) {
		log_warnx("configuration not reloaded; keeping the old one");
		return;
	}
	listen_reload(d.cfg, cfg);
	child_remap(cfg);
	stats_configure(cfg);
	config_free(d.cfg);
	d.cfg = cfg;
	/* First: the others ask it for the remote names, under cfg. */
	clink_configure(cfg);
	handoff_configure(cfg);
	control_configure(cfg);
	status_configure(cfg);
	supervise_configure(cfg);
	/* Every frontend drops to the user and chroot of the start. */
	felink_configure(cfg);
	rlink_configure(cfg);
	log_info("configuration reloaded: %d services", cfg->nservices);
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

/*
 * An upgrade's old image: its frontend has finished its clients, its
 * last hand-offs are answered and every program it started has had its
 * "+" (a traced one left by its tracer would never get it). It goes as a stop does, but the
 * paths of the control socket and the supervised services are the new
 * image's now.
 */
static void __attribute__((noreturn))
upgrade_finish(void)
{
	handoff_shutdown();
	control_detach();
	status_detach();
	supervise_detach();
	redirect_stop();
	rlink_stop();
	log_info("upgrade: done, stopped");
	drain_and_exit();
}

static void
reap(void)
{
	pid_t	pid;
	int	st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (upgrade_exited(pid) || rlink_exited(pid, st) ||
		    clink_exited(pid, st))
			continue;
		switch (felink_exited(pid, st)) {
		case 0:
			if (child_waited(pid, st))
				notify_changed(0);
			break;
		case 1:
			/* An upgrade's old image finishes its hand-offs. */
			if (upgrade_handed()) {
				d.fe_gone = 1;
				break;
			}
			log_info("stopped");
			drain_and_exit();
		}
	}
}

/* ---- start-up ---- */

/* Ready means everything: listeners, control socket, programs, and a
 * frontend that is sandboxed and accepting (its first READY), and the
 * relay (its first READY) if a service forwards. */
static void
part_ready(void)
{
	static int	parts;

	if (++parts == 2)
		announce();
}

static void
announce(void)
{
	char	a[ADDR_STRLEN];
	int	i;

	for (i = 0; i < d.cfg->nlisteners; i++)
		printf("listening on %s\n", addr_ntop((struct sockaddr *)
		    &d.cfg->listeners[i].ss, a, sizeof(a)));
	fflush(stdout);
	/* The new image of an upgrade is named by the old one (MAINPID=),
	 * which the manager still takes for the daemon. */
	if (d.upgraded)
		upgrade_ready();
	else
		notify_ready(d.cfg);
	if (!d.debug && !d.upgraded)
		daemonize_done();
	log_info("started, %d services", d.cfg->nservices);
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

/* What the signalfd takes; the real-time signals too. */
static const int caught[] = {
	SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM,
	SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGTTIN, SIGTTOU,
	SIGWINCH, SIGURG
};

static void
setup(void)
{
	struct rlimit	 rl;
	sigset_t	 set;
	int		 fd, i;

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
	/* Every signal a person may send is an event: none of them kills
	 * the parent (oneportd(8), SIGNALS). The programs we start get the
	 * mask of before (spawn_init). */
	sigemptyset(&set);
	for (i = 0; i < (int)(sizeof(caught) / sizeof(caught[0])); i++)
		sigaddset(&set, caught[i]);
	for (i = SIGRTMIN; i <= SIGRTMAX; i++)
		sigaddset(&set, i);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((d.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	notify_init();
}

static void
on_signal(void)
{
	struct signalfd_siginfo	si;
	char			line[128];

	while (read(d.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			/* Reaped once, below, for every child at once. */
			break;
		case SIGHUP:
			if (d.stopping)
				break;
			notify_reloading();
			reload();
			notify_ready(d.cfg);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			if (d.stopping)
				break;
			/* The frontend answers its waiting clients and
			 * exits when its channel closes; we follow. */
			log_info("stopping on signal %d", si.ssi_signo);
			notify_stopping();
			d.stopping = 1;
			handoff_shutdown();
			control_shutdown();
			status_shutdown();
			supervise_stop();
			redirect_stop();
			rlink_stop();
			clink_stop();
			if (felink_stop()) {
				/* Between two frontends. */
				log_info("stopped");
				drain_and_exit();
			}
			break;
		case SIGUSR2:
			if (!d.stopping)
				upgrade_start(d.cfg);
			break;
		case SIGUSR1:
			log_info("status: %s", notify_status(d.cfg, line,
			    sizeof(line)));
			break;
		default:
			log_info("signal %d (%s) ignored", si.ssi_signo,
			    strsignal(si.ssi_signo));
			break;
		}
	}
	reap();
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[64];
	struct src		*src;
	int			 ch, noaction = 0, i, n, k;

	/* Our frontend, exec'd by start_frontend. */
	if (argc > 1 && strcmp(argv[1], "-F") == 0)
		frontend_run(argc, argv);
	/* Our relay, exec'd by rlink.c. */
	if (argc > 1 && strcmp(argv[1], "-R") == 0)
		relay_run(argc, argv);
	/* Our cluster process, exec'd by clink.c. */
	if (argc > 1 && strcmp(argv[1], "-C") == 0)
		cluster_run(argc, argv);
	log_init(1, "oneportd");
	while ((ch = getopt_long(argc, argv, "df:hl:ns:vV", longopts,
	    NULL)) != -1) {
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
		case 'h':
			help();
		case 'v':
			log_verbose++;
			break;
		case 'V':
			printf("oneportd %s\n", ONEPORT_VERSION);
			exit(fflush(stdout) == EOF);
		default:
			usage();
		}
	}
	if (optind != argc) {
		fprintf(stderr, "oneportd: %s: no operand is taken; a "
		    "configuration file is given with -f\n", argv[optind]);
		usage();
	}
	if (d.debug)
		log_timestamps(1);
	/* First, while nothing else holds a descriptor above 2. */
	if (!noaction) {
		listen_inherit();
		d.upgraded = upgrade_init(argv);
	}
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
	if (noaction) {
		if (log_verbose)
			print_config(d.cfg);
		printf("configuration OK\n");
		exit(0);
	}

	setup();
	/* The live sockets at our paths are our old image's: replaced. */
	if (d.upgraded)
		control_takeover();
	if (control_check(d.cfg) == -1)
		exit(1);
	listen_start(d.cfg);
	if (listen_ours() && !d.upgraded)
		notify_unstore();
	/* An upgrade's new image is detached already, and is waited for. */
	if (!d.debug && d.upgraded)
		log_init(0, "oneportd");
	else if (!d.debug)
		daemonize();
	d.epfd = loop_init();
	d.sig_src.kind = SRC_SIGNAL;
	d.linger_src.kind = SRC_LINGER;
	/* Start-up: without these there is no daemon. */
	if (parent_watch(d.sigfd, &d.sig_src) == -1 ||
	    parent_watch(linger_init(), &d.linger_src) == -1)
		fatalx("cannot watch signals and lingering sockets");
	/* Before the frontend: it is handed the metrics listeners. */
	stats_configure(d.cfg);
	status_configure(d.cfg);
	if (felink_start(d.cfg, d.debug, d.exefd, part_ready) == -1)
		fatalx("cannot start the frontend");
	if (rlink_start(d.cfg, d.debug, d.exefd, part_ready) == -1)
		fatalx("cannot start the relay");
	clink_start(d.cfg, d.debug, d.exefd);
	handoff_configure(d.cfg);
	control_configure(d.cfg);
	supervise_configure(d.cfg);
	/* Readiness is told when the frontend says READY (announce). */

	for (;;) {
		/* Names changed in the last batch go out once, coalesced. */
		felink_tick(now_ns());
		rlink_tick(now_ns());
		clink_tick(now_ns());
		felink_write();
		rlink_write();
		n = loop_wait(evs, 64, d.cfg);
		for (i = 0; i < n; i++) {
			src = evs[i].data.ptr;
			switch (src->kind) {
			case SRC_SIGNAL:
				on_signal();
				break;
			case SRC_PROC:
				proc_event(src->ptr);
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
			case SRC_UPGRADE:
				if ((k = upgrade_event()) == 1) {
					d.stopping = 1;
					felink_drain();
				} else if (k == 0) {
					/* It may have set its own on the
					 * sockets we share (listen.c). */
					listen_defer(d.cfg);
				}
				break;
			case SRC_STATSOCK:
				status_event(src->ptr);
				break;
			}
		}
		loop_after(d.cfg);
		if (d.fe_gone && handoff_pending() == 0 &&
		    child_starting() == 0)
			upgrade_finish();
	}
}
