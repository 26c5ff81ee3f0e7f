/* SPDX-License-Identifier: ISC */
/*
 * The relay process (oneportd -R): it takes clients the parent hands it,
 * connects each to its service's backend and moves the bytes both ways
 * with splice(2), then tells the parent how it ended.
 */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RL_CHANNEL_FD	3	/* the parent's socket, at exec */
#define PIPE_WANT	(64 * 1024)	/* asked of each pipe; less is fine */
#define PIPE_BULK	(1024 * 1024)	/* grown to, a way that fills it */

/* What the loop's epoll events point at. */
enum { RW_PARENT, RW_CLIENT, RW_BACKEND, RW_LENT, RW_GONE };
struct conn;
struct rwatch {
	int		 kind;
	int		 fd;
	struct conn	*c;
	struct rwatch	*gnext;		/* RW_GONE: freed after the batch */
};

/* relay.c: the connections and the parent's channel. */
struct ipc_forward;
struct ipc_started;
void	relay_run(int argc, char *argv[]) __attribute__((noreturn));
void	relay_forward(const struct ipc_forward *, int fd);
int	relay_started(const struct ipc_started *, int fd);
int	relay_blocked(void);
void	relay_drained(void);

/* lent.c: the frontend's clients sent straight here. */
void	 lent_init(int epfd);
void	 lent_add(const uint8_t *, size_t, int fd);
void	 lent_read(struct rwatch *);
void	 lent_interest(int on);
void	 lent_reap(void);
uint32_t lent_generation(void);

/* pipes.c: one direction of a connection, from one socket through a
 * pipe into the other; its pipe comes from a pool of empty ones. */
struct way {
	int		 pipe[2];
	size_t		 queued;	/* bytes in the pipe */
	size_t		 cap;		/* the pipe's size */
	int		 full;		/* reading waits for the pipe to drain */
	int		 drained;	/* its source said EAGAIN: wait for an edge */
	int		 grown;		/* its pipe was asked for PIPE_BULK */
	int		 blocked;	/* writing waits for room in the socket */
	int		 eof;		/* its source has ended */
	int		 shut;		/* its sink was shut for writing */
	uint64_t	 bytes;
};
int	 way_open(struct way *);
void	 way_grow(struct way *);
void	 way_close(struct way *);

/* table.c: the forward services the frontend may send straight here,
 * their caps, and the ids of the clients it did send. */
struct ipc_fwdtab;
int	 table_set(const struct ipc_fwdtab *, const uint8_t *entries);
int	 table_find(const char *name);
const struct ipc_forward *table_forward(int ix);
const char *table_full(int ix, int nconns);
void	 table_count(int ix, int delta);
uint32_t id_get(void);
void	 id_put(uint32_t id);

/* sandbox.c: ports the backends listen on and their socket paths;
 * connect to nothing else. */
void	relay_sandbox(const char *user, const char *root, pid_t parent,
	    const uint16_t *ports, int nports, const char **paths,
	    int npaths);
void	relay_seccomp(int unix_sockets);

#endif
