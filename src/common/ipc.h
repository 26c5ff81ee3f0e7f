/* SPDX-License-Identifier: ISC */
/* The messages between the parent and the frontend (ipc.c). */
#ifndef IPC_H
#define IPC_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "config.h"

/* ---- parent <-> frontend messages (ipc.c) ---- */

#define IPC_VERSION	1
#define IPC_TOKEN_MAX	64	/* a token line, without its line end */
/*
 * The largest message: MAX_SERVICES names, MAX_RULES rules with names of
 * the longest kind and MAX_PROXY_FROM sources take 2.3 MiB; what is left
 * holds the static redirects' answers (those that do not fit are answered
 * by the parent). felink.c sizes the socket's send buffer for it.
 */
#define IPC_MAX		(3 * 1024 * 1024)

enum ipc_type {
	IPC_CONFIG = 1,	/* parent -> frontend: settings and service names */
	IPC_DISPATCH,	/* frontend -> parent: a client fd and its request */
	IPC_LOG,	/* frontend -> parent: a log line (not in -d mode) */
	IPC_READY,	/* frontend -> parent: sandboxed and serving, once */
	IPC_FORWARD,	/* parent -> relay: a client fd and its backend */
	IPC_DONE,	/* relay -> parent: a relayed connection's end */
	IPC_LISTEN,	/* parent -> frontend: a listener more (the fd) */
	IPC_UNLISTEN,	/* parent -> frontend: uint32_t index of one gone */
	IPC_DRAIN,	/* parent -> frontend: stop accepting, finish, exit;
			 * relay -> parent: its lent sockets are all closed */
	IPC_FSTATS,	/* frontend -> parent: pending, outcomes, asks */
	IPC_METRICS,	/* parent -> frontend: the metrics text; with an fd,
			 * a "metrics on" listener (none: the text only) */
	IPC_CL_NAMES,	/* parent -> cluster: this host's exported names */
	IPC_CL_TABLE,	/* cluster -> parent: the other hosts' names */
	IPC_LEND,	/* parent -> frontend (and relay): a socket lent, the fd */
	IPC_UNLEND,	/* parent -> frontend: a lent socket to drop */
	IPC_FWDTAB,	/* parent -> relay: the forward services it takes
			 * straight from the frontend, with their caps */
	IPC_STARTED,	/* relay -> parent: a client it took from the
			 * frontend (no fd) */
	IPC_PING,	/* parent -> frontend, relay, cluster, empty:
			 * answered at once (an IPC_FSTATS; an IPC_PING)
			 * for the parent's watchdog (proc.c) */
	IPC_TYPE_MAX
};

struct ipc_hdr {
	uint8_t		 version;
	uint8_t		 type;
	uint16_t	 flags;		/* zero */
	uint32_t	 len;		/* payload bytes after the header */
};

/* IPC_CONFIG payload: this, then nservices of struct ipc_service, then
 * nrules of struct ipc_rule, then nproxy of struct ipc_net, then nacl of
 * struct ipc_acl, then the blob: the answers' bytes and the rules'
 * strings. */
struct ipc_config {
	uint32_t	 generation;
	uint32_t	 timeout_ms;
	uint32_t	 max_line;
	uint32_t	 max_pending;
	uint32_t	 max_pending_addr;
	uint32_t	 help;
	uint32_t	 nservices;
	uint32_t	 drop_start;	/* early drop from here, <= max_pending */
	uint32_t	 drop_rate;	/* percent there, <= 100 */
	uint32_t	 nrules;	/* <= MAX_RULES */
	uint32_t	 nproxy;	/* trusted PROXY sources */
	uint32_t	 silence_ms;	/* < timeout_ms; 0: no silence rule */
	uint32_t	 nacl;		/* allow/deny entries, <= MAX_ACL */
	uint32_t	 nacl_default;	/* the first ones: the global lists */
	uint32_t	 nmember;	/* the last of the PROXY sources:
					 * cluster members, header optional */
};

/*
 * A match rule (struct matchrule) for the frontend. Its strings are in
 * the blob, each followed by a NUL that host_len/alpn_len do not count;
 * a length 0 means "any" (NULL in struct matchrule). ipc_config_parse
 * checks the offsets, the NULs, that the service is among the names and
 * the characters.
 */
