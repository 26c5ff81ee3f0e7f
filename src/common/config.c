/* SPDX-License-Identifier: ISC */
/*
 * config.c: the in-memory configuration: defaults, services, listeners, the
 * -l and -s command-line forms, and the final checks that turn names into
 * uids and gids. parse.y and main() fill it; printconf.c prints it back.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "name.h"

/* The reason for the last failure; only start-up and reload use it. */
static char	 config_errbuf[256];

static void	 config_seterr(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	 service_copy(struct service *, const struct service *);
static const char *quoted(const char *, size_t, char *, size_t);
static int	 listener_add(struct config *, const struct sockaddr *,
		    socklen_t);
static int	 listener_wildcard(struct config *, int);
static int	 port_parse(const char *, int *);
static char	*command_resolve(const char *);
static int	 service_resolve(struct service *, int);
static int	 service_cmp(const void *, const void *);
static int	 rule_check(struct config *, const struct service *, int);
static int	 rules_check(struct config *);
static void	*xcalloc(size_t, size_t);
static char	*xstrdup(const char *);

const char *
config_error(void)
{
	return config_errbuf;
}

static void
config_seterr(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(config_errbuf, sizeof(config_errbuf), fmt, ap);
	va_end(ap);
}

/*
 * Out of memory while loading a configuration: at start-up, fatal; while
 * a running daemon reloads (config_nomem_catch armed), back to where it
 * began, which frees the half-built config (every pointer in it is valid
 * or NULL at each allocation) and keeps the old one. What the parser
 * held in flight is lost: a few bytes per failed reload.
 */
static jmp_buf	*nomem_jmp;

void
config_nomem_catch(jmp_buf *jb)
{
	nomem_jmp = jb;
}

void
config_nomem(const char *what)
{
	jmp_buf	*jb = nomem_jmp;

	if (jb == NULL)
		fatal("%s", what);
	nomem_jmp = NULL;
	log_warn("%s", what);
	longjmp(*jb, 1);
}

static void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		config_nomem("config: calloc");
	return p;
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		config_nomem("config: strdup");
	return p;
}

struct config *
config_new(void)
{
	struct config	*cfg;

	cfg = xcalloc(1, sizeof(*cfg));
	cfg->timeout_ms = DEF_TIMEOUT_MS;
	cfg->max_line = DEF_MAX_LINE;
	cfg->max_pending = DEF_MAX_PENDING;
	cfg->max_pending_addr = DEF_MAX_PENDING_ADDR;
	cfg->drop_start = DEF_MAX_PENDING / 2;
	cfg->drop_rate = DEF_DROP_RATE;
	cfg->help = 1;
	cfg->user = xstrdup(ONEPORTD_USER);
	cfg->chroot = xstrdup(ONEPORTD_CHROOT);
	cfg->defaults.max_instances = DEF_MAX_INSTANCES;
	cfg->defaults.max_per_addr = DEF_MAX_PER_ADDR;
	cfg->defaults.visible = 1;
	cfg->defaults.idle_s = DEF_IDLE_S;
	cfg->port_lo = DEF_PORT_LO;
	cfg->port_hi = DEF_PORT_HI;
	cfg->defaults.reply_self = 0;
	cfg->config_dns = 1;
	return cfg;
}

/* Listener fds belong to whoever bound them; they are not closed here. */
void
config_free(struct config *cfg)
{
	int	i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nservices; i++)
		service_clear(&cfg->services[i]);
	free(cfg->services);
	free(cfg->listeners);
	service_clear(&cfg->defaults);
	free(cfg->user);
	free(cfg->chroot);
	free(cfg->control);
	free(cfg->status);
	free(cfg->status_group);
	free(cfg->metrics);
	for (i = 0; i < cfg->nregrules; i++) {
		free(cfg->regrules[i].pattern);
		free(cfg->regrules[i].user);
	}
	free(cfg->regrules);
	free(cfg->proxy_from);
	free(cfg->acl);
	cluster_conf_free(cfg->cluster);
	strv_free(cfg->files);
	free(cfg);
}

/* Frees what a service owns and leaves it zeroed. */
void
service_clear(struct service *s)
{
	int	i;

	for (i = 0; i < s->nrules; i++) {
		free(s->rules[i].host);
		free(s->rules[i].alpn);
	}
	free(s->rules);
	strv_free(s->argv);
	free(s->user);
	free(s->group);
	strv_free(s->groups);
	free(s->chdir);
	strv_free(s->env);
	free(s->gids);
	free(s->socket);
	free(s->owner);
	free(s->redirect_host);
	free(s->forward_host);
	free(s->forward_addrs);
	free(s->acl);
	memset(s, 0, sizeof(*s));
}

/* The service options of a "defaults" block, deep-copied; never the name,
 * resolved ids or run-time state. */
static void
service_copy(struct service *dst, const struct service *src)
{
	size_t	i;

	for (i = 0; src->argv != NULL && src->argv[i] != NULL; i++)
		dst->argv = strv_add(dst->argv, src->argv[i]);
	dst->user = src->user != NULL ? xstrdup(src->user) : NULL;
	dst->group = src->group != NULL ? xstrdup(src->group) : NULL;
	for (i = 0; src->groups != NULL && src->groups[i] != NULL; i++)
		dst->groups = strv_add(dst->groups, src->groups[i]);
	dst->chdir = src->chdir != NULL ? xstrdup(src->chdir) : NULL;
	for (i = 0; src->env != NULL && src->env[i] != NULL; i++)
		dst->env = strv_add(dst->env, src->env[i]);
	dst->max_instances = src->max_instances;
	dst->max_per_addr = src->max_per_addr;
	dst->visible = src->visible;
	dst->reply_self = src->reply_self;
	dst->redirect = src->redirect == REDIRECT_STATIC ? REDIRECT_NONE :
	    src->redirect;
	dst->idle_s = src->idle_s;
	dst->idle_given = src->idle_given;
	dst->proxy_out = src->proxy_out;
	dst->owner = src->owner != NULL ? xstrdup(src->owner) : NULL;
	dst->token = src->token;
	dst->at_command = src->at_command;
	dst->at_user = src->at_user;
	dst->at_group = src->at_group;
	dst->at_groups = src->at_groups;
	dst->at_chdir = src->at_chdir;
	dst->at_socket = src->at_socket;
	dst->at_owner = src->at_owner;
	dst->at_redirect = src->at_redirect;
	dst->export = src->export;
}

