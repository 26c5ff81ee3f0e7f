/* SPDX-License-Identifier: ISC */
/*
 * The privileged parent: what its files share. Structs used by one file
 * live in that file; prototypes are grouped by the file that defines them.
 */
#ifndef PARENT_H
#define PARENT_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "config.h"
#include "ipc.h"
#include "linger.h"
#include "log.h"
#include "refusal.h"

/* ---- the parent's services, for every module ---- */

/* loop.c: the epoll set; what an event in it is about. */
enum src_kind { SRC_SIGNAL, SRC_PROC, SRC_STDERR, SRC_STATUS,
	SRC_CHANNEL, SRC_CONTROL, SRC_LINGER, SRC_UPGRADE,
	SRC_STATSOCK };
struct src {
	enum src_kind	 kind;
	void		*ptr;
};
struct epoll_event;
int	 loop_init(void);
void	 loop_slice(void);
int	 loop_wait(struct epoll_event *, int, const struct config *);
void	 loop_after(const struct config *);
int	 parent_watch(int fd, struct src *);
void	 parent_short(const char *of, const char *what);
int	 parent_watch_out(int fd, struct src *, int on);
void	 parent_unwatch(int fd);
void	 parent_defer_free(void *);
unsigned int parent_backoff(const char *who, unsigned int ms,
	    uint64_t started_ns, int status);

/* answer.c: what the parent writes to a client, and its log line. A
 * peer string is the address and the tags of how it chose (proto_tags). */
#define PEER_STRLEN	(ADDR_STRLEN + PROTO_TAGS_MAX)
void	 parent_reply(int fd, const char *reason);
void	 parent_refuse(int fd, enum proto, const char *reason);
void	 parent_log_conn(const char *peer, const char *name,
	    const char *result, pid_t pid, uint64_t accepted_ns);
const char *parent_spawn_reason(int err);

/*
 * proc.c: a helper process of ours, a re-exec (oneportd ARGV...) with its
 * channel (SOCK_SEQPACKET) on fd 3 and the owner's fds after it; its
 * events come as SRC_PROC with the proc as ptr (proc_event). Restarted
 * after parent_backoff when it dies once it was ready.
 */
#define PROC_ARGV_MAX	(8 + MAX_SERVICES)
struct proc;
struct proc_def {
	const char	*name;		/* "frontend": in its log lines */
	const char	*argv0;		/* "oneportd-front": what ps shows */
	int		 bufsz;		/* the channel's buffers, each way */
	int		 minsnd;	/* warn below this send buffer; 0 */
	int		 slice;		/* loop_slice() in it, as we have */
	int		 log_ready;	/* the first READY is logged too */
	size_t		 maxmsg;	/* the largest message it sends */
	int		 batch;		/* messages read per event at most */
	const char	*emfile;	/* "out of descriptors: ..." */
	/* Start one: build argv and fds, call proc_exec; -1 if none. */
	int		(*start)(void *arg);
	/* A message from it: -1 when it is broken (said, its fd closed);
	 * its READY calls proc_ready. */
	int		(*message)(void *arg, enum ipc_type, const uint8_t *,
			    size_t, int fd);
	/* The link is gone (what it held ends here); NULL if nothing. */
	void		(*lost)(void *arg);
	/* A queued message with an fd the link took with it, before lost:
	 * the fd is the callee's. NULL: it is closed. */
	void		(*unsent)(void *arg, enum ipc_type, const uint8_t *,
			    size_t, int fd);
};
struct proc	*proc_new(const struct proc_def *, void *arg, int debug,
		    int exefd, void (*first_ready)(void));
int		 proc_exec(struct proc *, char *const argv[], const int *fds,
		    int nfds);
