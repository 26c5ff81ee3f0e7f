/* SPDX-License-Identifier: ISC */
/*
 * privdrop.c: what the frontend's and the relay's sandboxes share. Each
 * step is checked; a failure is fatal, at start-up, before any client.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "privdrop.h"

/* As root: into the empty root, every capability gone, then the user. */
void
privdrop_user(const char *who, const char *user, const char *root)
{
	struct passwd	*pw;
	struct stat	 st;
	uid_t		 uid;
	gid_t		 gid;
	int		 cap;

	pw = getpwnam(user);
	if (pw == NULL && strcmp(user, ONEPORTD_USER) == 0) {
		log_warnx("%s: no user %s, using nobody (create the "
		    "user: useradd --system %s)", who, user, user);
		pw = getpwnam("nobody");
	}
	if (pw == NULL)
		fatalx("%s: unknown user %s", who, user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx("%s: refusing to run as root", who);

	/* The root must be empty and not writable by the user. */
	if (mkdir(root, 0755) == -1 && errno != EEXIST)
		fatal("%s: mkdir %s", who, root);
	if (stat(root, &st) == -1)
		fatal("%s: stat %s", who, root);
	if (st.st_uid != 0 || (st.st_mode & 022) != 0)
		fatalx("%s: %s must be owned by root and not writable "
		    "by others", who, root);
	if (chroot(root) == -1 || chdir("/") == -1)
		fatal("%s: chroot %s", who, root);

	/* No capability can come back, not even through an exec. */
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1)
			fatal("%s: drop capability %d", who, cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("%s: clear ambient capabilities", who);

	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("%s: cannot drop privileges", who);
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    setuid(0) != -1)
		fatalx("%s: privileges not dropped", who);
}

/*
 * As root, the user and the chroot; then what holds for a sandbox of
 * ours whoever starts it. parent is the pid that made our channel: the
 * parent-death signal is set after the user switch, which clears it, then
 * checked against a parent that died before it was set.
 */
void
privdrop_enter(const char *who, const char *user, const char *root,
    pid_t parent, int flags)
{
	if (geteuid() == 0)
		privdrop_user(who, user, root);
	if ((flags & PRIVDROP_NODUMP) &&
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: not dumpable", who);
	if (prctl(PR_SET_PDEATHSIG, flags & PRIVDROP_TERM ? SIGTERM : SIGKILL,
	    0, 0, 0) == -1)
		fatal("%s: parent-death signal", who);
	if (getppid() != parent)
		_exit(0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: no_new_privs", who);
}

/* Every filesystem right the kernel's ABI knows: a ruleset without
 * rules then allows none. */
static uint64_t
landlock_fs(long abi)
{
	uint64_t	fs;

	fs = LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	(void)abi;
	return fs;
}

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

/*
 * Best effort on a kernel without Landlock (chroot and seccomp remain);
 * the kernel's ABI, 0 for none. Network rules need ABI 4, scopes 6.
 */
long
privdrop_landlock(const char *who, const struct privdrop_landlock *ll)
{
	struct landlock_net_port_attr	 np;
	struct ruleset			 attr;
	size_t				 size;
	long				 abi;
	int				 fd, i;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_debug("%s: no Landlock; seccomp and chroot remain", who);
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	attr.fs = landlock_fs(abi);
	size = sizeof(attr.fs);
	if (ll->net && abi >= 4) {
		attr.net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
		size = offsetof(struct ruleset, scoped);
	}
	if (ll->scoped && abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
		    LANDLOCK_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0)) == -1) {
		if (ll->required)
			fatal("%s: landlock_create_ruleset", who);
		log_warn("%s: landlock", who);
		return 0;
	}
	for (i = 0; attr.net != 0 && i < ll->nports; i++) {
		np.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP;
		np.port = ll->ports[i];
		if (syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_NET_PORT,
		    &np, 0) == -1)
			fatal("%s: landlock port %u", who, ll->ports[i]);
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("%s: landlock_restrict_self", who);
	close(fd);
	return abi;
}

/* One rule with up to two argument checks; a failure is fatal. */
void
privdrop_rule(void *ctx, uint32_t action, int call, unsigned int n,
    const struct scmp_arg_cmp *cmp)
{
	if ((n == 0 ? seccomp_rule_add(ctx, action, call, 0) :
	    n == 1 ? seccomp_rule_add(ctx, action, call, 1, cmp[0]) :
	    seccomp_rule_add(ctx, action, call, 2, cmp[0], cmp[1])) < 0)
		fatalx("seccomp_rule_add %d", call);
}

/* ASan and UBSan report, unwind and symbolise with these. */
static void
seccomp_sanitizer(void *ctx)
{
#ifdef ONEPORT_SANITIZE
	static const int calls[] = {
		SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(writev),
		SCMP_SYS(rt_sigprocmask), SCMP_SYS(gettid), SCMP_SYS(tgkill),
		SCMP_SYS(prctl), SCMP_SYS(sched_yield), SCMP_SYS(getrusage),
		SCMP_SYS(uname), SCMP_SYS(readlink), SCMP_SYS(pread64),
		SCMP_SYS(ioctl), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit),
		SCMP_SYS(mincore), SCMP_SYS(lseek), SCMP_SYS(dup),
		SCMP_SYS(pipe2),
	};
	size_t	i;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			fatalx("seccomp_rule_add %d", calls[i]);
#else
	(void)ctx;
#endif
}

void *
privdrop_seccomp_begin(const char *who, const struct privdrop_filter *f)
{
	struct scmp_arg_cmp	arg;
	scmp_filter_ctx		ctx;
	size_t			i;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("%s: seccomp_init", who);
	for (i = 0; i < f->nallow; i++)
		privdrop_rule(ctx, SCMP_ACT_ALLOW, f->allow[i], 0, NULL);
	seccomp_sanitizer(ctx);
	for (i = 0; i < f->nrefuse; i++)
		privdrop_rule(ctx, SCMP_ACT_ERRNO(EACCES), f->refuse[i], 0,
		    NULL);
	arg = (struct scmp_arg_cmp)SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	privdrop_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, &arg);
	privdrop_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, &arg);
	arg = (struct scmp_arg_cmp)SCMP_A4(SCMP_CMP_EQ, 0);
	privdrop_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1, &arg);
	for (i = 0; i < f->nfcntl; i++) {
		arg = (struct scmp_arg_cmp)SCMP_A1(SCMP_CMP_EQ, f->fcntl[i]);
		privdrop_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, &arg);
	}
	return ctx;
}

void
privdrop_seccomp_load(const char *who, void *ctx)
{
	if (seccomp_load(ctx) < 0)
		fatalx("%s: seccomp_load", who);
	seccomp_release(ctx);
}
