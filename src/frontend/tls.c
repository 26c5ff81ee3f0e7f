/* tls.c: the TLS ClientHello probe (a stub until it is written). */
#include <string.h>

#include "frontend.h"

enum probe_result
tls_probe(const uint8_t *buf, size_t len, struct tls_hello *h)
{
	(void)buf;
	(void)len;
	memset(h, 0, sizeof(*h));
	return PROBE_NEXT;
}
