/*
 * spawn.c: the one recipe by which oneportd starts a service's program with
 * a client: signals blocked across the clone, SIGPIPE back to default, a
 * session of its own, the socket on fd 0 and 1 (blocking), stderr to a pipe
 * the parent logs, nothing else open, the service's user, a minimal UCSPI
 * environment, execve, _exit(127).
 *
 * The parent never waits for a child. The child is a fork-style clone (its
 * own copy of memory), so the parent goes back to its loop at once and many
 * programs can be on their way to execve together; on a busy machine each
 * step of a child waits for a CPU, and a parent that waited with it (a
 * vfork, a blocking read) would serialise every spawn behind those waits.
 *
 * "+" must be true. A close-on-exec status pipe carries the verdict: EOF
 * once execve has succeeded, or the step that failed and its errno. The
 * child is also traced (PTRACE_TRACEME), so it stops right after execve,
 * before the new program's first instruction: at that stop the parent
 * sends "+", and "+" always precedes the program's own bytes. A SIGTRAP
 * sent by someone else before execve looks like that stop; the status
 * pipe, still open then, tells them apart. Untraced programs (no ptrace
 * here, or a setuid program, which tracing would strip) get "+" at EOF on
 * the pipe, and a program that writes at once may race it.
 */
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneportd.h"

#define STATUS_FD	3	/* in the child, until execve closes it */
#define LISTEN_FD	3	/* a supervised program's socket, systemd's */
#define STACK_SIZE	(256 * 1024)	/* sanitizer frames are large */

struct child_args {
	const struct service	*svc;
	int			 client, errw, statusw, trace;
	int			 listenfd;	/* >= 0: supervised, no client */
	int			 tokenfd;	/* >= 0: token pipe at fd 4 */
	const char		*token;		/* ONEPORT_TOKEN, or NULL */
};

static int	 can_trace = -1;
static char	*child_stack;

/* What the child was doing when it failed, for the log. */
static const char *const stages[] = {
	"set up descriptors", "restore limits", "switch user",
	"change directory", "read addresses", "trace", "execute",
};
enum stage { ST_FDS, ST_RLIMIT, ST_USER, ST_CHDIR, ST_ADDR, ST_TRACE,
	ST_EXEC };

static struct rlimit	orig_nofile;	/* before the parent raised it */

/* In the child only: report the step and errno, and go. */
static void __attribute__((noreturn))
child_fail_fd(int fd, enum stage st)
{
	int	msg[2] = { st, errno };

	(void)write(fd, msg, sizeof(msg));
	_exit(127);
}

static char *
env_fmt(char *buf, size_t len, const char *name, const char *val)
{
	snprintf(buf, len, "%s=%s", name, val);
	return buf;
}