struct ipc_rule {
	uint32_t	 proto;		/* enum proto, not PROTO_TCPMUX */
	char		 service[SERVICE_NAME_MAX + 1];	/* one of the names */
	uint32_t	 host_off, host_len;	/* <= HOST_NAME_LEN */
	uint32_t	 alpn_off, alpn_len;	/* <= ALPN_NAME_LEN; TLS only */
};

/* A trusted PROXY source (struct netmask), checked like it. */
struct ipc_net {
	uint32_t	 family;	/* AF_INET or AF_INET6 */
	uint32_t	 prefix;
	uint8_t		 addr[16];
};

/* An allow or deny entry (struct aclent). */
struct ipc_acl {
	uint32_t	 deny;		/* 0 or 1 */
	struct ipc_net	 net;
};

struct ipc_service {
	char		 name[SERVICE_NAME_MAX + 1];
	uint32_t	 flags;		/* SVC_VISIBLE, SVC_RELAY */
	/* A fixed answer the frontend may give itself (a static redirect),
	 * in the blob after the array: answer_len 0 for none. */
	uint32_t	 answer_off;
	uint32_t	 answer_len;
	/* Its own allow/deny entries, after the global ones; 0, 0: it has
	 * none and the global lists apply. */
	uint32_t	 acl_off;
	uint32_t	 acl_len;
};

#define SVC_VISIBLE	0x1	/* HELP lists it */
#define SVC_RELAY	0x2	/* a forward service: its clients may go
				 * straight to the relay (LEND_RELAY) */

/*
 * IPC_DISPATCH payload; exactly one fd comes with it. For an implicit
 * name, proto says which probe matched and host/alpn what it matched on
 * (the SNI or Host, the ALPN protocol chosen); no "+" is sent to such a
 * client and refusals are in its protocol. With IPC_PROXIED, peer and
 * local are the addresses a PROXY header gave; the parent uses them only
 * if the socket's own peer is a trusted PROXY source.
 */
struct ipc_dispatch {
	uint32_t	 generation;
	char		 name[SERVICE_NAME_MAX + 1];
	uint64_t	 accepted_ns;	/* CLOCK_MONOTONIC at accept */
	uint32_t	 flags;		/* IPC_QUERY, IPC_PROXIED */
	uint32_t	 proto;		/* enum proto */
	char		 host[HOST_NAME_LEN + 1];	/* "" if none */
	char		 alpn[ALPN_NAME_LEN + 1];	/* "" if none */
	struct sockaddr_in6 peer;	/* IPC_PROXIED: or sockaddr_in */
	struct sockaddr_in6 local;
	char		 token[IPC_TOKEN_MAX + 1];	/* IPC_TOKEN's line */
};
#define IPC_QUERY	0x1	/* only say where it lives */
#define IPC_PROXIED	0x2	/* peer and local from a PROXY header */
#define IPC_TOKEN	0x4	/* a cluster redirect's token line */

#define IPC_LOG_MAX	1000	/* bytes of an IPC_LOG line after the priority */

/*
 * IPC_FORWARD payload, parent -> relay (the relay's own READY and LOG go
 * the other way as the frontend's do); exactly one fd, the client's,
 * comes with it. addrs are the backend's, tried in order; peer and local
 * the client's (after a trusted PROXY header) for the PROXY header out,
 * host and alpn what a ClientHello or request named, for its TLVs.
 */
struct ipc_forward {
	uint32_t	 id;		/* the parent's, told back in DONE */
	char		 name[SERVICE_NAME_MAX + 1];
	uint32_t	 flags;		/* FORWARD_PLUS */
	uint32_t	 proto;		/* enum proto */
	uint32_t	 proxy;		/* 0, 1 or 2: the PROXY header out */
	uint32_t	 idle_s;	/* >= 1: no byte either way that long */
	uint32_t	 connect_ms;	/* >= 1: the backend's connect */
	uint32_t	 naddrs;	/* 1..FORWARD_ADDRS_MAX; 0: path */
	struct sockaddr_in6 addrs[FORWARD_ADDRS_MAX];	/* or sockaddr_in */
	char		 path[FORWARD_PATH_MAX];	/* naddrs 0: a unix socket */
	struct sockaddr_in6 peer;
	struct sockaddr_in6 local;
	char		 host[HOST_NAME_LEN + 1];	/* "" if none */
	char		 alpn[ALPN_NAME_LEN + 1];	/* "" if none */
};
#define FORWARD_PLUS	0x1	/* a TCPMUX client: "+" once connected */

