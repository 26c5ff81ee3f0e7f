/* SPDX-License-Identifier: ISC */
/*
 * cluster.c: the cluster process's loop (oneportd -C). One connection to
 * etcd at a time makes the calls (lease grant, put, delete, range,
 * keepalive, revoke), one after another, each on a fresh HTTP/1.1
 * connection; a second holds the watch of /oneport/CLUSTER/ from a
 * revision, so that after a reconnect the events missed are replayed,
 * not lost. What it must do is a state, not a queue: the names the
 * parent wants exported against those put under the lease, and the
 * next call is whatever closes the gap. Every change of the other hosts'
 * names goes to the parent as the whole table. Nothing etcd sends makes
 * it exit: a bad answer is a failed call, retried after a backoff, on
 * the next endpoint.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cluster.h"
#include "clusteripc.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "name.h"

#define MS			1000000ull
#define CALL_MS			2000	/* a call's connect and answer */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		1000
#define BODY_MAX		(8 * 1024 * 1024)
#define OUT_MAX			4096

enum hstate { H_IDLE, H_CONNECTING, H_SENDING, H_HEAD, H_BODY };
enum chunk { CH_SIZE, CH_DATA, CH_CRLF, CH_DONE };

/* One HTTP/1.1 exchange, request out, response in. */
struct hconn {
	int		 fd;
	enum hstate	 state;
	char		 out[OUT_MAX];
	size_t		 outlen, outoff;
	char		*in;		/* raw bytes not yet framed */
	size_t		 inlen, incap;
	struct resp_head head;
	enum chunk	 chunk;
	size_t		 chunk_left;
	long long	 body_left;	/* Content-Length's; -1: to EOF */
	char		*body;		/* framed, lines not yet taken */
	size_t		 bodylen, bodycap;
	int		 done;		/* the body is complete */
	uint64_t	 deadline_ns;	/* 0: none (an established watch) */
	int		 watch;		/* the watch's, else the calls' */
};

enum call { C_NONE, C_GRANT, C_PUT, C_DEL, C_RANGE, C_KEEPALIVE,
	C_REVOKE };

struct remote {
	char			 name[SERVICE_NAME_MAX + 1];
	char			 host[CLUSTER_NAME_MAX + 1];
	struct sockaddr_storage	 addr;
	char			 rules[CL_RULES_MAX + 1];
};

static struct {
	int		 parent, epfd, sigfd;
	char		*cluster, *host, *address;
	int		 port, lease_s;
	struct sockaddr_storage etcd[CLUSTER_ETCD_MAX];
	int		 netcd, cur;
	char		 prefix[ETCD_KEY_MAX];	/* /oneport/C/names/ */
	/* names and their rules: wanted by the parent; put under the lease */
	struct ipc_cl_name *want;
	int		 nwant;
	struct ipc_cl_name *put;
	int		 nput;
	int64_t		 lease;		/* 0: none held */
	int64_t		 rev;		/* the watch's: seen up to here */
	int		 need_range;	/* the table is rebuilt from a range */
	uint64_t	 keepalive_ns;	/* next keepalive */
	uint64_t	 last_ok_ns;	/* etcd last answered */
	int		 ok;		/* and has not failed since */
	struct hconn	 call, watch;
	enum call	 doing;
	struct ipc_cl_name doing_name;
	uint64_t	 call_retry_ns, watch_retry_ns;
	unsigned int	 backoff_ms;
	struct remote	*tab;
	int		 ntab;
	int		 dirty;		/* the parent's table is behind */
	uint32_t	 sent_flags;
	int		 stopping;
	uint64_t	 stop_by_ns;
	struct etcd_kv	*kv;		/* ETCD_EVENTS_MAX, for messages */
} cl = { .parent = CL_CHANNEL_FD, .call = { .fd = -1 },
	.watch = { .fd = -1, .watch = 1 } };

static void	call_failed(const char *);
static void	watch_failed(const char *);

static void
log_to_parent(int pri, const char *msg)
{
	ipc_send_log(cl.parent, pri, msg);
}

static int
number(const char *s, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max)
		fatalx("-C: bad argument %s", s);
	return (int)v;
}

