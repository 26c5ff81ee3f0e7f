/* SPDX-License-Identifier: ISC */
/*
 * reply.c: the rendezvous server's reply line as a client reads it, the
 * lines of a HELP listing, and the token line a redirected program reads
 * (reply.h). Pure functions over (buf, len): no I/O, no globals, no
 * allocation; never reads past len. A verdict reached on a prefix is the
 * verdict on every longer input (fuzz/reply_fuzz.c checks it).
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "reply.h"

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
token_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
}

/* Every octet a valid redirect line can hold before its line end. */
static int
redirect_char(unsigned char c)
{
	return token_char(c) || c == '.' || c == ':' || c == '[' ||
	    c == ']' || c == '=' || c == ' ';
}

static enum oneport_reply_result
bad(struct oneport_reply *r, const char *why)
{
	r->why = why;
	return REPLY_BAD;
}

/*
 * Finds the line end, judging each octet as it comes with ok(c) (NULL:
 * any octet but LF). A CR that ok() does not take is allowed only right
 * before the LF; one in the last octet the limit allows is judged by the
 * limit, not by the octet after it. Returns NEED_MORE (no LF in buf, and
 * room left), BAD with *why, or OK with *eol the index of the LF.
 */
static enum oneport_reply_result
scan(const unsigned char *buf, size_t len, size_t lim, size_t from,
    int (*ok)(unsigned char), size_t *eol, const char **why)
{
	size_t	i;

	for (i = from; i < len && i < lim; i++) {
		if (buf[i] == '\n')
			break;
		if (ok == NULL)
			continue;
		if (buf[i] == '\r') {
			if (i + 1 < len && i + 1 < lim && buf[i + 1] != '\n') {
				*why = "CR not before LF";
				return REPLY_BAD;
			}
			continue;
		}
		if (!ok(buf[i])) {
			*why = "octet not allowed in the line";
			return REPLY_BAD;
		}
	}
	if (i >= lim) {
		*why = "line too long";
		return REPLY_BAD;
	}
	if (i == len)
		return REPLY_NEED_MORE;
	*eol = i;
	return REPLY_OK;
}

/* The content of a line whose LF is at eol: one CR before it is not. */
static size_t
content_end(const unsigned char *buf, size_t start, size_t eol)
{
	return eol > start && buf[eol - 1] == '\r' ? eol - 1 : eol;
}

static int
reason_char(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* RFC 3986 dec-octet "." x4: no leading zero, each at most 255. */
static int
ipv4_valid(const unsigned char *s, size_t n)
{
	size_t		i = 0, d;
	unsigned int	v;
	int		part;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		for (d = 0, v = 0; i < n && is_digit(s[i]) && d < 4; i++, d++)
			v = v * 10 + (unsigned int)(s[i] - '0');
		if (d == 0 || d > 3 || v > 255 || (d > 1 && s[i - d] == '0'))
			return 0;
	}
	return i == n;
}

/* RFC 3986 IPv6address: what inet_pton takes, which is that grammar. */
static int
ipv6_valid(const unsigned char *s, size_t n)
{
	char		tmp[64];
	unsigned char	out[16];
	size_t		i;

	if (n == 0 || n >= sizeof(tmp))
		return 0;
	for (i = 0; i < n; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

/*
 * dns-name: labels of letters, digits and inner hyphens, 1 to 63 octets,
 * 253 in all. A last label that is a number (decimal, or 0x and hex) is
 * refused: the system's resolver would take such a "name" for an address
 * in a legacy form ("127.1", "0x7f000001"), which IPv4address excludes.
 */
static int
dns_valid(const unsigned char *s, size_t n)
{
	size_t	i, start = 0, k;
	int	numeric;

	if (n == 0 || n > REPLY_HOST_MAX)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-')
				return 0;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' ||
		    s[i - 1] == '-')
			return 0;
		if (i == n) {
			numeric = 1;
			k = start;
			if (i - start > 1 && s[k] == '0' &&
			    (s[k + 1] == 'x' || s[k + 1] == 'X')) {
				for (k += 2; k < i; k++)
					if (!is_hex(s[k]))
						numeric = 0;
			} else {
				for (; k < i; k++)
					if (!is_digit(s[k]))
						numeric = 0;
			}
			if (numeric)
				return 0;
		}
		start = i + 1;
	}
	return 1;
}

static int
prefix_ci(const unsigned char *s, size_t n, const char *word)
{
	size_t	i, wl = strlen(word);

	if (n < wl)
		return 0;
	for (i = 0; i < wl; i++) {
		unsigned char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)word[i])
			return 0;
	}
	return 1;
}

