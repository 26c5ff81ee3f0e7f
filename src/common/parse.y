/* SPDX-License-Identifier: ISC */
/*
 * parse.y: the oneportd.conf grammar and its lexer. Every problem is logged
 * as "file:line: message" and parsing goes on to the end, so one run shows
 * them all; parse_config then returns -1.
 */

%code requires {
#include "config.h"
/* A token's place: the file it came from, not the one being read when an
 * error is noticed (the parser may have read on into an include). */
typedef struct srcloc yyltype;
#define YYLTYPE			yyltype
#define YYLTYPE_IS_DECLARED	1
#define YYLLOC_DEFAULT(cur, rhs, n) do {				\
	if (n)								\
		(cur) = YYRHSLOC(rhs, 1);				\
	else								\
		(cur) = YYRHSLOC(rhs, 0);				\
} while (0)
}

%code {
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "log.h"

#define MAX_INCLUDE	8	/* nested includes under the top file */
#define MAX_TOKEN	4096	/* bytes in one word or quoted string */
#define MAX_COUNT	1000000
#define MAX_TIMEOUT_MS	(3600 * 1000)

struct file {
	FILE		*stream;
	const char	*name;		/* interned in conf->files */
	dev_t		 dev;
	ino_t		 ino;
	int		 lineno;
	int		 eol_owed;	/* ends the include statement */
	int		 eof;		/* the final EOL was returned */
	char		**pending;	/* an include pattern's files to read */
	size_t		 npending;	/* read (or tried) so far */
	YYLTYPE		 pending_from;	/* that include statement */
};

int			 parse_secrecy = 1;	/* see secrecy() */

/* The parse is not reentrant; this state lives for one parse_config. */
static struct file	 files[MAX_INCLUDE + 1];
static int		 nfiles;
static struct config	*conf;
static struct service	*svc;		/* the block being filled */
static struct cluster_conf *cl;		/* the cluster block; NULL: ignored */
static struct service	 scratch;	/* a rejected service's block */
static int		 errors;
static char		 lastword[48];	/* last STRING, for messages */
static int		 at_start;	/* the last token ended a statement
					 * or opened a block */
static int		 tok_at_start;	/* so the one before the last did */

static int	 yylex(YYSTYPE *, YYLTYPE *);
static void	 yyerror(const YYLTYPE *, const char *);
static void	 perr(const YYLTYPE *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 secrecy(const YYLTYPE *, const char *, const struct stat *);
static int	 file_push(const char *, const YYLTYPE *);
static void	 file_pop(void);
static char	*include_path(const char *, const char *);
static void	 include_files(const YYLTYPE *, const char *);
static void	 include_next(void);
static int	 number(const YYLTYPE *, const char *, const char *,
		    long long, long long, int *);
static int	 timeout(const YYLTYPE *, const char *, const char *, int *);
static void	 match_stmt(const YYLTYPE *, char **);
static void	 proxy_stmt(const YYLTYPE *, char **);
static void	 acl_stmt(const YYLTYPE *, struct service *, int, char **);
static void	 pending(const YYLTYPE *, char *);
static int	 flag(const YYLTYPE *, const char *, const char *,
		    const char *, const char *, int, int *);
static void	 printable(char *, size_t, const char *);
static const char *safe(const char *);
static int	 nonempty(const YYLTYPE *, const char *, const char *);
static int	 absolute(const YYLTYPE *, const char *, const char *);
static void	 service_begin(const YYLTYPE *, const char *);
static void	 env_set(const YYLTYPE *, char **);
static int	 redirect_host_valid(const char *);
static void	 forward_stmt(const YYLTYPE *, const char *, const char *);
static void	 proxy_out_stmt(const YYLTYPE *, const char *);
static void	 status_stmt(const YYLTYPE *, char *, char *);
static void	 cluster_opt(const YYLTYPE *, const char *, char **,
		    const char *);
}

%define api.pure full
%define parse.error custom
/* An error is seen before the statement is reduced, so recovery stays in
 * the block ("user x on" inside one was taken for a global error). */
%define lr.default-reduction consistent
%locations

%union {
	char	 *string;
	char	**strv;
}

%token	CHDIR "chdir" CHROOT "chroot" COMMAND "command" CONTROL "control"
%token	OWNER "owner" REGISTER "register" SOCKET "socket"
%token	REDIRECT "redirect" IDLE "idle" TOKEN "token" PORTS "ports" TO "to"
%token	DEFAULTS "defaults" ENV "env" GROUP "group" GROUPS "groups"
%token	DEFERACCEPT "defer-accept"
%token	HELP "help" HIDDEN "hidden" INCLUDE "include"
%token	INSTANCES "instances" LISTEN "listen" MAX "max"
%token	MAXLINE "max-line" ON "on" PENDING "pending"
%token	PERADDRESS "per-address" PORT "port" REPLY "reply"
%token	SERVICE "service" TIMEOUT "timeout" USER "user" VISIBLE "visible"
%token	MATCH "match" PROXY "proxy"	/* only where a statement starts */
%token	FORWARD "forward" RELAYS "relays"
%token	ALLOW "allow" DENY "deny"	/* only where a statement starts */
%token	STATUS "status" METRICS "metrics"	/* where a statement starts */
%token	CLUSTER "cluster" EXPORT "export"	/* where a statement starts */
%token	EOL "end of line"
%token	LEXERROR
%token	<string> STRING
%type	<strv> strings
%destructor { free($$); } <string>
%destructor { strv_free($$); } <strv>

%%

grammar		: %empty
		| grammar EOL
		| grammar include EOL
		| grammar global EOL
		| grammar block EOL
		| grammar cluster EOL
		| grammar error EOL		{ yyerrok; }
		| grammar error '{'		{
			/* A bad block head: its body is read, into
			 * scratch, so its lines are not errors too. */
			service_clear(&scratch);
			svc = &scratch;
		} blockbody '}' EOL		{ svc = NULL; yyerrok; }
		;

include		: INCLUDE STRING		{
			include_files(&@1, $2);
			free($2);
		}
		;

global		: LISTEN ON STRING PORT STRING	{
			char	host[48], port[48];

			if (config_add_listener(conf, $3, $5) == -1) {
				printable(host, sizeof(host), $3);
				printable(port, sizeof(port), $5);
				perr(&@1, "listen on %s port %s: %s", host,
				    port, config_error());
			}
			free($3);
			free($5);
		}
		| LISTEN ON STRING		{
			/* The tcpmux port, as RFC 1078 assigns. */
			if (config_add_listener(conf, $3, "1") == -1)
				perr(&@1, "listen on %s: %s", safe($3),
				    config_error());
			free($3);
		}
		| TIMEOUT STRING		{
			int	ms;

			if (timeout(&@2, "timeout", $2, &ms) == 0)
				conf->timeout_ms = ms;
			free($2);
		}
		| MAXLINE STRING		{
			int	n;

			/* A longest query ("?", name, CRLF) must fit. */
			if (number(&@2, "max-line", $2, SERVICE_NAME_MAX + 3,
			    MAX_LINE_LIMIT, &n) == 0)
				conf->max_line = n;
			free($2);
		}
		| MAX PENDING STRING		{
			pending(&@3, $3);
			free($3);
		}
		| MAX PENDING PERADDRESS STRING	{
			int	n;

			if (number(&@4, "max pending per-address", $4, 1,
			    MAX_COUNT, &n) == 0)
				conf->max_pending_addr = n;
			free($4);
		}
		| MAX RELAYS STRING		{
			int	n;

			if (number(&@3, "max relays", $3, 1, MAX_COUNT,
			    &n) == 0)
				conf->max_relays = n;
			free($3);
		}
		| DEFERACCEPT ON		{
			conf->defer_accept = 1;
			conf->at_defer = @1;
		}
		| DEFERACCEPT STRING		{
			flag(&@2, "defer-accept", $2, "on", "off", 1,
			    &conf->defer_accept);
			conf->at_defer = @1;
			free($2);
		}
		| HELP ON			{ conf->help = 1; }
		| HELP STRING			{
			flag(&@2, "help", $2, "on", "off", 1, &conf->help);
			free($2);
		}
		| USER STRING			{
			if (nonempty(&@2, "user", $2) == 0) {
				free(conf->user);
				conf->user = $2;
				conf->at_user = @1;
			} else
				free($2);
		}
		| CHROOT STRING			{
			if (absolute(&@2, "chroot", $2) == 0) {
				free(conf->chroot);
				conf->chroot = $2;
				conf->at_chroot = @1;
			} else
				free($2);
		}
		| PORTS STRING			{
			char	*dash = strchr($2, '-');
			int	 lo, hi;

			if (dash == NULL) {
				perr(&@2, "ports: expected LOW-HIGH");
			} else {
				*dash = '\0';
				if (number(&@2, "ports", $2, 1024, 65535,
				    &lo) == 0 && number(&@2, "ports", dash + 1,
				    1024, 65535, &hi) == 0) {
					if (lo > hi)
						perr(&@2, "ports: %d > %d", lo,
						    hi);
					else {
						conf->port_lo = lo;
						conf->port_hi = hi;
					}
				}
			}
			free($2);
		}
		| CONTROL STRING		{
			if (absolute(&@2, "control", $2) == 0) {
				free(conf->control);
				conf->control = $2;
			} else
				free($2);
		}
		| STATUS SOCKET STRING		{
			status_stmt(&@3, $3, NULL);
		}
		| STATUS SOCKET STRING GROUP STRING {
			status_stmt(&@3, $3, $5);
			conf->status_at = @5;
		}
		| STATUS STRING			{
			if (strcmp($2, "off") == 0) {
				status_stmt(&@2, NULL, NULL);
			} else
				perr(&@2, "status: expected socket \"PATH\" "
				    "[group NAME], or off");
			free($2);
		}
		| METRICS ON STRING PORT STRING	{
			char	host[48], port[48];

			if (config_add_metrics(conf, $3, $5) == -1) {
				printable(host, sizeof(host), $3);
				printable(port, sizeof(port), $5);
				perr(&@1, "metrics on %s port %s: %s", host,
				    port, config_error());
			}
			free($3);
			free($5);
		}
		| REGISTER STRING USER STRING	{
			struct regrule	*r;
			char		*p;

			if (nonempty(&@2, "register", $2) == 0 &&
			    nonempty(&@4, "user", $4) == 0) {
				if ((r = reallocarray(conf->regrules,
				    conf->nregrules + 1, sizeof(*r))) == NULL)
					config_nomem("parse: reallocarray");
				conf->regrules = r;
				r = &conf->regrules[conf->nregrules++];
				for (p = $2; *p != '\0'; p++)
					*p = tolower((unsigned char)*p);
				r->pattern = $2;
				r->user = $4;
				r->uid = 0;
				r->at = @4;
			} else {
				free($2);
				free($4);
			}
		}
		| PROXY strings			{
			proxy_stmt(&@1, $2);
			strv_free($2);
		}
		| PROXY				{
			perr(&@1, "proxy: expected from ADDRESS[/PREFIX]...");
		}
		| ALLOW strings			{
			acl_stmt(&@1, NULL, 0, $2);
			strv_free($2);
		}
		| DENY strings			{
			acl_stmt(&@1, NULL, 1, $2);
			strv_free($2);
		}
		| ALLOW				{ acl_stmt(&@1, NULL, 0, NULL); }
		| DENY				{ acl_stmt(&@1, NULL, 1, NULL); }
		| MATCH strings			{
			perr(&@1, "match is a service option");
			strv_free($2);
		}
		| MATCH				{
			perr(&@1, "match is a service option");
		}
		;

block		: blockhead '{' blockbody '}'	{ svc = NULL; }
		;

cluster		: clusterhead '{' clusterbody '}'	{ cl = NULL; }
		;

clusterhead	: CLUSTER			{
			if ((cl = cluster_conf_new(conf, @1.file,
			    @1.line)) == NULL)
				perr(&@1, "a second cluster block");
		}
		;

clusterbody	: clusteropts
		| clusteropts clusteropt
		;

clusteropts	: %empty
		| clusteropts EOL
		| clusteropts clusteropt EOL
		| clusteropts error EOL		{ yyerrok; }
		;

clusteropt	: STRING strings		{
			cluster_opt(&@1, $1, $2, NULL);
			free($1);
			strv_free($2);
		}
		| STRING strings PORT STRING	{
			cluster_opt(&@1, $1, $2, $4);
			free($1);
			strv_free($2);
			free($4);
		}
		| STRING			{
			cluster_opt(&@1, $1, NULL, NULL);
			free($1);
		}
		;

blockhead	: SERVICE STRING		{
			service_begin(&@2, $2);
			free($2);
		}
		| DEFAULTS			{ svc = &conf->defaults; }
		;

/* Options one per line; the last one may share the line of the '}'. */
blockbody	: optlist
		| optlist option
		| optlist error			{ yyerrok; }	/* at the '}' */
		;

optlist		: %empty
		| optlist EOL
		| optlist option EOL
		| optlist error EOL		{ yyerrok; }
		;

option		: COMMAND strings		{
			if (svc == &conf->defaults)
				perr(&@1, "command is not allowed in defaults");
			else if (absolute(&@2, "command", $2[0]) == 0) {
				strv_free(svc->argv);
				svc->argv = $2;
				svc->at_command = @1;
				$2 = NULL;
			}
			strv_free($2);
		}
		| USER STRING			{
			if (nonempty(&@2, "user", $2) == 0) {
				free(svc->user);
				svc->user = $2;
				svc->at_user = @1;
			} else
				free($2);
		}
		| GROUP STRING			{
			if (nonempty(&@2, "group", $2) == 0) {
				free(svc->group);
				svc->group = $2;
				svc->at_group = @1;
			} else
				free($2);
		}
		| GROUPS strings		{
			size_t	i;
			int	bad = 0;

			/* The statement gives the whole list. */
			for (i = 0; $2[i] != NULL; i++)
				bad |= nonempty(&@2, "groups", $2[i]);
			if (!bad) {
				strv_free(svc->groups);
				svc->groups = $2;
				svc->at_groups = @1;
			} else
				strv_free($2);
		}
		| CHDIR STRING			{
			if (absolute(&@2, "chdir", $2) == 0) {
				free(svc->chdir);
				svc->chdir = $2;
				svc->at_chdir = @1;
			} else
				free($2);
		}
		| ENV strings			{
			env_set(&@2, $2);
			strv_free($2);
		}
		| MAX INSTANCES STRING		{
			number(&@3, "max instances", $3, 0, MAX_COUNT,
			    &svc->max_instances);
			free($3);
		}
		| MAX PERADDRESS STRING		{
			number(&@3, "max per-address", $3, 0, MAX_COUNT,
			    &svc->max_per_addr);
			free($3);
		}
		| VISIBLE ON			{ svc->visible = 1; }
		| VISIBLE STRING		{
			flag(&@2, "visible", $2, "yes", "no", 1,
			    &svc->visible);
			free($2);
		}
		| HIDDEN			{ svc->visible = 0; }
		| REPLY STRING			{
			flag(&@2, "reply", $2, "self", "daemon", 0,
			    &svc->reply_self);
			free($2);
		}
		| SOCKET STRING			{
			if (svc == &conf->defaults)
				perr(&@1, "socket is not allowed in defaults");
			else if (absolute(&@2, "socket", $2) == 0) {
				free(svc->socket);
				svc->socket = $2;
				svc->at_socket = @1;
				$2 = NULL;
			}
			free($2);
		}
		| REDIRECT STRING		{
			svc->at_redirect = @1;
			if (strcmp($2, "shared") == 0)
				svc->redirect = REDIRECT_SHARED;
			else if (strcmp($2, "per-request") == 0)
				svc->redirect = REDIRECT_PER_REQUEST;
			else
				perr(&@2, "redirect: expected shared, "
				    "per-request or to HOST port N");
			free($2);
		}
		| REDIRECT TO STRING PORT STRING {
			int	n;

			if (svc == &conf->defaults)
				perr(&@1, "redirect to is not allowed in "
				    "defaults");
			else if (!redirect_host_valid($3))
				perr(&@3, "redirect to \"%s\": not a host name "
				    "or address", safe($3));
			else if (number(&@5, "port", $5, 1, 65535, &n) == 0) {
				svc->redirect = REDIRECT_STATIC;
				svc->at_redirect = @1;
				free(svc->redirect_host);
				svc->redirect_host = $3;
				svc->redirect_port = n;
				$3 = NULL;
			}
			free($3);
			free($5);
		}
		| IDLE STRING			{
			if (number(&@2, "idle", $2, 1, 86400,
			    &svc->idle_s) == 0)
				svc->idle_given = 1;
			free($2);
		}
		| FORWARD TO STRING PORT STRING	{
			forward_stmt(&@1, $3, $5);
			free($3);
			free($5);
		}
		| FORWARD TO STRING		{
			forward_stmt(&@1, $3, NULL);
			free($3);
		}
		| EXPORT			{ svc->export = 1; }
		| TOKEN STRING			{
			flag(&@2, "token", $2, "yes", "no", 0, &svc->token);
			free($2);
		}
		| OWNER STRING			{
			if (nonempty(&@2, "owner", $2) == 0) {
				free(svc->owner);
				svc->owner = $2;
				svc->at_owner = @1;
			} else
				free($2);
		}
		| MATCH strings			{
			match_stmt(&@1, $2);
			strv_free($2);
		}
		| ALLOW strings			{
			acl_stmt(&@1, svc, 0, $2);
			strv_free($2);
		}
		| DENY strings			{
			acl_stmt(&@1, svc, 1, $2);
			strv_free($2);
		}
		| ALLOW				{ acl_stmt(&@1, svc, 0, NULL); }
		| DENY				{ acl_stmt(&@1, svc, 1, NULL); }
		| MATCH				{
			perr(&@1, "match: expected tls, http, ssh or silence");
		}
		| PROXY strings			{
			/* "proxy v1|v2|none" here; "proxy from" is global. */
			if (strcmp($2[0], "from") == 0)
				perr(&@1, "proxy from is a global option");
			else if ($2[1] != NULL)
				perr(&@1, "proxy: expected v1, v2 or none");
			else
				proxy_out_stmt(&@2, $2[0]);
			strv_free($2);
		}
		| PROXY				{
			perr(&@1, "proxy: expected v1, v2 or none (or, as a "
			    "global option, from ADDRESS[/PREFIX]...)");
		}
		;

strings		: STRING			{
			$$ = strv_add(NULL, $1);
			free($1);
		}
		| strings STRING		{
			$$ = strv_add($1, $2);
			free($2);
		}
		;

%%

struct keyword {
	const char	*name;
	int		 token;
};

/* Sorted for bsearch. */
static const struct keyword keywords[] = {
	{ "chdir",		CHDIR },
	{ "chroot",		CHROOT },
	{ "command",		COMMAND },
	{ "control",		CONTROL },
	{ "defaults",		DEFAULTS },
	{ "defer-accept",	DEFERACCEPT },
	{ "env",		ENV },
	{ "group",		GROUP },
	{ "groups",		GROUPS },
	{ "help",		HELP },
	{ "hidden",		HIDDEN },
	{ "idle",		IDLE },
	{ "include",		INCLUDE },
	{ "instances",		INSTANCES },
	{ "listen",		LISTEN },
	{ "max",		MAX },
	{ "max-line",		MAXLINE },
	{ "on",			ON },
	{ "owner",		OWNER },
	{ "pending",		PENDING },
	{ "per-address",	PERADDRESS },
	{ "port",		PORT },
	{ "ports",		PORTS },
	{ "redirect",		REDIRECT },
	{ "register",		REGISTER },
	{ "relays",		RELAYS },
	{ "reply",		REPLY },
	{ "service",		SERVICE },
	{ "socket",		SOCKET },
	{ "timeout",		TIMEOUT },
	{ "to",			TO },
	{ "token",		TOKEN },
	{ "user",		USER },
	{ "visible",		VISIBLE },
};

static int
keyword_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->name);
}

