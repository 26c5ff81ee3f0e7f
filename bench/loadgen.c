/* SPDX-License-Identifier: ISC */
/*
 * loadgen: closed-loop load generator for one-shot TCP services.
 * One epoll loop keeps CONCURRENCY sessions in flight; a session connects,
 * optionally sends one request line, reads to EOF (or, with -x, until the
 * expected prefix is in) and checks the reply prefix; bytes are counted, so
 * a one-session run measures bulk throughput too.  With -S it instead
 * holds N silent connections open.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC	4096
#define MAX_SILENT	200000
#define REPLY_KEEP	512	/* bytes of each reply kept for the prefix check */
#define HIST_LIN	100000	/* 1 us buckets below 100 ms ... */
#define HIST_MS		60000	/* ... then 1 ms buckets up to 60 s */
#define MAX_EVENTS	256
#define READ_CHUNK	65536	/* per read(2): big enough for bulk runs */

enum sess_state {
	S_FREE = 0,
	S_CONNECTING,
	S_READING,
	S_HELD,			/* silent mode: connected, left alone */
};

enum err_kind {
	E_CONNECT = 0,
	E_IO,
	E_REPLY,
	E_TIMEOUT,
	E_NKINDS
};

static const char *const err_names[E_NKINDS] = {
	[E_CONNECT] = "connect",
	[E_IO] = "io",
	[E_REPLY] = "reply",
	[E_TIMEOUT] = "timeout",
};

struct session {
	int		 fd;
	enum sess_state	 state;
	int		 counted;	/* started after warm-up ended */
	uint64_t	 start_ns;
	size_t		 kept;		/* bytes of reply kept in buf */
	size_t		 total;		/* bytes of reply received */
	char		 buf[REPLY_KEEP];
};

struct opts {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	const char		*host;
	const char		*port;
	int			 conc;
	long			 nsessions;	/* -n, 0 if timed */
	double			 seconds;	/* -t */
	double			 warmup;	/* -w */
	double			 timeout;	/* -T, per session */
	char			*req;
	size_t			 reqlen;
	char			*expect;
	size_t			 expectlen;
	long			 silent;	/* -S */
	int			 verbose;	/* -v: print first reply */
	int			 early;		/* -x: close once prefix is in */
	const char		*label;		/* -L */
};

struct stats {
	uint64_t	 ok;
	uint64_t	 bytes;		/* reply bytes of counted sessions */
	uint64_t	 err[E_NKINDS];
	uint64_t	 hist_lin[HIST_LIN];
	uint64_t	 hist_ms[HIST_MS];
	uint64_t	 hist_over;
	uint64_t	 max_us;
	int		 err_shown;
	int		 reply_shown;
};

static struct opts	 opt;
static struct stats	 st;
static struct session	*sess;
static int		 epfd = -1;

static void __attribute__((noreturn, format(printf, 1, 2)))
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void __attribute__((noreturn))
fatal(const char *what)
{
	fatalx("%s: %s", what, strerror(errno));
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -h host -p port -c conc (-n sessions | -t secs)\n"
	    "               [-r request] [-e expected-prefix] [-w warmup]\n"
	    "               [-T session-timeout] [-L label] [-v] [-x]\n"
	    "       loadgen -h host -p port -S nconn [-c inflight] [-t hold]\n"
	    "request and prefix accept \\r \\n \\t \\0 \\\\ \\xHH escapes\n");
	exit(2);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes C-style escapes into a new buffer; *lenp gets the byte count. */
static char *
unescape(const char *s, size_t *lenp)
{
	char	*out, *o;
	int	 hi, lo;

	if ((out = malloc(strlen(s) + 1)) == NULL)
		fatal("malloc");
	for (o = out; *s != '\0'; s++) {
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case 'r':	*o++ = '\r'; break;
		case 'n':	*o++ = '\n'; break;
		case 't':	*o++ = '\t'; break;
		case '0':	*o++ = '\0'; break;
		case '\\':	*o++ = '\\'; break;
		case 'x':
			if ((hi = hexval(s[1])) < 0 ||
			    (lo = hexval(s[2])) < 0)
				fatalx("bad \\x escape");
			*o++ = (char)(hi << 4 | lo);
			s += 2;
			break;
		default:
			fatalx("bad escape \\%c", *s ? *s : '?');
		}
	}
	*lenp = (size_t)(o - out);
	return out;
}

