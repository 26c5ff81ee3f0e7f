/* SPDX-License-Identifier: ISC */
/*
 * etcd.c: what the cluster process reads of etcd's: an HTTP/1.1 response
 * head, chunked framing, base64, and the JSON messages of the v3 gateway
 * (json-c reads the JSON; this file reads json-c's tree). No I/O and no
 * globals; never reads past len. Whatever the bytes, the verdict is a
 * value, never an exit (fuzz/etcd_fuzz.c).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Does the header line at p (n bytes) name h (lower case), and its value? */
static const char *
header(const char *p, size_t n, const char *h, size_t *vlen)
{
	size_t	i, hl = strlen(h);

	if (n <= hl || p[hl] != ':')
		return NULL;
	for (i = 0; i < hl; i++)
		if (lower((unsigned char)p[i]) != h[i])
			return NULL;
	for (i = hl + 1; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	*vlen = n - i;
	while (*vlen > 0 && (p[i + *vlen - 1] == ' ' || p[i + *vlen - 1] ==
	    '\t'))
		(*vlen)--;
	return p + i;
}

static int
word_is(const char *v, size_t n, const char *w)
{
	size_t	i;

	if (n != strlen(w))
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)v[i]) != w[i])
			return 0;
	return 1;
}

enum resp_result
resp_head_parse(const char *buf, size_t len, struct resp_head *h)
{
	const char	*v;
	size_t		 i, start, n, vlen, k;
	int		 line = 0;

	memset(h, 0, sizeof(*h));
	h->length = -1;
	for (start = i = 0; i < len && i < RESP_HEAD_MAX; i++) {
		if (buf[i] != '\n')
			continue;
		n = i - start;
		if (n > 0 && buf[start + n - 1] == '\r')
			n--;
		if (line == 0) {
			/* "HTTP/1.x NNN reason" */
			if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
			    buf[8] != ' ' || buf[9] < '1' || buf[9] > '5' ||
			    buf[10] < '0' || buf[10] > '9' ||
			    buf[11] < '0' || buf[11] > '9')
				return RESP_BAD;
			h->status = (buf[9] - '0') * 100 + (buf[10] - '0') *
			    10 + (buf[11] - '0');
		} else if (n == 0) {
			h->consumed = i + 1;
			return RESP_OK;
		} else if ((v = header(buf + start, n, "content-length",
		    &vlen)) != NULL) {
			if (vlen == 0 || vlen > 12)
				return RESP_BAD;
			h->length = 0;
			for (k = 0; k < vlen; k++) {
				if (v[k] < '0' || v[k] > '9')
					return RESP_BAD;
				h->length = h->length * 10 + (v[k] - '0');
			}
		} else if ((v = header(buf + start, n, "transfer-encoding",
		    &vlen)) != NULL) {
			if (!word_is(v, vlen, "chunked"))
				return RESP_BAD;
			h->chunked = 1;
		}
		for (k = start; k < start + n; k++)
			if ((unsigned char)buf[k] < ' ' && buf[k] != '\t')
				return RESP_BAD;
		line++;
		start = i + 1;
	}
	return i >= RESP_HEAD_MAX ? RESP_BAD : RESP_NEED_MORE;
}

enum resp_result
resp_chunk_line(const char *buf, size_t len, size_t *size, size_t *consumed)
{
	size_t	i, digits = 0;
	int	c, ext = 0;

	*size = 0;
	for (i = 0; i < len && i < 256; i++) {
		c = (unsigned char)buf[i];
		if (c == '\n') {
			if (digits == 0)
				return RESP_BAD;
			*consumed = i + 1;
			return RESP_OK;
		}
		if (c == '\r') {
			if (i + 1 < len && buf[i + 1] != '\n')
				return RESP_BAD;
			continue;
		}
		if (ext || c == ';') {
			ext = 1;
			continue;
		}
		c = lower(c);
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) ||
		    ++digits > 7)
			return RESP_BAD;
		*size = *size * 16 + (size_t)(c <= '9' ? c - '0' : c - 'a' +
		    10);
	}
	return i >= 256 ? RESP_BAD : RESP_NEED_MORE;
}

