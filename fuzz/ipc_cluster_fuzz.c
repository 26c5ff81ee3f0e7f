/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the messages between the parent and the cluster
 * process (src/common/clusteripc.c): the cluster process reading
 * IPC_CL_NAMES, the parent reading IPC_CL_TABLE (and LOG, READY), both
 * the watchdog's IPC_PING. The
 * first byte says whether an fd came (bit 0); the rest is the message,
 * header first, as it is and with a header made valid. What is accepted
 * is what cluster.c and clink.c rely on.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "clusteripc.h"
#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
names(const struct ipc_hdr *hdr, const uint8_t *p, int hasfd)
{
	struct ipc_cl_name	 e;
	const uint8_t		*v;
	const char		*why;
	uint32_t		 n, i;

	switch (clusteripc_names_parse(hdr->type, p, hdr->len, hasfd, &n, &v,
	    &why)) {
	case -1:
		if (why == NULL)
			abort();
		return;
	case 1:
		if (why != NULL || hdr->type != IPC_PING || hdr->len != 0 ||
		    hasfd)
			abort();
		return;
	}
	if (why != NULL || hasfd || n > CLUSTER_LOCAL_MAX)
		abort();
	for (i = 0; i < n; i++) {
		memcpy(&e, v + i * sizeof(e), sizeof(e));
		if (memchr(e.name, '\0', sizeof(e.name)) == NULL ||
		    !name_valid(e.name, strlen(e.name), NAME_LOWER) ||
		    memchr(e.rules, '\0', sizeof(e.rules)) == NULL)
			abort();
	}
}

static void
table(const struct ipc_hdr *hdr, const uint8_t *p, int hasfd)
{
	struct cl_table_view	v;
	struct ipc_cl_entry	e;
	struct ipc_fmsg		f;
	const char		*why;
	uint32_t		 i;

	memset(&f, 0, sizeof(f));
	if (clusteripc_table_parse(hdr->type, p, hdr->len, hasfd, &v, &f,
	    &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (why != NULL || f.type != hdr->type)
		abort();
	if (f.type == IPC_PING && (hdr->len != 0 || hasfd))
		abort();
	if (f.type != IPC_CL_TABLE)
		return;
	if (hasfd || v.t.n > CLUSTER_REMOTE_MAX)
		abort();
	for (i = 0; i < v.t.n; i++) {
		clusteripc_entry(&v, i, &e);
		if (memchr(e.rules, '\0', sizeof(e.rules)) == NULL ||
		    memchr(e.name, '\0', sizeof(e.name)) == NULL ||
		    memchr(e.host, '\0', sizeof(e.host)) == NULL ||
		    !cluster_word_valid(e.host) || e.addr.sin6_port == 0)
			abort();
	}
}

static void
check(const uint8_t *msg, size_t n, int hasfd)
{
	struct ipc_hdr	hdr;

	if (n < sizeof(hdr))
		return;
	memcpy(&hdr, msg, sizeof(hdr));
	if (!ipc_hdr_valid(&hdr, n))
		return;
	names(&hdr, msg + sizeof(hdr), hasfd);
	table(&hdr, msg + sizeof(hdr), hasfd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_hdr	 hdr;
	uint8_t		*copy;
	size_t		 n;

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
		if (hdr.type == 0 || hdr.type >= IPC_TYPE_MAX)
			hdr.type = (data[0] >> 1) % 3 == 2 ? IPC_PING :
			    IPC_CL_NAMES + (data[0] >> 1) % 3;
		memcpy(copy, &hdr, sizeof(hdr));
		check(copy, n, data[0] & 1);
	}
	free(copy);
	return 0;
}
