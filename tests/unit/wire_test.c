/* SPDX-License-Identifier: ISC */
/*
 * wire_test: wire_encode and wire_decode (lib/wire.h) against tables of
 * messages at and past every field limit, each decoded from an exact-size
 * heap copy (ASan sees any read past len). An accepted message must encode
 * back to the same bytes, and no proper prefix of it may decode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static int	failed, tests;

#define FAIL(...)	do { printf("FAIL " __VA_ARGS__); printf("\n"); \
			    failed++; } while (0)

/* Address fields: 16 bytes each. */
#define Z12	"\0\0\0\0\0\0\0\0\0\0\0\0"
#define LO4	"\x7f\0\0\x01" Z12
#define ONE4	"\x01\x02\x03\x04" Z12
#define LO6	"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
#define FF16	"\xff\xff\xff\xff\xff\xff\xff\xff" \
		"\xff\xff\xff\xff\xff\xff\xff\xff"
/* A HANDOFF body for name "echo": family, ports, addresses, preread. */
#define ECHO	"\x04" "echo"
#define V4TAIL	"\x04" "\x1f\x90" ONE4 "\x1b\x59" LO4
#define V6TAIL	"\x06" "\xc0\x01" LO6 "\x1b\x59" LO6
#define R64	"0123456789012345678901234567890123456789" \
		"012345678901234567890123"

/* One body behind a well-formed header of the given type. */
struct row {
	const char	*what;
	int		 type;
	const char	*body;
	size_t		 len;
	int		 ok;
};

#define OK(w, t, b)	{ w, t, b, sizeof(b) - 1, 1 }
#define BAD(w, t, b)	{ w, t, b, sizeof(b) - 1, 0 }

