/* SPDX-License-Identifier: ISC */
/*
 * reply.h: the lines a client of a rendezvous server reads, and the token
 * line a redirected program reads (reply.c). Internal to liboneport; pure
 * functions over (buf, len): no I/O, no globals, no allocation, never
 * reading past len, never assuming NUL termination. Feeding the same bytes
 * in any split never changes the verdict (fuzz/reply_fuzz.c).
 */
#ifndef ONEPORT_REPLY_H
#define ONEPORT_REPLY_H

#include <stddef.h>

#define REPLY_MAX		512	/* the spec: 338 at least, 512 recommended */
#define REPLY_HOST_MAX		253	/* a dns-name; an address is shorter */
#define REPLY_TOKEN_MIN		16
#define REPLY_TOKEN_MAX		64

enum oneport_reply_result {
	REPLY_NEED_MORE,	/* no verdict yet; every byte so far is line */
	REPLY_OK,		/* a complete, valid line of consumed bytes */
	REPLY_BAD,		/* not a valid line, whatever follows; see why */
};

enum oneport_reply_host {
	REPLY_HOST_NONE,	/* no "host=": the address that answered */
	REPLY_HOST_NAME,	/* a dns-name, to be resolved */
	REPLY_HOST_IPV4,
	REPLY_HOST_IPV6,	/* written in brackets; host[] holds none */
};

struct oneport_reply {
	int		 kind;		/* '+', '-' or '@' */
	size_t		 consumed;	/* bytes of the line, through its LF */
	/* '+': the text after it, raw (any octet); '-': the reason, all
	 * %x20-7E. Without the line end; NUL-terminated; may be empty. */
	char		 text[REPLY_MAX];
	size_t		 textlen;
	/* '@' */
	unsigned int	 port;		/* 1..65535 */
	int		 host_type;	/* enum oneport_reply_host */
	char		 host[REPLY_HOST_MAX + 1];
	char		 token[REPLY_TOKEN_MAX + 1];	/* "" if none */
	/* REPLY_BAD: which rule the line broke, for messages. */
	const char	*why;
};

/*
 * The reply to a service request or a query: "+" [text], "-" reason, or
 * "@" port [SP "host=" host] [SP "token=" token], each ended by CR LF or a
 * bare LF. max is the line limit, line end included; it is capped at
 * REPLY_MAX. A first octet other than "+", "-" or "@", or an octet that
 * cannot be part of the line, is BAD as soon as it is seen.
 */
enum oneport_reply_result oneport_reply_parse(const unsigned char *buf,
			    size_t len, size_t max, struct oneport_reply *);

/*
 * One line of a HELP listing: a name whose first octet is a letter or a
 * digit, then printable octets other than space, then the line end. The
 * name is copied to name (NUL-terminated, at most max - 1 octets) and
 * *consumed is set. max is capped at REPLY_MAX, and name holds REPLY_MAX.
 */
enum oneport_reply_result oneport_reply_listing(const unsigned char *buf,
			    size_t len, size_t max, char *name,
			    size_t *consumed);

/*
 * The token line a redirected client sends first: 16 to 64 letters,
 * digits, "-" or "_", then CR LF or a bare LF. token holds
 * REPLY_TOKEN_MAX + 1.
 */
enum oneport_reply_result oneport_reply_token(const unsigned char *buf,
			    size_t len, char *token, size_t *consumed);

/*
 * The line that says r: what a server sends, in the order the grammar
 * gives. Returns its length, or 0 if it does not fit in cap or r is not a
 * valid reply. For the fuzzer's round trip, and tests.
 */
size_t		 oneport_reply_format(char *buf, size_t cap,
			    const struct oneport_reply *r);

#endif
