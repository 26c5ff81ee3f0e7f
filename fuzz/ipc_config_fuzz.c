/*
 * libFuzzer target for ipc_config_parse (src/common/ipc.c): the frontend's reading
 * of the parent's IPC_CONFIG. The input is parsed from an exact-size heap
 * copy (ASan catches any read past len), as it is and again with its
 * settings made valid, so the fuzzer reaches the names and answers. What
 * is accepted must hold what the frontend relies on: at most MAX_SERVICES
 * valid names in strictly ascending order, every answer inside the blob,
 * and the same verdict for the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const uint8_t *p, size_t len)
{
	struct ipc_config_view	 v, again;
	struct ipc_service	 s;
	char			 prev[SERVICE_NAME_MAX + 1] = "";
	const char		*why;
	uint32_t		 i;

	if (ipc_config_parse(p, len, &v, &why) == -1) {
		if (why == NULL || ipc_config_parse(p, len, &again, &why) != -1)
			abort();
		return;
	}
	if (why != NULL || v.set.nservices > MAX_SERVICES ||
	    v.set.max_line < 3 || v.set.max_line > MAX_LINE_LIMIT ||
	    v.set.max_pending == 0 || v.set.timeout_ms == 0 ||
	    v.set.drop_start > v.set.max_pending || v.set.drop_rate > 100 ||
	    v.svcs != p + sizeof(v.set) ||
	    v.blob + v.bloblen != p + len ||
	    v.blob != v.svcs + v.set.nservices * sizeof(s))
		abort();
	for (i = 0; i < v.set.nservices; i++) {
		memcpy(&s, v.svcs + i * sizeof(s), sizeof(s));
		if (memchr(s.name, '\0', sizeof(s.name)) == NULL ||
		    !name_valid(s.name, strlen(s.name), 0) ||
		    (i > 0 && strcmp(prev, s.name) >= 0))
			abort();
		if (s.answer_len > 0 && ((size_t)s.answer_off +
		    s.answer_len > v.bloblen))
			abort();
		memcpy(prev, s.name, sizeof(prev));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_config	 set;
	uint8_t			*copy;
	size_t			 room;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	check(copy, size);
	/* Again with settings that pass, and a count that fits. */
	if (size >= sizeof(set)) {
		memcpy(&set, copy, sizeof(set));
		set.max_line = 3 + set.max_line % (MAX_LINE_LIMIT - 2);
		set.max_pending = 1 + set.max_pending % DEF_MAX_PENDING;
		set.max_pending_addr = 1 + set.max_pending_addr % 64;
		set.timeout_ms = 1 + set.timeout_ms % 60000;
		set.help &= 1;
		set.drop_start %= set.max_pending + 1;
		set.drop_rate %= 101;
		room = (size - sizeof(set)) / sizeof(struct ipc_service);
		if (set.nservices > room)
			set.nservices = room;
		memcpy(copy, &set, sizeof(set));
		check(copy, size);
	}
	free(copy);
	return 0;
}
