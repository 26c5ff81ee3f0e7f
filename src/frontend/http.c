/* SPDX-License-Identifier: ISC */
/*
 * http.c: an HTTP/1.x request head (RFC 9112 2-3, 5; RFC 9110 7.2), to
 * its empty line: which host it asks for. A pure function over (buf,
 * len): no I/O, no globals, no allocation. Each line is judged once its
 * LF is in, in order, and the size limit only when no LF came within it,
 * so a split never changes the verdict (fuzz/probe_fuzz.c).
 */
#include <arpa/inet.h>
#include <string.h>

#include "frontend.h"

#define METHOD_MAX	20
#define LINE_OK		PROBE_AGAIN	/* a line's verdict: on to the next */

#define BAD_TOO_LARGE	"request head too large"
#define BAD_LINE	"bad request line"
#define BAD_TARGET	"bad request target"
#define BAD_HEADER	"bad header line"
#define BAD_HOST	"bad Host header"
#define BAD_TWO_HOSTS	"two Host headers"

static enum probe_result
bad(struct http_head *h, const char *why)
{
	h->host[0] = '\0';
	h->absolute = 0;
	h->why = why;
	return PROBE_BAD;
}

static int
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * A bracketed IPv6 literal's inside, as inet_pton reads it, into out in
 * inet_ntop's canonical form ("[2001:DB8:0::1]" is "2001:db8::1"), the
 * form a rule's literal must be compared in.
 */
static int
v6(const uint8_t *s, size_t n, char *out)
{
	char	text[INET6_ADDRSTRLEN];
	uint8_t	a[16];
	size_t	i;

	if (n == 0 || n >= sizeof(text))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '\0' ||
		    strchr("0123456789abcdefABCDEF:.", s[i]) == NULL)
			return -1;
		text[i] = (char)s[i];
	}
	text[n] = '\0';
	if (inet_pton(AF_INET6, text, a) != 1 ||
	    inet_ntop(AF_INET6, a, out, HOST_NAME_LEN + 1) == NULL)
		return -1;
	return 0;
}

/*
 * uri-host [":" port] (RFC 3986 3.2.2): "[v6]" or a name (an IPv4
 * literal is one too), the port dropped; into out, lower case. An empty
 * value is no host.
 */
static int
authority(const uint8_t *s, size_t n, char *out)
{
	size_t	end, i;

	out[0] = '\0';
	if (n == 0)
		return 0;
	if (s[0] == '[') {
		for (end = 1; end < n && s[end] != ']'; end++)
			;
		if (end == n || v6(s + 1, end - 1, out) == -1)
			return -1;
		end++;
	} else {
		for (end = 0; end < n && s[end] != ':'; end++)
			;
		if (probe_host(s, end, out) == -1)
			return -1;
	}
	if (end == n)
		return 0;
	if (s[end] != ':' || n - end - 1 > 5)
		return -1;
	for (i = end + 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	return 0;
}

/*
 * method SP request-target SP "HTTP/1." DIGIT. An absolute-form target
 * ("scheme://authority/...") names the host; authority-form (CONNECT)
 * and origin-form leave it to Host.
 */
static enum probe_result
request_line(const uint8_t *s, size_t n, size_t method, struct http_head *h)
{
	size_t	t, te, i, a, ae;

	t = method + 1;
	for (te = t; te < n && s[te] != ' '; te++)
		if (s[te] < 0x21 || s[te] > 0x7e)
			return bad(h, BAD_LINE);
	if (te == t || n - te != 9 || memcmp(s + te, " HTTP/1.", 8) != 0 ||
	    s[n - 1] < '0' || s[n - 1] > '9')
		return bad(h, BAD_LINE);

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://" */
	for (i = t; i < te && (((s[i] | 0x20) >= 'a' &&
	    (s[i] | 0x20) <= 'z') || (i > t && ((s[i] >= '0' &&
	    s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.')));
	    i++)
		;
	if (i == t || te - i < 3 || memcmp(s + i, "://", 3) != 0)
		return LINE_OK;		/* not absolute-form */
	a = i + 3;
	for (ae = a; ae < te && s[ae] != '/' && s[ae] != '?' && s[ae] != '#';
	    ae++)
		if (s[ae] == '@')
			return bad(h, BAD_TARGET);	/* userinfo */
	if (ae == a || authority(s + a, ae - a, h->host) == -1)
		return bad(h, BAD_TARGET);
	h->absolute = 1;
	return LINE_OK;
}

static int
tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* field-name ":" OWS field-value OWS; Host once, its value checked. */
static enum probe_result
header(const uint8_t *s, size_t n, int *hosts, struct http_head *h)
{
	char	host[HOST_NAME_LEN + 1];
	size_t	c, v, ve, i;

	for (c = 0; c < n && tchar(s[c]); c++)
		;
	if (c == 0 || c == n || s[c] != ':')
		return bad(h, BAD_HEADER);	/* folded, or space before : */
	for (i = c + 1; i < n; i++)
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return bad(h, BAD_HEADER);
	if (c != 4 || lower(s[0]) != 'h' || lower(s[1]) != 'o' ||
	    lower(s[2]) != 's' || lower(s[3]) != 't')
		return LINE_OK;
	if ((*hosts)++)
		return bad(h, BAD_TWO_HOSTS);
	for (v = c + 1; v < n && (s[v] == ' ' || s[v] == '\t'); v++)
		;
	for (ve = n; ve > v && (s[ve - 1] == ' ' || s[ve - 1] == '\t'); ve--)
		;
	if (authority(s + v, ve - v, host) == -1)
		return bad(h, BAD_HOST);
	if (!h->absolute)
		memcpy(h->host, host, sizeof(host));
	return LINE_OK;
}

/*
 * A method of 1..20 upper-case letters and a space claim the bytes for
 * HTTP; anything else before the space is NEXT (the line parser takes
 * "GET\r\n" as a name). Then lines to the empty one, ending in LF or CR
 * LF, all within HTTP_HEAD_MAX.
 */
enum probe_result
http_probe(const uint8_t *buf, size_t len, struct http_head *h)
{
	enum probe_result	 rv;
	size_t			 method, start, lf, end, n;
	int			 hosts = 0;

	memset(h, 0, sizeof(*h));
	for (method = 0; ; method++) {
		if (method == len)
			return PROBE_AGAIN;
		if (buf[method] == ' ')
			break;
		if (buf[method] < 'A' || buf[method] > 'Z' ||
		    method == METHOD_MAX)
			return PROBE_NEXT;
	}
	if (method == 0)
		return PROBE_NEXT;

	n = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	for (start = 0; ; start = lf + 1) {
		for (lf = start; lf < n && buf[lf] != '\n'; lf++)
			;
		if (lf == n)
			return len >= HTTP_HEAD_MAX ? bad(h, BAD_TOO_LARGE) :
			    PROBE_AGAIN;
		end = lf > start && buf[lf - 1] == '\r' ? lf - 1 : lf;
		if (memchr(buf + start, '\r', end - start) != NULL)
			return bad(h, start ? BAD_HEADER : BAD_LINE);
		if (start == 0)
			rv = request_line(buf, end, method, h);
		else if (end == start)
			return PROBE_MATCH;		/* the empty line */
		else
			rv = header(buf + start, end - start, &hosts, h);
		if (rv == PROBE_BAD)
			return rv;
	}
}
