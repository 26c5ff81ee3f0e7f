/* SPDX-License-Identifier: ISC */
/*
 * lend.c: the sockets the parent lends the frontend (IPC_LEND), by kind
 * and name: the relay's (LEND_RELAY, "") and a pass service's data
 * channel (LEND_PASS, with its LEND_BACK: pass.c). A client sent on one
 * is gone from the frontend; without one, or when the send fails, it
 * goes to the parent as always. The table is small (a handful of
 * entries); each entry is allocated once and reused, never freed, since
 * an epoll event of this batch may still point at it.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"

static struct lent	**lents;
static size_t		  nlents, maxlents;
static int		  lend_epfd = -1;

void
lend_init(int epfd)
{
	lend_epfd = epfd;
}

struct lent *
lend_find(uint32_t kind, const char *name)
{
	size_t	i;

	for (i = 0; i < nlents; i++)
		if (lents[i]->kind == kind &&
		    strcmp(lents[i]->name, name) == 0)
			return lents[i];
	return NULL;
}

/* A free entry, or a new one; NULL without memory. */
static struct lent *
lend_slot(void)
{
	struct lent	**n;
	size_t		  i;

	for (i = 0; i < nlents; i++)
		if (lents[i]->kind == 0)
			return lents[i];
	if (nlents == maxlents) {
		if ((n = reallocarray(lents, maxlents ? maxlents * 2 : 4,
		    sizeof(*n))) == NULL)
			return NULL;
		lents = n;
		maxlents = maxlents ? maxlents * 2 : 4;
	}
	if ((lents[nlents] = calloc(1, sizeof(**lents))) == NULL)
		return NULL;
	return lents[nlents++];
}

static void
lend_clear(struct lent *l)
{
	if (l->kind == LEND_PASS)
		pass_settle(l);
	close(l->w.fd);		/* out of the epoll set with it */
	if (l->back != -1)
		close(l->back);
	memset(l, 0, sizeof(*l));
	l->w.kind = W_FREE;
	l->w.fd = l->back = -1;
}

/* A LEND_PASS's socket is watched: the service's notices come on it. */
static int
lend_watch(struct lent *l)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &l->w;
	return epoll_ctl(lend_epfd, EPOLL_CTL_ADD, l->w.fd, &ev);
}

/* fd is ours now; a new one of the same kind and name replaces the old.
 * Without memory it is closed: its clients go by the parent. */
void
lend_set(uint32_t kind, const char *name, uint32_t generation, int fd)
{
	struct lent	*l;

	if (kind == LEND_BACK) {
		/* The second half of a LEND_PASS, right behind it. */
		if ((l = lend_find(LEND_PASS, name)) == NULL ||
		    l->generation != generation || l->back != -1) {
			close(fd);
			return;
		}
		l->back = fd;
		return;
	}
	if ((l = lend_find(kind, name)) != NULL)
		lend_clear(l);
	else if ((l = lend_slot()) == NULL) {
		log_warnx("frontend: out of memory: a lent socket is not "
		    "used");
		close(fd);
		return;
	}
	l->kind = kind;
	memcpy(l->name, name, strnlen(name, SERVICE_NAME_MAX));
	l->name[strnlen(name, SERVICE_NAME_MAX)] = '\0';
	l->generation = generation;
	l->w.kind = kind == LEND_PASS ? W_LENT : W_FREE;
	l->w.fd = fd;
	l->back = -1;
	if (kind == LEND_PASS && lend_watch(l) == -1) {
		log_warn("frontend: a lent socket is not used");
		lend_clear(l);
	}
}

/* The lent socket of kind and name, or -1. */
int
lend_get(uint32_t kind, const char *name)
{
	struct lent	*l;

	if (nlents == 0 || (l = lend_find(kind, name)) == NULL)
		return -1;
	return l->w.fd;
}

/* Dropped: the parent said so (generation, or 0 for any) or a send on it
 * failed for good. */
void
lend_drop(uint32_t kind, const char *name, uint32_t generation)
{
	struct lent	*l;

	if ((l = lend_find(kind, name)) == NULL ||
	    (generation != 0 && l->generation != generation))
		return;
	lend_clear(l);
}

/*
 * A send on a lent socket failed with err: full (EAGAIN, ENOBUFS) keeps
 * it, anything else (the other end gone: EPIPE, ECONNREFUSED) drops it.
 * Either way this client goes to the parent.
 */
void
lend_failed(uint32_t kind, const char *name, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS)
		return;
	lend_drop(kind, name, 0);
}

/*
 * A client of a forward service (SVC_RELAY) to the relay's lent socket,
 * with the dispatch the parent would have had: 0 sent; -1 it goes to the
 * parent (none lent, or the send failed).
 */
int
lend_relay(const struct ipc_dispatch *d, int fd)
{
	int	s;

	if ((s = lend_get(LEND_RELAY, "")) == -1)
		return -1;
	if (ipc_send(s, IPC_DISPATCH, d, sizeof(*d), fd) == 0)
		return 0;
	lend_failed(LEND_RELAY, "", errno);
	return -1;
}

/* IPC_LEND and IPC_UNLEND from the parent, checked (ipc_parent_parse). */
void
lend_parent(const struct ipc_pmsg *m, int fd)
{
	if (m->type == IPC_LEND)
		lend_set(m->lend.kind, m->lend.name, m->lend.generation, fd);
	else
		lend_drop(m->lend.kind, m->lend.name, m->lend.generation);
}