/* ---- the HTTP exchange ---- */

static void
h_close(struct hconn *h)
{
	if (h->fd != -1) {
		epoll_ctl(cl.epfd, EPOLL_CTL_DEL, h->fd, NULL);
		close(h->fd);
	}
	h->fd = -1;
	h->state = H_IDLE;
	h->inlen = h->bodylen = h->outlen = h->outoff = 0;
	h->done = 0;
}

/* A POST of body to path, on a fresh connection to the endpoint. */
static int
h_start(struct hconn *h, const char *path, const char *body, uint64_t now)
{
	const struct sockaddr_storage	*ss = &cl.etcd[cl.cur];
	struct epoll_event		 ev = { .events = EPOLLIN | EPOLLOUT };
	char				 a[ADDR_STRLEN];
	int				 n, one = 1;

	h_close(h);
	n = snprintf(h->out, sizeof(h->out), "POST %s HTTP/1.1\r\n"
	    "Host: %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", path,
	    addr_ntop((const struct sockaddr *)ss, a, sizeof(a)),
	    strlen(body), body);
	if (n <= 0 || (size_t)n >= sizeof(h->out))
		return -1;
	h->outlen = n;
	if ((h->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(h->fd, (const struct sockaddr *)ss, ss->ss_family ==
	    AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6)) == -1 && errno != EINPROGRESS) {
		h_close(h);
		return -1;
	}
	ev.data.ptr = h;
	if (epoll_ctl(cl.epfd, EPOLL_CTL_ADD, h->fd, &ev) == -1) {
		h_close(h);
		return -1;
	}
	h->state = H_CONNECTING;
	h->deadline_ns = now + CALL_MS * MS;
	h->chunk = CH_SIZE;
	h->body_left = -1;
	return 0;
}

