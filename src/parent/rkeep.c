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
#include <linux/tcp.h>	/* tcpi_bytes_acked: glibc's struct tcp_info
			 * stops short of it */
#include <netinet/in.h>

#include <poll.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

/*
 * tcpi_state's values after a FIN came in (the kernel's tcp_states.h, an
 * ABI; linux/tcp.h does not name them and netinet/tcp.h clashes with it).
 */
enum { ST_CLOSE_WAIT = 8, ST_LAST_ACK = 9, ST_CLOSING = 11 };

/*
 * What a client's socket has seen: the bytes written to it and those read
 * from it. Written is what was acknowledged plus what waits in the send
 * queue (SIOCOUTQ): tcpi_bytes_sent counts only what went out, and a
 * client with a closed window would see a relay's "+" held back there.
 * Read is what arrived less what waits unread (SIOCINQ), less the FIN,
 * which takes a sequence number but is no byte: a client that half-closes
 * after its name was read by no one is still untouched.
 *
 * Only ever asked when no one reads or writes the socket (before the
 * relay has it, after the relay is gone): the receive queue can then only
 * grow and the send queue only shrink, so each unchanged around TCP_INFO
 * means the counts agree with it, though the client may be sending or
 * acknowledging. -1: cannot tell.
 */
int
rkeep_marks(int fd, uint64_t *written, uint64_t *read)
{
	struct tcp_info	ti;
	socklen_t	len;
	uint64_t	rcvd;
	int		in, in2, out, out2, i;

	for (i = 0; i < 3; i++) {
		len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (ioctl(fd, SIOCINQ, &in) == -1 ||
		    ioctl(fd, SIOCOUTQ, &out) == -1 ||
		    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
		    ioctl(fd, SIOCINQ, &in2) == -1 ||
		    ioctl(fd, SIOCOUTQ, &out2) == -1)
			return -1;
		/* A kernel older than tcpi_bytes_acked (4.1): no promise. */
		if (len < offsetof(struct tcp_info, tcpi_bytes_received) +
		    sizeof(ti.tcpi_bytes_received))
			return -1;
		rcvd = ti.tcpi_bytes_received;
		if (ti.tcpi_state == ST_CLOSE_WAIT ||
		    ti.tcpi_state == ST_LAST_ACK || ti.tcpi_state == ST_CLOSING)
			rcvd--;		/* the FIN; it arrived, so rcvd > 0 */
		if (in == in2 && out == out2 && in >= 0 && out >= 0 &&
		    rcvd >= (uint64_t)in) {
			*written = ti.tcpi_bytes_acked + (uint64_t)out;
			*read = rcvd - (uint64_t)in;
			return 0;
		}
	}
	return -1;
}

/*
 * fd, just sent on for rlink.c's slot, with its marks from before the
 * send: kept (ours now, 0), or -1 without memory (still the caller's).
 */
int
rkeep_add(struct rkeeps *ks, int fd, int slot, uint64_t written,
    uint64_t read)
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
	k->written = written;
	k->read = read;
	return 0;
}

/*
 * The slot's connection is done: its copy leaves the keeps, returned to
 * the caller to answer or close (-1: none), with whether the relay left
 * its client untouched. A scan, as rlink.c's own of its slots: the keeps
 * are few, emptied whenever the channel is (rkeep_settle).
 */
int
rkeep_take(struct rkeeps *ks, int slot, int *untouched)
{
	int	i, fd;

	for (i = 0; i < ks->n; i++)
		if (ks->k[i].slot == slot) {
			fd = ks->k[i].fd;
			*untouched = rkeep_untouched(&ks->k[i]);
			ks->k[i] = ks->k[--ks->n];
			return fd;
		}
	return -1;
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
	uint64_t	written, read;

	return rkeep_marks(k->fd, &written, &read) == 0 &&
	    written == k->written &&
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
