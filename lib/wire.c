/* SPDX-License-Identifier: ISC */
/*
 * wire.c: the messages between oneportd and a running service (wire.h).
 * Pure functions over (buf, len): no I/O, no globals, no allocation. The
 * decoder never reads past len and accepts exactly one encoding of each
 * message, so decode followed by encode gives back the same bytes
 * (fuzz/wire_fuzz.c checks it).
 */
#include <string.h>

#include "name.h"
#include "wire.h"

/* Body lengths not counting the variable parts. */
#define HANDOFF_FIXED	(1 + 1 + 2 + 16 + 2 + 16 + 2)
#define STATUS_FIXED	(1 + 1)
#define REGISTER_FIXED	1

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* strnlen(3) without needing POSIX: the length, or max if no NUL. */
static size_t
bounded_len(const char *s, size_t max)
{
	const char	*nul = memchr(s, '\0', max);

	return nul != NULL ? (size_t)(nul - s) : max;
}

static int
reason_valid(const uint8_t *s, size_t len)
{
	size_t	i;

	if (len > WIRE_REASON_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* HANDOFF_RAW's texts: a host (match) or an ALPN name. */
static int
text_valid(const uint8_t *s, size_t len, int host)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (host ? !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '-' || s[i] == '_' || s[i] == ':') :
		    (s[i] <= 0x20 || s[i] > 0x7e))
			return 0;
	}
	return 1;
}

/* An IPv4 address travels in the first 4 bytes; the other 12 are zero. */
static int
addr_valid(uint8_t family, const uint8_t *a)
{
	size_t	i;

	if (family == 6)
		return 1;
	if (family != 4)
		return 0;
	for (i = 4; i < 16; i++)
		if (a[i] != 0)
			return 0;
	return 1;
}

size_t
wire_encode(uint8_t *buf, size_t cap, const struct wire_msg *m)
{
	size_t	 nlen = 0, rlen = 0, mlen = 0, alen = 0, body, o;

	switch (m->type) {
	case WIRE_HANDOFF_RAW:
		mlen = bounded_len(m->match, sizeof(m->match));
		alen = bounded_len(m->alpn, sizeof(m->alpn));
		if (m->proto == 0 || m->proto >= WIRE_PROTO_MAX ||
		    m->preread_len != 0 || mlen > WIRE_MATCH_MAX ||
		    alen > WIRE_ALPN_MAX ||
		    !text_valid((const uint8_t *)m->match, mlen, 1) ||
		    !text_valid((const uint8_t *)m->alpn, alen, 0))
			return 0;
		/* FALLTHROUGH */
	case WIRE_HANDOFF:
	case WIRE_REGISTER:
	case WIRE_REGISTER_PORT:
		nlen = bounded_len(m->name, sizeof(m->name));
		if (!name_valid(m->name, nlen, NAME_LOWER))
			return 0;
		if (m->type == WIRE_REGISTER) {
			body = REGISTER_FIXED + nlen;
			break;
		}
		if (m->type == WIRE_REGISTER_PORT) {
			if (m->port == 0)
				return 0;
			body = REGISTER_FIXED + nlen + 2;
			break;
		}
		if (!addr_valid(m->family, m->peer_addr) ||
		    !addr_valid(m->family, m->local_addr) ||
		    m->preread_len > WIRE_PREREAD_MAX ||
		    (m->preread_len > 0 && m->preread == NULL))
			return 0;
		body = HANDOFF_FIXED + nlen + m->preread_len;
		if (m->type == WIRE_HANDOFF_RAW)
			body += 3 + mlen + alen;
		break;
	case WIRE_ACK:
	case WIRE_REGISTERED:
		rlen = bounded_len(m->reason, sizeof(m->reason));
		if (m->status > 1 ||
		    !reason_valid((const uint8_t *)m->reason, rlen))
			return 0;
		body = STATUS_FIXED + rlen;
		break;
	case WIRE_GO:
	case WIRE_ACCEPT:
		body = 0;
		break;
	case WIRE_HELLO:
		if (m->version < WIRE_V2 || m->id != 0)
			return 0;
		body = 1;
		break;
	case WIRE_CHANNEL:
		if (m->kind == 0 || m->kind >= WIRE_CHAN_MAX || m->id != 0)
			return 0;
		body = 1;
		break;
	default:
		return 0;
	}
	if (cap < WIRE_HDR_LEN || cap - WIRE_HDR_LEN < body)
		return 0;

	buf[0] = 'O';
	buf[1] = 'P';
	buf[2] = WIRE_VERSION;
	buf[3] = m->type;
	put32(buf + 4, m->id);
	put32(buf + 8, body);
	o = WIRE_HDR_LEN;
	switch (m->type) {
	case WIRE_HANDOFF_RAW:
	case WIRE_HANDOFF:
	case WIRE_REGISTER:
	case WIRE_REGISTER_PORT:
		buf[o++] = nlen;
		memcpy(buf + o, m->name, nlen);
		o += nlen;
		if (m->type == WIRE_REGISTER)
			break;
		if (m->type == WIRE_REGISTER_PORT) {
			put16(buf + o, m->port);
			o += 2;
			break;
		}
		buf[o++] = m->family;
		put16(buf + o, m->peer_port);
		memcpy(buf + o + 2, m->peer_addr, 16);
		put16(buf + o + 18, m->local_port);
		memcpy(buf + o + 20, m->local_addr, 16);
		put16(buf + o + 36, m->preread_len);
		o += 38;
		if (m->preread_len > 0)
			memcpy(buf + o, m->preread, m->preread_len);
		o += m->preread_len;
		if (m->type != WIRE_HANDOFF_RAW)
			break;
		buf[o++] = m->proto;
		buf[o++] = mlen;
		memcpy(buf + o, m->match, mlen);
		o += mlen;
		buf[o++] = alen;
		memcpy(buf + o, m->alpn, alen);
		o += alen;
		break;
	case WIRE_ACK:
	case WIRE_REGISTERED:
		buf[o++] = m->status;
		buf[o++] = rlen;
		memcpy(buf + o, m->reason, rlen);
		o += rlen;
		break;
	case WIRE_HELLO:
		buf[o++] = m->version;
		break;
	case WIRE_CHANNEL:
		buf[o++] = m->kind;
		break;
	default:
		break;
	}
	return o;
}

