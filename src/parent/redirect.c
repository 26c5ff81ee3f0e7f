/* SPDX-License-Identifier: ISC */
/*
 * redirect.c: mode B. Instead of handing the connection over, tell the
 * client where to call: "@PORT [host=HOST] [token=TOKEN]" and close.
 * "@" is neither "+" nor "-", so an RFC 1078 client takes it for a
 * failure, never for success.
 *
 * A static service names a host and port elsewhere. A dynamic one is a
 * program the parent starts on a port it binds from the configured range
 * (passed as fd 3, LISTEN_FDS=1, so socket-activated daemons work as
 * they are): one shared instance, reused while alive and stopped when
 * idle, or one instance per request. The parent closes its copy of the
 * socket once the program has it, so the port is free when the program
 * exits, and it stops every instance when it stops: nothing is orphaned.
 *
 * With "token yes" each answer carries a one-time token the program gets
 * (ONEPORT_TOKEN, or a line on the pipe at ONEPORT_TOKEN_FD for a shared
 * instance) and checks on the client's first line, so only the client
 * that was answered can use the port: a third party cannot connect to a
 * per-request instance first. (A squatter on the port would still learn
 * the token: the spec's security section says what it does not cover.)
 *
 * An answer must be true (the draft's 9.1): a shared program is asked of
 * the kernel (sockdiag.c) whether it still listens before a client is
 * sent to it, and replaced when it does not. What keeps a program alive
 * is use, a connection it accepted, never answers alone: asking without
 * calling costs a process nothing but the answer.
 */
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/filter.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define REASON_NOT_REDIRECT	"not redirectable"
#define REASON_NOT_RUNNING	"not running"
#define REASON_NO_PORT		"no free port"
#define REASON_NOSTART		"cannot start service"
#define REASON_BUSY		"service busy"
#define REASON_ADDR_TOKENS	"too many tokens for your address"
#define REASON_NOMEM		"out of memory"
#define TOKEN_BYTES		16	/* 32 hex digits */
#define MS			1000000ull
#define KILL_AFTER_NS		(5000 * MS)
#define TOKEN_LIFE_NS		(30000 * MS)	/* the draft: 30 s or less */
/* Unexpired tokens per shared program; liboneport holds this many. */
#define TOKENS_CAP		4096
#define TOKENS_PER_ADDR		64		/* of them, for one /64 */
#define TOKEN_PIPE_BYTES	(512 * 1024)	/* > TOKENS_CAP lines */
/* How long a client answered has to call, at most. */
#define GRACE_MAX_NS		(2000 * MS)
#define FILTER_ADDRS		16	/* per family: jumps fit in 8 bits */
#define REVIEW_MAX		256	/* instances looked at per tick */
#define REVIEW_GRID_NS		(1000 * MS)	/* one walk a second, at most */

struct issued {
	uint64_t	 until_ns;
	uint64_t	 akey;
};

struct instance {
	char		 name[SERVICE_NAME_MAX + 1];
	pid_t		 pid;
	int		 port;
	int		 family;	/* of the socket bound for it */
	struct sockaddr_storage bound;	/* its address */
	unsigned long	 ino;		/* and its inode */
	uint64_t	 where;		/* shared: listen addresses it serves */
	int		 shared;
	int		 token;		/* its clients bring one */
	int		 retired;	/* a newer one takes its clients */
	int		 tokenfd;	/* shared + token: write end, or -1 */
	int		 unread;	/* bytes in the pipe after our write */
	struct issued	*tok;		/* unexpired tokens, oldest first */
	int		 tok_head, tok_n;
	uint64_t	 akey;		/* per request: who asked */
	uint64_t	 last_use_ns;	/* seen serving someone, or started */
	uint64_t	 last_answer_ns;
	uint64_t	 next_ns;	/* when to look at it again */
	int		 stopping;
	uint64_t	 stop_ns;	/* when SIGTERM went */
	struct instance	*next;
};

static struct instance	*instances;
static uint32_t		 port_cursor;

static void		 redirect_exited(pid_t);

