/* SPDX-License-Identifier: ISC */
/*
 * privdrop.c: the parts of a sandbox the frontend and the relay share:
 * the drop from root to a user in an empty chroot, the Landlock
 * filesystem rights to refuse, the calls the sanitizers need.
 */
#ifndef PRIVDROP_H
#define PRIVDROP_H

#include <stdint.h>

void	 privdrop_user(const char *who, const char *user, const char *root);
uint64_t privdrop_landlock_fs(long abi);
void	 privdrop_seccomp_sanitizer(void *ctx);
struct scmp_arg_cmp;
void	 privdrop_rule(void *ctx, uint32_t action, int call, unsigned int n,
	    const struct scmp_arg_cmp *);

#endif
