/* SPDX-License-Identifier: ISC */
/*
 * "oneport status [--json | --metrics] [-S path]": asks the running
 * oneportd over its status socket and prints what it says, a table for a
 * person, JSON for scripts, or the Prometheus text format. The daemon
 * renders it; this only sends the request line and copies the answer,
 * under one deadline.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "status.h"

#define STATUS_TIMEOUT_MS	10000

static void __attribute__((noreturn))
status_usage(void)
{
	fprintf(stderr, "usage: oneport status [--json | --metrics] "
	    "[-S path]\n");
	exit(2);
}

static long
ms_left(const struct timespec *start)
{
	struct timespec	now;
	long		ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
	return STATUS_TIMEOUT_MS - ms;
}

/* Sends the request and copies the answer to stdout; an answer that
 * begins with '-' is the daemon's refusal, for stderr. */
static int
status_copy(int fd, const char *req)
{
	struct timespec	 start;
	struct pollfd	 pfd;
	char		 buf[65536];
	ssize_t		 n;
	size_t		 got = 0;
	int		 refused = 0, sent_errno = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Refused at once, it may have closed: its answer is still read. */
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		sent_errno = errno;
	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (ms_left(&start) <= 0 ||
		    poll(&pfd, 1, (int)ms_left(&start)) == 0) {
			fprintf(stderr, "oneport: status: no answer in %ds\n",
			    STATUS_TIMEOUT_MS / 1000);
			return 4;
		}
		if ((n = read(fd, buf, sizeof(buf))) == -1 && errno == EINTR)
			continue;
		/* A refusal, then a close with our request unread. */
		if (n == -1 && errno == ECONNRESET && (got > 0 || sent_errno))
			break;
		if (n == -1) {
			fprintf(stderr, "oneport: status: %s\n",
			    strerror(errno));
			return 3;
		}
		if (n == 0)
			break;
		if (got == 0 && buf[0] == '-')
			refused = 1;
		if (fwrite(buf, 1, n, refused ? stderr : stdout) != (size_t)n)
			return 1;
		got += n;
	}
	if (got == 0) {
		fprintf(stderr, "oneport: status: %s\n", sent_errno ?
		    strerror(sent_errno) : "closed without an answer");
		return 3;
	}
	return refused ? 1 : fflush(stdout) == 0 ? 0 : 1;
}

int
status_main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	const char		*path = ONEPORT_STATUS, *req = "status\n";
	int			 i, fd;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			req = "json\n";
		else if (strcmp(argv[i], "--metrics") == 0)
			req = "metrics\n";
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			printf("usage: oneport status [--json | --metrics] "
			    "[-S path]\n");
			return 0;
		} else if (strcmp(argv[i], "-S") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "-S", 2) == 0 && argv[i][2] != '\0')
			path = argv[i] + 2;
		else
			status_usage();
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "oneport: status: %s: path too long\n", path);
		return 2;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "oneport: status: %s: %s\n", path,
		    strerror(errno));
		return 3;
	}
	i = status_copy(fd, req);
	close(fd);
	return i;
}