static const struct row rows[] = {
	/* HANDOFF */
	OK("handoff v4", WIRE_HANDOFF, ECHO V4TAIL "\0\0"),
	OK("handoff v6", WIRE_HANDOFF, ECHO V6TAIL "\0\x03" "abc"),
	OK("handoff v6 all ones", WIRE_HANDOFF,
	    ECHO "\x06" "\xff\xff" FF16 "\xff\xff" FF16 "\0\0"),
	OK("handoff ports 0", WIRE_HANDOFF,
	    ECHO "\x04" "\0\0" ONE4 "\0\0" LO4 "\0\0"),
	OK("handoff name 1 char", WIRE_HANDOFF, "\x01" "a" V4TAIL "\0\0"),
	OK("handoff name 15 chars", WIRE_HANDOFF,
	    "\x0f" "abcdefghijklmno" V4TAIL "\0\0"),
	OK("handoff name digits, hyphens", WIRE_HANDOFF,
	    "\x05" "9-a-0" V4TAIL "\0\0"),
	OK("handoff preread with NUL and CRLF", WIRE_HANDOFF,
	    ECHO V4TAIL "\0\x04" "\0\r\n\xff"),
	BAD("handoff empty body", WIRE_HANDOFF, ""),
	BAD("handoff name_len 0", WIRE_HANDOFF, "\0" V4TAIL "\0\0"),
	BAD("handoff name_len 16", WIRE_HANDOFF,
	    "\x10" "abcdefghijklmnop" V4TAIL "\0\0"),
	BAD("handoff name past body", WIRE_HANDOFF, "\x05" "echo"),
	BAD("handoff name upper case", WIRE_HANDOFF, "\x04" "Echo" V4TAIL
	    "\0\0"),
	BAD("handoff name leading hyphen", WIRE_HANDOFF, "\x04" "-ech" V4TAIL
	    "\0\0"),
	BAD("handoff name trailing hyphen", WIRE_HANDOFF, "\x04" "ech-"
	    V4TAIL "\0\0"),
	BAD("handoff name double hyphen", WIRE_HANDOFF, "\x04" "e--h" V4TAIL
	    "\0\0"),
	BAD("handoff name no letter", WIRE_HANDOFF, "\x04" "1234" V4TAIL
	    "\0\0"),
	BAD("handoff name underscore", WIRE_HANDOFF, "\x04" "e_ho" V4TAIL
	    "\0\0"),
	BAD("handoff name NUL", WIRE_HANDOFF, "\x04" "ec\0o" V4TAIL "\0\0"),
	BAD("handoff name 8-bit", WIRE_HANDOFF, "\x04" "ec\xe9o" V4TAIL
	    "\0\0"),
	BAD("handoff name space", WIRE_HANDOFF, "\x04" "ec o" V4TAIL "\0\0"),
	BAD("handoff family 0", WIRE_HANDOFF,
	    ECHO "\0" "\x1f\x90" ONE4 "\x1b\x59" LO4 "\0\0"),
	BAD("handoff family 5", WIRE_HANDOFF,
	    ECHO "\x05" "\x1f\x90" ONE4 "\x1b\x59" LO4 "\0\0"),
	BAD("handoff family 10 (AF_INET6)", WIRE_HANDOFF,
	    ECHO "\x0a" "\x1f\x90" LO6 "\x1b\x59" LO6 "\0\0"),
	BAD("handoff v4 peer byte 4 set", WIRE_HANDOFF,
	    ECHO "\x04" "\x1f\x90" "\x01\x02\x03\x04\x05" "\0\0\0\0\0\0\0\0"
	    "\0\0\0" "\x1b\x59" LO4 "\0\0"),
	BAD("handoff v4 local byte 15 set", WIRE_HANDOFF,
	    ECHO "\x04" "\x1f\x90" ONE4 "\x1b\x59" LO6 "\0\0"),
	BAD("handoff v6 address in v4 family", WIRE_HANDOFF,
	    ECHO "\x04" "\x1f\x90" LO6 "\x1b\x59" LO4 "\0\0"),
	BAD("handoff cut in peer address", WIRE_HANDOFF,
	    ECHO "\x04" "\x1f\x90" "\x7f\0\0\x01"),
	BAD("handoff no preread_len", WIRE_HANDOFF, ECHO V4TAIL),
	BAD("handoff half preread_len", WIRE_HANDOFF, ECHO V4TAIL "\0"),
	BAD("handoff preread past body", WIRE_HANDOFF,
	    ECHO V4TAIL "\0\x04" "abc"),
	BAD("handoff preread_len 65535", WIRE_HANDOFF,
	    ECHO V4TAIL "\xff\xff" "abc"),
	BAD("handoff trailing byte", WIRE_HANDOFF, ECHO V4TAIL "\0\x01" "ab"),
	BAD("handoff trailing byte, no preread", WIRE_HANDOFF,
	    ECHO V4TAIL "\0\0" "x"),
	/* HANDOFF_RAW: HANDOFF without preread, then proto, match, alpn */
	OK("raw tls sni alpn", WIRE_HANDOFF_RAW,
	    ECHO V4TAIL "\0\0" "\x01" "\x0d" "a.example.org" "\x02" "h2"),
	OK("raw http host v6", WIRE_HANDOFF_RAW,
	    ECHO V6TAIL "\0\0" "\x02" "\x03" "::1" "\0"),
	OK("raw ssh", WIRE_HANDOFF_RAW, ECHO V4TAIL "\0\0" "\x03\0\0"),
	OK("raw silence", WIRE_HANDOFF_RAW, ECHO V4TAIL "\0\0" "\x04\0\0"),
	BAD("raw with preread", WIRE_HANDOFF_RAW,
	    ECHO V4TAIL "\0\x01" "x" "\x01\0\0"),
	BAD("raw proto 0", WIRE_HANDOFF_RAW, ECHO V4TAIL "\0\0" "\0\0\0"),
	BAD("raw proto 5", WIRE_HANDOFF_RAW, ECHO V4TAIL "\0\0" "\x05\0\0"),
	BAD("raw match upper case", WIRE_HANDOFF_RAW,
	    ECHO V4TAIL "\0\0" "\x01\x01" "A" "\0"),
	BAD("raw match past body", WIRE_HANDOFF_RAW,
	    ECHO V4TAIL "\0\0" "\x01\x05" "a.b" "\0"),
	BAD("raw alpn space", WIRE_HANDOFF_RAW,
	    ECHO V4TAIL "\0\0" "\x01\0" "\x03" "h 2"),
	BAD("raw no alpn length", WIRE_HANDOFF_RAW, ECHO V4TAIL "\0\0" "\x01\0"),
	BAD("raw trailing byte", WIRE_HANDOFF_RAW,
	    ECHO V4TAIL "\0\0" "\x03\0\0" "x"),
	/* ACK and REGISTERED share their body */
	OK("ack accepted", WIRE_ACK, "\0\0"),
	OK("ack refused with reason", WIRE_ACK, "\x01\x0c" "service busy"),
	OK("ack accepted with reason", WIRE_ACK, "\0\x02" "ok"),
	OK("ack reason 64 chars", WIRE_ACK, "\x01\x40" R64),
	OK("ack reason space and tilde", WIRE_ACK, "\x01\x03" " ~ "),
	BAD("ack empty body", WIRE_ACK, ""),
	BAD("ack status only", WIRE_ACK, "\0"),
	BAD("ack status 2", WIRE_ACK, "\x02\0"),
	BAD("ack status 255", WIRE_ACK, "\xff\0"),
	BAD("ack reason 65 chars", WIRE_ACK, "\x01\x41" R64 "x"),
	BAD("ack reason past body", WIRE_ACK, "\x01\x05" "busy"),
	BAD("ack reason 0x1f", WIRE_ACK, "\x01\x03" "a\x1f" "b"),
	BAD("ack reason DEL", WIRE_ACK, "\x01\x03" "a\x7f" "b"),
	BAD("ack reason 8-bit", WIRE_ACK, "\x01\x03" "a\x80" "b"),
	BAD("ack reason NUL", WIRE_ACK, "\x01\x03" "a\0b"),
	BAD("ack reason CR LF", WIRE_ACK, "\x01\x02" "\r\n"),
	BAD("ack trailing byte", WIRE_ACK, "\0\0" "x"),
	OK("registered ok", WIRE_REGISTERED, "\0\0"),
	OK("registered refused", WIRE_REGISTERED, "\x01\x0b" "name in use"),
	BAD("registered status 2", WIRE_REGISTERED, "\x02\0"),
	BAD("registered reason tab", WIRE_REGISTERED, "\x01\x01" "\t"),
	BAD("registered trailing byte", WIRE_REGISTERED, "\x01\x01" "ab"),
	/* GO */
	OK("go", WIRE_GO, ""),
	BAD("go with a body", WIRE_GO, "\0"),
	/* ACCEPT */
	OK("accept", WIRE_ACCEPT, ""),
	BAD("accept with a body", WIRE_ACCEPT, "\0"),
	BAD("accept with a status", WIRE_ACCEPT, "\0\0"),
	/* REGISTER */
	OK("register", WIRE_REGISTER, ECHO),
	OK("register 15 chars", WIRE_REGISTER, "\x0f" "abcdefghijklmno"),
	BAD("register empty body", WIRE_REGISTER, ""),
	BAD("register name_len 0", WIRE_REGISTER, "\0"),
	BAD("register name upper case", WIRE_REGISTER, "\x04" "ECHO"),
	BAD("register name_len 16", WIRE_REGISTER,
	    "\x10" "abcdefghijklmnop"),
	BAD("register name past body", WIRE_REGISTER, "\x05" "echo"),
	BAD("register trailing byte", WIRE_REGISTER, ECHO "x"),
	/* types */
	BAD("type 0", 0, ""),
	BAD("type 6", 6, ""),
	BAD("type 8 (HANDOFF_RAW) empty", 8, ""),
	BAD("type 9 (HELLO) with an id", WIRE_HELLO, "\x02"),
	BAD("type 10 (CHANNEL) with an id", WIRE_CHANNEL, "\x01"),
	BAD("type 11", 11, ""),
	BAD("type 255", 255, ""),
};

