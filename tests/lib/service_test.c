/* SPDX-License-Identifier: ISC */
/*
 * service_test: the service side of liboneport end to end, without the
 * daemon. The test plays oneportd: it connects to the hand-off socket (or
 * answers on a fake control socket), passes real loopback TCP sockets with
 * HANDOFF, reads the ACCEPTs, and checks what oneport_accept returns, that
 * "+" came first and that bytes flow. Given the path of examples/echo-service,
 * it drives that program the same way.
 * Usage: lib_test [echo-service]
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oneport.h"
#include "wire.h"

#define WAIT_MS		5000	/* the library's REGISTERED wait */
#define IO_MS		3000	/* this test's patience for one event */

static int	 failed, checks;
static char	 dir[] = "/tmp/oneport-lib-test.XXXXXX";
static char	 sock_path[128], ctl_path[128];

#define CHECK(c)	do {						\
	checks++;							\
	if (!(c)) {							\
		failed++;						\
		printf("FAIL %s:%d: %s\n", __func__, __LINE__, #c);	\
	}								\
} while (0)

static void
die(const char *what)
{
	printf("FATAL %s: %s\n", what, strerror(errno));
	exit(2);
}

/* A connected loopback TCP pair; server is non-blocking, as a daemon's. */
static int
tcp_pair(int family, int *client, int *server)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 l;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if ((l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(l, (struct sockaddr *)&ss, len) == -1 || listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&ss, &len) == -1) {
		close(l);
		return -1;
	}
	if ((*client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	if (connect(*client, (struct sockaddr *)&ss, len) == -1)
		die("connect tcp");
	if ((*server = accept4(l, NULL, NULL, SOCK_CLOEXEC |
	    SOCK_NONBLOCK)) == -1)
		die("accept tcp");
	close(l);
	return 0;
}

static void
addr_wire(int fd, int peer, uint8_t *family, uint8_t *addr, uint16_t *port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len = sizeof(ss);

	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
	    getsockname(fd, (struct sockaddr *)&ss, &len)) == -1)
		die("getpeername");
	memset(addr, 0, 16);
	if (ss.ss_family == AF_INET) {
		*family = 4;
		memcpy(addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else {
		*family = 6;
		memcpy(addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	}
}

static int
send_raw(int chan, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec	 iov;
	struct msghdr	 mh;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(8 * sizeof(int))];
	} cbuf;
	struct cmsghdr	*cm;

	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	return sendmsg(chan, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int
send_msg(int chan, const struct wire_msg *m, const int *fds, int nfds)
{
	uint8_t	buf[WIRE_MSG_MAX];
	size_t	len;

	if ((len = wire_encode(buf, sizeof(buf), m)) == 0) {
		errno = EINVAL;
		die("wire_encode");
	}
	return send_raw(chan, buf, len, fds, nfds);
}

static void
handoff_msg(struct wire_msg *m, uint32_t id, const char *name, int tcp,
    const char *pre)
{
	memset(m, 0, sizeof(*m));
	m->type = WIRE_HANDOFF;
	m->id = id;
	snprintf(m->name, sizeof(m->name), "%s", name);
	addr_wire(tcp, 1, &m->family, m->peer_addr, &m->peer_port);
	addr_wire(tcp, 0, &m->family, m->local_addr, &m->local_port);
	m->preread = (const uint8_t *)pre;
	m->preread_len = strlen(pre);
}

/* HANDOFF with tcp (the daemon's end of the client) as its one fd. */
static int
send_handoff(int chan, uint32_t id, const char *name, int tcp,
    const char *pre)
{
	struct wire_msg	m;

	handoff_msg(&m, id, name, tcp, pre);
	return send_msg(chan, &m, &tcp, 1);
}

static int
send_go(int chan, uint32_t id)
{
	struct wire_msg	m;

	memset(&m, 0, sizeof(m));
	m.type = WIRE_GO;
	m.id = id;
	return send_msg(chan, &m, NULL, 0);
}

static int
readable(int fd, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, ms) == 1;
}

/* The next message within ms: 1 with m filled, 0 at EOF, -1 otherwise. */
static int
recv_msg(int chan, struct wire_msg *m, int ms)
{
	static uint8_t	buf[WIRE_MSG_MAX];
	struct pollfd	pfd = { chan, POLLIN, 0 };
	ssize_t		n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	if ((n = recv(chan, buf, sizeof(buf), MSG_DONTWAIT)) == -1)
		return -1;
	if (n == 0)
		return 0;
	return wire_decode(buf, n, m) == 0 ? 1 : -1;
}

static int
expect_accept(int chan, uint32_t id)
{
	struct wire_msg	m;

	return recv_msg(chan, &m, IO_MS) == 1 && m.type == WIRE_ACCEPT &&
	    m.id == id;
}

static int
expect_ack(int chan, uint32_t id, int status, const char *reason)
{
	struct wire_msg	m;

	return recv_msg(chan, &m, IO_MS) == 1 && m.type == WIRE_ACK &&
	    m.id == id && m.status == status &&
	    strcmp(m.reason, reason) == 0;
}

/*
 * The other end closed without a message for us; ECONNRESET says it had
 * not read all we sent.
 */
static int
closed_unread(int fd)
{
	char	buf[WIRE_MSG_MAX];
	ssize_t	n;

	if (!readable(fd, IO_MS))
		return 0;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno == ECONNRESET);
}

/* Reads and drops whatever comes until end of stream, within ms. */
static int
wait_eof(int fd, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		buf[2048];
	ssize_t		n;

	for (;;) {
		if (poll(&pfd, 1, ms) != 1)
			return 0;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n == -1 && errno != EAGAIN)
			return errno == ECONNRESET;
	}
}

