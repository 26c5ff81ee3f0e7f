/* SPDX-License-Identifier: ISC */
/*
 * config_test.c: table tests of the configuration: the grammar and its
 * error messages (file:line and text, exactly), includes, print_config
 * round trips, the -l and -s forms, RFC 6335 names and config_finish.
 * Usage: config_test DIR, where DIR holds the sample files (tests/config).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define MAX_MSGS	64

static int	 failures, checks;
static char	*msgs[MAX_MSGS];
static int	 nmsgs;
static char	 tmpdir[PATH_MAX];
static char	 datadir[PATH_MAX];

#define CHECK(cond) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *g_ = (got), *w_ = (want);				\
	checks++;							\
	if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {\
		failures++;						\
		fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n",	\
		    __FILE__, __LINE__, g_ ? g_ : "(null)",		\
		    w_ ? w_ : "(null)");				\
	}								\
} while (0)

static void
capture(int pri, const char *msg)
{
	(void)pri;
	if (nmsgs < MAX_MSGS && (msgs[nmsgs++] = strdup(msg)) == NULL)
		abort();
}

static void
msgs_clear(void)
{
	while (nmsgs > 0)
		free(msgs[--nmsgs]);
}

/*
 * Expected messages: '@' stands for the file given to parse_config, '%'
 * for the temporary directory, '^' for the data directory; a trailing '*'
 * matches any rest.
 */
static char *
expand(const char *pat, const char *file)
{
	static char	 buf[2048];
	size_t		 n = 0, l;
	const char	*ins;

	for (; *pat != '\0' && n < sizeof(buf) - 1; pat++) {
		ins = NULL;
		if (*pat == '@')
			ins = file;
		else if (*pat == '%')
			ins = tmpdir;
		else if (*pat == '^')
			ins = datadir;
		if (ins == NULL) {
			buf[n++] = *pat;
			continue;
		}
		l = strlen(ins);
		if (n + l >= sizeof(buf))
			break;
		memcpy(buf + n, ins, l);
		n += l;
	}
	buf[n] = '\0';
	return buf;
}

static int
msg_match(const char *got, const char *want)
{
	size_t	l = strlen(want);

	if (l > 0 && want[l - 1] == '*')
		return strncmp(got, want, l - 1) == 0;
	return strcmp(got, want) == 0;
}

/* The captured messages must be exactly these, in this order. */
static void
msgs_expect(const char *where, const char *file, const char *const *want)
{
	char	*w;
	int	 i, n;

	for (n = 0; want[n] != NULL; n++)
		;
	checks++;
	for (i = 0; i < n || i < nmsgs; i++) {
		w = i < n ? expand(want[i], file) : NULL;
		if (i < n && i < nmsgs && msg_match(msgs[i], w))
			continue;
		failures++;
		fprintf(stderr, "%s: message %d:\n  got  %s\n  want %s\n",
		    where, i + 1, i < nmsgs ? msgs[i] : "(none)",
		    w != NULL ? w : "(none)");
	}
	msgs_clear();
}

static void
write_file(const char *path, const char *text)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL ||
	    fputs(text, fp) == EOF || fclose(fp) == EOF) {
		perror(path);
		exit(2);
	}
}

static void
write_bytes(const char *path, const char *buf, size_t len)
{
	FILE	*fp;

	if ((fp = fopen(path, "w")) == NULL ||
	    fwrite(buf, 1, len, fp) != len || fclose(fp) == EOF) {
		perror(path);
		exit(2);
	}
}

static int
addr_port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		    ->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
}

static char *
read_file(const char *path)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	if ((fp = fopen(path, "r")) == NULL) {
		perror(path);
		exit(2);
	}
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	if ((buf = calloc(1, len + 1)) == NULL ||
	    fread(buf, 1, len, fp) != (size_t)len) {
		perror(path);
		exit(2);
	}
	fclose(fp);
	return buf;
}

/* print_config writes to stdout; send it to path for a while. */
static char *
print_to(const struct config *cfg, const char *path)
{
	int	saved, fd;

	fflush(stdout);
	if ((saved = dup(STDOUT_FILENO)) == -1 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(fd, STDOUT_FILENO) == -1) {
		perror(path);
		exit(2);
	}
	close(fd);
	print_config(cfg);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	return read_file(path);
}

/* ---- RFC 6335 names ---- */

static void
test_names(void)
{
	static const struct {
		const char	*name;
		size_t		 len;	/* 0: strlen */
		int		 valid;
	} t[] = {
		{ "a",			0, 1 },
		{ "echo",		0, 1 },
		{ "ECHO",		0, 1 },
		{ "http-alt",		0, 1 },
		{ "x11",		0, 1 },
		{ "123a",		0, 1 },
		{ "a-b-c",		0, 1 },
		{ "abcdefghijklmno",	0, 1 },		/* 15 */
		{ "echo-and-more",	4, 1 },	/* only "echo" */
		{ "",			0, 0 },
		{ "abcdefghijklmnop",	0, 0 },		/* 16 */
		{ "-echo",		0, 0 },
		{ "echo-",		0, 0 },
		{ "-",			0, 0 },
		{ "a--b",		0, 0 },
		{ "123",		0, 0 },
		{ "0-0",		0, 0 },
		{ "a_b",		0, 0 },
		{ "a.b",		0, 0 },
		{ "a b",		0, 0 },
		{ "a/b",		0, 0 },
		{ "\xc3\xa9t\xc3\xa9",	0, 0 },		/* UTF-8 */
		{ "a\0b",		3, 0 },		/* NUL inside */
		{ "a\r",		0, 0 },
	};
	size_t	i, len;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		len = t[i].len ? t[i].len : strlen(t[i].name);
		checks++;
		if (name_valid(t[i].name, len, 0) != t[i].valid) {
			failures++;
			fprintf(stderr, "name_valid(\"%s\", %zu) != "
			    "%d\n", t[i].name, len, t[i].valid);
		}
	}
}

/* ---- error messages, one small config at a time ---- */

