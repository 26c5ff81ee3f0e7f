/* SPDX-License-Identifier: ISC */
/*
 * remote.c: names another host of the cluster exports (clink.c's table).
 * A TCPMUX client is sent there: "@PORT host=ADDRESS token=TOKEN", the
 * token minted for it alone (ctoken.c), which it sends as its first line
 * to that host's rendezvous port. An implicit client (TLS, HTTP, SSH)
 * cannot be redirected: the relay forwards it to that host's rendezvous
 * port with a PROXY v2 header, which the other host takes from a member
 * of its cluster. And the other way: a token line that came here is
 * checked before its name is served.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clusteripc.h"
#include "parent.h"

static void
refused(int fd, const struct ipc_dispatch *req, const char *peer,
    const char *reason)
{
	char	result[96];

	parent_refuse(fd, req->proto, reason);
	close(fd);
	snprintf(result, sizeof(result), "-%s", reason);
	parent_log_conn(peer, req->name, result, 0, req->accepted_ns);
}

/* The relay takes it to the member, as it would to a forward backend. */
static void
forward(const struct ipc_dispatch *req, const struct ipc_cl_entry *e,
    int fd, const char *peer)
{
	struct sockaddr_storage	ss;
	struct service		svc;

	memset(&svc, 0, sizeof(svc));
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &e->addr, sizeof(e->addr));
	snprintf(svc.name, sizeof(svc.name), "%s", req->name);
	svc.forward_host = (char *)e->host;
	svc.forward_addrs = &ss;
	svc.nforward_addrs = 1;
	svc.proxy_out = 2;
	svc.idle_s = DEF_FORWARD_IDLE_S;
	rlink_forward(&svc, req, fd, peer);
}

/*
 * A name that is not here: 1 if another host has it (the client is
 * answered), 0 if not (unknown, as before).
 */
int
remote_dispatch(const struct ipc_dispatch *req, int fd, const char *peer)
{
	struct ipc_cl_entry	 e;
	const char		*reason;
	char			 line[128], a[ADDR_STRLEN], tok[CTOKEN_MAX + 1];
	char			 result[16];
	int			 v6;

	if (!clink_configured() || (req->flags & IPC_TOKEN))
		return 0;
	if (clink_lookup(req->name, &e, &reason) == -1) {
		if (strcmp(reason, "unknown service") == 0)
			return 0;
		refused(fd, req, peer, reason);
		return 1;
	}
	if (req->proto != PROTO_TCPMUX) {
		forward(req, &e, fd, peer);
		return 1;
	}
	addr_host((struct sockaddr *)&e.addr, a, sizeof(a));
	if (req->flags & IPC_QUERY)
		tok[0] = '\0';
	else if (ctoken_mint(req->name, (const struct sockaddr *)&req->peer,
	    tok, sizeof(tok)) == -1) {
		refused(fd, req, peer, "service unavailable");
		return 1;
	}
	v6 = e.addr.sin6_family == AF_INET6;
	snprintf(line, sizeof(line), "@%d host=%s%s%s%s%s\r\n",
	    addr_port((struct sockaddr *)&e.addr), v6 ? "[" : "", a,
	    v6 ? "]" : "", tok[0] != '\0' ? " token=" : "", tok);
	linger_reply(fd, line, strlen(line));
	close(fd);
	snprintf(result, sizeof(result), "@%d", addr_port((struct sockaddr *)
	    &e.addr));
	log_info("conn peer=%s service=%s result=%s host=%s pid=- "
	    "dispatch=%.3fms", peer, req->name, result, e.host,
	    (now_ns() - req->accepted_ns) / 1e6);
	return 1;
}

/*
 * A token line: 0 and the request is served here without "+" (the
 * client followed a redirect and expects the program's bytes), or -1
 * and the client was refused.
 */
int
remote_token(struct ipc_dispatch *req, int fd, const char *peer)
{
	const char	*reason;

	if (!clink_configured()) {
		refused(fd, req, peer, "bad token");
		return -1;
	}
	if (ctoken_verify(req->name, req->token,
	    (const struct sockaddr *)&req->peer, &reason) == -1) {
		refused(fd, req, peer, reason);
		return -1;
	}
	req->proto = PROTO_TOKEN;
	return 0;
}
