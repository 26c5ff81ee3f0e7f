/* SPDX-License-Identifier: ISC */
/*
 * echo-service: an example "pass" service built on liboneport. It takes
 * its hand-off socket from LISTEN_FDS, binds PATH, or registers NAME with
 * oneportd (-r), and echoes each client back in a child process of its
 * own: first the bytes oneportd had already read, then all it reads.
 * With -g TEXT every TCPMUX client gets TEXT and CR LF after "+", in the
 * same write (oneport_greeting). -e first tells each client its address
 * and service, -a also the local address oneportd said it called.
 *
 *   cc -o echo-service echo-service.c $(pkg-config --cflags --libs liboneport)
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneport.h"

static void
usage(void)
{
	fprintf(stderr, "usage: echo-service [-a | -e] [-g text] [-r name] [path]\n");
	exit(2);
}

/* "1.2.3.4:5" or "[::1]:5" */
static const char *
addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char	host[INET6_ADDRSTRLEN], port[sizeof("65535")];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, size, "?");
	else if (strchr(host, ':') != NULL)
		snprintf(buf, size, "[%s]:%s", host, port);
	else
		snprintf(buf, size, "%s:%s", host, port);
	return buf;
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* In the child: the connection is ours alone, and blocking. */
static void
echo(struct oneport_conn *c, int tell_peer)
{
	char	buf[4096], peer[128], local[128];
	ssize_t	n;

	if (tell_peer == 2)
		n = snprintf(buf, sizeof(buf), "peer=%s local=%s service=%s\r\n",
		    addr_text((struct sockaddr *)&c->peer, c->peerlen, peer,
		    sizeof(peer)), addr_text((struct sockaddr *)&c->local,
		    c->locallen, local, sizeof(local)), c->service);
	else if (tell_peer)
		n = snprintf(buf, sizeof(buf), "peer=%s service=%s\r\n",
		    addr_text((struct sockaddr *)&c->peer, c->peerlen, peer,
		    sizeof(peer)), c->service);
	if (tell_peer) {
		if (send_all(c->fd, buf, (size_t)n) == -1)
			return;
	}
	/* What oneportd read past the request line comes first. */
	if (send_all(c->fd, c->preread, c->preread_len) == -1)
		return;
	for (;;) {
		if ((n = read(c->fd, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (n == 0 || send_all(c->fd, buf, (size_t)n) == -1)
			return;
	}
}

int
main(int argc, char *argv[])
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	const char		*name = NULL, *path = NULL, *greet = NULL;
	char			 peer[128], line[ONEPORT_GREETING_MAX];
	pid_t			 pid;
	int			 ch, err, tell_peer = 0;

	while ((ch = getopt(argc, argv, "aeg:r:")) != -1) {
		switch (ch) {
		case 'a':
			tell_peer = 2;
			break;
		case 'e':
			tell_peer = 1;
			break;
		case 'g':
			greet = optarg;
			break;
		case 'r':
			name = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	if (argc == 1)
		path = argv[0];

	/* Children are reaped by the kernel; none is waited for. */
	signal(SIGCHLD, SIG_IGN);

	/* With -r, path is oneportd's control socket (default if none). */
	if (name != NULL)
		srv = oneport_register(path, name);
	else
		srv = oneport_listen(path);
	if (srv == NULL) {
		fprintf(stderr, "echo-service: %s\n", oneport_strerror());
		return 1;
	}
	if (greet != NULL && ((size_t)snprintf(line, sizeof(line), "%s\r\n",
	    greet) >= sizeof(line) ||
	    oneport_greeting(srv, line, strlen(line)) == -1)) {
		fprintf(stderr, "echo-service: greeting too long\n");
		return 1;
	}
	for (;;) {
		if (oneport_accept(srv, &c) == -1) {
			if ((err = errno) == EINTR)
				continue;
			fprintf(stderr, "echo-service: %s\n",
			    oneport_strerror());
			/* Out of descriptors: children will give some back. */
			if (err == EMFILE || err == ENFILE) {
				usleep(100 * 1000);
				continue;
			}
			oneport_close(srv);
			return 1;
		}
		addr_text((struct sockaddr *)&c.peer, c.peerlen, peer,
		    sizeof(peer));
		if ((pid = fork()) == -1) {
			fprintf(stderr, "echo-service: fork: %s\n",
			    strerror(errno));
			oneport_conn_close(&c);
			continue;
		}
		if (pid == 0) {
			oneport_close(srv);
			echo(&c, tell_peer);
			oneport_conn_close(&c);
			_exit(0);
		}
		fprintf(stderr, "echo-service: peer=%s service=%s pid=%ld\n",
		    peer, c.service, (long)pid);
		oneport_conn_close(&c);
	}
}
