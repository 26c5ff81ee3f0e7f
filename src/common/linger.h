/* SPDX-License-Identifier: ISC */
/* linger.c: a last reply to a client, for the parent and the frontend. */
#ifndef LINGER_H
#define LINGER_H

#include <stddef.h>
#include <stdint.h>

/* linger.c: reply, half-close, discard unread until the client's FIN */
int	 linger_init(void);
int	 linger_reply(int fd, const void *, size_t);
void	 linger_event(void);
void	 linger_expire(uint64_t now);
uint64_t linger_next_deadline(void);
void	 linger_close_all(void);

#endif
