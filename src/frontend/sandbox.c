/* SPDX-License-Identifier: ISC */
/*
 * sandbox.c: what the frontend gives up before it reads a client byte. As
 * root: an empty chroot and its own user. Always: no_new_privs, Landlock
 * with no filesystem rights, and a seccomp allowlist of the few calls its
 * loop makes (no socket, bind or connect among them, no executable
 * mapping). As root, also every capability, bounding set included. A call
 * outside the list kills the process; the parent then starts another.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <unistd.h>

#include "frontend.h"
#include "privdrop.h"

/*
 * What the frontend's loop calls, and malloc and exit under it. mmap and
 * mprotect never with PROT_EXEC; send only on a connected socket; fcntl
 * only to copy a descriptor (the reserve kept for EMFILE) or set flags;
 * getsockname for the local address of a client it hands off (pass.c);
 * getsockopt below.
 */
static const int allowed[] = {
	SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(shutdown), SCMP_SYS(getsockname),
	SCMP_SYS(recvmmsg),
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

static const struct privdrop_filter filter =
    PRIVDROP_FILTER(allowed, fcntl_cmds, refused);

/* Loads the frontend's filter; tests/unit/sandbox_test.c tries it. */
void
sandbox_seccomp(void)
{
	static const int	opts[] = { SO_SNDBUF, SO_RCVLOWAT, SO_LINGER };
	struct scmp_arg_cmp	cmp[2];
	void			*ctx;
	size_t			 i;

	ctx = privdrop_seccomp_begin("frontend", &filter);
	/* setsockopt only to size a HELP listing's send buffer, to reset
	 * a reply cut short (linger.c) and to wait for a whole TLS hello
	 * (SO_RCVLOWAT). */
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		cmp[0] = (struct scmp_arg_cmp)SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET);
		cmp[1] = (struct scmp_arg_cmp)SCMP_A2(SCMP_CMP_EQ, opts[i]);
		privdrop_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
		    cmp);
	}
	/* getsockopt only to see whether a listener is transparent
	 * (frontend.c): its bound address is then not its clients'. */
	cmp[0] = (struct scmp_arg_cmp)SCMP_A1(SCMP_CMP_EQ, SOL_IP);
	cmp[1] = (struct scmp_arg_cmp)SCMP_A2(SCMP_CMP_EQ, IP_TRANSPARENT);
	privdrop_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2, cmp);
	cmp[0] = (struct scmp_arg_cmp)SCMP_A1(SCMP_CMP_EQ, SOL_IPV6);
	cmp[1] = (struct scmp_arg_cmp)SCMP_A2(SCMP_CMP_EQ, IPV6_TRANSPARENT);
	privdrop_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2, cmp);
	privdrop_seccomp_load("frontend", ctx);
}

void
sandbox_frontend(const char *user, const char *root, pid_t parent)
{
	static const struct privdrop_landlock	ll = { 0 };

	privdrop_enter("frontend", user, root, parent, 0);
	(void)privdrop_landlock("frontend", &ll);
	sandbox_seccomp();
}
