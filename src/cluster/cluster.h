/* SPDX-License-Identifier: ISC */
/*
 * The cluster process (oneportd -C): it speaks etcd's v3 JSON gateway for
 * the parent, keeps this host's lease and names in etcd and tells the
 * parent what the other hosts export.
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CL_CHANNEL_FD	3	/* the parent's socket, at exec */

/* cluster.c */
void	cluster_run(int argc, char *argv[]) __attribute__((noreturn));

/* sandbox.c: connect only to the etcd ports. */
void	cluster_sandbox(const char *user, const char *root, pid_t parent,
	    const uint16_t *ports, int nports);

/* ---- etcd.c: etcd's bytes, pure functions over (buf, len) ---- */

enum resp_result { RESP_NEED_MORE, RESP_OK, RESP_BAD };

/* A response's status line and headers, through the blank line. */
struct resp_head {
	int		 status;	/* 100..599 */
	int		 chunked;	/* Transfer-Encoding: chunked */
	long long	 length;	/* Content-Length; -1: none */
	size_t		 consumed;	/* bytes of the head */
};
#define RESP_HEAD_MAX	8192

enum resp_result resp_head_parse(const char *buf, size_t len,
		    struct resp_head *);

/*
 * A chunk's size line ("HEX[;ext]" CRLF) at buf, or the CRLF after a
 * chunk's data (want_crlf). *size the chunk's, *consumed the line's.
 */
enum resp_result resp_chunk_line(const char *buf, size_t len,
		    size_t *size, size_t *consumed);
enum resp_result resp_chunk_end(const char *buf, size_t len);

/* base64 (RFC 4648, padded), as etcd's JSON carries keys and values. */
size_t	 b64_encode(const void *, size_t, char *, size_t cap);
ssize_t	 b64_decode(const char *, size_t, void *, size_t cap);

/* One JSON message of etcd's, as far as we use it. */
#define ETCD_EVENTS_MAX	1024	/* per message; more is refused */
#define ETCD_KEY_MAX	256
#define ETCD_VAL_MAX	600
struct etcd_kv {
	int		 deleted;	/* a DELETE event */
	char		 key[ETCD_KEY_MAX + 1];	/* decoded, NUL-terminated */
	char		 val[ETCD_VAL_MAX + 1];
	int64_t		 mod_revision;
};
struct etcd_msg {
	int		 error;		/* an "error" member or a bad shape */
	char		 why[96];	/* error's text, printable */
	int64_t		 revision;	/* header.revision; 0 if none */
	int64_t		 id;		/* a lease's ID */
	int64_t		 ttl;		/* a lease's TTL; -1 if none */
	int64_t		 compact_revision;
	int		 created, canceled;	/* a watch's */
	int		 nkv;		/* kvs, or events */
	int		 truncated;	/* more than ETCD_EVENTS_MAX */
	struct etcd_kv	*kv;		/* the caller's, ETCD_EVENTS_MAX */
};
int	 etcd_msg_parse(const char *buf, size_t len, struct etcd_msg *);

/* "ADDR PORT[ RULES]": a member's value; 0 and the parts, or -1. */
struct sockaddr_storage;
int	 etcd_value_parse(const char *, struct sockaddr_storage *, int *port,
	    const char **rules);

#endif
