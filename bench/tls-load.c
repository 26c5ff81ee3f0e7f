/* SPDX-License-Identifier: ISC */
/*
 * tls-load: the TLS load generator of bench/run-names. CONC threads,
 * each a closed loop of sessions: connect, TLS handshake with SNI (a full
 * one: nothing is resumed), the certificate verified against -A, send the
 * request line, read to the server's close_notify, check the reply's
 * first bytes, close. Latency runs from socket() to that EOF. With -m the
 * client first asks for a TCPMUX name and waits for "+" (oneportd before
 * it routes by SNI). Options and output follow bench/loadgen.
 *
 *	tls-load -h host -p port -c conc (-n sessions | -t secs) [-w warmup]
 *	    [-s sni] [-A cafile] [-m tcpmux-name] [-r request] [-e expect]
 *	    [-T timeout] [-L label] [-v] [-2]
 *
 * The RESULT line has loadgen's fields; mib_s is the bytes read over the
 * time from the end of each handshake to its EOF, summed over sessions:
 * the rate of bulk after the handshake.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench-util.h"

#define PROG		"tls-load"
#define THREADS_MAX	256
#define HIST_LIN	100000	/* 1 us steps below 100 ms */
#define HIST_MS		60000	/* 1 ms steps up to 60 s */
#define SHOW_MAX	64	/* reply bytes kept for -v and errors */
#define BUF_SIZE	65536
#define OUT_MAX		4096	/* one flight of the client's */

enum err { E_CONNECT, E_TLS, E_IO, E_REPLY, E_TIMEOUT, E_NKINDS };
static const char *const err_name[E_NKINDS] = {
	[E_CONNECT] = "connect", [E_TLS] = "tls", [E_IO] = "io",
	[E_REPLY] = "reply", [E_TIMEOUT] = "timeout",
};

static struct {
	const char		*host, *label, *sni, *ca, *mux;
	int			 port, conc, verbose, two_writes;
	long			 nsessions;
	double			 seconds, warmup, timeout;
	char			*req, *expect;
	size_t			 reqlen, expectlen;
} opt = { .label = "tls", .conc = 1, .timeout = 10 };

static SSL_CTX			*ctx;
static struct sockaddr_in	 dst;
static uint64_t			 t_start, win_start, win_end;

/* Shared by the threads: atomics, or under slock. */
static uint64_t		 hist_lin[HIST_LIN], hist_ms[HIST_MS], hist_over;
static uint64_t		 n_ok, n_err[E_NKINDS], n_bytes, xfer_ns, max_us;
static uint64_t		 last_done;
static long		 tickets;	/* -n: sessions left to start */
static pthread_mutex_t	 slock = PTHREAD_MUTEX_INITIALIZER;
static int		 first_shown;

