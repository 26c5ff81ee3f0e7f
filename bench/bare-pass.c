/* SPDX-License-Identifier: ISC */
/*
 * bare-pass: the ceiling for the hand-off bench. The least a TCPMUX-style
 * daemon with a running service can do: one process accepts, reads the
 * request line, and sends the socket with SCM_RIGHTS over a unix
 * SOCK_SEQPACKET socket to a worker, which writes "+" and the greeting in
 * one write and closes. No names, limits, deadlines, ACK or GO.
 *
 *	bare-pass [-w workers] [-g reply] host port
 */
#define _GNU_SOURCE	/* accept4 */

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-util.h"

#define MAX_FD		65536
#define MAX_WORKERS	16
#define LINE_MAX_LEN	512

static unsigned short	 got[MAX_FD];

static void
usage(void)
{
	fprintf(stderr, "usage: bare-pass [-w workers] [-g reply] host port\n");
	exit(2);
}

static int
send_fd(int chan, int fd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct cmsghdr	*cm;
	char		 byte = 'F';
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(chan, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* Receives one descriptor, or -1 when the acceptor has gone. */
static int
recv_fd(int chan)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct cmsghdr	*cm;
	char		 byte;
	ssize_t		 n;
	int		 fd;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = &byte;
		iov.iov_len = 1;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		cm = CMSG_FIRSTHDR(&mh);
		if (cm == NULL || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		return fd;
	}
}

static void __attribute__((noreturn))
worker(int chan, const char *reply, size_t replylen)
{
	int	fd;

	while ((fd = recv_fd(chan)) != -1) {
		(void)bench_write_all(fd, reply, replylen);
		close(fd);
	}
	_exit(0);
}

/*
 * Reads the client's line; at its end, passes the socket on. Returns 1
 * when fd is finished with (passed or dropped), 0 to wait for more.
 */
static int
take_line(int epfd, int fd, int chan)
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
	if (send_fd(chan, fd) == -1)
		fprintf(stderr, "bare-pass: sendmsg: %s\n", strerror(errno));
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
	const char		*reply = "+\r\nhello\r\n";
	size_t			 replylen = 0;
	int			 chans[MAX_WORKERS], sv[2];
	int			 ch, nworkers = 1, next = 0, lfd, epfd, fd, i, n;

	while ((ch = getopt(argc, argv, "g:w:")) != -1) {
		switch (ch) {
		case 'g':
			reply = bench_unescape(optarg, &replylen);
			break;
		case 'w':
			nworkers = atoi(optarg);
			if (nworkers < 1 || nworkers > MAX_WORKERS)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	if (replylen == 0)
		replylen = strlen(reply);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < nworkers; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ==
		    -1)
			bench_fatal("bare-pass", "socketpair");
		switch (fork()) {
		case -1:
			bench_fatal("bare-pass", "fork");
		case 0:
			close(sv[0]);
			while (i-- > 0)
				close(chans[i]);
			worker(sv[1], reply, replylen);
		default:
			close(sv[1]);
			chans[i] = sv[0];
		}
	}

	lfd = bench_listen("bare-pass", argv[0], argv[1], &epfd);

	for (;;) {
		if ((n = epoll_wait(epfd, evs, 256, -1)) == -1) {
			if (errno == EINTR)
				continue;
			bench_fatal("bare-pass", "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd != lfd) {
				take_line(epfd, evs[i].data.fd, chans[next]);
				next = (next + 1) % nworkers;
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
			    SOCK_CLOEXEC)) != -1) {
				if (fd >= MAX_FD) {
					close(fd);
					continue;
				}
				got[fd] = 0;
				if (take_line(epfd, fd, chans[next])) {
					next = (next + 1) % nworkers;
					continue;
				}
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
