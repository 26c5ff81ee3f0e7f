/*
 * oneportd: shared definitions. Structs used by one file live in that file;
 * what is here crosses files: the parsed configuration, the messages between
 * the privileged parent and the unprivileged frontend, and prototypes grouped
 * by the file that defines them.
 */
#ifndef ONEPORTD_H
#define ONEPORTD_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ONEPORTD_CONF		"/etc/oneportd.conf"
#define ONEPORTD_USER		"oneportd"
#define ONEPORTD_CHROOT		"/var/empty"
#define ONEPORTD_CONTROL	"/run/oneportd.sock"
#define SERVICE_NAME_MAX	15	/* RFC 6335 */

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

struct listener {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd;		/* -1 until bound */
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
};

enum { REDIRECT_NONE, REDIRECT_SHARED, REDIRECT_PER_REQUEST,
	REDIRECT_STATIC };
#define DEF_IDLE_S		60
#define DEF_PORT_LO		61000	/* above Linux's ephemeral 32768-60999 */
#define DEF_PORT_HI		65535

/* "register PATTERN user USER": USER may register names matching it. */
struct regrule {
	char		*pattern;	/* fnmatch(3), lower case */
	char		*user;
	uid_t		 uid;
};

struct config {
	struct listener	*listeners;
	int		 nlisteners;
	struct service	*services;	/* sorted by name after config_finish */
	int		 nservices;
	int		 timeout_ms;
	int		 max_line;
	int		 max_pending;
	int		 max_pending_addr;
	int		 drop_start;	/* early drop from here; max_pending/2 */
	int		 drop_rate;	/* percent at drop_start */
	int		 help;		/* HELP answered at all */
	int		 port_lo, port_hi;	/* dynamic redirect ports */
	char		*user;		/* frontend's user */
	char		*chroot;	/* frontend's root when started as root */
	char		*control;	/* control socket path, or NULL */
	struct regrule	*regrules;	/* who may register which names */
	int		 nregrules;
	/* Defaults applied to services declared after a "defaults" block. */
	struct service	 defaults;
	char		**files;	/* files read; service->file points here */
};

/*
 * config.c. Allocation failure is fatal. config_add_service,
 * config_add_listener and the -l/-s parsers return NULL/-1 and leave the
 * reason in config_error(), for the caller to prefix with file:line or the
 * argument. config_finish logs every problem itself and sorts the
 * services; config_find needs that sort.
 */
struct config	*config_new(void);
void		 config_free(struct config *);
const char	*config_error(void);
struct service	*config_add_service(struct config *, const char *name);
const char	*config_add_file(struct config *, const char *name);
int		 config_add_listener(struct config *, const char *host,
		    const char *port);
int		 config_listener_arg(struct config *, const char *arg);
int		 config_service_arg(struct config *, const char *arg);
int		 config_finish(struct config *);
struct service	*config_find(const struct config *, const char *name);
void		 service_clear(struct service *);
int		 service_name_valid(const char *, size_t);
char		**strv_add(char **, const char *);
void		 strv_free(char **);

/*
 * parse.y: fills cfg; -1 after logging "file:line: message" lines. A file
 * others could write is refused unless parse_secrecy is 0 (tests that
 * read files of the source tree, whoever owns it, and the fuzzer).
 */
int		 parse_config(const char *file, struct config *cfg);
extern int	 parse_secrecy;

/* printconf.c */
void		 print_config(const struct config *);

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
	const char	*reason;	/* on REQ_REJECT, static string */
};

#define REASON_BAD_NAME		"bad name"
#define REASON_TOO_LONG		"line too long"

enum request_result	request_parse(const uint8_t *buf, size_t len,
			    size_t max_line, struct request *);

/* ---- parent <-> frontend messages (ipc.c) ---- */

#define IPC_VERSION	1
#define IPC_MAX		(128 * 1024)	/* MAX_SERVICES fit */

enum ipc_type {
	IPC_CONFIG = 1,	/* parent -> frontend: settings and service names */
	IPC_DISPATCH,	/* frontend -> parent: a client fd and its request */
	IPC_LOG,	/* frontend -> parent: a log line (not in -d mode) */
	IPC_READY,	/* frontend -> parent: sandboxed and serving, once */
	IPC_TYPE_MAX
};

struct ipc_hdr {
	uint8_t		 version;
	uint8_t		 type;
	uint16_t	 flags;		/* zero */
	uint32_t	 len;		/* payload bytes after the header */
};

