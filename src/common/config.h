/* SPDX-License-Identifier: ISC */
/*
 * The parsed configuration (config.c, parse.y, printconf.c), shared by
 * the parent, which reads it, and the frontend, which gets its part.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/types.h>
#include <sys/socket.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include "name.h"

/* The Makefile passes $(SYSCONFDIR)/oneportd.conf. */
#ifndef ONEPORTD_CONF
#define ONEPORTD_CONF		"/etc/oneportd.conf"
#endif
#define ONEPORTD_USER		"oneportd"
#define ONEPORTD_CHROOT		"/var/empty"
#define ONEPORTD_CONTROL	"/run/oneportd.sock"
#define ONEPORTD_STATUS		"/run/oneportd-status.sock"	/* as root */
#define SERVICE_NAME_MAX	NAME_LEN_MAX	/* RFC 6335 */

/* Defaults; each can be changed in oneportd.conf. */
#define DEF_TIMEOUT_MS		5000	/* whole first line, absolute */
#define DEF_MAX_LINE		64	/* bytes, CRLF included */
#define DEF_MAX_PENDING		4096	/* connections without a first line */
#define DEF_MAX_PENDING_ADDR	32	/* same, per client address (/64) */
#define DEF_DROP_RATE		30	/* early drop: percent at its start */
#define DEF_MAX_INSTANCES	256	/* per service */
#define DEF_MAX_PER_ADDR	32	/* same, per client address: an eighth */
#define MAX_LINE_LIMIT		1024	/* largest max-line accepted */
#define MAX_SERVICES		4096
#define ENV_MAX			64	/* env lines per service */

/* ---- configuration (config.c, parse.y, printconf.c) ---- */

/*
 * How a client chose its service: by a TCPMUX line, or implicitly by its
 * first bytes ("match" rules). One enum for the rules, the frontend's
 * probes, the dispatch message and the refusals in each protocol.
 */
enum proto { PROTO_TCPMUX, PROTO_TLS, PROTO_HTTP, PROTO_SSH,
	PROTO_SILENCE, PROTO_TOKEN, PROTO_MAX };
/* PROTO_TOKEN: a TCPMUX client sent by a cluster redirect, with its
 * verified token line: served as TCPMUX, without "+" (parent only). */

#define HOST_NAME_LEN		253	/* a DNS name in text, RFC 1035 */
#define ALPN_NAME_LEN		255	/* RFC 7301 */
#define DEF_SILENCE_MS		2000	/* "match silence" without a time */
#define MAX_RULES		4096	/* match rules in all, expanded */
#define MAX_PROXY_FROM		256	/* "proxy from" entries */
#define MAX_ACL			8192	/* "allow" and "deny" entries in all */

/*
 * One "match" rule, expanded: "match tls sni A B alpn X" gives the pairs
 * (A,X) and (B,X). host is an SNI or Host pattern, lower case, exact or
 * "*." and a name (one label); NULL matches any. alpn: TLS only; NULL
 * matches any.
 */
struct matchrule {
	enum proto	 proto;		/* never PROTO_TCPMUX */
	char		*host;
	char		*alpn;
	int		 silence_ms;	/* PROTO_SILENCE: how long it waits */
	const char	*file;		/* where it was declared */
	int		 line;
};

/* "proxy from A/N": a balancer trusted to send PROXY protocol headers. */
struct netmask {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network byte order, host bits 0 */
	int		 prefix;	/* 0..32 or 0..128 */
};

#define LISTEN_NAME_MAX	256	/* a LISTEN_FDNAMES name, NUL too */

/* Where a statement was written, for messages; file NULL: nowhere. */
struct srcloc {
	const char	*file;		/* in config->files */
	int		 line;
};

/*
 * An "allow" or "deny" entry. A client is refused if it is inside a deny
 * entry, or if the lists have allow entries and it is inside none: deny
 * wins, as in xinetd (no_access over only_from). A service with lists of
 * its own is checked against those alone, any other against the global
 * ones (addr_acl_allows).
 */
struct aclent {
	struct netmask	 net;
	int		 deny;
};

struct listener {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd;		/* -1 until bound */
	int			 handed;	/* socket activation: kept */
	int			 port0;		/* asked for any port */
	char			 name[LISTEN_NAME_MAX];	/* handed: its name */
};

