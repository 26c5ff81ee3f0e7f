/* SPDX-License-Identifier: ISC */
/*
 * proc.c: a helper process of ours (the frontend, the relay, ...): a
 * fresh exec of ourselves that holds only what it is sent, its channel
 * on fd 3 and the descriptors it is given after it; its messages read in
 * batches and handed to its owner; its death noticed, logged, and a new
 * one started after a backoff; and, if its owner asks, one that hangs
 * killed (proc_watchdog). The owner says what to run (its start callback
 * calls proc_exec) and what each message means.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

/* A start that found no fork or socket is tried again this much later. */
#define PROC_RETRY_MS	5000

struct proc {
	const struct proc_def	*def;
	void			*arg;
	int			 debug, exefd;
	int			 sock;		/* -1: no channel */
	pid_t			 pid;		/* -1: none running */
	int			 ready;		/* this one said READY */
	int			 announced;	/* first_ready was called */
	int			 out;		/* epoll watches for room */
	int			 stopping;
	uint64_t		 started_ns;
	uint64_t		 restart_ns;	/* 0: no restart due */
	/* The watchdog (proc_watchdog): 0 ms, none. */
	unsigned int		 ping_ms, stall_ms;
	int			 killed;	/* hung: SIGKILL sent */
	uint64_t		 heard_ns;	/* its last message read */
	uint64_t		 ping_ns;	/* IPC_PING unanswered since, or 0 */
	int			 pinged;	/* and queued (memory allowed) */
	uint64_t		 lost_ns;	/* its channel closed */
	unsigned int		 backoff_ms;
	struct ipc_queue	 q;
	struct src		 src;
	uint8_t			*buf;		/* def->maxmsg */
	void			(*first_ready)(void);
};

/* first_ready (or NULL) is called at the first READY of all. NULL
 * without memory. */
struct proc *
proc_new(const struct proc_def *def, void *arg, int debug, int exefd,
    void (*first_ready)(void))
{
	struct proc	*p;

	/* NULL when out of memory: at a reload too (a new relay). */
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->buf = malloc(def->maxmsg)) == NULL) {
		log_warn("%s: calloc", def->name);
		free(p);
		return NULL;
	}
	p->def = def;
	p->arg = arg;
	p->debug = debug;
	p->exefd = exefd;
	p->first_ready = first_ready;
	p->sock = -1;
	p->pid = -1;
	p->src.kind = SRC_PROC;
	p->src.ptr = p;
	return p;
}

/*
 * The channel's buffers: a message larger than the sender's buffer is
 * refused outright (EMSGSIZE), and the kernel doubles what we ask. As
 * root we may go past net.core.wmem_max; else we say it when it is
 * smaller than the owner needs.
 */
static void
size_channel(const struct proc *p, int sv[2])
{
	int		bufsz = p->def->bufsz, sndbuf, i;
	socklen_t	sl = sizeof(sndbuf);

	for (i = 0; i < 2; i++) {
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
		    sizeof(bufsz)) == -1)
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &bufsz,
			    sizeof(bufsz));
		if (setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
		    sizeof(bufsz)) == -1)
			setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &bufsz,
			    sizeof(bufsz));
	}
	if (p->def->minsnd > 0 && getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF,
	    &sndbuf, &sl) == 0 && sndbuf < p->def->minsnd)
		log_warnx("%s: send buffer of %d bytes (net.core.wmem_max): "
		    "a message larger than that cannot reach it",
		    p->def->name, sndbuf);
}

/*
 * argv[0] is def->argv0; argv is the rest, NULL-terminated. The channel
 * goes to fd 3 and fds after it; nothing else stays open. It dies with
 * us: PR_SET_PDEATHSIG now, and again after its user switch, which
 * clears it. -1: no process (logged), the owner tries again later.
 */