/*
 * A name fit for a message: at most 32 bytes of it, and anything that is
 * not printable ASCII shown as '?', so a hostile name cannot drive the
 * terminal or the log.
 */
static const char *
quoted(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t	i, n = 0;

	for (i = 0; i < len && n + 5 < bufsz && i < 32; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len && n + 4 < bufsz) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * A new service named name, lower-cased, holding a copy of cfg->defaults.
 * The pointer is valid until the next config_add_service (realloc).
 */
struct service *
config_add_service(struct config *cfg, const char *name)
{
	char		 lname[SERVICE_NAME_MAX + 1], qbuf[48];
	const char	*why;
	struct service	*s, *ns;
	size_t		 len = strlen(name), i;
	int		 n;

	why = name_problem(name, len, 0);
	/* RFC 1078 gives the line "HELP" its own meaning. */
	if (why == NULL && strcasecmp(name, "help") == 0)
		why = "reserved for the HELP request";
	if (why != NULL) {
		config_seterr("invalid service name \"%s\": %s",
		    quoted(name, len, qbuf, sizeof(qbuf)), why);
		return NULL;
	}
	for (i = 0; i < len; i++)
		lname[i] = (char)tolower((unsigned char)name[i]);
	lname[len] = '\0';

	/* Linear: config_find's bsearch needs the sort config_finish does. */
	for (n = 0; n < cfg->nservices; n++) {
		s = &cfg->services[n];
		if (strcmp(s->name, lname) != 0)
			continue;
		if (s->file != NULL && s->line > 0)
			config_seterr("duplicate service \"%s\" (first "
			    "declared at %s:%d)", lname, s->file, s->line);
		else if (s->file != NULL)
			config_seterr("duplicate service \"%s\" (first "
			    "declared on the %s)", lname, s->file);
		else
			config_seterr("duplicate service \"%s\"", lname);
		return NULL;
	}
	if (cfg->nservices >= MAX_SERVICES) {
		config_seterr("too many services (at most %d)", MAX_SERVICES);
		return NULL;
	}
	/* Doubling: thousands of services are not copied thousands of
	 * times over (a reload of MAX_SERVICES took seconds under ASan). */
	if (cfg->nservices == cfg->maxservices) {
		n = cfg->maxservices > 0 ? 2 * cfg->maxservices : 16;
		ns = reallocarray(cfg->services, n, sizeof(*ns));
		if (ns == NULL)
			config_nomem("config: reallocarray");
		cfg->services = ns;
		cfg->maxservices = n;
	}
	s = &cfg->services[cfg->nservices++];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, lname, len + 1);
	service_copy(s, &cfg->defaults);
	return s;
}

/*
 * Names of files read; service->file and parse.y's locations point into
 * this vector so they live as long as the config.
 */
const char *
config_add_file(struct config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; cfg->files != NULL && cfg->files[i] != NULL; i++)
		if (strcmp(cfg->files[i], name) == 0)
			return cfg->files[i];
	cfg->files = strv_add(cfg->files, name);
	return cfg->files[i];
}

static int
listener_add(struct config *cfg, const struct sockaddr *sa, socklen_t len)
{
	struct listener	*l;
	int		 i;

	if (len > sizeof(l->ss)) {
		config_seterr("address too long");
		return -1;
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		if (l->sslen == len && memcmp(&l->ss, sa, len) == 0)
			return 0;
	}
	l = reallocarray(cfg->listeners, cfg->nlisteners + 1, sizeof(*l));
	if (l == NULL)
		config_nomem("config: reallocarray");
	cfg->listeners = l;
	l = &cfg->listeners[cfg->nlisteners++];
	memset(l, 0, sizeof(*l));
	memcpy(&l->ss, sa, len);
	l->sslen = len;
	l->fd = -1;
	return 0;
}

/* "*" is both wildcards, built here so the order is fixed: IPv4, IPv6. */
static int
listener_wildcard(struct config *cfg, int port)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons(port);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_any;
	sin6.sin6_port = htons(port);
	if (listener_add(cfg, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listener_add(cfg, (struct sockaddr *)&sin6, sizeof(sin6)) == -1)
		return -1;
	return 0;
}

/* A decimal 0..65535, or a name from services(5). */
static int
port_parse(const char *port, int *out)
{
	struct addrinfo	 hints, *res;
	const char	*p;
	long		 v = 0;
	int		 rv;

	if (*port == '\0') {
		config_seterr("missing port");
		return -1;
	}
	for (p = port; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (*p - '0')) > 65535)
			break;
	if (*p == '\0') {
		*out = (int)v;
		return 0;
	}
	/* "-1" and "99999" are numbers too, just not ports. */
	if ((*p >= '0' && *p <= '9') || (port[0] == '-' && port[1] >= '0' &&
	    port[1] <= '9' && strspn(port + 1, "0123456789") ==
	    strlen(port + 1))) {
		config_seterr("port out of range (0..65535)");
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rv = getaddrinfo(NULL, port, &hints, &res)) != 0) {
		/* gai_strerror would say "Servname not supported for
		 * ai_socktype", which tells nobody anything. */
		config_seterr("not a port number or a TCP service name in "
		    "/etc/services");
		return -1;
	}
	*out = ntohs(((struct sockaddr_in *)(void *)res->ai_addr)->sin_port);
	freeaddrinfo(res);
	return 0;
}

/*
 * host: an IPv4 or IPv6 literal, "*" for both wildcards, or a name whose
 * every address is used. Identical addresses are listed once.
 */
