/* SPDX-License-Identifier: ISC */
/*
 * ancil.c: one strict receive of a message and at most one descriptor
 * (ancil.h). The control buffer is walked by hand with every length checked
 * against what is left, so the same code judges the kernel's buffer and
 * the fuzzer's bytes.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ancil.h"

#define FDS_CAP		(ANCIL_FDS_MAX + 1)

enum ancil
ancil_parse(const void *control, size_t len, int flags, int *fds, int cap,
    int *nfds)
{
	const unsigned char	*p = control;
	struct cmsghdr		 h;
	size_t			 off = 0, data, i, step;
	int			 fd, rights = 0, bad = 0;

	*nfds = 0;
	while (len - off >= sizeof(h)) {
		memcpy(&h, p + off, sizeof(h));
		if (h.cmsg_len < CMSG_LEN(0) || h.cmsg_len > len - off)
			return ANCIL_BAD;	/* the rest cannot be read */
		data = h.cmsg_len - CMSG_LEN(0);
		if (h.cmsg_level != SOL_SOCKET || h.cmsg_type != SCM_RIGHTS)
			bad = 1;
		else {
			rights++;
			if (data % sizeof(int) != 0)
				bad = 1;
			for (i = 0; i + sizeof(int) <= data; i += sizeof(int)) {
				memcpy(&fd, p + off + CMSG_LEN(0) + i,
				    sizeof(int));
				if (*nfds < cap)
					fds[*nfds] = fd;
				(*nfds)++;
			}
		}
		step = CMSG_ALIGN(h.cmsg_len);
		if (step > len - off)
			break;
		off += step;
	}
	if (bad || rights > 1 || *nfds > 1 || (flags & MSG_TRUNC) ||
	    ((flags & MSG_CTRUNC) && *nfds > 0))
		return ANCIL_BAD;
	if (flags & MSG_CTRUNC)
		return ANCIL_LOST;
	return ANCIL_OK;
}

/* ancil_recv's verdict on one received message: its length or -1. */
static ssize_t
judge(ssize_t n, const void *control, size_t clen, int flags, int *fd,
    int *lost)
{
	int		fds[FDS_CAP], nfds, i;
	enum ancil	v;

	*fd = -1;
	*lost = 0;
	v = ancil_parse(control, clen, flags, fds, FDS_CAP, &nfds);
	/* An empty message looks like the end of the stream: none of ours
	 * is empty, so one that carries a descriptor is malformed. */
	if (v == ANCIL_BAD || (n == 0 && (nfds > 0 || v == ANCIL_LOST))) {
		for (i = 0; i < nfds && i < FDS_CAP; i++)
			close(fds[i]);
		errno = EBADMSG;
		return -1;
	}
	if (nfds == 1)
		*fd = fds[0];
	*lost = v == ANCIL_LOST;
	return n;
}

ssize_t
ancil_recv(int sock, void *buf, size_t len, int *fd, int *lost)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(ANCIL_FDS_MAX * sizeof(int))];
	} cbuf;
	ssize_t		 n;

	*fd = -1;
	*lost = 0;
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	do {
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	/* After a failed read the control buffer is stale: an fd number
	 * in it may belong to someone else by now. */
	if (n == -1)
		return -1;
	return judge(n, cbuf.buf, mh.msg_controllen, mh.msg_flags, fd, lost);
}

int
ancil_recvm(int sock, struct ancil_msg *m, int n)
{
	struct mmsghdr	 mh[ANCIL_BATCH_MAX];
	struct iovec	 iov[ANCIL_BATCH_MAX];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(ANCIL_FDS_MAX * sizeof(int))];
	} cbuf[ANCIL_BATCH_MAX];
	int		 got, i;

	if (n > ANCIL_BATCH_MAX)
		n = ANCIL_BATCH_MAX;
	memset(mh, 0, sizeof(mh[0]) * (size_t)n);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = m[i].buf;
		iov[i].iov_len = m[i].cap;
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
		mh[i].msg_hdr.msg_control = cbuf[i].buf;
		mh[i].msg_hdr.msg_controllen = sizeof(cbuf[i].buf);
	}
	do {
		got = recvmmsg(sock, mh, (unsigned int)n,
		    MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
	} while (got == -1 && errno == EINTR);
	if (got <= 0)
		return got == 0 ? (errno = EAGAIN, -1) : -1;
	for (i = 0; i < got; i++) {
		m[i].len = judge((ssize_t)mh[i].msg_len,
		    mh[i].msg_hdr.msg_control, mh[i].msg_hdr.msg_controllen,
		    mh[i].msg_hdr.msg_flags, &m[i].fd, &m[i].lost);
		/* At the end of the stream the kernel fills every entry
		 * left with another end: one is enough. */
		if (mh[i].msg_len == 0 && m[i].len == 0)
			return i + 1;
	}
	return got;
}

int
ancil_lock(int fd)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_SETLK, &fl);
}