static const struct {
	const char	*text;
	const char	*want[12];	/* NULL-terminated */
} error_cases[] = {
	{ "frob 1\n", { "@:1: unknown keyword \"frob\"" } },
	/* One error per mistake, at its line: the '}' after a bad option
	 * and the body of a block whose head is bad are not errors too. */
	{ "service \"a\" { comand \"/bin/cat\" }\ntimeout 5\n", {
		"@:1: unknown service option \"comand\" (did you mean "
		"\"command\"?)" } },
	{ "servce \"c\" {\n\tcommand /bin/cat\n}\ntimeout 5\n"
	    "Service d {\n}\n", {
		"@:1: unknown keyword \"servce\" (did you mean \"service\"?)",
		"@:5: unknown keyword \"Service\" (did you mean "
		"\"service\"?)" } },
	{ "service a {\n\tcommand /bin/cat\n\tusr nobody\n"
	    "\tmax instance 5\n\tvisibel yes\n\tchdir relative\n}\n"
	    "defaults { rpely self }\n", {
		"@:3: unknown service option \"usr\" (did you mean \"user\"?)",
		"@:4: syntax error: unexpected \"instance\", expecting "
		"\"instances\" or \"per-address\" (did you mean "
		"\"instances\"?)",
		"@:5: unknown service option \"visibel\" (did you mean "
		"\"visible\"?)",
		"@:6: chdir \"relative\": not an absolute path",
		"@:8: unknown service option \"rpely\" (did you mean "
		"\"reply\"?)" } },
	{ "max pendin 5\nlsiten on * port 1\ntimeout 5\nxyzzy\n", {
		"@:1: syntax error: unexpected \"pendin\", expecting "
		"\"pending\" or \"relays\" (did you mean \"pending\"?)",
		"@:2: unknown keyword \"lsiten\" (did you mean \"listen\"?)",
		"@:4: unknown keyword \"xyzzy\"" } },
	/* A keyword where a value goes: quote it. */
	{ "service a {\n\tcommand /bin/cat\n\tuser on\n\tgroup max\n}\n"
	    "service b { command /bin/cat; user \"on\" }\n", {
		"@:3: syntax error: unexpected \"on\", expecting a value "
		"(\"on\" is a keyword: write 'on' to use it as a value)",
		"@:4: syntax error: unexpected \"max\", expecting a value "
		"(\"max\" is a keyword: write 'max' to use it as a value)" } },
	/* Every error is reported, each at its own line. */
	{ "timeout 5\nfrob\nfrab x y\nmax-line 5\n", {
		"@:2: unknown keyword \"frob\"",
		"@:3: unknown keyword \"frab\"",
		"@:4: max-line 5: out of range (18..1024)" } },
	{ "\n\n# c\n  listen 127.0.0.1\n", {
		"@:4: syntax error: unexpected \"127.0.0.1\", "
		"expecting \"on\"" } },
	{ "listen on 127.0.0.1 port\n", {
		"@:1: syntax error: unexpected end of line, "
		"expecting a value" } },
	{ "listen on 127.0.0.1 port 70000\n", {
		"@:1: listen on 127.0.0.1 port 70000: "
		"port out of range (0..65535)" } },
	{ "listen on 127.0.0.1 port nosuchport-x\n", {
		"@:1: listen on 127.0.0.1 port nosuchport-x: "
		"not a port number or a TCP service name in /etc/services" } },
	{ "listen on 127.0.0.1 port -1\n", {
		"@:1: listen on 127.0.0.1 port -1: "
		"port out of range (0..65535)" } },
	{ "timeout 0\ntimeout 3601\ntimeout 0ms\ntimeout 3600001ms\n"
	  "timeout 5m\ntimeout ms\n"
	  "timeout 3600\ntimeout 1ms\ntimeout 3600000ms\n", {
		"@:1: timeout 0: out of range (1ms..3600s)",
		"@:2: timeout 3601: out of range (1ms..3600s)",
		"@:3: timeout 0ms: out of range (1ms..3600s)",
		"@:4: timeout 3600001ms: out of range (1ms..3600s)",
		"@:5: timeout \"5m\": expected seconds, \"Ns\" or \"Nms\"",
		"@:6: timeout \"ms\": expected seconds, \"Ns\" or \"Nms\"" } },
	{ "timeout 99999999999999999999\n", {
		"@:1: timeout 99999999999999999999: "
		"out of range (1ms..3600s)" } },
	{ "max pending abc\nmax pending 0\nmax pending -1\n"
	  "max pending 1000001\nmax pending per-address 0\n"
	  "max pending 123456789012345678901234567890\n", {
		"@:1: max pending \"abc\": not a number",
		"@:2: max pending 0: out of range (1..1000000)",
		"@:3: max pending -1: out of range (1..1000000)",
		"@:4: max pending 1000001: out of range (1..1000000)",
		"@:5: max pending per-address 0: out of range (1..1000000)",
		"@:6: max pending 123456789012345678901234567890: "
		"out of range (1..1000000)" } },
	{ "max pending 10:50\nmax pending 2000:30:1000\n"
	  "max pending 10:101:100\nmax pending 10:x:100\nmax pending ::\n"
	  "max pending 0:0:1\nmax pending 7\n", {
		"@:1: max pending 10:50: want FULL or START:RATE:FULL",
		"@:2: max pending start 2000: out of range (0..1000)",
		"@:3: max pending rate 101: out of range (0..100)",
		"@:4: max pending rate \"x\": not a number",
		"@:5: max pending \"\": not a number" } },
	{ "max-line 16\nmax-line 1025\nmax-line \"\"\n", {
		"@:1: max-line 16: out of range (18..1024)",
		"@:2: max-line 1025: out of range (18..1024)",
		"@:3: max-line \"\": not a number" } },
	{ "help maybe\nhelp yes\nhelp no\nhelp off\n", {
		"@:1: help \"maybe\": expected on or off" } },
	{ "user \"\"\nchroot \"var/empty\"\n", {
		"@:1: user: empty name",
		"@:2: chroot \"var/empty\": not an absolute path" } },
	{ "chroot \"/var/empty\n\nhelp on\n", {
		"@:1: unterminated quoted string" } },
	{ "chroot '/var/empty\\'\nhelp on\n", {
		"@:1: unterminated quoted string" } },
	{ "timeout 5 \x01\nhelp \xff\n", {
		"@:1: unexpected byte 0x01",
		"@:2: unexpected byte 0xff" } },
	{ "timeout 5 \\ 6\n", { "@:1: unexpected character '\\'" } },
	{ "timeout 5 }\n", {
		"@:1: syntax error: unexpected '}', expecting end of line" } },
	{ "service \"echo\" {\n\tcommand \"/bin/cat\"\n", {
		"@:3: end of file inside a block (missing '}'?)" } },
	{ "service \"echo\"\n{ command \"/bin/cat\" }\n", {
		"@:1: syntax error: unexpected end of line, expecting '{'",
		"@:2: syntax error: unexpected '{'" } },
	{ "service \"-echo\" {\n\tcommand \"cat\"\n}\n", {
		"@:1: invalid service name \"-echo\": "
		"begins or ends with a hyphen",
		"@:2: command \"cat\": not an absolute path" } },
	{ "service \"abcdefghijklmnopqrstuvwxyz0123456789abcdefgh\" {\n}\n",
	  { "@:1: invalid service name \"abcdefghijklmnopqrstuvwxyz012345"
	    "...\": longer than 15 characters" } },
	{ "service a_b {\n}\nservice 42 {\n}\nservice \"\" {\n}\n", {
		"@:1: invalid service name \"a_b\": only letters, digits "
		"and hyphens are allowed",
		"@:3: invalid service name \"42\": needs at least one letter",
		"@:5: invalid service name \"\": empty" } },
	{ "service help {\n}\n", {
		"@:1: syntax error: unexpected \"help\", expecting a value "
		"(\"help\" is a keyword: write 'help' to use it as a value)" } },
	{ "service \"HELP\" {\n}\n", {
		"@:1: invalid service name \"HELP\": "
		"reserved for the HELP request" } },
	{ "service echo {\n\tcommand \"/bin/cat\"\n}\n\n"
	  "service \"ECHO\" { command \"/bin/cat\" }\n", {
		"@:5: duplicate service \"echo\" (first declared at @:1)" } },
	{ "service echo {\n\tfrob 1\n\tmax instances -1\n"
	  "\tmax per-address 1000001\n\tvisible maybe\n\treply yes\n"
	  "\tenv \"FOO\" \"OK=1\"\n\tcommand \"/bin/cat\"\n}\n", {
		"@:2: unknown service option \"frob\"",
		"@:3: max instances -1: out of range (0..1000000)",
		"@:4: max per-address 1000001: out of range (0..1000000)",
		"@:5: visible \"maybe\": expected yes or no",
		"@:6: reply \"yes\": expected self or daemon",
		"@:7: env \"FOO\": expected NAME=value" } },
	{ "service echo {\n\tenv \"=bar\"\n\tchdir tmp\n\tgroups \"a\" \"\"\n"
	  "\tlisten on * port 1\n\tcommand \"/bin/cat\"\n}\n", {
		"@:2: env \"=bar\": expected NAME=value",
		"@:3: chdir \"tmp\": not an absolute path",
		"@:4: groups: empty name",
		"@:5: \"listen\" is not a service option" } },
	{ "defaults {\n\tcommand \"/bin/cat\"\n}\n", {
		"@:2: command is not allowed in defaults" } },
	{ "max instances 5\ncommand \"/bin/cat\"\n", {
		"@:1: syntax error: unexpected \"instances\", "
		"expecting \"pending\" or \"relays\"",
		"@:2: \"command\" is not a global option" } },
	{ "include \"nonexistent.conf\"\n", {
		"@:1: %/nonexistent.conf: No such file or directory" } },
	{ "include \"/\"\n", { "@:1: /: not a regular file" } },
	{ "include \"case.conf\"\n", {
		"@:1: include loop: %/case.conf is already being read" } },
	{ "include\n", {
		"@:1: syntax error: unexpected end of line, "
		"expecting a value" } },
	/* Implicit names: "match" and "proxy from", each message. */
	{ "match ssh\nmatch\nservice a { command /bin/cat }\n"
	    "defaults {\n\tmatch ssh\n}\n", {
		"@:1: match is a service option",
		"@:2: match is a service option",
		"@:5: match is not allowed in defaults" } },
	{ "service a {\n\tmatch\n\tmatch foo\n\tmatch TLS\n"
	    "\tmatch \"tls\" sni\n}\n", {
		"@:2: match: expected tls, http, ssh or silence",
		"@:3: match \"foo\": expected tls, http, ssh or silence",
		"@:4: match \"TLS\": expected tls, http, ssh or silence",
		"@:5: match tls: sni without a name" } },
	{ "service a {\n\tmatch tls alpn\n\tmatch tls sni a sni b\n"
	    "\tmatch tls sni a alpn h2 alpn h3\n\tmatch tls x\n}\n", {
		"@:2: match tls: alpn without a name",
		"@:3: match tls: sni given twice",
		"@:4: match tls: alpn given twice",
		"@:5: match tls: unexpected \"x\" (expected sni or alpn)" } },
	{ "service a {\n\tmatch http x\n\tmatch http host\n"
	    "\tmatch http host a *\n\tmatch ssh x\n"
	    "\tmatch silence 1 2\n\tmatch silence xs\n"
	    "\tmatch silence 0\n\tmatch silence 3601s\n}\n", {
		"@:2: match http: unexpected \"x\" (expected host)",
		"@:3: match http: host without a name",
		"@:4: match http: host \"*\": not a host name, \"*.\" and "
		"one, or an IP address",
		"@:5: match ssh: unexpected \"x\"",
		"@:6: match silence: unexpected \"2\"",
		"@:7: match silence \"xs\": expected seconds, \"Ns\" or "
		"\"Nms\"",
		"@:8: match silence 0: out of range (1ms..3600s)",
		"@:9: match silence 3601s: out of range (1ms..3600s)" } },
	{ "service a {\n\tmatch tls sni -a.b\n\tmatch tls sni a-.b\n"
	    "\tmatch tls sni a..b\n\tmatch tls sni \"*.\" \"*\"\n"
	    "\tmatch tls sni a.*.b\n\tmatch tls sni x.123\n"
	    "\tmatch tls sni a.b.\n\tmatch tls sni a_b\n}\n", {
		"@:2: match tls: sni \"-a.b\": not a host name or \"*.\" and one",
		"@:3: match tls: sni \"a-.b\": not a host name or \"*.\" and one",
		"@:4: match tls: sni \"a..b\": not a host name or \"*.\" and one",
		"@:5: match tls: sni \"*.\": not a host name or \"*.\" and one",
		"@:6: match tls: sni \"a.*.b\": not a host name or \"*.\" and "
		"one",
		"@:7: match tls: sni \"x.123\": not a host name or \"*.\" and "
		"one",
		"@:8: match tls: sni \"a.b.\": not a host name or \"*.\" and one",
		"@:9: match tls: sni \"a_b\": not a host name or \"*.\" and "
		"one" } },
	{ "service a {\n\tmatch tls sni 192.0.2.1\n\tmatch tls sni ::1\n"
	    "\tmatch http host [::1]\n\tmatch http host 1.2.3\n"
	    "\tmatch tls alpn \"a b\"\n\tmatch tls alpn \"\"\n"
	    "\tmatch tls alpn \"\xc3\xa9\"\n}\n", {
		"@:2: match tls: sni \"192.0.2.1\": an address; TLS clients "
		"send host names only",
		"@:3: match tls: sni \"::1\": an address; TLS clients send "
		"host names only",
		"@:4: match http: host \"[::1]\": not a host name, \"*.\" and "
		"one, or an IP address",
		"@:5: match http: host \"1.2.3\": not a host name, \"*.\" and "
		"one, or an IP address",
		"@:6: match tls: alpn \"a b\": not 1 to 255 printable bytes "
		"without a space",
		"@:7: match tls: alpn \"\": not 1 to 255 printable bytes "
		"without a space",
		"@:8: match tls: alpn \"??\": not 1 to 255 printable bytes "
		"without a space" } },
	/* A keyword in a list must be quoted; the line says where, and the
	 * block goes on (default reductions only in consistent states). */
	{ "service a {\n\tcommand /bin/cat\n\tmatch tls alpn on\n"
	    "\tmatch gopher\n}\n", {
		"@:3: syntax error: unexpected \"on\", expecting end of line, "
		"a value or '}' (\"on\" is a keyword: write 'on' to use it as "
		"a value)",
		"@:4: match \"gopher\": expected tls, http, ssh or silence" } },
	{ "proxy from 10.0.0.1/8 10.0.0.0/33 nonsense\n"
	    "proxy from ::/129 ::1/-1 ::1/ 10.0.0.0/8x\nproxy\n", {
		"@:1: proxy from \"10.0.0.1/8\": host bits set after the /8 "
		"prefix (the network is 10.0.0.0/8)",
		"@:1: proxy from \"10.0.0.0/33\": prefix \"/33\": not 0 to 32",
		"@:1: proxy from \"nonsense\": not an IPv4 or IPv6 address",
		"@:2: proxy from \"::/129\": prefix \"/129\": not 0 to 128",
		"@:2: proxy from \"::1/-1\": prefix \"/-1\": not 0 to 128",
		"@:2: proxy from \"::1/\": prefix \"/\": not 0 to 128",
		"@:2: proxy from \"10.0.0.0/8x\": prefix \"/8x\": not 0 to 32",
		"@:3: proxy: expected from ADDRESS[/PREFIX]..." } },
	{ "proxy at 192.0.2.1\nproxy from\n"
	    "service a { proxy from 192.0.2.1 }\n"
	    "proxy from 2001:db8::1/64\n", {
		"@:1: proxy: expected from ADDRESS[/PREFIX]...",
		"@:2: proxy: expected from ADDRESS[/PREFIX]...",
		"@:3: proxy from is a global option",
		"@:4: proxy from \"2001:db8::1/64\": host bits set after the "
		"/64 prefix (the network is 2001:db8::/64)" } },
	{ "include \"^/inc/broken.conf\"\ntimeout x\n", {
		"^/inc/broken.conf:2: \"reply\" is not a global option",
		"^/inc/broken.conf:3: \"env\" is not a global option",
		"@:2: timeout \"x\": expected seconds, \"Ns\" or \"Nms\"" } },
};

