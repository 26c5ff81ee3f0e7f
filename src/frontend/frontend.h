/* SPDX-License-Identifier: ISC */
/*
 * The sandboxed frontend: what its files share. The parent includes it
 * only for frontend_run; nothing here may include the parent's header.
 */
#ifndef FRONTEND_H
#define FRONTEND_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "addr.h"
#include "config.h"
#include "ipc.h"
#include "linger.h"
#include "log.h"

/* ---- the first line (request.c): a pure parser of client bytes ---- */

enum request_result {
	REQ_NEED_MORE,		/* no verdict yet; read more */
	REQ_OK,			/* a complete, valid request line */
	REQ_REJECT		/* answer "-" reason and close */
};

struct request {
	char		 name[SERVICE_NAME_MAX + 1];	/* lower case */
	size_t		 consumed;	/* bytes through the LF */
	int		 help;		/* the line was HELP */
	int		 query;		/* "?name": where it lives */
	/* "name_TOKEN": a cluster redirect's token line (the parent checks
	 * it); "" for a name line. */
	char		 token[IPC_TOKEN_MAX + 1];
	const char	*reason;	/* on REQ_REJECT, static string */
};

#define REASON_BAD_NAME		"bad name"
#define REASON_TOO_LONG		"line too long"

enum request_result	request_parse(const uint8_t *buf, size_t len,
			    size_t max_line, struct request *);

/*
 * ---- probes: pure parsers of a client's first bytes ----
 * Each is a function over (buf, len) with no I/O, globals or allocation,
 * never reading past len nor assuming a NUL. AGAIN: no verdict yet, wait
 * for more bytes; MATCH: a complete message of this protocol; NEXT: not
 * this protocol; BAD: this protocol, but malformed or beyond a limit
 * (refused in the protocol's own terms, why says how). Splitting the same
 * bytes differently never changes the verdict (fuzz/probe_fuzz.c).
 */
enum probe_result { PROBE_AGAIN, PROBE_MATCH, PROBE_NEXT, PROBE_BAD };

#define TLS_ALPN_MAX	1024	/* bytes of offered ALPN names kept */
#define HELLO_MAX	(64 * 1024)	/* bytes of TLS records peeked */
#define HTTP_HEAD_MAX	8192	/* request line and headers, CRLFCRLF in */
#define SSH_LINE_MAX	255	/* RFC 4253 4.2, CR LF included */
#define PROXY_MAX	(16 + 4096)	/* a v2 header, its TLVs in */
#define PEEK_MAX	HELLO_MAX	/* the most any probe looks at */

/* tls.c: a ClientHello, across TLS records and TCP segments. */
struct tls_hello {
	char		 sni[HOST_NAME_LEN + 1];	/* lower case; "" none */
	uint8_t		 alpn[TLS_ALPN_MAX];	/* the offered names as in
						 * the extension: u8 len,
						 * bytes; client's order */
	size_t		 alpn_len;
	int		 ech;		/* encrypted_client_hello seen: sni is
					 * the outer (public) name */
	size_t		 need;		/* AGAIN: bytes the hello needs in all,
					 * at least (exact if the rest comes in
					 * the current record): to its end once
					 * its length is known, else to the
					 * current record's end; 0 if neither */
	const char	*why;		/* BAD: static string */
};
enum probe_result tls_probe(const uint8_t *buf, size_t len,
		    struct tls_hello *);

/* http.c: an HTTP/1.x request head, up to its empty line. */
struct http_head {
	char		 host[HOST_NAME_LEN + 1];	/* lower case, no port,
						 * no brackets; "" none */
	int		 absolute;	/* host came from an absolute-form
					 * request target */
	const char	*why;		/* BAD */
};
enum probe_result http_probe(const uint8_t *buf, size_t len,
		    struct http_head *);

/* ssh.c: an SSH client's identification line ("SSH-2.0-..."). */
enum probe_result ssh_probe(const uint8_t *buf, size_t len,
		    const char **why);

/* proxy.c: a PROXY protocol v1 or v2 header (from a trusted source). */
struct proxy_hdr {
	size_t		 consumed;	/* MATCH: header bytes, to read away */
	int		 local;		/* v2 LOCAL or v1 UNKNOWN: keep the
					 * connection's own addresses */
	struct sockaddr_storage src;	/* MATCH, !local: the client */
	struct sockaddr_storage dst;	/* and the address it called */
	const char	*why;		/* BAD */
};
enum probe_result proxy_probe(const uint8_t *buf, size_t len,
		    struct proxy_hdr *);

/*
 * probe.c: the chain over a connection's first bytes. protos is a mask
 * of (1 << PROTO_x) for the implicit protocols some rule names; the
 * TCPMUX line is always tried last. Byte 0x16 is TLS, "SSH-" SSH, an
 * upper-case token and a space HTTP, anything else a TCPMUX line; a
 * PROXY header (either version) is BAD here ("PROXY header from an
 * untrusted source"): a trusted one was read away by proxy_probe.
 */
struct first {
	enum proto	 proto;		/* MATCH or BAD: which protocol;
					 * AGAIN: the one the bytes so far
					 * may begin (TCPMUX: no other) */
	struct tls_hello tls;		/* PROTO_TLS */
	struct http_head http;		/* PROTO_HTTP */
	struct request	 req;		/* PROTO_TCPMUX: REQ_OK's fields */
	size_t		 need;		/* AGAIN: from tls.need */
	const char	*why;		/* BAD */
};
enum probe_result probe_first(const uint8_t *buf, size_t len,
		    unsigned protos, size_t max_line, struct first *);