void		 proc_event(struct proc *);
int		 proc_ready(struct proc *);
void		 proc_announced(struct proc *);
void		 proc_lost(struct proc *, const char *why);
int		 proc_exited(struct proc *, pid_t, int status);
void		 proc_tick(struct proc *, uint64_t now);
void		 proc_watchdog(struct proc *, unsigned int ping_ms,
		    unsigned int stall_ms);
uint64_t	 proc_heard_ns(const struct proc *);
uint64_t	 proc_next_deadline(const struct proc *);
int		 proc_queue(struct proc *, enum ipc_type, const void *, size_t,
		    int coalesce);
int		 proc_queue_fd(struct proc *, enum ipc_type, const void *,
		    size_t, int fd);
int		 proc_flush(struct proc *);
int		 proc_stop(struct proc *);
void		 proc_draining(struct proc *);
void		 proc_retry(struct proc *);
void		 proc_free(struct proc *);
int		 proc_sock(const struct proc *);
pid_t		 proc_pid(const struct proc *);
int		 proc_is_ready(const struct proc *);
int		 proc_idle(const struct proc *);
int		 proc_queued(const struct proc *);

/* felink.c: the link to the frontend */
int	 felink_start(struct config *, int debug, int exefd,
	    void (*first_ready)(void));
void	 felink_configure(struct config *);
void	 felink_write(void);
int	 felink_exited(pid_t, int status);
void	 felink_tick(uint64_t now);
uint64_t felink_next_deadline(void);
int	 felink_stop(void);
void	 felink_listener(int fd, uint32_t index);
void	 felink_drain(void);
void	 felink_send(enum ipc_type, const void *, size_t);
void	 felink_lend(uint32_t kind, const char *name, uint32_t generation,
	    int fd);
void	 felink_unlend(uint32_t kind, const char *name, uint32_t generation);
void	 parent_names_changed(void);

/* listen.c: the listening sockets, handed over or bound */
void	 listen_inherit(void);
int	 listen_handed(void);
void	 listen_start(struct config *);
void	 listen_reload(struct config *old, struct config *);
void	 listen_defer(const struct config *);
int	 listen_ours(void);
/* Names of the sockets an upgrade hands to the new image: bound for a
 * line of a port, or of port 0. Any other name is a handed socket's. */
#define LISTEN_NAME_BOUND	"oneportd-bound"
#define LISTEN_NAME_ANY		"oneportd-any"

/* upgrade.c: SIGUSR2, the new binary takes over without a refusal */
int	 upgrade_init(char **argv);
void	 upgrade_ready(void);
void	 upgrade_start(const struct config *);
int	 upgrade_event(void);
int	 upgrade_handed(void);
int	 upgrade_exited(pid_t);

/* notify.c: sd_notify(3) to the service manager, if one listens */
void	 notify_init(void);
void	 notify_ready(const struct config *);
void	 notify_reloading(void);
void	 notify_stopping(void);
void	 notify_mainpid(pid_t);
int	 notify_watchdog(void);
void	 notify_store(const struct config *);
void	 notify_unstore(void);
void	 notify_changed(int served);
const char *notify_status(const struct config *, char *, size_t);
void	 notify_tick(uint64_t now, const struct config *);
uint64_t notify_next_deadline(void);

/* rlink.c: the link to the relay, for forward services */
int	 rlink_start(struct config *, int debug, int exefd,
	    void (*first_ready)(void));
void	 rlink_configure(struct config *);
int	 rlink_direct(const struct config *, const struct service *);
void	 rlink_forward(const struct service *, const struct ipc_dispatch *,
	    int fd, const char *peer);
int	 rlink_exited(pid_t, int status);
void	 rlink_tick(uint64_t now);
void	 rlink_write(void);
uint64_t rlink_next_deadline(void);
int	 rlink_stop(void);
void	 rlink_lend_again(void);
void	 handoff_lend_again(void);