/* s[0..n) is what follows "@", without the line end. */
static enum oneport_reply_result
redirect(const unsigned char *s, size_t n, struct oneport_reply *r)
{
	size_t		i = 0, start, hn;
	unsigned long	port = 0;

	while (i < n && is_digit(s[i]) && i < 5)
		port = port * 10 + (unsigned long)(s[i++] - '0');
	if (i == 0 || (i > 1 && s[0] == '0') || port < 1 || port > 65535 ||
	    (i < n && is_digit(s[i])))
		return bad(r, "bad port");
	r->port = (unsigned int)port;

	if (i < n && prefix_ci(s + i, n - i, " host=")) {
		i += 6;
		start = i;
		while (i < n && s[i] != ' ')
			i++;
		hn = i - start;
		if (hn > 1 && s[start] == '[' && s[i - 1] == ']') {
			if (!ipv6_valid(s + start + 1, hn - 2))
				return bad(r, "bad IPv6 address");
			r->host_type = REPLY_HOST_IPV6;
			memcpy(r->host, s + start + 1, hn - 2);
			r->host[hn - 2] = '\0';
		} else if (ipv4_valid(s + start, hn)) {
			r->host_type = REPLY_HOST_IPV4;
			memcpy(r->host, s + start, hn);
			r->host[hn] = '\0';
		} else if (dns_valid(s + start, hn)) {
			r->host_type = REPLY_HOST_NAME;
			memcpy(r->host, s + start, hn);
			r->host[hn] = '\0';
		} else
			return bad(r, "bad host");
	}
	if (i < n && prefix_ci(s + i, n - i, " token=")) {
		i += 7;
		start = i;
		while (i < n && token_char(s[i]))
			i++;
		if (i - start < REPLY_TOKEN_MIN || i - start > REPLY_TOKEN_MAX)
			return bad(r, "bad token");
		memcpy(r->token, s + start, i - start);
		r->token[i - start] = '\0';
	}
	if (i != n)
		return bad(r, "bad redirect field");
	return REPLY_OK;
}

enum oneport_reply_result
oneport_reply_parse(const unsigned char *buf, size_t len, size_t max,
    struct oneport_reply *r)
{
	enum oneport_reply_result	 v;
	size_t				 lim, eol = 0, end;
	const char			*why = NULL;

	memset(r, 0, sizeof(*r));
	lim = max < REPLY_MAX ? max : REPLY_MAX;
	if (lim == 0)
		return bad(r, "line too long");
	if (len == 0)
		return REPLY_NEED_MORE;
	if (buf[0] != '+' && buf[0] != '-' && buf[0] != '@')
		return bad(r, "not a reply");
	r->kind = buf[0];
	v = scan(buf, len, lim, 1, buf[0] == '+' ? NULL :
	    buf[0] == '-' ? reason_char : redirect_char, &eol, &why);
	if (v != REPLY_OK)
		return v == REPLY_BAD ? bad(r, why) : v;

	r->consumed = eol + 1;
	end = content_end(buf, 1, eol);
	if (r->kind == '@')
		return redirect(buf + 1, end - 1, r);
	/* end - 1 < lim <= REPLY_MAX: the text fits with its NUL. */
	r->textlen = end - 1;
	memcpy(r->text, buf + 1, r->textlen);
	r->text[r->textlen] = '\0';
	return REPLY_OK;
}

static int
listing_char(unsigned char c)
{
	return c > 0x20 && c <= 0x7e;
}

enum oneport_reply_result
oneport_reply_listing(const unsigned char *buf, size_t len, size_t max,
    char *name, size_t *consumed)
{
	enum oneport_reply_result	 v;
	size_t				 lim, eol = 0, end;
	const char			*why = NULL;

	lim = max < REPLY_MAX ? max : REPLY_MAX;
	name[0] = '\0';
	*consumed = 0;
	if (lim == 0)
		return REPLY_BAD;
	if (len == 0)
		return REPLY_NEED_MORE;
	if (!is_alpha(buf[0]) && !is_digit(buf[0]))
		return REPLY_BAD;
	v = scan(buf, len, lim, 1, listing_char, &eol, &why);
	if (v != REPLY_OK)
		return v;
	end = content_end(buf, 0, eol);
	memcpy(name, buf, end);
	name[end] = '\0';
	*consumed = eol + 1;
	return REPLY_OK;
}

enum oneport_reply_result
oneport_reply_token(const unsigned char *buf, size_t len, char *token,
    size_t *consumed)
{
	enum oneport_reply_result	 v;
	size_t				 eol = 0, end;
	const char			*why = NULL;

	token[0] = '\0';
	*consumed = 0;
	/* The longest token, CR and LF. */
	v = scan(buf, len, REPLY_TOKEN_MAX + 2, 0, token_char, &eol, &why);
	if (v != REPLY_OK)
		return v;
	end = content_end(buf, 0, eol);
	if (end < REPLY_TOKEN_MIN || end > REPLY_TOKEN_MAX)
		return REPLY_BAD;
	memcpy(token, buf, end);
	token[end] = '\0';
	*consumed = eol + 1;
	return REPLY_OK;
}

size_t
oneport_reply_format(char *buf, size_t cap, const struct oneport_reply *r)
{
	int	n;

	if (cap == 0)
		return 0;
	switch (r->kind) {
	case '+':
	case '-':
		if (r->textlen > REPLY_MAX - 3 || r->textlen + 3 >= cap ||
		    memchr(r->text, '\n', r->textlen) != NULL)
			return 0;
		buf[0] = (char)r->kind;
		memcpy(buf + 1, r->text, r->textlen);
		memcpy(buf + 1 + r->textlen, "\r\n", 3);
		return r->textlen + 3;
	case '@':
		if (r->port < 1 || r->port > 65535)
			return 0;
		n = snprintf(buf, cap, "@%u%s%s%s%s%s%s\r\n", r->port,
		    r->host_type != REPLY_HOST_NONE ? " host=" : "",
		    r->host_type == REPLY_HOST_IPV6 ? "[" : "",
		    r->host_type != REPLY_HOST_NONE ? r->host : "",
		    r->host_type == REPLY_HOST_IPV6 ? "]" : "",
		    r->token[0] != '\0' ? " token=" : "", r->token);
		if (n < 0 || (size_t)n >= cap)
			return 0;
		return (size_t)n;
	default:
		return 0;
	}
}