/* Raw messages whose header is at fault. */
struct raw {
	const char	*what;
	const char	*msg;
	size_t		 len;
};

#define RAW(w, m)	{ w, m, sizeof(m) - 1 }

static const struct raw raws[] = {
	RAW("empty", ""),
	RAW("11 bytes", "OP\x01\x03" "\0\0\0\x01" "\0\0\0"),
	RAW("magic OX", "OX\x01\x03" "\0\0\0\x01" "\0\0\0\0"),
	RAW("magic op", "op\x01\x03" "\0\0\0\x01" "\0\0\0\0"),
	RAW("magic PO", "PO\x01\x03" "\0\0\0\x01" "\0\0\0\0"),
	RAW("version 0", "OP\x00\x03" "\0\0\0\x01" "\0\0\0\0"),
	RAW("version 2", "OP\x02\x03" "\0\0\0\x01" "\0\0\0\0"),
	RAW("len 1, no body", "OP\x01\x03" "\0\0\0\x01" "\0\0\0\x01"),
	RAW("len 0, one byte", "OP\x01\x03" "\0\0\0\x01" "\0\0\0\0" "x"),
	RAW("len 2^32-1", "OP\x01\x03" "\0\0\0\x01" "\xff\xff\xff\xff"),
	RAW("len 2^24 + 2", "OP\x01\x02" "\0\0\0\x01" "\x01\0\0\x02" "\0\0"),
	RAW("ack len 1 of 2", "OP\x01\x02" "\0\0\0\x01" "\0\0\0\x01" "\0\0"),
	RAW("ack len 3 of 2", "OP\x01\x02" "\0\0\0\x01" "\0\0\0\x03" "\0\0"),
};

