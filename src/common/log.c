/* SPDX-License-Identifier: ISC */
/*
 * log.c: one log vocabulary for every oneportd process. In -d (and -n) mode
 * lines go to stderr; otherwise to syslog, or, in the sandboxed frontend, to
 * a sink that hands them to the parent (the frontend cannot reach /dev/log).
 * log_warn appends strerror(errno); log_warnx does not. No call blocks.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#ifndef _PATH_LOG
#define _PATH_LOG	"/dev/log"
#endif

int		 log_verbose;
static int	 log_debug_mode = 1;
static void	(*log_sink)(int, const char *);
static const char *log_ident = "oneportd";
static int	 log_sock = -1;		/* to syslogd, non-blocking */
static int	 log_sock_stream;	/* /dev/log is SOCK_STREAM */
static int	 log_stderr_sock;	/* stderr is a socket (journald) */
static int	 log_journal;		/* stderr is journald's: "<N>" */
static int	 log_stamp;		/* -d: each line begins with the time */
static unsigned long long log_dropped;	/* since the last line written */

/*
 * Logging never blocks: a log reader that stalls (syslogd, a pipe nobody
 * reads) costs lines, counted and reported with the next line that goes
 * out, never the daemon's time. Our syslog client is non-blocking, which
 * syslog(3) is not. A pipe or terminal on stderr is reopened into a file
 * description of our own with O_NONBLOCK, so the flag never reaches the
 * shell or whoever else shares the original one.
 */
