/* SPDX-License-Identifier: ISC */
/*
 * spawn.c: the one recipe by which oneportd starts a service's program with
 * a client: signals blocked across the clone, SIGPIPE back to default, a
 * session of its own, the socket on fd 0 and 1 (blocking), stderr to a pipe
 * the parent logs, nothing else open, the service's user, a minimal UCSPI
 * environment, execve, _exit(127).
 *
 * The parent never waits for a child: it clones and goes back to its loop,
 * and many programs can be on their way to execve together. On a busy
 * machine each step of a child waits for a CPU; a parent that waited with
 * it (a vfork, a blocking read) would serialise every spawn behind those
 * waits, and a stop signal from the service's own user, who may signal
 * the child once it runs as that user, would freeze the parent.
 *
 * The clone shares the parent's memory (CLONE_VM, no CLONE_VFORK): no
 * page tables to copy, no copy-on-write faults after it, which is most of
 * what fork costs here. So the child must not write anything the parent
 * uses. It runs on a slot of its own (a stack, and a copy of everything it
 * reads: argv, environment, groups, directory), so a reload may free the
 * configuration under it; it makes only raw system calls (no libc, whose
 * wrappers write errno in the parent's thread block) and is built without
 * sanitizers; the slot is the parent's again once the child has exec'd or
 * died. Where raw calls are not written for the architecture, no slot is
 * free (children slow to reach execve hold theirs), or the arguments do
 * not fit in one, the same child runs as a fork-style clone on a copy.
 *
 * "+" must be true. A close-on-exec status pipe carries the verdict: EOF
 * once execve has succeeded, or the step that failed and its errno. The
 * child is also traced (PTRACE_TRACEME), so it stops right after execve,
 * before the new program's first instruction: at that stop the parent
 * sends "+", and "+" always precedes the program's own bytes. A SIGTRAP
 * sent by someone else before execve looks like that stop; the status
 * pipe, still open then, tells them apart. Untraced programs (no ptrace
 * here, or a setuid program under a daemon that is not root, which
 * tracing would strip) get "+" at EOF on the pipe, and a program that
 * writes at once may race it.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define STACK_SIZE	(64 * 1024)
#define ARENA_SIZE	(64 * 1024)	/* what the child reads */
#define ARENA_MAX	(16 * 1024 * 1024)	/* more than execve takes */
#define GUARD_SIZE	4096		/* between arena and stack */
#define NSLOTS		64		/* children sharing memory at once */
#define STATUS_FD	3	/* in the child, until execve closes it */
#define LISTEN_FD	3	/* a supervised program's socket, systemd's */

/*
 * The child's code runs on the parent's memory and thread block: no
 * sanitizer may instrument it, or its runtime would act there for the
 * child (ASan's no-return hook, fake stacks, reports).
 */
#define CHILD	__attribute__((no_sanitize("address", "undefined")))

#if defined(__x86_64__)
#define SHARE_VM	1
/* A system call that touches no memory but its arguments: -errno on error. */
static inline CHILD long
sys(long n, long a, long b, long c, long d)
{
	register long	r10 __asm__("r10") = d;
	long		ret;

	__asm__ volatile ("syscall" : "=a"(ret)
	    : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
	    : "rcx", "r11", "memory");
	return ret;
}
#else
#define SHARE_VM	0
/* The child has its own copy of memory here: errno is its own. */
static CHILD long
sys(long n, long a, long b, long c, long d)
{
	long	ret = syscall(n, a, b, c, d);

	return ret == -1 ? -errno : ret;
}
#endif
#define SYS1(n, a)		sys((n), (long)(a), 0, 0, 0)
#define SYS2(n, a, b)		sys((n), (long)(a), (long)(b), 0, 0)
#define SYS3(n, a, b, c)	sys((n), (long)(a), (long)(b), (long)(c), 0)
#define SYS4(n, a, b, c, d)	sys((n), (long)(a), (long)(b), (long)(c), \
				    (long)(d))

