/* SPDX-License-Identifier: ISC */
/*
 * dispatch.c: what the parent does with a request the frontend passed
 * on with its client fd: say where a redirect service lives, hand the
 * client to a running service, or start the service's program on it,
 * within the service's limits. Every way out answers the client ("+",
 * "@" or "-reason"; for an implicit client nothing or a refusal in its
 * protocol) or leaves that to the one who now holds the fd.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define REASON_UNKNOWN		"unknown service"
#define REASON_SVC_BUSY		"service busy"
#define REASON_ADDR_INST	"too many instances for your address"
#define REASON_DENIED		"access denied"
#define REASON_NOMEM		"out of memory"

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
    int fd, const char *peer)
{
	const char	*reason = "service unavailable";
	char		 result[64];

	/* A supervised program that is down for longer than the wait. */
	if ((svc == NULL || !supervise_down(svc->name)) &&
	    handoff_pass(svc, req, fd, peer, &reason) == 0)
		return;
	parent_refuse(fd, req->proto, reason);
	close(fd);
	snprintf(result, sizeof(result), "-%s", reason);
	parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
}

/*
 * The frontend meets clients and so is not trusted: what it passes
 * becomes a program's stdin and stdout only if it is a connected TCP
 * socket. 1: it is; 0: a TCP socket whose client is gone; -1: not one.
 * One question says TCP: the kernel answers TCP_INFO for a TCP socket
 * (or MPTCP's, a TCP stream too) and for no other kind, where SO_TYPE
 * and SO_PROTOCOL took two calls per connection.
 */
static int
client_fd_check(int fd, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	if (getpeername(fd, (struct sockaddr *)ss, sslen) == -1)
		return 0;
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6 ? 1 : -1;
}

/*
 * Who the client is: the socket's own peer, or what a PROXY header said
 * if the socket comes from a balancer this config trusts (the frontend,
 * which read the header, is not trusted to say so). Fills d's peer and
 * local, and via for the log. -1: drop the connection.
 */
static int
client_addresses(const struct config *cfg, struct ipc_dispatch *d,
    const struct sockaddr_storage *ss, socklen_t sslen, int fd,
    struct sockaddr_storage *via)
{
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);
	char			 a[ADDR_STRLEN];

	if (d->flags & IPC_PROXIED) {
		if (!addr_in_nets((const struct sockaddr *)ss, cfg->proxy_from,
		    cfg->nproxy_from) &&
		    !clink_member((const struct sockaddr *)ss)) {
			log_warnx("frontend passed PROXY addresses for a "
			    "connection from %s, not a trusted source: "
			    "dropped", addr_ntop((const struct sockaddr *)ss,
			    a, sizeof(a)));
			return -1;
		}
		memcpy(via, ss, sizeof(*via));
		return 0;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1)
		return -1;
	memcpy(&d->peer, ss, sslen < sizeof(d->peer) ? sslen :
	    sizeof(d->peer));
	memcpy(&d->local, &local, llen < sizeof(d->local) ? llen :
	    sizeof(d->local));
	via->ss_family = AF_UNSPEC;
	return 0;
}

void
dispatch(struct config *cfg, const struct ipc_dispatch *msg, int fd)
{
	struct sockaddr_storage	 ss, via;
	socklen_t		 sslen = sizeof(ss);
	struct ipc_dispatch	 dreq = *msg, *req = &dreq;
	struct service		*svc;
	const struct aclent	*acl;
	struct child		*c;
	struct spawn		 sp;
	const char		*reason = NULL;
	char			 peer[PEER_STRLEN], result[64];
	uint64_t		 key;
	size_t			 n;
	int			 i, nacl;

	if ((i = client_fd_check(fd, &ss, &sslen)) != 1) {
		if (i == -1)
			log_warnx("frontend passed a descriptor that is not "
			    "a TCP connection, for %s: dropped", req->name);
		close(fd);
		return;
	}
	if (client_addresses(cfg, req, &ss, sslen, fd, &via) == -1) {
		close(fd);
		return;
	}
	addr_ntop((struct sockaddr *)&req->peer, peer, sizeof(peer));
	n = strlen(peer);
	proto_tags(peer + n, sizeof(peer) - n, via.ss_family != AF_UNSPEC ?
	    (struct sockaddr *)&via : NULL, req->proto, req->host, req->alpn);
	key = addr_key((struct sockaddr *)&req->peer);
	svc = config_find(cfg, req->name);
	/* The frontend checked; its word is not taken for it. */
	acl = config_acl(cfg, svc, &nacl);
	if (!addr_acl_allows((struct sockaddr *)&req->peer, acl, nacl)) {
		parent_refuse(fd, req->proto, REASON_DENIED);
		close(fd);
		parent_log_conn(peer, req->name, "-" REASON_DENIED, 0,
		    req->accepted_ns);
		return;
	}
	/* A client a cluster redirect sent, with its token line. */
	if ((req->flags & IPC_TOKEN) && remote_token(req, fd, peer) == -1)
		return;
	/* Not here, and another host of the cluster has it. */
	if (svc == NULL && !handoff_registered(req->name) &&
	    remote_dispatch(req, fd, peer))
		return;
	if (req->proto != PROTO_TCPMUX &&
	    (svc == NULL || svc->redirect != REDIRECT_NONE)) {
		/* Removed by a reload: implicit clients cannot be redirected. */
		parent_refuse(fd, req->proto, REASON_UNKNOWN);
		close(fd);
		parent_log_conn(peer, req->name, "-" REASON_UNKNOWN, 0,
		    req->accepted_ns);
		return;
	}
	if ((req->flags & IPC_QUERY) ||
	    (svc != NULL && svc->redirect != REDIRECT_NONE) ||
	    (svc == NULL && handoff_registered_port(req->name) > 0)) {
		dispatch_redirect(cfg, svc, req, fd, peer, key);
		return;
	}
	if (svc == NULL && handoff_registered(req->name)) {
		dispatch_pass(NULL, req, fd, peer);
		return;
	}
	if (svc != NULL && svc->socket != NULL) {
		dispatch_pass(svc, req, fd, peer);
		return;
	}
	if (svc != NULL && svc->forward_host != NULL) {
		rlink_forward(svc, req, fd, peer);
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
	if (reason == NULL && child_reserve() == -1)
		reason = REASON_NOMEM;
	if (reason == NULL && spawn_service(svc, fd, req, &sp) == -1) {
		reason = parent_spawn_reason(errno);
		log_warn("%s: %s: cannot %s", svc->name, svc->argv[0],
		    sp.failed);
	}
	if (reason != NULL) {
		parent_refuse(fd, req->proto, reason);
		close(fd);
		snprintf(result, sizeof(result), "-%s", reason);
		parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
		return;
	}
	/* "+" waits for the program's exec-stop, or its exec (child.c). */
	c = child_add(svc, &sp, NULL);
	child_set_client(c, fd, key, peer, req->proto, req->accepted_ns);
}
