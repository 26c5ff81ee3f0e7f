/* SPDX-License-Identifier: ISC */
/*
 * internal.h: what liboneport's own files share and its users do not see
 * (the library is built with -fvisibility=hidden).
 */
#ifndef ONEPORT_INTERNAL_H
#define ONEPORT_INTERNAL_H

#include <stddef.h>

/* client.c: take n bytes from fd that a peek has already shown. */
int	consume(int fd, unsigned char *buf, size_t n);

#endif
