/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for ipc_config_parse (src/common/ipc.c): the frontend's reading
 * of the parent's IPC_CONFIG. The input is parsed from an exact-size heap
 * copy (ASan catches any read past len), as it is and again with its
 * settings and counts made valid, so the fuzzer reaches the names,
 * answers, rules, PROXY sources and allow/deny entries. What is accepted
 * must hold what the frontend relies on: at most MAX_SERVICES valid names
 * in strictly ascending order, every answer inside the blob, every rule's
 * strings NUL-terminated inside it and its service among the names, every
 * source and entry a network, each service's entries after the global
 * ones and inside the array, and the same verdict for the same bytes.
 */
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A string of a rule: "any", or len bytes and a NUL inside the blob. */
static void
check_string(const struct ipc_config_view *v, uint32_t off, uint32_t len)
{
	if (len == 0)
		return;
	if ((size_t)off + len >= v->bloblen || v->blob[off + len] != '\0' ||
	    strlen((const char *)v->blob + off) != len)
		abort();
}

static void
check_rules(const struct ipc_config_view *v)
{
	struct ipc_service	 s;
	struct ipc_rule		 r;
	struct ipc_net		 n;
	struct ipc_acl		 a;
	uint32_t		 i, j, silence = 0;

	if (v->set.nrules > MAX_RULES || v->set.nproxy > MAX_PROXY_FROM ||
	    v->set.nacl > MAX_ACL || v->set.nacl_default > v->set.nacl ||
	    v->rules != v->svcs + v->set.nservices * sizeof(s) ||
	    v->nets != v->rules + v->set.nrules * sizeof(r) ||
	    v->acls != v->nets + v->set.nproxy * sizeof(n) ||
	    v->blob != v->acls + v->set.nacl * sizeof(a) ||
	    v->set.silence_ms >= v->set.timeout_ms)
		abort();
	for (i = 0; i < v->set.nrules; i++) {
		memcpy(&r, v->rules + i * sizeof(r), sizeof(r));
		if (r.proto == PROTO_TCPMUX || r.proto >= PROTO_MAX ||
		    r.host_len > HOST_NAME_LEN || r.alpn_len > ALPN_NAME_LEN ||
		    (r.alpn_len > 0 && r.proto != PROTO_TLS))
			abort();
		check_string(v, r.host_off, r.host_len);
		check_string(v, r.alpn_off, r.alpn_len);
		silence += r.proto == PROTO_SILENCE;
		/* A linear search, unlike the parser's bsearch. */
		for (j = 0; j < v->set.nservices; j++) {
			memcpy(&s, v->svcs + j * sizeof(s), sizeof(s));
			if (strcmp(s.name, r.service) == 0)
				break;
		}
		if (j == v->set.nservices)
			abort();
	}
	if (silence != (v->set.silence_ms > 0))
		abort();
	for (i = 0; i < v->set.nproxy + v->set.nacl; i++) {
		if (i < v->set.nproxy)
			memcpy(&n, v->nets + i * sizeof(n), sizeof(n));
		else {
			memcpy(&a, v->acls + (i - v->set.nproxy) * sizeof(a),
			    sizeof(a));
			if (a.deny > 1)
				abort();
			n = a.net;
		}
		if ((n.family != AF_INET || n.prefix > 32) &&
		    (n.family != AF_INET6 || n.prefix > 128))
			abort();
		for (j = n.prefix; j < 128; j++)
			if (n.addr[j / 8] & (0x80 >> (j % 8)))
				abort();
	}
	for (i = 0; i < v->set.nservices; i++) {
		memcpy(&s, v->svcs + i * sizeof(s), sizeof(s));
		if (s.acl_len > 0 && ((uint64_t)s.acl_off + s.acl_len >
		    v->set.nacl || s.acl_off < v->set.nacl_default))
			abort();
	}
}

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
	    v.blob + v.bloblen != p + len)
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
	check_rules(&v);
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
		set.silence_ms %= set.timeout_ms;
		room = size - sizeof(set);
		if (set.nservices > room / sizeof(struct ipc_service))
			set.nservices = room / sizeof(struct ipc_service);
		room -= set.nservices * sizeof(struct ipc_service);
		if (set.nrules > room / sizeof(struct ipc_rule))
			set.nrules = room / sizeof(struct ipc_rule);
		set.nrules %= MAX_RULES + 1;
		room -= set.nrules * sizeof(struct ipc_rule);
		if (set.nproxy > room / sizeof(struct ipc_net))
			set.nproxy = room / sizeof(struct ipc_net);
		set.nproxy %= MAX_PROXY_FROM + 1;
		room -= set.nproxy * sizeof(struct ipc_net);
		if (set.nacl > room / sizeof(struct ipc_acl))
			set.nacl = room / sizeof(struct ipc_acl);
		set.nacl %= MAX_ACL + 1;
		set.nacl_default %= set.nacl + 1;
		memcpy(copy, &set, sizeof(set));
		check(copy, size);
	}
	free(copy);
	return 0;
}
