/* SPDX-License-Identifier: ISC */
/*
 * tls-svc: the TLS server of bench/run-names, the same program behind
 * every path. It takes clients from a TCP port (-l: what sslh-select,
 * HAProxy and the direct runs connect to) and from a liboneport hand-off
 * socket (-u: what oneportd passes live sockets to), both at once, into
 * one queue served by a pool of threads. A worker does the TLS handshake
 * with OpenSSL, reads one request line and answers it: "hello" gets
 * "hello\n", "bulk N" gets N bytes, then close_notify and close.
 *
 *	tls-svc -c cert.pem -k key.pem [-l host:port] [-u path] [-w workers]
 *
 * Every handshake is a full one: no session cache, no tickets, so a
 * client that reconnects cannot resume and each session costs the same.
 */
#define _GNU_SOURCE	/* accept4 */

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "oneport.h"
#include "bench-util.h"

#define PROG		"tls-svc"
#define QUEUE_LEN	4096	/* clients waiting for a worker */
#define WORKERS_MAX	256
#define REQ_MAX		64
#define IO_TIMEOUT_S	10	/* per read or write: a stuck client */
#define CHUNK		16384	/* one full TLS record per SSL_write */

static SSL_CTX		*ctx;
static pthread_mutex_t	 qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 qcond = PTHREAD_COND_INITIALIZER;
static int		 queue[QUEUE_LEN];
static unsigned		 qhead, qtail;	/* qtail - qhead = queued */

static void
usage(void)
{
	fprintf(stderr, "usage: tls-svc -c cert.pem -k key.pem "
	    "[-l host:port] [-u path] [-w workers]\n");
	exit(2);
}

