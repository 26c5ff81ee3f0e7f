/* SPDX-License-Identifier: ISC */
/*
 * rkeep.c: our copies of the clients we sent a relay (IPC_FORWARD) while
 * they may still be unread in its channel. When a relay dies, the kernel
 * closes what its channel held, and without a copy those clients get a
 * bare close. With one, each the relay never touched (sent nothing, read
 * nothing since we sent it on) is answered "-service unavailable" in its
 * protocol, as are those still in the link's queue (rlink.c).
 *
 * A copy goes at the connection's DONE, or once the channel is seen
 * empty (the relay took them all), so a session that lasts holds none;
 * and there are at most max of them, since our descriptors are a budget
 * other clients need. Only the answer at a death needs them: while the
 * relay lives we never read or write a kept client.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <linux/tcp.h>	/* tcpi_bytes_sent: glibc's struct tcp_info
			 * stops short of it */
#include <netinet/in.h>

#include <poll.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

/*
 * What a client's socket has seen: the bytes sent to it and those read
 * from it. Only ever asked when no one reads it (before the relay has it,
 * after the relay is gone), so a SIOCINQ unchanged around TCP_INFO means
 * the two agree, though the client may be sending. -1: cannot tell.
 */
int
rkeep_marks(int fd, uint64_t *sent, uint64_t *read)
{
	struct tcp_info	ti;
	socklen_t	len;
	int		a, b, i;

	for (i = 0; i < 3; i++) {
		len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (ioctl(fd, SIOCINQ, &a) == -1 ||
		    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
		    ioctl(fd, SIOCINQ, &b) == -1)
			return -1;
		/* A kernel older than tcpi_bytes_sent (4.19): no promise. */
		if (len < offsetof(struct tcp_info, tcpi_bytes_sent) +
		    sizeof(ti.tcpi_bytes_sent))
			return -1;
		if (a == b && a >= 0 && ti.tcpi_bytes_received >= (uint64_t)a) {
			*sent = ti.tcpi_bytes_sent;
			*read = ti.tcpi_bytes_received - (uint64_t)a;
			return 0;
		}
	}
	return -1;
}

/* Room for one more copy? */
int
rkeep_room(const struct rkeeps *ks, int max)
{
	return ks->n < max;
}

/*
 * fd, just sent on for rlink.c's slot, with its marks from before the
 * send: kept (ours now, 0), or -1 without memory (still the caller's).
 */
int
rkeep_add(struct rkeeps *ks, int fd, int slot, uint64_t sent, uint64_t read)
{
	struct rkeep	*k;
	int		 n;

	if (ks->n == ks->cap) {
		n = ks->cap == 0 ? 64 : ks->cap * 2;
		if ((k = reallocarray(ks->k, n, sizeof(*k))) == NULL)
			return -1;
		ks->k = k;
		ks->cap = n;
	}
	k = &ks->k[ks->n++];
	k->fd = fd;
	k->slot = slot;
	k->sent = sent;
	k->read = read;
	return 0;
}

/* The slot's connection is done: its copy goes. */
void
rkeep_drop(struct rkeeps *ks, int slot)
{
	int	i;

	for (i = 0; i < ks->n; i++)
		if (ks->k[i].slot == slot) {
			close(ks->k[i].fd);
			ks->k[i] = ks->k[--ks->n];
			return;
		}
}

/*
 * chan is the relay's channel: empty (SIOCOUTQ, what its reader has not
 * taken), the relay has every client we kept, and the copies go. Each
 * slot whose copy went is given to forget (the caller's mark of it).
 * But a channel is empty too once its reader died, the kernel having
 * dropped what it held: the kernel marks our end hung up before it
 * drops anything, so a hang-up seen after the empty queue says which.
 */
void
rkeep_settle(struct rkeeps *ks, int chan, void (*forget)(int slot))
{
	struct pollfd	pfd;
	int		outq;

	if (ks->n == 0 || ioctl(chan, SIOCOUTQ, &outq) == -1 || outq > 0)
		return;
	pfd.fd = chan;
	pfd.events = POLLRDHUP;
	if (poll(&pfd, 1, 0) != 0)
		return;		/* gone, or cannot tell: keep them */
	rkeep_clear(ks, forget);
}

void
rkeep_clear(struct rkeeps *ks, void (*forget)(int slot))
{
	while (ks->n > 0) {
		ks->n--;
		close(ks->k[ks->n].fd);
		if (forget != NULL)
			forget(ks->k[ks->n].slot);
	}
}

/* The relay is gone: did it touch k's client? 1: no, answer it. */
int
rkeep_untouched(const struct rkeep *k)
{
	uint64_t	sent, read;

	return rkeep_marks(k->fd, &sent, &read) == 0 && sent == k->sent &&
	    read == k->read;
}

void
rkeep_free(struct rkeeps *ks)
{
	rkeep_clear(ks, NULL);
	free(ks->k);
	ks->k = NULL;
	ks->cap = 0;
}