/* probe.c: a host name as a client sent it (SNI, Host), into out lower
 * case, one trailing dot dropped; labels of 1..63 letters, digits, '-'
 * and '_', HOST_NAME_LEN at most. 0, or -1 if it is not one. */
int	probe_host(const uint8_t *, size_t, char out[HOST_NAME_LEN + 1]);

/*
 * route.c: which rule a matched message meets. rules as the frontend
 * holds them (strings NUL-terminated, NULL for any). Precedence, most
 * specific first, TLS: SNI and ALPN; ALPN only; SNI only; "match tls".
 * Exact names before "*." ones; among ALPN names, the client's order.
 * HTTP: exact host, wildcard, "match http". Returns the rule's index,
 * or -1; on a TLS match *alpn points at the chosen name (or NULL).
 */
struct route_rule {
	enum proto	 proto;
	uint32_t	 service;	/* index into the frontend's services */
	const char	*host;
	const char	*alpn;
};
int	route_find(const struct route_rule *, size_t n, const struct first *,
	    const char **alpn);
int	route_host_match(const char *pattern, const char *host);

/* access.c: the allow and deny lists, as the last config message gave
 * them; a service's acl_off and acl_len point into them. */
#define REASON_DENIED		"access denied"
void	access_load(const struct ipc_config_view *, struct aclent *);
int	access_allows(const struct ipc_service *, const struct sockaddr *);

/*
 * scrape.c: a metrics scrape's request head (GET /metrics), judged when
 * it is whole; a pure parser of client bytes.
 */
enum metrics_req { METRICS_AGAIN, METRICS_GET, METRICS_NOT_FOUND,
	METRICS_METHOD, METRICS_BAD };
enum metrics_req metrics_request(const uint8_t *buf, size_t len);

/*
 * What an epoll event is about: its data points at a struct watch, the
 * first member of whatever is watched. W_FREE is 0: a connection freed
 * while its event waits in the same batch is zeroed, and then skipped.
 */
enum watch_kind { W_FREE, W_PARENT, W_LISTENER, W_CONN, W_LINGER,
	W_METRICS, W_LENT };
struct watch {
	enum watch_kind	 kind;
	int		 fd;
};

/* metrics.c: the frontend's report to the parent, "metrics on" */
void	 metrics_init(int epfd, int parent);
void	 metrics_count(const char *name, const char *result);
void	 metrics_tick(uint64_t now, uint32_t pending, uint32_t pending_max);
uint64_t metrics_next_deadline(uint32_t pending);
void	 metrics_ping(uint32_t pending, uint32_t pending_max);
void	 metrics_event(struct watch *);
void	 metrics_expire(uint64_t now);
void	 metrics_parent(const uint8_t *, size_t, int fd);
void	 metrics_drain(void);

/* frontend.c: never returns. */
void	frontend_run(int argc, char *argv[]);

/* ---- the sockets the parent lends (lend.c) ---- */

struct lent {
	struct watch	 w;		/* first; W_LENT for LEND_PASS: the
					 * service's notices come on w.fd */
	uint32_t	 kind;		/* 0: a free entry */
	uint32_t	 generation;
	char		 name[SERVICE_NAME_MAX + 1];
	int		 back;		/* LEND_PASS: the LEND_BACK, a copy of
					 * the service's end; -1 until then */
};

void	 lend_init(int epfd);
struct lent *lend_find(uint32_t kind, const char *name);
void	 lend_set(uint32_t kind, const char *name, uint32_t generation,
	    int fd);
int	 lend_get(uint32_t kind, const char *name);
void	 lend_drop(uint32_t kind, const char *name, uint32_t generation);
void	 lend_failed(uint32_t kind, const char *name, int err);
int	 lend_relay(const struct ipc_dispatch *, int fd);
void	 lend_parent(const struct ipc_pmsg *, int fd);

/*
 * ---- hand-offs the frontend sends itself (pass.c) ----
 * pass_send: client fd (not PROXY-addressed) to name's lent data channel;
 * 0 when it went (the caller closes its copy), -1 to go by the parent.
 */
struct pass_client {
	int			 fd;
	const char		*name;
	enum proto		 proto;
	const struct sockaddr	*peer;
	const struct sockaddr	*local;	/* or NULL: asked of the socket */
	const char		*host;	/* or NULL */
	const char		*alpn;	/* or NULL */
	uint64_t		 accepted_ns;
};
void	 pass_init(int parent);
void	 pass_generation(uint32_t);
int	 pass_send(const struct pass_client *);
void	 pass_event(struct lent *);
void	 pass_settle(struct lent *);
uint64_t pass_next_deadline(void);
void	 pass_expire(uint64_t now);

/* source.c: the frontend's scores of client addresses */
uint64_t source_mix(uint64_t);
void	 source_init(uint64_t seed);
uint32_t source_score(uint64_t key, uint64_t now, uint32_t leak);
void	 source_charge(uint64_t key, uint64_t now, uint32_t leak,
	    uint32_t cap);

/* sandbox.c */
void	sandbox_frontend(const char *user, const char *root, pid_t parent);
void	sandbox_seccomp(void);

#endif