static int
grow(char **buf, size_t *cap, size_t need)
{
	char	*p;
	size_t	 n = *cap ? *cap : 4096;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > BODY_MAX || (p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

static int
body_add(struct hconn *h, const char *p, size_t n)
{
	if (grow(&h->body, &h->bodycap, h->bodylen + n + 1) == -1)
		return -1;
	memcpy(h->body + h->bodylen, p, n);
	h->bodylen += n;
	return 0;
}

/* Frames what came in: the head, then the body by its framing. */
static int
h_frame(struct hconn *h, int eof)
{
	size_t	off = 0, n;

	if (h->state == H_HEAD) {
		switch (resp_head_parse(h->in, h->inlen, &h->head)) {
		case RESP_NEED_MORE:
			return eof ? -1 : 0;
		case RESP_BAD:
			return -1;
		case RESP_OK:
			break;
		}
		off = h->head.consumed;
		h->body_left = h->head.chunked ? -1 : h->head.length;
		h->state = H_BODY;
	}
	while (off < h->inlen && !h->done) {
		if (!h->head.chunked) {
			n = h->inlen - off;
			if (h->body_left >= 0 && (long long)n > h->body_left)
				n = (size_t)h->body_left;
			if (body_add(h, h->in + off, n) == -1)
				return -1;
			off += n;
			if (h->body_left >= 0 && (h->body_left -= n) == 0)
				h->done = 1;
			continue;
		}
		if (h->chunk == CH_SIZE) {
			switch (resp_chunk_line(h->in + off, h->inlen - off,
			    &h->chunk_left, &n)) {
			case RESP_NEED_MORE:
				goto out;
			case RESP_BAD:
				return -1;
			case RESP_OK:
				break;
			}
			off += n;
			h->chunk = h->chunk_left == 0 ? CH_DONE : CH_DATA;
			if (h->chunk == CH_DONE)
				h->done = 1;	/* trailers are not read */
		} else if (h->chunk == CH_DATA) {
			n = h->inlen - off < h->chunk_left ? h->inlen - off :
			    h->chunk_left;
			if (body_add(h, h->in + off, n) == -1)
				return -1;
			off += n;
			if ((h->chunk_left -= n) == 0)
				h->chunk = CH_CRLF;
		} else {
			switch (resp_chunk_end(h->in + off, h->inlen - off)) {
			case RESP_NEED_MORE:
				goto out;
			case RESP_BAD:
				return -1;
			case RESP_OK:
				break;
			}
			off += h->in[off] == '\r' ? 2 : 1;
			h->chunk = CH_SIZE;
		}
	}
out:
	memmove(h->in, h->in + off, h->inlen - off);
	h->inlen -= off;
	if (eof && !h->done) {
		if (h->state == H_BODY && !h->head.chunked &&
		    h->head.length < 0)
			h->done = 1;
		else
			return -1;
	}
	return 0;
}

/* ---- what etcd is asked ---- */

static size_t
key_of(char *buf, size_t cap, const char *name, const char *host)
{
	int	n = snprintf(buf, cap, "%s%s/%s", cl.prefix, name, host);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The prefix's range end: its last byte plus one. */
static void
prefix_range(char *key, size_t kcap, char *end, size_t ecap)
{
	char	e[ETCD_KEY_MAX];
	size_t	n = strlen(cl.prefix);

	memcpy(e, cl.prefix, n + 1);
	e[n - 1]++;
	b64_encode(cl.prefix, n, key, kcap);
	b64_encode(e, n, end, ecap);
}

static int
has(const struct ipc_cl_name *v, int n, const char *name)
{
	int	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return i;
	return -1;
}

/* The next call, or C_NONE: whatever closes the gap, in this order. */
static enum call
next_call(uint64_t now, const struct ipc_cl_name **name)
{
	int	i, j;

	if (cl.stopping)
		return cl.lease != 0 ? C_REVOKE : C_NONE;
	if (cl.lease == 0)
		return C_GRANT;
	for (i = 0; i < cl.nwant; i++)
		if ((j = has(cl.put, cl.nput, cl.want[i].name)) == -1 ||
		    strcmp(cl.put[j].rules, cl.want[i].rules) != 0) {
			*name = &cl.want[i];
			return C_PUT;
		}
	for (i = 0; i < cl.nput; i++)
		if (has(cl.want, cl.nwant, cl.put[i].name) == -1) {
			*name = &cl.put[i];
			return C_DEL;
		}
	if (cl.need_range)
		return C_RANGE;
	if (now >= cl.keepalive_ns)
		return C_KEEPALIVE;
	return C_NONE;
}

static void
call_start(uint64_t now)
{
	char		 body[2048], k[ETCD_KEY_MAX * 2], v[ETCD_VAL_MAX * 2];
	char		 key[ETCD_KEY_MAX], val[ETCD_VAL_MAX];
	char		 a[ADDR_STRLEN];
	const struct ipc_cl_name *name = NULL;
	const char	*path = NULL;
	enum call	 c;

	if (cl.call.state != H_IDLE || now < cl.call_retry_ns ||
	    (c = next_call(now, &name)) == C_NONE)
		return;
	switch (c) {
	case C_GRANT:
		path = "/v3/lease/grant";
		snprintf(body, sizeof(body), "{\"TTL\":%d}", cl.lease_s);
		break;
	case C_PUT:
	case C_DEL:
		b64_encode(key, key_of(key, sizeof(key), name->name, cl.host),
		    k, sizeof(k));
		if (c == C_DEL) {
			path = "/v3/kv/deleterange";
			snprintf(body, sizeof(body), "{\"key\":\"%s\"}", k);
			break;
		}
		snprintf(val, sizeof(val), "%s %d%s%s", cl.address, cl.port,
		    name->rules[0] != '\0' ? " " : "", name->rules);
		b64_encode(val, strlen(val), v, sizeof(v));
		path = "/v3/kv/put";
		snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\","
		    "\"lease\":\"%lld\"}", k, v, (long long)cl.lease);
		break;
	case C_RANGE:
		prefix_range(k, sizeof(k), v, sizeof(v));
		path = "/v3/kv/range";
		snprintf(body, sizeof(body), "{\"key\":\"%s\","
		    "\"range_end\":\"%s\"}", k, v);
		break;
	case C_KEEPALIVE:
	case C_REVOKE:
		path = c == C_REVOKE ? "/v3/lease/revoke" :
		    "/v3/lease/keepalive";
		snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}",
		    (long long)cl.lease);
		break;
	case C_NONE:
		return;
	}
	cl.doing = c;
	memset(&cl.doing_name, 0, sizeof(cl.doing_name));
	if (name != NULL)
		cl.doing_name = *name;
	if (h_start(&cl.call, path, body, now) == -1)
		call_failed(addr_ntop((struct sockaddr *)&cl.etcd[cl.cur], a,
		    sizeof(a)));
}

