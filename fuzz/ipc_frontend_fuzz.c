/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the parent's reading of the frontend's messages:
 * ipc_hdr_valid and ipc_frontend_parse (src/common/ipc.c). The first input byte
 * says whether an fd came with the message (bit 0); the rest is the
 * message as received, header first, parsed from an exact-size heap copy,
 * as it is and again with a header made valid. What is accepted must be
 * what dispatch and the log rely on: a log line comes out whole, with no
 * control byte.
 */
#include <syslog.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const uint8_t *msg, size_t n, int hasfd)
{
	struct ipc_hdr	 hdr;
	struct ipc_fmsg	 m;
	const char	*why;
	char		 line[IPC_LOG_MAX + 1];
	size_t		 i;

	if (n < sizeof(hdr))
		return;
	memcpy(&hdr, msg, sizeof(hdr));
	if (!ipc_hdr_valid(&hdr, n))
		return;
	if (hdr.len != n - sizeof(hdr) || hdr.version != IPC_VERSION ||
	    hdr.type == 0 || hdr.type >= IPC_TYPE_MAX)
		abort();
	if (ipc_frontend_parse(hdr.type, msg + sizeof(hdr), hdr.len, hasfd,
	    &m, &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (why != NULL || m.type != hdr.type)
		abort();
	switch (m.type) {
	case IPC_DISPATCH:
		if (!hasfd || hdr.len != sizeof(m.dispatch) ||
		    memchr(m.dispatch.name, '\0', sizeof(m.dispatch.name)) ==
		    NULL || !name_valid(m.dispatch.name,
		    strlen(m.dispatch.name), 0) ||
		    (m.dispatch.flags & ~IPC_QUERY))
			abort();
		break;
	case IPC_LOG:
		if (hasfd || m.pri < LOG_CRIT || m.pri > LOG_DEBUG ||
		    m.textlen > IPC_LOG_MAX ||
		    (const uint8_t *)m.text != msg + sizeof(hdr) + 4 ||
		    m.textlen != hdr.len - 4)
			abort();
		ipc_log_text(&m, line, sizeof(line));
		if (strlen(line) != m.textlen)
			abort();
		for (i = 0; line[i] != '\0'; i++)
			if ((uint8_t)line[i] < 0x20 || line[i] == 0x7f)
				abort();
		break;
	case IPC_READY:
		if (hasfd || hdr.len != 0)
			abort();
		break;
	case IPC_FSTATS:
		/* What the status shows: bounded, terminated, printable. */
		if (hasfd || hdr.len != sizeof(m.fstats) ||
		    m.fstats.n > IPC_FSTATS_MAX)
			abort();
		for (i = 0; i < m.fstats.n; i++) {
			const struct ipc_fcount *c = &m.fstats.c[i];
			size_t	 k;

			if (memchr(c->name, '\0', sizeof(c->name)) == NULL ||
			    memchr(c->result, '\0', sizeof(c->result)) == NULL ||
			    c->result[0] == '\0')
				abort();
			for (k = 0; c->result[k] != '\0'; k++)
				if (c->result[k] < ' ' || c->result[k] > '~')
					abort();
		}
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_hdr	 hdr;
	uint8_t		*copy;
	size_t		 n;
	int		 hasfd;

	if (size < 1)
		return 0;
	hasfd = data[0] & 1;
	n = size - 1;
	if ((copy = malloc(n ? n : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, n);
	check(copy, n, hasfd);
	if (n >= sizeof(hdr)) {
		memcpy(&hdr, copy, sizeof(hdr));
		hdr.version = IPC_VERSION;
		hdr.flags = 0;
		hdr.type = 1 + hdr.type % (IPC_TYPE_MAX - 1);
		hdr.len = n - sizeof(hdr);
		memcpy(copy, &hdr, sizeof(hdr));
		check(copy, n, hasfd);
	}
	free(copy);
	return 0;
}