/* Prints len bytes with non-printables escaped, for error reports. */
static void
print_escaped(FILE *f, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r')
			fputs("\\r", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\\')
			fputs("\\\\", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static double
parse_double(const char *s, const char *what)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 86400)
		fatalx("bad %s: %s", what, s);
	return v;
}

static long
parse_long(const char *s, const char *what, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		fatalx("bad %s: %s (%ld..%ld)", what, s, min, max);
	return v;
}

static void
resolve(void)
{
	struct addrinfo	 hints, *res;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(opt.host, opt.port, &hints, &res)) != 0)
		fatalx("%s port %s: %s", opt.host, opt.port, gai_strerror(rc));
	memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
	opt.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void
raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* needs CAP_SYS_RESOURCE */
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatalx("need %llu open files: %s (hard limit too low?)",
		    (unsigned long long)want, strerror(errno));
}

static void
hist_add(uint64_t us)
{
	if (us > st.max_us)
		st.max_us = us;
	if (us < HIST_LIN)
		st.hist_lin[us]++;
	else if (us / 1000 < HIST_MS)
		st.hist_ms[us / 1000]++;
	else
		st.hist_over++;
}

/* Latency at quantile q in us; exact below 100 ms, 1 ms steps above. */
static uint64_t
hist_quantile(double q)
{
	uint64_t	 n, rank, seen = 0;
	size_t		 i;

	if ((n = st.ok) == 0)
		return 0;
	rank = (uint64_t)(q * (double)n + 0.5);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	for (i = 0; i < HIST_LIN; i++)
		if ((seen += st.hist_lin[i]) >= rank)
			return i;
	for (i = 0; i < HIST_MS; i++)
		if ((seen += st.hist_ms[i]) >= rank)
			return i * 1000;
	return st.max_us;
}

static void
session_fail(struct session *s, enum err_kind kind, const char *why, int errnum)
{
	if (s->counted)
		st.err[kind]++;
	if (!st.err_shown) {
		st.err_shown = 1;
		fprintf(stderr, "loadgen: first error (%s): %s%s%s",
		    err_names[kind], why, errnum ? ": " : "",
		    errnum ? strerror(errnum) : "");
		if (kind == E_REPLY || s->total > 0) {
			fprintf(stderr, "; got %zu bytes \"", s->total);
			print_escaped(stderr, s->buf, s->kept);
			fputs("\"", stderr);
		}
		fputc('\n', stderr);
	}
	close(s->fd);
	s->fd = -1;
	s->state = S_FREE;
}

static void
session_done(struct session *s, uint64_t end)
{
	if (opt.verbose && !st.reply_shown) {
		st.reply_shown = 1;
		printf("reply %zu bytes \"", s->total);
		print_escaped(stdout, s->buf, s->kept);
		printf("\"\n");
	}
	if (s->total < opt.expectlen ||
	    memcmp(s->buf, opt.expect, opt.expectlen) != 0) {
		session_fail(s, E_REPLY, "reply does not start with prefix", 0);
		return;
	}
	if (s->counted) {
		st.ok++;
		st.bytes += s->total;
		hist_add((end - s->start_ns) / 1000);
	}
	close(s->fd);
	s->fd = -1;
	s->state = S_FREE;
}

static void
session_send(struct session *s)
{
	ssize_t n;

	if (opt.reqlen > 0) {
		/* One short line into an empty socket buffer: all or error. */
		do
			n = send(s->fd, opt.req, opt.reqlen, MSG_NOSIGNAL);
		while (n == -1 && errno == EINTR);
		if (n != (ssize_t)opt.reqlen) {
			session_fail(s, E_IO, "send", n == -1 ? errno : 0);
			return;
		}
	}
	s->state = S_READING;
}

