/*
 * spawn.c: the one recipe by which oneportd starts a service's program with
 * a client: signals blocked across fork, dispositions reset, a session of
 * its own, the socket on fd 0 and 1 (blocking), stderr to a pipe the parent
 * logs, nothing else open, the service's user, a minimal UCSPI environment,
 * execve, _exit(127).
 *
 * "+" must be true: the parent learns that execve succeeded either from a
 * ptrace exec-stop (the new program is frozen before its first instruction,
 * so "+" goes out before any byte of the program's own) or, where ptrace is
 * not allowed, from EOF on a close-on-exec pipe. An exec failure sends the
 * errno over that pipe instead.
 */
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneportd.h"

#define STATUS_FD	3	/* in the child, until execve closes it */
#define ENV_MAX		64

static int	can_trace = -1;

/* In the child only: report why we could not become the program. */
static void __attribute__((noreturn))
child_fail(void)
{
	int	err = errno;

	(void)write(STATUS_FD, &err, sizeof(err));
	_exit(127);
}

static char *
env_fmt(char *buf, size_t len, const char *name, const char *val)
{
	snprintf(buf, len, "%s=%s", name, val);
	return buf;
}

static void __attribute__((noreturn))
child_exec(const struct service *svc, int client, int errw, int statusw,
    int trace)
{
	struct sockaddr_storage	 peer, local;
	socklen_t		 plen = sizeof(peer), llen = sizeof(local);
	char			 ebuf[6][80], host[ADDR_STRLEN], port[8];
	char			 proto[] = "PROTO=TCP";
	char			 path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char			*envp[ENV_MAX + 8];
	sigset_t		 none;
	int			 n = 0, i, fl;

	/*
	 * execve resets caught signals to default but keeps ignored ones
	 * ignored; the parent ignores only SIGPIPE, so that is the one to
	 * undo (one call, not NSIG of them, on the hot path).
	 */
	signal(SIGPIPE, SIG_DFL);
	setsid();

	/* fds 0-2 are always open in the parent, so these are all >= 3. */
	if (dup2(client, 0) == -1 || dup2(client, 1) == -1 ||
	    dup2(errw, 2) == -1)
		_exit(127);
	if (statusw != STATUS_FD) {
		if (dup3(statusw, STATUS_FD, O_CLOEXEC) == -1)
			_exit(127);
	} else if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) == -1)
		_exit(127);
	if (close_range(STATUS_FD + 1, ~0U, 0) == -1)
		child_fail();
	if ((fl = fcntl(0, F_GETFL)) == -1 ||
	    fcntl(0, F_SETFL, fl & ~O_NONBLOCK) == -1)
		child_fail();

	if (geteuid() == 0) {
		if (setgroups(svc->ngids, svc->gids) == -1 ||
		    setresgid(svc->gid, svc->gid, svc->gid) == -1 ||
		    setresuid(svc->uid, svc->uid, svc->uid) == -1)
			child_fail();
		if (svc->uid != 0 && (geteuid() != svc->uid ||
		    getegid() != svc->gid)) {
			errno = EPERM;
			child_fail();
		}
	}
	if (chdir(svc->chdir != NULL ? svc->chdir : "/") == -1)
		child_fail();

	if (getpeername(0, (struct sockaddr *)&peer, &plen) == -1 ||
	    getsockname(0, (struct sockaddr *)&local, &llen) == -1)
		child_fail();
	envp[n++] = proto;
	envp[n++] = env_fmt(ebuf[0], sizeof(ebuf[0]), "TCPREMOTEIP",
	    addr_host((struct sockaddr *)&peer, host, sizeof(host)));
	snprintf(port, sizeof(port), "%d", addr_port((struct sockaddr *)&peer));
	envp[n++] = env_fmt(ebuf[1], sizeof(ebuf[1]), "TCPREMOTEPORT", port);
	envp[n++] = env_fmt(ebuf[2], sizeof(ebuf[2]), "TCPLOCALIP",
	    addr_host((struct sockaddr *)&local, host, sizeof(host)));
	snprintf(port, sizeof(port), "%d", addr_port((struct sockaddr *)&local));
	envp[n++] = env_fmt(ebuf[3], sizeof(ebuf[3]), "TCPLOCALPORT", port);
	envp[n++] = env_fmt(ebuf[4], sizeof(ebuf[4]), "ONEPORT_SERVICE",
	    svc->name);
	envp[n++] = path;
	for (i = 0; svc->env != NULL && svc->env[i] != NULL && i < ENV_MAX;
	    i++)
		envp[n++] = svc->env[i];
	envp[n] = NULL;

	if (trace && ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1)
		child_fail();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(svc->argv[0], svc->argv, envp);
	child_fail();
}

/*
 * Can this process trace its children? Containers and Yama may forbid it;
 * then "+" falls back to the exec pipe, and we say so once.
 */
static int
trace_probe(void)
{
	pid_t	pid;
	int	st;

	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0)
		_exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 ? 1 : 0);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	log_warnx("ptrace not permitted: \"+\" is sent on exec, and a "
	    "program that writes at once may race it");
	return 0;
}

/* Must be called before the parent's SIGCHLD handling is set up. */
void
spawn_init(void)
{
	if (can_trace == -1)
		can_trace = trace_probe();
}

int
spawn_service(const struct service *svc, int client, struct spawn *sp)
{
	sigset_t	 all, old;
	int		 status[2] = { -1, -1 }, errp[2] = { -1, -1 };
	pid_t		 pid;

	memset(sp, 0, sizeof(*sp));
	sp->status_fd = sp->stderr_fd = -1;
	if (pipe2(status, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1)
		goto fail;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_exec(svc, client, errp[1], status[1], can_trace == 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		goto fail;

	close(status[1]);
	close(errp[1]);
	fcntl(status[0], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	sp->pid = pid;
	sp->status_fd = status[0];
	sp->stderr_fd = errp[0];
	sp->traced = can_trace == 1;
	return 0;

fail:
	log_warn("spawn %s", svc->name);
	if (status[0] != -1) {
		close(status[0]);
		close(status[1]);
	}
	if (errp[0] != -1) {
		close(errp[0]);
		close(errp[1]);
	}
	return -1;
}

/*
 * Read the exec-status pipe: 0 means EOF (execve succeeded), an errno value
 * means the child failed before or at execve, -1 means nothing yet.
 */
int
spawn_exec_error(int status_fd)
{
	int	err;
	ssize_t	n;

	do {
		n = read(status_fd, &err, sizeof(err));
	} while (n == -1 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n == (ssize_t)sizeof(err))
		return err > 0 ? err : EIO;
	if (n == -1 && errno == EAGAIN)
		return -1;
	return EIO;
}