int
config_add_listener(struct config *cfg, const char *host, const char *port)
{
	struct addrinfo	 hints, *res, *ai;
	char		 pbuf[8];
	int		 portnum, rv;

	if (port_parse(port, &portnum) == -1)
		return -1;
	if (host == NULL || strcmp(host, "*") == 0)
		return listener_wildcard(cfg, portnum);
	if (*host == '\0') {
		config_seterr("empty address");
		return -1;
	}
	snprintf(pbuf, sizeof(pbuf), "%d", portnum);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rv = getaddrinfo(host, pbuf, &hints, &res)) != 0) {
		config_seterr("%s", rv == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(rv));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (listener_add(cfg, ai->ai_addr, ai->ai_addrlen) == -1) {
			freeaddrinfo(res);
			return -1;
		}
	}
	freeaddrinfo(res);
	return 0;
}

/*
 * "metrics on HOST port N": resolved as a listener, and kept apart (the
 * frontend serves HTTP there, not TCPMUX).
 */
int
config_add_metrics(struct config *cfg, const char *host, const char *port)
{
	struct listener	*l;
	int		 n0 = cfg->nlisteners, n;

	if (config_add_listener(cfg, host, port) == -1)
		return -1;
	n = cfg->nlisteners - n0;
	if ((l = reallocarray(cfg->metrics, cfg->nmetrics + n,
	    sizeof(*l))) == NULL)
		config_nomem("config: reallocarray");
	memcpy(l + cfg->nmetrics, cfg->listeners + n0, n * sizeof(*l));
	cfg->metrics = l;
	cfg->nmetrics += n;
	cfg->nlisteners = n0;
	return 0;
}

/*
 * -l ADDR:PORT. An IPv6 literal goes in brackets ("[::1]:8080") so the
 * last colon is always the port's.
 */
int
config_listener_arg(struct config *cfg, const char *arg)
{
	char		*s, *host, *port, *end;
	int		 rv;

	s = xstrdup(arg);
	if (s[0] == '[') {
		host = s + 1;
		if ((end = strchr(host, ']')) == NULL || end[1] != ':') {
			config_seterr("expected [ADDRESS]:PORT");
			free(s);
			return -1;
		}
		*end = '\0';
		port = end + 2;
	} else {
		if ((port = strrchr(s, ':')) == NULL) {
			config_seterr("expected ADDRESS:PORT");
			free(s);
			return -1;
		}
		*port++ = '\0';
		host = s;
		if (strchr(host, ':') != NULL) {
			config_seterr("an IPv6 address goes in brackets: "
			    "[ADDRESS]:PORT");
			free(s);
			return -1;
		}
	}
	rv = config_add_listener(cfg, host, port);
	free(s);
	return rv;
}

/*
 * The program of a -s service as an absolute path. A name without '/'
 * is looked up in $PATH, whose relative entries are skipped: a root
 * daemon must not run whatever sits in its working directory.
 */
static char *
command_resolve(const char *prog)
{
	struct stat	 st;
	const char	*path, *p, *colon;
	char		 cwd[PATH_MAX], buf[PATH_MAX];
	size_t		 dlen;
	int		 n;

	if (strchr(prog, '/') != NULL) {
		if (prog[0] == '/')
			n = snprintf(buf, sizeof(buf), "%s", prog);
		else if (getcwd(cwd, sizeof(cwd)) == NULL) {
			config_seterr("%s: getcwd: %s", prog,
			    strerror(errno));
			return NULL;
		} else
			n = snprintf(buf, sizeof(buf), "%s%s%s", cwd,
			    strcmp(cwd, "/") == 0 ? "" : "/", prog);
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			config_seterr("%s: path too long", prog);
			return NULL;
		}
		if (stat(buf, &st) == -1) {
			config_seterr("%s: %s", buf, strerror(errno));
			return NULL;
		}
		if (!S_ISREG(st.st_mode) || access(buf, X_OK) == -1) {
			config_seterr("%s: not an executable file", buf);
			return NULL;
		}
		return xstrdup(buf);
	}
	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; p != NULL; p = colon != NULL ? colon + 1 : NULL) {
		colon = strchr(p, ':');
		dlen = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (dlen == 0 || p[0] != '/')
			continue;
		n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)dlen, p, prog);
		if (n < 0 || (size_t)n >= sizeof(buf))
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return xstrdup(buf);
	}
	config_seterr("%s: not found in PATH", prog);
	return NULL;
}

/*
 * -s NAME=COMMAND. COMMAND is split on blanks, with no shell and no
 * quoting; the service gets the current defaults.
 */
int
config_service_arg(struct config *cfg, const char *arg)
{
	struct service	*s;
	const char	*eq, *p, *q;
	char		*name, *word, *prog;
	char		**argv = NULL;

	if ((eq = strchr(arg, '=')) == NULL) {
		config_seterr("expected NAME=COMMAND");
		return -1;
	}
	for (p = eq + 1; *p != '\0'; p = q) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q != '\0' && *q != ' ' && *q != '\t'; q++)
			;
		if ((word = strndup(p, (size_t)(q - p))) == NULL)
			config_nomem("config: strndup");
		argv = strv_add(argv, word);
		free(word);
	}
	if (argv == NULL) {
		config_seterr("empty command");
		return -1;
	}
	if ((name = strndup(arg, (size_t)(eq - arg))) == NULL)
		config_nomem("config: strndup");
	s = config_add_service(cfg, name);
	free(name);
	if (s == NULL) {
		strv_free(argv);
		return -1;
	}
	if ((prog = command_resolve(argv[0])) == NULL) {
		/* s is the last one; take it back. */
		service_clear(s);
		cfg->nservices--;
		strv_free(argv);
		return -1;
	}
	free(argv[0]);
	argv[0] = prog;
	strv_free(s->argv);
	s->argv = argv;
	s->file = "command line";
	s->line = 0;
	return 0;
}

static int
service_cmp(const void *a, const void *b)
{
	const struct service	*sa = a, *sb = b;

	return strcmp(sa->name, sb->name);
}