/*
 * How long it may go unused. A per-request program's token is dead 30 s
 * after it was given: the program is of no use to anyone after that
 * (the draft's 12.1), however long idle is.
 */
static uint64_t
idle_ns(const struct config *cfg, const char *name, int shared, int token)
{
	struct service	*svc = config_find(cfg, name);
	uint64_t	 t;

	t = (uint64_t)(svc != NULL ? svc->idle_s : DEF_IDLE_S) * 1000 * MS;
	return !shared && token && t > TOKEN_LIFE_NS ? TOKEN_LIFE_NS : t;
}

/* Half of idle, so that answers alone cannot keep it: at most 2 s. */
static uint64_t
grace_ns(uint64_t idle)
{
	return idle / 2 < GRACE_MAX_NS ? idle / 2 : GRACE_MAX_NS;
}

/*
 * When to look at an instance that is due at t: on a grid, so that the
 * instances due within one step are looked at in one walk of the
 * kernel's connections; up to a step late.
 */
static uint64_t
review_at(uint64_t t)
{
	return (t + REVIEW_GRID_NS - 1) / REVIEW_GRID_NS * REVIEW_GRID_NS;
}

static void
token_new(char *buf, size_t len)
{
	uint8_t	raw[TOKEN_BYTES];
	size_t	i;

	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		fatal("getrandom");
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
}

static int
is_any(const struct sockaddr_storage *ss)
{
	static const struct in6_addr	any6 = IN6ADDR_ANY_INIT;

	if (ss->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
		    &any6, sizeof(any6)) == 0;
	return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
	    htonl(INADDR_ANY);
}

/* Which listen addresses there are, so a reload that changes them shows. */
static uint64_t
listen_where(const struct config *cfg)
{
	const struct sockaddr_storage	*ss;
	const uint8_t			*b;
	uint64_t			 h = 1469598103934665603ull;
	size_t				 len, j;
	int				 i;

	for (i = 0; i < cfg->nlisteners; i++) {
		ss = &cfg->listeners[i].ss;
		if (ss->ss_family == AF_INET6) {
			b = (const uint8_t *)&((const struct sockaddr_in6 *)
			    ss)->sin6_addr;
			len = 16;
		} else {
			b = (const uint8_t *)&((const struct sockaddr_in *)
			    ss)->sin_addr;
			len = 4;
		}
		for (j = 0; j < len; j++)
			h = (h ^ b[j]) * 1099511628211ull;
		h = (h ^ (uint64_t)ss->ss_family) * 1099511628211ull;
	}
	return h;
}

/*
 * The socket filter that keeps a shared program bound to a wildcard
 * address to the listen addresses: a SYN to any other address of the
 * host is dropped, as if nothing listened there. Returns the number of
 * instructions, 0 when every address of the families is listened on.
 */
static int
listen_filter(const struct config *cfg, struct sock_filter *f, int cap)
{
	const struct sockaddr_storage	*ss;
	uint32_t			 w[4];
	int				 i, j, n = 0, n4 = 0, n6 = 0, any4 = 0;
	int				 any6 = 0;

	for (i = 0; i < cfg->nlisteners; i++) {
		ss = &cfg->listeners[i].ss;
		if (ss->ss_family == AF_INET6) {
			n6++;
			any6 |= is_any(ss);
		} else {
			n4++;
			any4 |= is_any(ss);
		}
	}
	if ((n4 == 0 || any4) && (n6 == 0 || any6))
		return 0;
	if (n4 > FILTER_ADDRS || n6 > FILTER_ADDRS || cap < 8 +
	    2 * n4 + 9 * n6)
		return -1;
#define ST(c, k)	(f[n++] = (struct sock_filter)BPF_STMT(c, k))
#define JEQ(k, t, e)	(f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | \
			    BPF_JEQ | BPF_K, k, t, e))
	ST(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF);
	ST(BPF_ALU | BPF_RSH | BPF_K, 4);
	/* IPv4: its block is 2 * n4 + 2 long (or 1 with any4). */
	JEQ(4, 0, any4 ? 1 : 2 * n4 + 2);
	if (any4)
		ST(BPF_RET | BPF_K, 0xffffffff);
	else {
		ST(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 16);
		for (i = 0; i < cfg->nlisteners; i++) {
			ss = &cfg->listeners[i].ss;
			if (ss->ss_family != AF_INET)
				continue;
			JEQ(ntohl(((const struct sockaddr_in *)ss)->
			    sin_addr.s_addr), 0, 1);
			ST(BPF_RET | BPF_K, 0xffffffff);
		}
		ST(BPF_RET | BPF_K, 0);
	}
	JEQ(6, 0, any6 ? 1 : 9 * n6);
	if (any6)
		ST(BPF_RET | BPF_K, 0xffffffff);
	else
		for (i = 0; i < cfg->nlisteners; i++) {
			ss = &cfg->listeners[i].ss;
			if (ss->ss_family != AF_INET6)
				continue;
			memcpy(w, &((const struct sockaddr_in6 *)ss)->
			    sin6_addr, sizeof(w));
			for (j = 0; j < 4; j++) {
				ST(BPF_LD | BPF_W | BPF_ABS,
				    SKF_NET_OFF + 24 + 4 * j);
				JEQ(ntohl(w[j]), 0, (uint8_t)(7 - 2 * j));
			}
			ST(BPF_RET | BPF_K, 0xffffffff);
		}
	ST(BPF_RET | BPF_K, 0);
