/* SPDX-License-Identifier: ISC */
/*
 * token_service: a redirect target for the client tests. oneportd starts
 * it with its listening socket on fd 3 (LISTEN_FDS=1) and, with "token
 * yes", the token in ONEPORT_TOKEN or on the pipe at ONEPORT_TOKEN_FD.
 * Each client must send a token first (oneport_token_check); then it is
 * echoed until it shuts down. A refused client is closed without a word,
 * and the refusal logged on stderr, which oneportd keeps. With the
 * argument "notoken", no token is asked for.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneport.h"

int
main(int argc, char *argv[])
{
	char		 buf[65536];
	ssize_t		 n;
	int		 c, check;
	const char	*fds = getenv("LISTEN_FDS");

	check = !(argc > 1 && strcmp(argv[1], "notoken") == 0);
	if (fds == NULL || strcmp(fds, "1") != 0) {
		fprintf(stderr, "token_service: LISTEN_FDS is not 1\n");
		return 3;
	}
	fprintf(stderr, "token_service: ready\n");
	for (;;) {
		if ((c = accept4(3, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "token_service: accept: %s\n",
			    strerror(errno));
			return 1;
		}
		if (check && oneport_token_check(c, NULL, 5000) == -1) {
			fprintf(stderr, "token_service: refused: %s\n",
			    strerror(errno));
			close(c);
			continue;
		}
		fprintf(stderr, "token_service: accepted\n");
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, (size_t)n) != n)
				break;
		close(c);
	}
}
