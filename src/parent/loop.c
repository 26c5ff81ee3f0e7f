/* SPDX-License-Identifier: ISC */
/*
 * The parent's event loop: the epoll set every module registers its
 * descriptors in (a struct src says whose an event is), the earliest of
 * the modules' deadlines, and what is freed after each batch of events.
 * The dispatch of an event to its module stays in oneportd.c.
 */
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <linux/sched/types.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

static struct {
	int		 epfd;
	void		**deferred;	/* freed after the current batch */
	size_t		 ndeferred, maxdeferred;
} l = { -1, NULL, 0, 0 };

/*
 * The parent's work per event is a few tens of microseconds, and a client
 * waits on each piece of it (its dispatch, its program's exec-stop). On a
 * busy CPU a woken task may wait until the running one has used its slice,
 * once per wake-up, several times per spawn. A short slice (the fair
 * scheduler's latency hint, Linux 6.12) lets the parent run as soon as it
 * is woken. It is no higher priority: its share of the CPU stays what its
 * nice value gives. Reset on fork: programs start with the defaults, and
 * the frontend takes its own (felink.c). A policy the administrator chose
 * is kept.
 */
#define LOOP_SLICE_NS	100000	/* the least the kernel takes */

void
loop_slice(void)
{
	struct sched_attr	a;

	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) == -1 ||
	    a.sched_policy != SCHED_NORMAL)
		return;
	a.size = sizeof(a);
	a.sched_flags = SCHED_FLAG_RESET_ON_FORK;
	a.sched_runtime = LOOP_SLICE_NS;
	if (syscall(SYS_sched_setattr, 0, &a, 0) == -1)
		log_debug("no short slice: %s", strerror(errno));
}

int
loop_init(void)
{
	loop_slice();
	if ((l.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	return l.epfd;
}

void
parent_unwatch(int fd)
{
	epoll_ctl(l.epfd, EPOLL_CTL_DEL, fd, NULL);
}

/*
 * Out of memory or descriptors at run time: what was refused or lost, in
 * one log line a second at most, with how many went unsaid, so that a
 * flood of refusals does not become a flood of lines.
 */
void
parent_short(const char *of, const char *what)
{
	static uint64_t	last_ns;
	static unsigned	unsaid;
	uint64_t	now = now_ns();

	if (last_ns != 0 && now - last_ns < 1000000000ull) {
		unsaid++;
		return;
	}
	if (unsaid > 0)
		log_warnx("out of %s: %s (and %u more since)", of, what,
		    unsaid);
	else
		log_warnx("out of %s: %s", of, what);
	last_ns = now;
	unsaid = 0;
}

/*
 * Freed after the current epoll batch, whose events may name it. With no
 * memory to grow the list, p is kept for good: a few bytes lost under
 * memory pressure, never the daemon.
 */
void
parent_defer_free(void *p)
{
	void	**nd;
	size_t	  n;

	if (l.ndeferred == l.maxdeferred) {
		n = l.maxdeferred ? 2 * l.maxdeferred : 16;
		if ((nd = reallocarray(l.deferred, n, sizeof(*nd))) == NULL) {
			parent_short("memory", "a freed object kept");
			return;
		}
		l.deferred = nd;
		l.maxdeferred = n;
	}
	l.deferred[l.ndeferred++] = p;
}

/* Also wake for fd writable, or stop: a queue of ours waits on it. */
int
parent_watch_out(int fd, struct src *src, int on)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = src;
	return epoll_ctl(l.epfd, EPOLL_CTL_MOD, fd, &ev);
}

/*
 * -1 when the kernel has no room (ENOMEM, ENOSPC at max_user_watches):
 * load, not a reason to stop; the caller lets go of what it would watch.
 */
int
parent_watch(int fd, struct src *src)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = src;
	if (epoll_ctl(l.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("epoll_ctl");
		return -1;
	}
	return 0;
}

static uint64_t
earliest(uint64_t a, uint64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

/* Milliseconds until the earliest timer, or -1. */
static int
loop_timeout(const struct config *cfg)
{
	uint64_t	when = felink_next_deadline(), now;

	when = earliest(when, rlink_next_deadline());
	when = earliest(when, clink_next_deadline());
	when = earliest(when, handoff_next_deadline());
	when = earliest(when, supervise_next_deadline());
	when = earliest(when, control_next_deadline());
	when = earliest(when, status_next_deadline());
	when = earliest(when, redirect_next_deadline(cfg));
	when = earliest(when, linger_next_deadline());
	when = earliest(when, notify_next_deadline());
	if (when == 0)
		return -1;
	now = now_ns();
	return when <= now ? 0 : (int)((when - now + 999999) / 1000000);
}

/* Up to n events, waiting no longer than the earliest deadline. */
int
loop_wait(struct epoll_event *evs, int n, const struct config *cfg)
{
	int	got;

	got = epoll_wait(l.epfd, evs, n, loop_timeout(cfg));
	if (got == -1 && errno != EINTR)
		fatal("epoll_wait");
	return got < 0 ? 0 : got;
}

/* After a batch: the timers that are due, then what waited to be freed. */
void
loop_after(const struct config *cfg)
{
	handoff_expire(now_ns());
	control_tick(now_ns());
	status_tick(now_ns());
	supervise_tick(now_ns(), cfg);
	redirect_tick(now_ns(), cfg);
	linger_expire(now_ns());
	notify_tick(now_ns(), cfg);
	while (l.ndeferred > 0)
		free(l.deferred[--l.ndeferred]);
	child_free_dead();
}

/*
 * A sandboxed process of ours (frontend, relay) died: the delay before
 * the next one, 100 ms doubled per death up to 5 s, back to 100 ms after
 * 10 s of life; logged with how it ended.
 */
unsigned int
parent_backoff(const char *who, unsigned int ms, uint64_t started_ns,
    int st)
{
	if (now_ns() - started_ns >= 10000ull * 1000000)
		ms = 0;
	ms = ms == 0 ? 100 : ms * 2 > 5000 ? 5000 : ms * 2;
	if (WIFSIGNALED(st))
		log_warnx("%s killed by signal %d; restarting in %ums", who,
		    WTERMSIG(st), ms);
	else
		log_warnx("%s exited with status %d; restarting in %ums", who,
		    WEXITSTATUS(st), ms);
	return ms;
}
