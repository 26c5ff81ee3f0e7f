/* SPDX-License-Identifier: ISC */
/* takeback.c: see takeback.h. */
#include <sys/socket.h>

#include <unistd.h>

#include "ancil.h"
#include "takeback.h"

int64_t
takeback_head(int back)
{
	uint8_t	hdr[WIRE_HDR_LEN];

	if (recv(back, hdr, sizeof(hdr), MSG_PEEK | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(hdr))
		return -1;
	return (int64_t)((uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 |
	    (uint32_t)hdr[6] << 8 | hdr[7]);
}

int
takeback_recv(int back, uint8_t *buf, size_t cap, struct wire_msg *m,
    int *fd, size_t *len)
{
	ssize_t	n;
	int	lost;

	for (;;) {
		n = ancil_recv(back, buf, cap, fd, &lost);
		if (n <= 0)
			return 0;
		if (wire_decode(buf, (size_t)n, m) == 0 &&
		    (m->type == WIRE_HANDOFF || m->type == WIRE_HANDOFF_RAW)) {
			*len = (size_t)n;
			return 1;
		}
		if (*fd != -1)
			close(*fd);
	}
}