static int
child_main(void *arg)
{
	const struct child_args	*a = arg;
	const struct service	*svc = a->svc;
	struct sockaddr_storage	 peer, local;
	socklen_t		 plen = sizeof(peer), llen = sizeof(local);
	char			 ebuf[6][80], host[ADDR_STRLEN], port[8];
	char			 fds1[] = "LISTEN_FDS=1";
	char			 names[] = "LISTEN_FDNAMES=oneport";
	char			 tokfd[] = "ONEPORT_TOKEN_FD=4";
	int			 statusfd = STATUS_FD;
	char			 proto[] = "PROTO=TCP";
	char			 path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char			*envp[ENV_MAX + 8];
	sigset_t		 none;
	int			 n = 0, i, fl, has_path = 0;

	/*
	 * execve resets caught signals to default but keeps ignored ones
	 * ignored; the parent ignores only SIGPIPE (spawn_init cleared what
	 * it inherited), so that is the one to undo.
	 */
	signal(SIGPIPE, SIG_DFL);
	setsid();

	/*
	 * fds 0-2 are always open in the parent, so the pipes and sockets
	 * are all >= 3, and dup2 onto 0-2 clobbers none of them. The status
	 * pipe goes above the supervised program's listening socket (3) and
	 * is reported on where it is until then.
	 */
	if (a->listenfd >= 0) {
		/* A supervised program: stdin from nowhere, output logged,
		 * its hand-off socket at 3, as systemd passes it. */
		int	lf, sw, ew, tf = -1;

		/* Out of the way first: any of them may sit at 3 to 5. */
		statusfd = LISTEN_FD + (a->tokenfd >= 0 ? 2 : 1);
		if ((lf = fcntl(a->listenfd, F_DUPFD, 16)) == -1 ||
		    (sw = fcntl(a->statusw, F_DUPFD, 16)) == -1 ||
		    (ew = fcntl(a->errw, F_DUPFD, 16)) == -1 ||
		    (a->tokenfd >= 0 &&
		    (tf = fcntl(a->tokenfd, F_DUPFD, 16)) == -1))
			child_fail_fd(a->statusw, ST_FDS);
		if (dup2(lf, LISTEN_FD) == -1 ||
		    (tf >= 0 && dup2(tf, LISTEN_FD + 1) == -1) ||
		    dup3(sw, statusfd, O_CLOEXEC) == -1)
			child_fail_fd(sw, ST_FDS);
		if ((fl = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(fl, 0) == -1 || dup2(ew, 1) == -1 ||
		    dup2(ew, 2) == -1)
			child_fail_fd(statusfd, ST_FDS);
	} else {
		if (dup2(a->client, 0) == -1 || dup2(a->client, 1) == -1 ||
		    dup2(a->errw, 2) == -1)
			child_fail_fd(a->statusw, ST_FDS);
		if (a->statusw != STATUS_FD) {
			if (dup3(a->statusw, STATUS_FD, O_CLOEXEC) == -1)
				child_fail_fd(a->statusw, ST_FDS);
		} else if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) == -1)
			child_fail_fd(a->statusw, ST_FDS);
	}
	if (close_range(statusfd + 1, ~0U, 0) == -1)
		child_fail_fd(statusfd, ST_FDS);
	if (a->listenfd < 0 && ((fl = fcntl(0, F_GETFL)) == -1 ||
	    fcntl(0, F_SETFL, fl & ~O_NONBLOCK) == -1))
		child_fail_fd(statusfd, ST_FDS);
	if (setrlimit(RLIMIT_NOFILE, &orig_nofile) == -1)
		child_fail_fd(statusfd, ST_RLIMIT);

	if (geteuid() == 0) {
		if (setgroups(svc->ngids, svc->gids) == -1 ||
		    setresgid(svc->gid, svc->gid, svc->gid) == -1 ||
		    setresuid(svc->uid, svc->uid, svc->uid) == -1)
			child_fail_fd(statusfd, ST_USER);
		if (svc->uid != 0 && (geteuid() != svc->uid ||
		    getegid() != svc->gid)) {
			errno = EPERM;
			child_fail_fd(statusfd, ST_USER);
		}
	}
	if (chdir(svc->chdir != NULL ? svc->chdir : "/") == -1)
		child_fail_fd(statusfd, ST_CHDIR);

	if (a->listenfd >= 0) {
		envp[n++] = fds1;
		snprintf(port, sizeof(port), "%d", (int)getpid());
		envp[n++] = env_fmt(ebuf[0], sizeof(ebuf[0]), "LISTEN_PID",
		    port);
		envp[n++] = names;
		envp[n++] = env_fmt(ebuf[4], sizeof(ebuf[4]),
		    "ONEPORT_SERVICE", svc->name);
		if (a->tokenfd >= 0)
			envp[n++] = tokfd;
		if (a->token != NULL)
			envp[n++] = env_fmt(ebuf[5], sizeof(ebuf[5]),
			    "ONEPORT_TOKEN", a->token);
		goto extra;
	}
	if (getpeername(0, (struct sockaddr *)&peer, &plen) == -1 ||
	    getsockname(0, (struct sockaddr *)&local, &llen) == -1)
		child_fail_fd(statusfd, ST_ADDR);
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
extra:
	/* config.c refuses the UCSPI names in env and caps its length. */
	for (i = 0; svc->env != NULL && svc->env[i] != NULL && i < ENV_MAX;
	    i++) {
		if (strncmp(svc->env[i], "PATH=", 5) == 0)
			has_path = 1;
		envp[n++] = svc->env[i];
	}
	if (!has_path)
		envp[n++] = path;
	envp[n] = NULL;

	/*
	 * Unblock first, trace last: a signal pending now is delivered before
	 * we are traced, so no stop can hold the suspended parent; after
	 * TRACEME only execve runs, and signals wait for its return.
	 */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (a->trace && ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1)
		child_fail_fd(statusfd, ST_TRACE);
	execve(svc->argv[0], svc->argv, envp);
	child_fail_fd(statusfd, ST_EXEC);
	return 127;
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
	struct sigaction	sa;
	int			sig;

	/*
	 * Programs start with default dispositions. Handlers reset at exec
	 * by themselves; ignored signals do not, so clear any we inherited
	 * (nohup, a shell's background job) once here, not per spawn.
	 */
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_IGN)
			signal(sig, SIG_DFL);
	if (getrlimit(RLIMIT_NOFILE, &orig_nofile) == -1)
		fatal("getrlimit");
	if (can_trace == -1)
		can_trace = trace_probe();
	child_stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (child_stack == MAP_FAILED)
		fatal("mmap");
}

