/* SPDX-License-Identifier: ISC */
/*
 * greet-svc: a plain TCP server for the hand-off bench, the back end that
 * sslh proxies to and the "direct" baseline. On one epoll loop it reads
 * each client's request line, then writes a greeting and closes; with -b
 * it writes that many bytes instead, blocking, one client at a time.
 *
 *	greet-svc [-b bytes] [-g greeting] host port
 */
#define _GNU_SOURCE	/* accept4 */

#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"

#define MAX_FD		65536
#define LINE_MAX_LEN	512	/* a longer "line" is dropped */

static unsigned short	 got[MAX_FD];	/* line bytes seen so far, per fd */
static const char	*greeting = "hello\r\n";
static size_t		 greetlen;
static unsigned long long bulk;		/* -b: bytes to source, 0: greet */

static void
usage(void)
{
	fprintf(stderr, "usage: greet-svc [-b bytes] [-g greeting] host "
	    "port\n");
	exit(2);
}

/*
 * Reads what the client sent; at the end of its line, answers and closes.
 * Returns 1 when fd is finished with (closed), 0 to wait for more.
 */
static int
serve(int epfd, int fd)
{
	char	buf[LINE_MAX_LEN];
	ssize_t	n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			if (memchr(buf, '\n', (size_t)n) != NULL)
				break;
			if ((size_t)got[fd] + (size_t)n >= LINE_MAX_LEN)
				goto drop;
			got[fd] += (unsigned short)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		goto drop;
	}
	if (bulk > 0) {
		/* One client at a time: the bench runs bulk at c=1. */
		if (fcntl(fd, F_SETFL, 0) == -1 ||
		    bench_source(fd, bulk) == -1)
			goto drop;
	} else if (bench_write_all(fd, greeting, greetlen) == -1)
		goto drop;
drop:
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	got[fd] = 0;
	close(fd);
	return 1;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, evs[256];
	int			 ch, lfd, epfd, fd, i, n;

	while ((ch = getopt(argc, argv, "b:g:")) != -1) {
		switch (ch) {
		case 'b':
			bulk = bench_parse_bytes(optarg);
			break;
		case 'g':
			greeting = bench_unescape(optarg, &greetlen);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	if (greetlen == 0)
		greetlen = strlen(greeting);
	signal(SIGPIPE, SIG_IGN);

	lfd = bench_listen("greet-svc", argv[0], argv[1], &epfd);

	for (;;) {
		if ((n = epoll_wait(epfd, evs, 256, -1)) == -1) {
			if (errno == EINTR)
				continue;
			bench_fatal("greet-svc", "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd != lfd) {
				serve(epfd, evs[i].data.fd);
				continue;
			}
			/* The line is usually in already: try it at once. */
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
			    SOCK_CLOEXEC)) != -1) {
				if (fd >= MAX_FD) {
					close(fd);
					continue;
				}
				got[fd] = 0;
				if (serve(epfd, fd))
					continue;
				memset(&ev, 0, sizeof(ev));
				ev.events = EPOLLIN;
				ev.data.fd = fd;
				if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ==
				    -1)
					close(fd);
			}
		}
	}
}