static void
test_errors(void)
{
	struct config	*cfg;
	char		 path[PATH_MAX + 64], where[32];
	size_t		 i;

	snprintf(path, sizeof(path), "%s/case.conf", tmpdir);
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		char	*text = expand(error_cases[i].text, path);

		write_file(path, text);
		cfg = config_new();
		snprintf(where, sizeof(where), "error case %zu", i);
		checks++;
		if (parse_config(path, cfg) != -1) {
			failures++;
			fprintf(stderr, "%s: parse_config did not fail\n",
			    where);
		}
		msgs_expect(where, path, error_cases[i].want);
		config_free(cfg);
	}
}

/* Errors the table cannot hold: long tokens, missing files, depth. */
static void
test_error_files(void)
{
	struct config	*cfg;
	static const char nul[] = "chroot \"/var/\0empty\"\nhelp on\n\0\n";
	char		 path[PATH_MAX + 64], want[128], *text;
	FILE		*fp;
	int		 i;

	snprintf(path, sizeof(path), "%s/long.conf", tmpdir);
	text = malloc(9000);
	memcpy(text, "user ", 5);
	memset(text + 5, 'a', 5000);
	memcpy(text + 5005, "\nuser \"", 7);
	memset(text + 5012, 'b', 3000);
	memcpy(text + 8012, "\"\nhelp on\n", 11);
	write_file(path, text);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == -1);
	msgs_expect("long word", path, (const char *[]){
	    "@:1: word longer than 4095 bytes", NULL });
	config_free(cfg);

	/* Exactly 4095 bytes is fine, 4096 is not. */
	memset(text, 0, 9000);
	memcpy(text, "user \"", 7);
	memset(text + 6, 'b', 4095);
	memcpy(text + 6 + 4095, "\"\nuser \"", 9);
	memset(text + 6 + 4095 + 8, 'c', 4096);
	memcpy(text + 6 + 4095 + 8 + 4096, "\"\n", 3);
	write_file(path, text);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == -1);
	msgs_expect("long string", path, (const char *[]){
	    "@:2: quoted string longer than 4095 bytes", NULL });
	CHECK(strlen(cfg->user) == 4095);
	config_free(cfg);
	free(text);

	/* NUL bytes, which a C string cannot hold. */
	write_bytes(path, nul, sizeof(nul) - 1);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == -1);
	msgs_expect("NUL", path, (const char *[]){
	    "@:1: NUL byte in a quoted string",
	    "@:3: unexpected byte 0x00", NULL });
	CHECK_STR(cfg->chroot, "/var/empty");
	config_free(cfg);

	/* One service too many. */
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	for (i = 0; i <= MAX_SERVICES; i++)
		fprintf(fp, "service s%d { command /bin/true }\n", i);
	fclose(fp);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == -1);
	CHECK(cfg->nservices == MAX_SERVICES);
	snprintf(want, sizeof(want), "@:%d: too many services (at most %d)",
	    MAX_SERVICES + 1, MAX_SERVICES);
	msgs_expect("too many", path, (const char *[]){ want, NULL });
	config_free(cfg);

	cfg = config_new();
	CHECK(parse_config("/nonexistent/oneportd.conf", cfg) == -1);
	msgs_expect("missing file", "", (const char *[]){
	    "/nonexistent/oneportd.conf: No such file or directory", NULL });
	config_free(cfg);

	/* d0 includes d1 ... d9: eight nested includes are allowed. */
	for (i = 0; i <= 9; i++) {
		char	body[64];

		snprintf(path, sizeof(path), "%s/d%d.conf", tmpdir, i);
		if (i < 9)
			snprintf(body, sizeof(body),
			    "timeout %d\ninclude \"d%d.conf\"\n", i + 1, i + 1);
		else
			snprintf(body, sizeof(body), "timeout 10\n");
		write_file(path, body);
	}
	snprintf(path, sizeof(path), "%s/d1.conf", tmpdir);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	CHECK(cfg->timeout_ms == 10000);
	msgs_expect("depth 8", path, (const char *[]){ NULL });
	config_free(cfg);
	snprintf(path, sizeof(path), "%s/d0.conf", tmpdir);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == -1);
	CHECK(cfg->timeout_ms == 9000);
	msgs_expect("depth 9", path, (const char *[]){
	    "%/d8.conf:2: include \"%/d9.conf\": nested more than 8 deep",
	    NULL });
	config_free(cfg);
}

