/* SPDX-License-Identifier: ISC */
/*
 * ancil.h: receiving one message and at most one descriptor over a unix
 * socket, strictly, for every channel of oneport: the daemon's channels
 * to services, the frontend's to the parent, liboneport's to the daemon
 * (after skalibs' ancil_recv_fd); and the lock that says which end of a
 * channel answers a client passed over it. The control data is judged by
 * a pure function (ancil_parse), which has a libFuzzer target
 * (fuzz/ancil_fuzz.c).
 */
#ifndef ONEPORT_ANCIL_H
#define ONEPORT_ANCIL_H

#include <sys/types.h>
#include <stddef.h>

/* Descriptors the receive buffer has room for: more than the one due, so
 * that extras arrive (and are closed) rather than being cut silently. */
#define ANCIL_FDS_MAX	4

enum ancil {
	ANCIL_OK,	/* no descriptor, or exactly one */
	ANCIL_LOST,	/* one was sent and the kernel dropped it: out of
			 * descriptors here (MSG_CTRUNC, none received) */
	ANCIL_BAD,	/* anything else: another level or type, a length
			 * that is not a whole number of descriptors, more
			 * than one, a cut message or control buffer */
};

/*
 * Pure: reads the control buffer [control, control + len) as recvmsg(2)
 * left it with msg_flags flags. Every descriptor number found is stored in
 * fds (room for cap; those past cap are counted in *nfds but not stored,
 * which only a buffer larger than recvmsg can fill gives), whatever the
 * verdict, so that the caller can close them all. Never reads past len;
 * any alignment.
 */
enum ancil	ancil_parse(const void *control, size_t len, int flags,
		    int *fds, int cap, int *nfds);

/*
 * Receive one message into buf without waiting, descriptors close-on-exec.
 * Returns its length (0 at end of stream: no descriptor then), with *fd
 * the descriptor that came with it or -1, and *lost set if one was sent
 * but dropped here (the message is still returned). Returns -1 with errno EAGAIN, or the
 * system's, or EBADMSG when ancil_parse says ANCIL_BAD (a message longer
 * than len included) or an empty message came with a descriptor: then
 * every descriptor that came is closed.
 */
ssize_t		ancil_recv(int sock, void *buf, size_t len, int *fd,
		    int *lost);

/* One message of a batch (ancil_recvm): buf and cap in, the rest out. */
struct ancil_msg {
	void	*buf;
	size_t	 cap;
	ssize_t	 len;	/* as ancil_recv returns: 0 end, -1 EBADMSG */
	int	 fd;	/* the descriptor that came with it, or -1 */
	int	 lost;	/* one was sent but dropped here */
};

#define ANCIL_BATCH_MAX	16

/*
 * Up to n (at most ANCIL_BATCH_MAX) messages in one recvmmsg(2), without
 * waiting: when one is queued, as cheap as ancil_recv, and no second call
 * to learn that nothing follows. Each is judged as ancil_recv judges one
 * (len -1 for what it calls EBADMSG, with every descriptor of it closed).
 * Returns how many entries are filled, the last one the end of the stream
 * if its len is 0; or -1 with errno (EAGAIN: none waiting).
 */
int		ancil_recvm(int sock, struct ancil_msg *m, int n);

/*
 * The hand-off's arbiter (lib/wire.h, ACCEPT): a POSIX write lock on the
 * whole of a client socket that both ends of a channel hold a copy of.
 * It belongs to the calling process and goes when that process closes
 * any copy. Returns 0 when this process holds it now, -1 with errno
 * EAGAIN or EACCES when the other does, or another errno.
 */
int		ancil_lock(int fd);

#endif