static void
perr(const YYLTYPE *loc, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	errors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (loc != NULL && loc->file != NULL)
		log_warnx("%s:%d: %s", loc->file, loc->line, msg);
	else
		log_warnx("%s", msg);
}

/* Only bison's own failures ("memory exhausted") come here. */
static void
yyerror(const YYLTYPE *loc, const char *msg)
{
	perr(loc, "%s", msg);
}

static const char *
symbol_text(yysymbol_kind_t sym)
{
	static char	 buf[sizeof(lastword) + 2];
	const char	*name;

	switch (sym) {
	case YYSYMBOL_STRING:
		snprintf(buf, sizeof(buf), "\"%s\"", lastword);
		return buf;
	case YYSYMBOL_EOL:
		return "end of line";
	case YYSYMBOL_YYEOF:
		return "end of file";
	default:
		/* Keywords in quotes, as they are written. */
		name = yysymbol_name(sym);
		if (name[0] < 'a' || name[0] > 'z')
			return name;
		snprintf(buf, sizeof(buf), "\"%s\"", name);
		return buf;
	}
}

/*
 * Edit distance (optimal string alignment: a swap of two neighbours is
 * one edit), case-blind, of words up to 31 bytes; more is "far".
 */
static int
distance(const char *a, const char *b)
{
	int	d[32][32], la = strlen(a), lb = strlen(b), i, j, c, v;

	if (la > 31 || lb > 31)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			c = tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]);
			v = d[i - 1][j - 1] + c;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* Keywords are named as written, in lower case. */
