/* SPDX-License-Identifier: ISC */
/*
 * name.h: the one rule for a service name (RFC 6335 section 5.1), for
 * the daemon (config, the first line, its IPC), the wire codec and the
 * client. Not part of the library's API: hidden in liboneport.so.
 */
#ifndef ONEPORT_NAME_H
#define ONEPORT_NAME_H

#include <stddef.h>

#define NAME_LEN_MAX	15	/* RFC 6335 */
#define NAME_LOWER	0x1	/* upper-case letters break it too */

const char	*name_problem(const char *, size_t len, int flags);
int		 name_valid(const char *, size_t len, int flags);

#endif