/* IPC_CONFIG payload: this, then nservices of struct ipc_service, then
 * the answers' bytes. */
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
};

struct ipc_service {
	char		 name[SERVICE_NAME_MAX + 1];
	uint32_t	 visible;
	/* A fixed answer the frontend may give itself (a static redirect),
	 * in the blob after the array: answer_len 0 for none. */
	uint32_t	 answer_off;
	uint32_t	 answer_len;
};

/* IPC_DISPATCH payload; exactly one fd comes with it. */
struct ipc_dispatch {
	uint32_t	 generation;
	char		 name[SERVICE_NAME_MAX + 1];
	uint64_t	 accepted_ns;	/* CLOCK_MONOTONIC at accept */
	uint32_t	 flags;		/* IPC_QUERY */
};
#define IPC_QUERY	0x1	/* only say where it lives */

#define IPC_LOG_MAX	1000	/* bytes of an IPC_LOG line after the priority */

/* An IPC_CONFIG as ipc_config_parse found it; pointers into the message. */
struct ipc_config_view {
	struct ipc_config	 set;
	const uint8_t		*svcs;	/* set.nservices of struct ipc_service,
					 * maybe unaligned: memcpy them */
	const uint8_t		*blob;	/* the answers' bytes */
	size_t			 bloblen;
};

/* A message from the frontend as ipc_frontend_parse found it. */
struct ipc_fmsg {
	enum ipc_type		 type;
	struct ipc_dispatch	 dispatch;	/* IPC_DISPATCH */
	uint32_t		 pri;		/* IPC_LOG */
	const char		*text;		/* IPC_LOG: not NUL-terminated */
	size_t			 textlen;
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
	    size_t, int coalesce);
int	ipc_queue_flush(struct ipc_queue *, int sock);
void	ipc_queue_clear(struct ipc_queue *);
int	ipc_config_parse(const uint8_t *, size_t, struct ipc_config_view *,
	    const char **why);
int	ipc_frontend_parse(enum ipc_type, const uint8_t *, size_t, int hasfd,
	    struct ipc_fmsg *, const char **why);
const char *ipc_log_text(const struct ipc_fmsg *, char *, size_t);

/* ---- the parent (oneportd.c), for the files that serve it ---- */

/* What an epoll event in the parent is about. */
enum src_kind { SRC_SIGNAL, SRC_FRONTEND, SRC_STDERR, SRC_STATUS,
	SRC_CHANNEL, SRC_CONTROL, SRC_LINGER };
struct src {
	enum src_kind	 kind;
	void		*ptr;
};
void	parent_watch(int fd, struct src *);
void	parent_watch_out(int fd, struct src *, int on);
void	parent_unwatch(int fd);
void	parent_reply(int fd, const char *reason);
void	parent_log_conn(const char *peer, const char *name,
	    const char *result, pid_t pid, uint64_t accepted_ns);
void	parent_names_changed(void);
void	parent_defer_free(void *);

/* child.c: programs the parent started, until reaped */
struct child;
struct spawn;
struct child	*child_add(struct service *, const struct spawn *,
		    int supervised);
void		 child_set_client(struct child *, int client, uint64_t akey,
		    const char *peer, uint64_t accepted_ns);
void		 child_started(struct child *, int ok);
int		 child_count(const struct service *, uint64_t akey);
void		 child_remap(const struct config *);
int		 child_waited(pid_t, int status);
void		 child_stderr_event(struct child *);
void		 child_status_event(struct child *);
void		 child_free_dead(void);
int		 child_stderr_open(void);
void		 child_drain(int epfd);

/* supervise.c: pass services whose program oneportd runs */
void	 supervise_configure(const struct config *);
int	 supervise_exited(pid_t);
int	 supervise_down(const char *name);
void	 supervise_tick(uint64_t now, const struct config *);
uint64_t supervise_next_deadline(void);
void	 supervise_stop(void);

/* dispatch.c: a request the frontend passed on, with its client fd */
void	 dispatch(struct config *, const struct ipc_dispatch *, int fd);

/* sockdiag.c: a redirect program's port, as the kernel sees it */
struct portuse {
	int		 port;		/* asked about */
	unsigned long	 ino;		/* the listening socket's inode */
	int		 listening;	/* the socket bound for it listens */
	int		 queued;	/* connections it has not accepted */
	int		 conns;		/* connections on the port, queued too */
	int		 closed_ms;	/* last one closed this long ago; -1 */
};
int	 sockdiag_listening(const struct sockaddr *, unsigned long ino);
int	 sockdiag_ports(int family, struct portuse *, int n);

