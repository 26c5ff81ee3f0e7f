/* SPDX-License-Identifier: ISC */
/*
 * pipes.c: the pipe each way of a relayed connection splices through.
 * A pipe is sized once (PIPE_WANT), grown only for a way that fills it,
 * and kept empty for the next connection rather than closed, so a short
 * session makes no pipe2 and no fcntl.
 */
#include <fcntl.h>
#include <unistd.h>

#include "relay.h"

/*
 * Pipes left empty by a connection that ended cleanly are kept for the
 * next one (at most POOL_MAX): a session then makes none.
 */
#define POOL_MAX	64
static struct {
	int	fd[2];
	size_t	cap;
}		 pool[POOL_MAX];
static int	 npool;

int
way_open(struct way *w)
{
	int	n;

	if (npool > 0) {
		npool--;
		w->pipe[0] = pool[npool].fd[0];
		w->pipe[1] = pool[npool].fd[1];
		w->cap = pool[npool].cap;
		return 0;
	}
	if (pipe2(w->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		w->pipe[0] = w->pipe[1] = -1;
		return -1;
	}
	/* Larger pipes move more per splice; the user's pipe budget may
	 * say no, and the default is fine. */
	(void)fcntl(w->pipe[1], F_SETPIPE_SZ, PIPE_WANT);
	n = fcntl(w->pipe[1], F_GETPIPE_SZ);
	w->cap = n > 0 ? (size_t)n : 65536;
	return 0;
}

/*
 * A way that filled its pipe moves bulk: a larger pipe takes more per
 * splice, so fewer calls and wake-ups per byte. Only those grow, since
 * the user's pipe pages are a budget (fs.pipe-user-pages-soft) that
 * thousands of small sessions would spend. Failing is fine.
 */
void
way_grow(struct way *w)
{
	int	n;

	if (w->grown)
		return;
	w->grown = 1;
	if (fcntl(w->pipe[1], F_SETPIPE_SZ, PIPE_BULK) > 0 &&
	    (n = fcntl(w->pipe[1], F_GETPIPE_SZ)) > 0)
		w->cap = n;
}

void
way_close(struct way *w)
{
	/* A grown pipe is not kept: the budget again. */
	if (w->pipe[0] != -1 && w->queued == 0 && npool < POOL_MAX &&
	    w->cap <= PIPE_WANT) {
		pool[npool].fd[0] = w->pipe[0];
		pool[npool].fd[1] = w->pipe[1];
		pool[npool].cap = w->cap;
		npool++;
		w->pipe[0] = w->pipe[1] = -1;
		return;
	}
	if (w->pipe[0] != -1)
		close(w->pipe[0]);
	if (w->pipe[1] != -1)
		close(w->pipe[1]);
	w->pipe[0] = w->pipe[1] = -1;
}