/* Everything the child reads, built by the parent in the child's slot. */
struct child_args {
	int		 client, errw, statusw, trace;
	int		 listenfd;	/* >= 0: supervised, no client */
	int		 tokenfd;	/* >= 0: token pipe at fd 4 */
	pid_t		 parent;	/* to notice the parent gone */
	uid_t		 uid;
	gid_t		 gid;
	int		 setuser;	/* switch to uid, gid and gids */
	int		 ngids;
	gid_t		*gids;
	const char	*dir;
	const char	*path;
	char		**argv;
	char		**envp;
	char		*listen_pid;	/* "LISTEN_PID=" and room for digits */
	struct rlimit	 nofile;
};

/* A child's stack and its copy of what it reads; pid 0 when free. */
struct slot {
	pid_t	 pid;
	char	*base;		/* arena, guard page, STACK_SIZE */
	size_t	 arena;		/* ARENA_SIZE, more for a private one */
};

/* Where the parent builds a child's arguments, bump-allocated. */
struct arena {
	char	*p, *end;
};

static int		 can_trace = -1;
static struct slot	 slots[NSLOTS];
static int		 as_root;	/* asked once, not per spawn */
static struct rlimit	 orig_nofile;	/* before the parent raised it */

/* What the child was doing when it failed, for the log. */
static const char *const stages[] = {
	"set up descriptors", "restore limits", "trace", "switch user",
	"change directory", "execute",
};
enum stage { ST_FDS, ST_RLIMIT, ST_TRACE, ST_USER, ST_CHDIR, ST_EXEC };

/* ---- the child: raw system calls only, writes only to its slot ---- */

/* Report the step and errno, and go. */
static void CHILD __attribute__((noreturn))
child_fail(int fd, enum stage st, long err)
{
	int	msg[2] = { st, (int)-err };

	(void)SYS3(SYS_write, fd, msg, sizeof(msg));
	for (;;)
		(void)SYS1(SYS_exit_group, 127);
}