/*
 * Tracing a setuid, setgid or file-capability program makes the kernel
 * run it without what those bits give, unless the tracer may trace any
 * process: root may (spawn.c asks to be traced while still root). Not
 * running as root, such a program is started untraced instead, and said
 * so.
 */
static int
program_privileged(const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		return 0;
	if (st.st_mode & (S_ISUID | S_ISGID))
		return 1;
	return getxattr(path, "security.capability", NULL, 0) >= 0;
}

/*
 * "forward to "/path"": a unix stream socket, by an absolute path that
 * fits a sockaddr_un and is one word of the relay's argv.
 */
static int
forward_path(struct service *s, const char *path)
{
	size_t	i, n = strlen(path);

	if (path[0] != '/' || strrchr(path, '/') == path) {
		config_seterr("expected HOST port N, or the absolute path of "
		    "a unix socket in a directory other than /");
		return -1;
	}
	if (n >= FORWARD_PATH_MAX) {
		config_seterr("a socket path of at most %d bytes",
		    FORWARD_PATH_MAX - 1);
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f) {
			config_seterr("a space or control character in the "
			    "path");
			return -1;
		}
	free(s->forward_addrs);
	s->forward_addrs = NULL;
	s->nforward_addrs = 0;
	s->forward_port = 0;
	free(s->forward_host);
	s->forward_host = xstrdup(path);
	return 0;
}

/*
 * "forward to HOST port N": the backend's addresses now, all of them in
 * getaddrinfo's order (the relay tries them so), at most
 * FORWARD_ADDRS_MAX. A name is looked up once, at load; cfg->config_dns
 * 0 (the fuzzer) takes literals only.
 */
int
config_add_forward(struct config *cfg, struct service *s, const char *host,
    const char *port)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	int		 e, n = 0;

	if (port == NULL)
		return forward_path(s, host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (cfg->config_dns ? 0 :
	    AI_NUMERICHOST);
	if (*host == '\0' || strchr(host, '/') != NULL) {
		config_seterr("not a host name or address (a unix socket "
		    "is forward to \"/path\", without a port)");
		return -1;
	}
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		config_seterr("%s", gai_strerror(e));
		return -1;
	}
	free(s->forward_addrs);
	s->forward_addrs = xcalloc(FORWARD_ADDRS_MAX,
	    sizeof(*s->forward_addrs));
	for (ai = res; ai != NULL && n < FORWARD_ADDRS_MAX; ai = ai->ai_next)
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    ai->ai_addrlen <= sizeof(s->forward_addrs[0]))
			memcpy(&s->forward_addrs[n++], ai->ai_addr,
			    ai->ai_addrlen);
	freeaddrinfo(res);
	if (n == 0) {
		config_seterr("no IPv4 or IPv6 address");
		return -1;
	}
	s->nforward_addrs = n;
	s->forward_port = atoi(port);
	free(s->forward_host);
	s->forward_host = xstrdup(host);
	return 0;
}

/*
 * A forward service is relayed, not run: nothing else may say what it
 * is, and the relay, not a program, answers "+". Told at the forward
 * option's place.
 */
static int
forward_check(struct service *s)
{
	char	where[PATH_MAX + 32];
	int	errors = 0;

	snprintf(where, sizeof(where), "%s:%d: service \"%s\"",
	    s->forward_file != NULL ? s->forward_file : "command line",
	    s->forward_line, s->name);
	if (s->argv != NULL && s->argv[0] != NULL) {
		log_warnx("%s: forward and command exclude each other",
		    where);
		errors++;
	}
	if (s->socket != NULL) {
		log_warnx("%s: forward and socket exclude each other", where);
		errors++;
	}
	if (s->redirect != REDIRECT_NONE) {
		log_warnx("%s: forward and redirect exclude each other",
		    where);
		errors++;
	}
	if (s->reply_self) {
		log_warnx("%s: forward with reply self: the relay sends "
		    "\"+\", not the backend", where);
		errors++;
	}
	if (!s->idle_given)
		s->idle_s = DEF_FORWARD_IDLE_S;
	s->uid = geteuid();
	s->gid = getegid();
	return errors ? -1 : 0;
}

/*
 * "file:line: service "name"" for a message about one option: the place
 * the option was written (in the block, or in defaults), else the
 * service's own.
 */
static const char *
service_where(const struct service *s, const struct srcloc *at, char *buf,
    size_t len)
{
	const char	*file = s->file;
	int		 line = s->line;

	if (at != NULL && at->file != NULL) {
		file = at->file;
		line = at->line;
	}
	if (file != NULL && line > 0)
		snprintf(buf, len, "%s:%d: service \"%s\"", file, line,
		    s->name);
	else if (file != NULL)
		snprintf(buf, len, "%s: service \"%s\"", file, s->name);
	else
		snprintf(buf, len, "service \"%s\"", s->name);
	return buf;
}

/*
 * Names to ids. As root a service without "user" runs as nobody: root
 * must be asked for by name (xinetd ran such services as root,
 * CVE-2013-4342). gids is what setgroups() gets: the primary group first.
 */
