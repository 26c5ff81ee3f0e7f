/*
 * ipc.c: typed, versioned messages between oneportd's processes over a
 * SOCK_SEQPACKET socketpair, so one send is one message. The receiver checks
 * the version, the type, the exact length and whether an fd came with it;
 * anything else is a broken peer and the caller treats it as fatal.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "oneportd.h"

/*
 * Send iov as one message, with fd attached when fd >= 0. Never blocks;
 * returns the bytes sent or -1. Shared with handoff.c, whose messages to
 * services carry client fds the same way.
 */
ssize_t
fd_sendmsg(int sock, struct iovec *iov, int iovcnt, int fd)
{
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;
	if (fd >= 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n;
}

/* Send one typed message, with fd attached when fd >= 0. */
int
ipc_send(int sock, enum ipc_type type, const void *data, size_t len, int fd)
{
	struct ipc_hdr	 hdr;
	struct iovec	 iov[2];
	ssize_t		 n;

	if (len > IPC_MAX - sizeof(hdr)) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = IPC_VERSION;
	hdr.type = type;
	hdr.len = len;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	if ((n = fd_sendmsg(sock, iov, len > 0 ? 2 : 1, fd)) == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * Receive one message into hdr and buf. Returns the payload length, 0 with
 * hdr->type == 0 on EOF, -1 with errno EAGAIN when nothing is waiting, and
 * -1 with errno EBADMSG for a malformed message (wrong version, truncated,
 * length mismatch, more than one fd), and -1 with errno EMFILE when an fd
 * was sent but could not be received here (it is lost). *fd receives
 * the attached descriptor or -1; the caller decides whether one was due.
 */
ssize_t
ipc_recv(int sock, struct ipc_hdr *hdr, void *buf, size_t bufsz, int *fd)
{
	struct iovec	 iov[2];
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	ssize_t		 n;
	int		 nfds = 0, i, fds[2];

	*fd = -1;
	memset(hdr, 0, sizeof(*hdr));
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(*hdr);
	iov[1].iov_base = buf;
	iov[1].iov_len = bufsz;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t	k;

		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < (int)k && nfds < 2; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
	}
	if (nfds == 1)
		*fd = fds[0];
	/* At our descriptor limit the kernel drops the fd and says so. */
	if ((msg.msg_flags & MSG_CTRUNC) && nfds == 0 &&
	    !(msg.msg_flags & MSG_TRUNC)) {
		errno = EMFILE;
		return -1;
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds > 1 ||
	    (size_t)n < sizeof(*hdr) || hdr->version != IPC_VERSION ||
	    hdr->type == 0 || hdr->type >= IPC_TYPE_MAX || hdr->flags != 0 ||
	    hdr->len != (size_t)n - sizeof(*hdr)) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		*fd = -1;
		errno = EBADMSG;
		return -1;
	}
	return hdr->len;
}