static int
session_start(size_t idx, int counted)
{
	struct session		*s = &sess[idx];
	struct epoll_event	 ev;
	int			 fd;

	s->start_ns = now_ns();
	s->kept = s->total = 0;
	s->counted = counted;
	fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	s->fd = fd;
	s->state = S_CONNECTING;
	if (connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen) == -1 &&
	    errno != EINPROGRESS) {
		session_fail(s, E_CONNECT, "connect", errno);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = opt.reqlen > 0 ? EPOLLOUT : EPOLLIN;
	ev.data.u64 = idx;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		fatal("epoll_ctl add");
	if (opt.reqlen == 0)
		s->state = S_READING;	/* connect errors show up on read */
	return 0;
}

static void
session_event(size_t idx, uint32_t events)
{
	struct session		*s = &sess[idx];
	struct epoll_event	 ev;
	static char		 tmp[READ_CHUNK];
	ssize_t			 n;
	socklen_t		 len;
	int			 err;

	if (s->state == S_CONNECTING) {
		len = sizeof(err);
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			fatal("getsockopt");
		if (err != 0) {
			session_fail(s, E_CONNECT, "connect", err);
			return;
		}
		session_send(s);
		if (s->state != S_READING)
			return;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = idx;
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev) == -1)
			fatal("epoll_ctl mod");
		return;
	}
	if (s->state != S_READING || !(events & (EPOLLIN | EPOLLERR |
	    EPOLLHUP)))
		return;
	for (;;) {
		n = read(s->fd, tmp, sizeof(tmp));
		if (n > 0) {
			size_t room = REPLY_KEEP - s->kept;
			size_t take = (size_t)n < room ? (size_t)n : room;

			memcpy(s->buf + s->kept, tmp, take);
			s->kept += take;
			s->total += (size_t)n;
			/* -x: the client hangs up, as an RPC client does. */
			if (opt.early && s->kept >= opt.expectlen) {
				session_done(s, now_ns());
				return;
			}
			continue;
		}
		/* Not t: a bulk reply can keep this loop busy for long. */
		if (n == 0) {
			session_done(s, now_ns());
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return;
		session_fail(s, s->total == 0 && errno == ECONNREFUSED ?
		    E_CONNECT : E_IO, "read", errno);
		return;
	}
}

/*
 * Which sessions count: with -n, the first N started after the warm-up;
 * with -t, every session that ends inside the window, wherever it began.
 */
static void
mark_counted(struct session *s, uint64_t t, uint64_t win_start,
    uint64_t win_end)
{
	if (opt.nsessions == 0)
		s->counted = t >= win_start && t <= win_end;
}

