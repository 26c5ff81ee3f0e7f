/* http.c: the HTTP/1.x request head probe (a stub until it is written). */
#include <string.h>

#include "frontend.h"

enum probe_result
http_probe(const uint8_t *buf, size_t len, struct http_head *h)
{
	(void)buf;
	(void)len;
	memset(h, 0, sizeof(*h));
	return PROBE_NEXT;
}