enum resp_result
resp_chunk_end(const char *buf, size_t len)
{
	if (len == 0)
		return RESP_NEED_MORE;
	if (buf[0] == '\n')
		return RESP_OK;
	if (buf[0] != '\r')
		return RESP_BAD;
	if (len == 1)
		return RESP_NEED_MORE;
	return buf[1] == '\n' ? RESP_OK : RESP_BAD;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0 if it does not fit (NUL included). */
size_t
b64_encode(const void *src, size_t n, char *dst, size_t cap)
{
	const unsigned char	*s = src;
	size_t			 i, o = 0;
	unsigned int		 v;

	if ((n + 2) / 3 * 4 + 1 > cap)
		return 0;
	for (i = 0; i < n; i += 3) {
		v = s[i] << 16;
		if (i + 1 < n)
			v |= s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		dst[o++] = b64[(v >> 18) & 63];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	dst[o] = '\0';
	return o;
}

static int
b64_value(int c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

/* -1 on a bad character, bad padding or no room. */
ssize_t
b64_decode(const char *s, size_t n, void *dst, size_t cap)
{
	unsigned char	*d = dst;
	size_t		 i, o = 0;
	unsigned int	 v;
	int		 k, c, pad;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (pad || (c = b64_value((unsigned char)s[i + k])) ==
			    -1)
				return -1;
			v = v << 6 | (unsigned int)c;
		}
		if (o + 3 - pad > cap)
			return -1;
		d[o++] = v >> 16;
		if (pad < 2)
			d[o++] = (v >> 8) & 0xff;
		if (pad < 1)
			d[o++] = v & 0xff;
	}
	return (ssize_t)o;
}

/* The gateway writes int64 as a string; a number is taken too. */
static int64_t
int_member(struct json_object *o, const char *name, int64_t dflt)
{
	struct json_object	*v;
	const char		*s;
	char			*end;
	long long		 n;

	if (o == NULL || !json_object_object_get_ex(o, name, &v))
		return dflt;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_string))
		return dflt;
	s = json_object_get_string(v);
	if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return dflt;
	n = strtoll(s, &end, 10);
	return *end == '\0' ? n : dflt;
}

static int
bool_member(struct json_object *o, const char *name)
{
	struct json_object	*v;

	return json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
}

/* A base64 member into dst as a string; -1 if absent or bad. */
static int
b64_member(struct json_object *o, const char *name, char *dst, size_t cap)
{
	struct json_object	*v;
	const char		*s;
	ssize_t			 n;
	size_t			 i;

	dst[0] = '\0';
	if (!json_object_object_get_ex(o, name, &v))
		return 0;	/* "" is left out by the gateway */
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if ((n = b64_decode(s, strlen(s), dst, cap - 1)) == -1)
		return -1;
	for (i = 0; i < (size_t)n; i++)
		if ((unsigned char)dst[i] < ' ' || (unsigned char)dst[i] >
		    '~')
			return -1;
	dst[n] = '\0';
	return 0;
}

static void
why(struct etcd_msg *m, const char *s)
{
	size_t	i;

	m->error = 1;
	snprintf(m->why, sizeof(m->why), "%s", s);
	for (i = 0; m->why[i] != '\0'; i++)
		if ((unsigned char)m->why[i] < ' ' ||
		    (unsigned char)m->why[i] > '~')
			m->why[i] = '?';
}

