/* proxy.c: the PROXY protocol header probe (a stub until it is written). */
#include <string.h>

#include "frontend.h"

enum probe_result
proxy_probe(const uint8_t *buf, size_t len, struct proxy_hdr *h)
{
	(void)buf;
	(void)len;
	memset(h, 0, sizeof(*h));
	return PROBE_NEXT;
}
