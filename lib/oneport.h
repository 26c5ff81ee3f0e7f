/*
 * oneport.h: liboneport, the public C API of oneport.
 *
 * Service side: accept connections handed over by oneportd as easily as
 * from accept(2). oneportd connects to the service's hand-off socket (or
 * the service registers a name over oneportd's control socket) and passes
 * each client's live TCP socket with SCM_RIGHTS; no byte is proxied.
 *
 *	struct oneport_server *srv = oneport_listen(NULL);  // LISTEN_FDS
 *	struct oneport_conn c;
 *	while (oneport_accept(srv, &c) == 0) {
 *		// c.fd is the client, c.preread its first bytes
 *		...
 *		oneport_conn_close(&c);
 *	}
 *
 * All functions return 0 (or a valid pointer/fd) on success and -1 (or
 * NULL) with errno set on failure; oneport_strerror() adds detail for
 * protocol errors. Nothing here installs signal handlers or threads.
 */
#ifndef ONEPORT_H
#define ONEPORT_H

#include <sys/socket.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONEPORT_NAME_MAX	15
#define ONEPORT_PREREAD_MAX	1024

/* One handed-over client connection. */
struct oneport_conn {
	int			 fd;	/* connected TCP socket, blocking */
	char			 service[ONEPORT_NAME_MAX + 1];
	struct sockaddr_storage	 peer;	/* the client */
	socklen_t		 peerlen;
	struct sockaddr_storage	 local;	/* the rendezvous address it called */
	socklen_t		 locallen;
	/* Bytes of the client's stream oneportd read after the request
	 * line: the application must treat them as read from fd first. */
	unsigned char		 preread[ONEPORT_PREREAD_MAX];
	size_t			 preread_len;
};

struct oneport_server;

/*
 * A hand-off socket oneportd will connect to. path NULL: take the socket
 * oneportd (or systemd) passed in the environment (LISTEN_FDS,
 * LISTEN_PID, LISTEN_FDNAMES "oneport" or the first one). Otherwise bind
 * a new SOCK_SEQPACKET socket at path (a stale socket file is replaced).
 */
struct oneport_server	*oneport_listen(const char *path);

/*
 * Register name with the oneportd whose control socket is at ctlpath
 * (NULL: ONEPORT_CONTROL from the environment, else /run/oneportd.sock).
 * The name is reachable exactly as long as the returned server lives.
 */
struct oneport_server	*oneport_register(const char *ctlpath,
			    const char *name);

/*
 * Register name as living at port on this host: oneportd answers it with
 * a redirect ("@port") instead of a hand-off. The name lasts as long as
 * the returned descriptor stays open; close it to unregister.
 */
int	oneport_register_port(const char *ctlpath, const char *name,
	    int port);

/*
 * Wait for the next handed-over connection. On success the client has
 * been told "+" and c->fd is the service's alone. Connections from
 * anything but oneportd's uid (or root) are refused without a word.
 */
int	oneport_accept(struct oneport_server *, struct oneport_conn *c);

/* For poll(2)/epoll: readable when oneport_accept has work to do. */
int	oneport_server_fd(const struct oneport_server *);

void	oneport_conn_close(struct oneport_conn *);
void	oneport_close(struct oneport_server *);

/* Detail of the last liboneport failure in this thread, or strerror. */
const char	*oneport_strerror(void);

#ifdef __cplusplus
}
#endif
#endif