/* Decode from an exact-size heap copy, so reading past len is caught. */
static int
decode(const uint8_t *buf, size_t len, struct wire_msg *m)
{
	uint8_t	*copy;
	int	 r;

	if ((copy = malloc(len ? len : 1)) == NULL) {
		perror("malloc");
		exit(1);
	}
	memcpy(copy, buf, len);
	r = wire_decode(copy, len, m);
	/* preread pointed into copy; keep it pointing at the caller's. */
	if (r == 0 && m->preread != NULL)
		m->preread = buf + (m->preread - copy);
	free(copy);
	return r;
}

static void
put32(uint8_t *p, size_t v)
{
	p[0] = (v >> 24) & 0xff;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static size_t
frame(uint8_t *out, int type, uint32_t id, const char *body, size_t len)
{
	out[0] = 'O';
	out[1] = 'P';
	out[2] = WIRE_VERSION;
	out[3] = type;
	put32(out + 4, id);
	put32(out + 8, len);
	memcpy(out + WIRE_HDR_LEN, body, len);
	return WIRE_HDR_LEN + len;
}

/*
 * The verdict, then what every accepted message must have: no proper
 * prefix of it decodes, it encodes back to the same bytes (and not into
 * one byte less), and it takes no trailing byte.
 */
static void
check_bytes(const char *what, const uint8_t *buf, size_t len, int want)
{
	struct wire_msg	m, m2;
	uint8_t		out[WIRE_MSG_MAX + 16], *exact;
	size_t		cut, n;
	int		got;

	tests++;
	got = decode(buf, len, &m) == 0;
	if (got != want) {
		FAIL("%s: decode %s", what, got ? "accepted" : "rejected");
		return;
	}
	if (!got)
		return;
	for (cut = 0; cut < len; cut++)
		if (decode(buf, cut, &m2) == 0) {
			FAIL("%s: prefix of %zu bytes decoded", what, cut);
			return;
		}
	n = wire_encode(out, sizeof(out), &m);
	if (n != len || memcmp(out, buf, len) != 0) {
		FAIL("%s: encodes to %zu other bytes", what, n);
		return;
	}
	/* Encoding into exactly len bytes works, into len - 1 does not. */
	if ((exact = malloc(len)) == NULL)
		exit(1);
	if (wire_encode(exact, len, &m) != len ||
	    wire_encode(exact, len - 1, &m) != 0)
		FAIL("%s: encode does not respect cap", what);
	free(exact);
	/* One byte more, even with the length field saying so, is wrong. */
	memcpy(out, buf, len);
	out[len] = 0;
	put32(out + 8, len + 1 - WIRE_HDR_LEN);
	if (decode(out, len + 1, &m2) == 0)
		FAIL("%s: accepted with a trailing byte", what);
}

static void
test_rows(void)
{
	uint8_t	buf[WIRE_MSG_MAX + 256];
	size_t	i, n;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = frame(buf, rows[i].type, 0x01020304, rows[i].body,
		    rows[i].len);
		check_bytes(rows[i].what, buf, n, rows[i].ok);
	}
	for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++)
		check_bytes(raws[i].what, (const uint8_t *)raws[i].msg,
		    raws[i].len, 0);
}

