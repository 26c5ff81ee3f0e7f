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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "relay.h"

/* Older headers lack the network rules and scopes: the kernel's ABI. */
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP	(1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP	(1ULL << 1)
#define LANDLOCK_RULE_NET_PORT		2
struct landlock_net_port_attr {
	uint64_t	allowed_access;
	uint64_t	port;
};
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)
#endif

/* The ruleset's attributes as ABI 6 has them; older ones read less. */
struct ruleset {
	uint64_t	fs;
	uint64_t	net;
	uint64_t	scoped;
};

static void
landlock(const uint16_t *ports, int nports)
{
	struct landlock_net_port_attr	 np;
	struct ruleset			 attr;
	size_t				 size;
	long				 abi;
	int				 fd, i;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_debug("relay: no Landlock; seccomp and chroot remain");
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.fs = privdrop_landlock_fs(abi);
	size = sizeof(attr.fs);
	if (abi >= 4) {
		attr.net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
		size = offsetof(struct ruleset, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0)) == -1)
		fatal("relay: landlock_create_ruleset");
	for (i = 0; abi >= 4 && i < nports; i++) {
		np.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP;
		np.port = ports[i];
		if (syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_NET_PORT,
		    &np, 0) == -1)
			fatal("relay: landlock port %u", ports[i]);
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("relay: landlock_restrict_self");
	close(fd);
	if (abi < 4)
		log_info("relay: Landlock ABI %ld has no network rules: "
		    "connects are not limited to the backends' ports", abi);
}

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

static void
rule(scmp_filter_ctx ctx, uint32_t action, int call, unsigned int n,
    struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
	struct scmp_arg_cmp	cmp[2] = { a, b };

	privdrop_rule(ctx, action, call, n, cmp);
}

/* Loads the relay's filter. */
void
relay_seccomp(void)
{
	struct scmp_arg_cmp	none = SCMP_A0(SCMP_CMP_EQ, 0);
	scmp_filter_ctx		ctx;
	size_t			i;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("relay: seccomp_init");
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, none, none);
	privdrop_seccomp_sanitizer(ctx);
	/* TCP over IPv4 or IPv6, to the backends; nothing else. */
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET), SCMP_A1(SCMP_CMP_MASKED_EQ,
	    0xf, SOCK_STREAM));
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
	    SCMP_A0(SCMP_CMP_EQ, AF_INET6), SCMP_A1(SCMP_CMP_MASKED_EQ,
	    0xf, SOCK_STREAM));
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
	    SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET), SCMP_A2(SCMP_CMP_EQ, SO_ERROR));
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0), none);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0), none);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1,
	    SCMP_A4(SCMP_CMP_EQ, 0), none);
	for (i = 0; i < sizeof(fcntl_cmds) / sizeof(fcntl_cmds[0]); i++)
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		    SCMP_A1(SCMP_CMP_EQ, fcntl_cmds[i]), none);
	/* A library may try these and survive the refusal. */
	rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0, none, none);
	rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0, none, none);
	if (seccomp_load(ctx) < 0)
		fatalx("relay: seccomp_load");
	seccomp_release(ctx);
}

/*
 * parent is the pid that made our channel; the parent-death signal is
 * set after the user switch, which clears it, then checked against a
 * parent that died before it was set.
 */
void
relay_sandbox(const char *user, const char *root, pid_t parent,
    const uint16_t *ports, int nports)
{
	if (geteuid() == 0)
		privdrop_user("relay", user, root);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("relay: not dumpable");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("relay: parent-death signal");
	if (getppid() != parent)
		_exit(0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("relay: no_new_privs");
	landlock(ports, nports);
	relay_seccomp();
}
