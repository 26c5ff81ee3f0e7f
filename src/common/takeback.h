/* SPDX-License-Identifier: ISC */
/*
 * takeback.c: receiving a HANDOFF back from a service's queue (lib/wire.h,
 * version 2, take-back), on a copy of the service's end of a data
 * channel: the parent's for its own channel, the frontend's for the one
 * it was lent. Both read the same way; only what they do next differs.
 */
#ifndef TAKEBACK_H
#define TAKEBACK_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* The id of the message at the head of the queue, or -1 if none. No
 * control buffer: no descriptor is copied. */
int64_t	takeback_head(int back);

/* The oldest HANDOFF or HANDOFF_RAW still queued, into buf (cap at least
 * WIRE_MSG_MAX): 1 with m, *fd (-1 if lost here) and *len; 0 if none is.
 * Anything else queued cannot be ours and is dropped. */
int	takeback_recv(int back, uint8_t *buf, size_t cap, struct wire_msg *m,
	    int *fd, size_t *len);

#endif