#undef ST
#undef JEQ
	return n;
}

/*
 * Where a shared program listens: on every listen address, as the draft's
 * 9.1 wants, so an answer is true whichever address was called. One
 * listener: its address. More: the wildcard of their families (both, as
 * one IPv6 socket that takes IPv4 too) with listen_filter().
 */
static int
shared_addr(const struct config *cfg, struct sockaddr_storage *ss,
    socklen_t *len, int *v6only)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	int			 i, has4 = 0, has6 = 0;

	memset(ss, 0, sizeof(*ss));
	*v6only = 1;
	if (cfg->nlisteners == 1) {
		memcpy(ss, &cfg->listeners[0].ss, sizeof(*ss));
		*len = ss->ss_family == AF_INET6 ? sizeof(*sin6) :
		    sizeof(*sin);
		return 0;
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].ss.ss_family == AF_INET6)
			has6 = 1;
		else
			has4 = 1;
	}
	if (has6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		*v6only = !has4;
		*len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		*len = sizeof(*sin);
	}
	return 0;
}

/*
 * A listening socket on a free port of the range: for a per-request
 * program on the address the client called (so the answer is reachable
 * the way the question came), for a shared one on every listen address.
 */
static int
bind_port(const struct config *cfg, int client, int shared, int *port)
{
	struct sockaddr_storage	 ss;
	struct sock_filter	 f[8 + (2 + 9) * FILTER_ADDRS];
	struct sock_fprog	 prog = { .filter = f };
	socklen_t		 len = sizeof(ss);
	int			 fd, n, span, p, one = 1, v6only = 1, nf = 0;

	if (shared) {
		shared_addr(cfg, &ss, &len, &v6only);
		if ((nf = listen_filter(cfg, f, (int)(sizeof(f) /
		    sizeof(f[0])))) == -1) {
			errno = E2BIG;
			return -1;
		}
		prog.len = (unsigned short)nf;
	} else if (getsockname(client, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	span = cfg->port_hi - cfg->port_lo + 1;
	if (port_cursor == 0 && getrandom(&port_cursor, sizeof(port_cursor),
	    0) != sizeof(port_cursor))
		port_cursor = (uint32_t)now_ns();
	for (n = 0; n < span && n < 256; n++) {
		p = cfg->port_lo + (port_cursor++ % span);
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(p);
		else
			((struct sockaddr_in *)&ss)->sin_port = htons(p);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd == -1)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
		    IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
			goto bad;
		/* Locked: the program cannot take the filter off. */
		if (nf > 0 && (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER,
		    &prog, sizeof(prog)) == -1 || setsockopt(fd, SOL_SOCKET,
		    SO_LOCK_FILTER, &one, sizeof(one)) == -1))
			goto bad;
		if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
		    listen(fd, 64) == 0) {
			*port = p;
			return fd;
		}
		close(fd);
		if (errno != EADDRINUSE && errno != EACCES)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
bad:
	n = errno;
	close(fd);
	errno = n;
	return -1;
}

