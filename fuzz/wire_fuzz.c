/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for wire_decode and wire_encode (lib/wire.h). The input
 * is decoded from an exact-size heap copy (ASan catches any read past
 * len), as it is and again with its length field made to agree with its
 * size. An accepted message must encode back to the same bytes and decode
 * to the same fields, and no proper prefix of it may decode. The same
 * bytes read as message fields must be refused by the encoder or encode
 * into something the decoder gives back unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "../lib/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The fields that travel for m->type; the others are zero after decode. */
static int
same(const struct wire_msg *a, const struct wire_msg *b)
{
	if (a->type != b->type || a->id != b->id)
		return 0;
	switch (a->type) {
	case WIRE_HANDOFF_RAW:
		if (a->proto != b->proto || strcmp(a->match, b->match) != 0 ||
		    strcmp(a->alpn, b->alpn) != 0)
			return 0;
		/* FALLTHROUGH */
	case WIRE_HANDOFF:
		return strcmp(a->name, b->name) == 0 &&
		    a->family == b->family && a->peer_port == b->peer_port &&
		    a->local_port == b->local_port &&
		    memcmp(a->peer_addr, b->peer_addr, 16) == 0 &&
		    memcmp(a->local_addr, b->local_addr, 16) == 0 &&
		    a->preread_len == b->preread_len &&
		    (a->preread_len == 0 ||
		    memcmp(a->preread, b->preread, a->preread_len) == 0);
	case WIRE_REGISTER:
		return strcmp(a->name, b->name) == 0;
	case WIRE_REGISTER_PORT:
		return strcmp(a->name, b->name) == 0 && a->port == b->port;
	case WIRE_ACK:
	case WIRE_REGISTERED:
		return a->status == b->status &&
		    strcmp(a->reason, b->reason) == 0;
	case WIRE_HELLO:
		return a->version == b->version;
	case WIRE_CHANNEL:
		return a->kind == b->kind;
	default:
		return 1;
	}
}