static void
usage(void)
{
	fprintf(stderr, "usage: tls-load -h host -p port -c conc "
	    "(-n sessions | -t secs) [-w warmup]\n"
	    "    [-s sni] [-A cafile] [-m tcpmux-name] [-r request] "
	    "[-e expect] [-T timeout]\n    [-L label] [-v] [-2]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
hist_add(uint64_t us)
{
	uint64_t	m;

	if (us < HIST_LIN)
		__atomic_add_fetch(&hist_lin[us], 1, __ATOMIC_RELAXED);
	else if (us / 1000 < HIST_MS)
		__atomic_add_fetch(&hist_ms[us / 1000], 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&hist_over, 1, __ATOMIC_RELAXED);
	m = __atomic_load_n(&max_us, __ATOMIC_RELAXED);
	while (us > m && !__atomic_compare_exchange_n(&max_us, &m, us, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static uint64_t
hist_quantile(double q)
{
	uint64_t	seen = 0, rank, i;

	/* The rank as bench/loadgen takes it, so p99 means the same. */
	if (n_ok == 0)
		return 0;
	rank = (uint64_t)(q * (double)n_ok + 0.5);
	if (rank < 1)
		rank = 1;
	if (rank > n_ok)
		rank = n_ok;
	for (i = 0; i < HIST_LIN; i++)
		if ((seen += hist_lin[i]) >= rank)
			return i;
	for (i = 0; i < HIST_MS; i++)
		if ((seen += hist_ms[i]) >= rank)
			return i * 1000;
	return max_us;
}

/* The first bytes of a reply, escaped, for -v and the first error. */
static void
show(FILE *f, const unsigned char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\r')
			fputs("\\r", f);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			fputc(p[i], f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

struct session {
	int		 fd;
	SSL		*ssl;
	uint64_t	 start, shaken, bytes;
	unsigned char	 head[SHOW_MAX];
	size_t		 headlen;
	unsigned char	 out[OUT_MAX];	/* written, not yet sent */
	size_t		 outlen;
};

/*
 * The client's transport unless -2: what OpenSSL writes is held until it
 * next reads, and its flushes are ignored, so each flight leaves in one
 * send(): the Finished and the request together, as browsers send them.
 * With -2 (the socket BIO) they are two writes, as curl's are; a proxy
 * that keeps Nagle on then holds the second until the server ACKs the
 * first, a delayed ACK away.
 */
static BIO_METHOD	*flight_method;

static int
flight_send(struct session *s)
{
	if (s->outlen > 0 && bench_write_all(s->fd, s->out, s->outlen) == -1)
		return -1;
	s->outlen = 0;
	return 0;
}

static int
flight_write(BIO *b, const char *buf, int len)
{
	struct session	*s = BIO_get_data(b);

	if (len < 0)
		return -1;
	if ((size_t)len > sizeof(s->out) - s->outlen && flight_send(s) == -1)
		return -1;
	if ((size_t)len > sizeof(s->out))
		return bench_write_all(s->fd, buf, (size_t)len) == -1 ? -1 :
		    len;
	memcpy(s->out + s->outlen, buf, (size_t)len);
	s->outlen += (size_t)len;
	return len;
}

static int
flight_read(BIO *b, char *buf, int len)
{
	struct session	*s = BIO_get_data(b);
	ssize_t		 n;

	if (flight_send(s) == -1)
		return -1;
	while ((n = recv(s->fd, buf, (size_t)len, 0)) == -1 && errno == EINTR)
		;
	return (int)n;
}

static long
flight_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
flight_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
flight_setup(void)
{
	if ((flight_method = BIO_meth_new(BIO_get_new_index() |
	    BIO_TYPE_SOURCE_SINK, "flight")) == NULL ||
	    BIO_meth_set_write(flight_method, flight_write) != 1 ||
	    BIO_meth_set_read(flight_method, flight_read) != 1 ||
	    BIO_meth_set_ctrl(flight_method, flight_ctrl) != 1 ||
	    BIO_meth_set_create(flight_method, flight_create) != 1)
		bench_fatalx(PROG, "BIO_meth_new");
}

static int
transport(struct session *s)
{
	BIO	*b;

	if (opt.two_writes)
		return SSL_set_fd(s->ssl, s->fd) == 1 ? 0 : -1;
	if ((b = BIO_new(flight_method)) == NULL)
		return -1;
	BIO_set_data(b, s);
	SSL_set_bio(s->ssl, b, b);
	return 0;
}

static int
fail(struct session *s, enum err kind, const char *what)
{
	int	saved = errno;

	if (kind == E_IO && (saved == EAGAIN || saved == EWOULDBLOCK))
		kind = E_TIMEOUT;
	__atomic_add_fetch(&n_err[kind], 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&slock);
	if (!first_shown) {
		first_shown = 1;
		fprintf(stderr, "%s: first error (%s): %s: %s", PROG,
		    err_name[kind], what, saved ? strerror(saved) : "-");
		ERR_print_errors_fp(stderr);
		fprintf(stderr, "; got %" PRIu64 " bytes \"", s->bytes);
		show(stderr, s->head, s->headlen);
		fprintf(stderr, "\"\n");
	}
	pthread_mutex_unlock(&slock);
	return -1;
}

/* TCPMUX: the name, then exactly the line "+\r\n" back. */
static int
mux_request(struct session *s)
{
	char	line[128];
	size_t	len = 0;
	ssize_t	n;
	int	k;

	k = snprintf(line, sizeof(line), "%s\r\n", opt.mux);
	if (bench_write_all(s->fd, line, (size_t)k) == -1)
		return fail(s, E_IO, "send the TCPMUX name");
	while (len < 3) {
		if ((n = recv(s->fd, line + len, 3 - len, 0)) <= 0)
			return fail(s, n == 0 ? E_REPLY : E_IO, "TCPMUX reply");
		len += (size_t)n;
	}
	if (memcmp(line, "+\r\n", 3) != 0) {
		memcpy(s->head, line, 3);
		s->headlen = 3;
		errno = 0;
		return fail(s, E_REPLY, "TCPMUX reply is not +");
	}
	return 0;
}

static int
session_run(struct session *s)
{
	static __thread unsigned char	 buf[BUF_SIZE];
	struct timeval	tv;
	size_t		k;
	int		n, one = 1;

	tv.tv_sec = (time_t)opt.timeout;
	tv.tv_usec = (suseconds_t)((opt.timeout - (double)tv.tv_sec) * 1e6);
	if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return fail(s, E_CONNECT, "socket");
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ==
	    -1 || setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)) == -1 || setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one)) == -1)
		return fail(s, E_CONNECT, "setsockopt");
	if (connect(s->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1)
		return fail(s, E_CONNECT, "connect");
	if (opt.mux != NULL && mux_request(s) == -1)
		return -1;
	if ((s->ssl = SSL_new(ctx)) == NULL || transport(s) == -1)
		return fail(s, E_TLS, "SSL_new");
	if (opt.sni != NULL && (SSL_set_tlsext_host_name(s->ssl, opt.sni) !=
	    1 || (opt.ca != NULL && SSL_set1_host(s->ssl, opt.sni) != 1)))
		return fail(s, E_TLS, "SNI");
	if (SSL_connect(s->ssl) != 1)
		return fail(s, errno ? E_IO : E_TLS, "handshake");
	s->shaken = now_ns();
	if (opt.reqlen > 0 && SSL_write(s->ssl, opt.req, (int)opt.reqlen) !=
	    (int)opt.reqlen)
		return fail(s, E_IO, "send the request");
	for (;;) {
		errno = 0;
		if ((n = SSL_read(s->ssl, buf, sizeof(buf))) <= 0)
			break;
		if (s->headlen < SHOW_MAX) {
			k = SHOW_MAX - s->headlen < (size_t)n ?
			    SHOW_MAX - s->headlen : (size_t)n;
			memcpy(s->head + s->headlen, buf, k);
			s->headlen += k;
		}
		s->bytes += (uint64_t)n;
	}
	if (SSL_get_error(s->ssl, n) != SSL_ERROR_ZERO_RETURN)
		return fail(s, E_IO, "read to close_notify");
	if (s->bytes < opt.expectlen ||
	    memcmp(s->head, opt.expect, opt.expectlen) != 0) {
		errno = 0;
		return fail(s, E_REPLY, "unexpected reply");
	}
	return 0;
}

static void
session_end(struct session *s)
{
	if (s->ssl != NULL)
		SSL_free(s->ssl);
	if (s->fd != -1)
		close(s->fd);
	ERR_clear_error();
}

/* Sessions until the window closes (-t) or the tickets run out (-n). */
static void *
thread_main(void *arg)
{
	struct session	s;
	uint64_t	end, us;
	int		counted, rc;

	(void)arg;
	for (;;) {
		memset(&s, 0, sizeof(s));
		s.fd = -1;
		s.start = now_ns();
		if (opt.nsessions > 0) {
			counted = s.start >= win_start;
			if (counted && __atomic_sub_fetch(&tickets, 1,
			    __ATOMIC_RELAXED) < 0)
				break;
		} else {
			if (s.start >= win_end)
				break;
			counted = 1;	/* decided at its end */
		}
		rc = session_run(&s);
		end = now_ns();
		if (opt.nsessions == 0)
			counted = end >= win_start && end <= win_end;
		if (rc == 0 && counted) {
			us = (end - s.start) / 1000;
			hist_add(us);
			__atomic_add_fetch(&n_ok, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&n_bytes, s.bytes, __ATOMIC_RELAXED);
			__atomic_add_fetch(&xfer_ns, end - s.shaken,
			    __ATOMIC_RELAXED);
			pthread_mutex_lock(&slock);
			if (end > last_done)
				last_done = end;
			if (opt.verbose && opt.verbose++ == 1) {
				printf("reply %" PRIu64 " bytes \"", s.bytes);
				show(stdout, s.head, s.headlen);
				printf("\"\n");
			}
			pthread_mutex_unlock(&slock);
		}
		session_end(&s);
	}
	return NULL;
}

static void
tls_setup(void)
{
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519") != 1)
		goto bad;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (opt.ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
			goto bad;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return;
bad:
	fprintf(stderr, "%s: TLS set-up: ", PROG);
	ERR_print_errors_fp(stderr);
	exit(2);
}

int
main(int argc, char *argv[])
{
	pthread_t	t[THREADS_MAX];
	uint64_t	nerr = 0;
	double		secs;
	int		ch, i;

	while ((ch = getopt(argc, argv, "2A:c:e:h:L:m:n:p:r:s:T:t:vw:")) !=
	    -1) {
		switch (ch) {
		case '2': opt.two_writes = 1; break;
		case 'A': opt.ca = optarg; break;
		case 'c': opt.conc = atoi(optarg); break;
		case 'e': opt.expect = bench_unescape(optarg, &opt.expectlen);
			break;
		case 'h': opt.host = optarg; break;
		case 'L': opt.label = optarg; break;
		case 'm': opt.mux = optarg; break;
		case 'n': opt.nsessions = atol(optarg); break;
		case 'p': opt.port = atoi(optarg); break;
		case 'r': opt.req = bench_unescape(optarg, &opt.reqlen); break;
		case 's': opt.sni = optarg; break;
		case 'T': opt.timeout = atof(optarg); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'v': opt.verbose = 1; break;
		case 'w': opt.warmup = atof(optarg); break;
		default: usage();
		}
	}
	if (argc != optind || opt.host == NULL || opt.port <= 0 ||
	    opt.conc < 1 || opt.conc > THREADS_MAX ||
	    (opt.nsessions > 0) == (opt.seconds > 0) || opt.timeout <= 0 ||
	    opt.expectlen >= SHOW_MAX)
		usage();
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)opt.port);
	if (inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1)
		bench_fatalx(PROG, "bad IPv4 address %s", opt.host);
	signal(SIGPIPE, SIG_IGN);
	tls_setup();
	flight_setup();

	t_start = now_ns();
	win_start = t_start + (uint64_t)(opt.warmup * 1e9);
	win_end = win_start + (uint64_t)(opt.seconds * 1e9);
	tickets = opt.nsessions;
	for (i = 0; i < opt.conc; i++)
		if ((errno = pthread_create(&t[i], NULL, thread_main,
		    NULL)) != 0)
			bench_fatal(PROG, "pthread_create");
	for (i = 0; i < opt.conc; i++)
		pthread_join(t[i], NULL);

	if (opt.nsessions > 0)
		secs = (double)(last_done - win_start) / 1e9;
	else
		secs = opt.seconds;
	if (secs <= 0)
		secs = 1e-9;
	for (i = 0; i < E_NKINDS; i++)
		nerr += n_err[i];
	printf("%s: %" PRIu64 " sessions in %.2f s: %.1f handshakes/s, "
	    "p50 %" PRIu64 " us, p99 %" PRIu64 " us, max %" PRIu64 " us, "
	    "%" PRIu64 " errors (connect %" PRIu64 ", tls %" PRIu64
	    ", io %" PRIu64 ", reply %" PRIu64 ", timeout %" PRIu64 ")\n",
	    opt.label, n_ok, secs, (double)n_ok / secs, hist_quantile(0.50),
	    hist_quantile(0.99), max_us, nerr, n_err[E_CONNECT], n_err[E_TLS],
	    n_err[E_IO], n_err[E_REPLY], n_err[E_TIMEOUT]);
	printf("RESULT label=%s conc=%d sessions=%" PRIu64 " secs=%.3f "
	    "rate=%.1f p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64
	    " errors=%" PRIu64 " bytes=%" PRIu64 " mib_s=%.1f\n",
	    opt.label, opt.conc, n_ok, secs, (double)n_ok / secs,
	    hist_quantile(0.50), hist_quantile(0.99), max_us, nerr, n_bytes,
	    xfer_ns > 0 ? (double)n_bytes / ((double)xfer_ns / 1e9) /
	    1048576.0 : 0.0);
	fflush(stdout);
	return nerr == 0 && n_ok > 0 ? 0 : 1;
}
