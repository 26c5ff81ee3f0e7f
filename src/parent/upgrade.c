/* SPDX-License-Identifier: ISC */
/*
 * upgrade.c: SIGUSR2 replaces the running oneportd with the binary now at
 * its path, and no client notices. The parent forks a child that execs
 * that binary with the listening sockets, as socket activation hands
 * them (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES: listen.c takes them),
 * and a pipe on which the new daemon says it is ready. Until then the old
 * one serves as before; a new one that fails leaves it serving. Once the
 * new one serves, both frontends accept from the same sockets, so no
 * client is refused; the old frontend is told to drain (IPC_DRAIN): it
 * closes its copies, finishes the clients it holds, each within its
 * deadline, and exits; the old parent answers its last hand-offs and
 * exits as a stop does, leaving its programs to their clients. Under
 * systemd the old one names the new one (MAINPID=) and keeps the sockets
 * in the service manager's store while the new one starts (FDSTORE=1).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define UPGRADE_ENV	"ONEPORTD_UPGRADE"	/* the ready pipe's fd */

static struct {
	char		 exe[PATH_MAX];	/* our binary's path, at start */
	char		**argv;		/* as we were started */
	pid_t		 pid;		/* the new one; -1: none */
	int		 rfd;		/* its ready pipe; -1: none */
	int		 readyfd;	/* a new one: the pipe to tell */
	int		 handed;	/* the new one serves: we finish */
	struct src	 src;
} u = { .pid = -1, .rfd = -1, .readyfd = -1 };

/*
 * At start-up: where our binary is (a later install replaces the file
 * at this path, and that is what an upgrade runs), and whether we are
 * the new one of an upgrade. 1: we are.
 */
int
upgrade_init(char **argv)
{
	const char	*e = getenv(UPGRADE_ENV);
	ssize_t		 n;
	char		*end;
	long		 fd;

	u.argv = argv;
	if ((n = readlink("/proc/self/exe", u.exe, sizeof(u.exe) - 1)) <= 0)
		u.exe[0] = '\0';
	else
		u.exe[n] = '\0';
	u.src.kind = SRC_UPGRADE;
	if (e == NULL)
		return 0;
	errno = 0;
	fd = strtol(e, &end, 10);
	unsetenv(UPGRADE_ENV);
	if (errno != 0 || *e == '\0' || *end != '\0' || fd < 3 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return 0;
	u.readyfd = fd;
	return 1;
}

/* The new one is serving: tell the old one, which names us to the
 * service manager. */
void
upgrade_ready(void)
{
	if (u.readyfd == -1)
		return;
	(void)write(u.readyfd, "r", 1);
	close(u.readyfd);
	u.readyfd = -1;
}

/* In the child: the sockets onto 3.., the variables, the exec. */
static void __attribute__((noreturn))
exec_new(const struct config *cfg, int wfd)
{
	char		 num[32], *names = NULL;
	size_t		 len = 1, at = 0;
	int		*fds, n = cfg->nlisteners, i, k;
	sigset_t	 none;

	if ((fds = calloc(n + 1, sizeof(int))) == NULL)
		_exit(127);
	for (i = 0; i < n; i++)
		len += LISTEN_NAME_MAX + 1;
	if ((names = calloc(1, len)) == NULL)
		_exit(127);
	/* Above the targets first, so no move overwrites another. */
	for (i = 0; i < n; i++) {
		const struct listener	*l = &cfg->listeners[i];

		if ((fds[i] = fcntl(l->fd, F_DUPFD, 3 + n + 1)) == -1)
			_exit(127);
		k = snprintf(names + at, len - at, "%s%s", i > 0 ? ":" : "",
		    l->handed ? l->name : l->port0 ? LISTEN_NAME_ANY :
		    LISTEN_NAME_BOUND);
		if (k < 0 || (size_t)k >= len - at)
			_exit(127);
		at += k;
	}
	if ((fds[n] = fcntl(wfd, F_DUPFD, 3 + n + 1)) == -1)
		_exit(127);
	for (i = 0; i <= n; i++)
		if (dup2(fds[i], 3 + i) == -1)
			_exit(127);
	if (close_range(3 + n + 1, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		_exit(127);
	snprintf(num, sizeof(num), "%d", n);
	setenv("LISTEN_FDS", num, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	if (notify_watchdog())
		setenv("WATCHDOG_PID", num, 1);
	snprintf(num, sizeof(num), "%d", 3 + n);
	setenv(UPGRADE_ENV, num, 1);
	/* What we were started with, not the parent's own settings. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(u.exe, u.argv);
	_exit(127);
}

/* SIGUSR2. */
void
upgrade_start(const struct config *cfg)
{
	int	p[2];

	if (u.pid != -1 || u.handed) {
		log_warnx("upgrade: one is under way already");
		return;
	}
	if (u.exe[0] == '\0' || strstr(u.exe, " (deleted)") != NULL) {
		log_warnx("upgrade: no binary at our path");
		return;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("upgrade: pipe");
		return;
	}
	/* Should the exec fail and the manager restart us, the sockets
	 * and what waits in their queues stay in its store. */
	notify_store(cfg);
	switch ((u.pid = fork())) {
	case -1:
		log_warn("upgrade: fork");
		close(p[0]);
		close(p[1]);
		return;
	case 0:
		exec_new(cfg, p[1]);
	}
	close(p[1]);
	u.rfd = p[0];
	fcntl(u.rfd, F_SETFL, O_NONBLOCK);
	/* Unheard, it could never take over: it goes, as one that fails. */
	if (parent_watch(u.rfd, &u.src) == -1) {
		kill(u.pid, SIGKILL);
		close(u.rfd);
		u.rfd = -1;
		u.pid = -1;
		return;
	}
	log_info("upgrade: started %s, pid %d", u.exe, (int)u.pid);
}

/*
 * The ready pipe: a byte, the new one serves and we finish (1); the end
 * without one, it failed and we go on (0). -1: nothing yet.
 */
int
upgrade_event(void)
{
	char	c;
	ssize_t	n;

	n = read(u.rfd, &c, 1);
	if (n == -1 && errno == EAGAIN)
		return -1;
	parent_unwatch(u.rfd);
	close(u.rfd);
	u.rfd = -1;
	if (n != 1) {
		log_warnx("upgrade: pid %d failed before it was ready; this "
		    "one goes on", (int)u.pid);
		u.pid = -1;
		return 0;
	}
	log_info("upgrade: pid %d serves; this one finishes its clients",
	    (int)u.pid);
	notify_mainpid(u.pid);
	u.handed = 1;
	return 1;
}

/* Did the upgrade hand the daemon over (stop as it finishes)? */
int
upgrade_handed(void)
{
	return u.handed;
}

/* The new one, reaped here while we live: not a program of ours. Its
 * pipe, not its exit, says whether it failed. */
int
upgrade_exited(pid_t pid)
{
	return pid == u.pid && pid != -1;
}