static int CHILD
child_main(void *arg)
{
	const struct child_args	*a = arg;
	struct {
		void		*handler;
		unsigned long	 flags;
		void		*restorer;
		uint64_t	 mask;
	}			 dfl = { 0 };	/* SIG_DFL */
	uint64_t		 none = 0;
	long			 r, fl;
	int			 statusfd = STATUS_FD, lf, sw, ew, tf = -1;
	char			*d;
	pid_t			 pid;

	/*
	 * execve resets caught signals to default but keeps ignored ones
	 * ignored; the parent ignores only SIGPIPE (spawn_init cleared what
	 * it inherited), so that is the one to undo.
	 */
	(void)SYS4(SYS_rt_sigaction, SIGPIPE, &dfl, NULL, sizeof(none));
#ifdef ONEPORT_SANITIZE
	/* The sanitizer's fault handlers would run on the parent's memory. */
	(void)SYS4(SYS_rt_sigaction, SIGSEGV, &dfl, NULL, sizeof(none));
	(void)SYS4(SYS_rt_sigaction, SIGBUS, &dfl, NULL, sizeof(none));
	(void)SYS4(SYS_rt_sigaction, SIGFPE, &dfl, NULL, sizeof(none));
	(void)SYS4(SYS_rt_sigaction, SIGILL, &dfl, NULL, sizeof(none));
#endif
	(void)SYS1(SYS_setsid, 0);

	/*
	 * fds 0-2 are always open in the parent, so the pipes and sockets
	 * are all >= 3, and dup2 onto 0-2 clobbers none of them. The status
	 * pipe goes above the supervised program's listening socket (3) and
	 * is reported on where it is until then.
	 */
	if (a->listenfd >= 0) {
		/* A supervised program: stdin from nowhere, output logged,
		 * its socket at 3, as systemd passes it. Out of the way
		 * first: any of the fds may sit at 3 to 5. */
		statusfd = LISTEN_FD + (a->tokenfd >= 0 ? 2 : 1);
		if ((r = lf = SYS3(SYS_fcntl, a->listenfd, F_DUPFD, 16)) < 0 ||
		    (r = sw = SYS3(SYS_fcntl, a->statusw, F_DUPFD, 16)) < 0 ||
		    (r = ew = SYS3(SYS_fcntl, a->errw, F_DUPFD, 16)) < 0 ||
		    (a->tokenfd >= 0 &&
		    (r = tf = SYS3(SYS_fcntl, a->tokenfd, F_DUPFD, 16)) < 0))
			child_fail(a->statusw, ST_FDS, r);
		if ((r = SYS3(SYS_dup3, lf, LISTEN_FD, 0)) < 0 ||
		    (tf >= 0 && (r = SYS3(SYS_dup3, tf, LISTEN_FD + 1, 0)) < 0) ||
		    (r = SYS3(SYS_dup3, sw, statusfd, O_CLOEXEC)) < 0)
			child_fail(sw, ST_FDS, r);
		if ((r = SYS4(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY,
		    0)) < 0 || (r = SYS3(SYS_dup3, r, 0, 0)) < 0 ||
		    (r = SYS3(SYS_dup3, ew, 1, 0)) < 0 ||
		    (r = SYS3(SYS_dup3, ew, 2, 0)) < 0)
			child_fail(statusfd, ST_FDS, r);
	} else {
		if ((r = SYS3(SYS_dup3, a->client, 0, 0)) < 0 ||
		    (r = SYS3(SYS_dup3, a->client, 1, 0)) < 0 ||
		    (r = SYS3(SYS_dup3, a->errw, 2, 0)) < 0)
			child_fail(a->statusw, ST_FDS, r);
		if (a->statusw != STATUS_FD)
			r = SYS3(SYS_dup3, a->statusw, STATUS_FD, O_CLOEXEC);
		else
			r = SYS3(SYS_fcntl, STATUS_FD, F_SETFD, FD_CLOEXEC);
		if (r < 0)
			child_fail(a->statusw, ST_FDS, r);
	}
	if ((r = SYS3(SYS_close_range, statusfd + 1, ~0U, 0)) < 0)
		child_fail(statusfd, ST_FDS, r);
	if (a->listenfd < 0 && ((fl = SYS2(SYS_fcntl, 0, F_GETFL)) < 0 ||
	    (r = SYS3(SYS_fcntl, 0, F_SETFL, fl & ~O_NONBLOCK)) < 0))
		child_fail(statusfd, ST_FDS, fl < 0 ? fl : r);
	if ((r = SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, &a->nofile, NULL)) < 0)
		child_fail(statusfd, ST_RLIMIT, r);

	/*
	 * Traced before the user switch, while still root. The kernel takes
	 * the tracer's credentials from this call, and a tracer with
	 * CAP_SYS_PTRACE lets a setuid, setgid or file-capability program
	 * keep what its bits give; traced as the user, it would lose them.
	 * And from here on a signal from the service's user, who may send
	 * one once we are that user, stops us for the parent, which passes
	 * it on: none can freeze us before execve.
	 */
	if (a->trace && (r = SYS4(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0)) < 0)
		child_fail(statusfd, ST_TRACE, r);
	if (a->setuser) {
		if ((r = SYS2(SYS_setgroups, a->ngids, a->gids)) < 0 ||
		    (r = SYS3(SYS_setresgid, a->gid, a->gid, a->gid)) < 0 ||
		    (r = SYS3(SYS_setresuid, a->uid, a->uid, a->uid)) < 0)
			child_fail(statusfd, ST_USER, r);
		if (a->uid != 0 && (SYS1(SYS_geteuid, 0) != (long)a->uid ||
		    SYS1(SYS_getegid, 0) != (long)a->gid))
			child_fail(statusfd, ST_USER, -EPERM);
		/*
		 * No core dump of the memory we share: it is the root
		 * parent's (kernels before 5.16 also kill every process
		 * sharing a dumping one's memory, the parent with it).
		 * fs.suid_dumpable 2 would allow one after the switch. The
		 * flag is the shared memory's, the parent's too, as the
		 * switch itself sets it; execve sets the program's anew.
		 */
		(void)SYS2(SYS_prctl, PR_SET_DUMPABLE, 0);
	}
	/*
	 * A program the parent runs for itself (supervised, redirect) goes
	 * with the parent, even one killed with SIGKILL, or each restart
	 * would leave one more. Set after the user switch, which clears it;
	 * the parent may be gone already. A client's session outlives a
	 * stop, as under inetd: it ends with its client.
	 */
	if (a->listenfd >= 0 && (SYS2(SYS_prctl, PR_SET_PDEATHSIG,
	    SIGKILL) < 0 || SYS1(SYS_getppid, 0) != a->parent))
		child_fail(statusfd, ST_USER, -ESRCH);
	if ((r = SYS1(SYS_chdir, a->dir)) < 0)
		child_fail(statusfd, ST_CHDIR, r);

	if (a->listen_pid != NULL) {
		/* Its own pid, known only here: digits into the slot. */
		char	digits[16];
		int	n = 0;

		pid = (pid_t)SYS1(SYS_getpid, 0);
		do {
			digits[n++] = (char)('0' + pid % 10);
			pid /= 10;
		} while (pid > 0);
		for (d = a->listen_pid + sizeof("LISTEN_PID=") - 1; n > 0; )
			*d++ = digits[--n];
		*d = '\0';
	}

	/* A signal pending now is a stop the parent passes on, if traced. */
	(void)SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
	r = SYS3(SYS_execve, a->path, a->argv, a->envp);
	child_fail(statusfd, ST_EXEC, r);
	return 127;
}

