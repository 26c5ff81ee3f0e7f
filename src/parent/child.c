/* SPDX-License-Identifier: ISC */
/*
 * child.c: the programs the parent started, from clone until reaped: a
 * client still waiting is told "+" (at the exec-stop, or at exec for an
 * untraced program) or "-" (when the status pipe or the exit says the
 * program never ran; nothing here ever waits for a child), stderr is
 * logged line by line tagged with service and pid, and each exit gets one
 * log line. A program started for its owner rather than for a client
 * (supervise.c, redirect.c) is told to that owner's callback when it
 * exits: this file calls no module above it.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define REASON_NOSTART		"cannot start service"

/* A spawned service program, from fork until it is reaped. */
struct child {
	struct src	 stderr_src;
	struct src	 status_src;
	pid_t		 pid;
	char		 name[SERVICE_NAME_MAX + 1];
	struct service	*svc;		/* NULL once a reload removed it */
	int		 client;	/* held until "+" or "-" is sent */
	int		 supervised;	/* an owner's daemon, not a session */
	child_exit_cb	 exited;	/* its owner's, told the pid */
	int		 traced;	/* "+" waits for the exec-stop */
	int		 stderr_fd;
	int		 stderr_w;	/* ours: no EOF at exit (spawn.c) */
	int		 status_fd;	/* exec status pipe, until the verdict */
	int		 status_watched;	/* in epoll: untraced programs */
	int		 exec_done;	/* the verdict: execve succeeded */
	uint64_t	 akey;
	enum proto	 proto;		/* an implicit client hears no "+" */
	char		 peer[PEER_STRLEN];
	uint64_t	 accepted_ns, started_ns;
	char		 errbuf[512];	/* partial stderr line */
	size_t		 errlen;
	struct child	*next;
};

static struct child	*children;
static struct child	*dead;		/* freed after the epoll batch */

/*
 * The program is running (ok) or will never run: tell the client, and let
 * go of its socket. One held at its exec-stop (held) goes on as soon as
 * "+" is out: the log line and the close need not keep it waiting.
 */