/* redirect.c: mode B */
int	 redirect_answer(struct service *, const struct config *, int client,
	    uint64_t akey, int query, char *buf, size_t len,
	    const char **reason);
int	 redirect_exited(pid_t);
void	 redirect_tick(uint64_t now, const struct config *);
uint64_t redirect_next_deadline(const struct config *);
void	 redirect_stop(void);
void	 redirect_check_ports(const struct config *);

/* handoff.c: pass services and registrations */
#define HANDOFF_TIMEOUT_NS	(2000ull * 1000000)	/* ACCEPT within */
struct channel;
int	handoff_pass(const struct service *, const char *name, int client,
	    const struct sockaddr_storage *peer_ss, const char *peer,
	    uint64_t accepted_ns, const char **reason);
void	handoff_channel_event(struct channel *, const struct config *);
int	handoff_adopt(int fd, uid_t);
void	handoff_configure(const struct config *);
void	handoff_down(const char *name);
void	handoff_expire(uint64_t now);
uint64_t handoff_next_deadline(void);
void	handoff_names(void (*)(const char *, void *), void *);
int	handoff_registered(const char *name);
int	handoff_registered_port(const char *name);
void	handoff_shutdown(void);

/* control.c: the control socket, where services register names */
int	 control_check(const struct config *);
void	 control_configure(const struct config *);
void	 control_event(void);
void	 control_closed(uid_t);
void	 control_tick(uint64_t now);
uint64_t control_next_deadline(void);
void	 control_shutdown(void);
int	 control_peer_uid(int fd, uid_t *);
int	 control_listen(const char *what, const char *path, mode_t mask,
	    int backlog, int flags);

/* ---- processes ---- */

/* frontend.c: never returns. */
void	frontend_run(int argc, char *argv[]);

/* source.c: the frontend's scores of client addresses */
uint64_t source_mix(uint64_t);
void	 source_init(uint64_t seed);
uint32_t source_score(uint64_t key, uint64_t now, uint32_t leak);
void	 source_charge(uint64_t key, uint64_t now, uint32_t leak,
	    uint32_t cap);

/* sandbox.c */
void	sandbox_frontend(const char *user, const char *root, pid_t parent);
void	sandbox_seccomp(void);

/* spawn.c: start a service's program with the client socket. */
struct spawn {
	pid_t	 pid;
	int	 stderr_fd;	/* read end of the child's stderr */
	int	 status_fd;	/* read end of the exec status pipe */
	int	 traced;	/* "+" waits for the exec-stop */
	const char *failed;	/* no child: the step, for the log */
};
void	spawn_init(void);
int	spawn_service(const struct service *, int client, struct spawn *);
int	spawn_supervised(const struct service *, int listenfd,
	    struct spawn *);
int	spawn_listener(const struct service *, int listenfd, int tokenfd,
	    const char *token, struct spawn *);
int	spawn_stopped(pid_t, int sig, int exec_done);
int	spawn_status(int fd, const char **step, int *chdir_failed);
void	spawn_settled(pid_t);
void	spawn_release(pid_t);

/* linger.c: reply, half-close, discard unread until the client's FIN */
int	 linger_init(void);
int	 linger_reply(int fd, const void *, size_t);
void	 linger_event(void);
void	 linger_expire(uint64_t now);
uint64_t linger_next_deadline(void);
void	 linger_close_all(void);

/* errline.c: a program's stderr into log lines; pure */
size_t	 errline_next(const char *buf, size_t len, size_t max, int final,
	    size_t *linelen);
size_t	 errline_escape(char *dst, size_t size, const char *src, size_t len);

/* addr.c */
#define ADDR_STRLEN	64	/* "[v6]:port" fits */
const char	*addr_ntop(const struct sockaddr *, char *, size_t);
const char	*addr_host(const struct sockaddr *, char *, size_t);
int		 addr_port(const struct sockaddr *);
uint64_t	 addr_key(const struct sockaddr *);
uint64_t	 now_ns(void);

/* log.c */
void	log_init(int debug, const char *ident);
void	log_set_sink(void (*)(int pri, const char *msg));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_msg(int pri, const char *msg);
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
extern int log_verbose;

#endif