static struct instance *
instance_start(struct service *svc, const struct config *cfg, int client,
    int shared, uint64_t akey, const char *token, const char **reason)
{
	struct instance	*in = NULL;
	struct spawn	 sp;
	struct stat	 st;
	struct sockaddr_storage	 ss;
	socklen_t	 sslen = sizeof(ss);
	int		 lfd, port, family, tp[2] = { -1, -1 };
	uint64_t	 now;

	/*
	 * The answer goes out before the program has run (the parent never
	 * waits for a child), so refuse here what execve surely would.
	 */
	if (access(svc->argv[0], X_OK) == -1) {
		log_warn("%s: %s: cannot execute", svc->name, svc->argv[0]);
		*reason = REASON_NOSTART;
		return NULL;
	}
	/* All it needs, before the program runs: no memory is a refusal. */
	if ((in = calloc(1, sizeof(*in))) == NULL ||
	    (shared && svc->token && (in->tok = calloc(TOKENS_CAP,
	    sizeof(*in->tok))) == NULL) || child_reserve() == -1) {
		parent_short("memory", "a redirect refused");
		*reason = REASON_NOMEM;
		goto fail;
	}
	if ((lfd = bind_port(cfg, client, shared, &port)) == -1) {
		log_warn("%s: no port in %d-%d", svc->name, cfg->port_lo,
		    cfg->port_hi);
		*reason = REASON_NO_PORT;
		goto fail;
	}
	/*
	 * Which socket it is, for sockdiag_ports() to know it again; the
	 * pipe blocking for the program, as systemd passes fds, not for us.
	 */
	if (fstat(lfd, &st) == -1 || getsockname(lfd, (struct sockaddr *)&ss,
	    &sslen) == -1 || (shared && svc->token &&
	    (pipe2(tp, O_CLOEXEC) == -1 ||
	    fcntl(tp[1], F_SETFL, O_NONBLOCK) == -1))) {
		log_warn("%s: set up port %d", svc->name, port);
		close(lfd);
		if (tp[0] != -1) {
			close(tp[0]);
			close(tp[1]);
		}
		*reason = REASON_NOSTART;
		goto fail;
	}
	family = ss.ss_family;
	/* Room for every unexpired token, and for some read late. */
	if (tp[1] != -1)
		(void)fcntl(tp[1], F_SETPIPE_SZ, TOKEN_PIPE_BYTES);
	if (spawn_listener(svc, lfd, tp[0], shared || !svc->token ? NULL :
	    token, &sp) == -1) {
		*reason = parent_spawn_reason(errno);
		log_warn("%s: %s: cannot %s", svc->name, svc->argv[0],
		    sp.failed);
		close(lfd);
		if (tp[0] != -1) {
			close(tp[0]);
			close(tp[1]);
		}
		goto fail;
	}
	/* The program holds the socket now; when it exits, the port goes. */
	close(lfd);
	if (tp[0] != -1)
		close(tp[0]);
	child_add(svc, &sp, redirect_exited);
	snprintf(in->name, sizeof(in->name), "%s", svc->name);
	in->pid = sp.pid;
	in->port = port;
	in->family = family;
	in->bound = ss;
	in->ino = (unsigned long)st.st_ino;
	in->shared = shared;
	in->where = listen_where(cfg);
	in->tokenfd = tp[1];
	in->akey = akey;
	now = now_ns();
	in->last_use_ns = in->last_answer_ns = now;
	in->token = svc->token;
	in->next_ns = review_at(now + idle_ns(cfg, svc->name, shared,
	    svc->token));
	in->next = instances;
	instances = in;
	log_info("%s: started pid %d on port %d (%s)", svc->name,
	    (int)sp.pid, port, shared ? "shared" : "per request");
	return in;
fail:
	if (in != NULL)
		free(in->tok);
	free(in);
	return NULL;
}

