/* SPDX-License-Identifier: ISC */
/*
 * sandbox.c: what the relay gives up before it takes a client. As root:
 * the empty chroot and the frontend's user (privdrop.c). Always: not
 * dumpable (no other process of that user may ptrace it), no_new_privs,
 * Landlock with no filesystem rights, no TCP bind and TCP connect only to
 * the backends' ports where the kernel has network rules (ABI 4), and a
 * seccomp allowlist of what its loop calls: sockets of IPv4 and IPv6
 * only (and unix stream ones for unix backends, whose directories alone
 * its root then holds), nothing that opens a file or runs a program.
 */
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "relay.h"

static const int allowed[] = {
	SCMP_SYS(connect), SCMP_SYS(splice), SCMP_SYS(shutdown),
	SCMP_SYS(getpeername), SCMP_SYS(getsockname),
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

/* Loads the relay's filter: unix stream sockets too for unix backends. */
void
relay_seccomp(int unix_sockets)
{
	void	*ctx;

	ctx = privdrop_seccomp_begin("relay", &filter);
	if (unix_sockets)
		rule2(ctx, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	/* TCP over IPv4 or IPv6, to the backends; nothing else. */
	rule2(ctx, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	rule2(ctx, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET6),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM));
	rule2(ctx, SCMP_SYS(getsockopt), SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
	    SCMP_A2(SCMP_CMP_EQ, SO_ERROR));
	/* Is a backend's connect done already (relay.c connect_now)? */
	rule2(ctx, SCMP_SYS(getsockopt), SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP),
	    SCMP_A2(SCMP_CMP_EQ, TCP_INFO));
	privdrop_seccomp_load("relay", ctx);
}

static int
by_length(const void *a, const void *b)
{
	return (int)strlen(*(char *const *)a) - (int)strlen(*(char *const *)b);
}

/* dir's components under root, each made if missing. */
static void
make_dirs(const char *root, const char *dir)
{
	char	where[PATH_MAX], *p, c;

	if (snprintf(where, sizeof(where), "%s%s", root, dir) >=
	    (int)sizeof(where))
		fatalx("relay: %s: path too long", dir);
	for (p = where + strlen(root) + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(where, 0755) == -1 && errno != EEXIST)
			fatal("relay: mkdir %s", where);
		if (c == '\0')
			return;
		*p = '/';
	}
}

/*
 * As root, for unix backends: a mount namespace of its own, in which the
 * empty root is a small tmpfs, read-only once it holds, at their own
 * paths, the backends' directories bound from outside. The relay sees
 * those directories and nothing else of the file system (Landlock's
 * rules have no right for a connect to a unix socket). A directory
 * inside another one bound is seen through it.
 */
static void
unix_root(const char *root, const char **paths, int npaths)
{
	char	**dirs, where[PATH_MAX], *slash;
	int	  i, j, n = 0;
	size_t	  len;

	if (npaths == 0 || geteuid() != 0)
		return;
	if ((dirs = calloc(npaths, sizeof(*dirs))) == NULL)
		fatal("relay: calloc");
	for (i = 0; i < npaths; i++) {
		if ((dirs[i] = strdup(paths[i])) == NULL)
			fatal("relay: strdup");
		slash = strrchr(dirs[i], '/');
		slash[slash == dirs[i]] = '\0';
	}
	qsort(dirs, npaths, sizeof(*dirs), by_length);
	if (mkdir(root, 0755) == -1 && errno != EEXIST)
		fatal("relay: mkdir %s", root);
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		fatal("relay: a mount namespace for the unix backends");
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "mode=755,size=64k,nr_inodes=4096") == -1)
		fatal("relay: tmpfs on %s", root);
	for (i = 0; i < npaths; i++) {
		for (j = 0; j < i; j++) {
			len = strlen(dirs[j]);
			if (strncmp(dirs[i], dirs[j], len) == 0 &&
			    (dirs[i][len] == '/' || dirs[i][len] == '\0'))
				break;
		}
		if (j < i)
			continue;
		make_dirs(root, dirs[i]);
		snprintf(where, sizeof(where), "%s%s", root, dirs[i]);
		if (mount(dirs[i], where, NULL, MS_BIND, NULL) == -1 ||
		    mount(NULL, where, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID |
		    MS_NODEV | MS_NOEXEC, NULL) == -1)
			fatal("relay: bind %s", dirs[i]);
		n++;
	}
	if (mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID |
	    MS_NODEV | MS_NOEXEC, "mode=755") == -1)
		fatal("relay: remount %s read-only", root);
	for (i = 0; i < npaths; i++)
		free(dirs[i]);
	free(dirs);
	log_debug("relay: %d directories of unix backends in its root", n);
}

void
relay_sandbox(const char *user, const char *root, pid_t parent,
    const uint16_t *ports, int nports, const char **paths, int npaths)
{
	struct privdrop_landlock	ll = { .net = 1, .ports = ports,
					    .nports = nports, .scoped = 1,
					    .required = 1 };
	long				abi;

	unix_root(root, paths, npaths);
	privdrop_enter("relay", user, root, parent, PRIVDROP_NODUMP);
	abi = privdrop_landlock("relay", &ll);
	if (abi > 0 && abi < 4)
		log_info("relay: Landlock ABI %ld has no network rules: "
		    "connects are not limited to the backends' ports", abi);
	relay_seccomp(npaths > 0);
}