/*
 * IPC_DONE payload, relay -> parent. With DONE_REFUSED nothing was
 * written to the client and its fd comes back with the message, for the
 * parent to refuse it in its protocol (answer.c) with result's reason;
 * otherwise no fd, and the relay has closed both sides.
 */
struct ipc_done {
	uint32_t	 id;
	uint32_t	 flags;		/* DONE_REFUSED */
	char		 result[64];	/* "+" or "-reason", NUL-terminated */
	uint64_t	 in, out;	/* bytes client->backend, back */
	uint64_t	 connected_ns;	/* CLOCK_MONOTONIC; 0: never */
	uint64_t	 done_ns;
};
#define DONE_REFUSED	0x1
#define DONE_DIRECT	0x80000000u	/* in an id: the relay's own, for a
					 * client the frontend sent it */

/*
 * The relay's own table (IPC_FWDTAB, parent -> relay): the forward
 * services it may take a client of straight from the frontend, sorted
 * by name, and the caps it keeps for all its connections, however they
 * came: max_total for all, each entry's max_instances (0: none) for its
 * service's. An entry is what a FORWARD says of the service, without a
 * client (id 0, no peer, local, host, alpn; flags and proto 0). Those
 * past FWDTAB_MAX go by the parent.
 */
#define FWDTAB_MAX	512
struct ipc_fwdtab {
	uint32_t	 max_total;	/* >= 1 */
	uint32_t	 n;		/* <= FWDTAB_MAX entries follow */
};
struct ipc_fwdsvc {
	uint32_t	 max_instances;
	struct ipc_forward f;
};

/*
 * IPC_STARTED payload, relay -> parent, no fd: a client the frontend
 * sent straight to the relay, as the frontend described it (an
 * IPC_DISPATCH, not PROXIED, no QUERY, no TOKEN), with the peer the
 * relay found on the socket, under the relay's id (DONE_DIRECT set).
 * Its DONE follows on the same channel. A client the relay has no entry
 * for goes to the parent instead, as an IPC_DISPATCH with its fd, to be
 * dispatched as the frontend's are.
 */
struct ipc_started {
	uint32_t	 id;
	struct ipc_dispatch d;
};

/*
 * IPC_FSTATS payload, frontend -> parent, at most every FSTATS_MS when
 * something changed: its pending clients now and the most it held, and
 * the outcomes it decided itself since the last one, counted by name
 * ("-" none, "help") and result (as its log line says it); with
 * FSTATS_WANT, a metrics scrape waits for a fresh IPC_METRICS.
 */
#define FSTATS_MS		250
#define IPC_FSTATS_MAX		32	/* outcomes per message */
#define FSTATS_RESULT_LEN	48
struct ipc_fcount {
	char		 name[SERVICE_NAME_MAX + 1];	/* NUL-terminated */
	char		 result[FSTATS_RESULT_LEN];	/* same, printable */
	uint32_t	 n;
};
struct ipc_fstats {
	uint32_t	 pending;
	uint32_t	 pending_max;
	uint32_t	 flags;		/* FSTATS_WANT */
	uint32_t	 n;		/* <= IPC_FSTATS_MAX */
	struct ipc_fcount c[IPC_FSTATS_MAX];
};
#define FSTATS_WANT	0x1

/*
 * IPC_LEND and IPC_UNLEND payload, parent -> frontend. With IPC_LEND
 * exactly one fd comes: a connected SOCK_SEQPACKET socket on which the
 * frontend may send a client straight to another process, past the
 * parent. kind LEND_RELAY (name ""): its other end is the relay's (a new
 * one replaces the old); LEND_PASS (name a service's or a registered
 * one): the frontend's end of a service's data channel (WIRE_CHAN_FRONT),
 * and LEND_BACK, of the same name and generation, a copy of the
 * service's end, from which the frontend takes back a HANDOFF it must
 * answer itself. IPC_UNLEND (no fd, kind LEND_RELAY or LEND_PASS) drops
 * the one of that kind and name if its generation is the one given (0:
 * any); for LEND_PASS the pair's LEND_BACK with it. The relay is sent its
 * end of a LEND_RELAY pair with the same message.
 */
#define LEND_RELAY	1
#define LEND_PASS	2
#define LEND_BACK	3
struct ipc_lend {
	uint32_t	 kind;		/* LEND_RELAY, LEND_PASS, LEND_BACK */
	uint32_t	 generation;	/* the sender's count; >= 1 */
	char		 name[SERVICE_NAME_MAX + 1];	/* "" for LEND_RELAY */
};

