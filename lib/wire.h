/* SPDX-License-Identifier: ISC */
/*
 * wire.h: the messages between oneportd and a running service over the
 * service's unix socket (SOCK_SEQPACKET: one send is one message). Shared
 * by the daemon and liboneport. Encoding and decoding are pure functions
 * over (buf, len): no I/O, no allocation, never reading past len. The
 * decoder is the one parser of bytes from another process; it has a
 * libFuzzer target (fuzz/wire_fuzz.c).
 *
 * Every message: a 12-byte header, then the body. Integers big-endian.
 *
 *   0  "OP"        magic
 *   2  u8 version  WIRE_VERSION
 *   3  u8 type     enum wire_type
 *   4  u32 id      the daemon's number for one hand-off; echoed in
 *                  ACCEPT, ACK and GO
 *   8  u32 len     body length; header + len == the message length
 *
 * HANDOFF (daemon -> service), with exactly one fd, the client socket:
 *   u8 name_len (1..15), name (lower case, RFC 6335)
 *   u8 family (4 or 6)
 *   u16 peer_port, 16 bytes peer address (IPv4: first 4, rest zero)
 *   u16 local_port, 16 bytes local address
 *   u16 preread_len (0..WIRE_PREREAD_MAX), preread bytes: what the daemon
 *       already read of the client's stream after the request line, to be
 *       treated as if read from the socket first
 * HANDOFF_RAW (daemon -> service), with exactly one fd: a client that
 *   chose the service by its first bytes (an implicit name), not by a
 *   TCPMUX line. The body of HANDOFF with preread_len 0 (nothing was read
 *   from the client: its stream is untouched), then
 *   u8 proto (WIRE_PROTO_*), u8 match_len (0..253) and the SNI or Host it
 *   matched on (lower-case host-name characters and '_', ':' for an IPv6
 *   Host),
 *   u8 alpn_len and the ALPN protocol chosen (printable, no space). It is
 *   taken as HANDOFF is (lock, ACCEPT), but the service sends no "+": the
 *   client speaks TLS, HTTP or SSH, or waits for the service to speak.
 * ACK (service -> daemon): u8 status (1 refused, 0 accepted by a service
 *   of before ACCEPT, which then waits for GO), u8 reason_len
 *   (0..WIRE_REASON_MAX), reason (printable ASCII; sent to the client as
 *   "-reason" when refused)
 * ACCEPT (service -> daemon): empty body. The service has taken the
 *   client: it holds a POSIX write lock (fcntl F_SETLK) on the whole of
 *   the client socket, taken before this message was sent, and sends "+"
 *   to the client itself once the message is queued. The daemon then
 *   answers nothing and closes its copy. A daemon that has waited too
 *   long takes the same lock before it answers "-" (and shuts the
 *   socket's sending side): the lock decides who answers.
 *   On a data channel (version 2, below) no lock: ACCEPT is a notice,
 *   sent after "+".
 * GO (daemon -> service): empty body. The answer to an ACK with status 0
 *   from a service of before ACCEPT: "+" has been sent to the client; the
 *   connection is the service's alone from now on. liboneport no longer
 *   sends such ACKs; oneportd still serves services that do.
 * REGISTER (service -> daemon, on the control socket): u8 name_len, name.
 *   The connection then carries HANDOFFs for that name; the name lasts
 *   exactly as long as the connection.
 * REGISTERED (daemon -> service): u8 status (0 ok, 1 refused),
 *   u8 reason_len, reason.
 * REGISTER_PORT (service -> daemon, on the control socket): u8 name_len,
 *   name, u16 port (1..65535). The name is answered with a redirect to
 *   that port on the address the client called (no HANDOFFs follow);
 *   it lasts exactly as long as the connection. Answered by REGISTERED.
 * HELLO (service -> daemon, on its socket connection or, once REGISTERED,
 *   on its control connection): u8 version (2..255), the highest
 *   version of the hand-off exchange the service speaks. id 0. Version 2
 *   is the data channel below; a daemon that speaks it answers CHANNEL,
 *   one that does not ends the connection (liboneport: ONEPORT_WIRE=1).
 *   At most one HELLO per connection.
 * CHANNEL (daemon -> service, on the connection HELLO came on), with
 *   exactly one fd: u8 kind (WIRE_CHAN_*). The fd is one end of a
 *   SOCK_SEQPACKET pair, a data channel: HANDOFF and HANDOFF_RAW come on
 *   it from then on (earlier ones, already on the connection, are taken
 *   as in version 1). WIRE_CHAN_DAEMON: the other end is the daemon's.
 *   WIRE_CHAN_FRONT: the daemon lent the other end, and a copy of the
 *   service's, to its frontend, which sends HANDOFFs there itself (ids
 *   with WIRE_ID_FRONT set) and takes them back as below; the service
 *   takes one only for a TCP socket whose peer is the message's (the
 *   frontend is trusted less), and drops the channel at its end of
 *   stream (a dead frontend's successor gets a new one). The daemon
 *   keeps a copy of the service's end of a WIRE_CHAN_DAEMON pair.
 *
 * Version 2, take-back: a hand-off on a data channel is the service's
 * once it has received the message, and the daemon's while it is queued.
 * The daemon closes its copy of the client once the HANDOFF is queued; to
 * refuse a client later (past its deadline, or the service's connection
 * ended) it receives the message back itself on its copy of the service's
 * end. The kernel gives each message to exactly one reader, so whoever
 * received it answers the client, and no lock is taken. The service sends
 * "+" at once and then ACCEPT on the data channel the HANDOFF came on, a
 * notice for the daemon's log (ACK status 1 if the descriptor was lost:
 * then no one can answer the client, whose connection just closes). The
 * data channel lasts as long as the connection HELLO came on: a service
 * drops both together.
 *
 * No other message is valid; a malformed one ends the connection.
 */
