/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the messages between the parent and the relay:
 * ipc_forward_parse (the relay reading IPC_FORWARD) and ipc_relay_parse
 * (the parent reading DONE, LOG, READY), and ipc_lend_parse (the relay
 * and the frontend reading IPC_LEND, IPC_UNLEND), src/common/ipc.c. The first
 * byte says whether an fd came (bit 0); the rest is the message, header
 * first, from an exact-size heap copy, as it is and with a header made
 * valid. What is accepted is what relay.c and rlink.c rely on.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
forward(const struct ipc_hdr *hdr, const uint8_t *p, int hasfd)
{
	struct ipc_forward	 f;
	const char		*why;
	uint32_t		 i;

	if (ipc_forward_parse(hdr->type, p, hdr->len, hasfd, &f, &why) ==
	    -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (why != NULL || !hasfd || hdr->type != IPC_FORWARD ||
	    memchr(f.name, '\0', sizeof(f.name)) == NULL ||
	    !name_valid(f.name, strlen(f.name), 0) || f.proxy > 2 ||
	    f.naddrs > FORWARD_ADDRS_MAX || f.idle_s < 1 ||
	    (f.naddrs == 0) != (f.path[0] == '/') ||
	    memchr(f.path, '\0', sizeof(f.path)) == NULL ||
	    f.connect_ms < 1 || f.proto >= PROTO_MAX ||
	    memchr(f.host, '\0', sizeof(f.host)) == NULL ||
	    memchr(f.alpn, '\0', sizeof(f.alpn)) == NULL)
		abort();
	for (i = 0; i < f.naddrs; i++)
		if ((f.addrs[i].sin6_family != AF_INET &&
		    f.addrs[i].sin6_family != AF_INET6) ||
		    f.addrs[i].sin6_port == 0)
			abort();
}

static void
relay(const struct ipc_hdr *hdr, const uint8_t *p, int hasfd)
{
	struct ipc_rmsg	 m;
	const char	*why;
	size_t		 n, i;

	if (ipc_relay_parse(hdr->type, p, hdr->len, hasfd, &m, &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (why != NULL || m.type != hdr->type || m.type == IPC_DISPATCH ||
	    m.type == IPC_FORWARD || m.type == IPC_CONFIG ||
	    m.type == IPC_FSTATS)
		abort();
	if (m.type != IPC_DONE)
		return;
	n = strnlen(m.done.result, sizeof(m.done.result));
	if (n == 0 || n == sizeof(m.done.result) ||
	    (m.done.result[0] != '+' && m.done.result[0] != '-') ||
	    ((m.done.flags & DONE_REFUSED) != 0) != hasfd ||
	    (m.done.result[0] == '+' && hasfd))
		abort();
	for (i = 0; i < n; i++)
		if (m.done.result[i] < ' ' || m.done.result[i] > '~')
			abort();
}

static void
lend(const struct ipc_hdr *hdr, const uint8_t *p, int hasfd)
{
	struct ipc_lend	 l;
	const char	*why;

	if (ipc_lend_parse(hdr->type, p, hdr->len, hasfd, &l, &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (why != NULL ||
	    (hdr->type != IPC_LEND && hdr->type != IPC_UNLEND) ||
	    hasfd != (hdr->type == IPC_LEND) ||
	    (l.kind != LEND_RELAY && l.kind != LEND_PASS &&
	    l.kind != LEND_BACK) ||
	    (l.kind == LEND_BACK && hdr->type != IPC_LEND) ||
	    memchr(l.name, '\0', sizeof(l.name)) == NULL ||
	    (l.kind == LEND_RELAY && l.name[0] != '\0') ||
	    (l.kind != LEND_RELAY && !name_valid(l.name, strlen(l.name), 0)) ||
	    (hdr->type == IPC_LEND && l.generation == 0))
		abort();
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
	forward(&hdr, msg + sizeof(hdr), hasfd);
	relay(&hdr, msg + sizeof(hdr), hasfd);
	lend(&hdr, msg + sizeof(hdr), hasfd);
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
			hdr.type = (data[0] >> 1) % 4 < 2 ?
			    IPC_FORWARD + (data[0] >> 1) % 4 :
			    IPC_LEND + (data[0] >> 1) % 4 - 2;
		memcpy(copy, &hdr, sizeof(hdr));
		check(copy, n, data[0] & 1);
	}
	free(copy);
	return 0;
}