/* HANDOFF_RAW's tail: proto, match, alpn; nothing was pre-read. */
static int
raw_decode(const uint8_t **bp, size_t *leftp, struct wire_msg *m)
{
	const uint8_t	*b = *bp;
	size_t		 left = *leftp, n;

	if (m->preread_len != 0 || left < 2 || b[0] == 0 ||
	    b[0] >= WIRE_PROTO_MAX)
		return -1;
	m->proto = b[0];
	n = b[1];
	if (n > WIRE_MATCH_MAX || left - 2 < n || !text_valid(b + 2, n, 1))
		return -1;
	memcpy(m->match, b + 2, n);
	m->match[n] = '\0';
	b += 2 + n;
	left -= 2 + n;
	if (left < 1 || (n = b[0]) > left - 1 || !text_valid(b + 1, n, 0))
		return -1;
	memcpy(m->alpn, b + 1, n);
	m->alpn[n] = '\0';
	*bp = b + 1 + n;
	*leftp = left - 1 - n;
	return 0;
}

/*
 * Every length is checked against what is left before the bytes it covers
 * are touched; b and left always describe the unread rest of the body.
 */
int
wire_decode(const uint8_t *buf, size_t len, struct wire_msg *m)
{
	const uint8_t	*b;
	size_t		 left, n;

	memset(m, 0, sizeof(*m));
	if (len < WIRE_HDR_LEN || buf[0] != 'O' || buf[1] != 'P' ||
	    buf[2] != WIRE_VERSION || get32(buf + 8) != len - WIRE_HDR_LEN)
		return -1;
	m->id = get32(buf + 4);
	b = buf + WIRE_HDR_LEN;
	left = len - WIRE_HDR_LEN;

	switch (buf[3]) {
	case WIRE_HANDOFF_RAW:
	case WIRE_HANDOFF:
	case WIRE_REGISTER:
	case WIRE_REGISTER_PORT:
		if (left < 1)
			goto bad;
		n = b[0];
		if (left - 1 < n ||
		    !name_valid((const char *)b + 1, n, NAME_LOWER))
			goto bad;
		memcpy(m->name, b + 1, n);
		m->name[n] = '\0';
		b += 1 + n;
		left -= 1 + n;
		if (buf[3] == WIRE_REGISTER)
			break;
		if (buf[3] == WIRE_REGISTER_PORT) {
			if (left < 2 || (m->port = get16(b)) == 0)
				goto bad;
			b += 2;
			left -= 2;
			break;
		}
		if (left < HANDOFF_FIXED - 1)
			goto bad;
		m->family = b[0];
		m->peer_port = get16(b + 1);
		memcpy(m->peer_addr, b + 3, 16);
		m->local_port = get16(b + 19);
		memcpy(m->local_addr, b + 21, 16);
		m->preread_len = get16(b + 37);
		b += HANDOFF_FIXED - 1;
		left -= HANDOFF_FIXED - 1;
		if (!addr_valid(m->family, m->peer_addr) ||
		    !addr_valid(m->family, m->local_addr) ||
		    m->preread_len > WIRE_PREREAD_MAX ||
		    left < m->preread_len)
			goto bad;
		m->preread = m->preread_len > 0 ? b : NULL;
		b += m->preread_len;
		left -= m->preread_len;
		if (buf[3] == WIRE_HANDOFF_RAW && raw_decode(&b, &left, m) == -1)
			goto bad;
		break;
	case WIRE_ACK:
	case WIRE_REGISTERED:
		if (left < STATUS_FIXED)
			goto bad;
		m->status = b[0];
		n = b[1];
		if (m->status > 1 || left - STATUS_FIXED < n ||
		    !reason_valid(b + 2, n))
			goto bad;
		memcpy(m->reason, b + 2, n);
		m->reason[n] = '\0';
		b += STATUS_FIXED + n;
		left -= STATUS_FIXED + n;
		break;
	case WIRE_GO:
	case WIRE_ACCEPT:
		break;
	case WIRE_HELLO:
	case WIRE_CHANNEL:
		/* One byte; id 0, so that one encoding exists. */
		if (left < 1 || m->id != 0)
			goto bad;
		if (buf[3] == WIRE_HELLO && (m->version = b[0]) < WIRE_V2)
			goto bad;
		if (buf[3] == WIRE_CHANNEL && ((m->kind = b[0]) == 0 ||
		    m->kind >= WIRE_CHAN_MAX))
			goto bad;
		b++;
		left--;
		break;
	default:
		goto bad;
	}
	/* Trailing bytes: the body must be exactly what its fields say. */
	if (left != 0)
		goto bad;
	m->type = (enum wire_type)buf[3];
	return 0;
bad:
	memset(m, 0, sizeof(*m));
	return -1;
}
