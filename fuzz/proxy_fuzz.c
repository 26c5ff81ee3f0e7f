/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for proxy_probe: never reads past len (ASan); the
 * verdict and the fields on the whole input are those of the first
 * growing prefix with a verdict; a MATCH's fields are sane.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same(const struct proxy_hdr *a, const struct proxy_hdr *b)
{
	return a->consumed == b->consumed && a->local == b->local &&
	    memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0 &&
	    (a->why == NULL) == (b->why == NULL) &&
	    (a->why == NULL || strcmp(a->why, b->why) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	 whole, part;
	enum probe_result	 w, p;
	uint8_t			*copy;
	size_t			 cut;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	w = proxy_probe(copy, size, &whole);
	if ((w == PROBE_BAD) != (whole.why != NULL))
		abort();
	if (w == PROBE_MATCH) {
		if (whole.consumed == 0 || whole.consumed > size ||
		    whole.consumed > PROXY_MAX)
			abort();
		/* v1 ends at its LF, within 107 bytes */
		if (copy[0] == 'P' && (whole.consumed > 107 ||
		    copy[whole.consumed - 1] != '\n'))
			abort();
		if (!whole.local && (whole.src.ss_family != whole.dst.ss_family ||
		    (whole.src.ss_family != AF_INET &&
		    whole.src.ss_family != AF_INET6)))
			abort();
		if (whole.local && (whole.src.ss_family != 0 ||
		    whole.dst.ss_family != 0))
			abort();
	}
	for (cut = 0; cut < size; cut++) {
		p = proxy_probe(copy, cut, &part);
		if (p == PROBE_AGAIN)
			continue;
		if (p != w || !same(&part, &whole))
			abort();
		break;
	}
	free(copy);
	return 0;
}
