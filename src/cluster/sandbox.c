/* SPDX-License-Identifier: ISC */
/*
 * sandbox.c: what the cluster process gives up before it speaks to etcd
 * (privdrop.c's steps). As root: the empty chroot and the frontend's
 * user. Always: not dumpable, no_new_privs, Landlock with no filesystem
 * rights and TCP connect only to the etcd ports (ABI 4 and later), and a
 * seccomp allowlist of what its loop calls: TCP sockets of IPv4 and
 * IPv6, epoll, reads and writes; nothing that opens a file or runs a
 * program.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <unistd.h>

#include "cluster.h"
#include "log.h"
#include "privdrop.h"

static const int calls[] = {
	SCMP_SYS(connect), SCMP_SYS(shutdown), SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(close),
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday), SCMP_SYS(brk), SCMP_SYS(munmap),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(futex),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(getpid),
	SCMP_SYS(getrandom), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sysinfo),	/* glibc's qsort of more than a page */
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

static const int fcntls[] = { F_GETFL, F_SETFL };

/* json-c or libc may try these and survive the refusal. */
static const int refused[] = { SCMP_SYS(open), SCMP_SYS(openat) };

static const struct privdrop_filter frame =
    PRIVDROP_FILTER(calls, fcntls, refused);

static void
allow2(void *ctx, int call, struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
	struct scmp_arg_cmp	cmp[2] = { a, b };

	privdrop_rule(ctx, SCMP_ACT_ALLOW, call, 2, cmp);
}

static void
filter(void)
{
	void	*ctx;

	ctx = privdrop_seccomp_begin("cluster", &frame);
	allow2(ctx, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	allow2(ctx, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET6),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	allow2(ctx, SCMP_SYS(getsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_ERROR));
	allow2(ctx, SCMP_SYS(setsockopt), SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP),
	    SCMP_A2(SCMP_CMP_EQ, TCP_NODELAY));
	privdrop_seccomp_load("cluster", ctx);
}

/*
 * The parent-death signal is SIGTERM, not SIGKILL: a parent that dies
 * any way has its names revoked at once (cluster.c), not a lease time
 * later.
 */
void
cluster_sandbox(const char *user, const char *root, pid_t parent,
    const uint16_t *ports, int nports)
{
	struct privdrop_landlock	ll = { .net = 1, .ports = ports,
					    .nports = nports, .scoped = 1 };
	long				abi;

	privdrop_enter("cluster", user, root, parent,
	    PRIVDROP_NODUMP | PRIVDROP_TERM);
	abi = privdrop_landlock("cluster", &ll);
	if (abi > 0 && abi < 4)
		log_info("cluster: Landlock ABI %ld has no network rules: "
		    "connects are not limited to the etcd ports", abi);
	filter();
}