static void
etcd_ok(uint64_t now)
{
	if (!cl.ok)
		log_info("cluster: etcd answers");
	cl.ok = 1;
	cl.last_ok_ns = now;
	cl.backoff_ms = 0;
}

static void
etcd_down(const char *what, const char *why)
{
	char	a[ADDR_STRLEN];

	if (cl.ok || log_verbose)
		log_warnx("cluster: etcd %s: %s: %s",
		    addr_ntop((struct sockaddr *)&cl.etcd[cl.cur], a,
		    sizeof(a)), what, why);
	cl.ok = 0;
	cl.cur = (cl.cur + 1) % cl.netcd;
	cl.backoff_ms = cl.backoff_ms == 0 ? BACKOFF_MIN_MS :
	    cl.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    cl.backoff_ms * 2;
}

static void
call_failed(const char *why)
{
	h_close(&cl.call);
	etcd_down("call", why);
	cl.call_retry_ns = now_ns() + cl.backoff_ms * MS;
	/* The watch went with it, most likely; it follows the calls. */
	if (cl.watch.state != H_IDLE)
		watch_failed("the calls failed");
}

static int
remote_cmp(const void *a, const void *b)
{
	const struct remote	*x = a, *y = b;
	int			 c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->host, y->host);
}

/* An etcd key of ours into name and host; -1 if it is not one. */
static int
key_split(const char *key, char *name, char *host)
{
	size_t		 n = strlen(cl.prefix);
	const char	*slash;

	if (strncmp(key, cl.prefix, n) != 0 ||
	    (slash = strchr(key + n, '/')) == NULL ||
	    (size_t)(slash - key - n) > SERVICE_NAME_MAX)
		return -1;
	memcpy(name, key + n, slash - key - n);
	name[slash - key - n] = '\0';
	if (!name_valid(name, strlen(name), NAME_LOWER) ||
	    strlen(slash + 1) > CLUSTER_NAME_MAX ||
	    !cluster_word_valid(slash + 1))
		return -1;
	memcpy(host, slash + 1, strlen(slash + 1) + 1);
	return 0;
}

static void
table_apply(const struct etcd_kv *kv)
{
	struct remote	 r, *p;
	const char	*rules;
	int		 port, i;

	memset(&r, 0, sizeof(r));
	if (key_split(kv->key, r.name, r.host) == -1 ||
	    strcmp(r.host, cl.host) == 0)
		return;
	for (i = 0; i < cl.ntab; i++)
		if (remote_cmp(&cl.tab[i], &r) == 0)
			break;
	if (kv->deleted) {
		if (i < cl.ntab) {
			cl.tab[i] = cl.tab[--cl.ntab];
			cl.dirty = 1;
		}
		return;
	}
	if (etcd_value_parse(kv->val, &r.addr, &port, &rules) == -1) {
		log_debug("cluster: %s: not ADDRESS PORT", kv->key);
		return;
	}
	if (clusteripc_rules_valid(rules))
		snprintf(r.rules, sizeof(r.rules), "%s", rules);
	else
		log_warnx("cluster: %s: its match rules are left out",
		    kv->key);
	if (i == cl.ntab) {
		if (cl.ntab == CLUSTER_REMOTE_MAX) {
			log_warnx("cluster: more than %d remote names; %s "
			    "left out", CLUSTER_REMOTE_MAX, kv->key);
			return;
		}
		if ((p = reallocarray(cl.tab, cl.ntab + 1, sizeof(*p))) ==
		    NULL) {
			log_warn("cluster: table");
			return;
		}
		cl.tab = p;
		cl.ntab++;
	}
	cl.tab[i] = r;
	cl.dirty = 1;
}

