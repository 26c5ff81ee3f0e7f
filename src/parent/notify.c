/* SPDX-License-Identifier: ISC */
/*
 * notify.c: the service manager's readiness protocol (sd_notify(3)), on
 * the datagram socket NOTIFY_SOCKET names: READY=1, RELOADING=1 with
 * MONOTONIC_USEC, STOPPING=1, a one-line STATUS=, WATCHDOG=1 at half of
 * WATCHDOG_USEC, and MAINPID= when an upgrade hands the daemon to a new
 * process. Each message is one datagram, sent without waiting: a manager
 * that does not read never holds the parent up.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parent.h"

/* STATUS= changes with every connection: sent at most this often. */
#define STATUS_EVERY_NS	(1000ull * 1000000)

static struct {
	int			 fd;		/* -1: no manager listens */
	struct sockaddr_un	 sun;
	socklen_t		 sunlen;
	uint64_t		 watchdog_ns;	/* ping period; 0: none */
	uint64_t		 next_ping_ns;
	uint64_t		 next_status_ns;	/* 0: nothing new */
	uint64_t		 served;
	int			 status_due;
	char			 last[128];	/* STATUS= sent last */
} n = { .fd = -1 };

static int
number(const char *s, unsigned long long *v)
{
	char	*end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return s == NULL || *s == '\0' || *end != '\0' || errno != 0 ? -1 : 0;
}

/*
 * At start-up. NOTIFY_SOCKET stays in the environment for a new image of
 * ourselves (an upgrade); the watchdog is ours only when WATCHDOG_PID is
 * unset or names us, as sd_watchdog_enabled(3) has it.
 */
void
notify_init(void)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	const char		*usec = getenv("WATCHDOG_USEC");
	const char		*pid = getenv("WATCHDOG_PID");
	unsigned long long	 v, p;
	size_t			 len;

	if (path != NULL && *path != '\0' &&
	    (len = strlen(path)) < sizeof(n.sun.sun_path) &&
	    (path[0] == '/' || path[0] == '@')) {
		memset(&n.sun, 0, sizeof(n.sun));
		n.sun.sun_family = AF_UNIX;
		memcpy(n.sun.sun_path, path, len);
		if (path[0] == '@')
			n.sun.sun_path[0] = '\0';	/* abstract */
		n.sunlen = offsetof(struct sockaddr_un, sun_path) + len;
		n.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (n.fd == -1)
			log_warn("NOTIFY_SOCKET %s", path);
	} else if (path != NULL && *path != '\0')
		log_warnx("NOTIFY_SOCKET %s: not a socket path", path);
	if (usec == NULL || n.fd == -1)
		return;
	if (number(usec, &v) == -1 || v == 0) {
		log_warnx("WATCHDOG_USEC=%s: not a number of microseconds",
		    usec);
		return;
	}
	if (pid != NULL && (number(pid, &p) == -1 || p != (unsigned long
	    long)getpid()))
		return;
	n.watchdog_ns = v * 1000 / 2;
	n.next_ping_ns = now_ns() + n.watchdog_ns;
	log_debug("watchdog: WATCHDOG=1 every %llu ms",
	    (unsigned long long)(n.watchdog_ns / 1000000));
}

/* One datagram of "NAME=value" lines; quietly nothing without a manager. */
static void __attribute__((format(printf, 1, 2)))
notify_send(const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;
	int	len;

	if (n.fd == -1)
		return;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len <= 0 || (size_t)len >= sizeof(buf))
		return;
	if (sendto(n.fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&n.sun,
	    n.sunlen) == -1 && errno != EAGAIN)
		log_warn("NOTIFY_SOCKET: %.*s", (int)strcspn(buf, "="), buf);
}

