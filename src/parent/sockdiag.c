/* SPDX-License-Identifier: ISC */
/*
 * sockdiag.c: what the kernel says about a redirect program's port, asked
 * over NETLINK_SOCK_DIAG without touching the socket: whether the program
 * still listens on the socket the parent bound for it, how many
 * connections wait in its accept queue, and how many there are on the
 * port at all. The parent never connects to a program to find out: a
 * probe would be a client the program has to serve.
 */
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

static int	diagfd = -1;

static int
sockdiag_open(void)
{
	struct timeval	tv = { .tv_sec = 1 };

	if (diagfd != -1)
		return 0;
	if ((diagfd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return -1;
	/* The kernel answers at once; a bound on it all the same. */
	setsockopt(diagfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/*
 * Whether the TCP socket of inode ino, bound to sa, listens: one lookup
 * by address, as the kernel finds a listener for an incoming SYN, not a
 * walk of any table. Returns 1, 0 (nothing of that inode listens there),
 * or -1 when the kernel could not be asked.
 */
int
sockdiag_listening(const struct sockaddr *sa, unsigned long ino)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
	} req;
	union {
		struct nlmsghdr		nlh;
		char			buf[1024];
	} ans;
	struct inet_diag_msg	*m;
	struct nlmsgerr		*e;
	ssize_t			 got;

	if (sockdiag_open() == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = sa->sa_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = 1U << TCP_LISTEN;
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		req.r.id.idiag_sport = sin6->sin6_port;
		memcpy(req.r.id.idiag_src, &sin6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *sin = (const void *)sa;

		req.r.id.idiag_sport = sin->sin_port;
		memcpy(req.r.id.idiag_src, &sin->sin_addr, 4);
	}
	if (send(diagfd, &req, sizeof(req), 0) != (ssize_t)sizeof(req) ||
	    (got = recv(diagfd, ans.buf, sizeof(ans.buf), 0)) <
	    (ssize_t)sizeof(ans.nlh) || !NLMSG_OK(&ans.nlh, (int)got))
		goto fail;
	if (ans.nlh.nlmsg_type == NLMSG_ERROR) {
		if (ans.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
			goto fail;
		e = NLMSG_DATA(&ans.nlh);
		return e->error == -ENOENT ? 0 : -1;
	}
	if (ans.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    ans.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		goto fail;
	m = NLMSG_DATA(&ans.nlh);
	return m->idiag_state == TCP_LISTEN && m->idiag_inode == ino;
fail:
	close(diagfd);
	diagfd = -1;
	return -1;
}

/*
 * Fills u[0..n-1] (port and ino set by the caller) from the TCP sockets
 * of family on those ports: the kernel walks every connection of the
 * host, a few milliseconds on a large one, so callers ask for many
 * ports at once, rarely. Returns 0,
 * or -1 when the kernel could not be asked (then nothing is known).
 */
int
sockdiag_ports(int family, struct portuse *u, int n)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	r;
		struct nlattr		nla;
		struct inet_diag_bc_op	bc[4];
	} req;
	union {
		struct nlmsghdr		nlh;
		char			buf[16384];
	} ans;
	struct nlmsghdr		*h;
	struct inet_diag_msg	*m;
	struct portuse		*e;
	ssize_t			 got;
	int			 len, i, lo = 65535, hi = 0, done = 0, ago;

	for (i = 0; i < n; i++) {
		u[i].listening = u[i].queued = u[i].conns = 0;
		u[i].closed_ms = -1;
		lo = u[i].port < lo ? u[i].port : lo;
		hi = u[i].port > hi ? u[i].port : hi;
	}
	if (n == 0)
		return 0;
	if (sockdiag_open() == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	/* Not the half-open: a SYN is no one the program has taken. */
	req.r.idiag_states = ~0U & ~(1U << TCP_SYN_RECV) & ~(1U << 12);
	req.nla.nla_len = sizeof(req.nla) + sizeof(req.bc);
	req.nla.nla_type = INET_DIAG_REQ_BYTECODE;
	/* sport >= lo, then sport <= hi; a "no" jumps past the end. */
	req.bc[0] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_GE, 8, 20 };
	req.bc[1].no = (unsigned short)lo;
	req.bc[2] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_LE, 8, 12 };
	req.bc[3].no = (unsigned short)hi;
	if (send(diagfd, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
		goto fail;
	while (!done) {
		if ((got = recv(diagfd, ans.buf, sizeof(ans.buf), 0)) <= 0)
			goto fail;
		len = (int)got;
		for (h = &ans.nlh; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				goto fail;
			m = NLMSG_DATA(h);
			for (i = 0, e = NULL; i < n && e == NULL; i++)
				if (u[i].port == ntohs(m->id.idiag_sport))
					e = &u[i];
			if (e == NULL)
				continue;
			if (m->idiag_state == TCP_LISTEN) {
				if (m->idiag_inode == e->ino) {
					e->listening = 1;
					e->queued = (int)m->idiag_rqueue;
				}
			} else if (m->idiag_state == TCP_TIME_WAIT) {
				/* Closed this long ago: TIME_WAIT is 60 s. */
				ago = 60000 - (int)m->idiag_expires;
				if (ago < 0)
					ago = 0;
				if (e->closed_ms == -1 || ago < e->closed_ms)
					e->closed_ms = ago;
			} else
				e->conns++;
		}
	}
	return 0;
fail:
	/* A half-read answer would be read as the next one's: start over. */
	close(diagfd);
	diagfd = -1;
	return -1;
}