static void
watch_start(uint64_t now)
{
	char	body[2048], k[ETCD_KEY_MAX * 2], e[ETCD_KEY_MAX * 2];
	char	a[ADDR_STRLEN];

	if (cl.watch.state != H_IDLE || cl.need_range || cl.rev == 0 ||
	    now < cl.watch_retry_ns || cl.stopping)
		return;
	prefix_range(k, sizeof(k), e, sizeof(e));
	snprintf(body, sizeof(body), "{\"create_request\":{\"key\":\"%s\","
	    "\"range_end\":\"%s\",\"start_revision\":\"%lld\"}}", k, e,
	    (long long)cl.rev + 1);
	if (h_start(&cl.watch, "/v3/watch", body, now) == -1)
		watch_failed(addr_ntop((struct sockaddr *)&cl.etcd[cl.cur], a,
		    sizeof(a)));
}

static void
watch_failed(const char *why)
{
	h_close(&cl.watch);
	log_debug("cluster: watch ended: %s", why);
	cl.watch_retry_ns = now_ns() + (cl.backoff_ms ? cl.backoff_ms :
	    BACKOFF_MIN_MS) * MS;
}

/* A call's answer: its first message. */
static void
call_done(const struct etcd_msg *m, uint64_t now)
{
	int	i;

	h_close(&cl.call);
	if (m->error) {
		/* The lease is gone (expired while we were away). */
		if (strstr(m->why, "lease not found") != NULL) {
			log_info("cluster: lease %llx gone; a new one",
			    (unsigned long long)cl.lease);
			cl.lease = 0;
			cl.nput = 0;
			etcd_ok(now);
			return;
		}
		call_failed(m->why);
		return;
	}
	etcd_ok(now);
	switch (cl.doing) {
	case C_GRANT:
		if (m->id == 0 || m->ttl <= 0) {
			call_failed("grant without a lease");
			return;
		}
		cl.lease = m->id;
		cl.nput = 0;
		cl.keepalive_ns = now + cl.lease_s * 1000 / 3 * MS;
		log_info("cluster: lease %llx, %lld s",
		    (unsigned long long)cl.lease, (long long)m->ttl);
		break;
	case C_PUT:
		if ((i = has(cl.put, cl.nput, cl.doing_name.name)) != -1)
			cl.put[i] = cl.doing_name;
		else if (cl.nput < CLUSTER_LOCAL_MAX)
			cl.put[cl.nput++] = cl.doing_name;
		break;
	case C_DEL:
		if ((i = has(cl.put, cl.nput, cl.doing_name.name)) != -1)
			cl.put[i] = cl.put[--cl.nput];
		break;
	case C_RANGE:
		cl.ntab = 0;
		for (i = 0; i < m->nkv; i++)
			table_apply(&m->kv[i]);
		if (m->truncated)
			log_warnx("cluster: the range was cut at %d names",
			    ETCD_EVENTS_MAX);
		cl.rev = m->revision;
		cl.need_range = 0;
		cl.dirty = 1;
		break;
	case C_KEEPALIVE:
		if (m->ttl <= 0) {
			log_info("cluster: lease %llx expired; a new one",
			    (unsigned long long)cl.lease);
			cl.lease = 0;
			cl.nput = 0;
		}
		cl.keepalive_ns = now + cl.lease_s * 1000 / 3 * MS;
		break;
	case C_REVOKE:
		log_info("cluster: lease %llx revoked",
		    (unsigned long long)cl.lease);
		cl.lease = 0;
		break;
	case C_NONE:
		break;
	}
}

static void
watch_msg(const struct etcd_msg *m, uint64_t now)
{
	int	i;

	if (m->error || m->canceled || m->compact_revision > 0) {
		/* Compacted past our revision: start again from a range. */
		if (m->compact_revision > 0 || m->canceled)
			cl.need_range = 1;
		watch_failed(m->error ? m->why : "canceled or compacted");
		return;
	}
	etcd_ok(now);
	cl.watch.deadline_ns = 0;	/* established: no deadline now */
	for (i = 0; i < m->nkv; i++) {
		table_apply(&m->kv[i]);
		if (m->kv[i].mod_revision > cl.rev)
			cl.rev = m->kv[i].mod_revision;
	}
	if (m->truncated) {
		cl.need_range = 1;
		watch_failed("too many events at once");
	}
}