static int
service_resolve(struct service *s, int root)
{
	struct passwd	*pw;
	struct group	*gr;
	char		 where[PATH_MAX + 32];
	size_t		 i, n;
	int		 errors = 0;

	/* A pass service may lack a command: it runs on its own; a static
	 * redirect has nothing to run. */
	if (s->forward_host != NULL)
		return forward_check(s);
	if ((s->argv == NULL || s->argv[0] == NULL) && s->socket == NULL &&
	    s->redirect != REDIRECT_STATIC) {
		log_warnx("%s: no command and no socket",
		    service_where(s, NULL, where, sizeof(where)));
		errors++;
	}
	if (s->redirect != REDIRECT_NONE && s->socket != NULL) {
		log_warnx("%s: redirect and socket exclude each other",
		    service_where(s, &s->at_socket, where, sizeof(where)));
		errors++;
	}
	/* Another host sends its clients here by a redirect already: a
	 * second one is more than the oneport client follows. */
	if (s->redirect != REDIRECT_NONE && s->export) {
		log_warnx("%s: a redirect service cannot be exported",
		    service_where(s, NULL, where, sizeof(where)));
		errors++;
	}
	s->untraced = !root && s->argv != NULL && s->argv[0] != NULL &&
	    s->socket == NULL && s->redirect == REDIRECT_NONE &&
	    program_privileged(s->argv[0]);
	if (s->untraced)
		log_warnx("%s: %s is setuid, setgid or has file capabilities, "
		    "which tracing would take away: it is started untraced, "
		    "so \"+\" is sent at exec and may race its first bytes",
		    service_where(s, &s->at_command, where, sizeof(where)),
		    s->argv[0]);
	/* Only its owner (root by default) may sit on a hand-off socket. */
	s->owner_uid = 0;
	if (s->owner != NULL) {
		if ((pw = getpwnam(s->owner)) == NULL) {
			log_warnx("%s: unknown owner \"%s\"",
			    service_where(s, &s->at_owner, where,
			    sizeof(where)), s->owner);
			errors++;
		} else
			s->owner_uid = pw->pw_uid;
	} else if (!root)
		s->owner_uid = geteuid();
	if (s->user == NULL && root)
		s->user = xstrdup("nobody");
	free(s->gids);
	s->gids = NULL;
	s->ngids = 0;
	if (s->user == NULL) {
		s->uid = geteuid();
		s->gid = getegid();
	} else if ((pw = getpwnam(s->user)) == NULL) {
		log_warnx("%s: unknown user \"%s\"", service_where(s,
		    &s->at_user, where, sizeof(where)), s->user);
		errors++;
	} else {
		s->uid = pw->pw_uid;
		s->gid = pw->pw_gid;
	}
	if (s->group != NULL) {
		if ((gr = getgrnam(s->group)) == NULL) {
			log_warnx("%s: unknown group \"%s\"",
			    service_where(s, &s->at_group, where,
			    sizeof(where)), s->group);
			errors++;
		} else
			s->gid = gr->gr_gid;
	}
	for (n = 0; s->groups != NULL && s->groups[n] != NULL; n++)
		;
	s->gids = xcalloc(n + 1, sizeof(*s->gids));
	s->gids[s->ngids++] = s->gid;
	for (i = 0; i < n; i++) {
		if ((gr = getgrnam(s->groups[i])) == NULL) {
			log_warnx("%s: unknown group \"%s\"",
			    service_where(s, &s->at_groups, where,
			    sizeof(where)), s->groups[i]);
			errors++;
		} else
			s->gids[s->ngids++] = gr->gr_gid;
	}
	return errors ? -1 : 0;
}

/* ---- implicit names: "match" rules and "proxy from" ---- */

/* The words of the grammar; parse.y and printconf.c use them too. */
const char *
config_proto_word(enum proto p)
{
	static const char *const words[PROTO_MAX] = {
		[PROTO_TLS] = "tls", [PROTO_HTTP] = "http",
		[PROTO_SSH] = "ssh", [PROTO_SILENCE] = "silence",
	};

	return (unsigned)p < PROTO_MAX ? words[p] : NULL;
}

/* Dot-separated labels of letters, digits and inner hyphens, 1..63
 * bytes each, the last not all digits (that is an address). */
static int
host_name_valid(const char *s)
{
	size_t	i, lab = 0, digits = 0;

	for (i = 0; ; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return 0;
			if (s[i] == '\0')
				return digits < lab;
			lab = digits = 0;
		} else if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || (s[i] == '-' && lab > 0)) {
			digits += s[i] >= '0' && s[i] <= '9';
			lab++;
		} else
			return 0;
	}
}

/*
 * An SNI or Host pattern, lower case: a host name, or "*." and one ("*"
 * is exactly one label, as in certificates), at most HOST_NAME_LEN
 * bytes; with addr_ok an IPv4 or IPv6 literal too (a Host header may
 * carry one; SNI never does, RFC 6066).
 */
int
config_pattern_valid(const char *s, int addr_ok)
{
	struct in6_addr	a;

	if (strlen(s) > HOST_NAME_LEN)
		return 0;
	if (addr_ok && (inet_pton(AF_INET, s, &a) == 1 ||
	    inet_pton(AF_INET6, s, &a) == 1))
		return 1;
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	return host_name_valid(s);
}

/* An ALPN protocol name as RFC 7301 allows and a config can hold. */
static int
alpn_valid(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return i > 0 && i <= ALPN_NAME_LEN;
}

/* An address in inet_ntop's form, as the HTTP probe writes a Host's:
 * "2001:DB8:0::1" is "2001:db8::1". 0 if s is no address. */
static int
addr_canonical(char **s)
{
	struct in6_addr	a;
	char		buf[INET6_ADDRSTRLEN];
	int		af = strchr(*s, ':') != NULL ? AF_INET6 : AF_INET;

	if (inet_pton(af, *s, &a) != 1 ||
	    inet_ntop(af, &a, buf, sizeof(buf)) == NULL)
		return 0;
	free(*s);
	*s = xstrdup(buf);
	return 1;
}

/* Lower-cased copies of v, addresses canonical, NULL for none; -1 at a
 * bad pattern. */