/* HELLO and CHANNEL (version 2): id 0, one byte. */
static const struct row v2rows[] = {
	OK("hello 2", WIRE_HELLO, "\x02"),
	OK("hello 255", WIRE_HELLO, "\xff"),
	BAD("hello 1", WIRE_HELLO, "\x01"),
	BAD("hello 0", WIRE_HELLO, "\x00"),
	BAD("hello empty", WIRE_HELLO, ""),
	BAD("hello trailing byte", WIRE_HELLO, "\x02\x02"),
	OK("channel daemon", WIRE_CHANNEL, "\x01"),
	OK("channel front", WIRE_CHANNEL, "\x02"),
	BAD("channel kind 0", WIRE_CHANNEL, "\x00"),
	BAD("channel kind 3", WIRE_CHANNEL, "\x03"),
	BAD("channel empty", WIRE_CHANNEL, ""),
	BAD("channel trailing byte", WIRE_CHANNEL, "\x01\x00"),
};

static void
test_v2(void)
{
	struct wire_msg	m;
	uint8_t		buf[64];
	size_t		i, n;

	for (i = 0; i < sizeof(v2rows) / sizeof(v2rows[0]); i++) {
		n = frame(buf, v2rows[i].type, 0, v2rows[i].body,
		    v2rows[i].len);
		check_bytes(v2rows[i].what, buf, n, v2rows[i].ok);
	}
	tests++;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_HELLO;
	m.version = WIRE_V2;
	n = wire_encode(buf, sizeof(buf), &m);
	if (n != WIRE_HDR_LEN + 1 || wire_decode(buf, n, &m) != 0 ||
	    m.type != WIRE_HELLO || m.version != WIRE_V2)
		FAIL("hello round trip");
	tests++;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_CHANNEL;
	m.kind = WIRE_CHAN_FRONT;
	n = wire_encode(buf, sizeof(buf), &m);
	if (n != WIRE_HDR_LEN + 1 || wire_decode(buf, n, &m) != 0 ||
	    m.kind != WIRE_CHAN_FRONT)
		FAIL("channel round trip");
	tests++;
	m.kind = WIRE_CHAN_MAX;
	if (wire_encode(buf, sizeof(buf), &m) != 0)
		FAIL("channel kind out of range encoded");
	tests++;
	m.kind = WIRE_CHAN_DAEMON;
	m.id = 1;
	if (wire_encode(buf, sizeof(buf), &m) != 0)
		FAIL("channel with an id encoded");
}

/* What the decoder reports for one known message, field by field. */
static void
test_fields(void)
{
	static const char	body[] = ECHO V6TAIL "\0\x03" "abc";
	uint8_t			buf[256];
	struct wire_msg		m;
	size_t			n;

	tests++;
	n = frame(buf, WIRE_HANDOFF, 0xfedcba98, body, sizeof(body) - 1);
	if (wire_decode(buf, n, &m) != 0 || m.type != WIRE_HANDOFF ||
	    m.id != 0xfedcba98 || strcmp(m.name, "echo") != 0 ||
	    m.family != 6 || m.peer_port != 0xc001 ||
	    m.local_port != 7001 || m.peer_addr[15] != 1 ||
	    m.local_addr[15] != 1 || m.preread_len != 3 ||
	    m.preread != buf + n - 3 || memcmp(m.preread, "abc", 3) != 0)
		FAIL("handoff v6 fields");

	tests++;
	n = frame(buf, WIRE_ACK, 7, "\x01\x0c" "service busy", 14);
	if (wire_decode(buf, n, &m) != 0 || m.type != WIRE_ACK ||
	    m.id != 7 || m.status != 1 ||
	    strcmp(m.reason, "service busy") != 0)
		FAIL("ack fields");

	/* A failed decode leaves nothing behind. */
	tests++;
	n = frame(buf, WIRE_ACK, 7, "\x01\x0c" "service busy!", 15);
	memset(&m, 0xa5, sizeof(m));
	if (wire_decode(buf, n, &m) != -1 || m.id != 0 || m.name[0] != 0 ||
	    m.reason[0] != 0 || m.preread != NULL)
		FAIL("failed decode leaves fields set");
}