/* SIGTERM now; SIGKILL if it is still there KILL_AFTER_NS later. */
static void
instance_stop(struct instance *in, uint64_t now, const char *why)
{
	log_info("%s: %s, stopping pid %d", in->name, why, (int)in->pid);
	in->stopping = 1;
	in->stop_ns = now;
	kill(in->pid, SIGTERM);
}

/* Tokens read from its pipe since the last look are use. */
static void
instance_pipe_look(struct instance *in, uint64_t now)
{
	int	unread;

	if (in->tokenfd != -1 && ioctl(in->tokenfd, FIONREAD, &unread) == 0) {
		if (unread < in->unread)
			in->last_use_ns = now;
		in->unread = unread;
	}
}

/* Use in what the kernel said: a connection it took or closed lately. */
static void
instance_port_look(struct instance *in, const struct portuse *u,
    uint64_t now)
{
	if (u->conns > u->queued)
		in->last_use_ns = now;
	else if (u->closed_ms >= 0 && now - (uint64_t)u->closed_ms * MS >
	    in->last_use_ns)
		in->last_use_ns = now - (uint64_t)u->closed_ms * MS;
}

/* 1 if it listens on the socket bound for it (or no one can tell). */
static int
instance_listens(struct instance *in, uint64_t now)
{
	instance_pipe_look(in, now);
	return sockdiag_listening((struct sockaddr *)&in->bound, in->ino) != 0;
}

/* Its clients go to a new one; it stops once no one uses it. */
static void
instance_retire(struct instance *in, uint64_t now, const char *why)
{
	log_info("%s: pid %d %s: no more clients for it", in->name,
	    (int)in->pid, why);
	in->retired = 1;
	in->next_ns = review_at(now);
}

/*
 * Time to look at it: stop it when nobody used it for idle (for a
 * retired one, at once) and the last client answered had its grace.
 * Answers alone never keep it: a per-request program that never accepts
 * is stopped idle after its start.
 */
static void
instance_review(struct instance *in, const struct portuse *u, uint64_t now,
    const struct config *cfg)
{
	uint64_t	idle = idle_ns(cfg, in->name, in->shared, in->token), due;

	instance_pipe_look(in, now);
	instance_port_look(in, u, now);
	if (!in->shared && !u->listening) {
		/* It took its client and closed the port: its own now. */
		in->next_ns = review_at(now + idle);
		return;
	}
	due = in->last_answer_ns + grace_ns(idle);
	if (!in->retired && in->last_use_ns + idle > due)
		due = in->last_use_ns + idle;
	if (in->retired && in->last_use_ns + grace_ns(idle) > due)
		due = in->last_use_ns + grace_ns(idle);
	if (now >= due)
		instance_stop(in, now, in->retired ? "retired" : !in->shared ?
		    "no connection accepted" : "idle");
	else
		in->next_ns = review_at(due);
}

static int
count(const char *name, uint64_t akey, int by_addr)
{
	struct instance	*in;
	int		 n = 0;

	for (in = instances; in != NULL; in = in->next)
		if (!in->shared && !in->stopping &&
		    strcmp(in->name, name) == 0 &&
		    (!by_addr || in->akey == akey))
			n++;
	return n;
}

static struct instance *
shared_instance(const char *name)
{
	struct instance	*in;

	for (in = instances; in != NULL; in = in->next)
		if (in->shared && !in->stopping && !in->retired &&
		    strcmp(in->name, name) == 0)
			return in;
	return NULL;
}

/* A shared program that will take this client, or none. */
static struct instance *
shared_usable(const char *name, const struct config *cfg, uint64_t now)
{
	struct instance	*in = shared_instance(name);

	if (in == NULL)
		return NULL;
	if (in->where != listen_where(cfg))
		instance_retire(in, now, "listens where no longer wanted");
	else if (!instance_listens(in, now))
		instance_retire(in, now, "no longer listens");
	else
		return in;
	return NULL;
}

