/* SPDX-License-Identifier: ISC */
/*
 * supervise.c: pass services whose config gives a command. oneportd makes
 * the hand-off socket, starts the program with it (LISTEN_FDS, fd 3, as
 * socket-activated daemons expect), restarts it with backoff when it
 * dies, and stops it when the daemon stops.
 *
 * The socket stays ours across restarts: while the program is down, the
 * parent's connection waits in its backlog and the next instance answers
 * it, so a restart within the hand-off timeout costs clients nothing.
 */
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define BACKOFF_MIN_MS	250
#define BACKOFF_MAX_MS	30000
#define STABLE_NS	(10000ull * 1000000)	/* resets the backoff */

struct sup {
	char		 name[SERVICE_NAME_MAX + 1];
	char		*path;
	int		 listenfd;
	pid_t		 pid;		/* -1: not running */
	uint64_t	 started_ns;
	uint64_t	 restart_at_ns;	/* 0: none due */
	unsigned int	 backoff_ms;
	int		 seen;
	struct sup	*next;
};

static struct sup	*sups;
static int		 stopping;

static void		 supervise_exited(pid_t);

static void
sup_schedule(struct sup *s)
{
	uint64_t	now = now_ns();

	if (s->started_ns != 0 && now - s->started_ns >= STABLE_NS)
		s->backoff_ms = BACKOFF_MIN_MS;
	s->restart_at_ns = now + s->backoff_ms * 1000000ull;
	log_info("%s: restarting in %ums", s->name, s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    s->backoff_ms * 2;
}

static void
sup_start(struct sup *s, const struct config *cfg)
{
	struct service		*svc = config_find(cfg, s->name);
	struct spawn		 sp = { .failed = "find memory" };

	s->restart_at_ns = 0;
	if (svc == NULL || stopping)
		return;
	if (child_reserve() == -1 ||
	    spawn_supervised(svc, s->listenfd, &sp) == -1) {
		log_warn("%s: %s: cannot %s", s->name, svc->argv[0],
		    sp.failed);
		s->started_ns = now_ns();
		sup_schedule(s);
		return;
	}
	s->pid = sp.pid;
	s->started_ns = now_ns();
	child_add(svc, &sp, supervise_exited);
	log_info("%s: started pid %d on %s", s->name, (int)s->pid, s->path);
}

static void
sup_drop(struct sup *s)
{
	struct sup	**pp;

	if (s->pid > 0)
		kill(s->pid, SIGTERM);
	close(s->listenfd);
	unlink(s->path);
	for (pp = &sups; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s->path);
	free(s);
}

/* Start what the config newly supervises; stop what it no longer does. */
void
supervise_configure(const struct config *cfg)
{
	const struct service	*svc;
	struct sup		*s, *next;
	int			 i;

	for (s = sups; s != NULL; s = s->next)
		s->seen = 0;
	for (i = 0; i < cfg->nservices; i++) {
		svc = &cfg->services[i];
		if (svc->socket == NULL || svc->argv == NULL)
			continue;
		for (s = sups; s != NULL; s = s->next)
			if (strcmp(s->name, svc->name) == 0 &&
			    strcmp(s->path, svc->socket) == 0)
				break;
		if (s != NULL) {
			s->seen = 1;
			continue;
		}
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    (s->path = strdup(svc->socket)) == NULL) {
			/* Tried again at the next reload. */
			log_warn("%s", svc->name);
			free(s);
			continue;
		}
		snprintf(s->name, sizeof(s->name), "%s", svc->name);
		s->pid = -1;
		s->seen = 1;
		s->backoff_ms = BACKOFF_MIN_MS;
		/* Only we connect to it: no one else may hand it
		 * connections. */
		if ((s->listenfd = control_listen("socket", s->path, 0177,
		    128, 0)) == -1) {
			free(s->path);
			free(s);
			continue;
		}
		s->next = sups;
		sups = s;
		sup_start(s, cfg);
	}
	for (s = sups; s != NULL; s = next) {
		next = s->next;
		if (!s->seen)
			sup_drop(s);
	}
}

/* A supervised program exited (child.c, at its reap): restart it later. */
static void
supervise_exited(pid_t pid)
{
	struct sup	*s;

	for (s = sups; s != NULL; s = s->next)
		if (s->pid == pid) {
			s->pid = -1;
			if (stopping)
				return;
			sup_schedule(s);
			if (supervise_down(s->name))
				handoff_down(s->name);
			return;
		}
}

/*
 * Is name's program down, with no start due before a client handed to it
 * now would give up? Waiting would only end in "-service not
 * responding": such a client is refused at once.
 */
int
supervise_down(const char *name)
{
	struct sup	*s;
	uint64_t	 by = now_ns() + HANDOFF_TIMEOUT_NS;

	for (s = sups; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s->pid == -1 && (s->restart_at_ns == 0 ||
			    s->restart_at_ns > by);
	return 0;
}

void
supervise_tick(uint64_t now, const struct config *cfg)
{
	struct sup	*s;

	for (s = sups; s != NULL; s = s->next)
		if (s->pid == -1 && s->restart_at_ns != 0 &&
		    s->restart_at_ns <= now)
			sup_start(s, cfg);
}

uint64_t
supervise_next_deadline(void)
{
	struct sup	*s;
	uint64_t	 when = 0;

	for (s = sups; s != NULL; s = s->next)
		if (s->pid == -1 && s->restart_at_ns != 0 &&
		    (when == 0 || s->restart_at_ns < when))
			when = s->restart_at_ns;
	return when;
}

/* An upgrade: the new image runs its own programs on sockets of its own
 * at the same paths; ours stop, and leave the paths alone. */
void
supervise_detach(void)
{
	struct sup	*s;

	stopping = 1;
	for (s = sups; s != NULL; s = s->next)
		if (s->pid > 0)
			kill(s->pid, SIGTERM);
}

/* The daemon is stopping: so are the programs it supervises. */
void
supervise_stop(void)
{
	struct sup	*s;

	stopping = 1;
	for (s = sups; s != NULL; s = s->next) {
		if (s->pid > 0)
			kill(s->pid, SIGTERM);
		unlink(s->path);
	}
}