static void
sun_set(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		die(path);
	}
	memcpy(sun->sun_path, path, strlen(path));
}

static int
chan_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	sun_set(&sun, path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die(path);
	return fd;
}

static int
unix_listener(const char *path, int type)
{
	struct sockaddr_un	sun;
	int			fd;

	sun_set(&sun, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 16) == -1)
		die(path);
	return fd;
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		die("/proc/self/fd");
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own */
}

/* Exactly len bytes within IO_MS, compared with want. */
static int
read_is(int fd, const char *want, size_t len)
{
	char	buf[256];
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		if (!readable(fd, IO_MS))
			return 0;
		if ((n = read(fd, buf + got, len - got)) <= 0)
			return 0;
		got += n;
	}
	return memcmp(buf, want, len) == 0;
}

/*
 * c is the connection whose client end is client: the addresses, the
 * name, the preread, the descriptor flags, and bytes both ways.
 */
static void
check_conn(const struct oneport_conn *c, int client, const char *name,
    const char *pre)
{
	struct sockaddr_storage	cl, sv;
	socklen_t		cllen = sizeof(cl), svlen = sizeof(sv);

	if (getsockname(client, (struct sockaddr *)&cl, &cllen) == -1 ||
	    getpeername(client, (struct sockaddr *)&sv, &svlen) == -1)
		die("getsockname");
	CHECK(c->fd >= 0);
	CHECK(read_is(client, "+\r\n", 3));	/* the library's, first */
	CHECK(strcmp(c->service, name) == 0);
	CHECK(c->peerlen == cllen && memcmp(&c->peer, &cl, cllen) == 0);
	CHECK(c->locallen == svlen && memcmp(&c->local, &sv, svlen) == 0);
	CHECK(c->preread_len == strlen(pre) &&
	    memcmp(c->preread, pre, c->preread_len) == 0);
	CHECK((fcntl(c->fd, F_GETFL) & O_NONBLOCK) == 0);
	CHECK((fcntl(c->fd, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(write(client, "ping", 4) == 4);
	CHECK(read_is(c->fd, "ping", 4));
	CHECK(write(c->fd, "pong", 4) == 4);
	CHECK(read_is(client, "pong", 4));
}

static int
child_status(pid_t pid)
{
	int	st;

	if (waitpid(pid, &st, 0) == -1)
		die("waitpid");
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

#define CHECK_CHILD(pid, want)	check_child(pid, want, __func__, __LINE__)

static void
check_child(pid_t pid, int want, const char *fn, int line)
{
	int	st = child_status(pid);

	checks++;
	if (st != want) {
		failed++;
		printf("FAIL %s:%d: child exit status %d, want %d\n", fn,
		    line, st, want);
	}
}

static int	quiet(int, int);

/* ---- the tests ---- */

static void
test_handoff(int family)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	int			 chan, client, server, fds = count_fds();

	if (tcp_pair(family, &client, &server) == -1) {
		printf("skip: no %s loopback\n", family == AF_INET ? "IPv4" :
		    "IPv6");
		return;
	}
	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	chan = chan_connect(sock_path);
	CHECK(send_handoff(chan, 1, "echo", server, "GET /\r\n") == 0);
	close(server);
	memset(&c, 0, sizeof(c));
	CHECK(oneport_accept(srv, &c) == 0);
	CHECK(expect_accept(chan, 1));
	check_conn(&c, client, "echo", "GET /\r\n");
	/* Once closed, the service's copy was the last one. */
	oneport_conn_close(&c);
	CHECK(c.fd == -1);
	CHECK(wait_eof(client, IO_MS));
	oneport_conn_close(&c);
	close(client);
	close(chan);
	oneport_close(srv);
	CHECK(access(sock_path, F_OK) == 0);	/* not unlinked */
	CHECK(count_fds() == fds);
}

/*
 * Version 2: the connection says HELLO; we answer CHANNEL with one end of
 * a pair, keeping the other end and a copy of the service's. A HANDOFF on
 * it is taken without a lock ("+" first, then ACCEPT on the data channel);
 * one we receive back ourselves before the service reads it never reaches
 * the service. Closing the connection drops the data channel with it.
 */
static void
test_v2(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	struct wire_msg		 m;
	uint8_t			 buf[WIRE_MSG_MAX];
	int			 chan, client, server, sv[2], fds = count_fds();
	int			 c2, s2;

	unsetenv("ONEPORT_WIRE");
	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		goto out;
	chan = chan_connect(sock_path);
	memset(&c, 0, sizeof(c));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
	memset(&m, 0, sizeof(m));
	m.type = WIRE_CHANNEL;
	m.kind = WIRE_CHAN_DAEMON;
	CHECK(send_msg(chan, &m, &sv[1], 1) == 0);
	if (tcp_pair(AF_INET, &client, &server) == -1)
		die("tcp_pair");
	CHECK(send_handoff(sv[0], 5, "echo", server, "") == 0);
	close(server);
	/* A second one, received back by us first: the daemon's again. */
	if (tcp_pair(AF_INET, &c2, &s2) == -1)
		die("tcp_pair");
	CHECK(send_handoff(sv[0], 6, "echo", s2, "") == 0);
	close(s2);
	CHECK(oneport_accept(srv, &c) == 0);
	CHECK(recv_msg(chan, &m, IO_MS) == 1 && m.type == WIRE_HELLO &&
	    m.version == WIRE_V2);
	CHECK(c.fd >= 0 && read_is(client, "+\r\n", 3));
	CHECK(expect_accept(sv[0], 5));
	/* Still queued: ours to receive back, and its descriptor with it
	 * (dropped here, for want of a control buffer). */
	CHECK(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0);
	CHECK(wait_eof(c2, IO_MS));
	close(c2);
	oneport_conn_close(&c);
	CHECK(wait_eof(client, IO_MS));
	close(client);
	close(chan);
	close(sv[0]);
	close(sv[1]);
	oneport_close(srv);
out:
	setenv("ONEPORT_WIRE", "1", 1);
	CHECK(count_fds() == fds);
}

/*
 * A client that chose by its first bytes (HANDOFF_RAW): taken the same
 * way, but the library sends it nothing; its ClientHello is the first
 * thing the service reads, and by, match and alpn say how it came.
 */
static void
test_handoff_raw(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	struct wire_msg		 m;
	char			 b[8];
	int			 chan, client, server, fds = count_fds();

	if (tcp_pair(AF_INET, &client, &server) == -1)
		die("tcp_pair");
	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	chan = chan_connect(sock_path);
	CHECK(write(client, "\x16\x03\x01", 3) == 3);
	handoff_msg(&m, 7, "web", server, "");
	m.type = WIRE_HANDOFF_RAW;
	m.proto = WIRE_PROTO_TLS;
	snprintf(m.match, sizeof(m.match), "a.example.org");
	snprintf(m.alpn, sizeof(m.alpn), "h2");
	CHECK(send_msg(chan, &m, &server, 1) == 0);
	close(server);
	memset(&c, 0, sizeof(c));
	CHECK(oneport_accept(srv, &c) == 0);
	CHECK(expect_accept(chan, 7));
	CHECK(c.by == ONEPORT_BY_TLS);
	CHECK(strcmp(c.match, "a.example.org") == 0);
	CHECK(strcmp(c.alpn, "h2") == 0);
	CHECK(strcmp(c.service, "web") == 0 && c.preread_len == 0);
	CHECK(read_is(c.fd, "\x16\x03\x01", 3));
	/* No "+": the client's first byte to read is the service's. */
	CHECK(write(c.fd, "S", 1) == 1);
	CHECK(read(client, b, 1) == 1 && b[0] == 'S');
	oneport_conn_close(&c);
	close(client);
	close(chan);
	oneport_close(srv);
	CHECK(count_fds() == fds);
}

/* Several hand-offs in flight on one channel: taken in order. */
static void
test_pipelined(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	int			 chan, cl[3], sv[3], i;

	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	chan = chan_connect(sock_path);
	for (i = 0; i < 3; i++) {
		if (tcp_pair(AF_INET, &cl[i], &sv[i]) == -1)
			die("tcp_pair");
		CHECK(send_handoff(chan, 10 + i, "multi", sv[i], "") == 0);
		close(sv[i]);
	}
	for (i = 0; i < 3; i++) {
		CHECK(oneport_accept(srv, &c) == 0);
		CHECK(expect_accept(chan, 10 + i));
		check_conn(&c, cl[i], "multi", "");
		oneport_conn_close(&c);
	}
	for (i = 0; i < 3; i++)
		close(cl[i]);
	close(chan);
	oneport_close(srv);
}

/*
 * A greeting goes with "+", in the same write, to a client that asked by
 * a TCPMUX line, and to no other; one too long is refused, length 0 takes
 * it away.
 */
static void
test_greeting(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	struct wire_msg		 m;
	char			 big[ONEPORT_GREETING_MAX + 1], b[1];
	int			 chan, client, server;

	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	memset(big, 'x', sizeof(big));
	CHECK(oneport_greeting(srv, big, sizeof(big)) == -1 &&
	    errno == EINVAL);
	CHECK(oneport_greeting(srv, "220 ready\r\n", 11) == 0);
	chan = chan_connect(sock_path);

	if (tcp_pair(AF_INET, &client, &server) == -1)
		die("tcp_pair");
	CHECK(send_handoff(chan, 21, "smtp", server, "") == 0);
	close(server);
	CHECK(oneport_accept(srv, &c) == 0);
	CHECK(expect_accept(chan, 21));
	CHECK(read_is(client, "+\r\n220 ready\r\n", 14));
	CHECK(quiet(client, 50));
	oneport_conn_close(&c);
	close(client);

	/* Chosen by its first bytes: neither "+" nor the greeting. */
	if (tcp_pair(AF_INET, &client, &server) == -1)
		die("tcp_pair");
	handoff_msg(&m, 22, "smtp", server, "");
	m.type = WIRE_HANDOFF_RAW;
	m.proto = WIRE_PROTO_SILENCE;
	CHECK(send_msg(chan, &m, &server, 1) == 0);
	close(server);
	CHECK(oneport_accept(srv, &c) == 0);
	CHECK(expect_accept(chan, 22));
	CHECK(quiet(client, 50));
	CHECK(write(c.fd, "S", 1) == 1);
	CHECK(read(client, b, 1) == 1 && b[0] == 'S');
	oneport_conn_close(&c);
	close(client);

	/* Taken away: "+" alone. */
	CHECK(oneport_greeting(srv, NULL, 0) == 0);
	if (tcp_pair(AF_INET, &client, &server) == -1)
		die("tcp_pair");
	CHECK(send_handoff(chan, 23, "smtp", server, "") == 0);
	close(server);
	CHECK(oneport_accept(srv, &c) == 0);
	CHECK(expect_accept(chan, 23));
	check_conn(&c, client, "smtp", "");
	oneport_conn_close(&c);
	close(client);
	close(chan);
	oneport_close(srv);
}

/* The server's fd says when there is work, as a poll(2) loop needs. */
static void
test_server_fd(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	int			 chan, client, server;

	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	CHECK(!readable(oneport_server_fd(srv), 0));
	chan = chan_connect(sock_path);
	CHECK(readable(oneport_server_fd(srv), IO_MS));
	if (tcp_pair(AF_INET, &client, &server) == -1)
		die("tcp_pair");
	CHECK(send_handoff(chan, 5, "polled", server, "") == 0);
	close(server);
	CHECK(oneport_accept(srv, &c) == 0);
	check_conn(&c, client, "polled", "");
	oneport_conn_close(&c);
	close(client);
	close(chan);
	oneport_close(srv);
}

static void
test_listen_path(void)
{
	struct oneport_server	*srv, *other;
	char			 path[128], longpath[200];
	int			 fd;

	/* A live service keeps its path; a dead one's file is replaced. */
	CHECK((srv = oneport_listen(sock_path)) != NULL);
	errno = 0;
	CHECK(oneport_listen(sock_path) == NULL && errno == EADDRINUSE);
	oneport_close(srv);
	CHECK((srv = oneport_listen(sock_path)) != NULL);
	oneport_close(srv);

	snprintf(path, sizeof(path), "%s/file", dir);
	if ((fd = open(path, O_CREAT | O_WRONLY, 0600)) == -1)
		die(path);
	close(fd);
	errno = 0;
	CHECK((other = oneport_listen(path)) == NULL && errno == EEXIST);
	CHECK(strstr(oneport_strerror(), "not a socket") != NULL);
	CHECK(access(path, F_OK) == 0);
	unlink(path);

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	errno = 0;
	CHECK(oneport_listen(longpath) == NULL && errno == ENAMETOOLONG);

	snprintf(path, sizeof(path), "%s/no/such/dir", dir);
	errno = 0;
	CHECK(oneport_listen(path) == NULL && errno == ENOENT);
}

/*
 * One malformed message on channel bad: the library must close that
 * channel and every descriptor that came with it, and go on serving
 * channel good. A child sends good's hand-off only once bad is closed,
 * so the test cannot pass by luck of ordering.
 */
struct bad {
	const char	*what;
	int		 kind;
};

enum { B_GARBAGE, B_NO_FD, B_TWO_FDS, B_GO, B_GO_FD, B_ACK, B_ACCEPT,
	B_REGISTER, B_REGISTERED, B_TOO_BIG, B_PIPE_FD, B_HEADER_ONLY,
	B_OTHER_VERSION };

static const struct bad bads[] = {
	{ "garbage", B_GARBAGE },
	{ "handoff without fd", B_NO_FD },
	{ "handoff with two fds", B_TWO_FDS },
	{ "go: no longer due", B_GO },
	{ "go with an fd", B_GO_FD },
	{ "ack from the daemon", B_ACK },
	{ "accept from the daemon", B_ACCEPT },
	{ "register from the daemon", B_REGISTER },
	{ "registered on a hand-off channel", B_REGISTERED },
	{ "message too big, with fd", B_TOO_BIG },
	{ "handoff with a pipe", B_PIPE_FD },
	{ "header only", B_HEADER_ONLY },
	{ "version 2", B_OTHER_VERSION },
};

static void
send_bad(int chan, int kind, int tcp, int tcp2)
{
	static uint8_t	big[WIRE_MSG_MAX + 100];
	struct wire_msg	m;
	uint8_t		buf[WIRE_MSG_MAX];
	size_t		len;
	int		fds[2], p[2];

	switch (kind) {
	case B_GARBAGE:
		CHECK(send_raw(chan, "GET / HTTP/1.0\r\n\r\n", 18, &tcp,
		    1) == 0);
		break;
	case B_NO_FD:
		handoff_msg(&m, 1, "echo", tcp, "");
		CHECK(send_msg(chan, &m, NULL, 0) == 0);
		break;
	case B_TWO_FDS:
		handoff_msg(&m, 1, "echo", tcp, "");
		fds[0] = tcp;
		fds[1] = tcp2;
		CHECK(send_msg(chan, &m, fds, 2) == 0);
		break;
	case B_GO:
	case B_GO_FD:
		memset(&m, 0, sizeof(m));
		m.type = WIRE_GO;
		CHECK(send_msg(chan, &m, kind == B_GO_FD ? &tcp : NULL,
		    kind == B_GO_FD) == 0);
		break;
	case B_ACK:
	case B_ACCEPT:
	case B_REGISTERED:
		memset(&m, 0, sizeof(m));
		m.type = kind == B_ACK ? WIRE_ACK : kind == B_ACCEPT ?
		    WIRE_ACCEPT : WIRE_REGISTERED;
		CHECK(send_msg(chan, &m, NULL, 0) == 0);
		break;
	case B_REGISTER:
		memset(&m, 0, sizeof(m));
		m.type = WIRE_REGISTER;
		snprintf(m.name, sizeof(m.name), "echo");
		CHECK(send_msg(chan, &m, NULL, 0) == 0);
		break;
	case B_TOO_BIG:
		/* A valid HANDOFF followed by more than a message can be. */
		handoff_msg(&m, 1, "echo", tcp, "");
		CHECK(wire_encode(big, sizeof(big), &m) != 0);
		CHECK(send_raw(chan, big, sizeof(big), &tcp, 1) == 0);
		break;
	case B_PIPE_FD:
		if (pipe2(p, O_CLOEXEC) == -1)
			die("pipe");
		handoff_msg(&m, 1, "echo", tcp, "");
		CHECK(send_msg(chan, &m, &p[0], 1) == 0);
		close(p[0]);
		close(p[1]);
		break;
	case B_HEADER_ONLY:
		memset(&m, 0, sizeof(m));
		m.type = WIRE_GO;
		len = wire_encode(buf, sizeof(buf), &m);
		buf[3] = WIRE_HANDOFF;
		CHECK(send_raw(chan, buf, len, &tcp, 1) == 0);
		break;
	case B_OTHER_VERSION:
		handoff_msg(&m, 1, "echo", tcp, "");
		len = wire_encode(buf, sizeof(buf), &m);
		buf[2] = WIRE_VERSION + 1;
		CHECK(send_raw(chan, buf, len, &tcp, 1) == 0);
		break;
	}
}

static void
test_malformed(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	size_t			 i;
	pid_t			 pid;
	int			 bad, good, cl1, sv1, cl2, sv2, cl, sv;
	int			 fds = count_fds();

	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		bad = chan_connect(sock_path);
		good = chan_connect(sock_path);
		if (tcp_pair(AF_INET, &cl1, &sv1) == -1 ||
		    tcp_pair(AF_INET, &cl2, &sv2) == -1 ||
		    tcp_pair(AF_INET, &cl, &sv) == -1)
			die("tcp_pair");
		send_bad(bad, bads[i].kind, sv1, sv2);
		close(sv1);
		close(sv2);
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			/* Acknowledged hand-offs come first; then EOF. */
			if (!wait_eof(bad, IO_MS))
				_exit(1);
			if (send_handoff(good, 7, "good", sv, "") == -1)
				_exit(2);
			_exit(0);
		}
		close(sv);
		memset(&c, 0, sizeof(c));
		CHECK(oneport_accept(srv, &c) == 0);
		if (strcmp(c.service, "good") != 0)
			printf("FAIL malformed %s: got %s\n", bads[i].what,
			    c.service);
		check_conn(&c, cl, "good", "");
		oneport_conn_close(&c);
		if (child_status(pid) != 0) {
			failed++;
			printf("FAIL malformed %s: channel not closed\n",
			    bads[i].what);
		}
		/* No stray descriptor stays open in the library. */
		if (!wait_eof(cl1, IO_MS) || !wait_eof(cl2, IO_MS)) {
			failed++;
			printf("FAIL malformed %s: client fd kept\n",
			    bads[i].what);
		}
		close(cl1);
		close(cl2);
		close(cl);
		close(bad);
		close(good);
		checks += 2;
	}
	oneport_close(srv);
	/* Whatever the library did not keep track of would still be open. */
	CHECK(count_fds() == fds);
}

/* Nothing within ms on fd: no byte, no end of stream. */
static int
quiet(int fd, int ms)
{
	return !readable(fd, ms);
}

/*
 * The two ways the daemon keeps the answer for itself. It holds the
 * client's lock (it gave up waiting and answers "-" now): the library
 * writes nothing and sends no ACCEPT. It shut the channel (closing it):
 * ACCEPT cannot be sent, so the library writes nothing either.
 */
static void
test_taken(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	struct flock		 fl;
	struct wire_msg		 m;
	pid_t			 pid;
	int			 a, b, p[2], cl7, sv7, cl8, sv8;
	char			 x;

	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	a = chan_connect(sock_path);
	b = chan_connect(sock_path);
	if (tcp_pair(AF_INET, &cl7, &sv7) == -1 ||
	    tcp_pair(AF_INET, &cl8, &sv8) == -1)
		die("tcp_pair");
	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe");
	/* The lock is a process's: another one must hold it. */
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(p[1]);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(sv7, F_SETLK, &fl) == -1 ||
		    send_handoff(a, 7, "late", sv7, "") == -1 ||
		    send_handoff(a, 8, "late", sv8, "") == -1)
			_exit(1);
		/* Holds the lock until the parent has seen 8 through. */
		(void)read(p[0], &x, 1);
		_exit(0);
	}
	close(p[0]);
	close(sv7);
	close(sv8);
	CHECK(oneport_accept(srv, &c) == 0);
	check_conn(&c, cl8, "late", "");
	oneport_conn_close(&c);
	/* 7 came first on the channel and was let go of without a word. */
	CHECK(expect_accept(a, 8));
	CHECK(quiet(cl7, 100));
	close(p[1]);
	CHECK_CHILD(pid, 0);
	CHECK(wait_eof(cl7, IO_MS));
	close(cl7);
	close(cl8);

	/* The daemon shut the channel after sending 9: no ACCEPT goes. */
	if (tcp_pair(AF_INET, &cl7, &sv7) == -1 ||
	    tcp_pair(AF_INET, &cl8, &sv8) == -1)
		die("tcp_pair");
	CHECK(send_handoff(a, 9, "gone", sv7, "") == 0);
	CHECK(shutdown(a, SHUT_RDWR) == 0);
	close(sv7);
	CHECK(send_handoff(b, 10, "gone", sv8, "") == 0);
	close(sv8);
	CHECK(oneport_accept(srv, &c) == 0);
	check_conn(&c, cl8, "gone", "");
	oneport_conn_close(&c);
	CHECK(expect_accept(b, 10));
	CHECK(recv_msg(a, &m, 0) == 0);		/* nothing came on a */
	close(a);
	/* Let go of without a byte: the end of the stream comes first. */
	CHECK(readable(cl7, IO_MS) && recv(cl7, &x, 1, MSG_DONTWAIT) == 0);
	close(cl7);
	close(cl8);
	close(b);
	oneport_close(srv);
}