/* An IPC_CONFIG as ipc_config_parse found it; pointers into the message. */
struct ipc_config_view {
	struct ipc_config	 set;
	const uint8_t		*svcs;	/* set.nservices of struct ipc_service,
					 * maybe unaligned: memcpy them */
	const uint8_t		*rules;	/* set.nrules of struct ipc_rule,
					 * checked, maybe unaligned */
	const uint8_t		*nets;	/* set.nproxy of struct ipc_net, same */
	const uint8_t		*acls;	/* set.nacl of struct ipc_acl, same */
	const uint8_t		*blob;	/* the answers' bytes, the strings */
	size_t			 bloblen;
};

/* A message from the frontend as ipc_frontend_parse found it. */
/* A message of the parent's to the frontend, as ipc_parent_parse found it. */
struct ipc_pmsg {
	enum ipc_type		 type;
	uint32_t		 index;		/* IPC_UNLISTEN */
	struct ipc_lend		 lend;		/* IPC_LEND, IPC_UNLEND */
};

struct ipc_fmsg {
	enum ipc_type		 type;
	struct ipc_dispatch	 dispatch;	/* IPC_DISPATCH */
	struct ipc_fstats	 fstats;	/* IPC_FSTATS */
	uint32_t		 pri;		/* IPC_LOG */
	const char		*text;		/* IPC_LOG: not NUL-terminated */
	size_t			 textlen;
};

/* A message from the relay as ipc_relay_parse found it. */
struct ipc_rmsg {
	enum ipc_type		 type;
	struct ipc_done		 done;		/* IPC_DONE */
	struct ipc_started	 started;	/* IPC_STARTED */
	uint32_t		 drained;	/* IPC_DRAIN: the generation
						 * of the last lent socket,
						 * now closed (>= 1) */
	struct ipc_fmsg		 f;		/* IPC_LOG, IPC_READY, and
						 * IPC_DISPATCH (a client back) */
};

/* Messages waiting for the socket to take them (ipc_queue_*). */
struct ipc_queue {
	struct ipc_qmsg		*head;
	size_t			 n;
};

struct iovec;
ssize_t	fd_sendmsg(int sock, struct iovec *, int iovcnt, int fd);
int	ipc_send(int sock, enum ipc_type, const void *, size_t, int fd);
ssize_t	ipc_recv(int sock, struct ipc_hdr *, void *buf, size_t bufsz,
	    int *fd);
int	ipc_hdr_valid(const struct ipc_hdr *, size_t n);
int	ipc_queue_add(struct ipc_queue *, enum ipc_type, const void *,
	    size_t, int fd, int coalesce);
int	ipc_queue_flush(struct ipc_queue *, int sock);
void	ipc_queue_clear(struct ipc_queue *, void (*unsent)(void *,
	    enum ipc_type, const uint8_t *, size_t, int), void *);
int	ipc_config_parse(const uint8_t *, size_t, struct ipc_config_view *,
	    const char **why);
int	ipc_frontend_parse(enum ipc_type, const uint8_t *, size_t, int hasfd,
	    struct ipc_fmsg *, const char **why);
int	ipc_forward_parse(enum ipc_type, const uint8_t *, size_t, int hasfd,
	    struct ipc_forward *, const char **why);
int	ipc_fwdtab_parse(enum ipc_type, const uint8_t *, size_t, int hasfd,
	    struct ipc_fwdtab *, const uint8_t **entries, const char **why);
int	ipc_ping_parse(size_t, int hasfd, const char **why);
int	ipc_relay_parse(enum ipc_type, const uint8_t *, size_t, int hasfd,
	    struct ipc_rmsg *, const char **why);
int	ipc_lend_parse(enum ipc_type, const uint8_t *, size_t, int hasfd,
	    struct ipc_lend *, const char **why);
int	ipc_parent_parse(enum ipc_type, const uint8_t *, size_t, int hasfd,
	    struct ipc_pmsg *, const char **why);
int	ipc_lent_drain(int sock, int (*)(const struct ipc_dispatch *, int fd,
	    void *), void *);
void	ipc_send_log(int sock, int pri, const char *msg);
const char *ipc_log_text(const struct ipc_fmsg *, char *, size_t);

#endif
