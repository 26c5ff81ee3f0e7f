/*
 * log.c: one log vocabulary for every oneportd process. In -d (and -n) mode
 * lines go to stderr; otherwise to syslog, or, in the sandboxed frontend, to
 * a sink that hands them to the parent (the frontend cannot reach /dev/log).
 * log_warn appends strerror(errno); log_warnx does not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "oneportd.h"

int		 log_verbose;
static int	 log_debug_mode = 1;
static void	(*log_sink)(int, const char *);

void
log_init(int debug, const char *ident)
{
	log_debug_mode = debug;
	if (!debug)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_sink(void (*sink)(int, const char *))
{
	log_sink = sink;
}

/* Write one finished line; stderr writes are one write(2) so lines from
 * several processes never interleave mid-line. */
void
log_msg(int pri, const char *msg)
{
	char	 line[1024];
	int	 n;

	if (log_sink != NULL) {
		log_sink(pri, msg);
		return;
	}
	if (!log_debug_mode) {
		syslog(pri, "%s", msg);
		return;
	}
	n = snprintf(line, sizeof(line), "%s\n", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)write(STDERR_FILENO, line, n);
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