/* A daemon that reconnects often: the oldest channels make room. */
static void
test_many_channels(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	int			 chans[20], cl, sv, i;

	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	for (i = 0; i < 20; i++)
		chans[i] = chan_connect(sock_path);
	if (tcp_pair(AF_INET, &cl, &sv) == -1)
		die("tcp_pair");
	CHECK(send_handoff(chans[19], 1, "last", sv, "") == 0);
	close(sv);
	CHECK(oneport_accept(srv, &c) == 0);
	check_conn(&c, cl, "last", "");
	oneport_conn_close(&c);
	CHECK(wait_eof(chans[0], IO_MS));
	CHECK(expect_accept(chans[19], 1));
	for (i = 0; i < 20; i++)
		close(chans[i]);
	close(cl);
	oneport_close(srv);
}

/* Run as another user, a would-be daemon gets nothing but EOF. */
static void
test_peercred(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	pid_t			 pid;
	int			 p[2], chan, cl, sv;
	char			 x;

	if (getuid() != 0) {
		printf("skip: peer credentials (not root)\n");
		return;
	}
	CHECK((srv = oneport_listen(sock_path)) != NULL);
	if (srv == NULL)
		return;
	if (chmod(dir, 0755) == -1 || chmod(sock_path, 0777) == -1)
		die("chmod");
	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		if (tcp_pair(AF_INET, &cl, &sv) == -1 || setgid(65534) == -1 ||
		    setuid(65534) == -1)
			_exit(3);
		chan = chan_connect(sock_path);
		if (send_handoff(chan, 77, "intruder", sv, "") == -1)
			_exit(4);
		if (write(p[1], "x", 1) != 1)
			_exit(5);
		/* Neither an ACK nor anything else: the channel just ends. */
		_exit(closed_unread(chan) ? 0 : 1);
	}
	close(p[1]);
	CHECK(read(p[0], &x, 1) == 1);
	close(p[0]);
	chan = chan_connect(sock_path);
	if (tcp_pair(AF_INET, &cl, &sv) == -1)
		die("tcp_pair");
	CHECK(send_handoff(chan, 78, "legit", sv, "") == 0);
	close(sv);
	CHECK(oneport_accept(srv, &c) == 0);
	check_conn(&c, cl, "legit", "");
	oneport_conn_close(&c);
	CHECK_CHILD(pid, 0);
	close(cl);
	close(chan);
	oneport_close(srv);
	chmod(dir, 0700);
}

