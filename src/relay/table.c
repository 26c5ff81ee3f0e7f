/* SPDX-License-Identifier: ISC */
/*
 * table.c: what the relay knows of the forward services on its own, so
 * that the frontend can send it a client past the parent (IPC_FWDTAB):
 * each service's backend as a FORWARD would say it, and the caps, kept
 * here for every connection however it came, since only the relay sees
 * them all. Also the ids of the clients it took itself (DONE_DIRECT):
 * small numbers, each free again only once its DONE is sent, so the
 * parent never sees one reused before it heard the end of the last.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"
#include "relay.h"

static struct {
	struct ipc_fwdsvc	*e;
	uint32_t		*live;		/* per entry: its connections */
	uint32_t		 n;
	uint32_t		 max_total;	/* 0: no table yet */
} t;

static uint32_t	*freeids;		/* a stack of freed ids */
static uint32_t	 nfree, maxfree, nextid;

/* The parent's table; -1 (the old one stays) without memory. */
int
table_set(const struct ipc_fwdtab *h, const uint8_t *entries)
{
	struct ipc_fwdsvc	*e = NULL;
	uint32_t		*live = NULL;

	if (h->n > 0 && ((e = calloc(h->n, sizeof(*e))) == NULL ||
	    (live = calloc(h->n, sizeof(*live))) == NULL)) {
		free(e);
		return -1;
	}
	if (h->n > 0)
		memcpy(e, entries, (size_t)h->n * sizeof(*e));
	free(t.e);
	free(t.live);
	t.e = e;
	t.live = live;
	t.n = h->n;
	t.max_total = h->max_total;
	return 0;
}

static int
byname(const void *key, const void *elem)
{
	return strcmp(key, ((const struct ipc_fwdsvc *)elem)->f.name);
}

/* name's entry, or -1. */
int
table_find(const char *name)
{
	const struct ipc_fwdsvc	*e;

	if (t.n == 0)
		return -1;
	e = bsearch(name, t.e, t.n, sizeof(*t.e), byname);
	return e == NULL ? -1 : (int)(e - t.e);
}

const struct ipc_forward *
table_forward(int ix)
{
	return &t.e[ix].f;
}

/*
 * May one more connection of entry ix (-1: not in the table) start,
 * with nconns already here? NULL yes, else the refusal's reason.
 */
const char *
table_full(int ix, int nconns)
{
	if (t.max_total > 0 && (uint32_t)nconns >= t.max_total)
		return "busy";
	if (ix >= 0 && t.e[ix].max_instances > 0 &&
	    t.live[ix] >= t.e[ix].max_instances)
		return "service busy";
	return NULL;
}

void
table_count(int ix, int delta)
{
	if (ix >= 0)
		t.live[ix] += delta;
}

/* An id for a client the frontend sent; DONE_DIRECT is set. 0: none
 * (the count reached what an id holds, or no memory to free one). */
uint32_t
id_get(void)
{
	if (nfree > 0)
		return DONE_DIRECT | freeids[--nfree];
	if (nextid >= DONE_DIRECT - 1)
		return 0;
	return DONE_DIRECT | nextid++;
}

/* Its DONE was sent. */
void
id_put(uint32_t id)
{
	uint32_t	*n;

	if (nfree == maxfree) {
		if ((n = reallocarray(freeids, maxfree ? maxfree * 2 : 64,
		    sizeof(*n))) == NULL) {
			/* Lost for good: one number of four thousand
			 * million, never a reused one. */
			return;
		}
		freeids = n;
		maxfree = maxfree ? maxfree * 2 : 64;
	}
	freeids[nfree++] = id & ~DONE_DIRECT;
}