/* ---- the parent: what the child will read, in its slot ---- */

static void *
arena_alloc(struct arena *ar, size_t len)
{
	char	*p = ar->p;

	/* Keep pointers aligned for the arrays that follow strings. */
	len = (len + 15) & ~(size_t)15;
	if (len > (size_t)(ar->end - ar->p))
		return NULL;
	ar->p += len;
	return p;
}

static char *
arena_str(struct arena *ar, const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = b != NULL ? strlen(b) : 0;
	char	*p;

	if ((p = arena_alloc(ar, la + lb + 1)) == NULL)
		return NULL;
	memcpy(p, a, la);
	if (lb > 0)
		memcpy(p + la, b, lb);
	p[la + lb] = '\0';
	return p;
}

/*
 * The environment of a client program: UCSPI's (the client as dispatch
 * found it: a PROXY header's if a trusted balancer sent one), how a client
 * that did not send a TCPMUX line chose the service, then the service's.
 */
static int
env_client(struct arena *ar, char **envp, int *n,
    const struct ipc_dispatch *req)
{
	const struct sockaddr	*peer = (const struct sockaddr *)&req->peer;
	const struct sockaddr	*local = (const struct sockaddr *)&req->local;
	char			 host[ADDR_STRLEN], port[8];

	if (req->proto != PROTO_TCPMUX)
		envp[(*n)++] = arena_str(ar, "ONEPORT_PROTO=",
		    proto_name(req->proto));
	if (req->host[0] != '\0')
		envp[(*n)++] = arena_str(ar, "ONEPORT_MATCH=", req->host);
	if (req->alpn[0] != '\0')
		envp[(*n)++] = arena_str(ar, "ONEPORT_ALPN=", req->alpn);
	envp[(*n)++] = arena_str(ar, "PROTO=TCP", NULL);
	envp[(*n)++] = arena_str(ar, "TCPREMOTEIP=",
	    addr_host(peer, host, sizeof(host)));
	snprintf(port, sizeof(port), "%d", addr_port(peer));
	envp[(*n)++] = arena_str(ar, "TCPREMOTEPORT=", port);
	envp[(*n)++] = arena_str(ar, "TCPLOCALIP=",
	    addr_host(local, host, sizeof(host)));
	snprintf(port, sizeof(port), "%d", addr_port(local));
	envp[(*n)++] = arena_str(ar, "TCPLOCALPORT=", port);
	return 0;
}

/*
 * Fill a from svc and the request into ar: 0, ARGS_FULL if it does not
 * fit, or -1 if the client is gone. config.c refuses the UCSPI names in
 * env and caps its count.
 */
#define ARGS_FULL	1

