/* SPDX-License-Identifier: ISC */
/*
 * probe.c: the chain of probes over a client's first bytes. Each probe
 * claims its protocol by its first bytes, which no two share but for the
 * TCPMUX line: "GET\r\n" and "SSH-2\r\n" are names, so a probe that says
 * NEXT or BAD there leaves the verdict to the line parser. As long as a
 * probe says AGAIN the chain does too: a prefix that may still become
 * TLS, SSH, HTTP or PROXY never gets a TCPMUX verdict early. Every probe
 * is split invariant, and so is the chain.
 */
#include <string.h>

#include "frontend.h"

#define REASON_UNTRUSTED	"PROXY header from an untrusted source"

static const char proxy_v1[] = "PROXY ";

/* '_' is no LDH, but some names in the wild carry it. */
int
probe_host(const uint8_t *s, size_t n, char out[HOST_NAME_LEN + 1])
{
	size_t	i, label = 0;
	uint8_t	c;

	if (n > 1 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > HOST_NAME_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = c - 'A' + 'a';
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else
			return -1;
		out[i] = (char)c;
	}
	if (label == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static enum probe_result
tcpmux(const uint8_t *buf, size_t len, size_t max_line, struct first *f)
{
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

/*
 * An "SSH-" line that is not SSH may still be a name ("SSH-2\r\n"): the
 * line parser has the last word, and the SSH verdict stands only if it
 * rejects the line too.
 */
static enum probe_result
ssh(const uint8_t *buf, size_t len, size_t max_line, struct first *f)
{
	enum probe_result	 r;
	const char		*why;

	r = ssh_probe(buf, len, &why);
	if (r == PROBE_AGAIN)
		f->proto = PROTO_SSH;
	if (r == PROBE_NEXT || r == PROBE_AGAIN)
		return r;
	if (r == PROBE_BAD && (r = tcpmux(buf, len, max_line, f)) !=
	    PROBE_BAD)
		return r;
	memset(&f->req, 0, sizeof(f->req));
	f->proto = PROTO_SSH;
	f->why = why;
	return r;
}

/*
 * A PROXY header here came from a source not trusted to send one (a
 * trusted one was read away by proxy_probe): v1 is refused at its
 * "PROXY " (a lone "PROXY" line is the name "proxy"); v2's signature
 * begins with an empty line, which the line parser refuses as a bad name
 * at its second byte, before the signature could be told.
 */
enum probe_result
probe_first(const uint8_t *buf, size_t len, unsigned protos,
    size_t max_line, struct first *f)
{
	enum probe_result	r;
	size_t			n;

	memset(f, 0, sizeof(*f));
	f->proto = PROTO_TCPMUX;
	n = len < sizeof(proxy_v1) - 1 ? len : sizeof(proxy_v1) - 1;
	if (memcmp(buf, proxy_v1, n) == 0) {
		if (n < sizeof(proxy_v1) - 1)
			return PROBE_AGAIN;
		f->why = REASON_UNTRUSTED;
		return PROBE_BAD;
	}
	/* len > 0 from here: an empty buf is a prefix of "PROXY ". */
	if ((protos & (1u << PROTO_TLS)) && buf[0] == 0x16) {
		r = tls_probe(buf, len, &f->tls);
		if (r != PROBE_NEXT) {
			f->proto = PROTO_TLS;
			f->need = f->tls.need;
			f->why = f->tls.why;
			return r;
		}
	}
	if ((protos & (1u << PROTO_SSH)) &&
	    (r = ssh(buf, len, max_line, f)) != PROBE_NEXT)
		return r;
	if (protos & (1u << PROTO_HTTP)) {
		r = http_probe(buf, len, &f->http);
		if (r != PROBE_NEXT) {
			f->proto = PROTO_HTTP;
			f->why = f->http.why;
			return r;
		}
	}
	return tcpmux(buf, len, max_line, f);
}