/* rkeep.c: copies of clients sent to a relay, answered if it dies */
struct rkeep {
	int		 fd;		/* our copy of the client */
	int		 slot;		/* rlink.c's */
	uint64_t	 written, read;	/* its bytes out and in, when sent on */
};
struct rkeeps {
	struct rkeep	*k;
	int		 n, cap;
};
int	 rkeep_marks(int fd, uint64_t *written, uint64_t *read);
int	 rkeep_add(struct rkeeps *, int fd, int slot, uint64_t written,
	    uint64_t read);
int	 rkeep_take(struct rkeeps *, int slot, int *untouched);
void	 rkeep_settle(struct rkeeps *, int chan, void (*)(int slot));
void	 rkeep_clear(struct rkeeps *, void (*)(int slot));
int	 rkeep_untouched(const struct rkeep *);
void	 rkeep_free(struct rkeeps *);

/* clink.c: the link to the cluster process, and the remote names */
struct ipc_cl_entry;
void	 clink_start(struct config *, int debug, int exefd);
void	 clink_configure(struct config *);
int	 clink_exited(pid_t, int status);
void	 clink_tick(uint64_t now);
uint64_t clink_next_deadline(void);
void	 clink_stop(void);
void	 clink_names_changed(void);
void	 clink_names(void (*)(const char *, void *), void *);
int	 clink_lookup(const char *name, struct ipc_cl_entry *,
	    const char **reason);
int	 clink_configured(void);
int	 clink_rule(int i, const char **name, enum proto *,
	    const char **host, const char **alpn);
struct netmask;
int	 clink_members(struct netmask *, int max);
int	 clink_member(const struct sockaddr *);

/* remote.c: names another host of the cluster serves; token lines */
int	 remote_dispatch(const struct ipc_dispatch *, int fd,
	    const char *peer);
int	 remote_token(struct ipc_dispatch *, int fd, const char *peer);

/* ctoken.c: the one-use tokens of cluster redirects */
#define CTOKEN_LIFE_S	10
#define CTOKEN_MAX	64	/* NAME "_" and 32 characters fit */
int	 ctoken_load(const char *path, const char *cluster);
int	 ctoken_mint(const char *name, const struct sockaddr *client,
	    char *out, size_t cap);
int	 ctoken_verify(const char *name, const char *token,
	    const struct sockaddr *client, const char **reason);

/* child.c: programs the parent started, until reaped */
struct child;
struct spawn;
/* Told the pid when a program started for its owner, not for a client,
 * exits; NULL for a client's session. */
typedef void	(*child_exit_cb)(pid_t);
int		 child_reserve(void);
struct child	*child_add(struct service *, const struct spawn *,
		    child_exit_cb exited);
void		 child_set_client(struct child *, int client, uint64_t akey,
		    const char *peer, enum proto, uint64_t accepted_ns);
int		 child_count(const struct service *, uint64_t akey);
int		 child_starting(void);
void		 child_remap(const struct config *);
int		 child_waited(pid_t, int status);
void		 child_stderr_event(struct child *);
void		 child_status_event(struct child *);
void		 child_free_dead(void);
int		 child_stderr_open(void);
void		 child_drain(int epfd);

/* supervise.c: pass services whose program oneportd runs */
void	 supervise_configure(const struct config *);
int	 supervise_down(const char *name);
void	 supervise_tick(uint64_t now, const struct config *);
uint64_t supervise_next_deadline(void);
void	 supervise_stop(void);
void	 supervise_detach(void);

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
void	 redirect_tick(uint64_t now, const struct config *);
uint64_t redirect_next_deadline(const struct config *);
void	 redirect_stop(void);
void	 redirect_check_ports(const struct config *);

/* handoff.c: pass services and registrations */
#define HANDOFF_TIMEOUT_NS	(2000ull * 1000000)	/* ACCEPT within */
struct channel;
int	handoff_pass(const struct service *, const struct ipc_dispatch *,
	    int client, const char *peer, const char **reason);
