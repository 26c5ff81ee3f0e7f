/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for ancil_parse (lib/ancil.h), the judge of the control
 * data that comes with every message on a channel. The first byte picks
 * the msg_flags (MSG_TRUNC, MSG_CTRUNC) and whether the rest is a control
 * buffer as it is, or descriptor numbers to be framed the way the kernel
 * frames them (then bit 3 adds a second, foreign, control message). The
 * buffer is an exact-size heap copy: ASan catches a read past it.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/ancil.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What any verdict must satisfy, whatever the bytes were. */
static void
check(const uint8_t *buf, size_t len, int flags, enum ancil v,
    const int *fds, int nfds)
{
	size_t	i;
	int	found = 0;

	if (nfds < 0 || (size_t)nfds > len / sizeof(int))
		abort();
	switch (v) {
	case ANCIL_OK:
		if (nfds > 1 || (flags & (MSG_TRUNC | MSG_CTRUNC)))
			abort();
		break;
	case ANCIL_LOST:
		if (nfds != 0 || !(flags & MSG_CTRUNC) || (flags & MSG_TRUNC))
			abort();
		break;
	case ANCIL_BAD:
		break;
	default:
		abort();
	}
	/* A descriptor given back is one the buffer holds. */
	if (v == ANCIL_OK && nfds == 1) {
		for (i = 0; i + sizeof(int) <= len && !found; i++)
			found = memcmp(buf + i, &fds[0], sizeof(int)) == 0;
		if (!found)
			abort();
	}
}

static void
judge(const uint8_t *data, size_t len, int flags)
{
	uint8_t		*buf = NULL;
	int		*fds, one, nfds, n1;
	size_t		 cap = len / sizeof(int) + 1;
	enum ancil	 v;

	if (len > 0 && (buf = malloc(len)) == NULL)
		return;
	if (len > 0)
		memcpy(buf, data, len);
	if ((fds = calloc(cap, sizeof(int))) == NULL) {
		free(buf);
		return;
	}
	v = ancil_parse(buf, len, flags, fds, (int)cap, &nfds);
	check(buf, len, flags, v, fds, nfds);
	/* Room for one only: the same verdict and count, nothing written
	 * past it (ASan would say). */
	if (ancil_parse(buf, len, flags, &one, 1, &n1) != v || n1 != nfds)
		abort();
	free(fds);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(64 * sizeof(int)) +
				    CMSG_SPACE(sizeof(int))];
	} u;
	struct cmsghdr	*cm;
	size_t		 n, len;
	int		 flags = 0;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		flags |= MSG_TRUNC;
	if (data[0] & 2)
		flags |= MSG_CTRUNC;
	if (!(data[0] & 4)) {
		judge(data + 1, size - 1, flags);
		return 0;
	}

	/* Kernel-shaped: one SCM_RIGHTS with the numbers given. */
	n = (size - 1) / sizeof(int);
	if (n > 64)
		n = 64;
	memset(&u, 0, sizeof(u));
	cm = &u.hdr;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), data + 1, n * sizeof(int));
	len = CMSG_SPACE(n * sizeof(int));
	if (data[0] & 8) {
		cm = (struct cmsghdr *)(u.buf + len);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_CREDENTIALS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		len += CMSG_SPACE(sizeof(int));
	}
	judge(u.buf, len, flags);
	/* Exactly one descriptor, nothing else, nothing cut: the one good
	 * shape, which must be taken. */
	if (n == 1 && !(data[0] & 8) && flags == 0) {
		int	fd, nfds;

		if (ancil_parse(u.buf, len, 0, &fd, 1, &nfds) != ANCIL_OK ||
		    nfds != 1 || memcmp(&fd, data + 1, sizeof(int)) != 0)
			abort();
	}
	return 0;
}
