/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for metrics_request (src/frontend/scrape.c): never
 * reads past len (ASan, on an exact-size copy); the verdict on the whole
 * input is that of the first growing prefix with one, and bytes after
 * the head change nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum metrics_req	 whole, part = METRICS_AGAIN;
	uint8_t			*copy;
	size_t			 cut;

	if (size > HTTP_HEAD_MAX || (copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	whole = metrics_request(copy, size);
	for (cut = 0; cut <= size; cut++) {
		uint8_t	*p = malloc(cut ? cut : 1);

		if (p == NULL)
			break;
		memcpy(p, data, cut);
		part = metrics_request(p, cut);
		free(p);
		if (part != METRICS_AGAIN)
			break;
	}
	if (part != whole)
		abort();
	free(copy);
	return 0;
}