static int
run_load(void)
{
	struct epoll_event	 evs[MAX_EVENTS];
	uint64_t		 t, t0, win_start, win_end, last_scan, last_done;
	uint64_t		 started = 0, nerr, limit;
	int			 i, n, inflight, stopping = 0;
	double			 secs;

	if ((sess = calloc((size_t)opt.conc, sizeof(*sess))) == NULL)
		fatal("calloc");
	for (i = 0; i < opt.conc; i++)
		sess[i].fd = -1;
	raise_nofile((rlim_t)opt.conc + 64);

	t0 = last_scan = last_done = now_ns();
	win_start = t0 + (uint64_t)(opt.warmup * 1e9);
	win_end = opt.nsessions > 0 ? UINT64_MAX :
	    win_start + (uint64_t)(opt.seconds * 1e9);
	limit = (uint64_t)(opt.timeout * 1e9);

	for (;;) {
		t = now_ns();
		if (t >= win_end)
			stopping = 1;
		inflight = 0;
		for (i = 0; i < opt.conc; i++) {
			if (sess[i].state == S_FREE && !stopping) {
				int counted = t >= win_start;

				if (opt.nsessions > 0 && counted) {
					if (started >= (uint64_t)opt.nsessions)
						stopping = 1;
					else
						started++;
				}
				if (!stopping)
					session_start((size_t)i, counted);
			}
			if (sess[i].state != S_FREE)
				inflight++;
		}
		if (stopping && inflight == 0)
			break;

		n = epoll_wait(epfd, evs, MAX_EVENTS, 50);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		t = now_ns();
		for (i = 0; i < n; i++) {
			struct session	*s = &sess[evs[i].data.u64];
			uint64_t	 before = st.ok;

			mark_counted(s, t, win_start, win_end);
			session_event((size_t)evs[i].data.u64, evs[i].events);
			if (st.ok != before)
				last_done = now_ns();
		}
		if (t - last_scan > 100000000u) {
			for (i = 0; i < opt.conc; i++) {
				struct session *s = &sess[i];

				if (s->state == S_FREE ||
				    t - s->start_ns <= limit)
					continue;
				mark_counted(s, t, win_start, win_end);
				session_fail(s, E_TIMEOUT, "no EOF in time", 0);
			}
			last_scan = t;
		}
	}

	if (opt.nsessions > 0)
		secs = (double)(last_done - win_start) / 1e9;
	else
		secs = opt.seconds;
	if (secs <= 0)
		secs = 1e-9;
	for (nerr = 0, i = 0; i < E_NKINDS; i++)
		nerr += st.err[i];

	printf("%s: %" PRIu64 " sessions in %.2f s: %.1f sessions/s, "
	    "p50 %" PRIu64 " us, p99 %" PRIu64 " us, max %" PRIu64 " us, "
	    "%" PRIu64 " errors (connect %" PRIu64 ", io %" PRIu64
	    ", reply %" PRIu64 ", timeout %" PRIu64 "), %.1f MiB/s\n",
	    opt.label, st.ok, secs, (double)st.ok / secs,
	    hist_quantile(0.50), hist_quantile(0.99), st.max_us, nerr,
	    st.err[E_CONNECT], st.err[E_IO], st.err[E_REPLY],
	    st.err[E_TIMEOUT], (double)st.bytes / secs / 1048576.0);
	/* New fields go last: bench scripts pick fields by name. */
	printf("RESULT label=%s conc=%d sessions=%" PRIu64 " secs=%.3f "
	    "rate=%.1f p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64
	    " errors=%" PRIu64 " bytes=%" PRIu64 " mib_s=%.1f\n",
	    opt.label, opt.conc, st.ok, secs, (double)st.ok / secs,
	    hist_quantile(0.50), hist_quantile(0.99), st.max_us, nerr,
	    st.bytes, (double)st.bytes / secs / 1048576.0);
	fflush(stdout);
	return nerr == 0 && st.ok > 0 ? 0 : 1;
}

/*
 * Source address for silent connection i: 127.B.C.D with D in 1..254, so a
 * server's per-address cap sees each connection from its own address.
 */
static void
silent_source(long i, struct sockaddr_in *sin)
{
	uint32_t	 d = (uint32_t)(i % 254) + 1;
	uint32_t	 c = (uint32_t)(i / 254) % 256;
	uint32_t	 b = 1 + (uint32_t)(i / (254 * 256));

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(127u << 24 | b << 16 | c << 8 | d);
}

static int
silent_start(long i)
{
	struct sockaddr_in	 src;
	struct epoll_event	 ev;
	int			 fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	/* Defer the port choice to connect(): ports may repeat per address. */
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one)) == -1)
		fatal("setsockopt IP_BIND_ADDRESS_NO_PORT");
	silent_source(i, &src);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
		fatal("bind source");
	if (connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT | EPOLLRDHUP;
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		fatal("epoll_ctl add");
	return fd;
}

/*
 * Opens opt.silent connections that never send a byte, at most opt.conc
 * handshakes at a time, prints "ready N" and holds them until a signal or
 * the hold time.  SIGUSR1 prints "open N".
 */