static int
is_keyword(yysymbol_kind_t sym)
{
	const char	*name = yysymbol_name(sym);

	return sym != YYSYMBOL_EOL && name[0] >= 'a' && name[0] <= 'z';
}

/* The keyword the parser could take here that word is closest to: one
 * edit away for short keywords, two for longer; NULL if none is. */
static const char *
nearest(const char *word, const yysymbol_kind_t *exp, int n)
{
	const char	*name, *best = NULL;
	int		 i, dist, bestdist = 99;

	for (i = 0; i < n; i++) {
		if (!is_keyword(exp[i]))
			continue;
		name = yysymbol_name(exp[i]);
		dist = distance(word, name);
		if (dist < bestdist && dist <= (strlen(name) > 4 ? 2 : 1)) {
			best = name;
			bestdist = dist;
		}
	}
	return best;
}

/*
 * One message per mistake, at the token that made it: an unknown word
 * where a statement starts (with the keyword it is closest to), a
 * keyword where a value was wanted (quote it), or what was expected.
 */
static int
yyreport_syntax_error(const yypcontext_t *ctx)
{
	yysymbol_kind_t	 tok = yypcontext_token(ctx), exp[YYNTOKENS];
	const YYLTYPE	*loc = yypcontext_location(ctx);
	const char	*near = NULL, *what;
	char		 msg[256], hint[160] = "";
	size_t		 len;
	int		 i, n, value = 0;

	/* The lexer has said what was wrong with this one. */
	if (tok == YYSYMBOL_LEXERROR)
		return 0;
	if (tok == YYSYMBOL_YYEOF) {
		perr(loc, "end of file inside a block (missing '}'?)");
		return 0;
	}
	n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
	for (i = 0; i < n; i++)
		value |= exp[i] == YYSYMBOL_STRING;
	if (tok == YYSYMBOL_STRING)
		near = nearest(lastword, exp, n);
	if (near != NULL)
		snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", near);
	else if (value && is_keyword(tok))
		snprintf(hint, sizeof(hint), " (\"%s\" is a keyword: write "
		    "'%s' to use it as a value)", lastword, lastword);
	what = svc != NULL ? "service option" : "keyword";
	if (tok_at_start && tok == YYSYMBOL_STRING) {
		perr(loc, "unknown %s \"%s\"%s", what, lastword, hint);
		return 0;
	}
	if (tok_at_start && is_keyword(tok)) {
		perr(loc, "\"%s\" is not a %s", lastword, svc != NULL ?
		    "service option" : "global option");
		return 0;
	}
	len = (size_t)snprintf(msg, sizeof(msg), "syntax error: unexpected %s",
	    symbol_text(tok));
	if (n > 4)
		n = 0;
	for (i = 0; i < n && len < sizeof(msg); i++) {
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s",
		    i == 0 ? ", expecting " : i == n - 1 ? " or " : ", ",
		    exp[i] == YYSYMBOL_STRING ? "a value" :
		    symbol_text(exp[i]));
	}
	perr(loc, "%s%s", msg, hint);
	return 0;
}

