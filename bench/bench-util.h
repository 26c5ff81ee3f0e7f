/* SPDX-License-Identifier: ISC */
/*
 * bench-util.h: the few helpers the bench's servers share (bench-util.c):
 * fatal exits, full writes, sourcing bulk bytes, option parsing, and a
 * listener in an epoll set.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>

void	bench_fatal(const char *prog, const char *what)
	    __attribute__((noreturn));
void	bench_fatalx(const char *prog, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
int	bench_write_all(int fd, const void *buf, size_t len);
int	bench_source(int fd, unsigned long long bytes);
unsigned long long bench_parse_bytes(const char *s);
char	*bench_unescape(const char *s, size_t *lenp);
int	bench_listen(const char *prog, const char *addr, const char *port,
	    int *epfd);

#endif
