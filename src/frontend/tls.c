/* SPDX-License-Identifier: ISC */
/*
 * tls.c: the TLS ClientHello (RFC 8446 4.1.2, 5.1), reassembled from
 * the handshake records that carry it, however the client cut it: a
 * post-quantum key share makes a hello of 1.6 KB or more, and a client
 * may split even the 4-byte handshake header across records. A pure
 * function over (buf, len): no I/O, no globals, no allocation. It reads
 * the hello's fields in order, each once its bytes are in, and reads
 * nothing after the hello, so a split never changes the verdict and junk
 * after the hello is not looked at (fuzz/probe_fuzz.c).
 */
#include <string.h>

#include "frontend.h"

#define RECORD_HDR	5
#define RECORD_MAX	(1 << 14)	/* RFC 8446 5.1 */
#define HS_HDR		4
#define HS_CLIENT_HELLO	1
#define EXT_SERVER_NAME	0x0000
#define EXT_ALPN	0x0010
#define EXT_ECH		0xfe0d

#define BAD_RECORD	"bad TLS record"
#define BAD_NOT_HELLO	"not a ClientHello"
#define BAD_TOO_LARGE	"ClientHello too large"
#define BAD_LENGTHS	"bad ClientHello lengths"
#define BAD_HELLO	"bad ClientHello"
#define BAD_SNI		"bad server name"
#define BAD_ALPN	"bad ALPN list"
#define BAD_ALPN_LONG	"ALPN list too long"

/* The handshake stream, read across records. */
struct rd {
	const uint8_t	*buf;
	size_t		 len;		/* bytes looked at, up to HELLO_MAX */
	int		 capped;	/* buf has HELLO_MAX or more: no more
					 * bytes will come to look at */
	size_t		 pos;		/* next byte of buf */
	size_t		 left;		/* payload of the record at pos */
	size_t		 off;		/* handshake bytes read */
	size_t		 hello_end;	/* the hello's end in them; 0 unknown */
	size_t		 limit;		/* no read beyond: hello, extension */
	const char	*why;
};

static enum probe_result
bad(struct rd *r, const char *why)
{
	r->why = why;
	return PROBE_BAD;
}

/* Out of bytes: more will come, unless HELLO_MAX are in already. */
static enum probe_result
out(struct rd *r)
{
	return r->capped ? bad(r, BAD_TOO_LARGE) : PROBE_AGAIN;
}

/* The next record's header, each byte judged as it arrives. */
static enum probe_result
record(struct rd *r)
{
	const uint8_t	*p = r->buf + r->pos;
	size_t		 have = r->len - r->pos, n;

	if (have < 1)
		return out(r);
	if (p[0] != 0x16)
		return bad(r, BAD_RECORD);	/* not a handshake record */
	if (have < 2)
		return out(r);
	if (p[1] != 3)
		return bad(r, BAD_RECORD);
	if (have < RECORD_HDR)
		return out(r);
	n = (size_t)p[3] << 8 | p[4];
	if (n == 0 || n > RECORD_MAX)
		return bad(r, BAD_RECORD);
	r->pos += RECORD_HDR;
	r->left = n;
	return PROBE_MATCH;
}

/* n bytes of the stream into dst (NULL: skipped), within the limit. */
static enum probe_result
take(struct rd *r, uint8_t *dst, size_t n)
{
	enum probe_result	rv;
	size_t			k;

	if (n > r->limit - r->off)
		return bad(r, BAD_LENGTHS);
	while (n > 0) {
		if (r->left == 0 && (rv = record(r)) != PROBE_MATCH)
			return rv;
		k = n < r->left ? n : r->left;
		if (k > r->len - r->pos)
			k = r->len - r->pos;
		if (k == 0)
			return out(r);
		if (dst != NULL) {
			memcpy(dst, r->buf + r->pos, k);
			dst += k;
		}
		r->pos += k;
		r->left -= k;
		r->off += k;
		n -= k;
	}
	return PROBE_MATCH;
}

