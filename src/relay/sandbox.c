/* SPDX-License-Identifier: ISC */
/*
 * sandbox.c: what the relay gives up before it takes a client. As root:
 * the empty chroot and the frontend's user (privdrop.c). Always: not
 * dumpable (no other process of that user may ptrace it), no_new_privs,
 * Landlock with no filesystem rights, no TCP bind and TCP connect only to
 * the backends' ports where the kernel has network rules (ABI 4), and a
 * seccomp allowlist of what its loop calls: sockets of IPv4 and IPv6
 * only, nothing that opens a file or runs a program.
 */
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "relay.h"

static const int allowed[] = {
	SCMP_SYS(connect), SCMP_SYS(splice), SCMP_SYS(shutdown),
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	SCMP_SYS(close), SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(pipe2),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(getpid), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

static const int fcntl_cmds[] = {
	F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETPIPE_SZ, F_SETPIPE_SZ,
};

/* A library may try these and survive the refusal. */
static const int refused[] = {
	SCMP_SYS(open), SCMP_SYS(openat),
};

static const struct privdrop_filter filter =
    PRIVDROP_FILTER(allowed, fcntl_cmds, refused);

static void
rule2(void *ctx, int call, struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
	struct scmp_arg_cmp	cmp[2] = { a, b };

	privdrop_rule(ctx, SCMP_ACT_ALLOW, call, 2, cmp);
}

/* Loads the relay's filter. */
void
relay_seccomp(void)
{
	void	*ctx;

	ctx = privdrop_seccomp_begin("relay", &filter);
	/* TCP over IPv4 or IPv6, to the backends; nothing else. */
	rule2(ctx, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	rule2(ctx, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET6),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	rule2(ctx, SCMP_SYS(getsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_ERROR));
	privdrop_seccomp_load("relay", ctx);
}

void
relay_sandbox(const char *user, const char *root, pid_t parent,
    const uint16_t *ports, int nports)
{
	struct privdrop_landlock	ll = { .net = 1, .ports = ports,
					    .nports = nports, .scoped = 1,
					    .required = 1 };
	long				abi;

	privdrop_enter("relay", user, root, parent, PRIVDROP_NODUMP);
	abi = privdrop_landlock("relay", &ll);
	if (abi > 0 && abi < 4)
		log_info("relay: Landlock ABI %ld has no network rules: "
		    "connects are not limited to the backends' ports", abi);
	relay_seccomp();
}