/* The rest of a bad line is skipped; its newline still ends the statement. */
static int
lex_fail(struct file *f, int c)
{
	while (c != '\n' && c != EOF)
		c = getc(f->stream);
	if (c == '\n')
		ungetc(c, f->stream);
	return LEXERROR;
}

static int
word_char(int c)
{
	return c > ' ' && c < 0x7f && strchr("\"'{};#\\", c) == NULL;
}

/* s for a message: cut to size - 4 bytes, "?" for what is not printable. */
static void
printable(char *dst, size_t size, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i < size - 4; i++)
		dst[i] = (s[i] >= ' ' && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* One per message: the buffer is reused. */
static const char *
safe(const char *s)
{
	static char	buf[48];

	printable(buf, sizeof(buf), s);
	return buf;
}

/*
 * Tokens: '{', '}', EOL (a newline or ';'), and words. A bare word is
 * printable ASCII up to a blank or one of "'{};#\ and is a keyword if it
 * is in the table, or "match", "proxy", "forward", "allow" or "deny"
 * where a statement starts (so a command's argument of that name stays one); a quoted word
 * ("..." or '...', one line, \" and \\ the only escapes) never is. '#'
 * starts a comment; a backslash at the end of a line continues it.
 */
static int
lex_token(YYSTYPE *lval, YYLTYPE *lloc)
{
	char			 buf[MAX_TOKEN];
	const struct keyword	*kw;
	struct file		*f;
	size_t			 len = 0;
	int			 c, quote;

top:
	f = &files[nfiles - 1];
	lloc->file = f->name;
	lloc->line = f->lineno;
	if (f->eol_owed) {
		f->eol_owed = 0;
		return EOL;
	}
	do {
		/* A backslash at the end of a line joins it to the next. */
		if ((c = getc(f->stream)) == '\\') {
			if ((c = getc(f->stream)) == '\n') {
				f->lineno++;
				c = ' ';
				continue;
			}
			ungetc(c, f->stream);
			c = '\\';
		}
	} while (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v');
	lloc->line = f->lineno;
	if (c == '#')
		while ((c = getc(f->stream)) != '\n' && c != EOF)
			;

	switch (c) {
	case EOF:
		if (ferror(f->stream)) {
			perr(lloc, "read error: %s", strerror(errno));
			clearerr(f->stream);
			fseek(f->stream, 0, SEEK_END);
		}
		/* Every file's last statement ends, newline or not. */
		if (!f->eof) {
			f->eof = 1;
			return EOL;
		}
		if (nfiles == 1)
			return YYEOF;
		file_pop();
		include_next();
		goto top;
	case '\n':
		f->lineno++;
		return EOL;
	case ';':
		return EOL;
	case '{':
	case '}':
		return c;
	case '"':
	case '\'':
		quote = c;
		for (;;) {
			if ((c = getc(f->stream)) == quote)
				break;
			/* Only \\ and \quote escape: "%s\n" stays as is. */
			if (c == '\\') {
				c = getc(f->stream);
				if (c != quote && c != '\\') {
					ungetc(c, f->stream);
					c = '\\';
				}
			}
			if (c == '\n' || c == EOF) {
				perr(lloc, "unterminated quoted string");
				return lex_fail(f, c);
			}
			if (c == '\0') {
				perr(lloc, "NUL byte in a quoted string");
				return lex_fail(f, c);
			}
			if (len == sizeof(buf) - 1) {
				perr(lloc, "quoted string longer than %zu "
				    "bytes", sizeof(buf) - 1);
				return lex_fail(f, c);
			}
			buf[len++] = (char)c;
		}
		buf[len] = '\0';
		if ((lval->string = strdup(buf)) == NULL)
			config_nomem("parse: strdup");
		printable(lastword, sizeof(lastword), buf);
		return STRING;
	}

	if (!word_char(c)) {
		if (c > ' ' && c < 0x7f)
			perr(lloc, "unexpected character '%c'", c);
		else
			perr(lloc, "unexpected byte 0x%02x", (unsigned)c);
		return lex_fail(f, c);
	}
	do {
		if (len == sizeof(buf) - 1) {
			perr(lloc, "word longer than %zu bytes",
			    sizeof(buf) - 1);
			return lex_fail(f, c);
		}
		buf[len++] = (char)c;
	} while (word_char(c = getc(f->stream)));
	ungetc(c, f->stream);
	buf[len] = '\0';
	printable(lastword, sizeof(lastword), buf);
	kw = bsearch(buf, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), keyword_cmp);
	if (kw != NULL)
		return kw->token;
	if (at_start && strcmp(buf, "match") == 0)
		return MATCH;
	if (at_start && strcmp(buf, "proxy") == 0)
		return PROXY;
	if (at_start && strcmp(buf, "forward") == 0)
		return FORWARD;
	if (at_start && strcmp(buf, "allow") == 0)
		return ALLOW;
	if (at_start && strcmp(buf, "deny") == 0)
		return DENY;
	if (at_start && strcmp(buf, "status") == 0)
		return STATUS;
	if (at_start && strcmp(buf, "metrics") == 0)
		return METRICS;
	if (at_start && strcmp(buf, "cluster") == 0)
		return CLUSTER;
	if (at_start && strcmp(buf, "export") == 0)
		return EXPORT;
	if ((lval->string = strdup(buf)) == NULL)
		config_nomem("parse: strdup");
	return STRING;
}

static int
yylex(YYSTYPE *lval, YYLTYPE *lloc)
{
	int	tok = lex_token(lval, lloc);

	tok_at_start = at_start;
	at_start = tok == EOL || tok == '{';
	return tok;
}

/*
 * name as the including file sees it: relative to that file's directory,
 * so a tree of config files can be moved as a whole.
 */
static char *
include_path(const char *from, const char *name)
{
	const char	*slash;
	char		*path;

	if (name[0] == '/' || (slash = strrchr(from, '/')) == NULL) {
		if ((path = strdup(name)) == NULL)
			config_nomem("parse: strdup");
		return path;
	}
	if (asprintf(&path, "%.*s/%s", (int)(slash - from), from, name) == -1)
		config_nomem("parse: asprintf");
	return path;
}

/* A pattern's directory may hold glob characters; they are its own. */
static char *
glob_escape(const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		*out, *o;
	size_t		 i;

	if ((out = malloc(2 * strlen(path) + 1)) == NULL)
		config_nomem("parse: malloc");
	for (i = 0, o = out; path[i] != '\0'; i++) {
		if (slash != NULL && path + i < slash &&
		    strchr("*?[]\\", path[i]) != NULL)
			*o++ = '\\';
		*o++ = path[i];
	}
	*o = '\0';
	return out;
}

static int
path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * "include PATTERN": a file, or with *, ? or [ a shell pattern of
 * glob(3) whose files are read one after the other in the byte order of
 * their names (conf.d/10-a.conf before conf.d/20-b.conf), each checked
 * as the top file is. A pattern may match nothing: a conf.d/ of no
 * package yet. A name without a pattern must exist.
 */
static void
include_files(const YYLTYPE *from, const char *pattern)
{
	struct file	*f = &files[nfiles - 1];
	glob_t		 g;
	char		*path, *pat;
	size_t		 i;
	int		 rv;

	path = include_path(from->file, pattern);
	if (strpbrk(pattern, "*?[") == NULL) {
		file_push(path, from);
		free(path);
		return;
	}
	pat = glob_escape(path);
	free(path);
	rv = glob(pat, GLOB_NOSORT, NULL, &g);
	free(pat);
	if (rv == GLOB_NOSPACE)
		config_nomem("parse: glob");
	if (rv == GLOB_ABORTED)
		perr(from, "include \"%s\": a directory cannot be read",
		    safe(pattern));
	if (rv != 0)
		return;
	qsort(g.gl_pathv, g.gl_pathc, sizeof(*g.gl_pathv), path_cmp);
	strv_free(f->pending);
	f->pending = NULL;
	for (i = 0; i < g.gl_pathc; i++)
		f->pending = strv_add(f->pending, g.gl_pathv[i]);
	f->npending = 0;
	f->pending_from = *from;
	globfree(&g);
	include_next();
}

/* The next file of the include being read in the file on top, if any. */
static void
include_next(void)
{
	struct file	*f = &files[nfiles - 1];

	while (f->pending != NULL && f->pending[f->npending] != NULL)
		if (file_push(f->pending[f->npending++], &f->pending_from) == 0)
			return;
	strv_free(f->pending);
	f->pending = NULL;
}

/*
 * A configuration says what runs as whom: one that someone else can
 * write is refused, as httpd's check_file_secrecy does. It must be
 * root's or, not running as root, ours; writable only by its owner, or
 * by its group when that is root's or ours. Checked on the open file.
 */
static int
secrecy(const YYLTYPE *from, const char *path, const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		perr(from, "%s: owned by uid %d, not by root%s: refused", path,
		    (int)st->st_uid, geteuid() == 0 ? "" : " or us");
		return -1;
	}
	if (st->st_mode & S_IWOTH) {
		perr(from, "%s: writable by others: refused", path);
		return -1;
	}
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 &&
	    st->st_gid != getegid()) {
		perr(from, "%s: writable by group %d: refused", path,
		    (int)st->st_gid);
		return -1;
	}
	return 0;
}

