/* SPDX-License-Identifier: ISC */
/*
 * request.c: the RFC 1078 request line, the first bytes a client sends.
 * A pure function over (buf, len): no I/O, no globals, no allocation, never
 * reads past len, never assumes NUL termination. Splitting the same bytes
 * into different reads never changes the verdict (fuzz/request_fuzz.c).
 */
#include <string.h>

#include "frontend.h"
#include "name.h"

/* '_' is in no name: it is in a cluster redirect's token line only. */
static int
name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static enum request_result
reject(struct request *req, const char *reason)
{
	req->reason = reason;
	return REQ_REJECT;
}

/*
 * Grammar: name CRLF, or name LF. Binary or otherwise impossible bytes are
 * rejected as soon as they are seen, so a TLS or HTTP client learns at once
 * instead of at the deadline. A line that does not end within max_line bytes
 * is "too long"; a complete line that breaks RFC 6335 is a "bad name".
 */
static enum request_result
line(const uint8_t *buf, size_t len, size_t max_line, struct request *req)
{
	const uint8_t	*us;
	size_t		 i, n;

	memset(req, 0, sizeof(*req));
	for (i = 0; i < len && i < max_line; i++) {
		if (buf[i] == '\n')
			break;
		if (buf[i] == '\r') {
			/* CR is allowed only right before LF. */
			if (i + 1 < len && i + 1 < max_line &&
			    buf[i + 1] != '\n')
				return reject(req, REASON_BAD_NAME);
			continue;
		}
		if (!name_char(buf[i]))
			return reject(req, REASON_BAD_NAME);
	}
	if (i == len || i == max_line)
		return i >= max_line ? reject(req, REASON_TOO_LONG) :
		    REQ_NEED_MORE;

	/* buf[i] is the LF; the name is what precedes it, minus one CR. */
	req->consumed = i + 1;
	n = i;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	/* "name_TOKEN": the token is the whole line, the name before '_'. */
	if ((us = memchr(buf, '_', n)) != NULL) {
		if (n > IPC_TOKEN_MAX || n < 16)
			return reject(req, REASON_BAD_NAME);
		memcpy(req->token, buf, n);
		req->token[n] = '\0';
		n = us - buf;
	}
	if (!name_valid((const char *)buf, n, 0))
		return reject(req, REASON_BAD_NAME);
	for (i = 0; i < n; i++)
		req->name[i] = (buf[i] >= 'A' && buf[i] <= 'Z') ?
		    buf[i] - 'A' + 'a' : buf[i];
	req->name[n] = '\0';
	req->help = strcmp(req->name, "help") == 0;
	return REQ_OK;
}

/* A line, or "?" and a line: a query, which asks where a name lives. */
enum request_result
request_parse(const uint8_t *buf, size_t len, size_t max_line,
    struct request *req)
{
	enum request_result	r;

	if (len == 0 || buf[0] != '?')
		return line(buf, len, max_line, req);
	r = line(buf + 1, len - 1, max_line > 0 ? max_line - 1 : 0, req);
	if (r == REQ_OK) {
		if (req->help || req->token[0] != '\0')
			return reject(req, REASON_BAD_NAME);
		req->consumed++;
		req->query = 1;
	}
	return r;
}
