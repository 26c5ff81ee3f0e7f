/* SPDX-License-Identifier: ISC */
/*
 * handoff-svc: the running service of the hand-off bench, on liboneport.
 * For each connection oneportd passes it writes a greeting and closes,
 * in one process: oneport_accept already takes each HANDOFF (lock, ACCEPT,
 * "+" and the greeting in one write: oneport_greeting) on its own loop.
 * With -s it writes the greeting itself after oneport_accept, a second
 * segment; with -b that many bytes instead (bulk runs).
 *
 *	handoff-svc [-s] [-b bytes] [-g greeting] [path]  (no path: LISTEN_FDS)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneport.h"
#include "bench-util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: handoff-svc [-s] [-b bytes] [-g greeting] "
	    "[path]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct oneport_server	*srv;
	struct oneport_conn	 c;
	const char		*greeting = "hello\r\n";
	unsigned long long	 bulk = 0;
	size_t			 greetlen = 0;
	int			 ch, separate = 0;

	while ((ch = getopt(argc, argv, "b:g:s")) != -1) {
		switch (ch) {
		case 'b':
			bulk = bench_parse_bytes(optarg);
			break;
		case 'g':
			greeting = bench_unescape(optarg, &greetlen);
			break;
		case 's':
			separate = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	if (greetlen == 0)
		greetlen = strlen(greeting);
	signal(SIGPIPE, SIG_IGN);

	if ((srv = oneport_listen(argc == 1 ? argv[0] : NULL)) == NULL)
		bench_fatalx("handoff-svc", "%s", oneport_strerror());
	if (bulk == 0 && !separate &&
	    oneport_greeting(srv, greeting, greetlen) == -1)
		bench_fatalx("handoff-svc", "%s", oneport_strerror());
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (oneport_accept(srv, &c) == -1) {
			if (errno == EINTR)
				continue;
			bench_fatalx("handoff-svc", "%s", oneport_strerror());
		}
		/* c.fd is blocking; the client has had "+" already, and
		 * unless -s or -b the greeting with it. */
		if (bulk > 0)
			(void)bench_source(c.fd, bulk);
		else if (separate)
			(void)bench_write_all(c.fd, greeting, greetlen);
		oneport_conn_close(&c);
	}
}
