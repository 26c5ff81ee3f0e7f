/* SPDX-License-Identifier: ISC */
/*
 * clusterconf.c: the "cluster { }" block of oneportd.conf, its checks and
 * its print-out (-nv). Kept apart from config.c: only the parent and the
 * cluster process care, and the block is one statement kind.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define ETCD_DEF_PORT	2379

/* Out of memory on a reload goes back to the old configuration
 * (config_nomem); only the first load dies. */
static char *
dup_or_die(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		config_nomem("cluster: strdup");
	return p;
}

/* What etcd keys may hold of ours: no "/" (the key's structure). */
int
cluster_word_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > CLUSTER_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* An address literal and a port into ss; -1 if it is not one. */
static int
literal(const char *host, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		return 0;
	}
	return -1;
}

static int
port_of(const char *s)
{
	char	*end;
	long	 n;

	if (*s < '0' || *s > '9')
		return -1;
	n = strtol(s, &end, 10);
	return *end != '\0' || n < 1 || n > 65535 ? -1 : (int)n;
}

/* "http://A[:P]", A an IPv4 literal or a bracketed IPv6 one. */
static int
etcd_url(const char *url, struct sockaddr_storage *ss)
{
	char		 host[INET6_ADDRSTRLEN + 2];
	const char	*p, *end;
	int		 port = ETCD_DEF_PORT;
	size_t		 n;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	p = url + 7;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return -1;
		p++;
		n = end - p;
		end++;
	} else {
		end = p + strcspn(p, ":/");
		n = end - p;
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, p, n);
	host[n] = '\0';
	if (*end == ':') {
		char	num[8];
		size_t	k = strcspn(end + 1, "/");

		if (k == 0 || k >= sizeof(num))
			return -1;
		memcpy(num, end + 1, k);
		num[k] = '\0';
		if ((port = port_of(num)) == -1)
			return -1;
		end += 1 + k;
	}
	if (*end != '\0' && strcmp(end, "/") != 0)
		return -1;
	return literal(host, port, ss);
}

struct cluster_conf *
cluster_conf_new(struct config *cfg, const char *file, int line)
{
	struct cluster_conf	*cl;

	if (cfg->cluster != NULL)
		return NULL;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		config_nomem("cluster: calloc");
	cl->lease_s = DEF_CLUSTER_LEASE_S;
	cl->file = file;
	cl->line = line;
	cfg->cluster = cl;
	return cl;
}

static const char *
one_word(char **args, const char *what)
{
	if (args == NULL || args[0] == NULL || args[1] != NULL)
		return what;
	return NULL;
}

/* One statement of the block: word, its arguments, "port N" if given. */
const char *
cluster_conf_stmt(struct cluster_conf *cl, const char *word, char **args,
    const char *port)
{
	const char	*e;
	char		*end;
	long		 n;
	int		 i;

	if (port != NULL && strcmp(word, "address") != 0)
		return "port goes only with address";
	if (strcmp(word, "etcd") == 0) {
		if (args == NULL || args[0] == NULL)
			return "etcd: expected \"http://ADDRESS:PORT\"...";
		for (i = 0; args[i] != NULL; i++) {
			if (cl->netcd == CLUSTER_ETCD_MAX)
				return "etcd: at most 8 endpoints";
			if (etcd_url(args[i], &cl->etcd_ss[cl->netcd]) == -1)
				return "etcd: expected \"http://ADDRESS:PORT\" "
				    "with an address literal";
			cl->etcd[cl->netcd++] = dup_or_die(args[i]);
		}
		return NULL;
	}
	if (strcmp(word, "name") == 0 || strcmp(word, "host") == 0) {
		char	**dst = word[0] == 'n' ? &cl->name : &cl->host;

		if ((e = one_word(args, "expected one word")) != NULL)
			return e;
		if (!cluster_word_valid(args[0]))
			return "letters, digits, \".\", \"-\" and \"_\" only, "
			    "up to 63";
		free(*dst);
		*dst = dup_or_die(args[0]);
		return NULL;
	}
	if (strcmp(word, "address") == 0) {
		if ((e = one_word(args, "address: expected ADDRESS [port N]"))
		    != NULL)
			return e;
		if (port != NULL && (cl->port = port_of(port)) == -1)
			return "address: port 1 to 65535";
		if (literal(args[0], 0, &cl->addr) == -1)
			return "address: expected an address literal";
		free(cl->address);
		cl->address = dup_or_die(args[0]);
		return NULL;
	}
	if (strcmp(word, "lease") == 0) {
		if ((e = one_word(args, "lease: expected SECONDS")) != NULL)
			return e;
		n = strtol(args[0], &end, 10);
		if (*args[0] < '0' || *args[0] > '9' || *end != '\0' ||
		    n < 2 || n > 3600)
			return "lease: 2 to 3600 seconds";
		cl->lease_s = (int)n;
		return NULL;
	}
	if (strcmp(word, "key") == 0) {
		if ((e = one_word(args, "key: expected \"PATH\"")) != NULL)
			return e;
		if (args[0][0] != '/')
			return "key: an absolute path";
		free(cl->keyfile);
		cl->keyfile = dup_or_die(args[0]);
		return NULL;
	}
	return "unknown cluster option (etcd, name, host, address, lease, "
	    "key)";
}