/* fd moved out of the way of 3 and 4. */
static int
high_fd(int fd)
{
	int	nfd;

	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10)) == -1)
		die("fcntl");
	close(fd);
	return nfd;
}

/*
 * LISTEN_FDS: in a child, with the sockets on 3 and 4 as systemd or
 * oneportd would leave them.
 */
static int
listen_fds_child(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	char			 pid[32], other[160];
	int			 a, b, chan, cl, sv;

	failed = 0;
	alarm(30);
	snprintf(other, sizeof(other), "%s/other.sock", dir);
	a = high_fd(unix_listener(other, SOCK_SEQPACKET));
	b = high_fd(unix_listener(sock_path, SOCK_SEQPACKET));
	/* Both inherited without close-on-exec, as from execve. */
	if (dup2(a, 3) == -1 || dup2(b, 4) == -1)
		die("dup2");
	close(a);
	close(b);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());

	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_PID", "1", 1);
	errno = 0;
	CHECK(oneport_listen(NULL) == NULL && errno == ENOENT);
	unsetenv("LISTEN_PID");
	CHECK(oneport_listen(NULL) == NULL && errno == ENOENT);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "0", 1);
	CHECK(oneport_listen(NULL) == NULL && errno == ENOENT);
	setenv("LISTEN_FDS", "2x", 1);
	CHECK(oneport_listen(NULL) == NULL && errno == ENOENT);

	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "other:oneport", 1);
	CHECK((srv = oneport_listen(NULL)) != NULL);
	if (srv == NULL)
		return failed;
	CHECK((fcntl(3, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK((fcntl(4, F_GETFD) & FD_CLOEXEC) != 0);
	chan = chan_connect(sock_path);
	if (tcp_pair(AF_INET, &cl, &sv) == -1)
		die("tcp_pair");
	CHECK(send_handoff(chan, 1, "fromenv", sv, "") == 0);
	close(sv);
	CHECK(oneport_accept(srv, &c) == 0);
	check_conn(&c, cl, "fromenv", "");
	oneport_conn_close(&c);
	close(cl);
	close(chan);
	oneport_close(srv);	/* closes 4 */

	/* No name "oneport": the first one. */
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "something", 1);
	CHECK((srv = oneport_listen(NULL)) != NULL);
	chan = chan_connect(other);
	if (tcp_pair(AF_INET, &cl, &sv) == -1)
		die("tcp_pair");
	CHECK(send_handoff(chan, 2, "first", sv, "") == 0);
	close(sv);
	CHECK(oneport_accept(srv, &c) == 0);
	check_conn(&c, cl, "first", "");
	oneport_conn_close(&c);
	close(cl);
	close(chan);
	oneport_close(srv);	/* closes 3 */

	/* Not what a hand-off socket must be. */
	unsetenv("LISTEN_FDNAMES");
	a = high_fd(unix_listener(other, SOCK_STREAM));
	if (dup2(a, 3) == -1)
		die("dup2");
	close(a);
	CHECK(oneport_listen(NULL) == NULL && errno == EPROTOTYPE);
	close(3);
	CHECK(oneport_listen(NULL) == NULL && errno == EBADF);
	return failed;
}

static void
test_listen_fds(void)
{
	pid_t	pid;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0)
		_exit(listen_fds_child() != 0);
	CHECK_CHILD(pid, 0);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/*
 * Out of descriptors: the client is refused with a reason, not lost, and
 * a signal interrupts oneport_accept as it would accept(2).
 */
static void
test_emfile(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	struct sigaction	 sa;
	struct rlimit		 rl;
	pid_t			 pid;
	int			 chan, cl, sv, low;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid != 0) {
		CHECK_CHILD(pid, 0);
		return;
	}
	failed = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL) == -1)
		die("sigaction");
	if ((srv = oneport_listen(sock_path)) == NULL)
		_exit(1);
	chan = chan_connect(sock_path);
	if (tcp_pair(AF_INET, &cl, &sv) == -1)
		die("tcp_pair");
	/* The channel is accepted while there is room. */
	alarm(1);
	CHECK(oneport_accept(srv, &c) == -1 && errno == EINTR);
	CHECK(send_handoff(chan, 5, "full", sv, "") == 0);
	close(sv);
	/* From here no new descriptor fits. */
	if ((low = fcntl(0, F_DUPFD, 0)) == -1)
		die("fcntl");
	close(low);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit");
	rl.rlim_cur = low;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("setrlimit");
	alarm(1);
	CHECK(oneport_accept(srv, &c) == -1 && errno == EINTR);
	CHECK(expect_ack(chan, 5, 1, "service out of descriptors"));
	CHECK(wait_eof(cl, IO_MS));
	oneport_close(srv);
	_exit(failed != 0);
}