/* Preread at the limit, and one past it, built rather than written. */
static void
test_preread_limit(void)
{
	static uint8_t	pre[WIRE_PREREAD_MAX + 1];
	uint8_t		buf[WIRE_MSG_MAX + 16];
	struct wire_msg	m;
	size_t		n;

	memset(pre, 'p', sizeof(pre));
	memset(&m, 0, sizeof(m));
	m.type = WIRE_HANDOFF;
	m.id = 1;
	memcpy(m.name, "abcdefghijklmno", 16);
	m.family = 6;
	memset(m.peer_addr, 0xff, 16);
	m.preread = pre;
	m.preread_len = WIRE_PREREAD_MAX;
	n = wire_encode(buf, sizeof(buf), &m);
	tests++;
	if (n == 0 || n > WIRE_MSG_MAX)
		FAIL("largest handoff: %zu bytes, max %d", n, WIRE_MSG_MAX);
	else
		check_bytes("handoff preread 1024", buf, n, 1);

	/* 1025 bytes, framed by hand since encode refuses it. */
	buf[WIRE_HDR_LEN + 1 + 15 + 37] = (WIRE_PREREAD_MAX + 1) >> 8;
	buf[WIRE_HDR_LEN + 1 + 15 + 38] = (WIRE_PREREAD_MAX + 1) & 0xff;
	buf[n] = 'p';
	put32(buf + 8, n + 1 - WIRE_HDR_LEN);
	check_bytes("handoff preread 1025", buf, n + 1, 0);
}

static const uint8_t	pre_data[WIRE_PREREAD_MAX + 1];

/*
 * Messages to encode: a valid HANDOFF, ACK, GO or REGISTER with one field
 * changed, at or just past its limit.
 */
enum field { F_NONE, F_NAME, F_FAMILY, F_PEER_BYTE, F_LOCAL_BYTE, F_PRELEN,
	F_STATUS, F_REASON, F_TYPE };

struct erow {
	const char	*what;
	enum wire_type	 type;
	enum field	 field;
	const char	*s;	/* F_NAME, F_REASON: copied without its NUL
				 * when it fills the field */
	int		 v;	/* F_*_BYTE: the byte index set to 1 */
	int		 ok;
};

static const struct erow erows[] = {
	{ "encode handoff", WIRE_HANDOFF, F_NONE, NULL, 0, 1 },
	{ "encode name empty", WIRE_HANDOFF, F_NAME, "", 0, 0 },
	{ "encode name 16 chars", WIRE_HANDOFF, F_NAME, "abcdefghijklmnop", 0,
	    0 },
	{ "encode name 15 chars", WIRE_HANDOFF, F_NAME, "abcdefghijklmno", 0,
	    1 },
	{ "encode name upper case", WIRE_HANDOFF, F_NAME, "Echo", 0, 0 },
	{ "encode name leading hyphen", WIRE_HANDOFF, F_NAME, "-echo", 0, 0 },
	{ "encode name trailing hyphen", WIRE_HANDOFF, F_NAME, "echo-", 0, 0 },
	{ "encode name double hyphen", WIRE_HANDOFF, F_NAME, "ec--ho", 0, 0 },
	{ "encode name digits only", WIRE_HANDOFF, F_NAME, "7001", 0, 0 },
	{ "encode name dot", WIRE_HANDOFF, F_NAME, "ec.ho", 0, 0 },
	{ "encode family 0", WIRE_HANDOFF, F_FAMILY, NULL, 0, 0 },
	{ "encode family 5", WIRE_HANDOFF, F_FAMILY, NULL, 5, 0 },
	{ "encode family 6", WIRE_HANDOFF, F_FAMILY, NULL, 6, 1 },
	{ "encode v4 peer byte 3", WIRE_HANDOFF, F_PEER_BYTE, NULL, 3, 1 },
	{ "encode v4 peer byte 4", WIRE_HANDOFF, F_PEER_BYTE, NULL, 4, 0 },
	{ "encode v4 local byte 15", WIRE_HANDOFF, F_LOCAL_BYTE, NULL, 15, 0 },
	{ "encode preread 1", WIRE_HANDOFF, F_PRELEN, NULL, 1, 1 },
	{ "encode preread 1024", WIRE_HANDOFF, F_PRELEN, NULL,
	    WIRE_PREREAD_MAX, 1 },
	{ "encode preread 1025", WIRE_HANDOFF, F_PRELEN, NULL,
	    WIRE_PREREAD_MAX + 1, 0 },
	{ "encode preread NULL", WIRE_HANDOFF, F_PRELEN, NULL, -1, 0 },
	{ "encode type 0", WIRE_HANDOFF, F_TYPE, NULL, 0, 0 },
	{ "encode type 6", WIRE_HANDOFF, F_TYPE, NULL, 6, 0 },
	{ "encode ack", WIRE_ACK, F_NONE, NULL, 0, 1 },
	{ "encode ack accepted", WIRE_ACK, F_STATUS, NULL, 0, 1 },
	{ "encode ack status 2", WIRE_ACK, F_STATUS, NULL, 2, 0 },
	{ "encode ack no reason", WIRE_ACK, F_REASON, "", 0, 1 },
	{ "encode ack reason 64", WIRE_ACK, F_REASON, R64, 0, 1 },
	{ "encode ack reason 65", WIRE_ACK, F_REASON, R64 "x", 0, 0 },
	{ "encode ack reason tab", WIRE_ACK, F_REASON, "a\tb", 0, 0 },
	{ "encode ack reason DEL", WIRE_ACK, F_REASON, "a\x7f", 0, 0 },
	{ "encode ack reason 8-bit", WIRE_ACK, F_REASON, "caf\xc3\xa9", 0,
	    0 },
	{ "encode registered", WIRE_REGISTERED, F_NONE, NULL, 0, 1 },
	{ "encode registered status 3", WIRE_REGISTERED, F_STATUS, NULL, 3, 0 },
	{ "encode go", WIRE_GO, F_NONE, NULL, 0, 1 },
	{ "encode accept", WIRE_ACCEPT, F_NONE, NULL, 0, 1 },
	{ "encode register", WIRE_REGISTER, F_NONE, NULL, 0, 1 },
	{ "encode register bad name", WIRE_REGISTER, F_NAME, "x_1", 0, 0 },
	{ "encode register no name", WIRE_REGISTER, F_NAME, "", 0, 0 },
};

