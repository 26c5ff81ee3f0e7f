/* SPDX-License-Identifier: ISC */
/*
 * What the parent writes to a client itself, and the one log line per
 * connection it passed on: one place for both, so that every module
 * refuses and logs alike.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parent.h"
#include "refusal.h"

/* A TCPMUX client's "-reason"; a program's own long reason, cut, still
 * ends its line. */
void
parent_reply(int fd, const char *reason)
{
	parent_refuse(fd, PROTO_TCPMUX, reason);
}

/* A refusal in the client's protocol (refusal.c); SSH and silent
 * clients hear a close. */
void
parent_refuse(int fd, enum proto proto, const char *reason)
{
	char	out[REFUSAL_MAX];
	size_t	n;

	n = refusal_format(proto, refusal_class_of(reason), reason, out,
	    proto == PROTO_TCPMUX ? 128 : sizeof(out));
	if (n > 0)
		linger_reply(fd, out, n);
}

void
parent_log_conn(const char *peer, const char *name, const char *result,
    pid_t pid, uint64_t accepted_ns)
{
	char	p[16] = "-";

	stats_conn(name, result, accepted_ns);
	if (pid > 0)
		snprintf(p, sizeof(p), "%d", (int)pid);
	log_info("conn peer=%s service=%s result=%s pid=%s dispatch=%.3fms",
	    peer, name, log_quote(result), p, (now_ns() - accepted_ns) / 1e6);
	/* "self": a reply self program was started and answers itself. */
	notify_changed(result[0] == '+' || strcmp(result, "self") == 0);
}

/* Why a program could not be started, for its client: our own shortage
 * (load, said as such) or the program's failure. */
const char *
parent_spawn_reason(int err)
{
	if (err == EMFILE || err == ENFILE)
		return "out of descriptors";
	if (err == ENOMEM)
		return "out of memory";
	return "cannot start service";
}