/* ---- registration over the control socket ---- */

/* The fake daemon's side: accept, expect REGISTER name. */
static int
ctl_accept(int l, const char *name)
{
	struct wire_msg	m;
	int		fd;

	if ((fd = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return -1;
	if (recv_msg(fd, &m, IO_MS) != 1 || m.type != WIRE_REGISTER ||
	    strcmp(m.name, name) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_registered(int fd, int status, const char *reason)
{
	struct wire_msg	m;

	memset(&m, 0, sizeof(m));
	m.type = WIRE_REGISTERED;
	m.status = status;
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	return send_msg(fd, &m, NULL, 0);
}

enum { R_OK_CLOSE, R_OK_WRONG_NAME, R_REFUSED, R_SILENT, R_GO, R_FD };

static void
register_daemon(int l, int kind, int sv)
{
	struct wire_msg	m;
	int		fd;

	if ((fd = ctl_accept(l, "echo-2")) == -1)
		_exit(1);
	switch (kind) {
	case R_OK_CLOSE:
	case R_OK_WRONG_NAME:
		if (send_registered(fd, 0, "") == -1 ||
		    send_handoff(fd, 1, "echo-2", sv, "pre") == -1 ||
		    !expect_accept(fd, 1))
			_exit(2);
		if (kind == R_OK_WRONG_NAME) {
			handoff_msg(&m, 2, "other", sv, "");
			if (send_msg(fd, &m, &sv, 1) == -1)
				_exit(3);
			_exit(wait_eof(fd, IO_MS) ? 0 : 4);
		}
		break;
	case R_REFUSED:
		if (send_registered(fd, 1, "name in use") == -1)
			_exit(2);
		break;
	case R_SILENT:
		_exit(wait_eof(fd, WAIT_MS + IO_MS) ? 0 : 2);
	case R_GO:
		if (send_go(fd, 0) == -1)
			_exit(2);
		break;
	case R_FD:
		memset(&m, 0, sizeof(m));
		m.type = WIRE_REGISTERED;
		if (send_msg(fd, &m, &sv, 1) == -1)
			_exit(2);
		break;
	}
	_exit(0);
}

static void
test_register(void)
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	pid_t			 pid;
	int			 l, cl, sv, kind, fds = count_fds();

	l = unix_listener(ctl_path, SOCK_SEQPACKET);
	for (kind = R_OK_CLOSE; kind <= R_FD; kind++) {
		if (tcp_pair(AF_INET, &cl, &sv) == -1)
			die("tcp_pair");
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0)
			register_daemon(l, kind, sv);
		close(sv);
		/* Through the environment, and with the name in upper case. */
		setenv("ONEPORT_CONTROL", ctl_path, 1);
		errno = 0;
		srv = oneport_register(NULL, "Echo-2");
		unsetenv("ONEPORT_CONTROL");
		switch (kind) {
		case R_OK_CLOSE:
		case R_OK_WRONG_NAME:
			CHECK(srv != NULL);
			if (srv == NULL)
				break;
			CHECK(oneport_accept(srv, &c) == 0);
			check_conn(&c, cl, "echo-2", "pre");
			oneport_conn_close(&c);
			errno = 0;
			CHECK(oneport_accept(srv, &c) == -1);
			CHECK(errno == (kind == R_OK_CLOSE ? ECONNRESET :
			    EPROTO));
			CHECK(strstr(oneport_strerror(), "echo-2") != NULL);
			/* And it stays that way. */
			CHECK(oneport_accept(srv, &c) == -1);
			oneport_close(srv);
			break;
		case R_REFUSED:
			CHECK(srv == NULL && errno == EPERM);
			CHECK(strcmp(oneport_strerror(), "name in use") == 0);
			break;
		case R_SILENT:
			CHECK(srv == NULL && errno == ETIMEDOUT);
			break;
		case R_GO:
		case R_FD:
			CHECK(srv == NULL && errno == EPROTO);
			break;
		}
		if (child_status(pid) != 0) {
			failed++;
			printf("FAIL register case %d: fake daemon\n", kind);
		}
		close(cl);
	}
	close(l);
	unlink(ctl_path);

	errno = 0;
	CHECK(oneport_register(ctl_path, "echo") == NULL && errno == ENOENT);
	CHECK(strstr(oneport_strerror(), ctl_path) != NULL);
	CHECK(oneport_register(ctl_path, "e_cho") == NULL && errno == EINVAL);
	CHECK(oneport_register(ctl_path, "") == NULL && errno == EINVAL);
	CHECK(oneport_register(ctl_path, "abcdefghijklmnop") == NULL &&
	    errno == EINVAL);
	CHECK(count_fds() == fds);
}

/* ---- examples/echo-service ---- */

/* Start echo-service with args, stderr into *errfd; on fd 3 if lfd. */
static pid_t
echo_start(const char *prog, int lfd, const char *a1, const char *a2,
    const char *a3, int *errfd)
{
	char	pid[32];
	int	p[2];
	pid_t	child;

	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe");
	if ((child = fork()) == -1)
		die("fork");
	if (child == 0) {
		if (dup2(p[1], 2) == -1)
			_exit(126);
		if (lfd != -1) {
			if ((lfd != 3 && dup2(lfd, 3) == -1) ||
			    fcntl(3, F_SETFD, 0) == -1)
				_exit(126);
			snprintf(pid, sizeof(pid), "%ld", (long)getpid());
			setenv("LISTEN_PID", pid, 1);
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_FDNAMES", "oneport", 1);
		}
		execl(prog, prog, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*errfd = p[0];
	return child;
}

static int
line_has(int fd, const char *want)
{
	char	buf[512];
	size_t	got = 0;
	ssize_t	n;

	while (got < sizeof(buf) - 1 && readable(fd, IO_MS)) {
		if ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += n;
		buf[got] = '\0';
		if (strstr(buf, want) != NULL)
			return 1;
	}
	buf[got] = '\0';
	printf("echo-service said: %s\n", buf);
	return 0;
}

/* One connection through echo-service -e on channel chan. */
static void
echo_session(int chan, int errfd, const char *name)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			want[128];
	int			cl, sv;

	if (tcp_pair(AF_INET, &cl, &sv) == -1)
		die("tcp_pair");
	if (getsockname(cl, (struct sockaddr *)&sin, &len) == -1)
		die("getsockname");
	CHECK(send_handoff(chan, 1, name, sv, "early bytes ") == 0);
	CHECK(expect_accept(chan, 1));
	close(sv);
	CHECK(read_is(cl, "+\r\n", 3));
	snprintf(want, sizeof(want), "peer=127.0.0.1:%d service=%s\r\n",
	    ntohs(sin.sin_port), name);
	CHECK(read_is(cl, want, strlen(want)));
	CHECK(read_is(cl, "early bytes ", 12));
	CHECK(write(cl, "hello", 5) == 5);
	CHECK(read_is(cl, "hello", 5));
	CHECK(shutdown(cl, SHUT_WR) == 0);
	CHECK(wait_eof(cl, IO_MS));
	close(cl);
	snprintf(want, sizeof(want), "peer=127.0.0.1:%d service=%s",
	    ntohs(sin.sin_port), name);
	CHECK(line_has(errfd, want));
}

static int
connect_retry(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, i;

	sun_set(&sun, path);
	for (i = 0; i < 300; i++) {
		if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
		    0)) == -1)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		close(fd);
		usleep(10 * 1000);
	}
	return -1;
}