int
proc_exec(struct proc *p, char *const argv[], const int *extra, int nextra)
{
	char		*av[PROC_ARGV_MAX + 2], *envp[8];
	extern char	**environ;
	pid_t		 parent = getpid();
	int		 sv[2], *fds, nfds = 1 + nextra, exe, i, n = 0;

	for (i = 0; argv[i] != NULL && i < PROC_ARGV_MAX; i++)
		av[i + 1] = argv[i];
	/* An invariant: the owners' argv are bounded by PROC_ARGV_MAX. */
	if (argv[i] != NULL)
		fatalx("%s: too many arguments", p->def->name);
	av[0] = (char *)p->def->argv0;
	av[i + 1] = NULL;
	/* Where stderr goes under systemd: log.c then prefixes priorities. */
	for (i = 0; environ[i] != NULL && n < 1; i++)
		if (strncmp(environ[i], "JOURNAL_STREAM=", 15) == 0)
			envp[n++] = environ[i];
#ifdef ONEPORT_SANITIZE
	/* The sanitizers' settings; no other variable of ours goes. */
	for (i = 0; environ[i] != NULL && n < 7; i++)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0 ||
		    strncmp(environ[i], "UBSAN_OPTIONS=", 14) == 0 ||
		    strncmp(environ[i], "LSAN_OPTIONS=", 13) == 0)
			envp[n++] = environ[i];
#else
	(void)environ;