/* Forgets tokens past their life; -1 with a reason if akey may not ask. */
static int
tokens_room(struct instance *in, uint64_t akey, uint64_t now,
    const char **reason)
{
	int	i, mine = 0;

	while (in->tok_n > 0 && in->tok[in->tok_head].until_ns <= now) {
		in->tok_head = (in->tok_head + 1) % TOKENS_CAP;
		in->tok_n--;
	}
	for (i = 0; i < in->tok_n; i++)
		if (in->tok[(in->tok_head + i) % TOKENS_CAP].akey == akey)
			mine++;
	if (mine >= TOKENS_PER_ADDR) {
		*reason = REASON_ADDR_TOKENS;
		return -1;
	}
	if (in->tok_n == TOKENS_CAP) {
		*reason = REASON_BUSY;
		return -1;
	}
	return 0;
}

/*
 * The token on the program's pipe, with the time it expires. 0, or -1
 * when the pipe is full: the program is not reading.
 */
static int
token_give(struct instance *in, const char *token, uint64_t akey,
    uint64_t now)
{
	char	line[2 * TOKEN_BYTES + 32];
	int	len, i;

	len = snprintf(line, sizeof(line), "%s %" PRIu64 "\n", token,
	    (uint64_t)((now + TOKEN_LIFE_NS) / MS));
	if (write(in->tokenfd, line, (size_t)len) != len)
		return -1;
	if (ioctl(in->tokenfd, FIONREAD, &in->unread) == -1)
		in->unread = 0;
	i = (in->tok_head + in->tok_n++) % TOKENS_CAP;
	in->tok[i].until_ns = now + TOKEN_LIFE_NS;
	in->tok[i].akey = akey;
	return 0;
}

/*
 * Answer a redirect service's client (or a "?name" query, which starts
 * nothing). Writes the reply line into buf. Returns 0, or -1 with a reason
 * for "-".
 */
int
redirect_answer(struct service *svc, const struct config *cfg, int client,
    uint64_t akey, int query, char *buf, size_t len, const char **reason)
{
	struct instance	*in = NULL;
	char		 token[2 * TOKEN_BYTES + 1] = "";
	uint64_t	 now = now_ns();
	int		 tries;

	if (svc->redirect == REDIRECT_NONE) {
		*reason = REASON_NOT_REDIRECT;
		return -1;
	}
	if (svc->redirect == REDIRECT_STATIC) {
		/* config.c bounds the host to a DNS name: it fits. */
		if ((size_t)snprintf(buf, len, "@%d host=%s\r\n",
		    svc->redirect_port, svc->redirect_host) >= len) {
			*reason = "service unavailable";
			return -1;
		}
		return 0;
	}
	if (svc->redirect == REDIRECT_SHARED)
		in = shared_usable(svc->name, cfg, now);
	if (query) {
		/* Where it lives now; a token is for those it serves. */
		if (in == NULL) {
			*reason = REASON_NOT_RUNNING;
			return -1;
		}
		snprintf(buf, len, "@%d\r\n", in->port);
		return 0;
	}
	if (in != NULL && in->tokenfd != -1 &&
	    tokens_room(in, akey, now, reason) == -1)
		return -1;
	if (svc->token)
		token_new(token, sizeof(token));
	for (tries = 0; tries < 2; tries++) {
		if (in == NULL && svc->redirect == REDIRECT_PER_REQUEST) {
			if (svc->max_instances > 0 &&
			    count(svc->name, 0, 0) >= svc->max_instances) {
				*reason = REASON_BUSY;
				return -1;
			}
			if (svc->max_per_addr > 0 && count(svc->name, akey,
			    1) >= svc->max_per_addr) {
				*reason = "too many instances for your address";
				return -1;
			}
		}
		if (in == NULL && (in = instance_start(svc, cfg, client,
		    svc->redirect == REDIRECT_SHARED, akey, token,
		    reason)) == NULL)
			return -1;
		if (in->tokenfd == -1 || token_give(in, token, akey, now) == 0)
			break;
		/* Full of lines it never read: no one is locked out. */
		instance_retire(in, now, "reads no tokens");
		in = NULL;
	}
	if (in == NULL) {
		*reason = REASON_BUSY;
		return -1;
	}
	in->last_answer_ns = now;
	if (svc->token)
		snprintf(buf, len, "@%d token=%s\r\n", in->port, token);
	else
		snprintf(buf, len, "@%d\r\n", in->port);
	return 0;
}

