/* SPDX-License-Identifier: ISC */
/*
 * refusal.c: the bytes that refuse a client, in its own protocol. A
 * client that spoke TLS or HTTP cannot read a TCPMUX "-reason" line, so
 * it gets what its own stack understands and shows to its user; the log
 * line keeps the reason in words either way.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include "refusal.h"

/* TLS alert descriptions (RFC 8446 6). */
#define ALERT_ACCESS_DENIED	49
#define ALERT_DECODE_ERROR	50
#define ALERT_INTERNAL_ERROR	80
#define ALERT_UNRECOGNIZED_NAME	112

/* Reasons the parent and the frontend give, by what they mean. */
static const struct {
	const char		*reason;
	enum refusal_class	 class;
} classes[] = {
	{ "unknown service",				REFUSE_UNKNOWN },
	{ "busy",					REFUSE_BUSY },
	{ "service busy",				REFUSE_BUSY },
	{ "shutting down",				REFUSE_BUSY },
	{ "too many connections from your address",	REFUSE_BUSY },
	{ "too many instances for your address",	REFUSE_BUSY },
	{ "out of memory",				REFUSE_BUSY },
	{ "out of descriptors",				REFUSE_BUSY },
	{ "timeout",					REFUSE_TIMEOUT },
	{ "bad name",					REFUSE_BAD },
	{ "bad request",				REFUSE_BAD },
	{ "line too long",				REFUSE_BAD },
	{ "incomplete request",				REFUSE_BAD },
	{ "access denied",				REFUSE_DENIED },
};

enum refusal_class
refusal_class_of(const char *reason)
{
	size_t	i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(reason, classes[i].reason) == 0)
			return classes[i].class;
	return REFUSE_UNAVAILABLE;
}

const char *
proto_name(enum proto p)
{
	static const char *const names[PROTO_MAX] = {
		[PROTO_TCPMUX] = "tcpmux", [PROTO_TLS] = "tls",
		[PROTO_HTTP] = "http", [PROTO_SSH] = "ssh",
		[PROTO_SILENCE] = "silence", [PROTO_TOKEN] = "token",
	};

	return (unsigned)p < PROTO_MAX ? names[p] : "?";
}

/* "-reason" CRLF, cut to fit but always a whole line. */
static size_t
tcpmux_line(const char *reason, char *buf, size_t cap)
{
	int	n;

	if (cap < 4)
		return 0;
	n = snprintf(buf, cap, "-%s\r\n", reason);
	if (n < 0)
		return 0;
	if ((size_t)n >= cap) {
		n = cap - 1;
		memcpy(buf + n - 2, "\r\n", 2);
	}
	return n;
}

/* One fatal alert record (RFC 8446 5.1, 6): sent before any handshake
 * message, in plaintext, with the record version every TLS stack takes. */
static size_t
tls_alert(enum refusal_class class, char *buf, size_t cap)
{
	unsigned char	desc;

	switch (class) {
	case REFUSE_UNKNOWN:
		desc = ALERT_UNRECOGNIZED_NAME;
		break;
	case REFUSE_BAD:
		desc = ALERT_DECODE_ERROR;
		break;
	case REFUSE_DENIED:
		desc = ALERT_ACCESS_DENIED;
		break;
	case REFUSE_TIMEOUT:
		return 0;	/* a client that stalls its hello: a close */
	default:
		desc = ALERT_INTERNAL_ERROR;
		break;
	}
	if (cap < 7)
		return 0;
	memcpy(buf, "\x15\x03\x03\x00\x02\x02", 6);
	buf[6] = (char)desc;
	return 7;
}

/* A complete HTTP/1.1 response that closes: status, the reason as a
 * one-line text body, and Retry-After where waiting helps. */
static size_t
http_response(enum refusal_class class, const char *reason, char *buf,
    size_t cap)
{
	const char	*status, *extra = "";
	char		 retry[32];
	int		 n;

	switch (class) {
	case REFUSE_UNKNOWN:
		status = "421 Misdirected Request";
		break;
	case REFUSE_BAD:
		status = "400 Bad Request";
		break;
	case REFUSE_TIMEOUT:
		status = "408 Request Timeout";
		break;
	case REFUSE_DENIED:
		status = "403 Forbidden";
		break;
	default:
		status = "503 Service Unavailable";
		snprintf(retry, sizeof(retry), "Retry-After: %d\r\n",
		    REFUSAL_RETRY_S);
		extra = retry;
		break;
	}
	n = snprintf(buf, cap, "HTTP/1.1 %s\r\n%sContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.64s\n", status,
	    extra, strnlen(reason, 64) + 1, reason);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t
refusal_format(enum proto p, enum refusal_class class, const char *reason,
    char *buf, size_t cap)
{
	switch (p) {
	case PROTO_TCPMUX:
	case PROTO_TOKEN:
		return tcpmux_line(reason, buf, cap);
	case PROTO_TLS:
		return tls_alert(class, buf, cap);
	case PROTO_HTTP:
		return http_response(class, reason, buf, cap);
	default:
		return 0;	/* SSH, silence: the client hears a close */
	}
}

/*
 * The log line's words after "peer=": how the client chose its service,
 * for a line that reads "conn peer=A via=B by=tls sni=x alpn=h2 service=".
 * via: the balancer whose PROXY header named peer. host and alpn come from
 * probes and rules, which let only host-name characters and printable
 * ALPN names through.
 */
void
proto_tags(char *buf, size_t len, const struct sockaddr *via, enum proto p,
    const char *host, const char *alpn)
{
	char	v[ADDR_STRLEN];
	size_t	n = 0;
	int	k;

	buf[0] = '\0';
	if (via != NULL && (k = snprintf(buf, len, " via=%s",
	    addr_ntop(via, v, sizeof(v)))) > 0 && (size_t)k < len)
		n = k;
	if (p != PROTO_TCPMUX && (k = snprintf(buf + n, len - n, " by=%s",
	    proto_name(p))) > 0 && (size_t)k < len - n)
		n += k;
	if (host != NULL && host[0] != '\0' && (k = snprintf(buf + n,
	    len - n, " %s=%s", p == PROTO_HTTP ? "host" : "sni", host)) > 0 &&
	    (size_t)k < len - n)
		n += k;
	if (alpn != NULL && alpn[0] != '\0')
		(void)snprintf(buf + n, len - n, " alpn=%s", alpn);
}