/* ---- the sample files ---- */

static void
check_rule(const struct service *s, int i, enum proto proto,
    const char *host, const char *alpn, const char *file, int line)
{
	const struct matchrule	*r;

	CHECK(s != NULL && i < s->nrules);
	if (s == NULL || i >= s->nrules)
		return;
	r = &s->rules[i];
	CHECK(r->proto == proto);
	CHECK_STR(r->host, host);
	CHECK_STR(r->alpn, alpn);
	CHECK_STR(r->file, file);
	CHECK(r->line == line);
}

/* good.conf's match rules and PROXY sources, as config_finish left them. */
static void
test_good_names(struct config *cfg, const char *path)
{
	static const uint8_t	 net6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t	 net4[4] = { 192, 0, 2, 0 };
	static const uint8_t	 host4[4] = { 198, 51, 100, 7 };
	struct service		*s;
	char			 inc[PATH_MAX + 64];
	int			 n = 0;

	s = config_find(cfg, "web");
	CHECK(s != NULL && s->nrules == 8);
	if (s != NULL) {
		/* The command's words are words, not keywords. */
		while (s->argv[n] != NULL)
			n++;
		CHECK(n == 11);
		CHECK_STR(s->argv[1], "match");
		CHECK_STR(s->argv[10], "from");
	}
	/* Each name with each ALPN, in order, lower-cased. */
	check_rule(s, 0, PROTO_TLS, "example.org", "h2", path, 58);
	check_rule(s, 1, PROTO_TLS, "example.org", "http/1.1", path, 58);
	check_rule(s, 2, PROTO_TLS, "*.example.org", "h2", path, 58);
	check_rule(s, 3, PROTO_TLS, "*.example.org", "http/1.1", path, 58);
	check_rule(s, 4, PROTO_HTTP, "www.example.org", NULL, path, 59);
	check_rule(s, 5, PROTO_HTTP, "127.0.0.1", NULL, path, 59);
	check_rule(s, 6, PROTO_HTTP, "::1", NULL, path, 59);
	check_rule(s, 7, PROTO_HTTP, NULL, NULL, path, 60);
	s = config_find(cfg, "mail");
	check_rule(s, 0, PROTO_SILENCE, NULL, NULL, path, 62);
	CHECK(s != NULL && s->nrules == 1 && s->rules[0].silence_ms == 1500);
	CHECK(cfg->silence_ms == 1500);
	snprintf(inc, sizeof(inc), "%s/inc/more.conf", datadir);
	s = config_find(cfg, "shell");
	CHECK(s != NULL && s->nrules == 2);
	check_rule(s, 0, PROTO_SSH, NULL, NULL, inc, 7);
	check_rule(s, 1, PROTO_TLS, NULL, "acme-tls/1", inc, 8);
	CHECK(config_find(cfg, "quote")->nrules == 0);
	CHECK(cfg->nrules == 11);

	CHECK(cfg->nproxy_from == 3);
	if (cfg->nproxy_from != 3)
		return;
	CHECK(cfg->proxy_from[0].family == AF_INET);
	CHECK(cfg->proxy_from[0].prefix == 24);
	CHECK(memcmp(cfg->proxy_from[0].addr, net4, 4) == 0);
	CHECK(cfg->proxy_from[1].family == AF_INET6);
	CHECK(cfg->proxy_from[1].prefix == 32);
	CHECK(memcmp(cfg->proxy_from[1].addr, net6, 16) == 0);
	CHECK(cfg->proxy_from[2].family == AF_INET);
	CHECK(cfg->proxy_from[2].prefix == 32);
	CHECK(memcmp(cfg->proxy_from[2].addr, host4, 4) == 0);
}