static void
child_started(struct child *c, int ok, int held)
{
	char	result[64];

	if (ok && c->client != -1 && c->proto == PROTO_TCPMUX &&
	    (c->svc == NULL || !c->svc->reply_self))
		(void)send(c->client, "+\r\n", 3, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (held)
		spawn_release(c->pid);
	if (c->client == -1)
		return;
	/* A reply self program's line goes to the client, not to us: the
	 * log says who answered instead of claiming a "+". */
	if (ok)
		parent_log_conn(c->peer, c->name, c->proto == PROTO_TCPMUX &&
		    c->svc != NULL && c->svc->reply_self ? "self" : "+",
		    c->pid, c->accepted_ns);
	else {
		parent_refuse(c->client, c->proto, REASON_NOSTART);
		snprintf(result, sizeof(result), "-%s", REASON_NOSTART);
		parent_log_conn(c->peer, c->name, result, c->pid, c->accepted_ns);
	}
	close(c->client);
	c->client = -1;
}

/* Our write end: without it, the pipe ends with the program's writers. */
static void
stderr_let_go(struct child *c)
{
	if (c->stderr_w != -1)
		close(c->stderr_w);
	c->stderr_w = -1;
}

/*
 * epoll watches the open pipe, not the descriptor: say so before closing,
 * in case a copy lives on somewhere (a child between clone and exec).
 */
static void
stderr_close(struct child *c)
{
	parent_unwatch(c->stderr_fd);
	close(c->stderr_fd);
	c->stderr_fd = -1;
	stderr_let_go(c);
}

/*
 * Log the child's stderr line by line, tagged with service and pid, with
 * control bytes escaped (errline.c). A last line without newline is
 * logged at EOF or exit.
 */
static void
child_stderr(struct child *c, int final)
{
	char	 safe[800];
	size_t	 used, len;
	ssize_t	 n;

	for (;;) {
		n = read(c->stderr_fd, c->errbuf + c->errlen,
		    sizeof(c->errbuf) - c->errlen);
		if (n > 0)
			c->errlen += n;
		while ((used = errline_next(c->errbuf, c->errlen,
		    sizeof(c->errbuf), n == 0 || (final && n < 0),
		    &len)) > 0) {
			errline_escape(safe, sizeof(safe), c->errbuf, len);
			log_info("%s[%d]: %s", c->name, (int)c->pid, safe);
			memmove(c->errbuf, c->errbuf + used, c->errlen - used);
			c->errlen -= used;
		}
		if (n <= 0)
			break;
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		stderr_close(c);
		c->stderr_fd = -1;
	}
}

static void
status_close(struct child *c)
{
	if (c->status_watched)
		parent_unwatch(c->status_fd);
	close(c->status_fd);
	c->status_fd = -1;
	c->status_watched = 0;
}

/*
 * Did the program get to run? 1: execve succeeded; 0: it failed (logged
 * here, with the step and the child's errno); -1: no verdict yet. Reads
 * the status pipe without waiting, and once there is a verdict, keeps it.
 */
static int
child_verdict(struct child *c)
{
	const char	*step, *what;
	int		 r, chdir_failed;

	if (c->status_fd == -1)
		return c->exec_done;
	if ((r = spawn_status(c->status_fd, &step, &chdir_failed)) == -1)
		return -1;
	if (r == 0) {
		what = c->svc == NULL ? "program" : chdir_failed ?
		    c->svc->chdir : c->svc->argv[0];
		log_warn("%s[%d]: %s: cannot %s", c->name, (int)c->pid, what,
		    step);
	}
	c->exec_done = r;
	status_close(c);
	/* A child that wrote why it failed may still be running on its
	 * slot, until it is reaped. */
	if (r == 1)
		spawn_settled(c->pid);
	return r;
}

static struct child *
child_find(pid_t pid)
{
	struct child	*c;

	for (c = children; c != NULL; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

static void
child_free(struct child *c)
{
	struct child	**pp;

	for (pp = &children; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->svc != NULL && !c->supervised)
		c->svc->running--;
	if (c->client != -1)
		close(c->client);
	if (c->stderr_fd != -1)
		stderr_close(c);
	if (c->status_fd != -1)
		status_close(c);
	spawn_settled(c->pid);
	c->client = c->stderr_fd = -1;
	/* Events for it may still be in this epoll batch. */
	c->next = dead;
	dead = c;
}

static void
child_exited(struct child *c, int st)
{
	char	status[32];

	/*
	 * Whatever the pipe says now is final. A program that ran but was
	 * never told to go was killed at its exec-stop: it never ran either,
	 * except an untraced one, whose "+" is merely late.
	 */
	child_started(c, child_verdict(c) == 1 && !c->traced, 0);
	if (c->stderr_fd != -1)
		child_stderr(c, 1);
	if (WIFSIGNALED(st))
		snprintf(status, sizeof(status), "signal:%d", WTERMSIG(st));
	else
		snprintf(status, sizeof(status), "%d", WEXITSTATUS(st));
	log_info("exit service=%s pid=%d status=%s duration=%.3fs", c->name,
	    (int)c->pid, status, (now_ns() - c->started_ns) / 1e9);
	if (c->supervised)
		stats_program_exit(c->name, c->pid, st);
	if (c->exited != NULL)
		c->exited(c->pid);
	child_free(c);
}

/*
 * A child's record, taken before its program is started (child_reserve),
 * so that no program runs that we could not track: out of memory is a
 * refusal before the fork, never a program nobody reaps.
 */
static struct child	*spare;

int
child_reserve(void)
{
	if (spare == NULL && (spare = calloc(1, sizeof(*spare))) == NULL) {
		parent_short("memory", "no program started");
		return -1;
	}
	return 0;
}

/*
 * Track a started program until it is reaped, and log its stderr. The
 * status pipe is watched for untraced programs; a traced one's verdict is
 * read at its stop or exit, which saves the parent two epoll calls.
 * child_reserve succeeded first. A pipe epoll has no room for is one we
 * cannot follow: the program is killed, and its reaping tells its client.
 */
struct child *
child_add(struct service *svc, const struct spawn *sp, child_exit_cb exited)
{
	struct child	*c = spare;

	/* An invariant: every caller reserved. */
	if (c == NULL)
		fatalx("child_add without child_reserve");
	spare = NULL;
	c->pid = sp->pid;
	memcpy(c->name, svc->name, sizeof(c->name));
	c->svc = svc;
	c->client = -1;
	c->stderr_fd = sp->stderr_fd;
	c->stderr_w = sp->stderr_w;
	c->status_fd = sp->status_fd;
	c->traced = sp->traced;
	c->supervised = exited != NULL;
	c->exited = exited;
	snprintf(c->peer, sizeof(c->peer), "-");
	c->started_ns = c->accepted_ns = now_ns();
	c->stderr_src.kind = SRC_STDERR;
	c->stderr_src.ptr = c;
	c->status_src.kind = SRC_STATUS;
	c->status_src.ptr = c;
	c->next = children;
	children = c;
	/* Instance limits count client sessions, not supervised daemons. */
	if (exited == NULL)
		svc->running++;
	else
		stats_program(c->name, c->pid);
	if (c->stderr_fd != -1 && parent_watch(c->stderr_fd,
	    &c->stderr_src) == -1) {
		stderr_close(c);
		kill(c->pid, SIGKILL);
	}
	if (c->status_fd != -1 && !c->traced) {
		if (parent_watch(c->status_fd, &c->status_src) == -1)
			kill(c->pid, SIGKILL);
		else
			c->status_watched = 1;
	}
	return c;
}

/* A client waits for this program's "+": its exec-stop or exec says when. */
void
child_set_client(struct child *c, int client, uint64_t akey,
    const char *peer, enum proto proto, uint64_t accepted_ns)
{
	c->client = client;
	c->akey = akey;
	c->proto = proto;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->accepted_ns = accepted_ns;
}

/* Sessions of svc from the client address akey, for max per-address. */
int
child_count(const struct service *svc, uint64_t akey)
{
	struct child	*c;
	int		 n = 0;

	for (c = children; c != NULL; c = c->next)
		if (c->svc == svc && !c->supervised && c->akey == akey)
			n++;
	return n;
}

/* Programs whose client has not heard "+" or "-" yet: until then the
 * parent must not go (an upgrade waits for them). */
int
child_starting(void)
{
	struct child	*c;
	int		 n = 0;

	for (c = children; c != NULL; c = c->next)
		if (c->client != -1)
			n++;
	return n;
}

/* A reload: point each program at its service in the new config. */
void
child_remap(const struct config *cfg)
{
	struct child	*c;

	for (c = children; c != NULL; c = c->next) {
		c->svc = config_find(cfg, c->name);
		if (c->svc != NULL && !c->supervised)
			c->svc->running++;
	}
}

/* waitpid said pid stopped or ended; 0 if it is none of ours. */
int
child_waited(pid_t pid, int st)
{
	struct child	*c;

	if ((c = child_find(pid)) == NULL)
		return 0;
	if (WIFSTOPPED(st)) {
		/* At the exec-stop the program is loaded and frozen before
		 * its first instruction: "+" goes out now, before any byte
		 * of its own. */
		if (c->traced && spawn_stopped(pid, WSTOPSIG(st),
		    child_verdict(c) == 1)) {
			c->traced = 0;
			child_started(c, 1, 1);
		}
		return 1;
	}
	child_exited(c, st);
	return 1;
}

/* An untraced program's status pipe: EOF at exec, or why it failed. */
void
child_status_event(struct child *c)
{
	int	r;

	if (c->status_fd != -1 && (r = child_verdict(c)) != -1)
		child_started(c, r, 0);
}

void
child_stderr_event(struct child *c)
{
	if (c->stderr_fd != -1)
		child_stderr(c, 0);
}

void
child_free_dead(void)
{
	struct child	*c;

	while ((c = dead) != NULL) {
		dead = c->next;
		free(c);
	}
}

/*
 * Stopping leaves running programs alone, but their stderr pipes would
 * close with the parent and the next write would kill them with SIGPIPE.
 * The drain process (a fork of the parent) keeps reading and logging them
 * on the parent's epoll set until each closes.
 */
void
child_drain(int epfd)
{
	struct epoll_event	 evs[64];
	struct child		*c;
	struct src		*src;
	int			 open = 0, i, n;

	/* Each pipe ends when the last of its program's writers goes. */
	for (c = children; c != NULL; c = c->next) {
		stderr_let_go(c);
		if (c->stderr_fd != -1)
			open++;
	}
	while (open > 0) {
		if ((n = epoll_wait(epfd, evs, 64, -1)) == -1 &&
		    errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			src = evs[i].data.ptr;
			if (src->kind != SRC_STDERR)
				continue;
			c = src->ptr;
			if (c->stderr_fd == -1)
				continue;
			child_stderr(c, 0);
			if (c->stderr_fd == -1)
				open--;
		}
	}
}

int
child_stderr_open(void)
{
	struct child	*c;
	int		 open = 0;

	for (c = children; c != NULL; c = c->next)
		if (c->stderr_fd != -1)
			open++;
	return open;
}
