/* SPDX-License-Identifier: ISC */
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
#include "privdrop.h"

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
	attr.handled_access_fs = privdrop_landlock_fs(abi);
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
	privdrop_rule(ctx, action, call, n, &cmp);
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
	privdrop_seccomp_sanitizer(ctx);
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
		privdrop_user("frontend", user, root);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("frontend: parent-death signal");
	if (getppid() != parent)
		_exit(0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("frontend: no_new_privs");
	landlock();
	sandbox_seccomp();
}