static void
test_echo_service(const char *prog)
{
	pid_t	pid;
	int	l, chan, errfd;

	/* LISTEN_FDS */
	l = unix_listener(sock_path, SOCK_SEQPACKET);
	pid = echo_start(prog, l, "-e", NULL, NULL, &errfd);
	close(l);
	chan = chan_connect(sock_path);
	echo_session(chan, errfd, "echo");
	close(chan);
	kill(pid, SIGTERM);
	CHECK_CHILD(pid, 128 + SIGTERM);
	close(errfd);

	/* A path of its own */
	unlink(sock_path);
	pid = echo_start(prog, -1, "-e", sock_path, NULL, &errfd);
	CHECK((chan = connect_retry(sock_path)) != -1);
	if (chan != -1) {
		echo_session(chan, errfd, "byname");
		close(chan);
	}
	kill(pid, SIGTERM);
	CHECK_CHILD(pid, 128 + SIGTERM);
	close(errfd);

	/* Registered: it ends when the registration does. */
	l = unix_listener(ctl_path, SOCK_SEQPACKET);
	pid = echo_start(prog, -1, "-er", "reg", ctl_path, &errfd);
	CHECK(readable(l, IO_MS));
	if ((chan = ctl_accept(l, "reg")) == -1)
		CHECK(!"echo-service registered");
	else {
		CHECK(send_registered(chan, 0, "") == 0);
		echo_session(chan, errfd, "reg");
		close(chan);
		CHECK_CHILD(pid, 1);
		CHECK(line_has(errfd, "registration of reg ended"));
	}
	close(errfd);
	close(l);
	unlink(ctl_path);
}

static void
cleanup(void)
{
	char	path[160];

	snprintf(path, sizeof(path), "%s/other.sock", dir);
	unlink(path);
	unlink(sock_path);
	unlink(ctl_path);
	if (rmdir(dir) == -1)
		printf("lib_test: %s left behind: %s\n", dir, strerror(errno));
}

int
main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/svc.sock", dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", dir);

	/* A library that hangs is killed by SIGALRM, and the test fails. */
	/* The fake daemons below are of version 1: no HELLO. */
	setenv("ONEPORT_WIRE", "1", 1);
	alarm(60);
	test_v2();
	test_handoff(AF_INET);
	test_handoff(AF_INET6);
	test_handoff_raw();
	test_pipelined();
	test_greeting();
	test_server_fd();
	test_listen_path();
	test_malformed();
	alarm(60);
	test_many_channels();
	test_peercred();
	test_listen_fds();
	test_emfile();
	alarm(60);
	test_register();
	test_taken();
	if (argc > 1)
		test_echo_service(argv[1]);
	alarm(0);

	cleanup();
	printf("lib_test: %d checks, %d failed\n", checks, failed);
	return failed != 0;
}