static void
test_good(void)
{
	struct config	*cfg;
	struct service	*s;
	char		 path[PATH_MAX + 64], inc[PATH_MAX + 64];
	char		 host[NI_MAXHOST];
	int		 i;

	snprintf(path, sizeof(path), "%s/good.conf", datadir);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	msgs_expect("good.conf", path, (const char *[]){ NULL });

	CHECK(cfg->timeout_ms == 3000);		/* inc/last.conf's */
	CHECK(cfg->max_line == 128);
	CHECK(cfg->max_pending == 1000);
	CHECK(cfg->drop_start == 100);
	CHECK(cfg->drop_rate == 20);
	CHECK(cfg->max_pending_addr == 8);
	CHECK(cfg->help == 0);
	CHECK_STR(cfg->user, "_oneport");
	CHECK_STR(cfg->chroot, "/var/empty");

	/* 127.0.0.1:1, [::1]:1, 0.0.0.0:4000, [::]:4000; one duplicate. */
	CHECK(cfg->nlisteners == 4);
	for (i = 0; i < cfg->nlisteners && i < 4; i++) {
		static const char *const want[] = {
			"127.0.0.1", "::1", "0.0.0.0", "::" };
		static const int ports[] = { 1, 1, 4000, 4000 };
		const struct sockaddr *sa =
		    (const struct sockaddr *)&cfg->listeners[i].ss;

		CHECK(cfg->listeners[i].fd == -1);
		CHECK(getnameinfo(sa, cfg->listeners[i].sslen, host,
		    sizeof(host), NULL, 0, NI_NUMERICHOST) == 0);
		CHECK_STR(host, want[i]);
		CHECK(addr_port_of(sa) == ports[i]);
	}

	CHECK(cfg->nservices == 9);
	CHECK(config_finish(cfg) == 0);
	msgs_expect("good.conf finish", path, (const char *[]){ NULL });
	test_good_names(cfg, path);

	/* Sorted by config_finish. */
	for (i = 1; i < cfg->nservices; i++)
		CHECK(strcmp(cfg->services[i - 1].name,
		    cfg->services[i].name) < 0);

	s = config_find(cfg, "early");
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK_STR(s->argv[0], "/bin/true");
		CHECK(s->argv[1] == NULL);
		CHECK(s->max_instances == DEF_MAX_INSTANCES);
		CHECK(s->max_per_addr == DEF_MAX_PER_ADDR);
		CHECK(s->visible == 1);
		CHECK(s->reply_self == 0);
		CHECK(s->env == NULL);
		CHECK(s->group == NULL);
		CHECK(s->line == 16);
		CHECK_STR(s->file, path);
		if (geteuid() == 0) {
			/* Never root by accident. */
			CHECK_STR(s->user, "nobody");
			CHECK(s->uid != 0);
		}
	}
	s = config_find(cfg, "Echo");
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK_STR(s->name, "echo");
		CHECK_STR(s->argv[0], "/bin/cat");
		CHECK_STR(s->argv[1], "-u");
		CHECK(s->argv[2] == NULL);
		CHECK_STR(s->user, "nobody");
		CHECK_STR(s->group, "nogroup");
		CHECK_STR(s->groups[0], "adm");
		CHECK_STR(s->groups[1], "users");
		CHECK(s->groups[2] == NULL);
		CHECK_STR(s->chdir, "/tmp");
		CHECK_STR(s->env[0], "LANG=C");
		CHECK_STR(s->env[1], "TZ=Europe/Paris");
		CHECK_STR(s->env[2], "LC_ALL=C");
		CHECK(s->env[3] == NULL);
		CHECK(s->max_instances == 10);
		CHECK(s->max_per_addr == 3);
		CHECK(s->visible == 0);
		CHECK(s->reply_self == 1);
		CHECK(s->line == 28);
		CHECK(s->ngids == 3);
		if (s->ngids == 3) {
			CHECK(s->gids[0] == s->gid);
			CHECK(s->gids[1] == 4);	/* adm on Debian */
			CHECK(s->gids[2] == 100);	/* users */
		}
	}
	s = config_find(cfg, "daytime");
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK_STR(s->argv[0], "/bin/date");
		CHECK_STR(s->argv[1], "+%Y-%m-%d %H:%M:%S");
		CHECK(s->argv[2] == NULL);
		CHECK(s->visible == 0);
		CHECK(s->line == 39);
	}
	snprintf(inc, sizeof(inc), "%s/inc/more.conf", datadir);
	s = config_find(cfg, "quote");
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK_STR(s->file, inc);
		CHECK(s->line == 2);
		/* Only \" and \\ are escapes. */
		CHECK_STR(s->argv[1], "%s\\n");
		CHECK_STR(s->env[1], "TZ=UTC");
	}
	snprintf(inc, sizeof(inc), "%s/inc/last.conf", datadir);
	s = config_find(cfg, "last");
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK_STR(s->file, inc);
		CHECK(s->line == 1);
		CHECK(s->max_instances == 0);
	}
	s = config_find(cfg, "after-include");
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK_STR(s->argv[1], "say \"hi\"");
		CHECK_STR(s->argv[2], "single \\ quoted");
		CHECK_STR(s->user, "root");
		CHECK(s->uid == 0);
		CHECK(s->visible == 1);
		CHECK(s->reply_self == 0);
		CHECK(s->max_per_addr == 0);
		CHECK(s->line == 45);
	}
	CHECK(config_find(cfg, "nope") == NULL);
	CHECK(config_find(cfg, "a-name-too-long-for-tcpmux") == NULL);
	config_free(cfg);
}

/* A sample file parsed, to the result want; path gets its name. */
static struct config *
parse_sample(const char *name, char *path, size_t len, int want)
{
	struct config	*cfg;

	snprintf(path, len, "%s/%s", datadir, name);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == want);
	return cfg;
}

static void
test_bad(void)
{
	struct config	*cfg;
	char		 path[PATH_MAX + 64];

	cfg = parse_sample("bad.conf", path, sizeof(path), -1);
	msgs_expect("bad.conf", path, (const char *[]){
	    "@:3: unknown keyword \"frobnicate\"",
	    "@:4: max-line 10: out of range (18..1024)",
	    "@:5: syntax error: unexpected \"127.0.0.1\", expecting \"on\"",
	    "@:7: command \"cat\": not an absolute path",
	    "@:8: unknown service option \"frob\"",
	    "@:9: max instances 1000001: out of range (0..1000000)",
	    "@:10: visible \"maybe\": expected yes or no",
	    "@:12: duplicate service \"echo\" (first declared at @:6)",
	    "@:15: invalid service name \"no--dash\": two hyphens in a row",
	    "@:16: unterminated quoted string",
	    "@:17: max pending \"12x\": not a number",
	    "^/inc/broken.conf:2: \"reply\" is not a global option",
	    "^/inc/broken.conf:3: \"env\" is not a global option",
	    "@:19: user: empty name",
	    "@:22: match tls: sni \"a_b\": not a host name or \"*.\" and one",
	    "^/inc/badmatch.conf:3: match silence \"x\": expected seconds, "
	    "\"Ns\" or \"Nms\"",
	    "@:25: proxy from \"10.0.0.1/8\": host bits set after the /8 "
	    "prefix (the network is 10.0.0.0/8)",
	    NULL });
	config_free(cfg);

	snprintf(path, sizeof(path), "%s/loop-a.conf", datadir);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == -1);
	msgs_expect("loop", path, (const char *[]){
	    "^/loop-b.conf:3: include loop: ^/loop-a.conf is already "
	    "being read", NULL });
	CHECK(cfg->timeout_ms == 5000);
	config_free(cfg);
}