/* The one-line summary: STATUS=, and the log line of SIGUSR1. */
const char *
notify_status(const struct config *cfg, char *buf, size_t size)
{
	int	i, running = 0;

	for (i = 0; i < cfg->nservices; i++)
		running += cfg->services[i].running;
	snprintf(buf, size, "%d services, %d pending, %d running, %llu "
	    "served", cfg->nservices, handoff_pending(), running,
	    (unsigned long long)n.served);
	return buf;
}

static void
status_now(const struct config *cfg)
{
	char	line[sizeof(n.last)];

	notify_status(cfg, line, sizeof(line));
	n.status_due = 0;
	if (strcmp(line, n.last) == 0)
		return;
	memcpy(n.last, line, sizeof(n.last));
	notify_send("STATUS=%s", line);
}

void
notify_ready(const struct config *cfg)
{
	notify_send("READY=1");
	status_now(cfg);
}

/* Before a reload: systemd's Type=notify-reload asks for the time. */
void
notify_reloading(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

/* Is the watchdog ours? An upgrade gives it to the new image. */
int
notify_watchdog(void)
{
	return n.watchdog_ns != 0;
}

/* One fd into the manager's store (FileDescriptorStoreMax=), by name. */
static void
store_one(int fd, const char *name)
{
	char		 msg[128], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov;
	struct msghdr	 mh;
	struct cmsghdr	*cm;
	int		 len;

	len = snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	memset(&mh, 0, sizeof(mh));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = msg;
	iov.iov_len = len;
	mh.msg_name = &n.sun;
	mh.msg_namelen = n.sunlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(n.fd, &mh, MSG_NOSIGNAL) == -1 && errno != EAGAIN)
		log_warn("NOTIFY_SOCKET: FDSTORE");
}

/*
 * An upgrade starts: the sockets we bound go into the manager's store,
 * so that a restart after a failed exec still has them, and what waits
 * in their queues. Handed sockets are the manager's own already.
 */
void
notify_store(const struct config *cfg)
{
	int	i;

	if (n.fd == -1)
		return;
	for (i = 0; i < cfg->nlisteners; i++)
		if (!cfg->listeners[i].handed)
			store_one(cfg->listeners[i].fd, cfg->listeners[i].port0 ?
			    LISTEN_NAME_ANY : LISTEN_NAME_BOUND);
}

/* Our sockets are held by a running oneportd again: out of the store. */
void
notify_unstore(void)
{
	notify_send("FDSTOREREMOVE=1\nFDNAME=" LISTEN_NAME_BOUND);
	notify_send("FDSTOREREMOVE=1\nFDNAME=" LISTEN_NAME_ANY);
}

/*
 * An upgrade: pid is the daemon now, and ready. While we are still the
 * main process the store is emptied (the new one holds the sockets);
 * after this we tell the manager nothing more.
 */
void
notify_mainpid(pid_t pid)
{
	notify_unstore();
	notify_send("MAINPID=%d\nREADY=1", (int)pid);
	if (n.fd != -1)
		close(n.fd);
	n.fd = -1;
	n.watchdog_ns = 0;
	n.status_due = 0;
}

/* Something in STATUS= changed: it goes out within STATUS_EVERY_NS. */
void
notify_changed(int served)
{
	n.served += served;
	if (n.fd == -1 || n.status_due)
		return;
	n.status_due = 1;
	if (n.next_status_ns == 0)
		n.next_status_ns = now_ns();
}

void
notify_tick(uint64_t now, const struct config *cfg)
{
	if (n.watchdog_ns != 0 && now >= n.next_ping_ns) {
		notify_send("WATCHDOG=1");
		n.next_ping_ns = now + n.watchdog_ns;
	}
	if (n.status_due && now >= n.next_status_ns) {
		status_now(cfg);
		n.next_status_ns = now + STATUS_EVERY_NS;
	}
}

uint64_t
notify_next_deadline(void)
{
	uint64_t	when = n.watchdog_ns != 0 ? n.next_ping_ns : 0;

	if (n.status_due && (when == 0 || n.next_status_ns < when))
		when = n.next_status_ns;
	return when;
}
