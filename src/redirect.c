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
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneportd.h"

#define REASON_NOT_REDIRECT	"not redirectable"
#define REASON_NOT_RUNNING	"not running"
#define REASON_NO_PORT		"no free port"
#define TOKEN_BYTES		16	/* 32 hex digits */
#define KILL_AFTER_NS		(5000ull * 1000000)

struct instance {
	char		 name[SERVICE_NAME_MAX + 1];
	pid_t		 pid;
	int		 port;
	int		 shared;
	int		 tokenfd;	/* shared + token: write end, or -1 */
	uint64_t	 akey;		/* per request: who asked */
	uint64_t	 last_ns;	/* last answer pointing here */
	int		 stopping;
	uint64_t	 stop_ns;	/* when SIGTERM went */
	struct instance	*next;
};

static struct instance	*instances;
static uint32_t		 port_cursor;

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

/*
 * A listening socket on a free port of the range, on the address the
 * client called (so the answer is reachable the way the question came).
 */
static int
bind_port(const struct config *cfg, int client, int *port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 fd, n, span, p, one = 1;

	if (getsockname(client, (struct sockaddr *)&ss, &len) == -1)
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
}

static struct instance *
instance_start(struct service *svc, const struct config *cfg, int client,
    int shared, uint64_t akey, const char *token, const char **reason)
{
	struct instance	*in;
	struct spawn	 sp;
	int		 lfd, port, tp[2] = { -1, -1 };

	/*
	 * The answer goes out before the program has run (the parent never
	 * waits for a child), so refuse here what execve surely would.
	 */
	if (access(svc->argv[0], X_OK) == -1) {
		log_warn("%s: %s: cannot execute", svc->name, svc->argv[0]);
		*reason = "cannot start service";
		return NULL;
	}
	if ((lfd = bind_port(cfg, client, &port)) == -1) {
		log_warn("%s: no port in %d-%d", svc->name, cfg->port_lo,
		    cfg->port_hi);
		*reason = REASON_NO_PORT;
		return NULL;
	}
	/* Blocking for the program, as systemd passes fds; not for us. */
	if (shared && svc->token && (pipe2(tp, O_CLOEXEC) == -1 ||
	    fcntl(tp[1], F_SETFL, O_NONBLOCK) == -1)) {
		log_warn("%s: token pipe", svc->name);
		close(lfd);
		if (tp[0] != -1) {
			close(tp[0]);
			close(tp[1]);
		}
		*reason = "cannot start service";
		return NULL;
	}
	if (spawn_listener(svc, lfd, tp[0], shared || !svc->token ? NULL :
	    token, &sp) == -1) {
		log_warn("%s: %s: cannot %s", svc->name, svc->argv[0],
		    sp.failed);
		close(lfd);
		if (tp[0] != -1) {
			close(tp[0]);
			close(tp[1]);
		}
		*reason = "cannot start service";
		return NULL;
	}
	/* The program holds the socket now; when it exits, the port goes. */
	close(lfd);
	if (tp[0] != -1)
		close(tp[0]);
	child_add(svc, &sp, 1);
	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("calloc");
	snprintf(in->name, sizeof(in->name), "%s", svc->name);
	in->pid = sp.pid;
	in->port = port;
	in->shared = shared;
	in->tokenfd = tp[1];
	in->akey = akey;
	in->last_ns = now_ns();
	in->next = instances;
	instances = in;
	log_info("%s: started pid %d on port %d (%s)", svc->name,
	    (int)sp.pid, port, shared ? "shared" : "per request");
	return in;
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
		if (in->shared && !in->stopping && strcmp(in->name, name) == 0)
			return in;
	return NULL;
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
	char		 token[2 * TOKEN_BYTES + 1] = "", line[2 * TOKEN_BYTES + 2];

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
		in = shared_instance(svc->name);
	if (query) {
		/* Where it lives now; a token is for those it serves. */
		if (in == NULL) {
			*reason = REASON_NOT_RUNNING;
			return -1;
		}
		snprintf(buf, len, "@%d\r\n", in->port);
		return 0;
	}
	if (svc->token)
		token_new(token, sizeof(token));
	if (in == NULL) {
		if (svc->redirect == REDIRECT_PER_REQUEST) {
			if (svc->max_instances > 0 &&
			    count(svc->name, 0, 0) >= svc->max_instances) {
				*reason = "service busy";
				return -1;
			}
			if (svc->max_per_addr > 0 && count(svc->name, akey,
			    1) >= svc->max_per_addr) {
				*reason = "too many instances for your address";
				return -1;
			}
		}
		in = instance_start(svc, cfg, client,
		    svc->redirect == REDIRECT_SHARED, akey, token, reason);
		if (in == NULL)
			return -1;
	}
	in->last_ns = now_ns();
	if (in->shared && in->tokenfd != -1) {
		/* One line per token; the program may read them lazily. */
		snprintf(line, sizeof(line), "%s\n", token);
		if (write(in->tokenfd, line, strlen(line)) !=
		    (ssize_t)strlen(line)) {
			*reason = "service busy";
			return -1;
		}
	}
	if (svc->token)
		snprintf(buf, len, "@%d token=%s\r\n", in->port, token);
	else
		snprintf(buf, len, "@%d\r\n", in->port);
	return 0;
}

/* Returns 1 if pid was a redirect instance; its port is free again. */
int
redirect_exited(pid_t pid)
{
	struct instance	**pp, *in;

	for (pp = &instances; (in = *pp) != NULL; pp = &in->next)
		if (in->pid == pid) {
			*pp = in->next;
			if (in->tokenfd != -1)
				close(in->tokenfd);
			log_info("%s: port %d released", in->name, in->port);
			free(in);
			return 1;
		}
	return 0;
}

/* Shared instances that pointed no one anywhere for idle_s are stopped. */
void
redirect_tick(uint64_t now, const struct config *cfg)
{
	struct instance	*in;
	struct service	*svc;
	uint64_t	 idle;

	for (in = instances; in != NULL; in = in->next) {
		if (!in->shared || in->stopping)
			continue;
		svc = config_find(cfg, in->name);
		idle = (uint64_t)(svc != NULL ? svc->idle_s : DEF_IDLE_S) *
		    1000000000ull;
		if (now - in->last_ns >= idle) {
			log_info("%s: idle, stopping pid %d", in->name,
			    (int)in->pid);
			in->stopping = 1;
			in->stop_ns = now;
			kill(in->pid, SIGTERM);
		}
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
	struct service	*svc;
	uint64_t	 when = 0, t;

	for (in = instances; in != NULL; in = in->next) {
		if (in->stopping && in->stop_ns != 0) {
			t = in->stop_ns + KILL_AFTER_NS;
			if (when == 0 || t < when)
				when = t;
		}
		if (!in->shared || in->stopping)
			continue;
		svc = config_find(cfg, in->name);
		t = in->last_ns + (uint64_t)(svc != NULL ? svc->idle_s :
		    DEF_IDLE_S) * 1000000000ull;
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