struct service {
	char		 name[SERVICE_NAME_MAX + 1];	/* lower case */
	char		**argv;		/* NULL-terminated; argv[0] absolute */
	char		*user;		/* NULL: the daemon's own user */
	char		*group;		/* NULL: the user's primary group */
	char		**groups;	/* supplementary group names, NULL-term. */
	char		*chdir;		/* NULL: "/" */
	char		**env;		/* extra "NAME=value", NULL-terminated */
	int		 max_instances;	/* 0: unlimited */
	int		 max_per_addr;	/* 0: unlimited */
	int		 visible;	/* listed by HELP */
	int		 reply_self;	/* the program sends "+" itself */
	int		 untraced;	/* setuid etc.: "+" at exec, not at
					 * the exec-stop (config_finish) */
	char		*socket;	/* pass: the service's hand-off socket */
	char		*owner;		/* pass: who must be listening on it */
	int		 redirect;	/* REDIRECT_* */
	char		*redirect_host;	/* static: where it lives */
	int		 redirect_port;
	int		 idle_s;	/* shared: stop after idle seconds */
	int		 token;		/* dynamic: one-time token */
	/* forward: bytes relayed to an ordinary daemon (the relay) */
	char		*forward_host;	/* as written; NULL: not forwarded */
	int		 forward_port;	/* 0: forward_host is a socket path */
	struct sockaddr_storage *forward_addrs;	/* resolved at load */
	int		 nforward_addrs;	/* <= FORWARD_ADDRS_MAX */
	int		 proxy_out;	/* PROXY header to it: 0, 1 or 2 */
	int		 idle_given;	/* "idle": else DEF_FORWARD_IDLE_S */
	int		 export;	/* "export": its name to the cluster */
	const char	*forward_file;	/* where "forward" was written */
	int		 forward_line;
	struct matchrule *rules;	/* implicit names; never in defaults */
	int		 nrules;
	struct aclent	*acl;		/* own allow/deny; never in defaults */
	int		 nacl;
	/* Resolved by config_finish. As root, a service without "user" gets
	 * user "nobody" there. gids: gid first, then "groups"; setgroups(). */
	uid_t		 uid;
	gid_t		 gid;
	gid_t		*gids;
	int		 ngids;
	uid_t		 owner_uid;
	/* Run-time state owned by the parent (oneportd.c). */
	int		 running;
	const char	*file;		/* where it was declared, for messages */
	int		 line;		/* 0: not in a file ("command line") */
	/* Where options were written (maybe in defaults), for messages. */
	struct srcloc	 at_command, at_user, at_group, at_groups, at_chdir,
			 at_socket, at_owner, at_redirect;
};

enum { REDIRECT_NONE, REDIRECT_SHARED, REDIRECT_PER_REQUEST,
	REDIRECT_STATIC };
#define DEF_IDLE_S		60
#define DEF_FORWARD_IDLE_S	300	/* forward: no byte either way */
#define FORWARD_ADDRS_MAX	8	/* a backend name's addresses, tried */
#define FORWARD_PATH_MAX	108	/* a unix socket's, NUL included */
#define RELAY_FDS		6	/* per relayed connection: 2 + 2 pipes */
#define DEF_PORT_LO		61000	/* above Linux's ephemeral 32768-60999 */
#define DEF_PORT_HI		65535

/*
 * "cluster { ... }" (clusterconf.c): several hosts share one name space
 * through etcd. Names and hosts go into etcd keys: letters, digits, ".",
 * "-" and "_" only. The etcd endpoints and the address are literals: the
 * cluster process looks nothing up.
 */
#define CLUSTER_ETCD_MAX	8	/* "etcd" endpoints, tried in turn */
#define CLUSTER_NAME_MAX	63
#define DEF_CLUSTER_LEASE_S	5
#define DEF_CLUSTER_KEY		"/etc/oneportd/cluster.key"
struct cluster_conf {
	char		*name;		/* the cluster's, in its keys */
	char		*host;		/* this host's, in its keys */
	char		*etcd[CLUSTER_ETCD_MAX];	/* "http://A:P" */
	struct sockaddr_storage etcd_ss[CLUSTER_ETCD_MAX];
	int		 netcd;
	char		*address;	/* where others send clients */
	struct sockaddr_storage addr;
	int		 port;		/* 0: the first listener's */
	int		 lease_s;
	char		*keyfile;	/* the tokens' HMAC key, root only */
	const char	*file;		/* where the block was written */
	int		 line;
};

/* "register PATTERN user USER": USER may register names matching it. */
struct regrule {
	char		*pattern;	/* fnmatch(3), lower case */
	char		*user;
	uid_t		 uid;
	struct srcloc	 at;
};

