/* SPDX-License-Identifier: ISC */
/*
 * privdrop.c: the parts of a sandbox the frontend and the relay share:
 * the drop from root to a user in an empty chroot with no way back, the
 * Landlock ruleset (no filesystem right; TCP connect to given ports
 * only, where asked), and the seccomp filter's common frame.
 */
#ifndef PRIVDROP_H
#define PRIVDROP_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/* privdrop_enter's flags */
#define PRIVDROP_NODUMP	0x1	/* not dumpable: no ptrace by its user */
#define PRIVDROP_TERM	0x2	/* SIGTERM, not SIGKILL, when we die */

void	 privdrop_user(const char *who, const char *user, const char *root);
void	 privdrop_enter(const char *who, const char *user, const char *root,
	    pid_t parent, int flags);

/* What Landlock takes away; everything, filesystem-wise. */
struct privdrop_landlock {
	int		 net;		/* handle TCP bind and connect */
	const uint16_t	*ports;		/* with net: connect to these only */
	int		 nports;
	int		 scoped;	/* no abstract socket, no signal out */
	int		 required;	/* a kernel that has it must take it */
};
long	 privdrop_landlock(const char *who, const struct privdrop_landlock *);

/* A seccomp filter's frame: calls allowed as they are, fcntl commands
 * allowed, calls refused with EACCES (a library may try them); and
 * always mmap and mprotect without PROT_EXEC, sendto without an address,
 * the sanitizers' calls. The caller adds its own between begin and load. */
struct privdrop_filter {
	const int	*allow;
	size_t		 nallow;
	const int	*fcntl;
	size_t		 nfcntl;
	const int	*refuse;
	size_t		 nrefuse;
};
#define PRIVDROP_N(a)	(sizeof(a) / sizeof((a)[0]))
#define PRIVDROP_FILTER(allow, fcntl, refuse) { (allow), PRIVDROP_N(allow), \
	(fcntl), PRIVDROP_N(fcntl), (refuse), PRIVDROP_N(refuse) }
void	*privdrop_seccomp_begin(const char *who, const struct privdrop_filter *);
void	 privdrop_seccomp_load(const char *who, void *ctx);
struct scmp_arg_cmp;
void	 privdrop_rule(void *ctx, uint32_t action, int call, unsigned int n,
	    const struct scmp_arg_cmp *);

#endif
