/* probe.c: the chain of probes over a client's first bytes (a stub: only
 * the TCPMUX line so far). */
#include <string.h>

#include "frontend.h"

enum probe_result
probe_first(const uint8_t *buf, size_t len, unsigned protos,
    size_t max_line, struct first *f)
{
	(void)protos;
	memset(f, 0, sizeof(*f));
	f->proto = PROTO_TCPMUX;
	switch (request_parse(buf, len, max_line, &f->req)) {
	case REQ_NEED_MORE:
		return PROBE_AGAIN;
	case REQ_REJECT:
		f->why = f->req.reason;
		return PROBE_BAD;
	default:
		return PROBE_MATCH;
	}
}
