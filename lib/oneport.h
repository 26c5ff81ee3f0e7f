/* SPDX-License-Identifier: ISC */
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
 *
 * Client side (further down): oneport_connect() gives a socket connected
 * to a function by name, whatever the server did behind the port;
 * oneport_query() and oneport_help() ask where a function lives and
 * which are listed. Their failures are described in a struct
 * oneport_result instead of oneport_strerror().
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
	/* How the client chose the service: by a TCPMUX line ("+" has been
	 * sent), or by its first bytes, which are all still unread on fd
	 * (nothing was sent to it): a TLS ClientHello, an HTTP request, an
	 * SSH banner, or silence (it waits for the service to speak). */
	int			 by;		/* ONEPORT_BY_* */
	char			 match[254];	/* the SNI or Host, or "" */
	char			 alpn[256];	/* the ALPN protocol, or "" */
};

#define ONEPORT_BY_TCPMUX	0
#define ONEPORT_BY_TLS		1
#define ONEPORT_BY_HTTP		2
#define ONEPORT_BY_SSH		3
#define ONEPORT_BY_SILENCE	4

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
 * Wait for the next handed-over connection and take it: lock the client's
 * socket (fcntl F_SETLK, released when it is closed), tell oneportd
 * ACCEPT, send the client "+" (not to a client that chose by its first
 * bytes: c->by says which). On success c->fd is the service's alone; one oneportd answered already is closed without a
 * word. Channels from anything but oneportd's uid (or root) are refused
 * without a word. Needs an oneportd that knows ACCEPT.
 */
int	oneport_accept(struct oneport_server *, struct oneport_conn *c);

/*
 * A greeting: bytes every client that asked by a TCPMUX line gets right
 * after "+", in the same write (one segment, not two), for a service
 * that speaks first. A client that chose by its first bytes gets neither.
 * len 0 takes it away. At most ONEPORT_GREETING_MAX bytes.
 */
#define ONEPORT_GREETING_MAX	512
int	oneport_greeting(struct oneport_server *, const void *buf,
	    size_t len);

/* For poll(2)/epoll: readable when oneport_accept has work to do. */
int	oneport_server_fd(const struct oneport_server *);

void	oneport_conn_close(struct oneport_conn *);
void	oneport_close(struct oneport_server *);

/* Detail of the last liboneport failure in this thread, or strerror. */
const char	*oneport_strerror(void);

/*
 * Service side of a redirect: the program a client was sent to with
 * "@PORT token=TOKEN" reads the client's first line, exactly that line,
 * and checks it. token NULL: the tokens oneportd gave the program, each
 * accepted once (ONEPORT_TOKEN; lines on the pipe at ONEPORT_TOKEN_FD,
 * each forgotten when it expires, 30 s after oneportd gave it).
 * timeout_ms <= 0: 5 s. Returns 0 if accepted;
 * otherwise -1 and the caller closes the connection without a word.
 */
int	oneport_token_check(int fd, const char *token, int timeout_ms);

/*
 * Client side: connect to a function by name through a rendezvous server.
 *
 *	struct oneport_result r;
 *	int fd = oneport_connect("host.example", NULL, "echo", NULL, &r);
 *	if (fd == -1)
 *		fprintf(stderr, "%s\n", r.msg);	// r.error says which kind
 *
 * The fd is connected to the function: after "+" the same connection
 * (nothing after the reply line was read), after a redirect a new one to
 * the port (and host) given, the token already sent. It is blocking and
 * close-on-exec. Every call has one deadline for all it does.
 */
#define ONEPORT_PORT		"1"	/* TCPMUX: the rendezvous port */
#define ONEPORT_TIMEOUT_MS	10000
#define ONEPORT_ATTEMPT_MS	2000	/* one address, when others are left */
#define ONEPORT_REPLY_MAX	512	/* the longest reply line read */
#define ONEPORT_HOST_MAX	253

/* What went wrong: oneport_result.error. */
enum oneport_error {
	ONEPORT_E_OK = 0,
	ONEPORT_E_REFUSED,	/* the server said "-": reason holds why */
	ONEPORT_E_CONNECT,	/* no address could be connected to, or the
				 * connection failed (sys_errno says how) */
	ONEPORT_E_TIMEOUT,	/* the deadline passed */
	ONEPORT_E_PROTOCOL,	/* the server's answer broke the protocol */
	ONEPORT_E_RESOLVE,	/* the host name could not be resolved */
	ONEPORT_E_REDIRECT,	/* a redirect not followed: to another host
				 * without ONEPORT_ANYHOST, or NOREDIRECT */
	ONEPORT_E_SYSTEM,	/* a bad argument or a local failure */
};

/* oneport_opts.flags */
#define ONEPORT_ANYHOST		0x1	/* follow "host=" to any host */
#define ONEPORT_NOREDIRECT	0x2	/* do not follow a redirect at all */

/* NULL, or all zero, means the defaults. */
struct oneport_opts {
	int	timeout_ms;	/* the whole call; 0: ONEPORT_TIMEOUT_MS */
	int	attempt_ms;	/* one connect when other addresses are
				 * left; 0: ONEPORT_ATTEMPT_MS. The last
				 * address has what remains. */
	int	family;		/* AF_UNSPEC (0), AF_INET or AF_INET6 */
	int	flags;		/* ONEPORT_ANYHOST, ONEPORT_NOREDIRECT */
};

struct oneport_result {
	int			 error;		/* enum oneport_error */
	int			 sys_errno;	/* the system's, or 0 */
	/* ONEPORT_E_REFUSED: the server's reason, printable; may be "". */
	char			 reason[ONEPORT_REPLY_MAX];
	/* Any failure: one line for a person, naming what failed where. */
	char			 msg[ONEPORT_REPLY_MAX + 256];
	/* Where the function is: after a redirect (redirected is 1) and
	 * for a query, the host= given or else the numeric address that
	 * answered, and the port; on success the address connected to. */
	int			 redirected;
	char			 host[ONEPORT_HOST_MAX + 1];
	int			 port;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
};

/*
 * host: a name or a numeric address (IPv6 with or without brackets);
 * port: a number or a service name, NULL for ONEPORT_PORT. Every address
 * of host is tried in the resolver's order. Returns the fd, or -1 with
 * res filled and errno set (ECONNREFUSED for "-", ETIMEDOUT, EPROTO, ...).
 * res may be NULL.
 */
int	oneport_connect(const char *host, const char *port, const char *name,
	    const struct oneport_opts *, struct oneport_result *res);

/*
 * "?name": where the function lives, without starting or connecting to
 * it. Returns 0 with res->host and res->port set, or -1 as above; a
 * server that answers "-" (e.g. "not redirectable") is ONEPORT_E_REFUSED.
 */
int	oneport_query(const char *host, const char *port, const char *name,
	    const struct oneport_opts *, struct oneport_result *res);

/*
 * HELP: calls fn once per listed name, in the server's order, until fn
 * returns nonzero. Returns the number of names given to fn, or -1.
 */
int	oneport_help(const char *host, const char *port,
	    const struct oneport_opts *,
	    int (*fn)(const char *name, void *arg), void *arg,
	    struct oneport_result *res);

/* A word for an enum oneport_error: "refused", "timed out", ... */
const char	*oneport_errstr(int error);

#ifdef __cplusplus
}
#endif
#endif
