/*
 * What the parent writes to a client itself, and the one log line per
 * connection it passed on: one place for both, so that every module
 * refuses and logs alike.
 */
#include <stdio.h>
#include <string.h>

#include "parent.h"

void
parent_reply(int fd, const char *reason)
{
	char	line[128];
	int	n;

	n = snprintf(line, sizeof(line), "-%s\r\n", reason);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* A program's own long reason, cut, still ends its line. */
		n = sizeof(line) - 1;
		memcpy(line + n - 2, "\r\n", 2);
	}
	linger_reply(fd, line, n);
}

void
parent_log_conn(const char *peer, const char *name, const char *result,
    pid_t pid, uint64_t accepted_ns)
{
	char	p[16] = "-";

	if (pid > 0)
		snprintf(p, sizeof(p), "%d", (int)pid);
	log_info("conn peer=%s service=%s result=%s pid=%s dispatch=%.3fms",
	    peer, name, result, p, (now_ns() - accepted_ns) / 1e6);
}
