/* SPDX-License-Identifier: ISC */
/*
 * lend.c: the sockets the parent lends the frontend (IPC_LEND), by kind
 * and name: the relay's (LEND_RELAY, "") and a pass service's data
 * channel (LEND_PASS). A client sent on one is gone from the frontend;
 * without one, or when the send fails, it goes to the parent as always.
 * The table is small (a handful of entries): a plain array.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"

struct lent {
	uint32_t	 kind;
	uint32_t	 generation;
	char		 name[SERVICE_NAME_MAX + 1];
	int		 fd;
};

static struct lent	*lents;
static size_t		 nlents, maxlents;

static struct lent *
lend_find(uint32_t kind, const char *name)
{
	size_t	i;

	for (i = 0; i < nlents; i++)
		if (lents[i].kind == kind && strcmp(lents[i].name, name) == 0)
			return &lents[i];
	return NULL;
}

/* fd is ours now; a new one of the same kind and name replaces the old.
 * Without memory it is closed: its clients go by the parent. */
void
lend_set(uint32_t kind, const char *name, uint32_t generation, int fd)
{
	struct lent	*l, *n;

	if ((l = lend_find(kind, name)) == NULL) {
		if (nlents == maxlents) {
			if ((n = reallocarray(lents, maxlents ? maxlents * 2 :
			    4, sizeof(*n))) == NULL) {
				log_warnx("frontend: out of memory: a lent "
				    "socket is not used");
				close(fd);
				return;
			}
			lents = n;
			maxlents = maxlents ? maxlents * 2 : 4;
		}
		l = &lents[nlents++];
		l->kind = kind;
		memcpy(l->name, name, strnlen(name, SERVICE_NAME_MAX));
		l->name[strnlen(name, SERVICE_NAME_MAX)] = '\0';
	} else
		close(l->fd);
	l->generation = generation;
	l->fd = fd;
}

/* The lent socket of kind and name, or -1. */
int
lend_get(uint32_t kind, const char *name)
{
	struct lent	*l;

	if (nlents == 0 || (l = lend_find(kind, name)) == NULL)
		return -1;
	return l->fd;
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
	close(l->fd);
	*l = lents[--nlents];
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

/* IPC_LEND and IPC_UNLEND from the parent; a malformed one is fatal,
 * as every message of the parent's. */
void
lend_parent(enum ipc_type type, const uint8_t *p, size_t len, int fd)
{
	struct ipc_lend	 l;
	const char	*why;

	if (ipc_lend_parse(type, p, len, fd != -1, &l, &why) == -1)
		fatalx("frontend: %s from parent", why);
	if (type == IPC_LEND)
		lend_set(l.kind, l.name, l.generation, fd);
	else
		lend_drop(l.kind, l.name, l.generation);
}
