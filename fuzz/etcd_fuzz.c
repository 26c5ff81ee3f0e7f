/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for what the cluster process reads of etcd's
 * (src/cluster/etcd.c): the first byte picks the parser, the rest is
 * etcd's bytes. A response head that is complete is complete on every
 * longer input and on no shorter one; a chunk line likewise; a JSON
 * message gives printable keys and values within their bounds; base64
 * round-trips; a member's value is an address and a port.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct etcd_kv	kv[ETCD_EVENTS_MAX];

static void
head(const char *p, size_t n)
{
	struct resp_head	h, h2;
	enum resp_result	r = resp_head_parse(p, n, &h);

	if (r != RESP_OK)
		return;
	if (h.consumed == 0 || h.consumed > n || h.status < 100 ||
	    h.status > 599 || h.length < -1)
		abort();
	if (resp_head_parse(p, h.consumed - 1, &h2) != RESP_NEED_MORE ||
	    resp_head_parse(p, h.consumed, &h2) != RESP_OK ||
	    h2.consumed != h.consumed)
		abort();
}

static void
chunk(const char *p, size_t n)
{
	size_t	size, used;

	if (resp_chunk_line(p, n, &size, &used) == RESP_OK &&
	    (used == 0 || used > n || size > 0xfffffff))
		abort();
	(void)resp_chunk_end(p, n);
}

static void
msg(const char *p, size_t n)
{
	struct etcd_msg	m;
	int		i;
	size_t		j;

	m.kv = kv;
	if (etcd_msg_parse(p, n, &m) == -1)
		return;
	if (m.nkv < 0 || m.nkv > ETCD_EVENTS_MAX ||
	    memchr(m.why, '\0', sizeof(m.why)) == NULL)
		abort();
	for (i = 0; i < m.nkv; i++) {
		if (memchr(kv[i].key, '\0', sizeof(kv[i].key)) == NULL ||
		    memchr(kv[i].val, '\0', sizeof(kv[i].val)) == NULL)
			abort();
		for (j = 0; kv[i].key[j] != '\0'; j++)
			if (kv[i].key[j] < ' ' || kv[i].key[j] > '~')
				abort();
	}
}

static void
b64(const char *p, size_t n)
{
	char	enc[1024], dec[1024];
	ssize_t	k;

	if (n > 700)
		n = 700;
	/* 0 is also the length of nothing encoded. */
	if ((b64_encode(p, n, enc, sizeof(enc)) == 0 && n > 0) ||
	    (k = b64_decode(enc, strlen(enc), dec, sizeof(dec))) !=
	    (ssize_t)n || memcmp(dec, p, n) != 0)
		abort();
	(void)b64_decode(p, n, dec, sizeof(dec));
}

static void
value(const char *p, size_t n)
{
	struct sockaddr_storage	ss;
	char			s[700];
	const char		*rules;
	int			port;

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, p, n);
	s[n] = '\0';
	if (etcd_value_parse(s, &ss, &port, &rules) == 0 &&
	    ((ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    port < 1 || port > 65535 || rules < s || rules > s + n))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*p;

	if (size < 1)
		return 0;
	/* An exact-size copy: a read past the end is caught. */
	if ((p = malloc(size - 1 + 1)) == NULL)
		return 0;
	memcpy(p, data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		head(p, size - 1);
		break;
	case 1:
		chunk(p, size - 1);
		break;
	case 2:
		msg(p, size - 1);
		break;
	case 3:
		b64(p, size - 1);
		break;
	case 4:
		value(p, size - 1);
		break;
	}
	free(p);
	return 0;
}
