/* SPDX-License-Identifier: ISC */
/*
 * scrape.c: a metrics scrape's HTTP/1.x request head, judged once it is
 * whole (up to its empty line). A pure function over (buf, len): no I/O,
 * no globals, no allocation, never past len; the verdict depends only on
 * the bytes up to the first empty line, however they were split.
 */
#include <string.h>

#include "frontend.h"

static int
is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

/* The head's end (after its empty line), or 0 if it has not come. */
static size_t
head_end(const uint8_t *buf, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

enum metrics_req
metrics_request(const uint8_t *buf, size_t len)
{
	static const char	 path[] = "/metrics";
	size_t			 end, i, m, t, tlen;

	if ((end = head_end(buf, len)) == 0)
		return METRICS_AGAIN;
	/* Every byte of the head is printable ASCII, a tab or a line end. */
	for (i = 0; i < end; i++)
		if ((buf[i] < ' ' || buf[i] > '~') && buf[i] != '\t' &&
		    buf[i] != '\r' && buf[i] != '\n')
			return METRICS_BAD;
	/* METHOD SP TARGET SP HTTP/1.x (CR) LF */
	for (m = 0; m < end && is_upper(buf[m]); m++)
		;
	if (m == 0 || m > 16 || buf[m] != ' ')
		return METRICS_BAD;
	t = m + 1;
	for (tlen = 0; t + tlen < end && buf[t + tlen] > ' '; tlen++)
		;
	i = t + tlen;
	if (tlen == 0 || i + 9 > end || buf[i] != ' ' ||
	    memcmp(buf + i + 1, "HTTP/1.", 7) != 0 ||
	    (buf[i + 8] != '0' && buf[i + 8] != '1'))
		return METRICS_BAD;
	i += 9;
	if (buf[i] == '\r')
		i++;
	if (i >= end || buf[i] != '\n')
		return METRICS_BAD;
	if (buf[t] != '/')
		return METRICS_BAD;
	if (m != 3 || memcmp(buf, "GET", 3) != 0)
		return METRICS_METHOD;
	if (tlen < sizeof(path) - 1 ||
	    memcmp(buf + t, path, sizeof(path) - 1) != 0 ||
	    (tlen > sizeof(path) - 1 && buf[t + sizeof(path) - 1] != '?'))
		return METRICS_NOT_FOUND;
	return METRICS_GET;
}
