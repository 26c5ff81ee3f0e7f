/* SPDX-License-Identifier: ISC */
/*
 * linger.c: how a process lets go of a client it answered itself. Closing
 * a socket with unread bytes makes the kernel send RST, which can destroy
 * the reply; so the reply is followed by a half-close, and the socket of a
 * client that sent more than its line is kept, what it still sends
 * discarded unread (MSG_TRUNC on TCP drops it in the kernel, no byte
 * reaches us), until the client's FIN, a short deadline or a byte budget.
 * The parent and the frontend each keep their own bounded set, watched by
 * their loop as one epoll fd.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "linger.h"
#include "log.h"

#define LINGER_MAX	256		/* sockets held at once */
#define LINGER_NS	(2000 * 1000000ull)
#define LINGER_BUDGET	(1024 * 1024)	/* bytes discarded per socket */

struct lingering {
	int		 fd;		/* -1: free */
	uint64_t	 deadline_ns;
	size_t		 discarded;
};

static struct lingering	 slots[LINGER_MAX];
static int		 linger_epfd = -1;
/* Only named to recv(2): with MSG_TRUNC the kernel never writes it. */
static char		 sink[64 * 1024];

int
linger_init(void)
{
	int	i;

	for (i = 0; i < LINGER_MAX; i++)
		slots[i].fd = -1;
	if ((linger_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("linger: epoll_create1");
	return linger_epfd;
}

/*
 * Drops what is queued. 1: the socket is done with (FIN, error, budget
 * spent); 0: still open, nothing more queued for now.
 */
static int
discard(int fd, size_t *total)
{
	ssize_t	n;

	for (;;) {
		n = recv(fd, sink, sizeof(sink), MSG_TRUNC | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return errno != EAGAIN;
		if (n == 0)
			return 1;
		*total += n;
		if (*total >= LINGER_BUDGET)
			return 1;
	}
}

static void
release(struct lingering *l)
{
	size_t	dummy = 0;

	/* Drop the last bytes too: any left unread would still mean RST. */
	(void)discard(l->fd, &dummy);
	epoll_ctl(linger_epfd, EPOLL_CTL_DEL, l->fd, NULL);
	close(l->fd);
	l->fd = -1;
}

/* A free slot; when all are taken, the one nearest its deadline goes. */
static struct lingering *
slot_get(void)
{
	struct lingering	*old = NULL;
	int			 i;

	for (i = 0; i < LINGER_MAX; i++) {
		if (slots[i].fd == -1)
			return &slots[i];
		if (old == NULL || slots[i].deadline_ns < old->deadline_ns)
			old = &slots[i];
	}
	release(old);
	return old;
}

/*
 * Send a whole reply in one send that does not block, end our side, and
 * linger. The caller still closes fd: what lingers is a copy. A socket
 * that cannot linger (no descriptor left) has at least its queued bytes
 * dropped, which is all that most clients send. A reply that did not go
 * whole (the client's window and our buffer full) ends in a reset at the
 * caller's close, so that no client takes a cut reply for the whole: -1.
 */
int
linger_reply(int fd, const void *buf, size_t len)
{
	struct epoll_event	 ev;
	struct linger		 abort = { 1, 0 };
	struct lingering	*l;
	size_t			 total = 0;
	ssize_t			 n;

	while ((n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)len) {
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort,
		    sizeof(abort));
		return -1;
	}
	shutdown(fd, SHUT_WR);
	/*
	 * A client that sent nothing after its line has nothing to lose to
	 * a reset: it is let go at once. One that did (pipelined data, a
	 * TLS hello) may still be sending: it lingers.
	 */
	if (discard(fd, &total) || total == 0 || linger_epfd == -1)
		return 0;
	l = slot_get();
	if ((l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return 0;
	l->discarded = total;
	l->deadline_ns = now_ns() + LINGER_NS;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = l;
	if (epoll_ctl(linger_epfd, EPOLL_CTL_ADD, l->fd, &ev) == -1) {
		close(l->fd);
		l->fd = -1;
	}
	return 0;
}

/* The set's fd was readable: discard, and close those that are done. */
void
linger_event(void)
{
	struct epoll_event	 evs[64];
	struct lingering	*l;
	int			 i, n;

	if ((n = epoll_wait(linger_epfd, evs, 64, 0)) <= 0)
		return;
	for (i = 0; i < n; i++) {
		l = evs[i].data.ptr;
		if (l->fd != -1 && discard(l->fd, &l->discarded))
			release(l);
	}
}

void
linger_expire(uint64_t now)
{
	int	i;

	for (i = 0; i < LINGER_MAX; i++)
		if (slots[i].fd != -1 && slots[i].deadline_ns <= now)
			release(&slots[i]);
}

/* The earliest deadline, or 0. */
uint64_t
linger_next_deadline(void)
{
	uint64_t	when = 0;
	int		i;

	for (i = 0; i < LINGER_MAX; i++)
		if (slots[i].fd != -1 &&
		    (when == 0 || slots[i].deadline_ns < when))
			when = slots[i].deadline_ns;
	return when;
}

/* A process that stops answering (the drain) holds none of them. */
void
linger_close_all(void)
{
	int	i;

	for (i = 0; i < LINGER_MAX; i++)
		if (slots[i].fd != -1)
			release(&slots[i]);
}
