/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the frontend's reading of the parent's messages:
 * ipc_hdr_valid and ipc_parent_parse (src/common/ipc.c), and for a
 * CONFIG, ipc_config_parse of its body, as the frontend reads it. The
 * first input byte says whether an fd came with the message (bit 0) and
 * picks a type for a header made valid (the bits above); the rest is the
 * message as received, header first, parsed from an exact-size heap copy,
 * as it is and again with a header made valid. What is accepted must be
 * what the frontend's handlers rely on: an fd exactly where one is used,
 * sizes exact, a lent socket's name terminated.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const uint8_t *msg, size_t n, int hasfd)
{
	struct ipc_config_view	 v;
	struct ipc_hdr		 hdr;
	struct ipc_pmsg		 m;
	const uint8_t		*body = msg + sizeof(hdr);
	const char		*why;
	uint32_t		 idx;

	if (n < sizeof(hdr))
		return;
	memcpy(&hdr, msg, sizeof(hdr));
	if (!ipc_hdr_valid(&hdr, n))
		return;
	if (ipc_parent_parse(hdr.type, body, hdr.len, hasfd, &m, &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (why != NULL || m.type != hdr.type)
		abort();
	switch (m.type) {
	case IPC_CONFIG:
		if (hasfd)
			abort();
		if (ipc_config_parse(body, hdr.len, &v, &why) == -1 &&
		    why == NULL)
			abort();
		break;
	case IPC_LISTEN:
		if (!hasfd || hdr.len != 0)
			abort();
		break;
	case IPC_UNLISTEN:
		memcpy(&idx, body, sizeof(idx));
		if (hasfd || hdr.len != sizeof(idx) || m.index != idx)
			abort();
		break;
	case IPC_DRAIN:
	case IPC_PING:
		if (hasfd || hdr.len != 0)
			abort();
		break;
	case IPC_METRICS:
		if (hasfd && hdr.len != 0)
			abort();
		break;
	case IPC_LEND:
	case IPC_UNLEND:
		if ((m.type == IPC_LEND) != (hasfd != 0) ||
		    hdr.len != sizeof(m.lend) ||
		    memcmp(&m.lend, body, sizeof(m.lend)) != 0 ||
		    m.lend.name[SERVICE_NAME_MAX] != '\0' ||
		    (m.type == IPC_LEND && m.lend.generation == 0))
			abort();
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 types[] = { IPC_CONFIG, IPC_LISTEN,
				    IPC_UNLISTEN, IPC_DRAIN, IPC_METRICS,
				    IPC_LEND, IPC_UNLEND, IPC_PING };
	struct ipc_hdr		 hdr;
	uint8_t			*copy;
	size_t			 n;

	if (size < 1)
		return 0;
	n = size - 1;
	if ((copy = malloc(n ? n : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, n);
	check(copy, n, data[0] & 1);
	if (n >= sizeof(hdr)) {
		memcpy(&hdr, copy, sizeof(hdr));
		hdr.version = IPC_VERSION;
		hdr.flags = 0;
		hdr.len = n - sizeof(hdr);
		hdr.type = types[(data[0] >> 1) % sizeof(types)];
		memcpy(copy, &hdr, sizeof(hdr));
		check(copy, n, data[0] & 1);
	}
	free(copy);
	return 0;
}
