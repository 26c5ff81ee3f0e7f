/* SPDX-License-Identifier: ISC */
/*
 * source.c: the frontend's memory of client addresses that open
 * connections and leave them without a request line. Each address has a
 * score, in connections, that such a connection raises by one and that
 * leaks away at a fixed rate; the frontend refuses an address whose score
 * is full and drops its newcomers at random under load. A fixed table,
 * nothing allocated: when both places an address may take are held by
 * addresses with a score, the newcomer is not tracked and counts as clean,
 * so a flood of many addresses can only forget, never blame, the innocent.
 */
#include <stdint.h>
#include <string.h>

#include "frontend.h"

#define NSOURCES	8192		/* power of two, in pairs */
#define MILLI		1000ull		/* score unit: 1/1000 connection */

struct source {
	uint64_t	 key;
	uint64_t	 score;		/* milli-connections at stamp */
	uint64_t	 stamp_ns;
};

static struct source	 table[NSOURCES];
static uint64_t		 seed;

/* splitmix64's finaliser: keyed by the caller, so clients cannot aim. */
uint64_t
source_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
source_init(uint64_t s)
{
	memset(table, 0, sizeof(table));
	seed = s;
}

/* The score now, after leaking per_s milli-connections a second. */
static uint64_t
leaked(struct source *s, uint64_t now, uint32_t per_s)
{
	uint64_t	us, leak;

	if (s->score == 0 || now <= s->stamp_ns)
		return s->score;
	us = (now - s->stamp_ns) / 1000;
	if (us > 1000000ull * 3600)
		us = 1000000ull * 3600;		/* no overflow below */
	leak = us * per_s / 1000000;		/* milli-connections */
	s->score = leak >= s->score ? 0 : s->score - leak;
	s->stamp_ns = now;
	return s->score;
}

/* key's entry; with add, a free place for it if it has none (or NULL). */
static struct source *
lookup(uint64_t key, uint64_t now, uint32_t per_s, int add)
{
	struct source	*s, *free = NULL;
	size_t		 i, j;

	i = source_mix(key ^ seed) & (NSOURCES - 1) & ~(size_t)1;
	for (j = i; j < i + 2; j++) {
		s = &table[j];
		if (leaked(s, now, per_s) == 0) {
			if (free == NULL)
				free = s;
		} else if (s->key == key)
			return s;
	}
	if (!add || free == NULL)
		return NULL;
	free->key = key;
	free->score = 0;
	free->stamp_ns = now;
	return free;
}

/* Whole connections key has recently left without a line. */
uint32_t
source_score(uint64_t key, uint64_t now, uint32_t per_s)
{
	struct source	*s;

	if ((s = lookup(key, now, per_s, 0)) == NULL)
		return 0;
	return s->score / MILLI;
}

/* One more connection left without a line; the score stops at cap. */
void
source_charge(uint64_t key, uint64_t now, uint32_t per_s, uint32_t cap)
{
	struct source	*s;

	if ((s = lookup(key, now, per_s, 1)) == NULL)
		return;
	if (s->score + MILLI <= (uint64_t)cap * MILLI)
		s->score += MILLI;
	else
		s->score = (uint64_t)cap * MILLI;
}