static int
args_build(struct arena *ar, struct child_args *a, const struct service *svc,
    const struct ipc_dispatch *req, const char *token)
{
	char	**envp;
	int	  n = 0, i, argc, has_path = 0;

	for (argc = 0; svc->argv[argc] != NULL; argc++)
		;
	if ((envp = arena_alloc(ar, (ENV_MAX + 12) * sizeof(*envp))) == NULL ||
	    (a->argv = arena_alloc(ar, (argc + 1) * sizeof(*a->argv))) ==
	    NULL || (a->gids = arena_alloc(ar, (svc->ngids + 1) *
	    sizeof(*a->gids))) == NULL)
		goto full;
	for (i = 0; i < argc; i++)
		if ((a->argv[i] = arena_str(ar, svc->argv[i], NULL)) == NULL)
			goto full;
	a->argv[argc] = NULL;
	a->path = a->argv[0];
	if (svc->ngids > 0)
		memcpy(a->gids, svc->gids, svc->ngids * sizeof(*a->gids));
	a->ngids = svc->ngids;
	a->uid = svc->uid;
	a->gid = svc->gid;
	a->setuser = as_root;
	if ((a->dir = arena_str(ar, svc->chdir != NULL ? svc->chdir : "/",
	    NULL)) == NULL)
		goto full;

	a->listen_pid = NULL;
	if (a->listenfd >= 0) {
		envp[n++] = arena_str(ar, "LISTEN_FDS=1", NULL);
		envp[n++] = a->listen_pid = arena_str(ar,
		    "LISTEN_PID=0123456789", NULL);
		envp[n++] = arena_str(ar, "LISTEN_FDNAMES=oneport", NULL);
		if (a->tokenfd >= 0)
			envp[n++] = arena_str(ar, "ONEPORT_TOKEN_FD=4", NULL);
		if (token != NULL)
			envp[n++] = arena_str(ar, "ONEPORT_TOKEN=", token);
	} else if (req != NULL && env_client(ar, envp, &n, req) == -1)
		return -1;
	envp[n++] = arena_str(ar, "ONEPORT_SERVICE=", svc->name);
	for (i = 0; svc->env != NULL && svc->env[i] != NULL && i < ENV_MAX;
	    i++) {
		if (strncmp(svc->env[i], "PATH=", 5) == 0)
			has_path = 1;
		envp[n++] = arena_str(ar, svc->env[i], NULL);
	}
	if (!has_path)
		envp[n++] = arena_str(ar, "PATH=/usr/local/bin:/usr/bin:/bin",
		    NULL);
	envp[n] = NULL;
	for (i = 0; i < n; i++)
		if (envp[i] == NULL)
			goto full;
	a->envp = envp;
	return 0;
full:
	return ARGS_FULL;
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
	as_root = geteuid() == 0;
	if (can_trace == -1)
		can_trace = trace_probe();
}