/* kvs or events: each a kv (or {"type", "kv"}) into m->kv. */
static void
kvs(struct json_object *arr, int events, struct etcd_msg *m)
{
	struct json_object	*e, *kv, *t;
	size_t			 i, n = json_object_array_length(arr);

	for (i = 0; i < n; i++) {
		struct etcd_kv	*k;

		if (m->nkv == ETCD_EVENTS_MAX) {
			m->truncated = 1;
			return;
		}
		e = json_object_array_get_idx(arr, i);
		kv = e;
		if (events && !json_object_object_get_ex(e, "kv", &kv)) {
			why(m, "event without kv");
			return;
		}
		if (!json_object_is_type(kv, json_type_object)) {
			why(m, "kv not an object");
			return;
		}
		k = &m->kv[m->nkv];
		memset(k, 0, sizeof(*k));
		k->deleted = events && json_object_object_get_ex(e, "type",
		    &t) && json_object_is_type(t, json_type_string) &&
		    strcmp(json_object_get_string(t), "DELETE") == 0;
		if (b64_member(kv, "key", k->key, sizeof(k->key)) == -1 ||
		    b64_member(kv, "value", k->val, sizeof(k->val)) == -1) {
			/* Not one of ours (too long, not text): skipped. */
			continue;
		}
		k->mod_revision = int_member(kv, "mod_revision", 0);
		m->nkv++;
	}
}

/*
 * One message: a unary answer, or one of a stream's ({"result": ...}).
 * m->kv must hold ETCD_EVENTS_MAX. -1 if it is not JSON at all.
 */
int
etcd_msg_parse(const char *buf, size_t len, struct etcd_msg *m)
{
	struct json_tokener	*tok;
	struct json_object	*root, *o, *v, *hdr;
	struct etcd_kv		*kv = m->kv;
	int			 rc = 0;

	memset(m, 0, sizeof(*m));
	m->kv = kv;
	m->ttl = -1;
	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return -1;
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success
	    || tok->char_offset != (int)len) {
		json_object_put(root);
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	o = root;
	if (!json_object_is_type(o, json_type_object)) {
		why(m, "not an object");
		goto done;
	}
	if (json_object_object_get_ex(o, "error", &v)) {
		if (json_object_is_type(v, json_type_string))
			why(m, json_object_get_string(v));
		else if (json_object_is_type(v, json_type_object) &&
		    json_object_object_get_ex(v, "message", &v) &&
		    json_object_is_type(v, json_type_string))
			why(m, json_object_get_string(v));
		else
			why(m, "error");
		goto done;
	}
	if (json_object_object_get_ex(o, "result", &v)) {
		if (!json_object_is_type(v, json_type_object)) {
			why(m, "result not an object");
			goto done;
		}
		o = v;
	}
	if (json_object_object_get_ex(o, "header", &hdr) &&
	    json_object_is_type(hdr, json_type_object))
		m->revision = int_member(hdr, "revision", 0);
	m->id = int_member(o, "ID", 0);
	m->ttl = int_member(o, "TTL", -1);
	m->compact_revision = int_member(o, "compact_revision", 0);
	m->created = bool_member(o, "created");
	m->canceled = bool_member(o, "canceled");
	if (json_object_object_get_ex(o, "kvs", &v) &&
	    json_object_is_type(v, json_type_array))
		kvs(v, 0, m);
	else if (json_object_object_get_ex(o, "events", &v) &&
	    json_object_is_type(v, json_type_array))
		kvs(v, 1, m);
done:
	json_object_put(root);
	return rc;
}

int
etcd_value_parse(const char *s, struct sockaddr_storage *ss, int *port,
    const char **rules)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 a[INET6_ADDRSTRLEN], num[8];
	const char		*sp = strchr(s, ' ');
	size_t			 k, i;
	long			 n;

	if (sp == NULL || (size_t)(sp - s) >= sizeof(a) || sp == s)
		return -1;
	memcpy(a, s, sp - s);
	a[sp - s] = '\0';
	k = strcspn(sp + 1, " ");
	if (sp[1] < '1' || sp[1] > '9' || k >= sizeof(num))
		return -1;
	memcpy(num, sp + 1, k);
	num[k] = '\0';
	for (i = 0; i < k; i++)
		if (num[i] < '0' || num[i] > '9')
			return -1;
	n = strtol(num, NULL, 10);
	if (n < 1 || n > 65535)
		return -1;
	*rules = sp + 1 + strlen(num);
	if (**rules == ' ')
		(*rules)++;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(n);
	} else if (inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(n);
	} else
		return -1;
	*port = (int)n;
	return 0;
}