/* After the whole file: what the block must have, and defaults. */
int
cluster_conf_finish(struct config *cfg)
{
	struct cluster_conf	*cl = cfg->cluster;
	struct sockaddr_in	*sin;
	int			 errors = 0, i;

	if (cl == NULL) {
		for (i = 0; i < cfg->nservices; i++)
			if (cfg->services[i].export) {
				log_warnx("%s:%d: export without a cluster "
				    "block", cfg->services[i].file,
				    cfg->services[i].line);
				return 1;
			}
		return 0;
	}
	if (cl->netcd == 0 && ++errors)
		log_warnx("%s:%d: cluster: no etcd endpoint", cl->file,
		    cl->line);
	if (cl->name == NULL && ++errors)
		log_warnx("%s:%d: cluster: no name", cl->file, cl->line);
	if (cl->host == NULL && ++errors)
		log_warnx("%s:%d: cluster: no host", cl->file, cl->line);
	if (cl->address == NULL && ++errors)
		log_warnx("%s:%d: cluster: no address", cl->file, cl->line);
	if (cl->keyfile == NULL)
		cl->keyfile = dup_or_die(DEF_CLUSTER_KEY);
	if (cl->port == 0 && cfg->nlisteners > 0) {
		sin = (struct sockaddr_in *)&cfg->listeners[0].ss;
		cl->port = ntohs(sin->sin_port);
	}
	if (cl->port == 0 && ++errors)
		log_warnx("%s:%d: cluster: address needs a port (the first "
		    "listener's is 0)", cl->file, cl->line);
	return errors;
}

void
cluster_conf_print(const struct config *cfg)
{
	const struct cluster_conf	*cl = cfg->cluster;
	int				 i;

	if (cl == NULL)
		return;
	printf("cluster {\n\tetcd");
	for (i = 0; i < cl->netcd; i++)
		printf(" \"%s\"", cl->etcd[i]);
	printf("\n\tname \"%s\"\n\thost \"%s\"\n", cl->name ? cl->name : "",
	    cl->host ? cl->host : "");
	printf("\taddress %s port %d\n\tlease %d\n\tkey \"%s\"\n}\n",
	    cl->address ? cl->address : "", cl->port, cl->lease_s,
	    cl->keyfile ? cl->keyfile : "");
}

void
cluster_conf_free(struct cluster_conf *cl)
{
	int	i;

	if (cl == NULL)
		return;
	for (i = 0; i < cl->netcd; i++)
		free(cl->etcd[i]);
	free(cl->name);
	free(cl->host);
	free(cl->address);
	free(cl->keyfile);
	free(cl);
}