/* Labels of 63 bytes and names of 253 are the longest: one more is not. */
static void
test_pattern_lengths(void)
{
	char	name[HOST_NAME_LEN + 3];
	int	i;

	memset(name, 'a', 64);
	name[64] = '\0';
	CHECK(!config_pattern_valid(name, 1));
	name[63] = '\0';
	CHECK(config_pattern_valid(name, 0));
	for (i = 0; i < HOST_NAME_LEN; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[HOST_NAME_LEN] = '\0';
	CHECK(config_pattern_valid(name, 0));
	name[0] = '*';
	CHECK(config_pattern_valid(name, 0));
	name[HOST_NAME_LEN] = '.';
	name[HOST_NAME_LEN + 1] = 'a';
	name[HOST_NAME_LEN + 2] = '\0';
	CHECK(!config_pattern_valid(name, 0));
	CHECK(config_pattern_valid("2001:db8::1", 1));
	CHECK(!config_pattern_valid("2001:db8::1", 0));
	CHECK(!config_pattern_valid("a.b-", 1));
	CHECK(!config_pattern_valid("", 1));
	CHECK(!config_pattern_valid("*.*", 1));
}

/*
 * Rules that parse and that config_finish refuses, each at its own
 * place, the overlaps naming both, an included file's among them.
 */
static void
test_overlap(void)
{
	struct config	*cfg;
	char		 path[PATH_MAX + 64];

	cfg = parse_sample("overlap.conf", path, sizeof(path), 0);
	msgs_expect("overlap.conf", path, (const char *[]){ NULL });
	CHECK(config_finish(cfg) == -1);
	msgs_expect("overlap.conf finish", path, (const char *[]){
	    "@:12: match silence 2000ms never matches: the timeout (2000ms) "
	    "ends the wait first",
	    "@:14: match in service \"r\": implicit clients cannot follow a "
	    "redirect",
	    "@:15: match in service \"s\": with reply self the program sends "
	    "\"+\", which an implicit client must not get",
	    "^/inc/overlap.conf:3: match http overlaps the rule at @:6 "
	    "(service \"a\")",
	    "@:11: match tls sni \"a.example.org\" alpn \"h2\" overlaps the "
	    "rule at @:5 (service \"a\")",
	    "@:15: match ssh overlaps the rule at @:14 (service \"r\")",
	    NULL });
	config_free(cfg);

	/* The order of lines does not matter: a later timeout counts. */
	snprintf(path, sizeof(path), "%s/case.conf", tmpdir);
	write_file(path, "service m {\n\tcommand /bin/cat\n"
	    "\tmatch silence\n}\ntimeout 1500ms\n"
	    "service t { command /bin/cat; match tls; match tls sni a a }\n"
	    "service u { command /bin/cat; match http host ::1 0::1 }\n");
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	CHECK(config_finish(cfg) == -1);
	msgs_expect("silence after timeout", path, (const char *[]){
	    "@:3: match silence 2000ms never matches: the timeout (1500ms) "
	    "ends the wait first",
	    "@:6: match tls sni \"a\" overlaps the rule at @:6 (service "
	    "\"t\")",
	    "@:7: match http host \"::1\" overlaps the rule at @:7 (service "
	    "\"u\")", NULL });
	config_free(cfg);
}

/* MAX_SERVICES services, MAX_PROXY_FROM sources, MAX_RULES rules of the
 * longest names; with more, one of each beyond. */
static void
write_largest(const char *path, int more)
{
	char	 pad[256];
	FILE	*fp;
	int	 i;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	/* "h0000." and labels of 'a' to HOST_NAME_LEN bytes. */
	for (i = 0; i < HOST_NAME_LEN - 6; i++)
		pad[i] = (i + 1) % 64 == 0 ? '.' : 'a';
	pad[i] = '\0';
	for (i = 0; i < MAX_PROXY_FROM + more; i++)
		fprintf(fp, "proxy from 10.%d.%d.0/24\n", i / 256, i % 256);
	for (i = 0; i < MAX_SERVICES; i++)
		fprintf(fp, "service s%04d {\n\tcommand /bin/cat\n\tmatch tls "
		    "sni h%04d.%s alpn %0255d\n%s}\n", i, i, pad, i,
		    more && i == MAX_SERVICES - 1 ? "\tmatch ssh\n" : "");
	fclose(fp);
}

/* The largest configuration loads; one more source or rule is refused
 * where it is written. */
static void
test_largest(void)
{
	struct config	*cfg;
	char		 path[PATH_MAX + 64], w1[160], w2[160];

	snprintf(path, sizeof(path), "%s/largest.conf", tmpdir);
	write_largest(path, 0);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	CHECK(config_finish(cfg) == 0);
	msgs_expect("largest", path, (const char *[]){ NULL });
	CHECK(cfg->nrules == MAX_RULES && cfg->nproxy_from == MAX_PROXY_FROM);
	CHECK(strlen(cfg->services[0].rules[0].host) == HOST_NAME_LEN);
	CHECK(strlen(cfg->services[0].rules[0].alpn) == ALPN_NAME_LEN);
	config_free(cfg);

	write_largest(path, 1);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == -1);
	snprintf(w1, sizeof(w1), "@:%d: proxy from \"10.1.0.0/24\": more "
	    "than %d sources", MAX_PROXY_FROM + 1, MAX_PROXY_FROM);
	snprintf(w2, sizeof(w2), "@:%d: match ssh: more than %d match rules "
	    "in all (each name with each alpn counts)", MAX_PROXY_FROM + 1 +
	    4 * MAX_SERVICES, MAX_RULES);
	msgs_expect("largest and more", path, (const char *[]){ w1, w2,
	    NULL });
	config_free(cfg);
}

/* ---- print_config ---- */

static void
roundtrip(const char *where, const char *conf, int finish)
{
	struct config	*a, *b;
	char		 p1[PATH_MAX + 64], p2[PATH_MAX + 64];
	char		*t1, *t2;

	snprintf(p1, sizeof(p1), "%s/print1.conf", tmpdir);
	snprintf(p2, sizeof(p2), "%s/print2.conf", tmpdir);
	a = config_new();
	CHECK(parse_config(conf, a) == 0);
	if (finish)
		CHECK(config_finish(a) == 0);
	t1 = print_to(a, p1);
	b = config_new();
	CHECK(parse_config(p1, b) == 0);
	if (finish)
		CHECK(config_finish(b) == 0);
	t2 = print_to(b, p2);
	checks++;
	if (strcmp(t1, t2) != 0) {
		failures++;
		fprintf(stderr, "%s: round trip differs:\n--- first\n%s"
		    "--- second\n%s", where, t1, t2);
	}
	msgs_expect(where, conf, (const char *[]){ NULL });
	free(t1);
	free(t2);
	config_free(a);
	config_free(b);
}

/* conf written to path, parsed and printed (to out): the text. */
static char *
printed(const char *path, const char *out, const char *conf)
{
	struct config	*cfg;
	char		*text;

	write_file(path, conf);
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	text = print_to(cfg, out);
	config_free(cfg);
	return text;
}

static void
test_print(void)
{
	char		 path[PATH_MAX + 64], out[PATH_MAX + 64], *text;

	snprintf(path, sizeof(path), "%s/good.conf", datadir);
	roundtrip("round trip", path, 0);
	roundtrip("round trip after config_finish", path, 1);

	/* The exact text, for a small config. */
	snprintf(path, sizeof(path), "%s/case.conf", tmpdir);
	snprintf(out, sizeof(out), "%s/print.conf", tmpdir);
	text = printed(path, out,
	    "listen on ::ffff:127.0.0.1 port 7\n"
	    "timeout 1500ms\n"
	    "service Echo { command /bin/cat; env \"Q=\\\"\\\\\" ; hidden }\n"
	    "defaults { user daemon-user }\n");
	CHECK_STR(text,
	    "timeout 1500ms\n"
	    "max-line 64\n"
	    "max pending 4096\n"
	    "max pending per-address 32\n"
	    "ports 61000-65535\n"
	    "help on\n"
	    "user \"oneportd\"\n"
	    "chroot \"/var/empty\"\n"
	    "listen on ::ffff:127.0.0.1 port 7\n"
	    "\n"
	    "service \"echo\" {\n"
	    "\tcommand \"/bin/cat\"\n"
	    "\tenv \"Q=\\\"\\\\\"\n"
	    "\tmax instances 256\n"
	    "\tmax per-address 32\n"
	    "\tvisible no\n"
	    "\treply daemon\n"
	    "}\n");
	free(text);
	msgs_expect("print", path, (const char *[]){ NULL });
	roundtrip("round trip of the small config", path, 0);

	/* Rules one line each as expanded, quoted; sources with a prefix. */
	text = printed(path, out,
	    "proxy from 2001:db8:0:0::/64 192.0.2.1\n"
	    "service web { command /bin/cat\n"
	    "\tmatch tls sni A.example \"*.b.example\" alpn h2 'x\"y'\n"
	    "\tmatch http host 2001:DB8:0::1; match http; match ssh\n"
	    "\tmatch silence; match silence 1s }\n");
	CHECK(text != NULL && strstr(text,
	    "chroot \"/var/empty\"\n"
	    "proxy from 2001:db8::/64\n"
	    "proxy from 192.0.2.1/32\n"
	    "\nservice") != NULL);
	CHECK(text != NULL && strstr(text,
	    "\treply daemon\n"
	    "\tmatch tls sni \"a.example\" alpn \"h2\"\n"
	    "\tmatch tls sni \"a.example\" alpn \"x\\\"y\"\n"
	    "\tmatch tls sni \"*.b.example\" alpn \"h2\"\n"
	    "\tmatch tls sni \"*.b.example\" alpn \"x\\\"y\"\n"
	    "\tmatch http host \"2001:db8::1\"\n"
	    "\tmatch http\n"
	    "\tmatch ssh\n"
	    "\tmatch silence 2000ms\n"
	    "\tmatch silence 1000ms\n"
	    "}\n") != NULL);
	free(text);
	msgs_expect("print rules", path, (const char *[]){ NULL });
	roundtrip("round trip of the rules", path, 0);
}