static void __attribute__((noreturn))
ssl_fatal(const char *what)
{
	fprintf(stderr, "%s: %s: ", PROG, what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* A full queue means the workers are stuck: that client is dropped. */
static void
enqueue(int fd)
{
	pthread_mutex_lock(&qlock);
	if (qtail - qhead >= QUEUE_LEN) {
		pthread_mutex_unlock(&qlock);
		close(fd);
		return;
	}
	queue[qtail++ % QUEUE_LEN] = fd;
	pthread_cond_signal(&qcond);
	pthread_mutex_unlock(&qlock);
}

static int
dequeue(void)
{
	int	fd;

	pthread_mutex_lock(&qlock);
	while (qtail == qhead)
		pthread_cond_wait(&qcond, &qlock);
	fd = queue[qhead++ % QUEUE_LEN];
	pthread_mutex_unlock(&qlock);
	return fd;
}

/* The request line, up to its '\n'; -1 if the client stopped first. */
static int
read_request(SSL *ssl, char *req, size_t size)
{
	size_t	len = 0;
	int	n;

	while (len < size - 1) {
		if ((n = SSL_read(ssl, req + len, (int)(size - 1 - len))) <= 0)
			return -1;
		len += (size_t)n;
		req[len] = '\0';
		if (strchr(req, '\n') != NULL)
			return 0;
	}
	return -1;
}

static int
ssl_write_all(SSL *ssl, const void *buf, size_t len)
{
	return SSL_write(ssl, buf, (int)len) == (int)len ? 0 : -1;
}

static void
serve(int fd)
{
	static const char	 zeros[CHUNK];
	struct timeval		 tv = { IO_TIMEOUT_S, 0 };
	unsigned long long	 left;
	char			 req[REQ_MAX];
	size_t			 k;
	SSL			*ssl = NULL;
	int			 fl, one = 1;

	/*
	 * Accepted non-blocking, or handed over: blocking from here. No
	 * Nagle, as TLS servers do (nginx, HAProxy): the reply and the
	 * close_notify are two small writes, and the second would wait for
	 * the client's delayed ACK of the first.
	 */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		goto done;
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_accept(ssl) != 1 || read_request(ssl, req, sizeof(req)) == -1)
		goto done;
	if (strncmp(req, "bulk ", 5) == 0) {
		for (left = strtoull(req + 5, NULL, 10); left > 0; left -= k) {
			k = left < CHUNK ? (size_t)left : CHUNK;
			if (ssl_write_all(ssl, zeros, k) == -1)
				goto done;
		}
	} else if (ssl_write_all(ssl, "hello\n", 6) == -1)
		goto done;
	(void)SSL_shutdown(ssl);	/* our close_notify: the client's EOF */
done:
	SSL_free(ssl);
	ERR_clear_error();
	close(fd);
}

static void *
worker(void *arg)
{
	(void)arg;
	for (;;)
		serve(dequeue());
	return NULL;
}

static void *
tcp_acceptor(void *arg)
{
	struct epoll_event	 ev;
	int			 lfd = *(int *)arg, epfd = ((int *)arg)[1];
	int			 fd;

	for (;;) {
		if (epoll_wait(epfd, &ev, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			bench_fatal(PROG, "epoll_wait");
		}
		while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
			enqueue(fd);
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			bench_fatal(PROG, "accept4");
	}
	return NULL;
}

/* oneport_accept takes each hand-off (lock, ACCEPT) on its own loop. */
static void *
oneport_acceptor(void *arg)
{
	struct oneport_server	*srv = arg;
	struct oneport_conn	 c;

	for (;;) {
		if (oneport_accept(srv, &c) == -1) {
			if (errno == EINTR)
				continue;
			bench_fatalx(PROG, "%s", oneport_strerror());
		}
		/* A TLS client says nothing before the server: no bytes can
		 * have been read for it, whatever brought it here. */
		if (c.preread_len != 0) {
			oneport_conn_close(&c);
			continue;
		}
		enqueue(c.fd);
		c.fd = -1;
		oneport_conn_close(&c);
	}
	return NULL;
}

static void
tls_setup(const char *cert, const char *key)
{
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		ssl_fatal("SSL_CTX_new");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		ssl_fatal(cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		ssl_fatal(key);
	/* TLS 1.3, X25519, AES-128-GCM: what a current client gets, with
	 * the cheapest bulk cipher on a CPU with AES-NI. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519") != 1)
		ssl_fatal("TLS parameters");
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
}

int
main(int argc, char *argv[])
{
	struct oneport_server	*srv = NULL;
	const char		*cert = NULL, *key = NULL, *path = NULL;
	char			*host = NULL, *port = NULL;
	pthread_t		 t;
	int			 ch, i, nworkers = 32, lfds[2] = { -1, -1 };

	while ((ch = getopt(argc, argv, "c:k:l:u:w:")) != -1) {
		switch (ch) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'l':
			host = optarg;
			if ((port = strrchr(optarg, ':')) == NULL)
				usage();
			*port++ = '\0';
			break;
		case 'u':
			path = optarg;
			break;
		case 'w':
			nworkers = atoi(optarg);
			if (nworkers < 1 || nworkers > WORKERS_MAX)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc != optind || cert == NULL || key == NULL ||
	    (host == NULL && path == NULL))
		usage();
	signal(SIGPIPE, SIG_IGN);
	tls_setup(cert, key);

	for (i = 0; i < nworkers; i++)
		if ((errno = pthread_create(&t, NULL, worker, NULL)) != 0)
			bench_fatal(PROG, "pthread_create");
	if (host != NULL) {
		lfds[0] = bench_listen(PROG, host, port, &lfds[1]);
		if ((errno = pthread_create(&t, NULL, tcp_acceptor, lfds)) != 0)
			bench_fatal(PROG, "pthread_create");
	}
	if (path != NULL) {
		if ((srv = oneport_listen(path)) == NULL)
			bench_fatalx(PROG, "%s: %s", path, oneport_strerror());
		if ((errno = pthread_create(&t, NULL, oneport_acceptor,
		    srv)) != 0)
			bench_fatal(PROG, "pthread_create");
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
