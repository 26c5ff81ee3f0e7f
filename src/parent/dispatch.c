/*
 * dispatch.c: what the parent does with a request the frontend passed
 * on with its client fd: say where a redirect service lives, hand the
 * client to a running service, or start the service's program on it,
 * within the service's limits. Every way out answers the client ("+",
 * "@" or "-reason") or leaves that to the one who now holds the fd.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define REASON_UNKNOWN		"unknown service"
#define REASON_SVC_BUSY		"service busy"
#define REASON_ADDR_INST	"too many instances for your address"
#define REASON_NOSTART		"cannot start service"

/* Mode B: say where it lives ("@PORT ..."), start it if need be. */
static void
dispatch_redirect(struct config *cfg, struct service *svc,
    const struct ipc_dispatch *req, int fd, const char *peer, uint64_t key)
{
	const char	*reason = "unknown service";
	char		 line[512], result[512];
	int		 ok = -1;

	if (svc == NULL && handoff_registered_port(req->name) > 0) {
		/* A service that registered its own port, on this host. */
		snprintf(line, sizeof(line), "@%d\r\n",
		    handoff_registered_port(req->name));
		ok = 0;
	} else if (svc == NULL && handoff_registered(req->name))
		reason = "not redirectable";
	else if (svc != NULL)
		ok = redirect_answer(svc, cfg, fd, key,
		    (req->flags & IPC_QUERY) != 0, line, sizeof(line),
		    &reason);
	if (ok == 0) {
		linger_reply(fd, line, strlen(line));
		snprintf(result, sizeof(result), "%.*s",
		    (int)strcspn(line, " \r"), line);
	} else {
		parent_reply(fd, reason);
		snprintf(result, sizeof(result), "-%s", reason);
	}
	close(fd);
	parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
}

/* A running service takes it: "+" or "-" comes with its answer. */
static void
dispatch_pass(const struct service *svc, const struct ipc_dispatch *req,
    int fd, const struct sockaddr_storage *ss, const char *peer)
{
	const char	*reason = "service unavailable";
	char		 result[64];

	/* A supervised program that is down for longer than the wait. */
	if ((svc == NULL || !supervise_down(svc->name)) &&
	    handoff_pass(svc, req->name, fd, ss, peer, req->accepted_ns,
	    &reason) == 0)
		return;
	parent_reply(fd, reason);
	close(fd);
	snprintf(result, sizeof(result), "-%s", reason);
	parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
}

/*
 * The frontend meets clients and so is not trusted: what it passes
 * becomes a program's stdin and stdout only if it is a connected TCP
 * socket. 1: it is; 0: a TCP socket whose client is gone; -1: not one.
 */
static int
client_fd_check(int fd, struct sockaddr_storage *ss, socklen_t *sslen)
{
	socklen_t	len = sizeof(int);
	int		type, proto;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return -1;
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == -1 ||
	    proto != IPPROTO_TCP)
		return -1;
	if (getpeername(fd, (struct sockaddr *)ss, sslen) == -1)
		return 0;
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6 ? 1 : -1;
}

void
dispatch(struct config *cfg, const struct ipc_dispatch *req, int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct service		*svc;
	struct child		*c;
	struct spawn		 sp;
	const char		*reason = NULL;
	char			 peer[ADDR_STRLEN], result[64];
	uint64_t		 key;
	int			 i;

	if ((i = client_fd_check(fd, &ss, &sslen)) != 1) {
		if (i == -1)
			log_warnx("frontend passed a descriptor that is not "
			    "a TCP connection, for %s: dropped", req->name);
		close(fd);
		return;
	}
	addr_ntop((struct sockaddr *)&ss, peer, sizeof(peer));
	key = addr_key((struct sockaddr *)&ss);
	svc = config_find(cfg, req->name);
	if ((req->flags & IPC_QUERY) ||
	    (svc != NULL && svc->redirect != REDIRECT_NONE) ||
	    (svc == NULL && handoff_registered_port(req->name) > 0)) {
		dispatch_redirect(cfg, svc, req, fd, peer, key);
		return;
	}
	if (svc == NULL && handoff_registered(req->name)) {
		dispatch_pass(NULL, req, fd, &ss, peer);
		return;
	}
	if (svc != NULL && svc->socket != NULL) {
		dispatch_pass(svc, req, fd, &ss, peer);
		return;
	}
	if (svc == NULL)
		reason = REASON_UNKNOWN;	/* removed by a reload */
	else if (svc->max_instances > 0 &&
	    svc->running >= svc->max_instances)
		reason = REASON_SVC_BUSY;
	else if (svc->max_per_addr > 0 &&
	    child_count(svc, key) >= svc->max_per_addr)
		reason = REASON_ADDR_INST;
	if (reason == NULL && spawn_service(svc, fd, &sp) == -1) {
		reason = REASON_NOSTART;
		log_warn("%s: %s: cannot %s", svc->name, svc->argv[0],
		    sp.failed);
	}
	if (reason != NULL) {
		parent_reply(fd, reason);
		close(fd);
		snprintf(result, sizeof(result), "-%s", reason);
		parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
		return;
	}
	/* "+" waits for the program's exec-stop, or its exec (child.c). */
	c = child_add(svc, &sp, NULL);
	child_set_client(c, fd, key, peer, req->accepted_ns);
}
