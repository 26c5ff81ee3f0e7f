/* SPDX-License-Identifier: ISC */
/*
 * clusteripc.c: the parent's and the cluster process's reading of each
 * other's messages (clusteripc.h). Each side checks sizes, NULs, names
 * and addresses; what is accepted is what clink.c and cluster.c rely on
 * (fuzz/ipc_cluster_fuzz.c).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "clusteripc.h"
#include "name.h"

/*
 * The next rule of a rules string at *p into proto, host (HOST_NAME_LEN
 * + 1) and alpn (ALPN_NAME_LEN + 1), "" for any: 1, 0 at the end, -1 if
 * it is not a rule as clusteripc.h has them.
 */
int
clusteripc_rule_next(const char **p, enum proto *proto, char *host,
    char *alpn)
{
	const char	*s = *p, *c1, *c2, *end;
	size_t		 n, i;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	end = s + strcspn(s, " ");
	if ((c1 = memchr(s, ',', end - s)) == NULL ||
	    (c2 = memchr(c1 + 1, ',', end - c1 - 1)) == NULL)
		return -1;
	if (c1 - s == 3 && memcmp(s, "tls", 3) == 0)
		*proto = PROTO_TLS;
	else if (c1 - s == 4 && memcmp(s, "http", 4) == 0)
		*proto = PROTO_HTTP;
	else if (c1 - s == 3 && memcmp(s, "ssh", 3) == 0)
		*proto = PROTO_SSH;
	else
		return -1;
	if ((n = c2 - c1 - 1) > HOST_NAME_LEN)
		return -1;
	memcpy(host, c1 + 1, n);
	host[n] = '\0';
	for (i = 0; i < n; i++)
		if (host[i] >= 'A' && host[i] <= 'Z')
			return -1;
	if ((n > 0 && (*proto == PROTO_SSH ||
	    !config_pattern_valid(host, *proto == PROTO_HTTP))))
		return -1;
	if ((n = end - c2 - 1) > ALPN_NAME_LEN ||
	    (n > 0 && *proto != PROTO_TLS))
		return -1;
	memcpy(alpn, c2 + 1, n);
	alpn[n] = '\0';
	for (i = 0; i < n; i++)
		if (alpn[i] <= ' ' || alpn[i] > '~')
			return -1;
	*p = end;
	return 1;
}

int
clusteripc_rules_valid(const char *s)
{
	char		host[HOST_NAME_LEN + 1], alpn[ALPN_NAME_LEN + 1];
	enum proto	proto;
	int		r;

	if (strnlen(s, CL_RULES_MAX + 1) > CL_RULES_MAX)
		return 0;
	while ((r = clusteripc_rule_next(&s, &proto, host, alpn)) == 1)
		;
	return r == 0;
}

/*
 * The cluster process's reading of the parent: IPC_CL_NAMES, valid and
 * lower case (0), or the watchdog's IPC_PING, empty (1).
 */
int
clusteripc_names_parse(enum ipc_type type, const uint8_t *p, size_t len,
    int hasfd, uint32_t *n, const uint8_t **names, const char **why)
{
	struct ipc_cl_names	h;
	struct ipc_cl_name	e;
	uint32_t		 i;

	*why = "unexpected message";
	if (hasfd)
		return -1;
	if (type == IPC_PING)
		return ipc_ping_parse(len, hasfd, why) == 0 ? 1 : -1;
	if (type != IPC_CL_NAMES)
		return -1;
	*why = "malformed names";
	if (len < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	if (h.n > CLUSTER_LOCAL_MAX ||
	    len != sizeof(h) + (size_t)h.n * sizeof(e))
		return -1;
	for (i = 0; i < h.n; i++) {
		memcpy(&e, p + sizeof(h) + i * sizeof(e), sizeof(e));
		if (e.name[SERVICE_NAME_MAX] != '\0' ||
		    !name_valid(e.name, strlen(e.name), NAME_LOWER) ||
		    e.rules[CL_RULES_MAX] != '\0' ||
		    !clusteripc_rules_valid(e.rules))
			return -1;
	}
	*n = h.n;
	*names = p + sizeof(h);
	*why = NULL;
	return 0;
}

static int
host_ok(const char *s)
{
	return memchr(s, '\0', CLUSTER_NAME_MAX + 1) != NULL &&
	    cluster_word_valid(s);
}

void
clusteripc_entry(const struct cl_table_view *v, uint32_t i,
    struct ipc_cl_entry *e)
{
	memcpy(e, v->entries + (size_t)i * sizeof(*e), sizeof(*e));
}

/*
 * The parent's reading of the cluster process: a table of valid names
 * and hosts with an address of a family and a port, LOG and READY (into
 * f) as the frontend's, or the answer to a ping, empty as the ping.
 */
int
clusteripc_table_parse(enum ipc_type type, const uint8_t *p, size_t len,
    int hasfd, struct cl_table_view *v, struct ipc_fmsg *f,
    const char **why)
{
	struct ipc_cl_entry	e;
	uint32_t		i;

	memset(v, 0, sizeof(*v));
	if (type == IPC_PING) {
		f->type = type;
		return ipc_ping_parse(len, hasfd, why);
	}
	if (type != IPC_CL_TABLE) {
		if (type != IPC_LOG && type != IPC_READY) {
			*why = "unexpected message";
			return -1;
		}
		return ipc_frontend_parse(type, p, len, hasfd, f, why);
	}
	f->type = type;
	*why = "malformed table";
	if (hasfd || len < sizeof(v->t))
		return -1;
	memcpy(&v->t, p, sizeof(v->t));
	if (v->t.n > CLUSTER_REMOTE_MAX ||
	    len != sizeof(v->t) + (size_t)v->t.n * sizeof(e) ||
	    (v->t.flags & ~(CL_CONNECTED | CL_STALE | CL_LEASED)) != 0 ||
	    v->t.pad != 0)
		return -1;
	v->entries = p + sizeof(v->t);
	for (i = 0; i < v->t.n; i++) {
		clusteripc_entry(v, i, &e);
		if (e.name[SERVICE_NAME_MAX] != '\0' ||
		    !name_valid(e.name, strlen(e.name), NAME_LOWER) ||
		    !host_ok(e.host) || e.addr.sin6_port == 0 ||
		    e.rules[CL_RULES_MAX] != '\0' ||
		    !clusteripc_rules_valid(e.rules) ||
		    (e.addr.sin6_family != AF_INET &&
		    e.addr.sin6_family != AF_INET6))
			return -1;
	}
	*why = NULL;
	return 0;
}