/* The whole messages in h's body: lines, and the rest once complete. */
static void
h_messages(struct hconn *h, uint64_t now)
{
	struct etcd_msg	 m;
	char		*nl;
	size_t		 n;

	while (h->fd != -1 && h->bodylen > 0) {
		nl = memchr(h->body, '\n', h->bodylen);
		if (nl == NULL && !h->done)
			return;
		n = nl != NULL ? (size_t)(nl - h->body) : h->bodylen;
		m.kv = cl.kv;
		if (n > 0 && etcd_msg_parse(h->body, n, &m) == -1) {
			if (h->watch)
				watch_failed("not JSON");
			else
				call_failed("not JSON");
			return;
		}
		memmove(h->body, h->body + n + (nl != NULL),
		    h->bodylen - n - (nl != NULL));
		h->bodylen -= n + (nl != NULL);
		if (n == 0)
			continue;
		if (h->head.status != 200 && !m.error) {
			m.error = 1;
			snprintf(m.why, sizeof(m.why), "HTTP status %d",
			    h->head.status);
		}
		if (!h->watch) {
			call_done(&m, now);
			return;
		}
		watch_msg(&m, now);
	}
	if (h->fd != -1 && h->done) {
		if (h->watch)
			watch_failed("the stream ended");
		else
			call_failed("an empty answer");
	}
}

static void
h_fail(struct hconn *h, const char *why)
{
	if (h->watch)
		watch_failed(why);
	else
		call_failed(why);
}

static void
h_event(struct hconn *h, uint32_t events, uint64_t now)
{
	struct epoll_event	 ev = { .events = EPOLLIN, .data.ptr = h };
	socklen_t		 len = sizeof(int);
	ssize_t			 n;
	int			 err = 0, eof = 0;

	if (h->state == H_CONNECTING) {
		if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) ==
		    -1 || err != 0) {
			h_fail(h, strerror(err ? err : errno));
			return;
		}
		h->state = H_SENDING;
	}
	if (h->state == H_SENDING && (events & (EPOLLOUT | EPOLLERR))) {
		n = send(h->fd, h->out + h->outoff, h->outlen - h->outoff,
		    MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN) {
			h_fail(h, strerror(errno));
			return;
		}
		if (n > 0 && (h->outoff += n) == h->outlen) {
			h->state = H_HEAD;
			epoll_ctl(cl.epfd, EPOLL_CTL_MOD, h->fd, &ev);
		}
	}
	if (h->state < H_HEAD || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		if (grow(&h->in, &h->incap, h->inlen + 16384) == -1) {
			h_fail(h, "answer too large");
			return;
		}
		n = recv(h->fd, h->in + h->inlen, h->incap - h->inlen, 0);
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1) {
			h_fail(h, strerror(errno));
			return;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		h->inlen += n;
	}
	if (h_frame(h, eof) == -1) {
		h_fail(h, "a broken HTTP answer");
		return;
	}
	h_messages(h, now);
	if (h->fd != -1 && eof)
		h_fail(h, "closed");
}

/* ---- the parent ---- */

static uint32_t
flags(uint64_t now)
{
	uint32_t	f = 0;

	if (cl.ok)
		f |= CL_CONNECTED;
	if (cl.lease != 0)
		f |= CL_LEASED;
	if (now - cl.last_ok_ns > (uint64_t)cl.lease_s * 1000 * MS)
		f |= CL_STALE;
	return f;
}

