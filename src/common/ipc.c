/* SPDX-License-Identifier: ISC */
/*
 * ipc.c: typed, versioned messages between oneportd's processes over a
 * SOCK_SEQPACKET socketpair, so one send is one message. The receiver checks
 * the version, the type, the exact length and whether an fd came with it;
 * anything else is a broken peer. What the payloads may hold is checked
 * by the pure parsers at the end (fuzz/ipc_*_fuzz.c), one for each
 * direction; the parent's writes to the frontend go through a queue, so a
 * full socket is back-pressure and never an error.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ancil.h"
#include "ipc.h"
#include "log.h"
#include "name.h"

/*
 * Send iov as one message, with fd attached when fd >= 0. Never blocks;
 * returns the bytes sent or -1. Shared with handoff.c, whose messages to
 * services carry client fds the same way.
 */
ssize_t
fd_sendmsg(int sock, struct iovec *iov, int iovcnt, int fd)
{
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;
	if (fd >= 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n;
}

/* Send one typed message, with fd attached when fd >= 0. */
int
ipc_send(int sock, enum ipc_type type, const void *data, size_t len, int fd)
{
	struct ipc_hdr	 hdr;
	struct iovec	 iov[2];
	ssize_t		 n;

	if (len > IPC_MAX - sizeof(hdr)) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = IPC_VERSION;
	hdr.type = type;
	hdr.len = len;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	if ((n = fd_sendmsg(sock, iov, len > 0 ? 2 : 1, fd)) == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * Whether a header and the n bytes that came with it (header included)
 * are one whole message of ours: the version, a known type, no flags and
 * a length that agrees with what came. Pure, like the parsers below.
 */
int
ipc_hdr_valid(const struct ipc_hdr *hdr, size_t n)
{
	return n >= sizeof(*hdr) && hdr->version == IPC_VERSION &&
	    hdr->type != 0 && hdr->type < IPC_TYPE_MAX && hdr->flags == 0 &&
	    hdr->len == n - sizeof(*hdr);
}

/*
 * Receive one message into hdr and buf. Returns the payload length, 0 with
 * hdr->type == 0 on EOF, -1 with errno EAGAIN when nothing is waiting, and
 * -1 with errno EBADMSG for a malformed message (wrong version, truncated,
 * length mismatch, more than one fd), and -1 with errno EMFILE when an fd
 * was sent but could not be received here (it is lost). *fd receives
 * the attached descriptor or -1; the caller decides whether one was due.
 */
ssize_t
ipc_recv(int sock, struct ipc_hdr *hdr, void *buf, size_t bufsz, int *fd)
{
	struct iovec	 iov[2];
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(ANCIL_FDS_MAX * sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;
	int		 nfds, i, fds[ANCIL_FDS_MAX + 1];
	enum ancil	 v;

	*fd = -1;
	memset(hdr, 0, sizeof(*hdr));
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(*hdr);
	iov[1].iov_base = buf;
	iov[1].iov_len = bufsz;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n;

	/* The one judge of control data, as on the pass channels. */
	v = ancil_parse(cmsgbuf.buf, msg.msg_controllen, msg.msg_flags, fds,
	    ANCIL_FDS_MAX + 1, &nfds);
	/* At our descriptor limit the kernel drops the fd and says so. */
	if (v == ANCIL_LOST) {
		errno = EMFILE;
		return -1;
	}
	if (v == ANCIL_BAD || !ipc_hdr_valid(hdr, n)) {
		for (i = 0; i < nfds && i <= ANCIL_FDS_MAX; i++)
			close(fds[i]);
		errno = EBADMSG;
		return -1;
	}
	if (nfds == 1)
		*fd = fds[0];
	return hdr->len;
}

/* ---- the queue of the parent's messages to a helper ---- */

struct ipc_qmsg {
	struct ipc_qmsg	*next;
	enum ipc_type	 type;
	int		 fd;		/* -1, or ours until it is sent */
	size_t		 len;
	uint8_t		 data[];
};

/*
 * Queue a message and the fd that goes with it (-1: none), which the
 * queue owns from here: closed once sent or dropped. With coalesce, a
 * queued message of the same type not yet sent is replaced: only the
 * latest matters. Returns -1 when out of memory (fd is still the
 * caller's then).
 */
int
ipc_queue_add(struct ipc_queue *q, enum ipc_type type, const void *data,
    size_t len, int fd, int coalesce)
{
	struct ipc_qmsg	*m, **pp;

	if (len > IPC_MAX - sizeof(struct ipc_hdr)) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((m = malloc(sizeof(*m) + len)) == NULL)
		return -1;
	m->next = NULL;
	m->type = type;
	m->fd = fd;
	m->len = len;
	if (len > 0)
		memcpy(m->data, data, len);
	for (pp = &q->head; *pp != NULL; ) {
		if (coalesce && (*pp)->type == type) {
			struct ipc_qmsg	*old = *pp;

			*pp = old->next;
			if (old->fd != -1)
				close(old->fd);
			free(old);
			q->n--;
		} else
			pp = &(*pp)->next;
	}
	*pp = m;
	q->n++;
	return 0;
}

/*
 * Send what is queued, in order, until the socket is full. Returns 0 when
 * all went, 1 when some wait for the socket to be writable, -1 when the
 * peer is gone or broken (errno says why).
 */
int
ipc_queue_flush(struct ipc_queue *q, int sock)
{
	struct ipc_qmsg	*m;

	while ((m = q->head) != NULL) {
		if (ipc_send(sock, m->type, m->data, m->len, m->fd) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return 1;
			return -1;
		}
		q->head = m->next;
		q->n--;
		if (m->fd != -1)
			close(m->fd);
		free(m);
	}
	return 0;
}

/*
 * Drop what is queued. A message with an fd goes to unsent first (if not
 * NULL), which takes the fd: a client in it is answered, not just closed.
 */
void
ipc_queue_clear(struct ipc_queue *q, void (*unsent)(void *, enum ipc_type,
    const uint8_t *, size_t, int), void *arg)
{
	struct ipc_qmsg	*m;

	while ((m = q->head) != NULL) {
		q->head = m->next;
		if (m->fd != -1 && unsent != NULL)
			unsent(arg, m->type, m->data, m->len, m->fd);
		else if (m->fd != -1)
			close(m->fd);
		free(m);
	}
	q->n = 0;
}

/* ---- parsers: pure functions over (buf, len), never past len ---- */

/*
 * A rule's string: inside the blob and NUL-terminated there, of at most
 * max bytes, each one that ok() allows. Length 0 is "any" and points
 * nowhere.
 */
static int
blob_string(const struct ipc_config_view *v, uint32_t off, uint32_t len,
    size_t max, int (*ok)(const char *, size_t))
{
	if (len == 0)
		return off == 0;
	return len <= max && off < v->bloblen && len < v->bloblen - off &&
	    v->blob[off + len] == '\0' &&
	    memchr(v->blob + off, '\0', len) == NULL &&
	    ok((const char *)v->blob + off, len);
}

/* A host pattern's bytes as config.c writes them: lower-case letters,
 * digits, '-', '.', ':' (an IPv6 literal), and '*' only as "*.". */
static int
host_chars(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '.' || s[i] == ':')
			continue;
		if (s[i] == '*' && i == 0 && len > 2 && s[1] == '.')
			continue;
		return 0;
	}
	return 1;
}

/* An ALPN protocol name: printable ASCII, no space. */
static int
alpn_chars(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

static int
service_name_cmp(const void *key, const void *elem)
{
	struct ipc_service	s;

	memcpy(&s, elem, sizeof(s));
	return strcmp(key, s.name);
}

/* The rules: a known probe, strings where that probe has them, a
 * service among the names, and one silence rule if silence_ms says so. */
static int
config_rules(const struct ipc_config_view *v, const char **why)
{
	struct ipc_rule	 r;
	uint32_t	 i, nsilence = 0;

	for (i = 0; i < v->set.nrules; i++) {
		memcpy(&r, v->rules + i * sizeof(r), sizeof(r));
		*why = "bad rule";
		if (r.proto == PROTO_TCPMUX || r.proto >= PROTO_MAX ||
		    r.proto == PROTO_TOKEN ||
		    (r.host_len > 0 && r.proto != PROTO_TLS &&
		    r.proto != PROTO_HTTP) ||
		    (r.alpn_len > 0 && r.proto != PROTO_TLS))
			return -1;
		*why = "bad rule host";
		if (!blob_string(v, r.host_off, r.host_len, HOST_NAME_LEN,
		    host_chars))
			return -1;
		*why = "bad rule alpn";
		if (!blob_string(v, r.alpn_off, r.alpn_len, ALPN_NAME_LEN,
		    alpn_chars))
			return -1;
		*why = "rule for an unknown service";
		if (r.service[SERVICE_NAME_MAX] != '\0' ||
		    bsearch(r.service, v->svcs, v->set.nservices,
		    sizeof(struct ipc_service), service_name_cmp) == NULL)
			return -1;
		if (r.proto == PROTO_SILENCE)
			nsilence++;
	}
	*why = "silence rule and time disagree";
	if (nsilence != (v->set.silence_ms > 0))
		return -1;
	return 0;
}

/* A network: a family, a prefix it has, no host bits. */
static int
net_ok(const struct ipc_net *n)
{
	uint32_t	b, bits;

	if (n->family == AF_INET)
		bits = 32;
	else if (n->family == AF_INET6)
		bits = 128;
	else
		return 0;
	if (n->prefix > bits)
		return 0;
	for (b = n->prefix; b < 128; b++)
		if (n->addr[b / 8] & (0x80 >> (b % 8)))
			return 0;
	return 1;
}

/* The trusted PROXY sources and the allow/deny entries, networks all;
 * each service's entries after the global ones, inside the array. */
static int
config_nets(const struct ipc_config_view *v, const char **why)
{
	struct ipc_service	 s;
	struct ipc_net		 n;
	struct ipc_acl		 a;
	uint32_t		 i;

	*why = "bad proxy source";
	for (i = 0; i < v->set.nproxy; i++) {
		memcpy(&n, v->nets + i * sizeof(n), sizeof(n));
		if (!net_ok(&n))
			return -1;
	}
	*why = "bad access entry";
	for (i = 0; i < v->set.nacl; i++) {
		memcpy(&a, v->acls + i * sizeof(a), sizeof(a));
		if (a.deny > 1 || !net_ok(&a.net))
			return -1;
	}
	*why = "bad access list";
	for (i = 0; i < v->set.nservices; i++) {
		memcpy(&s, v->svcs + i * sizeof(s), sizeof(s));
		if (s.acl_len == 0 ? s.acl_off != 0 :
		    s.acl_off < v->set.nacl_default ||
		    s.acl_off > v->set.nacl ||
		    s.acl_len > v->set.nacl - s.acl_off)
			return -1;
	}
	return 0;
}

/*
 * The frontend's reading of IPC_CONFIG: settings in range, at most
 * MAX_SERVICES names, each valid and NUL-terminated and in strictly
 * ascending order (the parent sorts them: the sandbox has no qsort, which
 * may call sysinfo, and bsearch needs the order), every answer inside the
 * blob, at most MAX_RULES rules, MAX_PROXY_FROM sources and MAX_ACL
 * allow/deny entries, each as config_rules and config_nets want it. v points into p. Returns 0, or -1
 * with *why set.
 */
int
ipc_config_parse(const uint8_t *p, size_t len, struct ipc_config_view *v,
    const char **why)
{
	struct ipc_service	 s;
	char			 prev[SERVICE_NAME_MAX + 1] = "";
	size_t			 arr;
	uint32_t		 i;

	memset(v, 0, sizeof(*v));
	*why = "short config message";
	if (len < sizeof(v->set))
		return -1;
	memcpy(&v->set, p, sizeof(v->set));
	*why = "settings out of range";
	if (v->set.max_line < 3 || v->set.max_line > MAX_LINE_LIMIT ||
	    v->set.max_pending == 0 || v->set.timeout_ms == 0 ||
	    v->set.max_pending_addr == 0 || v->set.help > 1 ||
	    v->set.drop_start > v->set.max_pending || v->set.drop_rate > 100 ||
	    v->set.silence_ms >= v->set.timeout_ms)
		return -1;
	*why = "bad number of services";
	if (v->set.nservices > MAX_SERVICES)
		return -1;
	*why = "bad number of rules";
	if (v->set.nrules > MAX_RULES || v->set.nproxy > MAX_PROXY_FROM)
		return -1;
	*why = "bad number of access entries";
	if (v->set.nacl > MAX_ACL || v->set.nacl_default > v->set.nacl ||
	    v->set.nmember > v->set.nproxy)
		return -1;
	/* Bounded counts: no overflow. */
	arr = (size_t)v->set.nservices * sizeof(s) +
	    (size_t)v->set.nrules * sizeof(struct ipc_rule) +
	    (size_t)v->set.nproxy * sizeof(struct ipc_net) +
	    (size_t)v->set.nacl * sizeof(struct ipc_acl);
	*why = "short config message";
	if (len - sizeof(v->set) < arr)
		return -1;
	v->svcs = p + sizeof(v->set);
	v->rules = v->svcs + (size_t)v->set.nservices * sizeof(s);
	v->nets = v->rules + (size_t)v->set.nrules * sizeof(struct ipc_rule);
	v->acls = v->nets + (size_t)v->set.nproxy * sizeof(struct ipc_net);
	v->blob = v->svcs + arr;
	v->bloblen = len - sizeof(v->set) - arr;
	for (i = 0; i < v->set.nservices; i++) {
		memcpy(&s, v->svcs + i * sizeof(s), sizeof(s));
		*why = "bad service name";
		if (s.name[SERVICE_NAME_MAX] != '\0' ||
		    !name_valid(s.name, strlen(s.name), 0) ||
		    (s.flags & ~(SVC_VISIBLE | SVC_RELAY)) != 0)
			return -1;
		*why = "names not in order";
		if (i > 0 && strcmp(prev, s.name) >= 0)
			return -1;
		memcpy(prev, s.name, sizeof(prev));
		*why = "bad answer";
		if (s.answer_len > 0 && (s.answer_off > v->bloblen ||
		    s.answer_len > v->bloblen - s.answer_off))
			return -1;
	}
	if (config_rules(v, why) == -1 || config_nets(v, why) == -1)
		return -1;
	*why = NULL;
	return 0;
}

/*
 * What a probe found goes into logs, the environment of programs and the
 * HANDOFF: a host of host-name characters (with '_', which probe_host
 * lets through, and ':' for an IPv6 literal Host), an ALPN name of printable bytes without space, each ended by a
 * NUL inside its field.
 */
static int
text_ok(const char *s, size_t cap, const char *extra)
{
	size_t	i, n = strnlen(s, cap);

	if (n == cap)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char	c = s[i];

		if (extra == NULL ? (c <= ' ' || c >= 0x7f) :
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

/*
 * A token line (IPC_TOKEN): a TCPMUX request, not a query, "name_" and
 * letters, digits, '-' and '_', as request.c took it; without the flag,
 * no token.
 */
static int
token_line_ok(const struct ipc_dispatch *d)
{
	size_t	i, n = strnlen(d->token, sizeof(d->token)), k;

	if (!(d->flags & IPC_TOKEN))
		return n == 0 ? 0 : -1;
	k = strlen(d->name);
	if (n == sizeof(d->token) || n < 16 || d->proto != PROTO_TCPMUX ||
	    (d->flags & IPC_QUERY) || strncasecmp(d->token, d->name, k) != 0 ||
	    d->token[k] != '_')
		return -1;
	for (i = 0; i < n; i++)
		if (!((d->token[i] >= 'a' && d->token[i] <= 'z') ||
		    (d->token[i] >= 'A' && d->token[i] <= 'Z') ||
		    (d->token[i] >= '0' && d->token[i] <= '9') ||
		    d->token[i] == '-' || d->token[i] == '_'))
			return -1;
	return 0;
}

/* An implicit client's dispatch: a known protocol, what it matched, and
 * a PROXY header's addresses of a family that exists. */
static int
dispatch_how_ok(const struct ipc_dispatch *d)
{
	if (d->proto >= PROTO_MAX ||
	    (d->proto != PROTO_TCPMUX && (d->flags & IPC_QUERY)) ||
	    !text_ok(d->host, sizeof(d->host), ".-_:") ||
	    !text_ok(d->alpn, sizeof(d->alpn), NULL))
		return -1;
	if ((d->proto != PROTO_TLS && d->proto != PROTO_HTTP &&
	    d->host[0] != '\0') || (d->proto != PROTO_TLS &&
	    d->alpn[0] != '\0'))
		return -1;
	if ((d->flags & IPC_PROXIED) &&
	    ((d->peer.sin6_family != AF_INET &&
	    d->peer.sin6_family != AF_INET6) ||
	    (d->local.sin6_family != AF_INET &&
	    d->local.sin6_family != AF_INET6)))
		return -1;
	return 0;
}

/*
 * The parent's reading of a message from the frontend: a dispatch comes
 * with exactly one fd and a valid name, a log line without one and at a
 * priority it may use, READY empty. Returns 0, or -1 with *why set;
 * m->text points into p and is any bytes: see ipc_log_text.
 */
/* Counts of NUL-terminated names and printable results, at most
 * IPC_FSTATS_MAX of them; they become rows and labels of the status. */
static int
fstats_check(const struct ipc_fstats *f)
{
	const struct ipc_fcount	*c;
	uint32_t		 i;
	size_t			 j, n;

	if (f->n > IPC_FSTATS_MAX || (f->flags & ~FSTATS_WANT) != 0)
		return -1;
	for (i = 0; i < f->n; i++) {
		c = &f->c[i];
		if (memchr(c->name, '\0', sizeof(c->name)) == NULL ||
		    (n = strnlen(c->result, sizeof(c->result))) ==
		    sizeof(c->result) || n == 0)
			return -1;
		for (j = 0; j < n; j++)
			if (c->result[j] < ' ' || c->result[j] > '~')
				return -1;
	}
	return 0;
}

int
ipc_frontend_parse(enum ipc_type type, const uint8_t *p, size_t len,
    int hasfd, struct ipc_fmsg *m, const char **why)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	*why = "malformed dispatch";
	switch (type) {
	case IPC_DISPATCH:
		if (!hasfd || len != sizeof(m->dispatch))
			return -1;
		memcpy(&m->dispatch, p, sizeof(m->dispatch));
		if (m->dispatch.name[SERVICE_NAME_MAX] != '\0' ||
		    !name_valid(m->dispatch.name,
		    strlen(m->dispatch.name), 0) ||
		    (m->dispatch.flags & ~(IPC_QUERY | IPC_PROXIED |
		    IPC_TOKEN)) != 0 || m->dispatch.proto == PROTO_TOKEN ||
		    token_line_ok(&m->dispatch) == -1)
			return -1;
		if (dispatch_how_ok(&m->dispatch) == -1)
			return -1;
		break;
	case IPC_LOG:
		*why = "malformed log";
		if (hasfd || len < 4 || len - 4 > IPC_LOG_MAX)
			return -1;
		memcpy(&m->pri, p, 4);
		/* It has no business raising alerts. */
		if (m->pri < LOG_CRIT || m->pri > LOG_DEBUG)
			return -1;
		m->text = (const char *)p + 4;
		m->textlen = len - 4;
		break;
	case IPC_READY:
		*why = "malformed ready";
		if (hasfd || len != 0)
			return -1;
		break;
	case IPC_FSTATS:
		*why = "malformed stats";
		if (hasfd || len != sizeof(m->fstats))
			return -1;
		memcpy(&m->fstats, p, sizeof(m->fstats));
		if (fstats_check(&m->fstats) == -1)
			return -1;
		break;
	default:
		*why = "unexpected message";
		return -1;
	}
	*why = NULL;
	return 0;
}

/* A sockaddr_in or sockaddr_in6 in a sockaddr_in6's room. */
static int
inet_ok(const struct sockaddr_in6 *a)
{
	return a->sin6_family == AF_INET || a->sin6_family == AF_INET6;
}

/* A forward's service part: a valid name, a PROXY version that exists,
 * timeouts of at least 1, the backend's addresses or its path. */
static int
forward_svc_ok(const struct ipc_forward *f)
{
	uint32_t	i;

	if (f->name[SERVICE_NAME_MAX] != '\0' ||
	    !name_valid(f->name, strlen(f->name), 0) ||
	    (f->flags & ~FORWARD_PLUS) != 0 || f->proxy > 2 ||
	    f->idle_s < 1 || f->connect_ms < 1 ||
	    f->naddrs > FORWARD_ADDRS_MAX ||
	    (f->naddrs == 0) != (f->path[0] == '/') ||
	    f->path[FORWARD_PATH_MAX - 1] != '\0')
		return -1;
	for (i = 0; i < f->naddrs; i++)
		if (!inet_ok(&f->addrs[i]) || f->addrs[i].sin6_port == 0)
			return -1;
	return 0;
}

/*
 * The relay's reading of the parent's IPC_FORWARD: one fd, a valid name,
 * a protocol and PROXY version that exist, timeouts of at least 1, 1 to
 * FORWARD_ADDRS_MAX backend addresses with a port or else an absolute
 * socket path, NUL-terminated, and the client's
 * addresses and names as a dispatch has them. 0, or -1 with *why.
 */
int
ipc_forward_parse(enum ipc_type type, const uint8_t *p, size_t len,
    int hasfd, struct ipc_forward *f, const char **why)
{
	struct ipc_dispatch	d;

	*why = "unexpected message";
	if (type != IPC_FORWARD)
		return -1;
	*why = "malformed forward";
	if (!hasfd || len != sizeof(*f))
		return -1;
	memcpy(f, p, sizeof(*f));
	if (forward_svc_ok(f) == -1 ||
	    ((f->flags & FORWARD_PLUS) != 0) != (f->proto == PROTO_TCPMUX))
		return -1;
	/* The client's side is checked as the parent checked a dispatch. */
	memset(&d, 0, sizeof(d));
	d.flags = IPC_PROXIED;
	d.proto = f->proto;
	memcpy(d.host, f->host, sizeof(d.host));
	memcpy(d.alpn, f->alpn, sizeof(d.alpn));
	d.peer = f->peer;
	d.local = f->local;
	if (dispatch_how_ok(&d) == -1)
		return -1;
	*why = NULL;
	return 0;
}

/*
 * The relay's reading of the parent's IPC_FWDTAB: no fd, a cap of at
 * least 1, at most FWDTAB_MAX entries, each a forward's service part
 * with no client in it, names in strict order (the relay searches
 * them). *entries points at the first, maybe unaligned: memcpy them.
 */
int
ipc_fwdtab_parse(enum ipc_type type, const uint8_t *p, size_t len,
    int hasfd, struct ipc_fwdtab *t, const uint8_t **entries,
    const char **why)
{
	static const struct ipc_forward zero;
	struct ipc_fwdsvc	e;
	char			prev[SERVICE_NAME_MAX + 1] = "";
	uint32_t		i;

	*why = "unexpected message";
	if (type != IPC_FWDTAB)
		return -1;
	*why = "malformed forward table";
	if (hasfd || len < sizeof(*t))
		return -1;
	memcpy(t, p, sizeof(*t));
	if (t->max_total < 1 || t->n > FWDTAB_MAX ||
	    len - sizeof(*t) != (size_t)t->n * sizeof(e))
		return -1;
	*entries = p + sizeof(*t);
	for (i = 0; i < t->n; i++) {
		memcpy(&e, *entries + (size_t)i * sizeof(e), sizeof(e));
		if (forward_svc_ok(&e.f) == -1 || e.f.id != 0 ||
		    e.f.flags != 0 || e.f.proto != 0 ||
		    memcmp(&e.f.peer, &zero.peer, sizeof(zero.peer) +
		    sizeof(zero.local)) != 0 || e.f.host[0] != '\0' ||
		    e.f.alpn[0] != '\0' || (i > 0 && strcmp(prev,
		    e.f.name) >= 0))
			return -1;
		memcpy(prev, e.f.name, sizeof(prev));
	}
	*why = NULL;
	return 0;
}

/* A client the relay took from the frontend, as the frontend said it
 * (never PROXIED, QUERY or TOKEN), with a peer the relay found. */
static int
started_ok(const struct ipc_started *s)
{
	const struct ipc_dispatch *d = &s->d;

	return (s->id & DONE_DIRECT) != 0 &&
	    d->name[SERVICE_NAME_MAX] == '\0' &&
	    name_valid(d->name, strlen(d->name), 0) && d->flags == 0 &&
	    d->proto != PROTO_TOKEN && d->token[0] == '\0' &&
	    inet_ok(&d->peer) && dispatch_how_ok(d) == 0 ? 0 : -1;
}

/* The watchdog's IPC_PING (parent/proc.c), either way: empty, no fd. */
int
ipc_ping_parse(size_t len, int hasfd, const char **why)
{
	*why = "malformed ping";
	if (len != 0 || hasfd)
		return -1;
	*why = NULL;
	return 0;
}

/*
 * The parent's reading of the relay's messages: DONE with a result that
 * is "+" or "-" and printable text, an fd exactly when DONE_REFUSED;
 * LOG and READY as the frontend's; the answer to a ping.
 */
int
ipc_relay_parse(enum ipc_type type, const uint8_t *p, size_t len,
    int hasfd, struct ipc_rmsg *m, const char **why)
{
	struct ipc_done	*d = &m->done;
	size_t		 n, i;

	memset(m, 0, sizeof(*m));
	m->type = type;
	if (type == IPC_DRAIN) {
		*why = "malformed drain";
		if (hasfd || len != sizeof(m->drained))
			return -1;
		memcpy(&m->drained, p, sizeof(m->drained));
		if (m->drained == 0)
			return -1;
		*why = NULL;
		return 0;
	}
	if (type == IPC_STARTED) {
		*why = "malformed started";
		if (hasfd || len != sizeof(m->started))
			return -1;
		memcpy(&m->started, p, sizeof(m->started));
		if (started_ok(&m->started) == -1)
			return -1;
		*why = NULL;
		return 0;
	}
	if (type == IPC_PING)
		return ipc_ping_parse(len, hasfd, why);
	if (type != IPC_DONE) {
		if (type == IPC_FSTATS) {
			*why = "unexpected message";
			return -1;
		}
		if (ipc_frontend_parse(type, p, len, hasfd, &m->f, why) == -1)
			return -1;
		/* A client back is one the frontend sent the relay. */
		if (type == IPC_DISPATCH && m->f.dispatch.flags != 0) {
			*why = "malformed dispatch";
			return -1;
		}
		return 0;
	}
	*why = "malformed done";
	if (len != sizeof(*d))
		return -1;
	memcpy(d, p, sizeof(*d));
	if ((d->flags & ~DONE_REFUSED) != 0 ||
	    ((d->flags & DONE_REFUSED) != 0) != (hasfd != 0) ||
	    (n = strnlen(d->result, sizeof(d->result))) ==
	    sizeof(d->result))
		return -1;
	/* It goes into a log line: printable, spaces allowed. */
	for (i = 0; i < n; i++)
		if (d->result[i] < ' ' || d->result[i] > '~')
			return -1;
	if (n == 0 || (d->result[0] != '+' && d->result[0] != '-') ||
	    (d->result[0] == '+' && (n != 1 || (d->flags & DONE_REFUSED))) ||
	    (d->connected_ns != 0 && d->done_ns < d->connected_ns))
		return -1;
	*why = NULL;
	return 0;
}

/*
 * A lent socket's message (the frontend's and the relay's reading of
 * IPC_LEND, the frontend's of IPC_UNLEND): a known kind, a generation,
 * an fd exactly with IPC_LEND, and a name NUL-terminated in its field:
 * "" for the relay's, a valid name for a pass channel's.
 */
int
ipc_lend_parse(enum ipc_type type, const uint8_t *p, size_t len, int hasfd,
    struct ipc_lend *l, const char **why)
{
	*why = "unexpected message";
	if (type != IPC_LEND && type != IPC_UNLEND)
		return -1;
	*why = "malformed lend";
	if (len != sizeof(*l) || (hasfd != 0) != (type == IPC_LEND))
		return -1;
	memcpy(l, p, sizeof(*l));
	if (l->name[SERVICE_NAME_MAX] != '\0' ||
	    (type == IPC_LEND && l->generation == 0))
		return -1;
	if (l->kind == LEND_RELAY ? l->name[0] != '\0' :
	    (l->kind != LEND_PASS && (l->kind != LEND_BACK ||
	    type != IPC_LEND)) || !name_valid(l->name, strlen(l->name), 0))
		return -1;
	*why = NULL;
	return 0;
}

/*
 * The frontend's reading of the parent's messages, all but two bodies:
 * a CONFIG's (ipc_config_parse, once its memory is had) and a METRICS
 * text (any bytes, served as they are). LISTEN carries its fd and
 * nothing else, UNLISTEN an index, DRAIN nothing, METRICS either a
 * listener's fd or text, LEND and UNLEND as ipc_lend_parse says.
 */
int
ipc_parent_parse(enum ipc_type type, const uint8_t *p, size_t len,
    int hasfd, struct ipc_pmsg *m, const char **why)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	*why = "malformed message";
	switch (type) {
	case IPC_CONFIG:
		if (hasfd)
			return -1;
		break;
	case IPC_LISTEN:
		if (!hasfd || len != 0)
			return -1;
		break;
	case IPC_UNLISTEN:
		if (hasfd || len != sizeof(m->index))
			return -1;
		memcpy(&m->index, p, sizeof(m->index));
		break;
	case IPC_DRAIN:
		if (hasfd || len != 0)
			return -1;
		break;
	case IPC_METRICS:
		if (hasfd && len != 0)
			return -1;
		break;
	case IPC_PING:
		return ipc_ping_parse(len, hasfd, why);
	case IPC_LEND:
	case IPC_UNLEND:
		return ipc_lend_parse(type, p, len, hasfd, &m->lend, why);
	default:
		*why = "unexpected message";
		return -1;
	}
	*why = NULL;
	return 0;
}

/*
 * The frontend's clients left in a lent socket its reader gives up (the
 * relay's end, or the parent's copy of it once the relay is gone): shut
 * first, so the frontend's next send fails and it sends by the parent,
 * then each one still queued to take(), which owns its fd when it
 * returns 0. The frontend meets clients: each is checked as its own
 * messages are, no flag allowed. Returns how many were lost.
 */
int
ipc_lent_drain(int sock, int (*take)(const struct ipc_dispatch *, int,
    void *), void *arg)
{
	struct ipc_hdr	 hdr;
	struct ipc_fmsg	 m;
	const char	*why;
	uint8_t		 buf[sizeof(struct ipc_dispatch) + 64];
	ssize_t		 n;
	int		 fd, k, lost = 0;

	(void)shutdown(sock, SHUT_RD);
	for (k = 0; k < 65536; k++) {
		n = ipc_recv(sock, &hdr, buf, sizeof(buf), &fd);
		if (n == 0 && hdr.type == 0)
			break;		/* the end, after the last */
		if (n == -1 && errno != EMFILE && errno != EBADMSG)
			break;
		if (n >= 0 && hdr.type == IPC_DISPATCH &&
		    ipc_frontend_parse(IPC_DISPATCH, buf, n, fd != -1, &m,
		    &why) == 0 && m.dispatch.flags == 0 &&
		    take(&m.dispatch, fd, arg) == 0)
			continue;
		if (fd != -1)
			close(fd);
		lost++;
	}
	return lost;
}

/*
 * A sandboxed process's log line to the parent, which owns syslog (a
 * log.c sink): priority and text, cut to what IPC_LOG allows; a full
 * socket drops it, as a slow syslog would.
 */
void
ipc_send_log(int sock, int pri, const char *msg)
{
	uint8_t		buf[4 + 900];
	uint32_t	p = pri;
	size_t		len = strnlen(msg, sizeof(buf) - 4);

	memcpy(buf, &p, 4);
	memcpy(buf + 4, msg, len);
	(void)ipc_send(sock, IPC_LOG, buf, 4 + len, -1);
}

/*
 * An IPC_LOG line as it may be logged: NUL-terminated in buf, with control
 * bytes (a forged newline, a NUL) shown as '?', never refused: a frontend
 * that logs something odd is not worth an outage.
 */
const char *
ipc_log_text(const struct ipc_fmsg *m, char *buf, size_t len)
{
	size_t	n = m->textlen < len - 1 ? m->textlen : len - 1, i;

	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)m->text[i] < 0x20 || m->text[i] == 0x7f ?
		    '?' : m->text[i];
	buf[n] = '\0';
	return buf;
}