/*
 * The traced child stopped. Returns 1 at the exec-stop, the moment to send
 * "+" (the caller then lets it go with spawn_release): a SIGTRAP after
 * execve has closed the status pipe (execfd says it is closed). Any other
 * stop is passed on, except a stop signal, which would only be reported
 * to us again; a SIGTRAP from kill(2) before execve is passed on too.
 */
int
spawn_stopped(pid_t pid, int sig, int exec_done)
{
	if (sig == SIGTRAP && exec_done)
		return 1;
	if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	    sig == SIGTTOU)
		sig = 0;
	ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
	return 0;
}

/*
 * The verdict on the status pipe, read without waiting: 1 once execve
 * has succeeded (EOF), 0 if the child failed (sp_failed names the step,
 * errno is the child's), -1 if there is none yet. Never blocks: the read
 * end is non-blocking.
 */
int
spawn_status(int fd, const char **step, int *chdir_failed)
{
	int	msg[2];
	ssize_t	n;

	do {
		n = read(fd, msg, sizeof(msg));
	} while (n == -1 && errno == EINTR);
	if (n == 0)
		return 1;
	if (n == -1 && errno == EAGAIN)
		return -1;
	*chdir_failed = 0;
	if (n == (ssize_t)sizeof(msg) && msg[0] >= 0 && msg[0] <= ST_EXEC &&
	    msg[1] > 0) {
		*step = stages[msg[0]];
		*chdir_failed = msg[0] == ST_CHDIR;
		errno = msg[1];
	} else {
		*step = "start";
		errno = EIO;
	}
	return 0;
}

/* Let the stopped program run. */
void
spawn_release(pid_t pid)
{
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
}

/*
 * Start svc's program on client. Returns 0 with sp filled in once the
 * child exists, or -1 (no child; errno and sp->failed say why). Whether
 * the program really runs is told later and never waited for: when
 * sp->traced, by the stop before its first instruction (SIGCHLD, see
 * spawn_stopped), the moment to send "+"; else by EOF on sp->status_fd;
 * a failure by the status message and the child's exit (spawn_status).
 * The parent holds client.
 */
static int	spawn(const struct service *, int, int, int, const char *,
		    struct spawn *);

int
spawn_service(const struct service *svc, int client, struct spawn *sp)
{
	return spawn(svc, client, -1, -1, NULL, sp);
}

/*
 * A program started for a redirect: its listening TCP socket at fd 3 the
 * systemd way, and its one-time token in ONEPORT_TOKEN (per request) or a
 * pipe of tokens at fd 4, ONEPORT_TOKEN_FD (a shared instance).
 */
int
spawn_listener(const struct service *svc, int listenfd, int tokenfd,
    const char *token, struct spawn *sp)
{
	return spawn(svc, -1, listenfd, tokenfd, token, sp);
}

/*
 * A long-running program of a supervised pass service, with its hand-off
 * socket passed the systemd way (LISTEN_FDS=1, LISTEN_PID, fd 3). Not
 * traced: there is no client waiting for "+".
 */
int
spawn_supervised(const struct service *svc, int listenfd, struct spawn *sp)
{
	return spawn(svc, -1, listenfd, -1, NULL, sp);
}

static int
spawn(const struct service *svc, int client, int listenfd, int tokenfd,
    const char *token, struct spawn *sp)
{
	struct child_args	 a;
	sigset_t		 all, old;
	int			 status[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int			 err;

	memset(sp, 0, sizeof(*sp));
	sp->pid = -1;
	sp->stderr_fd = sp->status_fd = -1;
	sp->failed = "create pipes";
	if (pipe2(status, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(errp, O_CLOEXEC) == -1)
		goto fail;

	sp->failed = "fork";
	a.svc = svc;
	a.client = client;
	a.errw = errp[1];
	a.statusw = status[1];
	a.trace = can_trace == 1 && listenfd < 0 && !svc->untraced;
	a.listenfd = listenfd;
	a.tokenfd = tokenfd;
	a.token = token;
	/*
	 * No CLONE_VM: the child works on its own copy of this stack and of
	 * a, so the parent may reuse both at once. The pipe's write end
	 * stays non-blocking in the child; 8 bytes always fit.
	 */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	sp->pid = clone(child_main, child_stack + STACK_SIZE, SIGCHLD, &a);
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(status[1]);
	close(errp[1]);
	status[1] = errp[1] = -1;
	if (sp->pid == -1) {
		errno = err;
		goto fail;
	}
	sp->failed = NULL;
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	sp->stderr_fd = errp[0];
	sp->status_fd = status[0];
	sp->traced = a.trace;
	return 0;

fail:
	err = errno;
	if (status[0] != -1)
		close(status[0]);
	if (errp[0] != -1)
		close(errp[0]);
	if (status[1] != -1)
		close(status[1]);
	if (errp[1] != -1)
		close(errp[1]);
	errno = err;
	return -1;
}
