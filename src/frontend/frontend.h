/*
 * The sandboxed frontend: what its files share. The parent includes it
 * only for frontend_run; nothing here may include the parent's header.
 */
#ifndef FRONTEND_H
#define FRONTEND_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "config.h"
#include "ipc.h"
#include "linger.h"
#include "log.h"

/* ---- the first line (request.c): a pure parser of client bytes ---- */

enum request_result {
	REQ_NEED_MORE,		/* no verdict yet; read more */
	REQ_OK,			/* a complete, valid request line */
	REQ_REJECT		/* answer "-" reason and close */
};

struct request {
	char		 name[SERVICE_NAME_MAX + 1];	/* lower case */
	size_t		 consumed;	/* bytes through the LF */
	int		 help;		/* the line was HELP */
	int		 query;		/* "?name": where it lives */
	const char	*reason;	/* on REQ_REJECT, static string */
};

#define REASON_BAD_NAME		"bad name"
#define REASON_TOO_LONG		"line too long"

enum request_result	request_parse(const uint8_t *buf, size_t len,
			    size_t max_line, struct request *);

/* frontend.c: never returns. */
void	frontend_run(int argc, char *argv[]);

/* source.c: the frontend's scores of client addresses */
uint64_t source_mix(uint64_t);
void	 source_init(uint64_t seed);
uint32_t source_score(uint64_t key, uint64_t now, uint32_t leak);
void	 source_charge(uint64_t key, uint64_t now, uint32_t leak,
	    uint32_t cap);

/* sandbox.c */
void	sandbox_frontend(const char *user, const char *root, pid_t parent);
void	sandbox_seccomp(void);

#endif