/* ---- -l ADDR:PORT ---- */

static void
test_listener_arg(void)
{
	static const struct {
		const char	*arg;
		const char	*want;	/* listeners, or the error */
	} t[] = {
		{ "127.0.0.1:0",	"127.0.0.1 0" },
		{ "[::1]:8080",		"::1 8080" },
		{ "*:1",		"0.0.0.0 1, :: 1" },
		{ "[*]:1",		"0.0.0.0 1, :: 1" },
		{ "0.0.0.0:65535",	"0.0.0.0 65535" },
		{ "127.0.0.1:00022",	"127.0.0.1 22" },
		{ "::1:80",		"an IPv6 address goes in brackets: "
					"[ADDRESS]:PORT" },
		{ "127.0.0.1",		"expected ADDRESS:PORT" },
		{ "[::1]8080",		"expected [ADDRESS]:PORT" },
		{ "[::1:8080",		"expected [ADDRESS]:PORT" },
		{ "127.0.0.1:65536",	"port out of range (0..65535)" },
		{ "127.0.0.1:99999999999999999999",
					"port out of range (0..65535)" },
		{ "127.0.0.1:",		"missing port" },
		{ ":1",			"empty address" },
		{ "[]:1",		"empty address" },
	};
	struct config	*cfg;
	char		 got[512], host[NI_MAXHOST];
	size_t		 i, n;
	int		 j;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cfg = config_new();
		if (config_listener_arg(cfg, t[i].arg) == -1)
			snprintf(got, sizeof(got), "%s", config_error());
		else {
			got[0] = '\0';
			for (j = 0, n = 0; j < cfg->nlisteners; j++) {
				const struct sockaddr *sa = (const void *)
				    &cfg->listeners[j].ss;

				getnameinfo(sa, cfg->listeners[j].sslen, host,
				    sizeof(host), NULL, 0, NI_NUMERICHOST);
				n += snprintf(got + n, sizeof(got) - n,
				    "%s%s %d", j ? ", " : "", host,
				    addr_port_of(sa));
			}
		}
		checks++;
		if (strcmp(got, t[i].want) != 0) {
			failures++;
			fprintf(stderr, "-l %s: got \"%s\", want \"%s\"\n",
			    t[i].arg, got, t[i].want);
		}
		config_free(cfg);
	}

	/* A host name: every address; the same address twice is one. */
	cfg = config_new();
	CHECK(config_listener_arg(cfg, "localhost:1") == 0);
	CHECK(cfg->nlisteners >= 1);
	n = cfg->nlisteners;
	CHECK(config_listener_arg(cfg, "localhost:1") == 0);
	CHECK(cfg->nlisteners == (int)n);
	CHECK(config_listener_arg(cfg, "*:1") == 0);
	CHECK(config_listener_arg(cfg, "0.0.0.0:1") == 0);
	CHECK(config_listener_arg(cfg, "[::]:1") == 0);
	CHECK(cfg->nlisteners == (int)n + 2);
	if (getservbyname("tcpmux", "tcp") != NULL) {
		CHECK(config_listener_arg(cfg, "127.0.0.2:tcpmux") == 0);
		CHECK(addr_port_of((const struct sockaddr *)
		    &cfg->listeners[cfg->nlisteners - 1].ss) == 1);
	}
	config_free(cfg);
}

/* ---- -s NAME=COMMAND ---- */

static void
test_service_arg(void)
{
	static const struct {
		const char	*arg;
		const char	*want;	/* argv, '|'-joined, or error */
	} t[] = {
		{ "echo=/bin/cat -u",		"echo: /bin/cat|-u" },
		{ "Echo=/bin/cat",		"echo: /bin/cat" },
		{ "echo=  cat   -u  \t- ",	"echo: /usr/bin/cat|-u|-" },
		{ "x=sh -c 'a b'",		"x: /usr/bin/sh|-c|'a|b'" },
		/* Relative to the working directory, "/" here. */
		{ "echo=usr/bin/cat",		"echo: /usr/bin/cat" },
		{ "echo",			"expected NAME=COMMAND" },
		{ "echo=",			"empty command" },
		{ "echo=   ",			"empty command" },
		{ "=/bin/cat",
		    "invalid service name \"\": empty" },
		{ "my service=/bin/cat",
		    "invalid service name \"my service\": "
		    "only letters, digits and hyphens are allowed" },
		{ "abcdefghijklmnop=/bin/cat",
		    "invalid service name \"abcdefghijklmnop\": "
		    "longer than 15 characters" },
		{ "help=/bin/cat",
		    "invalid service name \"help\": "
		    "reserved for the HELP request" },
		{ "echo=/nonexistent/prog",
		    "/nonexistent/prog: No such file or directory" },
		{ "echo=/etc/passwd",
		    "/etc/passwd: not an executable file" },
		{ "echo=/etc",
		    "/etc: not an executable file" },
		{ "echo=nosuchprogram-oneport",
		    "nosuchprogram-oneport: not found in PATH" },
	};
	struct config	*cfg;
	struct service	*s;
	char		 got[512], cwd[PATH_MAX];
	size_t		 i, j, n;

	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir("/") == -1) {
		perror("chdir");
		exit(2);
	}
	setenv("PATH", "relative:/nonexistent::/usr/bin:/bin", 1);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cfg = config_new();
		if (config_service_arg(cfg, t[i].arg) == -1) {
			snprintf(got, sizeof(got), "%s", config_error());
			CHECK(cfg->nservices == 0);
		} else {
			s = &cfg->services[0];
			n = snprintf(got, sizeof(got), "%s: ", s->name);
			for (j = 0; s->argv[j] != NULL; j++)
				n += snprintf(got + n, sizeof(got) - n, "%s%s",
				    j ? "|" : "", s->argv[j]);
			CHECK(s->line == 0);
			CHECK_STR(s->file, "command line");
		}
		checks++;
		if (strcmp(got, t[i].want) != 0) {
			failures++;
			fprintf(stderr, "-s %s: got \"%s\", want \"%s\"\n",
			    t[i].arg, got, t[i].want);
		}
		config_free(cfg);
	}

	/* The defaults so far apply; a second name is a duplicate. */
	cfg = config_new();
	free(cfg->defaults.user);
	cfg->defaults.user = strdup("nobody");
	cfg->defaults.max_instances = 7;
	CHECK(config_service_arg(cfg, "echo=/bin/cat") == 0);
	CHECK(cfg->nservices == 1);
	CHECK_STR(cfg->services[0].user, "nobody");
	CHECK(cfg->services[0].max_instances == 7);
	CHECK(config_service_arg(cfg, "ECHO=/bin/cat") == -1);
	CHECK_STR(config_error(), "duplicate service \"echo\" (first "
	    "declared on the command line)");
	CHECK(config_service_arg(cfg, "daytime=/nonexistent") == -1);
	CHECK(cfg->nservices == 1);
	config_free(cfg);

	if (chdir(cwd) == -1) {
		perror("chdir");
		exit(2);
	}
}