static char **
hosts_lower(char **v, int addr_ok)
{
	char	**lv = NULL, *p, qbuf[48];
	size_t	  i;

	for (i = 0; v != NULL && v[i] != NULL; i++) {
		lv = strv_add(lv, v[i]);
		for (p = lv[i]; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (addr_ok && addr_canonical(&lv[i]))
			continue;
		if (config_pattern_valid(lv[i], addr_ok))
			continue;
		quoted(v[i], strlen(v[i]), qbuf, sizeof(qbuf));
		if (!addr_ok && config_pattern_valid(lv[i], 1))
			config_seterr("sni \"%s\": an address; TLS clients "
			    "send host names only", qbuf);
		else
			config_seterr("%s \"%s\": not a host name%s", addr_ok ?
			    "host" : "sni", qbuf, addr_ok ? ", \"*.\" and one, "
			    "or an IP address" : " or \"*.\" and one");
		strv_free(lv);
		return (char **)-1;
	}
	return lv;
}

static size_t
strv_len(char **v)
{
	size_t	n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/*
 * One "match" statement of s, expanded: every host with every ALPN name
 * (NULL lists: any). Returns -1 with config_error() at a bad pattern or
 * name, or past MAX_RULES in all; nothing is added then.
 */
int
config_add_match(struct config *cfg, struct service *s, enum proto proto,
    char **hosts, char **alpns, int silence_ms, const char *file, int line)
{
	struct matchrule	*r;
	char			**lh, qbuf[48];
	size_t			  nh, na, i, j, n;

	for (i = 0; alpns != NULL && alpns[i] != NULL; i++)
		if (!alpn_valid(alpns[i])) {
			config_seterr("alpn \"%s\": not 1 to %d printable "
			    "bytes without a space", quoted(alpns[i],
			    strlen(alpns[i]), qbuf, sizeof(qbuf)),
			    ALPN_NAME_LEN);
			return -1;
		}
	if ((lh = hosts_lower(hosts, proto == PROTO_HTTP)) == (char **)-1)
		return -1;
	nh = lh != NULL ? strv_len(lh) : 1;
	na = alpns != NULL ? strv_len(alpns) : 1;
	/* Both lists are in memory already: the product fits. */
	n = nh * na;
	if (n > (size_t)(MAX_RULES - cfg->nrules)) {
		config_seterr("more than %d match rules in all (each name "
		    "with each alpn counts)", MAX_RULES);
		strv_free(lh);
		return -1;
	}
	r = reallocarray(s->rules, s->nrules + n, sizeof(*r));
	if (r == NULL)
		config_nomem("config: reallocarray");
	s->rules = r;
	r += s->nrules;
	for (i = 0; i < nh; i++)
		for (j = 0; j < na; j++, r++) {
			memset(r, 0, sizeof(*r));
			r->proto = proto;
			r->host = lh != NULL ? xstrdup(lh[i]) : NULL;
			r->alpn = alpns != NULL ? xstrdup(alpns[j]) : NULL;
			r->silence_ms = silence_ms;
			r->file = file;
			r->line = line;
		}
	s->nrules += n;
	cfg->nrules += n;
	strv_free(lh);
	return 0;
}

/* "A" or "A/N" into m, host bits refused. -1 with config_error(). */
static int
netmask_parse(const char *arg, struct netmask *m)
{
	char		 buf[INET6_ADDRSTRLEN + 8], net[INET6_ADDRSTRLEN];
	char		*slash, *end;
	long		 prefix;
	int		 bits, b, set = 0;

	memset(m, 0, sizeof(*m));
	if (strlen(arg) >= sizeof(buf)) {
		config_seterr("not an IPv4 or IPv6 address");
		return -1;
	}
	memcpy(buf, arg, strlen(arg) + 1);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, m->addr) == 1) {
		m->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, buf, m->addr) == 1) {
		m->family = AF_INET6;
		bits = 128;
	} else {
		config_seterr("not an IPv4 or IPv6 address");
		return -1;
	}
	prefix = bits;
	if (slash != NULL) {
		errno = 0;
		prefix = strtol(slash, &end, 10);
		if (*slash < '0' || *slash > '9' || *end != '\0' ||
		    errno != 0 || prefix > bits) {
			config_seterr("prefix \"/%s\": not 0 to %d", slash,
			    bits);
			return -1;
		}
	}
	m->prefix = (int)prefix;
	for (b = m->prefix; b < bits; b++) {
		set |= m->addr[b / 8] & (0x80 >> (b % 8));
		m->addr[b / 8] &= ~(0x80 >> (b % 8));
	}
	if (set) {
		inet_ntop(m->family, m->addr, net, sizeof(net));
		config_seterr("host bits set after the /%d prefix (the "
		    "network is %s/%d)", m->prefix, net, m->prefix);
		return -1;
	}
	return 0;
}

/* "A", "A/N": a trusted PROXY source. -1 with config_error(). */
int
config_add_proxy(struct config *cfg, const char *arg)
{
	struct netmask	 m, *pf;

	if (netmask_parse(arg, &m) == -1)
		return -1;
	if (cfg->nproxy_from >= MAX_PROXY_FROM) {
		config_seterr("more than %d sources", MAX_PROXY_FROM);
		return -1;
	}
	if ((pf = reallocarray(cfg->proxy_from, cfg->nproxy_from + 1,
	    sizeof(m))) == NULL)
		config_nomem("config: reallocarray");
	cfg->proxy_from = pf;
	cfg->proxy_from[cfg->nproxy_from++] = m;
	return 0;
}

/*
 * An "allow" or "deny" entry, "A", "A/N" or "all" (both families' /0),
 * for svc or, NULL, the global lists. -1 with config_error().
 */
int
config_add_acl(struct config *cfg, struct service *svc, int deny,
    const char *arg)
{
	struct aclent	**acl = svc != NULL ? &svc->acl : &cfg->acl, *na;
	int		 *n = svc != NULL ? &svc->nacl : &cfg->nacl;
	struct netmask	  m[2];
	int		  i, k = 1;

	if (strcmp(arg, "all") == 0) {
		memset(m, 0, sizeof(m));
		m[0].family = AF_INET;
		m[1].family = AF_INET6;
		k = 2;
	} else if (netmask_parse(arg, &m[0]) == -1)
		return -1;
	if (cfg->nacl_all + k > MAX_ACL) {
		config_seterr("more than %d allow and deny entries in all",
		    MAX_ACL);
		return -1;
	}
	if ((na = reallocarray(*acl, *n + k, sizeof(**acl))) == NULL)
		config_nomem("config: reallocarray");
	*acl = na;
	for (i = 0; i < k; i++) {
		(*acl)[*n].net = m[i];
		(*acl)[(*n)++].deny = deny;
	}
	cfg->nacl_all += k;
	return 0;
}