#ifndef ONEPORT_WIRE_H
#define ONEPORT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION		1
#define WIRE_HDR_LEN		12
#define WIRE_NAME_MAX		15
#define WIRE_PREREAD_MAX	1024
#define WIRE_REASON_MAX		64
#define WIRE_MSG_MAX		(WIRE_HDR_LEN + 64 + WIRE_PREREAD_MAX + \
				 3 + WIRE_MATCH_MAX + WIRE_ALPN_MAX)

enum wire_type {
	WIRE_HANDOFF = 1,
	WIRE_ACK,
	WIRE_GO,
	WIRE_REGISTER,
	WIRE_REGISTERED,
	WIRE_REGISTER_PORT,
	WIRE_ACCEPT,
	WIRE_HANDOFF_RAW,
	WIRE_HELLO,
	WIRE_CHANNEL,
};

#define WIRE_V2			2	/* HELLO: the data channel */
/* CHANNEL's kind: whose the other end of the pair is. */
enum { WIRE_CHAN_DAEMON = 1, WIRE_CHAN_FRONT, WIRE_CHAN_MAX };
/* Hand-off ids the frontend numbers itself on a WIRE_CHAN_FRONT channel. */
#define WIRE_ID_FRONT		0x80000000u

/* HANDOFF_RAW's proto: how the client chose (oneport.h ONEPORT_BY_*). */
enum { WIRE_PROTO_TLS = 1, WIRE_PROTO_HTTP, WIRE_PROTO_SSH,
	WIRE_PROTO_SILENCE, WIRE_PROTO_MAX };
#define WIRE_MATCH_MAX		253
#define WIRE_ALPN_MAX		255

struct wire_msg {
	enum wire_type	 type;
	uint32_t	 id;
	/* HANDOFF, HANDOFF_RAW, REGISTER */
	char		 name[WIRE_NAME_MAX + 1];
	/* HANDOFF_RAW */
	uint8_t		 proto;		/* WIRE_PROTO_* */
	char		 match[WIRE_MATCH_MAX + 1];
	char		 alpn[WIRE_ALPN_MAX + 1];
	/* HANDOFF */
	uint8_t		 family;	/* 4 or 6 */
	uint16_t	 peer_port, local_port;
	uint8_t		 peer_addr[16], local_addr[16];
	const uint8_t	*preread;	/* points into the decoded buffer */
	uint16_t	 preread_len;
	/* REGISTER_PORT */
	uint16_t	 port;
	/* HELLO */
	uint8_t		 version;
	/* CHANNEL */
	uint8_t		 kind;		/* WIRE_CHAN_* */
	/* ACK, REGISTERED */
	uint8_t		 status;	/* 0 ok */
	char		 reason[WIRE_REASON_MAX + 1];
};

/* Returns the message length written, or 0 if cap is too small or a field
 * is out of range (name, family, lengths). */
size_t	wire_encode(uint8_t *buf, size_t cap, const struct wire_msg *);

/* Returns 0 and fills msg, or -1 for anything malformed: short, wrong
 * magic/version/type, len mismatch, a field out of range, a name that is
 * not RFC 6335, a reason with non-printable bytes, trailing bytes. */
int	wire_decode(const uint8_t *buf, size_t len, struct wire_msg *);

#endif