static int
run_silent(void)
{
	struct epoll_event	 evs[MAX_EVENTS], ev;
	struct signalfd_siginfo	 si;
	sigset_t		 mask;
	uint64_t		 t, deadline, hold_end = 0;
	long			 next = 0, connecting = 0, open = 0, failed = 0;
	long			 closed = 0;
	int			 sfd, i, n, err, ready = 0, done = 0;
	socklen_t		 len;

	if (opt.addr.ss_family != AF_INET)
		fatalx("-S needs an IPv4 loopback target");
	raise_nofile((rlim_t)opt.silent + 64);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		fatal("signalfd");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev) == -1)
		fatal("epoll_ctl add signalfd");

	/* Bounded even if the server never answers. */
	deadline = now_ns() + (uint64_t)((opt.timeout + 60) * 1e9);
	while (!done) {
		while (next < opt.silent && connecting < opt.conc) {
			if (silent_start(next++) == -1)
				failed++;
			else
				connecting++;
		}
		t = now_ns();
		if (!ready && next == opt.silent && connecting == 0) {
			ready = 1;
			printf("ready %ld\n", open);
			fflush(stdout);
			if (failed > 0)
				fprintf(stderr, "loadgen: %ld of %ld silent "
				    "connections failed\n", failed,
				    opt.silent);
			hold_end = t + (uint64_t)(opt.seconds * 1e9);
		}
		if (!ready && t > deadline)
			fatalx("silent connections not done in time "
			    "(%ld open, %ld connecting)", open, connecting);
		if (ready && t > hold_end)
			break;
		n = epoll_wait(epfd, evs, MAX_EVENTS, 100);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				while (read(sfd, &si, sizeof(si)) ==
				    (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						printf("open %ld\n", open);
						fflush(stdout);
					} else
						done = 1;
				}
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				/* Handshake finished, one way or the other. */
				connecting--;
				len = sizeof(err);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				    &len) == -1 || err != 0) {
					failed++;
					close(fd);
					continue;
				}
				open++;
				memset(&ev, 0, sizeof(ev));
				ev.events = EPOLLRDHUP;
				ev.data.fd = fd;
				if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev)
				    == -1)
					fatal("epoll_ctl mod");
				continue;
			}
			if (evs[i].events & (EPOLLRDHUP | EPOLLHUP |
			    EPOLLERR)) {
				/* The server gave up on us. */
				open--;
				closed++;
				close(fd);
			}
		}
	}
	fprintf(stderr, "loadgen: silent: %ld open at exit, %ld closed by "
	    "peer, %ld failed\n", open, closed, failed);
	return 0;
}

int
main(int argc, char *argv[])
{
	int	 ch;

	setvbuf(stdout, NULL, _IOLBF, 0);
	opt.conc = -1;
	opt.timeout = 10;
	opt.label = "run";
	opt.expect = (char *)"";
	while ((ch = getopt(argc, argv, "c:e:h:L:n:p:r:S:t:T:vw:x")) != -1) {
		switch (ch) {
		case 'c':
			opt.conc = (int)parse_long(optarg, "concurrency", 1,
			    MAX_CONC);
			break;
		case 'e':
			opt.expect = unescape(optarg, &opt.expectlen);
			if (opt.expectlen > REPLY_KEEP)
				fatalx("expected prefix longer than %d",
				    REPLY_KEEP);
			break;
		case 'h':
			opt.host = optarg;
			break;
		case 'L':
			opt.label = optarg;
			break;
		case 'n':
			opt.nsessions = parse_long(optarg, "sessions", 1,
			    1000000000L);
			break;
		case 'p':
			opt.port = optarg;
			break;
		case 'r':
			opt.req = unescape(optarg, &opt.reqlen);
			break;
		case 'S':
			opt.silent = parse_long(optarg, "silent count", 1,
			    MAX_SILENT);
			break;
		case 't':
			opt.seconds = parse_double(optarg, "seconds");
			break;
		case 'T':
			opt.timeout = parse_double(optarg, "timeout");
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'w':
			opt.warmup = parse_double(optarg, "warm-up");
			break;
		case 'x':
			opt.early = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt.host == NULL || opt.port == NULL)
		usage();
	resolve();
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");

	if (opt.silent > 0) {
		if (opt.conc == -1)
			opt.conc = 256;
		if (opt.seconds <= 0)
			opt.seconds = 600;
		return run_silent();
	}
	if (opt.conc == -1)
		usage();
	if ((opt.nsessions > 0) == (opt.seconds > 0))
		usage();
	if (opt.early && opt.expectlen == 0)
		fatalx("-x needs an expected prefix (-e)");
	return run_load();
}
