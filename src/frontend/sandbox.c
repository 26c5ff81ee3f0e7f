/*
 * sandbox.c: what the frontend gives up before it reads a client byte. As
 * root: an empty chroot and its own user. Always: no_new_privs, Landlock
 * with no filesystem rights, and a seccomp allowlist of the few calls its
 * loop makes (no socket, bind or connect among them, no executable
 * mapping). As root, also every capability, bounding set included. A call
 * outside the list kills the process; the parent then starts another.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <pwd.h>
#include <seccomp.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"

static void
drop_user(const char *user, const char *root)
{
	struct passwd	*pw;
	struct stat	 st;
	uid_t		 uid;
	gid_t		 gid;

	int		 cap;

	pw = getpwnam(user);
	if (pw == NULL && strcmp(user, ONEPORTD_USER) == 0) {
		log_warnx("frontend: no user %s, using nobody (create the "
		    "user: useradd --system %s)", user, user);
		pw = getpwnam("nobody");
	}
	if (pw == NULL)
		fatalx("frontend: unknown user %s", user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx("frontend: refusing to run as root");

	/* The root must be empty and not writable by the frontend's user. */
	if (mkdir(root, 0755) == -1 && errno != EEXIST)
		fatal("frontend: mkdir %s", root);
	if (stat(root, &st) == -1)
		fatal("frontend: stat %s", root);
	if (st.st_uid != 0 || (st.st_mode & 022) != 0)
		fatalx("frontend: %s must be owned by root and not writable "
		    "by others", root);
	if (chroot(root) == -1 || chdir("/") == -1)
		fatal("frontend: chroot %s", root);

	/* No capability can come back, not even through an exec. */
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1)
			fatal("frontend: drop capability %d", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("frontend: clear ambient capabilities");

	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("frontend: cannot drop privileges");
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    setuid(0) != -1)
		fatalx("frontend: privileges not dropped");
}

/* Best effort: older kernels have no Landlock; chroot and seccomp remain. */
static void
landlock(void)
{
	struct landlock_ruleset_attr	attr;
	long				abi;
	int				fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd == -1) {
		log_warn("frontend: landlock");
		return;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("frontend: landlock_restrict_self");
	close(fd);
}

/*
 * What the frontend's loop calls, and malloc and exit under it. mmap and
 * mprotect never with PROT_EXEC; send only on a connected socket; fcntl
 * only to copy a descriptor (the reserve kept for EMFILE) or set flags.
 */
static const int allowed[] = {
	SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
	SCMP_SYS(close), SCMP_SYS(read), SCMP_SYS(write),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(getpid), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
#ifdef ONEPORT_SANITIZE
	/* ASan and UBSan report, unwind and symbolise with these. */
	SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(writev),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(gettid), SCMP_SYS(tgkill),
	SCMP_SYS(prctl), SCMP_SYS(sched_yield), SCMP_SYS(getrusage),
	SCMP_SYS(uname), SCMP_SYS(readlink), SCMP_SYS(pread64),
	SCMP_SYS(ioctl), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit),
	SCMP_SYS(mincore), SCMP_SYS(lseek), SCMP_SYS(dup), SCMP_SYS(pipe2),
#endif
};

static const int fcntl_cmds[] = {
	F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL,
};

/* Calls a library may attempt and survive being refused. */
static const int refused[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(socket), SCMP_SYS(connect),
};

static void
rule(scmp_filter_ctx ctx, uint32_t action, int call, unsigned int n,
    struct scmp_arg_cmp cmp)
{
	if ((n == 0 ? seccomp_rule_add(ctx, action, call, 0) :
	    seccomp_rule_add(ctx, action, call, 1, cmp)) < 0)
		fatalx("frontend: seccomp_rule_add %d", call);
}

/* Loads the frontend's filter; tests/unit/sandbox_test.c tries it. */
void
sandbox_seccomp(void)
{
	struct scmp_arg_cmp	none = SCMP_A0(SCMP_CMP_EQ, 0);
	scmp_filter_ctx		ctx;
	size_t			i;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("frontend: seccomp_init");
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, none);
	/* setsockopt only to size a HELP listing's send buffer, to reset
	 * a reply cut short (linger.c) and to wait for a whole TLS hello
	 * (SO_RCVLOWAT). */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_SNDBUF)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_RCVLOWAT)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_LINGER)) < 0)
		fatalx("frontend: seccomp_rule_add setsockopt");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		rule(ctx, SCMP_ACT_ERRNO(EACCES), refused[i], 0, none);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1,
	    SCMP_A4(SCMP_CMP_EQ, 0));
	for (i = 0; i < sizeof(fcntl_cmds) / sizeof(fcntl_cmds[0]); i++)
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		    SCMP_A1(SCMP_CMP_EQ, fcntl_cmds[i]));
	if (seccomp_load(ctx) < 0)
		fatalx("frontend: seccomp_load");
	seccomp_release(ctx);
}

/*
 * parent is the pid that made our channel. The parent-death signal is set
 * after the user switch, which clears it, and then checked against a
 * parent that died before it was set.
 */
void
sandbox_frontend(const char *user, const char *root, pid_t parent)
{
	if (geteuid() == 0)
		drop_user(user, root);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("frontend: parent-death signal");
	if (getppid() != parent)
		_exit(0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("frontend: no_new_privs");
	landlock();
	sandbox_seccomp();
}
