/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for request_parse: never reads past len (ASan), and the
 * verdict on the whole input agrees with the verdict reached by feeding it
 * in growing prefixes, as the frontend does when bytes trickle in.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request		 whole, part;
	enum request_result	 w, p;
	size_t			 max_line = 64, cut;
	uint8_t			*copy;

	if (size > 0) {
		/* First byte picks max_line, so short limits are explored. */
		max_line = 3 + data[0] % 80;
		data++;
		size--;
	}
	/* An exact-size heap copy: any read past len is caught. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	w = request_parse(copy, size, max_line, &whole);
	if (w == REQ_OK) {
		if (whole.consumed == 0 || whole.consumed > size ||
		    whole.consumed > max_line || copy[whole.consumed - 1] != '\n' ||
		    strlen(whole.name) == 0 ||
		    strlen(whole.name) > SERVICE_NAME_MAX)
			abort();
	}
	if (w == REQ_REJECT && whole.reason == NULL)
		abort();
	/* A verdict, once reached on a prefix, never changes. */
	for (cut = 0; cut <= size; cut++) {
		p = request_parse(copy, cut, max_line, &part);
		if (p == REQ_NEED_MORE)
			continue;
		if (p != w || (p == REQ_OK && (part.consumed !=
		    whole.consumed || strcmp(part.name, whole.name) != 0)) ||
		    (p == REQ_REJECT && strcmp(part.reason, whole.reason) != 0))
			abort();
		break;
	}
	free(copy);
	return 0;
}
