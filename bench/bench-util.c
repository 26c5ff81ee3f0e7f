/* SPDX-License-Identifier: ISC */
/*
 * bench-util.c: helpers shared by greet-svc, handoff-svc and bare-pass.
 * Benchmark tools, not the daemon: a failure at start-up is fatal.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"

#define SOURCE_CHUNK	(256 * 1024)

void
bench_fatal(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

void
bench_fatalx(const char *prog, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* All of buf to a blocking or non-blocking socket that has room. */
int
bench_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes bytes zero bytes to a blocking socket, in big chunks. */
int
bench_source(int fd, unsigned long long bytes)
{
	static char	 zeros[SOURCE_CHUNK];
	size_t		 k;

	while (bytes > 0) {
		k = bytes < sizeof(zeros) ? (size_t)bytes : sizeof(zeros);
		if (bench_write_all(fd, zeros, k) == -1)
			return -1;
		bytes -= k;
	}
	return 0;
}

/* "268435456", "256k", "256M" or "1G". */
unsigned long long
bench_parse_bytes(const char *s)
{
	unsigned long long	 v;
	char			*end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		bench_fatalx("bench", "bad byte count %s", s);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		bench_fatalx("bench", "bad byte count %s", s);
	return v;
}

/* \r \n \t \\ decoded into a new buffer; *lenp gets the byte count. */
char *
bench_unescape(const char *s, size_t *lenp)
{
	char	*out, *o;

	if ((out = malloc(strlen(s) + 1)) == NULL)
		bench_fatal("bench", "malloc");
	for (o = out; *s != '\0'; s++) {
		if (*s != '\\' || s[1] == '\0') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case 'r':	*o++ = '\r'; break;
		case 'n':	*o++ = '\n'; break;
		case 't':	*o++ = '\t'; break;
		default:	*o++ = *s; break;
		}
	}
	*lenp = (size_t)(o - out);
	return out;
}

/*
 * A non-blocking TCP listener on IPv4 addr:port, in a new epoll set
 * (*epfd) with fd as its data; prints the readiness line the scripts
 * wait for. Returns the listener.
 */
int
bench_listen(const char *prog, const char *addr, const char *port,
    int *epfd)
{
	struct sockaddr_in	sin;
	struct epoll_event	ev;
	int			lfd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		bench_fatalx(prog, "bad IPv4 address %s", addr);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1)
		bench_fatal(prog, "listen");
	if ((*epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bench_fatal(prog, "epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(*epfd, EPOLL_CTL_ADD, lfd, &ev) == -1)
		bench_fatal(prog, "epoll_ctl");
	printf("listening on %s:%s\n", addr, port);
	fflush(stdout);
	return lfd;
}