/* from is NULL for the top file, whose errors have no line yet. */
static int
file_push(const char *path, const YYLTYPE *from)
{
	struct file	*f;
	struct stat	 st;
	FILE		*fp;
	int		 i, fd = -1;

	if (nfiles > MAX_INCLUDE) {
		perr(from, "include \"%s\": nested more than %d deep", path,
		    MAX_INCLUDE);
		return -1;
	}
	/* Not blocking: a FIFO named by an include would hang a reload. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		perr(from, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (fstat(fileno(fp), &st) == -1) {
		perr(from, "%s: %s", path, strerror(errno));
		fclose(fp);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		perr(from, "%s: not a regular file", path);
		fclose(fp);
		return -1;
	}
	if (parse_secrecy && secrecy(from, path, &st) == -1) {
		fclose(fp);
		return -1;
	}
	for (i = 0; i < nfiles; i++) {
		if (files[i].dev == st.st_dev && files[i].ino == st.st_ino) {
			perr(from, "include loop: %s is already being read",
			    path);
			fclose(fp);
			return -1;
		}
	}
	f = &files[nfiles++];
	memset(f, 0, sizeof(*f));
	f->stream = fp;
	f->name = config_add_file(conf, path);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->lineno = 1;
	f->eol_owed = from != NULL;
	return 0;
}

static void
file_pop(void)
{
	strv_free(files[--nfiles].pending);
	fclose(files[nfiles].stream);
	memset(&files[nfiles], 0, sizeof(files[nfiles]));
}

/* A decimal in min..max; what names the statement in messages. */
static int
number(const YYLTYPE *loc, const char *what, const char *s, long long min,
    long long max, int *out)
{
	const char	*p;
	long long	 v = 0;

	if (*s == '\0') {
		perr(loc, "%s \"\": not a number", what);
		return -1;
	}
	for (p = s; *p >= '0' && *p <= '9'; p++)
		if (v <= max)
			v = v * 10 + (*p - '0');
	/* A negative number is one, below any range here. */
	if (*p == '-' && p == s && p[1] != '\0' &&
	    strspn(p + 1, "0123456789") == strlen(p + 1))
		v = -1;
	else if (*p != '\0') {
		perr(loc, "%s \"%s\": not a number", what, safe(s));
		return -1;
	}
	if (v < min || v > max) {
		perr(loc, "%s %s: out of range (%lld..%lld)", what, safe(s),
		    min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/*
 * "FULL", or OpenSSH's "START:RATE:FULL": early drop from START pending on,
 * RATE percent there; FULL alone starts at half of it, at 30 percent.
 */
static void
pending(const YYLTYPE *loc, char *s)
{
	char	*rate, *full;
	int	 st, r, f;

	if ((rate = strchr(s, ':')) == NULL) {
		if (number(loc, "max pending", s, 1, MAX_COUNT, &f) == 0) {
			conf->max_pending = f;
			conf->drop_start = f / 2;
			conf->drop_rate = DEF_DROP_RATE;
		}
		return;
	}
	if ((full = strchr(rate + 1, ':')) == NULL) {
		perr(loc, "max pending %s: want FULL or START:RATE:FULL",
		    safe(s));
		return;
	}
	*rate++ = '\0';
	*full++ = '\0';
	if (number(loc, "max pending", full, 1, MAX_COUNT, &f) == -1 ||
	    number(loc, "max pending start", s, 0, f, &st) == -1 ||
	    number(loc, "max pending rate", rate, 0, 100, &r) == -1)
		return;
	conf->max_pending = f;
	conf->drop_start = st;
	conf->drop_rate = r;
}

/* Seconds, "Ns" or "Nms"; what names the statement in messages. */
static int
timeout(const YYLTYPE *loc, const char *what, const char *s, int *ms)
{
	const char	*p;
	long long	 v = 0, scale;

	for (p = s; *p >= '0' && *p <= '9'; p++)
		if (v <= MAX_TIMEOUT_MS)
			v = v * 10 + (*p - '0');
	if (p == s)
		scale = -1;
	else if (*p == '\0' || strcmp(p, "s") == 0)
		scale = 1000;
	else if (strcmp(p, "ms") == 0)
		scale = 1;
	else
		scale = -1;
	if (scale == -1) {
		perr(loc, "%s \"%s\": expected seconds, \"Ns\" or "
		    "\"Nms\"", what, safe(s));
		return -1;
	}
	if (v > MAX_TIMEOUT_MS || v * scale < 1 ||
	    v * scale > MAX_TIMEOUT_MS) {
		perr(loc, "%s %s: out of range (1ms..%ds)", what, safe(s),
		    MAX_TIMEOUT_MS / 1000);
		return -1;
	}
	*ms = (int)(v * scale);
	return 0;
}

/* One of two words; a yes/no statement takes on/off as well. */
static int
flag(const YYLTYPE *loc, const char *what, const char *s, const char *on,
    const char *off, int yesno, int *out)
{
	if (strcmp(s, on) == 0 || (yesno && (strcmp(s, "yes") == 0 ||
	    strcmp(s, "on") == 0)))
		*out = 1;
	else if (strcmp(s, off) == 0 || (yesno && (strcmp(s, "no") == 0 ||
	    strcmp(s, "off") == 0)))
		*out = 0;
	else {
		perr(loc, "%s \"%s\": expected %s or %s", what, safe(s), on,
		    off);
		return -1;
	}
	return 0;
}

static int
nonempty(const YYLTYPE *loc, const char *what, const char *s)
{
	if (*s != '\0')
		return 0;
	perr(loc, "%s: empty name", what);
	return -1;
}

static int
absolute(const YYLTYPE *loc, const char *what, const char *s)
{
	if (s[0] == '/')
		return 0;
	perr(loc, "%s \"%s\": not an absolute path", what, safe(s));
	return -1;
}

/* "status socket PATH [group NAME]", or "status off" (path NULL); takes
 * both strings. */
static void
status_stmt(const YYLTYPE *loc, char *path, char *group)
{
	if (path != NULL && absolute(loc, "status socket", path) == -1) {
		free(path);
		free(group);
		return;
	}
	free(conf->status);
	free(conf->status_group);
	conf->status = path;
	conf->status_group = group;
	conf->status_given = 1;
}

/* A rejected service's block is still parsed, into scratch, for errors. */
static void
service_begin(const YYLTYPE *loc, const char *name)
{
	struct service	*s;

	service_clear(&scratch);
	if ((s = config_add_service(conf, name)) == NULL) {
		perr(loc, "%s", config_error());
		svc = &scratch;
		return;
	}
	s->file = loc->file;
	s->line = loc->line;
	svc = s;
}

/*
 * What a client will be told to call: a DNS name (253 octets at most,
 * letters, digits, hyphens, dots), an IPv4 literal, or "[" IPv6 "]".
 */
static int
redirect_host_valid(const char *h)
{
	size_t	len = strlen(h), i;

	if (len == 0 || len > 253)
		return 0;
	if (h[0] == '[')
		return len > 2 && h[len - 1] == ']' &&
		    strspn(h + 1, "0123456789abcdefABCDEF:.") == len - 2;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '.')
			return 0;
	return 1;
}

/*
 * "match PROTO ...": tls [sni PATTERN...] [alpn NAME...], http [host
 * PATTERN...], ssh, silence [TIME]. Words are split here, config.c checks
 * and expands them.
 */
static void
match_stmt(const YYLTYPE *loc, char **w)
{
	const char	*word, *lists[2] = { NULL, NULL };
	char		**hosts = NULL, **alpns = NULL, ***list = NULL;
	int		 proto, i, ms = DEF_SILENCE_MS, bad = 0, given[2] = { 0 };

	if (svc == &conf->defaults) {
		perr(loc, "match is not allowed in defaults");
		return;
	}
	for (proto = PROTO_TLS; proto < PROTO_MAX; proto++)
		if (config_proto_word(proto) != NULL &&
		    strcmp(w[0], config_proto_word(proto)) == 0)
			break;
	if (proto == PROTO_MAX) {
		perr(loc, "match \"%s\": expected tls, http, ssh or silence",
		    safe(w[0]));
		return;
	}
	word = w[0];
	if (proto == PROTO_TLS) {
		lists[0] = "sni";
		lists[1] = "alpn";
	} else if (proto == PROTO_HTTP)
		lists[0] = "host";
	for (i = 1; w[i] != NULL && !bad; i++) {
		if (lists[0] != NULL && strcmp(w[i], lists[0]) == 0) {
			bad = given[0]++;
			list = &hosts;
		} else if (lists[1] != NULL && strcmp(w[i], lists[1]) == 0) {
			bad = given[1]++;
			list = &alpns;
		} else if (proto == PROTO_SILENCE && i == 1) {
			bad = timeout(loc, "match silence", w[i], &ms) == -1;
			continue;
		} else if (list != NULL) {
			*list = strv_add(*list, w[i]);
			continue;
		} else {
			perr(loc, "match %s: unexpected \"%s\"%s", word,
			    safe(w[i]), proto == PROTO_TLS ? " (expected sni "
			    "or alpn)" : proto == PROTO_HTTP ? " (expected "
			    "host)" : "");
			bad = 1;
			continue;
		}
		if (bad)
			perr(loc, "match %s: %s given twice", word, w[i]);
	}
	if (!bad && ((given[0] && hosts == NULL) ||
	    (given[1] && alpns == NULL))) {
		perr(loc, "match %s: %s without a name", word,
		    given[0] && hosts == NULL ? lists[0] : lists[1]);
		bad = 1;
	}
	if (!bad && config_add_match(conf, svc, proto, hosts, alpns,
	    proto == PROTO_SILENCE ? ms : 0, loc->file, loc->line) == -1)
		perr(loc, "match %s: %s", word, config_error());
	strv_free(hosts);
	strv_free(alpns);
}

/* "proxy from ADDRESS[/PREFIX]...". */
static void
proxy_stmt(const YYLTYPE *loc, char **w)
{
	int	i;

	if (strcmp(w[0], "from") != 0 || w[1] == NULL) {
		perr(loc, "proxy: expected from ADDRESS[/PREFIX]...");
		return;
	}
	for (i = 1; w[i] != NULL; i++)
		if (config_add_proxy(conf, w[i]) == -1)
			perr(loc, "proxy from \"%s\": %s", safe(w[i]),
			    config_error());
}

/*
 * "allow|deny ADDRESS[/PREFIX]... | all": global (s NULL) or a service's
 * own lists; not in defaults, where a global statement says it for all.
 */
static void
acl_stmt(const YYLTYPE *loc, struct service *s, int deny, char **w)
{
	const char	*kw = deny ? "deny" : "allow";
	int		 i;

	if (s != NULL && s == &conf->defaults) {
		perr(loc, "%s is not allowed in defaults (outside any block "
		    "it is every service's default)", kw);
		return;
	}
	if (w == NULL) {
		perr(loc, "%s: expected ADDRESS[/PREFIX]... or all", kw);
		return;
	}
	for (i = 0; w[i] != NULL; i++)
		if (config_add_acl(conf, s, deny, w[i]) == -1)
			perr(loc, "%s \"%s\": %s", kw, safe(w[i]),
			    config_error());
}

/* "forward to HOST port N": resolved now, so -n tells; or "/path". */
static void
forward_stmt(const YYLTYPE *loc, const char *host, const char *port)
{
	int	n;

	if (svc == &conf->defaults) {
		perr(loc, "forward is not allowed in defaults");
		return;
	}
	if (port != NULL &&
	    number(loc, "forward port", port, 1, 65535, &n) == -1)
		return;
	if (config_add_forward(conf, svc, host, port) == -1) {
		perr(loc, "forward to %s: %s", safe(host), config_error());
		return;
	}
	svc->forward_file = loc->file;
	svc->forward_line = loc->line;
}

/* A service's "proxy v1|v2|none": the PROXY header its backend gets. */
static void
proxy_out_stmt(const YYLTYPE *loc, const char *word)
{
	if (strcmp(word, "v1") == 0 || strcmp(word, "v2") == 0)
		svc->proxy_out = word[1] - '0';
	else if (strcmp(word, "none") == 0)
		svc->proxy_out = 0;
	else
		perr(loc, "proxy: expected v1, v2 or none");
}

/* The UCSPI variables must tell the truth about the connection. */
static int
env_reserved(const char *name, size_t len)
{
	static const char *const reserved[] = { "PROTO", "TCPREMOTEIP",
	    "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT", "ONEPORT_SERVICE",
	    "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "ONEPORT_TOKEN",
	    "ONEPORT_TOKEN_FD", "ONEPORT_PROTO", "ONEPORT_MATCH",
	    "ONEPORT_ALPN" };
	size_t	i;

	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == len &&
		    strncmp(reserved[i], name, len) == 0)
			return 1;
	return 0;
}

/* A later "env NAME=..." replaces an earlier one, defaults' included. */
static void
env_set(const YYLTYPE *loc, char **vars)
{
	char	**nv, *eq;
	size_t	  i, j, n;

	for (i = 0; vars[i] != NULL; i++) {
		if ((eq = strchr(vars[i], '=')) == NULL || eq == vars[i]) {
			perr(loc, "env \"%s\": expected NAME=value",
			    safe(vars[i]));
			continue;
		}
		n = (size_t)(eq - vars[i]) + 1;
		if (env_reserved(vars[i], n - 1)) {
			perr(loc, "env \"%s\": set by oneportd itself",
			    safe(vars[i]));
			continue;
		}
		nv = NULL;
		for (j = 0; svc->env != NULL && svc->env[j] != NULL; j++)
			if (strncmp(svc->env[j], vars[i], n) != 0)
				nv = strv_add(nv, svc->env[j]);
		nv = strv_add(nv, vars[i]);
		strv_free(svc->env);
		svc->env = nv;
		for (j = 0; nv[j] != NULL; j++)
			;
		if (j > ENV_MAX)
			perr(loc, "more than %d env variables", ENV_MAX);
	}
}

int
parse_config(const char *filename, struct config *cfg)
{
	int	rv;

	conf = cfg;
	errors = 0;
	nfiles = 0;
	svc = NULL;
	at_start = 1;
	if (file_push(filename, NULL) == 0) {
		rv = yyparse();
		if (rv != 0 && errors == 0)
			perr(NULL, "%s: cannot parse", filename);
		while (nfiles > 0)
			file_pop();
	}
	parse_reset();
	return errors ? -1 : 0;
}

/* After a parse, or one left half-way (config_nomem): no file open, no
 * state kept for the next. */
void
parse_reset(void)
{
	while (nfiles > 0)
		file_pop();
	service_clear(&scratch);
	svc = NULL;
	conf = NULL;
}

/* A statement of the cluster block (clusterconf.c checks it). */
static void
cluster_opt(const YYLTYPE *loc, const char *word, char **args,
    const char *port)
{
	const char	*e;

	if (cl != NULL &&
	    (e = cluster_conf_stmt(cl, word, args, port)) != NULL)
		perr(loc, "%s: %s", safe(word), e);
}
