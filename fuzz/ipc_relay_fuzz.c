/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the messages between the parent and the relay:
 * ipc_forward_parse and ipc_fwdtab_parse (the relay reading IPC_FORWARD,
 * IPC_FWDTAB), ipc_relay_parse (the parent reading DONE, STARTED,
 * DISPATCH, DRAIN, LOG, READY), and ipc_lend_parse (the relay
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
	if (why != NULL || m.type != hdr->type ||
	    m.type == IPC_FORWARD || m.type == IPC_CONFIG ||
	    m.type == IPC_FSTATS || m.type == IPC_FWDTAB)
		abort();
	/* A client back: one the frontend sent, as it may send them. */
	if (m.type == IPC_DISPATCH && (!hasfd || m.f.dispatch.flags != 0))
		abort();
	if (m.type == IPC_DRAIN && (hasfd || m.drained == 0))
		abort();
	if (m.type == IPC_PING && (hasfd || hdr->len != 0))
		abort();
	if (m.type == IPC_STARTED && (hasfd ||
	    !(m.started.id & DONE_DIRECT) || m.started.d.flags != 0 ||
	    m.started.d.proto >= PROTO_MAX ||
	    memchr(m.started.d.name, '\0', sizeof(m.started.d.name)) ==
	    NULL || !name_valid(m.started.d.name,
	    strlen(m.started.d.name), 0) || m.started.d.token[0] != '\0' ||
	    (m.started.d.peer.sin6_family != AF_INET &&
	    m.started.d.peer.sin6_family != AF_INET6)))
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

/* The relay's table: what relay.c and table.c rely on. */
static void
fwdtab(const struct ipc_hdr *hdr, const uint8_t *p, int hasfd)
{
	struct ipc_fwdtab	 t;
	struct ipc_fwdsvc	 e;
	const uint8_t		*entries;
	const char		*why;
	char			 prev[SERVICE_NAME_MAX + 1] = "";
	uint32_t		 i;

	if (ipc_fwdtab_parse(hdr->type, p, hdr->len, hasfd, &t, &entries,
	    &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (why != NULL || hasfd || hdr->type != IPC_FWDTAB ||
	    t.max_total < 1 || t.n > FWDTAB_MAX ||
	    hdr->len != sizeof(t) + (size_t)t.n * sizeof(e))
		abort();
	for (i = 0; i < t.n; i++) {
		memcpy(&e, entries + (size_t)i * sizeof(e), sizeof(e));
		if (memchr(e.f.name, '\0', sizeof(e.f.name)) == NULL ||
		    !name_valid(e.f.name, strlen(e.f.name), 0) ||
		    strcmp(prev, e.f.name) >= 0 || e.f.proxy > 2 ||
		    e.f.naddrs > FORWARD_ADDRS_MAX || e.f.idle_s < 1 ||
		    e.f.connect_ms < 1 || e.f.flags != 0 ||
		    (e.f.naddrs == 0) != (e.f.path[0] == '/') ||
		    memchr(e.f.path, '\0', sizeof(e.f.path)) == NULL)
			abort();
		memcpy(prev, e.f.name, sizeof(prev));
	}
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
	fwdtab(&hdr, msg + sizeof(hdr), hasfd);
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
		if (hdr.type == 0 || hdr.type >= IPC_TYPE_MAX) {
			static const uint8_t types[] = { IPC_FORWARD,
			    IPC_DONE, IPC_LEND, IPC_UNLEND, IPC_FWDTAB,
			    IPC_STARTED, IPC_DRAIN, IPC_DISPATCH };

			hdr.type = types[(data[0] >> 1) % sizeof(types)];
		}
		memcpy(copy, &hdr, sizeof(hdr));
		check(copy, n, data[0] & 1);
	}
	free(copy);
	return 0;
}