/* What any decoded message must satisfy, whatever the bytes were. */
static void
check_fields(const struct wire_msg *m, const uint8_t *buf, size_t len)
{
	size_t	n, i;

	switch (m->type) {
	case WIRE_HANDOFF_RAW:
		/* Nothing was read from such a client; its texts are clean. */
		if (m->preread_len != 0 || m->proto == 0 ||
		    m->proto >= WIRE_PROTO_MAX ||
		    strlen(m->match) > WIRE_MATCH_MAX ||
		    strlen(m->alpn) > WIRE_ALPN_MAX)
			abort();
		for (i = 0; m->match[i] != '\0'; i++)
			if (m->match[i] >= 'A' && m->match[i] <= 'Z')
				abort();
		for (i = 0; m->alpn[i] != '\0'; i++)
			if (m->alpn[i] <= ' ' || m->alpn[i] > 0x7e)
				abort();
		/* FALLTHROUGH */
	case WIRE_HANDOFF:
		if ((m->family != 4 && m->family != 6) ||
		    m->preread_len > WIRE_PREREAD_MAX ||
		    (m->preread_len > 0 && (m->preread < buf ||
		    m->preread + m->preread_len != buf + len)))
			abort();
		/* FALLTHROUGH */
	case WIRE_REGISTER_PORT:
		if (m->type == WIRE_REGISTER_PORT && m->port == 0)
			abort();
		/* FALLTHROUGH */
	case WIRE_REGISTER:
		n = strlen(m->name);
		if (n == 0 || n > WIRE_NAME_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (m->name[i] >= 'A' && m->name[i] <= 'Z')
				abort();
		break;
	case WIRE_ACK:
	case WIRE_REGISTERED:
		n = strlen(m->reason);
		if (m->status > 1 || n > WIRE_REASON_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (m->reason[i] < 0x20 || m->reason[i] > 0x7e)
				abort();
		break;
	case WIRE_GO:
	case WIRE_ACCEPT:
		if (len != WIRE_HDR_LEN)
			abort();
		break;
	case WIRE_HELLO:
		if (len != WIRE_HDR_LEN + 1 || m->id != 0 ||
		    m->version < WIRE_V2)
			abort();
		break;
	case WIRE_CHANNEL:
		if (len != WIRE_HDR_LEN + 1 || m->id != 0 || m->kind == 0 ||
		    m->kind >= WIRE_CHAN_MAX)
			abort();
		break;
	default:
		abort();
	}
}

/* A message decoded from (buf, len) must round-trip byte for byte. */
static void
round_trip(const struct wire_msg *m, const uint8_t *buf, size_t len)
{
	struct wire_msg	 again, cut;
	uint8_t		*out;
	size_t		 i;

	if ((out = malloc(len)) == NULL)
		return;
	if (wire_encode(out, len, m) != len || memcmp(out, buf, len) != 0 ||
	    wire_encode(out, len - 1, m) != 0)
		abort();
	if (wire_decode(out, len, &again) != 0 || !same(m, &again))
		abort();
	for (i = 0; i < len; i++)
		if (wire_decode(out, i, &cut) != -1)
			abort();
	free(out);
}

/*
 * The input read as message fields, for the encoder: whatever the encoder
 * accepts, the decoder must accept and report unchanged.
 */
static void
encode_fields(const uint8_t *data, size_t size)
{
	struct wire_msg	 m, back;
	uint8_t		 buf[WIRE_MSG_MAX];
	const uint8_t	*p = data;
	/* type, id, name, family, ports and addresses, status, reason,
	 * preread_len */
	size_t		 n, fixed = 1 + 4 + 16 + 1 + 36 + 1 + 65 + 2;

	if (size < fixed)
		return;
	memset(&m, 0, sizeof(m));
	m.type = (enum wire_type)(p[0] % 11);
	memcpy(&m.id, p + 1, 4);
	memcpy(m.name, p + 5, 16);
	m.family = p[21];
	m.peer_port = (uint16_t)(p[22] << 8 | p[23]);
	memcpy(m.peer_addr, p + 24, 16);
	m.local_port = (uint16_t)(p[40] << 8 | p[41]);
	memcpy(m.local_addr, p + 42, 16);
	m.status = p[58];
	memcpy(m.reason, p + 59, 65);
	m.preread_len = (uint16_t)(p[124] << 8 | p[125]);
	/* The rest is the preread; preread_len never claims more. */
	if (m.preread_len > size - fixed)
		m.preread_len = (uint16_t)(size - fixed > 0xffff ? 0xffff :
		    size - fixed);
	m.preread = m.preread_len > 0 ? p + fixed : NULL;
	/* HANDOFF_RAW's own fields from the bytes of the others. */
	m.proto = p[58];
	m.version = p[58];
	m.kind = p[21];
	memcpy(m.match, p + 5, 16);
	memcpy(m.alpn, p + 59, 65);

	if ((n = wire_encode(buf, sizeof(buf), &m)) == 0)
		return;
	if (n < WIRE_HDR_LEN || wire_decode(buf, n, &back) != 0 ||
	    !same(&m, &back))
		abort();
	check_fields(&back, buf, n);
}

static void
decode_one(const uint8_t *buf, size_t len)
{
	struct wire_msg	m;

	if (wire_decode(buf, len, &m) == 0) {
		check_fields(&m, buf, len);
		round_trip(&m, buf, len);
	}
}

static void
put32(uint8_t *p, size_t v)
{
	p[0] = (v >> 24) & 0xff;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	*copy;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	decode_one(copy, size);
	/*
	 * Again with the length field made to agree with the size, so the
	 * body parsers are reached without the fuzzer having to keep the
	 * two in step.
	 */
	if (size >= WIRE_HDR_LEN) {
		put32(copy + 8, size - WIRE_HDR_LEN);
		decode_one(copy, size);
	}
	free(copy);
	encode_fields(data, size);
	return 0;
}