#endif
	envp[n] = NULL;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", p->def->name);
		return -1;
	}
	size_channel(p, sv);
	if ((fds = calloc(nfds, sizeof(int))) == NULL) {
		log_warn("%s: calloc", p->def->name);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	fds[0] = sv[1];
	for (i = 0; i < nextra; i++)
		fds[i + 1] = extra[i];

	if ((p->pid = fork()) == -1) {
		log_warn("%s: fork", p->def->name);
		p->pid = -1;
		close(sv[0]);
		close(sv[1]);
		free(fds);
		return -1;
	}
	if (p->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(1);
		/* Its events are as short as ours, and as waited on. */
		if (p->def->slice)
			loop_slice();
		/* Detached, it logs through us: keep no terminal or pipe of
		 * whoever started the daemon open. */
		if (!p->debug && (i = open("/dev/null", O_RDWR)) != -1) {
			dup2(i, 0);
			dup2(i, 1);
			dup2(i, 2);
			if (i > 2)
				close(i);
		}
		/* Above the targets first, so no move overwrites another;
		 * all but the targets close at exec. */
		if ((exe = fcntl(p->exefd, F_DUPFD_CLOEXEC, 3 + nfds)) == -1)
			_exit(1);
		for (i = 0; i < nfds; i++)
			if ((fds[i] = fcntl(fds[i], F_DUPFD, 3 + nfds)) == -1)
				_exit(1);
		for (i = 0; i < nfds; i++)
			if (dup2(fds[i], 3 + i) == -1)
				_exit(1);
		if (close_range(3 + nfds, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
			_exit(1);
		fexecve(exe, av, envp);
		_exit(127);
	}
	free(fds);
	close(sv[1]);
	p->sock = sv[0];
	fcntl(p->sock, F_SETFL, O_NONBLOCK);
	/* heard_ns stays: the watch starts at its READY, a message. */
	p->started_ns = now_ns();
	p->ready = 0;
	p->out = 0;
	p->killed = 0;
	p->ping_ns = 0;
	p->pinged = 0;
	/* Unwatched, it would never be heard: its exit restarts it. */
	if (parent_watch(p->sock, &p->src) == -1)
		proc_lost(p, "cannot be watched");
	return 0;
}

/* The link is broken: close it, and make sure the process goes too;
 * its exit (proc_exited) schedules the next one. */
void
proc_lost(struct proc *p, const char *why)
{
	if (p->sock == -1)
		return;
	parent_unwatch(p->sock);
	close(p->sock);
	p->sock = -1;
	p->lost_ns = now_ns();
	ipc_queue_clear(&p->q, p->def->unsent, p->arg);
	p->ready = 0;
	if (p->def->lost != NULL)
		p->def->lost(p->arg);
	if (p->stopping)
		return;
	log_warnx("%s %s", p->def->name, why);
	if (p->pid > 0)
		kill(p->pid, SIGKILL);
}

/* Its messages, a batch at most, each to the owner. */
void
proc_event(struct proc *p)
{
	struct ipc_hdr	hdr;
	ssize_t		n;
	int		fd, i;

	/* A message may lose the link (the owner's doing): stop then. */
	for (i = 0; i < p->def->batch && p->sock != -1; i++) {
		n = ipc_recv(p->sock, &hdr, p->buf, p->def->maxmsg, &fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1 && errno == EMFILE) {
			/* The fd could not be installed: the kernel closed
			 * it; we live on. */
			log_warnx("out of descriptors: %s", p->def->emfile);
			continue;
		}
		/* A reset: it went with messages of ours unread. */
		if ((n == 0 && hdr.type == 0) ||
		    (n == -1 && errno == ECONNRESET)) {
			proc_lost(p, "closed its channel");
			return;
		}
		if (n == -1) {
			log_warn("%s: receive", p->def->name);
			proc_lost(p, "sent a broken message");
			return;
		}
		p->heard_ns = now_ns();
		p->ping_ns = 0;
		if (p->def->message(p->arg, hdr.type, p->buf, n, fd) == -1) {
			proc_lost(p, "is broken");
			return;
		}
	}
}

/*
 * Its READY. The first of all calls first_ready (unless readiness was
 * told without it: proc_announced); -1 for a second one from the same
 * process, which is broken.
 */
int
proc_ready(struct proc *p)
{
	if (p->ready)
		return -1;
	p->ready = 1;
	if (!p->announced) {
		p->announced = 1;
		if (p->def->log_ready)
			log_info("%s ready, pid %d", p->def->name, (int)p->pid);
		if (p->first_ready != NULL)
			p->first_ready();
		return 0;
	}
	log_info("%s ready, pid %d", p->def->name, (int)p->pid);
	return 0;
}

void
proc_announced(struct proc *p)
{
	p->announced = 1;
}

/*
 * A child exited. Stopping, that was expected: 1, for the caller to
 * finish; before it ever was ready, it is a start-up failure; otherwise
 * another one starts after a backoff (parent_backoff): 2. 0: pid was
 * not this one's.
 */
int
proc_exited(struct proc *p, pid_t pid, int st)
{
	int	k;

	if (pid != p->pid || pid <= 0)
		return 0;
	p->pid = -1;
	/* What it sent before it went is read first (a drained frontend's
	 * last clients, a relay's last DONE): their fds would go with the
	 * channel. Gone, it sends no more, and its end gives EOF, which
	 * closes the channel. */
	for (k = 0; k < 4096 && p->sock != -1; k++)
		proc_event(p);
	proc_lost(p, "exited");
	if (p->stopping)
		return 1;
	if (!p->announced)
		fatalx("%s exited before it was ready (status %d)",
		    p->def->name, st);
	p->backoff_ms = parent_backoff(p->def->name, p->backoff_ms,
	    p->started_ns, st);
	p->restart_ns = now_ns() + p->backoff_ms * 1000000ull;
	return 2;
}

/*
 * A process alive but whose loop does not turn (a parser caught in a loop
 * by some client's bytes, a stop signal, a call that blocks) serves no
 * one, for ever. One silent for ping_ms is asked (IPC_PING, answered by
 * its loop at once); one that has not answered in stall_ms more is killed
 * and started again, as after any death. So is a restarted one not ready
 * in ping_ms + stall_ms. One told to stop (its channel closed) that has
 * not exited in stall_ms is killed too, or a reload or an upgrade would
 * wait on it for ever; one draining (an upgrade's old frontend) is still
 * pinged, since its loop still turns. 0 ms: not watched.
 */
void
proc_watchdog(struct proc *p, unsigned int ping_ms, unsigned int stall_ms)
{
	p->ping_ms = ping_ms;
	p->stall_ms = stall_ms;
}

/* When the watchdog looks at p next; 0: it does not. */
static uint64_t
due(const struct proc *p)
{
	const uint64_t	ms = 1000000ull;

	if (p->ping_ms == 0 || p->pid <= 0 || p->killed)
		return 0;
	if (p->sock == -1)	/* lost and killed, or told to stop */
		return p->stopping ? p->lost_ns + p->stall_ms * ms : 0;
	if (!p->ready)		/* the first start holds up our own */
		return p->announced ? p->started_ns +
		    (uint64_t)(p->ping_ms + p->stall_ms) * ms : 0;
	if (p->ping_ns != 0)
		return p->ping_ns + p->stall_ms * ms;
	return p->heard_ns + p->ping_ms * ms;
}

static void
kill_hung(struct proc *p, const char *what, unsigned int ms)
{
	log_warnx("%s pid %d %s %u s: killed", p->def->name, (int)p->pid,
	    what, ms / 1000);
	kill(p->pid, SIGKILL);
	p->killed = 1;
}

static void
watch(struct proc *p, uint64_t now)
{
	uint64_t	t = due(p);

	if (t == 0 || now < t)
		return;
	if (p->sock == -1) {
		kill_hung(p, "ran on after its stop for", p->stall_ms);
		return;
	}
	if (p->ready && (p->ping_ns == 0 || !p->pinged)) {
		/* Queued behind what waits: a process that reads nothing
		 * does not answer, which is the point. Without memory for
		 * it, asked again a stall later, never killed unasked. */
		p->ping_ns = now;
		p->pinged = proc_queue(p, IPC_PING, NULL, 0, 1) == 0;
		if (p->pinged)
			(void)proc_flush(p);
		return;
	}
	/* Our own loop may have been held (stopped, starved) while the
	 * answer came: what waits in the channel is read first. */
	proc_event(p);
	if (due(p) != t)
		return;		/* it answered, or went */
	if (!p->ready)
		kill_hung(p, "was not ready in", p->ping_ms + p->stall_ms);
	else
		kill_hung(p, "answered no ping for", p->stall_ms);
}

/* A restart when it is due (the owner's start callback); the watchdog. */
void
proc_tick(struct proc *p, uint64_t now)
{
	watch(p, now);
	if (p->restart_ns == 0 || now < p->restart_ns || p->stopping)
		return;
	p->restart_ns = 0;
	if (p->def->start(p->arg) == -1 || p->pid == -1) {
		/* No fork or socket now: try again later. */
		p->restart_ns = now + PROC_RETRY_MS * 1000000ull;
		return;
	}
	log_info("%s restarted, pid %d", p->def->name, (int)p->pid);
}

uint64_t
proc_next_deadline(const struct proc *p)
{
	uint64_t	look = due(p);

	if (look == 0 || (p->restart_ns != 0 && p->restart_ns < look))
		return p->restart_ns;
	return look;
}

/* When its last message was read. */
uint64_t
proc_heard_ns(const struct proc *p)
{
	return p->heard_ns;
}

/*
 * Queued messages to the socket; a full one leaves them queued and epoll
 * tells us when it has room. 0: all sent, 1: some wait, -1: no link (a
 * failed write loses it).
 */
int
proc_flush(struct proc *p)
{
	int	r;

	if (p->sock == -1)
		return -1;
	if ((r = ipc_queue_flush(&p->q, p->sock)) == -1) {
		log_warn("%s: send", p->def->name);
		proc_lost(p, "cannot be written to");
		return -1;
	}
	if ((r == 1) != p->out &&
	    parent_watch_out(p->sock, &p->src, r == 1) == 0)
		p->out = r == 1;
	return r;
}

/* Queued for proc_flush; coalesce replaces a waiting one of its type. */
int
proc_queue(struct proc *p, enum ipc_type type, const void *buf, size_t len,
    int coalesce)
{
	if (p->sock == -1)
		return -1;
	return ipc_queue_add(&p->q, type, buf, len, -1, coalesce);
}

/* One that carries fd, which is the queue's once this returns 0. */
int
proc_queue_fd(struct proc *p, enum ipc_type type, const void *buf,
    size_t len, int fd)
{
	if (p->sock == -1)
		return -1;
	return ipc_queue_add(&p->q, type, buf, len, fd, 0);
}

/* Its exit is expected (an upgrade's drained frontend), its channel
 * open until then. */
void
proc_draining(struct proc *p)
{
	p->stopping = 1;
}

/* A start that failed: again after PROC_RETRY_MS. */
void
proc_retry(struct proc *p)
{
	p->restart_ns = now_ns() + PROC_RETRY_MS * 1000000ull;
}

/* After its exit: an event of this batch may still name it. */
void
proc_free(struct proc *p)
{
	proc_stop(p);
	ipc_queue_clear(&p->q, NULL, NULL);
	parent_defer_free(p->buf);
	parent_defer_free(p);
}

/* Stopping: its channel closes, and it exits. 1: none is running. */
int
proc_stop(struct proc *p)
{
	p->stopping = 1;
	proc_lost(p, "told to stop");
	return p->pid == -1;
}

/* The channel, for a message that carries a descriptor; -1: none. */
int
proc_sock(const struct proc *p)
{
	return p->sock;
}

pid_t
proc_pid(const struct proc *p)
{
	return p->pid;
}

int
proc_is_ready(const struct proc *p)
{
	return p->sock != -1 && p->ready;
}

/* Neither running nor due to start. */
int
proc_idle(const struct proc *p)
{
	return p->pid == -1 && p->restart_ns == 0;
}

int
proc_queued(const struct proc *p)
{
	return (int)p->q.n;
}