/* ---- log.c's values of key=value fields ---- */

static void
test_log_quote(void)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "+",			"+" },
		{ "-busy",		"-busy" },
		{ "-unknown service",	"\"-unknown service\"" },
		{ "",			"\"\"" },
		{ "a\"b",		"\"a\\\"b\"" },
		{ "a\\b",		"\"a\\\\b\"" },
		{ "a=b",		"\"a=b\"" },
		{ "\x01\t\xff",	"\"\\x01\\x09\\xff\"" },
	};
	char	 longer[1000];
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK_STR(log_quote(t[i].in), t[i].out);
	/* Cut, still one quoted field. */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[0] = ' ';
	longer[sizeof(longer) - 1] = '\0';
	CHECK(strlen(log_quote(longer)) < 512);
	CHECK(strcmp(log_quote(longer) + strlen(log_quote(longer)) - 4,
	    "...\"") == 0);
}

/* ---- config_finish ---- */

static void
test_finish(void)
{
	struct config	*cfg;
	struct service	*s;
	char		 path[PATH_MAX + 64];
	int		 root = geteuid() == 0;

	snprintf(path, sizeof(path), "%s/case.conf", tmpdir);
	write_file(path,
	    "service nocmd {\n}\n"
	    "service baduser {\n\tcommand /bin/cat\n"
	    "\tuser \"no-such-user-x\"\n}\n"
	    "service badgroup {\n\tcommand /bin/cat\n"
	    "\tgroup \"no-such-group-x\"\n\tgroups adm \"no-such-group-y\"\n"
	    "}\n"
	    "register \"x*\" user \"no-such-user-r\"\n");
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	CHECK(config_service_arg(cfg, "zz=/bin/cat") == 0);
	cfg->services[cfg->nservices - 1].user = strdup("no-such-user-z");
	CHECK(config_finish(cfg) == -1);
	msgs_expect("finish", path, (const char *[]){
	    "@:1: service \"nocmd\": no command and no socket",
	    "@:5: service \"baduser\": unknown user \"no-such-user-x\"",
	    "@:9: service \"badgroup\": unknown group \"no-such-group-x\"",
	    "@:10: service \"badgroup\": unknown group \"no-such-group-y\"",
	    "command line: service \"zz\": unknown user \"no-such-user-z\"",
	    "@:12: register \"x*\": unknown user \"no-such-user-r\"",
	    NULL });
	config_free(cfg);

	/* No listener: the tcpmux port on every address. */
	write_file(path, "service echo { command /bin/cat }\n");
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	CHECK(cfg->nlisteners == 0);
	CHECK(config_finish(cfg) == 0);
	CHECK(cfg->nlisteners == 2);
	CHECK(cfg->listeners[0].ss.ss_family == AF_INET);
	CHECK(cfg->listeners[1].ss.ss_family == AF_INET6);
	CHECK(addr_port_of((struct sockaddr *)&cfg->listeners[1].ss) == 1);
	s = config_find(cfg, "echo");
	CHECK(s != NULL);
	if (s != NULL && root) {
		CHECK_STR(s->user, "nobody");
		CHECK(s->uid == 65534);
		CHECK(s->ngids == 1);
	}
	/* Finishing twice is harmless (a reload may re-check). */
	CHECK(config_finish(cfg) == 0);
	CHECK(cfg->nlisteners == 2);
	config_free(cfg);

	/* Not root: no user means the daemon's own. */
	cfg = config_new();
	CHECK(parse_config(path, cfg) == 0);
	if (root && (setegid(65534) == -1 || seteuid(65534) == -1)) {
		perror("seteuid");
		exit(2);
	}
	CHECK(config_finish(cfg) == 0);
	s = config_find(cfg, "echo");
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK(s->user == NULL);
		CHECK(s->uid == geteuid());
		CHECK(s->gid == getegid());
	}
	config_free(cfg);
	if (root && (seteuid(0) == -1 || setegid(0) == -1)) {
		perror("seteuid");
		exit(2);
	}
	msgs_expect("finish, ok", path, (const char *[]){ NULL });
}

/* What others can write is refused, the top file and an include alike. */
static void
test_secrecy(void)
{
	struct config	*cfg;
	char		 top[PATH_MAX + 32], inc[PATH_MAX + 32];
	const char	*ok[] = { NULL };

	parse_secrecy = 1;
	snprintf(top, sizeof(top), "%s/secret.conf", tmpdir);
	snprintf(inc, sizeof(inc), "%s/secret-inc.conf", tmpdir);
	write_file(inc, "help off\n");
	write_file(top, "include \"secret-inc.conf\"\n");
	CHECK(chmod(top, 0644) == 0 && chmod(inc, 0600) == 0);
	cfg = config_new();
	CHECK(parse_config(top, cfg) == 0);
	msgs_expect("secrecy: owner only", top, ok);
	config_free(cfg);

	CHECK(chmod(top, 0646) == 0);
	cfg = config_new();
	CHECK(parse_config(top, cfg) == -1);
	msgs_expect("secrecy: top", top, (const char *[]){
	    "@: writable by others: refused", NULL });
	config_free(cfg);

	CHECK(chmod(top, 0644) == 0 && chmod(inc, 0666) == 0);
	cfg = config_new();
	CHECK(parse_config(top, cfg) == -1);
	msgs_expect("secrecy: include", top, (const char *[]){
	    "@:1: %/secret-inc.conf: writable by others: refused", NULL });
	config_free(cfg);

	if (geteuid() == 0) {
		/* Group writable: only root's own group may be. */
		CHECK(chmod(inc, 0664) == 0 && chown(inc, 0, 0) == 0);
		cfg = config_new();
		CHECK(parse_config(top, cfg) == 0);
		msgs_expect("secrecy: root's group", top, ok);
		config_free(cfg);
		CHECK(chown(inc, 0, 65534) == 0);
		cfg = config_new();
		CHECK(parse_config(top, cfg) == -1);
		msgs_expect("secrecy: group", top, (const char *[]){
		    "@:1: %/secret-inc.conf: writable by group 65534: refused",
		    NULL });
		config_free(cfg);
		CHECK(chmod(inc, 0644) == 0 && chown(inc, 65534, 0) == 0);
		cfg = config_new();
		CHECK(parse_config(top, cfg) == -1);
		msgs_expect("secrecy: owner", top, (const char *[]){
		    "@:1: %/secret-inc.conf: owned by uid 65534, not by root: "
		    "refused", NULL });
		config_free(cfg);
	}
	parse_secrecy = 0;
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: config_test DIR\n");
		return 2;
	}
	if (realpath(argv[1], datadir) == NULL) {
		perror(argv[1]);
		return 2;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/config_test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	log_init(1, "config_test");
	log_set_sink(capture);
	/* The source tree's files are whoever checked it out's. */
	parse_secrecy = 0;

	test_names();
	test_errors();
	test_error_files();
	test_good();
	test_bad();
	test_overlap();
	test_pattern_lengths();
	test_largest();
	test_print();
	test_listener_arg();
	test_service_arg();
	test_finish();
	test_log_quote();
	test_secrecy();

	log_set_sink(NULL);
	if (nmsgs != 0)
		fprintf(stderr, "%d messages were not checked\n", nmsgs);
	msgs_clear();
	{
		char	cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	printf("config_test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