static void
stderr_nonblock(void)
{
	struct stat	st;
	int		fd;

	if (fstat(STDERR_FILENO, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		log_stderr_sock = 1;	/* send(2) takes MSG_DONTWAIT */
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return;			/* a file: writes do not wait */
	if ((fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) == -1)
		return;
	if (fd != STDERR_FILENO) {
		dup2(fd, STDERR_FILENO);	/* without FD_CLOEXEC */
		close(fd);
	}
}

static void
syslog_connect(void)
{
	struct sockaddr_un	sun;
	int			type;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, _PATH_LOG, sizeof(sun.sun_path) - 1);
	for (type = SOCK_DGRAM; ; type = SOCK_STREAM) {
		log_sock = socket(AF_UNIX, type | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (log_sock == -1)
			return;
		if (connect(log_sock, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0) {
			log_sock_stream = type == SOCK_STREAM;
			return;
		}
		close(log_sock);
		log_sock = -1;
		if (errno != EPROTOTYPE || type == SOCK_STREAM)
			return;
	}
}

/*
 * systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it gave us as
 * stdout and stderr; only if stderr is still that one does journald read
 * what we write there, and it takes a "<N>" prefix as the priority
 * (sd-daemon(3)). A stderr redirected elsewhere gets plain lines.
 */
static int
stderr_is_journal(void)
{
	const char		*v = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;
	char			 end;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(int debug, const char *ident)
{
	log_debug_mode = debug;
	log_ident = ident;
	if (debug) {
		log_journal = stderr_is_journal();
		stderr_nonblock();
	} else if (log_sock == -1)
		syslog_connect();
}

/*
 * -d: the time on each line on stderr, unless journald adds its own.
 * The frontend and the relay, which write to the same stderr in -d, call
 * it too, before their sandbox.
 */
void
log_timestamps(int on)
{
	log_stamp = on;
	log_journal = stderr_is_journal();
}

/*
 * A value for a "key=value" field of a log line: as it is when it is a
 * non-empty run of printable bytes without a blank, '"', '\' or '=';
 * else in double quotes, '"' and '\' escaped with a backslash and other
 * bytes outside printable ASCII as \xNN, so that every line splits back
 * into its fields. Four buffers, used in turn: four values per line.
 */
const char *
log_quote(const char *s)
{
	static char	 bufs[4][512];
	static int	 next;
	char		*b = bufs[next++ % 4];
	size_t		 i, n = 0, size = sizeof(bufs[0]);
	unsigned char	 c;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~' || strchr("\"\\=", s[i]))
			break;
	if (i > 0 && s[i] == '\0')
		return s;
	b[n++] = '"';
	for (i = 0; s[i] != '\0' && n + 8 < size; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			b[n++] = '\\';
			b[n++] = (char)c;
		} else if (c < ' ' || c > '~')
			n += (size_t)snprintf(b + n, size - n, "\\x%02x", c);
		else
			b[n++] = (char)c;
	}
	if (s[i] != '\0') {
		memcpy(b + n, "...", 3);
		n += 3;
	}
	b[n++] = '"';
	b[n] = '\0';
	return b;
}

void
log_set_sink(void (*sink)(int, const char *))
{
	log_sink = sink;
}

/* One whole datagram or write, or nothing: 0, or -1 with nothing sent. */
static int
put(const char *buf, size_t len)
{
	ssize_t	n;

	if (!log_debug_mode) {
		if (log_sock == -1)
			syslog_connect();	/* syslogd was restarted */
		if (log_sock == -1)
			return -1;
		n = send(log_sock, buf, len + log_sock_stream,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)(len + log_sock_stream))
			return 0;
		/* Gone, or a stream cut mid-line: start afresh next time. */
		if (n >= 0 || (errno != EAGAIN && errno != ENOBUFS)) {
			close(log_sock);
			log_sock = -1;
		}
		return -1;
	}
	if (log_stderr_sock)
		n = send(STDERR_FILENO, buf, len, MSG_DONTWAIT |
		    MSG_NOSIGNAL);
	else
		n = write(STDERR_FILENO, buf, len);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * The time of day to the second, formatted once a second, not once a
 * line: a busy daemon logs a line a connection, and localtime_r and
 * strftime for each showed in the frontend's profile (some 2% of its
 * time per handed-off session).
 * iso: stderr's form (-d with time stamps), else syslog's.
 */
static const char *
stamp_of(time_t t, int iso)
{
	static char	stamp[32];
	static time_t	at = -1;
	static int	as;
	struct tm	tm;

	if (t == at && iso == as)
		return stamp;
	if (localtime_r(&t, &tm) == NULL || (iso ?
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) :
	    strftime(stamp, sizeof(stamp), "%b %e %T", &tm)) == 0)
		stamp[0] = '\0';
	at = t;
	as = iso;
	return stamp;
}

/* Format one line for syslogd (RFC 3164, as syslog(3) does) or stderr. */
static int
format(char *buf, size_t size, int pri, const char *msg)
{
	struct timespec	ts;
	int		n;

	if (log_debug_mode && log_journal)
		n = snprintf(buf, size, "<%d>%s\n", LOG_PRI(pri), msg);
	else if (log_debug_mode && log_stamp) {
		clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(buf, size, "%s.%03ld %s\n",
		    stamp_of(ts.tv_sec, 1),
		    ts.tv_nsec / 1000000, msg);
	} else if (log_debug_mode) {
		n = snprintf(buf, size, "%s\n", msg);
	} else {
		n = snprintf(buf, size, "<%d>%s %s[%d]: %s",
		    LOG_DAEMON | LOG_PRI(pri),
		    stamp_of(time(NULL), 0), log_ident,
		    (int)getpid(), msg);
	}
	if (n < 0)
		return -1;
	if ((size_t)n >= size) {
		n = size - 1;
		if (log_debug_mode)
			buf[n - 1] = '\n';
	}
	/* A stream to syslogd ends each message with its NUL. */
	buf[n] = '\0';
	return n;
}

/* Write one finished line; each is one write(2) or datagram, so lines
 * from several processes never interleave mid-line. */
void
log_msg(int pri, const char *msg)
{
	char	line[1100], note[96];
	int	n;

	if (log_sink != NULL) {
		log_sink(pri, msg);
		return;
	}
	if (log_dropped > 0) {
		snprintf(note, sizeof(note), "log: %llu lines dropped: "
		    "the log reader was not keeping up", log_dropped);
		if ((n = format(line, sizeof(line), LOG_WARNING, note)) < 0 ||
		    put(line, n) == -1) {
			log_dropped++;
			return;
		}
		log_dropped = 0;
	}
	if ((n = format(line, sizeof(line), pri, msg)) < 0)
		return;
	if (put(line, n) == -1)
		log_dropped++;
}

static void __attribute__((format(printf, 2, 0)))
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	 msg[900];
	int	 saved = errno, n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && with_errno && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	log_msg(pri, msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 1);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	_exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	_exit(1);
}