void	handoff_channel_event(struct channel *, const struct config *);
int	handoff_adopt(int fd, uid_t);
void	handoff_configure(const struct config *);
void	handoff_down(const char *name);
void	handoff_expire(uint64_t now);
uint64_t handoff_next_deadline(void);
void	handoff_names(void (*)(const char *, void *), void *);
int	handoff_registered(const char *name);
int	handoff_pending(void);
void	handoff_each(void (*)(const char *name, const char *kind, uid_t,
	    int port, int waiting, void *), void *);
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
void	 control_takeover(void);
void	 control_detach(void);
int	 control_peer_uid(int fd, uid_t *);
int	 control_listen(const char *what, const char *path, mode_t mask,
	    int backlog, int flags);
int	 control_path_live(const char *path);
int	 control_listen_type(const char *what, const char *path,
	    mode_t mask, int backlog, int type);

/*
 * stats.c: the counters behind the status socket and the metrics. Other
 * modules add their rows as a section: fill is called at each request
 * and calls stats_row once per row, every row with the same fields.
 */
struct sbuf {				/* output that grows up to max */
	char		*p;
	size_t		 len, cap, max;
	int		 cut;		/* it did not fit */
};
void	 sbuf_printf(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 sbuf_free(struct sbuf *);
enum stats_fmt { STATS_TEXT, STATS_JSON, STATS_PROM };
enum stats_kind { STATS_LABEL, STATS_GAUGE, STATS_COUNTER };
struct stats_field {
	const char	*key;		/* [a-z_]: a column, a metric's part */
	enum stats_kind	 kind;
	const char	*str;		/* STATS_LABEL */
	uint64_t	 num;		/* the others */
};
struct stats_out;
typedef void	(*stats_fill)(struct stats_out *, void *);
void	 stats_section(const char *name, const char *help, stats_fill,
	    void *);
void	 stats_row(struct stats_out *, const struct stats_field *, int n);
void	 stats_configure(const struct config *);
void	 stats_conn(const char *name, const char *result,
	    uint64_t accepted_ns);
void	 stats_relayed(const char *name, const char *result,
	    uint64_t accepted_ns, uint64_t connected_ns, uint64_t in,
	    uint64_t out);
void	 stats_program(const char *name, pid_t);
void	 stats_program_exit(const char *name, pid_t, int status);
void	 stats_frontend(const struct ipc_fstats *);
void	 stats_render(enum stats_fmt, struct sbuf *);

/* status.c: the status socket */
void	 status_configure(const struct config *);
void	 status_event(void *);
void	 status_tick(uint64_t now);
uint64_t status_next_deadline(void);
void	 status_shutdown(void);
void	 status_detach(void);
void	 status_frontend_started(int sock);
void	 status_metrics_asked(void);

/* spawn.c: start a service's program with the client socket. */
struct spawn {
	pid_t	 pid;
	int	 stderr_fd;	/* read end of the child's stderr */
	int	 stderr_w;	/* a write end, held until the reaping */
	int	 status_fd;	/* read end of the exec status pipe */
	int	 traced;	/* "+" waits for the exec-stop */
	const char *failed;	/* no child: the step, for the log */
};
void	spawn_init(void);
int	spawn_service(const struct service *, int client,
	    const struct ipc_dispatch *, struct spawn *);
int	spawn_supervised(const struct service *, int listenfd,
	    struct spawn *);
int	spawn_listener(const struct service *, int listenfd, int tokenfd,
	    const char *token, struct spawn *);
int	spawn_stopped(pid_t, int sig, int exec_done);
int	spawn_status(int fd, const char **step, int *chdir_failed);
void	spawn_settled(pid_t);
void	spawn_release(pid_t);

/* errline.c: a program's stderr into log lines; pure */
size_t	 errline_next(const char *buf, size_t len, size_t max, int final,
	    size_t *linelen);
size_t	 errline_escape(char *dst, size_t size, const char *src, size_t len);

#endif