/* A slot's memory: the arena, a guard page, the stack above it. */
static char *
slot_map(size_t arena)
{
	char	*p;

	p = mmap(NULL, arena + GUARD_SIZE + STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* A stack that overflows faults, and spoils no argument. */
	if (mprotect(p + arena, GUARD_SIZE, PROT_NONE) == -1) {
		munmap(p, arena + GUARD_SIZE + STACK_SIZE);
		return NULL;
	}
	return p;
}

/*
 * A slot for the next child with an arena of at least arena bytes: a
 * free one of the shared slots, or (none free, arguments bigger than
 * theirs, or no raw calls here) a private mapping the child gets a copy
 * of, unmapped by slot_put right after the clone. Slots are mapped when
 * first needed: most daemons never have many children starting at once.
 */
static struct slot *
slot_get(size_t arena, int *shared)
{
	static struct slot	 priv;
	int			 i;

	*shared = 0;
	for (i = 0; SHARE_VM && arena <= ARENA_SIZE && i < NSLOTS; i++) {
		if (slots[i].pid != 0)
			continue;
		if (slots[i].base == NULL &&
		    (slots[i].base = slot_map(ARENA_SIZE)) == NULL)
			break;
		slots[i].arena = ARENA_SIZE;
		*shared = 1;
		return &slots[i];
	}
	if ((priv.base = slot_map(arena)) == NULL)
		return NULL;
	priv.arena = arena;
	return &priv;
}

/* Done with a slot the parent keeps no child on. */
static void
slot_put(struct slot *sl, int shared)
{
	if (!shared)
		munmap(sl->base, sl->arena + GUARD_SIZE + STACK_SIZE);
}

/*
 * The child pid has exec'd or is gone: its slot is ours again. Called for
 * every child at the end of file on its status pipe (execve or death has
 * left the memory) and at its reaping, never at a failure message, which
 * the child writes still on its slot; idempotent.
 */
void
spawn_settled(pid_t pid)
{
	int	i;

	for (i = 0; i < NSLOTS; i++)
		if (slots[i].pid == pid) {
			slots[i].pid = 0;
			return;
		}
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
static int	spawn(const struct service *, int,
		    const struct ipc_dispatch *, int, int, const char *,
		    struct spawn *);

int
spawn_service(const struct service *svc, int client,
    const struct ipc_dispatch *req, struct spawn *sp)
{
	return spawn(svc, client, req, -1, -1, NULL, sp);
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
	return spawn(svc, -1, NULL, listenfd, tokenfd, token, sp);
}

/*
 * A long-running program of a supervised pass service, with its hand-off
 * socket passed the systemd way (LISTEN_FDS=1, LISTEN_PID, fd 3). Not
 * traced: there is no client waiting for "+".
 */
int
spawn_supervised(const struct service *svc, int listenfd, struct spawn *sp)
{
	return spawn(svc, -1, NULL, listenfd, -1, NULL, sp);
}

static int
spawn(const struct service *svc, int client, const struct ipc_dispatch *req,
    int listenfd, int tokenfd, const char *token, struct spawn *sp)
{
	struct child_args	*a;
	struct arena		 ar;
	struct slot		*sl;
	sigset_t		 all, old;
	size_t			 size;
	int			 status[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int			 err, r, shared, trace;

	memset(sp, 0, sizeof(*sp));
	sp->pid = -1;
	sp->stderr_fd = sp->stderr_w = sp->status_fd = -1;
	trace = can_trace == 1 && listenfd < 0 && !svc->untraced;
	/* Arguments too big for a shared slot get a private one that fits. */
	for (size = ARENA_SIZE; ; size *= 2) {
		sp->failed = "find memory";
		if ((sl = slot_get(size, &shared)) == NULL)
			return -1;
		ar.p = sl->base;
		ar.end = sl->base + sl->arena;
		a = arena_alloc(&ar, sizeof(*a));
		a->client = client;
		a->listenfd = listenfd;
		a->tokenfd = tokenfd;
		a->trace = trace;
		/* Only a program that goes with the parent checks it. */
		a->parent = listenfd >= 0 ? getpid() : 0;
		a->nofile = orig_nofile;
		if ((r = args_build(&ar, a, svc, req, token)) != ARGS_FULL)
			break;
		slot_put(sl, shared);
		if (size >= ARENA_MAX) {
			sp->failed = "build arguments";
			errno = E2BIG;
			return -1;
		}
	}
	sp->failed = "read addresses";
	if (r == -1)
		goto fail;

	sp->failed = "create pipes";
	if (pipe2(status, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(errp, O_CLOEXEC) == -1)
		goto fail;
	a->errw = errp[1];
	a->statusw = status[1];	/* 8 bytes always fit: never blocks */

	sp->failed = "fork";
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	sp->pid = clone(child_main, sl->base + sl->arena + GUARD_SIZE +
	    STACK_SIZE, (shared ? CLONE_VM : 0) | SIGCHLD, a);
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(status[1]);
	status[1] = -1;
	if (sp->pid == -1) {
		errno = err;
		goto fail;
	}
	if (shared)
		sl->pid = sp->pid;
	slot_put(sl, shared);
	sp->failed = NULL;
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	sp->stderr_fd = errp[0];
	/*
	 * The parent keeps a write end until the reaping: the program's
	 * exit is then no end of file on the pipe, one wake-up of the
	 * parent fewer per program, and its exit reads what is left.
	 */
	sp->stderr_w = errp[1];
	sp->status_fd = status[0];
	sp->traced = trace;
	return 0;

fail:
	err = errno;
	slot_put(sl, shared);
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