struct config {
	struct listener	*listeners;
	int		 nlisteners;
	struct service	*services;	/* sorted by name after config_finish */
	int		 nservices;
	int		 maxservices;	/* allocated */
	int		 timeout_ms;
	int		 max_line;
	int		 max_pending;
	int		 max_pending_addr;
	int		 drop_start;	/* early drop from here; max_pending/2 */
	int		 drop_rate;	/* percent at drop_start */
	int		 help;		/* HELP answered at all */
	int		 defer_accept;	/* TCP_DEFER_ACCEPT on the listeners */
	struct srcloc	 at_defer;
	int		 port_lo, port_hi;	/* dynamic redirect ports */
	char		*user;		/* frontend's user */
	char		*chroot;	/* frontend's root when started as root */
	struct srcloc	 at_user, at_chroot;	/* where they were set */
	char		*control;	/* control socket path, or NULL */
	char		*status;	/* status socket path, or NULL */
	char		*status_group;	/* who else may read it, or NULL */
	gid_t		 status_gid;	/* resolved by config_finish */
	int		 status_given;	/* "status socket" in the file */
	struct srcloc	 status_at;	/* its group's */
	struct listener	*metrics;	/* "metrics on": HTTP, the frontend's */
	int		 nmetrics;
	struct regrule	*regrules;	/* who may register which names */
	int		 nregrules;
	struct netmask	*proxy_from;	/* trusted PROXY protocol sources */
	int		 nproxy_from;
	struct aclent	*acl;		/* global allow/deny: the default */
	int		 nacl;
	int		 nacl_all;	/* every list's, for MAX_ACL */
	int		 silence_ms;	/* "match silence": 0 if none */
	int		 nrules;	/* every service's, for MAX_RULES */
	int		 max_relays;	/* "max relays": 0, from the fd limit */
	int		 config_dns;	/* forward to a name: resolve it */
	struct cluster_conf *cluster;	/* "cluster { }": NULL if none */
	/* Defaults applied to services declared after a "defaults" block. */
	struct service	 defaults;
	char		**files;	/* files read; service->file points here */
};

/*
 * config.c. Allocation failure is fatal. config_add_service,
 * config_add_listener and the -l/-s parsers return NULL/-1 and leave the
 * reason in config_error(), for the caller to prefix with file:line or the
 * argument. config_finish logs every problem itself and sorts the
 * services; config_find needs that sort. config_check looks at the
 * system (programs, directories, the frontend's user and root) and logs
 * what a start would trip over.
 */
struct config	*config_new(void);
void		 config_free(struct config *);
const char	*config_error(void);
struct service	*config_add_service(struct config *, const char *name);
const char	*config_add_file(struct config *, const char *name);
int		 config_add_listener(struct config *, const char *host,
		    const char *port);
int		 config_add_metrics(struct config *, const char *host,
		    const char *port);
int		 config_listener_arg(struct config *, const char *arg);
int		 config_service_arg(struct config *, const char *arg);
int		 config_add_match(struct config *, struct service *,
		    enum proto, char **hosts, char **alpns, int silence_ms,
		    const char *file, int line);
int		 config_add_proxy(struct config *, const char *);
int		 config_add_acl(struct config *, struct service *, int deny,
		    const char *);
const struct aclent *config_acl(const struct config *,
		    const struct service *, int *n);
int		 config_pattern_valid(const char *, int addr_ok);
const char	*config_proto_word(enum proto);
int		 config_finish(struct config *);
int		 config_check(const struct config *, int frontend);
int		 config_add_forward(struct config *, struct service *,
		    const char *host, const char *port);
struct service	*config_find(const struct config *, const char *name);
void		 service_clear(struct service *);
char		**strv_add(char **, const char *);
void		 config_nomem_catch(jmp_buf *);
void		 config_nomem(const char *) __attribute__((noreturn));
void		 strv_free(char **);

/*
 * parse.y: fills cfg; -1 after logging "file:line: message" lines. A file
 * others could write is refused unless parse_secrecy is 0 (tests that
 * read files of the source tree, whoever owns it, and the fuzzer).
 */
int		 parse_config(const char *file, struct config *cfg);
void		 parse_reset(void);
extern int	 parse_secrecy;

/* clusterconf.c: a statement of the block; NULL or what is wrong. */
struct cluster_conf *cluster_conf_new(struct config *, const char *file,
		    int line);
const char	*cluster_conf_stmt(struct cluster_conf *, const char *word,
		    char **args, const char *port);
int		 cluster_conf_finish(struct config *);
void		 cluster_conf_print(const struct config *);
void		 cluster_conf_free(struct cluster_conf *);
int		 cluster_word_valid(const char *);

/* printconf.c */
void		 print_config(const struct config *);

#endif