static void
erow_msg(const struct erow *r, struct wire_msg *m)
{
	size_t	n;

	memset(m, 0, sizeof(*m));
	m->type = r->type;
	m->id = 0xffffffff;
	snprintf(m->name, sizeof(m->name), "echo");
	m->family = 4;
	m->peer_addr[0] = 10;
	m->peer_port = 40000;
	m->local_addr[0] = 127;
	m->local_port = 7001;
	m->status = 1;
	snprintf(m->reason, sizeof(m->reason), "service busy");
	switch (r->field) {
	case F_NONE:
		break;
	case F_NAME:
		n = strlen(r->s);
		memcpy(m->name, r->s, n < sizeof(m->name) ? n + 1 : n);
		break;
	case F_REASON:
		n = strlen(r->s);
		memcpy(m->reason, r->s, n < sizeof(m->reason) ? n + 1 : n);
		break;
	case F_FAMILY:
		m->family = r->v;
		break;
	case F_PEER_BYTE:
		m->peer_addr[r->v] = 1;
		break;
	case F_LOCAL_BYTE:
		m->local_addr[r->v] = 1;
		break;
	case F_PRELEN:
		m->preread = r->v == -1 ? NULL : pre_data;
		m->preread_len = r->v == -1 ? 1 : r->v;
		break;
	case F_STATUS:
		m->status = r->v;
		break;
	case F_TYPE:
		m->type = (enum wire_type)r->v;
		break;
	}
}

static void
test_encode(void)
{
	uint8_t		buf[WIRE_MSG_MAX], small[WIRE_HDR_LEN];
	struct wire_msg	m;
	size_t		i, n;

	for (i = 0; i < sizeof(erows) / sizeof(erows[0]); i++) {
		tests++;
		erow_msg(&erows[i], &m);
		n = wire_encode(buf, sizeof(buf), &m);
		if ((n != 0) != erows[i].ok) {
			FAIL("%s: encode gave %zu", erows[i].what, n);
			continue;
		}
		if (n != 0)
			check_bytes(erows[i].what, buf, n, 1);
	}
	/* A buffer smaller than a header holds nothing, not even GO. */
	tests++;
	memset(&m, 0, sizeof(m));
	m.type = WIRE_GO;
	if (wire_encode(small, sizeof(small), &m) != WIRE_HDR_LEN ||
	    wire_encode(small, sizeof(small) - 1, &m) != 0 ||
	    wire_encode(NULL, 0, &m) != 0)
		FAIL("encode go into small buffers");
}

int
main(void)
{
	test_rows();
	test_v2();
	test_fields();
	test_preread_limit();
	test_encode();
	printf("wire_test: %d tests, %d failed\n", tests, failed);
	return failed != 0;
}