/* A big-endian number of n (1..3) bytes. */
static enum probe_result
num(struct rd *r, size_t n, size_t *v)
{
	enum probe_result	rv;
	uint8_t			b[3];
	size_t			i;

	if ((rv = take(r, b, n)) != PROBE_MATCH)
		return rv;
	for (*v = 0, i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return PROBE_MATCH;
}

/* A vector: its length of n bytes, within lo..hi, then skipped. */
static enum probe_result
skip_vec(struct rd *r, size_t n, size_t lo, size_t hi, size_t *got)
{
	enum probe_result	rv;
	size_t			v;

	if ((rv = num(r, n, &v)) != PROBE_MATCH)
		return rv;
	if (v < lo || v > hi)
		return bad(r, BAD_HELLO);
	if (got != NULL)
		*got = v;
	return take(r, NULL, v);
}

/* server_name (RFC 6066 3): a list of (type, name); one host_name (type
 * 0) at most. */
static enum probe_result
server_name(struct rd *r, size_t elen, struct tls_hello *h)
{
	enum probe_result	rv;
	uint8_t			name[HOST_NAME_LEN + 2];
	size_t			list, type, n, end;
	int			seen = 0;

	if ((rv = num(r, 2, &list)) != PROBE_MATCH)
		return rv;
	if (list == 0 || list + 2 != elen)
		return bad(r, BAD_SNI);
	for (end = r->off + list; r->off < end; ) {
		if ((rv = num(r, 1, &type)) != PROBE_MATCH ||
		    (rv = num(r, 2, &n)) != PROBE_MATCH)
			return rv;
		if (type != 0) {
			if ((rv = take(r, NULL, n)) != PROBE_MATCH)
				return rv;
			continue;
		}
		if (seen++ || n == 0 || n > sizeof(name))
			return bad(r, BAD_SNI);
		if ((rv = take(r, name, n)) != PROBE_MATCH)
			return rv;
		if (probe_host(name, n, h->sni) == -1)
			return bad(r, BAD_SNI);
	}
	return PROBE_MATCH;
}

/* ALPN (RFC 7301 3.1): names of 1..255 bytes, kept as sent. */
static enum probe_result
alpn(struct rd *r, size_t elen, struct tls_hello *h)
{
	enum probe_result	rv;
	size_t			list, i;

	if ((rv = num(r, 2, &list)) != PROBE_MATCH)
		return rv;
	if (list < 2 || list + 2 != elen)
		return bad(r, BAD_ALPN);
	if (list > TLS_ALPN_MAX)
		return bad(r, BAD_ALPN_LONG);
	if ((rv = take(r, h->alpn, list)) != PROBE_MATCH)
		return rv;
	for (i = 0; i < list; i += 1 + h->alpn[i])
		if (h->alpn[i] == 0 || h->alpn[i] >= list - i)
			return bad(r, BAD_ALPN);
	h->alpn_len = list;
	return PROBE_MATCH;
}

/* The extensions, to the hello's end; each read within its own length. */
static enum probe_result
extensions(struct rd *r, struct tls_hello *h)
{
	enum probe_result	rv;
	size_t			type, elen;
	int			sni = 0, alpn_seen = 0;

	while (r->off < r->hello_end) {
		if ((rv = num(r, 2, &type)) != PROBE_MATCH ||
		    (rv = num(r, 2, &elen)) != PROBE_MATCH)
			return rv;
		if (elen > r->hello_end - r->off)
			return bad(r, BAD_LENGTHS);
		r->limit = r->off + elen;
		switch (type) {
		case EXT_SERVER_NAME:
			rv = sni++ ? bad(r, BAD_SNI) : server_name(r, elen, h);
			break;
		case EXT_ALPN:
			rv = alpn_seen++ ? bad(r, BAD_ALPN) : alpn(r, elen, h);
			break;
		case EXT_ECH:
			h->ech = 1;
			/* FALLTHROUGH */
		default:
			rv = take(r, NULL, elen);
			break;
		}
		if (rv != PROBE_MATCH)
			return rv;
		if (r->off != r->limit)
			return bad(r, BAD_LENGTHS);
		r->limit = r->hello_end;
	}
	return PROBE_MATCH;
}

static enum probe_result
hello(struct rd *r, struct tls_hello *h)
{
	enum probe_result	rv;
	size_t			v, n;

	r->limit = HS_HDR;
	if ((rv = num(r, 1, &v)) != PROBE_MATCH)
		return rv;
	if (v != HS_CLIENT_HELLO)
		return bad(r, BAD_NOT_HELLO);
	if ((rv = num(r, 3, &n)) != PROBE_MATCH)
		return rv;
	if (n > HELLO_MAX - RECORD_HDR - HS_HDR)
		return bad(r, BAD_TOO_LARGE);
	r->limit = r->hello_end = HS_HDR + n;

	/* legacy_version, random, session id, cipher suites, compression */
	if ((rv = num(r, 2, &v)) != PROBE_MATCH)
		return rv;
	if (v >> 8 != 3)
		return bad(r, BAD_HELLO);
	if ((rv = take(r, NULL, 32)) != PROBE_MATCH ||
	    (rv = skip_vec(r, 1, 0, 32, NULL)) != PROBE_MATCH ||
	    (rv = skip_vec(r, 2, 2, 0xfffe, &n)) != PROBE_MATCH)
		return rv;
	if (n % 2)
		return bad(r, BAD_HELLO);
	if ((rv = skip_vec(r, 1, 1, 0xff, NULL)) != PROBE_MATCH)
		return rv;
	if (r->off == r->hello_end)
		return PROBE_MATCH;		/* no extensions */
	if ((rv = num(r, 2, &n)) != PROBE_MATCH)
		return rv;
	if (n != r->hello_end - r->off)
		return bad(r, BAD_LENGTHS);
	return extensions(r, h);
}

/*
 * What the hello needs in all, as a lower bound (exact if the rest comes
 * in the current record), for SO_RCVLOWAT: once the hello's length is
 * known, the bytes up to its end plus one record header if the current
 * record ends before it; before that, the current record's end.
 */
static size_t
need(const struct rd *r)
{
	size_t	rest, n;

	if (r->hello_end != 0) {
		rest = r->hello_end - r->off;
		n = r->pos + rest + (rest > r->left ? RECORD_HDR : 0);
	} else
		n = r->left ? r->pos + r->left : 0;
	return n < HELLO_MAX ? n : HELLO_MAX;
}

/*
 * Record type 0x16 with major version 3 is TLS; anything else is NEXT
 * (an SSLv2-compatible hello, 0x80 first, too: it cannot carry SNI or
 * ALPN and no client of this century sends one; the line parser refuses
 * it at its first byte).
 */
enum probe_result
tls_probe(const uint8_t *buf, size_t len, struct tls_hello *h)
{
	enum probe_result	rv;
	struct rd		r;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return PROBE_AGAIN;
	if (buf[0] != 0x16 || (len > 1 && buf[1] != 3))
		return PROBE_NEXT;
	memset(&r, 0, sizeof(r));
	r.buf = buf;
	r.len = len < HELLO_MAX ? len : HELLO_MAX;
	r.capped = len >= HELLO_MAX;
	rv = hello(&r, h);
	if (rv == PROBE_AGAIN)
		h->need = need(&r);
	h->why = r.why;
	if (rv != PROBE_MATCH) {
		h->sni[0] = '\0';
		h->alpn_len = 0;
		h->ech = 0;
	}
	return rv;
}
