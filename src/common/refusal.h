/* SPDX-License-Identifier: ISC */
/*
 * refusal.c: a refusal in the client's own protocol, for the frontend and
 * the parent alike: "-reason" to a TCPMUX client, a TLS alert to a TLS
 * client, a short HTTP response to an HTTP client, nothing (a close) to
 * SSH and to a client that waits for the server to speak.
 */
#ifndef REFUSAL_H
#define REFUSAL_H

#include <stddef.h>
#include "addr.h"
#include "config.h"

enum refusal_class {
	REFUSE_UNKNOWN,		/* no such name: TLS unrecognized_name, 421 */
	REFUSE_BUSY,		/* a limit: internal_error, 503 Retry-After */
	REFUSE_UNAVAILABLE,	/* the service failed: the same */
	REFUSE_BAD,		/* malformed: decode_error, 400 */
	REFUSE_TIMEOUT,		/* too slow: a close, 408 */
	REFUSE_DENIED,		/* allow/deny: access_denied, 403 */
};

#define REFUSAL_MAX		256	/* the longest refusal's bytes */
#define REFUSAL_RETRY_S		5	/* HTTP Retry-After */

enum refusal_class refusal_class_of(const char *reason);
size_t	refusal_format(enum proto, enum refusal_class, const char *reason,
	    char *buf, size_t cap);
const char *proto_name(enum proto);
#define PROTO_TAGS_MAX	(2 * ADDR_STRLEN + HOST_NAME_LEN + ALPN_NAME_LEN)
struct sockaddr;
void	proto_tags(char *, size_t, const struct sockaddr *via, enum proto,
	    const char *host, const char *alpn);

#endif