static void
table_send(uint64_t now)
{
	struct ipc_cl_table	*t;
	struct ipc_cl_entry	*e;
	size_t			 len;
	uint32_t		 f = flags(now);
	int			 i;

	if (!cl.dirty && f == cl.sent_flags)
		return;
	len = sizeof(*t) + (size_t)cl.ntab * sizeof(*e);
	if ((t = calloc(1, len)) == NULL)
		return;
	if (cl.ntab > 1)
		qsort(cl.tab, cl.ntab, sizeof(*cl.tab), remote_cmp);
	t->n = cl.ntab;
	t->flags = f;
	t->revision = cl.rev;
	t->lease_s = cl.lease_s;
	e = (struct ipc_cl_entry *)(t + 1);
	for (i = 0; i < cl.ntab; i++) {
		memcpy(e[i].name, cl.tab[i].name, sizeof(e[i].name));
		memcpy(e[i].host, cl.tab[i].host, sizeof(e[i].host));
		memcpy(e[i].rules, cl.tab[i].rules, sizeof(e[i].rules));
		memcpy(&e[i].addr, &cl.tab[i].addr,
		    cl.tab[i].addr.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	}
	if (ipc_send(cl.parent, IPC_CL_TABLE, t, len, -1) == 0) {
		cl.dirty = 0;
		cl.sent_flags = f;
	}
	free(t);
}

static void
stop(const char *why)
{
	if (cl.stopping)
		return;
	log_debug("cluster: stopping: %s", why);
	cl.stopping = 1;
	cl.stop_by_ns = now_ns() + CALL_MS * MS;
	h_close(&cl.watch);
	if (cl.call.state != H_IDLE && cl.doing != C_REVOKE)
		h_close(&cl.call);
	cl.call_retry_ns = 0;
}

static void
parent_read(void)
{
	static uint8_t	 buf[sizeof(struct ipc_cl_names) +
			    CLUSTER_LOCAL_MAX * sizeof(struct ipc_cl_name)];
	struct ipc_hdr	 hdr;
	const uint8_t	*names;
	const char	*why;
	uint32_t	 n, i;
	ssize_t		 len;
	int		 fd;

	for (;;) {
		len = ipc_recv(cl.parent, &hdr, buf, sizeof(buf), &fd);
		if (len == -1 && errno == EAGAIN)
			return;
		if (len == 0 && hdr.type == 0) {
			stop("the parent closed the channel");
			return;
		}
		if (len == -1)
			fatal("cluster: receive");
		switch (clusteripc_names_parse(hdr.type, buf, len, fd != -1,
		    &n, &names, &why)) {
		case -1:
			fatalx("cluster: %s from the parent", why);
		case 1:
			/* The watchdog's: our loop turns. A full channel
			 * is a parent with our messages to read, as good. */
			(void)ipc_send(cl.parent, IPC_PING, NULL, 0, -1);
			continue;
		}
		for (i = 0; i < n; i++)
			memcpy(&cl.want[i], names + i * sizeof(cl.want[0]),
			    sizeof(cl.want[0]));
		cl.nwant = n;
	}
}

/* The soonest deadline: a call to make or retry, a connection's. */
static int
timeout_ms(uint64_t now)
{
	uint64_t	t = now + 250 * MS;	/* the stale flag, at least */

	if (cl.call.state == H_IDLE && cl.call_retry_ns > now &&
	    cl.call_retry_ns < t)
		t = cl.call_retry_ns;
	if (cl.call.state == H_IDLE && cl.keepalive_ns > now &&
	    cl.keepalive_ns < t)
		t = cl.keepalive_ns;
	if (cl.watch.state == H_IDLE && cl.watch_retry_ns > now &&
	    cl.watch_retry_ns < t)
		t = cl.watch_retry_ns;
	return (int)((t - now) / MS) + 1;
}

static void
deadlines(uint64_t now)
{
	if (cl.call.state != H_IDLE && now >= cl.call.deadline_ns)
		call_failed("timed out");
	if (cl.watch.state != H_IDLE && cl.watch.deadline_ns != 0 &&
	    now >= cl.watch.deadline_ns)
		watch_failed("timed out");
}

static void
setup(int argc, char *argv[])
{
	struct epoll_event	 ev = { .events = EPOLLIN };
	sigset_t		 set;
	const char		*rules;
	int			 i, port;

	cl.lease_s = number(argv[6], 3600);
	cl.cluster = argv[7];
	cl.host = argv[8];
	cl.address = argv[9];
	cl.port = number(argv[10], 65535);
	for (i = 11; i < argc && cl.netcd < CLUSTER_ETCD_MAX; i++)
		if (etcd_value_parse(argv[i], &cl.etcd[cl.netcd++],
		    &port, &rules) == -1 || *rules != '\0')
			fatalx("-C: bad endpoint %s", argv[i]);
	if (cl.netcd == 0 || !cluster_word_valid(cl.cluster) ||
	    !cluster_word_valid(cl.host))
		fatalx("-C: bad arguments");
	snprintf(cl.prefix, sizeof(cl.prefix), "/oneport/%s/names/",
	    cl.cluster);
	cl.want = calloc(CLUSTER_LOCAL_MAX, sizeof(*cl.want));
	cl.put = calloc(CLUSTER_LOCAL_MAX, sizeof(*cl.put));
	cl.kv = calloc(ETCD_EVENTS_MAX, sizeof(*cl.kv));
	if (cl.want == NULL || cl.put == NULL || cl.kv == NULL)
		fatal("cluster: calloc");
	cl.need_range = 1;
	cl.last_ok_ns = now_ns();
	fcntl(cl.parent, F_SETFD, FD_CLOEXEC);
	fcntl(cl.parent, F_SETFL, O_NONBLOCK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("cluster: sigprocmask");
	sigdelset(&set, SIGPIPE);
	if ((cl.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1 || (cl.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("cluster: signalfd, epoll");
	ev.data.ptr = &cl.parent;
	if (epoll_ctl(cl.epfd, EPOLL_CTL_ADD, cl.parent, &ev) == -1)
		fatal("cluster: epoll_ctl");
	ev.data.ptr = &cl.sigfd;
	if (epoll_ctl(cl.epfd, EPOLL_CTL_ADD, cl.sigfd, &ev) == -1)
		fatal("cluster: epoll_ctl");
}

/*
 * argv: oneportd-cluster -C USER ROOT DEBUG VERBOSE LEASE CLUSTER HOST
 * ADDRESS PORT ENDPOINT...; each endpoint "ADDRESS PORT", all it may
 * connect to (Landlock).
 */
void
cluster_run(int argc, char *argv[])
{
	struct epoll_event	 evs[8];
	struct signalfd_siginfo	 si;
	struct ucred		 cr;
	socklen_t		 len = sizeof(int);
	uint16_t		 ports[CLUSTER_ETCD_MAX];
	uint64_t		 now;
	int			 i, n, type;

	if (argc < 12 || getsockopt(CL_CHANNEL_FD, SOL_SOCKET, SO_TYPE,
	    &type, &len) == -1 || type != SOCK_SEQPACKET)
		fatalx("-C: for oneportd's own use (its cluster process)");
	len = sizeof(cr);
	if (getsockopt(CL_CHANNEL_FD, SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == -1)
		fatal("cluster: SO_PEERCRED");
	log_verbose = number(argv[5], 100);
	prctl(PR_SET_NAME, "oneportd-clust");
	if (!number(argv[4], 1))
		log_set_sink(log_to_parent);
	setup(argc, argv);
	for (i = 0; i < cl.netcd; i++)
		ports[i] = addr_port((struct sockaddr *)&cl.etcd[i]);
	cluster_sandbox(argv[2], argv[3], cr.pid, ports, cl.netcd);
	if (ipc_send(cl.parent, IPC_READY, NULL, 0, -1) == -1)
		fatal("cluster: ready");
	for (;;) {
		now = now_ns();
		if (cl.stopping && ((cl.lease == 0 && cl.call.state ==
		    H_IDLE) || now >= cl.stop_by_ns))
			_exit(0);
		call_start(now);
		watch_start(now);
		table_send(now);
		n = epoll_wait(cl.epfd, evs, 8, timeout_ms(now));
		if (n == -1 && errno != EINTR)
			fatal("cluster: epoll_wait");
		now = now_ns();
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &cl.parent)
				parent_read();
			else if (evs[i].data.ptr == &cl.sigfd) {
				while (read(cl.sigfd, &si, sizeof(si)) > 0)
					stop("a signal");
			} else if (((struct hconn *)evs[i].data.ptr)->fd != -1)
				h_event(evs[i].data.ptr, evs[i].events, now);
		}
		deadlines(now_ns());
	}
}