/* The lists svc's clients are checked against: its own, else the
 * global ones; svc NULL (a registered name) has the global ones. */
const struct aclent *
config_acl(const struct config *cfg, const struct service *svc, int *n)
{
	if (svc != NULL && svc->nacl > 0) {
		*n = svc->nacl;
		return svc->acl;
	}
	*n = cfg->nacl;
	return cfg->acl;
}

/* A rule as a message shows it: "match tls sni "a" alpn "b"". */
static const char *
rule_text(const struct matchrule *r, char *buf, size_t len)
{
	char	h[48], a[48];

	snprintf(buf, len, "match %s%s%s%s%s%s%s",
	    config_proto_word(r->proto),
	    r->host == NULL ? "" : r->proto == PROTO_HTTP ? " host \"" :
	    " sni \"", r->host == NULL ? "" : quoted(r->host,
	    strlen(r->host), h, sizeof(h)), r->host == NULL ? "" : "\"",
	    r->alpn == NULL ? "" : " alpn \"", r->alpn == NULL ? "" :
	    quoted(r->alpn, strlen(r->alpn), a, sizeof(a)),
	    r->alpn == NULL ? "" : "\"");
	return buf;
}

/* NULL ("any") first; then bytes. */
static int
nullstr_cmp(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

struct ruleref {
	const struct matchrule	*r;
	const struct service	*s;
	size_t			 order;	/* as declared */
	const struct ruleref	*first;	/* an earlier rule it overlaps */
};

static int
ruleref_cmp(const void *a, const void *b)
{
	const struct ruleref	*x = *(struct ruleref *const *)a;
	const struct ruleref	*y = *(struct ruleref *const *)b;
	int			 c;

	if (x->r->proto != y->r->proto)
		return x->r->proto < y->r->proto ? -1 : 1;
	if ((c = nullstr_cmp(x->r->host, y->r->host)) != 0 ||
	    (c = nullstr_cmp(x->r->alpn, y->r->alpn)) != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* What a rule's service must be: one an implicit client can use. A
 * silence shorter than the timeout; it sets cfg->silence_ms. */
static int
rule_check(struct config *cfg, const struct service *s, int k)
{
	const struct matchrule	*r = &s->rules[k];
	int			 errors = 0;

	if (r->proto == PROTO_SILENCE && r->silence_ms >= cfg->timeout_ms) {
		log_warnx("%s:%d: match silence %dms never matches: the "
		    "timeout (%dms) ends the wait first", r->file, r->line,
		    r->silence_ms, cfg->timeout_ms);
		errors++;
	} else if (r->proto == PROTO_SILENCE)
		cfg->silence_ms = r->silence_ms;
	if (k > 0)
		return errors;
	if (s->redirect != REDIRECT_NONE) {
		log_warnx("%s:%d: match in service \"%s\": implicit clients "
		    "cannot follow a redirect", r->file, r->line, s->name);
		errors++;
	}
	if (s->reply_self) {
		log_warnx("%s:%d: match in service \"%s\": with reply self "
		    "the program sends \"+\", which an implicit client must "
		    "not get", r->file, r->line, s->name);
		errors++;
	}
	return errors;
}

/*
 * Each rule as rule_check wants it, then no two of the same protocol,
 * host and ALPN: each after the first is an overlap, shown with the
 * first's place, in the order they were declared. Returns the errors.
 */
static int
rules_check(struct config *cfg)
{
	struct ruleref		*refs, **sorted;
	const struct ruleref	*f;
	char			 text[160];
	size_t			 n = 0, i;
	int			 j, k, errors = 0;

	if (cfg->nrules == 0)
		return 0;
	refs = xcalloc(cfg->nrules, sizeof(*refs));
	sorted = xcalloc(cfg->nrules, sizeof(*sorted));
	for (j = 0; j < cfg->nservices; j++)
		for (k = 0; k < cfg->services[j].nrules; k++, n++) {
			errors += rule_check(cfg, &cfg->services[j], k);
			refs[n].r = &cfg->services[j].rules[k];
			refs[n].s = &cfg->services[j];
			refs[n].order = n;
			sorted[n] = &refs[n];
		}
	qsort(sorted, n, sizeof(*sorted), ruleref_cmp);
	for (i = 1, f = n > 0 ? sorted[0] : NULL; i < n; i++) {
		if (sorted[i]->r->proto == f->r->proto &&
		    nullstr_cmp(sorted[i]->r->host, f->r->host) == 0 &&
		    nullstr_cmp(sorted[i]->r->alpn, f->r->alpn) == 0)
			sorted[i]->first = f;
		else
			f = sorted[i];
	}
	for (i = 0; i < n; i++) {
		if ((f = refs[i].first) == NULL)
			continue;
		log_warnx("%s:%d: %s overlaps the rule at %s:%d (service "
		    "\"%s\")", refs[i].r->file, refs[i].r->line,
		    rule_text(refs[i].r, text, sizeof(text)), f->r->file,
		    f->r->line, f->s->name);
		errors++;
	}
	free(sorted);
	free(refs);
	return errors;
}

/*
 * Completes a loaded configuration: the tcpmux port on every address when
 * nothing else was asked for, ids for every service, services sorted for
 * config_find. Every problem is logged before -1 is returned.
 */
int
config_finish(struct config *cfg)
{
	int	i, errors = 0, root = geteuid() == 0;

	if (cfg->nlisteners == 0 && config_add_listener(cfg, "*", "1") == -1) {
		log_warnx("listen on * port 1: %s", config_error());
		errors++;
	}
	for (i = 0; i < cfg->nservices; i++)
		if (service_resolve(&cfg->services[i], root) == -1)
			errors++;
	for (i = 0; i < cfg->nregrules; i++) {
		struct passwd	*pw = getpwnam(cfg->regrules[i].user);

		if (pw == NULL) {
			log_warnx("%s:%d: register \"%s\": unknown user "
			    "\"%s\"", cfg->regrules[i].at.file,
			    cfg->regrules[i].at.line, cfg->regrules[i].pattern,
			    cfg->regrules[i].user);
			errors++;
		} else
			cfg->regrules[i].uid = pw->pw_uid;
	}
	if (cfg->nregrules > 0 && cfg->control == NULL)
		cfg->control = xstrdup(ONEPORTD_CONTROL);
	/* Only root may make a socket under /run. */
	if (!cfg->status_given && root && cfg->status == NULL)
		cfg->status = xstrdup(ONEPORTD_STATUS);
	if (cfg->status_group != NULL) {
		struct group	*gr = getgrnam(cfg->status_group);

		if (gr == NULL) {
			log_warnx("%s:%d: status socket: unknown group \"%s\"",
			    cfg->status_at.file, cfg->status_at.line,
			    cfg->status_group);
			errors++;
		} else
			cfg->status_gid = gr->gr_gid;
	}
	errors += rules_check(cfg);
	if (cfg->defer_accept && cfg->silence_ms > 0) {
		log_warnx("%s:%d: defer-accept: match silence times the "
		    "silence from the accept, which a silent client would "
		    "reach a second late", cfg->at_defer.file,
		    cfg->at_defer.line);
		errors++;
	}
	errors += cluster_conf_finish(cfg);
	if (cfg->nservices > 1)
		qsort(cfg->services, cfg->nservices, sizeof(*cfg->services),
		    service_cmp);
	return errors ? -1 : 0;
}

/* "file:line: " of a global statement, or "" when it was not written. */
static const char *
at_text(const struct srcloc *at, char *buf, size_t len)
{
	if (at->file == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, len, "%s:%d: ", at->file, at->line);
	return buf;
}

/* What a service's program and directory must be when it is started. */
static int
service_check(const struct service *s)
{
	struct stat	 st;
	const char	*why;
	char		 where[PATH_MAX + 32];
	int		 errors = 0;

	if (s->forward_host == NULL && s->argv != NULL && s->argv[0] != NULL) {
		if (stat(s->argv[0], &st) == -1) {
			log_warnx("%s: command %s: %s", service_where(s,
			    &s->at_command, where, sizeof(where)), s->argv[0],
			    strerror(errno));
			errors++;
		} else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
			log_warnx("%s: command %s: not an executable file",
			    service_where(s, &s->at_command, where,
			    sizeof(where)), s->argv[0]);
			errors++;
		}
	}
	if (s->chdir != NULL) {
		why = NULL;
		if (stat(s->chdir, &st) == -1)
			why = strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			why = "not a directory";
		if (why != NULL) {
			log_warnx("%s: chdir %s: %s", service_where(s,
			    &s->at_chdir, where, sizeof(where)), s->chdir,
			    why);
			errors++;
		}
	}
	return errors;
}

/*
 * As root the frontend and the relay drop to cfg->user inside cfg->chroot
 * (privdrop.c), which refuses root and a root someone else could write:
 * said here, at the statement, so that -n tells and a start stops before
 * anything runs. A missing chroot is made at start.
 */
static int
frontend_check(const struct config *cfg)
{
	struct passwd	*pw;
	struct stat	 st;
	char		 at[PATH_MAX + 32];
	int		 errors = 0;

	if ((pw = getpwnam(cfg->user)) == NULL &&
	    strcmp(cfg->user, ONEPORTD_USER) != 0) {
		log_warnx("%suser %s: no such user", at_text(&cfg->at_user,
		    at, sizeof(at)), cfg->user);
		errors++;
	} else if (pw != NULL && pw->pw_uid == 0) {
		log_warnx("%suser %s: the frontend must not run as root",
		    at_text(&cfg->at_user, at, sizeof(at)), cfg->user);
		errors++;
	}
	if (stat(cfg->chroot, &st) == -1) {
		if (errno == ENOENT)
			return errors;
		log_warnx("%schroot %s: %s", at_text(&cfg->at_chroot, at,
		    sizeof(at)), cfg->chroot, strerror(errno));
		errors++;
	} else if (!S_ISDIR(st.st_mode)) {
		log_warnx("%schroot %s: not a directory", at_text(
		    &cfg->at_chroot, at, sizeof(at)), cfg->chroot);
		errors++;
	} else if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
		log_warnx("%schroot %s: must be owned by root and writable by "
		    "no one else (owner uid %d, mode %04o)", at_text(
		    &cfg->at_chroot, at, sizeof(at)), cfg->chroot,
		    (int)st.st_uid, (unsigned)(st.st_mode & 07777));
		errors++;
	}
	return errors;
}

/*
 * What would fail once started, checked on the system now so that -n
 * says it and a start stops before it detaches: each service's program
 * and directory, and at start (frontend 1) the frontend's user and root.
 * Every problem is logged; -1 if there was one.
 */
int
config_check(const struct config *cfg, int frontend)
{
	int	i, errors = 0;

	for (i = 0; i < cfg->nservices; i++)
		errors += service_check(&cfg->services[i]);
	if (frontend && geteuid() == 0)
		errors += frontend_check(cfg);
	return errors ? -1 : 0;
}

/* name need not be lower case; valid after config_finish sorted. */
struct service *
config_find(const struct config *cfg, const char *name)
{
	struct service	 key;
	size_t		 i, len = strlen(name);

	if (len > SERVICE_NAME_MAX || cfg->nservices == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	for (i = 0; i < len; i++)
		key.name[i] = (char)tolower((unsigned char)name[i]);
	return bsearch(&key, cfg->services, cfg->nservices,
	    sizeof(*cfg->services), service_cmp);
}

/* Appends a copy of s; v may be NULL. Never returns NULL. */
char **
strv_add(char **v, const char *s)
{
	char	**nv, *dup;
	size_t	  n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	/* The copy first: a failure leaves v as it was, still the owner's. */
	dup = xstrdup(s);
	if ((nv = reallocarray(v, n + 2, sizeof(*nv))) == NULL) {
		free(dup);
		config_nomem("config: reallocarray");
	}
	nv[n] = dup;
	nv[n + 1] = NULL;
	return nv;
}

void
strv_free(char **v)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
