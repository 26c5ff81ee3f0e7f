/* SPDX-License-Identifier: ISC */
/*
 * The relay process (oneportd -R): it takes clients the parent hands it,
 * connects each to its service's backend and moves the bytes both ways
 * with splice(2), then tells the parent how it ended.
 */
#ifndef RELAY_H
#define RELAY_H

#include <stdint.h>
#include <sys/types.h>

#define RL_CHANNEL_FD	3	/* the parent's socket, at exec */

/* relay.c */
void	relay_run(int argc, char *argv[]) __attribute__((noreturn));

/* table.c: the forward services the frontend may send straight here,
 * their caps, and the ids of the clients it did send. */
struct ipc_fwdtab;
struct ipc_forward;
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
