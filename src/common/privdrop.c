/* SPDX-License-Identifier: ISC */
/*
 * privdrop.c: what the frontend's and the relay's sandboxes share. Each
 * step is checked; a failure is fatal, at start-up, before any client.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <linux/landlock.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
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

/* Every filesystem right the kernel's ABI knows: a ruleset without
 * rules then allows none. */
uint64_t
privdrop_landlock_fs(long abi)
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
void
privdrop_seccomp_sanitizer(void *ctx)
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