/* A redirect instance exited (child.c, at its reap): its port is free. */
static void
redirect_exited(pid_t pid)
{
	struct instance	**pp, *in;

	for (pp = &instances; (in = *pp) != NULL; pp = &in->next)
		if (in->pid == pid) {
			*pp = in->next;
			if (in->tokenfd != -1)
				close(in->tokenfd);
			log_info("%s: port %d released", in->name, in->port);
			free(in->tok);
			free(in);
			return;
		}
}

/*
 * Looks at the instances due now in one walk of the kernel's connections
 * per family (sockdiag.c).
 */
void
redirect_tick(uint64_t now, const struct config *cfg)
{
	static struct portuse	 u[REVIEW_MAX];
	static struct instance	*due[REVIEW_MAX];
	static int		 warned;
	struct instance		*in;
	int			 fam, n, i, any = 0;

	for (in = instances; in != NULL; in = in->next)
		if (!in->stopping && now >= in->next_ns)
			any = 1;
	for (fam = 0; any && fam < 2; fam++) {
		n = 0;
		for (in = instances; in != NULL && n < REVIEW_MAX;
		    in = in->next)
			if (!in->stopping && in->family == (fam ? AF_INET6 :
			    AF_INET) && now >= in->next_ns) {
				u[n].port = in->port;
				u[n].ino = in->ino;
				due[n++] = in;
			}
		if (n > 0 && sockdiag_ports(fam ? AF_INET6 : AF_INET, u,
		    n) == -1) {
			if (!warned++)
				log_warn("sock_diag");
			/* Unknown: the answers are all there is to go by. */
			for (i = 0; i < n; i++) {
				u[i].listening = 1;
				u[i].conns = u[i].queued = 0;
				u[i].closed_ms = -1;
				if (due[i]->last_answer_ns > due[i]->last_use_ns)
					due[i]->last_use_ns =
					    due[i]->last_answer_ns;
			}
		}
		for (i = 0; i < n; i++)
			instance_review(due[i], &u[i], now, cfg);
	}
	/* Deaf to SIGTERM: it must not keep the port forever. */
	for (in = instances; in != NULL; in = in->next)
		if (in->stopping && in->stop_ns != 0 &&
		    now - in->stop_ns >= KILL_AFTER_NS) {
			log_warnx("%s: pid %d ignores SIGTERM, killing",
			    in->name, (int)in->pid);
			kill(in->pid, SIGKILL);
			in->stop_ns = 0;
		}
}

uint64_t
redirect_next_deadline(const struct config *cfg)
{
	struct instance	*in;
	uint64_t	 when = 0, t;

	(void)cfg;
	for (in = instances; in != NULL; in = in->next) {
		if (in->stopping && in->stop_ns == 0)
			continue;
		t = in->stopping ? in->stop_ns + KILL_AFTER_NS : in->next_ns;
		if (when == 0 || t < when)
			when = t;
	}
	return when;
}

void
redirect_stop(void)
{
	struct instance	*in;

	for (in = instances; in != NULL; in = in->next)
		kill(in->pid, SIGTERM);
}

/*
 * A dynamic port the kernel may also pick as the local port of an
 * outgoing connection is one that is sometimes not free: warn when the
 * range meets the ephemeral one (read at each load; it can be changed).
 */
void
redirect_check_ports(const struct config *cfg)
{
	FILE	*f;
	int	 i, lo, hi, dynamic = 0;

	for (i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].redirect == REDIRECT_SHARED ||
		    cfg->services[i].redirect == REDIRECT_PER_REQUEST)
			dynamic = 1;
	if (!dynamic ||
	    (f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re")) == NULL)
		return;
	if (fscanf(f, "%d %d", &lo, &hi) == 2 && lo <= cfg->port_hi &&
	    cfg->port_lo <= hi)
		log_warnx("ports %d-%d overlap the ephemeral ports %d-%d "
		    "(net.ipv4.ip_local_port_range): some may be taken by "
		    "outgoing connections", cfg->port_lo, cfg->port_hi, lo, hi);
	fclose(f);
}
