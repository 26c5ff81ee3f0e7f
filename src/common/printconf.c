/* SPDX-License-Identifier: ISC */
/*
 * printconf.c: the configuration as oneportd.conf text, for -n. Every
 * effective value is printed, strings quoted and addresses numeric, so the
 * output parses back to the same configuration. The defaults block is not
 * printed: each service already shows what it got from it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>

#include "addr.h"
#include "config.h"

static void	print_string(const char *);
static void	print_strv(const char *, char **);
static void	print_listener(const struct listener *, const char *);
static void	print_service(const struct service *);
static void	print_rule(const struct matchrule *);
static void	print_proxy(const struct netmask *);
static void	print_acl(const char *, const struct aclent *, int);

/* Quoted, so a value that looks like a keyword stays a value. */
static void
print_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void
print_strv(const char *keyword, char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	printf("\t%s", keyword);
	for (i = 0; v[i] != NULL; i++) {
		putchar(' ');
		print_string(v[i]);
	}
	putchar('\n');
}

/* getnameinfo, not addr_host: an IPv4-mapped address must stay IPv6. */
static void
print_listener(const struct listener *l, const char *kw)
{
	const struct sockaddr	*sa = (const struct sockaddr *)&l->ss;
	char			 host[NI_MAXHOST];
	int			 port;

	if (getnameinfo(sa, l->sslen, host, sizeof(host), NULL, 0,
	    NI_NUMERICHOST) != 0) {
		printf("# listener of unknown family %d\n", sa->sa_family);
		return;
	}
	if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		    ->sin6_port);
	else
		port = ntohs(((const struct sockaddr_in *)(const void *)sa)
		    ->sin_port);
	printf("%s on %s port %d\n", kw, host, port);
}

/* One line per rule as expanded: "match tls sni A B alpn X" prints as
 * two lines, which parse back to the same two rules. */
static void
print_rule(const struct matchrule *r)
{
	printf("\tmatch %s", config_proto_word(r->proto));
	if (r->proto == PROTO_SILENCE)
		printf(" %dms", r->silence_ms);
	if (r->host != NULL) {
		printf(r->proto == PROTO_HTTP ? " host " : " sni ");
		print_string(r->host);
	}
	if (r->alpn != NULL) {
		printf(" alpn ");
		print_string(r->alpn);
	}
	putchar('\n');
}

static void
print_proxy(const struct netmask *m)
{
	char	addr[INET6_ADDRSTRLEN];

	if (inet_ntop(m->family, m->addr, addr, sizeof(addr)) == NULL) {
		printf("# proxy source of unknown family %d\n", m->family);
		return;
	}
	printf("proxy from %s/%d\n", addr, m->prefix);
}

/* The allow entries on one line, the deny entries on the next; indent
 * is "\t" in a service. */
static void
print_acl(const char *indent, const struct aclent *acl, int n)
{
	char	addr[INET6_ADDRSTRLEN];
	int	deny, i, any;

	for (deny = 0; deny <= 1; deny++) {
		any = 0;
		for (i = 0; i < n; i++) {
			if (acl[i].deny != deny || inet_ntop(acl[i].net.family,
			    acl[i].net.addr, addr, sizeof(addr)) == NULL)
				continue;
			if (any++ == 0)
				printf("%s%s", indent, deny ? "deny" : "allow");
			printf(" %s/%d", addr, acl[i].net.prefix);
		}
		if (any)
			putchar('\n');
	}
}

static void
print_service(const struct service *s)
{
	size_t	i;

	printf("\nservice ");
	print_string(s->name);
	printf(" {\n");
	print_strv("command", s->argv);
	if (s->socket != NULL) {
		printf("\tsocket ");
		print_string(s->socket);
		putchar('\n');
	}
	if (s->owner != NULL) {
		printf("\towner ");
		print_string(s->owner);
		putchar('\n');
	}
	if (s->user != NULL) {
		printf("\tuser ");
		print_string(s->user);
		putchar('\n');
	}
	if (s->group != NULL) {
		printf("\tgroup ");
		print_string(s->group);
		putchar('\n');
	}
	print_strv("groups", s->groups);
	if (s->chdir != NULL) {
		printf("\tchdir ");
		print_string(s->chdir);
		putchar('\n');
	}
	for (i = 0; s->env != NULL && s->env[i] != NULL; i++) {
		printf("\tenv ");
		print_string(s->env[i]);
		putchar('\n');
	}
	printf("\tmax instances %d\n", s->max_instances);
	printf("\tmax per-address %d\n", s->max_per_addr);
	printf("\tvisible %s\n", s->visible ? "yes" : "no");
	printf("\treply %s\n", s->reply_self ? "self" : "daemon");
	if (s->redirect == REDIRECT_STATIC) {
		printf("\tredirect to ");
		print_string(s->redirect_host);
		printf(" port %d\n", s->redirect_port);
	} else if (s->redirect != REDIRECT_NONE) {
		printf("\tredirect %s\n", s->redirect == REDIRECT_SHARED ?
		    "shared" : "per-request");
		printf("\tidle %d\n", s->idle_s);
		printf("\ttoken %s\n", s->token ? "yes" : "no");
	}
	for (i = 0; i < (size_t)s->nrules; i++)
		print_rule(&s->rules[i]);
	print_acl("\t", s->acl, s->nacl);
	if (s->export)
		printf("\texport\n");
	if (s->forward_host != NULL) {
		printf("\tforward to ");
		print_string(s->forward_host);
		if (s->forward_port != 0)
			printf(" port %d", s->forward_port);
		printf("\n");
		if (s->proxy_out > 0)
			printf("\tproxy v%d\n", s->proxy_out);
		printf("\tidle %d\n", s->idle_s);
	}
	printf("}\n");
}

void
print_config(const struct config *cfg)
{
	int	i;

	if (cfg->timeout_ms % 1000 == 0)
		printf("timeout %d\n", cfg->timeout_ms / 1000);
	else
		printf("timeout %dms\n", cfg->timeout_ms);
	printf("max-line %d\n", cfg->max_line);
	if (cfg->drop_start == cfg->max_pending / 2 &&
	    cfg->drop_rate == DEF_DROP_RATE)
		printf("max pending %d\n", cfg->max_pending);
	else
		printf("max pending %d:%d:%d\n", cfg->drop_start,
		    cfg->drop_rate, cfg->max_pending);
	printf("max pending per-address %d\n", cfg->max_pending_addr);
	if (cfg->max_relays > 0)
		printf("max relays %d\n", cfg->max_relays);
	printf("ports %d-%d\n", cfg->port_lo, cfg->port_hi);
	printf("help %s\n", cfg->help ? "on" : "off");
	if (cfg->defer_accept)
		printf("defer-accept on\n");
	if (cfg->user != NULL) {
		printf("user ");
		print_string(cfg->user);
		putchar('\n');
	}
	if (cfg->chroot != NULL) {
		printf("chroot ");
		print_string(cfg->chroot);
		putchar('\n');
	}
	if (cfg->control != NULL) {
		printf("control ");
		print_string(cfg->control);
		putchar('\n');
	}
	if (cfg->status != NULL) {
		printf("status socket ");
		print_string(cfg->status);
		if (cfg->status_group != NULL) {
			printf(" group ");
			print_string(cfg->status_group);
		}
		putchar('\n');
	} else if (cfg->status_given)
		printf("status off\n");
	for (i = 0; i < cfg->nmetrics; i++)
		print_listener(&cfg->metrics[i], "metrics");
	for (i = 0; i < cfg->nregrules; i++) {
		printf("register ");
		print_string(cfg->regrules[i].pattern);
		printf(" user ");
		print_string(cfg->regrules[i].user);
		putchar('\n');
	}
	for (i = 0; i < cfg->nproxy_from; i++)
		print_proxy(&cfg->proxy_from[i]);
	print_acl("", cfg->acl, cfg->nacl);
	for (i = 0; i < cfg->nlisteners; i++)
		print_listener(&cfg->listeners[i], "listen");
	cluster_conf_print(cfg);
	for (i = 0; i < cfg->nservices; i++)
		print_service(&cfg->services[i]);
}
