/* SPDX-License-Identifier: ISC */
/*
 * oneport: the client command. Reaches a function by name through a
 * rendezvous server (liboneport's oneport_connect) and relays standard
 * input and output over the connection, like nc; or runs a program with
 * it, the UCSPI way, like tcpclient; or lists or locates functions.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "oneport.h"
#include "status.h"

/* Exit statuses; oneport(1) lists them. */
enum {
	EX_OK = 0,
	EX_REFUSED = 1,		/* the server said "-" */
	EX_USAGE = 2,
	EX_CONNECT = 3,		/* cannot connect, or the connection failed */
	EX_TIMEOUT = 4,
	EX_PROTOCOL = 5,	/* the server's answer broke the protocol */
	EX_REDIRECT = 6,	/* a redirect to another host, without -R */
	EX_NOEXEC = 126,
	EX_NOTFOUND = 127,
};

#define RELAY_BUF	65536

static int	verbose;

static const struct option longopts[] = {
	{ "help",	no_argument,	NULL,	'h' },
	{ "version",	no_argument,	NULL,	'V' },
	{ NULL,		0,		NULL,	0 },
};

static void	warnx(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
warnx(const char *fmt, ...)
{
	va_list	ap;

	fputs("oneport: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define SYNOPSIS \
	"usage: oneport [-46Rv] [-p port] [-t seconds] host[:port] name\n" \
	"       oneport [-46Riv] [-p port] [-t seconds] -e host[:port] " \
	"name program [arg ...]\n" \
	"       oneport [-46v] [-p port] [-t seconds] -l host[:port]\n" \
	"       oneport [-46v] [-p port] [-t seconds] -q host[:port] name\n" \
	"       oneport status [--json | --metrics] [-S path]\n" \
	"       oneport -h | -V\n"

/*
 * A command line that cannot be right: what is wrong, what to type
 * instead when there is one thing, then the synopsis. NULL when getopt
 * has said it already.
 */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list	ap;

	if (fmt != NULL) {
		fputs("oneport: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(SYNOPSIS, stderr);
	exit(EX_USAGE);
}

static void __attribute__((noreturn))
help(void)
{
	printf("%s\n"
	    "Connect to the service NAME through the TCPMUX (RFC 1078) "
	    "server on HOST\nand copy standard input and output to it; "
	    "PORT is 1 unless given.\n\n"
	    "  -4, -6        IPv4 or IPv6 addresses only\n"
	    "  -e            run PROGRAM with the connection on fds 6 "
	    "and 7 (UCSPI)\n"
	    "  -i            with -e: the connection on its stdin and "
	    "stdout too\n"
	    "  -l            list the services the server offers (as "
	    "NAME \"help\")\n"
	    "  -p PORT       the server's port, as HOST:PORT or HOST PORT\n"
	    "  -q            print the host and port where NAME lives\n"
	    "  -R            follow a redirect to another host\n"
	    "  -t SECONDS    deadline to reach the service (10)\n"
	    "  -v            say where the connection went\n"
	    "  -h, --help    this text\n"
	    "  -V, --version the version\n\n"
	    "Example: oneport 127.0.0.1:7001 echo\n"
	    "See oneport(1).\n", SYNOPSIS);
	exit(fflush(stdout) == EOF ? EX_CONNECT : EX_OK);
}

/* A port number written as an operand of its own: names have a letter. */
static int
is_port(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return i > 0;
}

/* The exit status for a library failure. */
static int
status_of(const struct oneport_result *res)
{
	switch (res->error) {
	case ONEPORT_E_REFUSED:
		return EX_REFUSED;
	case ONEPORT_E_TIMEOUT:
		return EX_TIMEOUT;
	case ONEPORT_E_PROTOCOL:
		return EX_PROTOCOL;
	case ONEPORT_E_REDIRECT:
		return EX_REDIRECT;
	case ONEPORT_E_SYSTEM:
		/* A name or port the library cannot use: the caller's. */
		return res->sys_errno == EINVAL ? EX_USAGE : EX_CONNECT;
	default:
		return EX_CONNECT;
	}
}

/* host and port as one operand: host:port, [v6]:port, or host alone. */
static const char *
target_text(const char *host, const char *port, char *buf, size_t len)
{
	int	v6 = strchr(host, ':') != NULL;

	if (port == NULL)
		snprintf(buf, len, "%s", host);
	else
		snprintf(buf, len, "%s%s%s:%s", v6 ? "[" : "", host,
		    v6 ? "]" : "", port);
	return buf;
}

static int
failed(const struct oneport_result *res, const char *host, const char *port)
{
	char	shown[600];

	warnx("%s", res->msg);
	if (res->error == ONEPORT_E_CONNECT && port == NULL &&
	    strstr(res->msg, "refused") != NULL)
		warnx("port 1, the TCPMUX port, is the default: give the "
		    "server's port, as %s", target_text(host, "PORT", shown,
		    sizeof(shown)));
	if (res->error == ONEPORT_E_REDIRECT &&
	    strstr(res->msg, "another host") != NULL)
		warnx("use -R to follow redirects to other hosts");
	return status_of(res);
}

/*
 * host[:port], [v6]:port, [v6], or a bare IPv6 address (more than one
 * colon, so no port). Writes into buf; *port stays as it is without one.
 */
static int
split_target(const char *arg, char *buf, size_t len, const char **host,
    const char **port)
{
	char	*c, *end;

	if (strlen(arg) >= len)
		return -1;
	memcpy(buf, arg, strlen(arg) + 1);
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL || end == buf + 1)
			return -1;
		*end = '\0';
		*host = buf + 1;
		if (end[1] == '\0')
			return 0;
		if (end[1] != ':' || end[2] == '\0')
			return -1;
		*port = end + 2;
		return 1;
	}
	*host = buf;
	if ((c = strchr(buf, ':')) == NULL || strchr(c + 1, ':') != NULL)
		return buf[0] == '\0' ? -1 : 0;
	*c = '\0';
	if (buf[0] == '\0' || c[1] == '\0')
		return -1;
	*port = c + 1;
	return 1;
}

static const char *
sa_host(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void	*a = ss->ss_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)(const void *)ss)
	    ->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)(const void *)ss)
	    ->sin_addr;

	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

static int
sa_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port :
	    ((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

/* ---- relay: stdin to the connection, the connection to stdout ---- */

struct buf {
	char	data[RELAY_BUF];
	size_t	off, len;
};

/*
 * Until the service closes and all it sent is written out. EOF on stdin
 * shuts down the sending direction once what was read has gone out.
 */
static int
relay(int s)
{
	static struct buf	 up, down;
	struct pollfd		 pfd[3];
	ssize_t			 n;
	int			 in_open = 1, s_open = 1, shut = 0, fl;

	if ((fl = fcntl(s, F_GETFL)) == -1 ||
	    fcntl(s, F_SETFL, fl | O_NONBLOCK) == -1) {
		warnx("fcntl: %s", strerror(errno));
		return EX_CONNECT;
	}
	for (;;) {
		if (!s_open && down.len == 0)
			return EX_OK;
		if (!in_open && up.len == 0 && !shut) {
			if (shutdown(s, SHUT_WR) == -1 && errno != ENOTCONN) {
				warnx("shutdown: %s", strerror(errno));
				return EX_CONNECT;
			}
			shut = 1;
		}
		pfd[0].fd = in_open && up.len == 0 ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		/* Not even for POLLHUP when nothing is wanted of it. */
		pfd[1].events = (s_open && down.len == 0 ? POLLIN : 0) |
		    (up.len > 0 ? POLLOUT : 0);
		pfd[1].fd = pfd[1].events != 0 ? s : -1;
		pfd[2].fd = down.len > 0 ? STDOUT_FILENO : -1;
		pfd[2].events = POLLOUT;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			warnx("poll: %s", strerror(errno));
			return EX_CONNECT;
		}

		if (pfd[0].revents & POLLNVAL)
			in_open = 0;
		else if (pfd[0].revents) {
			n = read(STDIN_FILENO, up.data, sizeof(up.data));
			if (n == 0)
				in_open = 0;
			else if (n > 0) {
				up.off = 0;
				up.len = (size_t)n;
			} else if (errno != EINTR && errno != EAGAIN) {
				warnx("reading standard input: %s",
				    strerror(errno));
				return EX_CONNECT;
			}
		}

		/* Reading first: a service that has closed gets nothing more. */
		if (s_open && down.len == 0 && pfd[1].revents & (POLLIN |
		    POLLERR | POLLHUP)) {
			n = recv(s, down.data, sizeof(down.data),
			    MSG_DONTWAIT);
			if (n == 0)
				s_open = 0;
			else if (n > 0) {
				down.off = 0;
				down.len = (size_t)n;
			} else if (errno == ECONNRESET) {
				/*
				 * A service that closes before it has read
				 * all we sent makes TCP reset, not close:
				 * that is its close all the same.
				 */
				if (verbose)
					warnx("the service reset the "
					    "connection");
				s_open = 0;
			} else if (errno != EINTR && errno != EAGAIN) {
				warnx("receiving: %s", strerror(errno));
				return EX_CONNECT;
			}
		}

		if (up.len > 0 && pfd[1].revents & (POLLOUT | POLLERR |
		    POLLHUP)) {
			n = send(s, up.data + up.off, up.len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				up.off += (size_t)n;
				up.len -= (size_t)n;
			} else if (n == -1 && (errno == EPIPE ||
			    errno == ECONNRESET)) {
				/* It stopped reading: what it sent may
				 * still be there to read. */
				in_open = 0;
				up.len = 0;
				shut = 1;
			} else if (n == -1 && errno != EINTR &&
			    errno != EAGAIN) {
				warnx("sending: %s", strerror(errno));
				return EX_CONNECT;
			}
		}

		if (down.len > 0 && pfd[2].revents) {
			/* A reader that has gone raises SIGPIPE, as for any
			 * filter. */
			n = write(STDOUT_FILENO, down.data + down.off,
			    down.len);
			if (n > 0) {
				down.off += (size_t)n;
				down.len -= (size_t)n;
			} else if (n == -1 && errno != EINTR &&
			    errno != EAGAIN) {
				warnx("writing standard output: %s",
				    strerror(errno));
				return EX_CONNECT;
			}
		}
	}
}

/* ---- exec: the connection as fd 6 and 7, UCSPI's client side ---- */

static int
setenv_num(const char *name, int v)
{
	char	buf[16];

	snprintf(buf, sizeof(buf), "%d", v);
	return setenv(name, buf, 1);
}

static int
run(int s, int stdio, char **argv)
{
	struct sockaddr_storage	local, peer;
	socklen_t		llen = sizeof(local), plen = sizeof(peer);
	char			addr[INET6_ADDRSTRLEN];
	int			hi;

	if (getsockname(s, (struct sockaddr *)&local, &llen) == -1 ||
	    getpeername(s, (struct sockaddr *)&peer, &plen) == -1) {
		warnx("the connection: %s", strerror(errno));
		return EX_CONNECT;
	}
	if (setenv("PROTO", "TCP", 1) != 0 ||
	    setenv("TCPLOCALIP", sa_host(&local, addr, sizeof(addr)), 1) != 0 ||
	    setenv_num("TCPLOCALPORT", sa_port(&local)) != 0 ||
	    setenv("TCPREMOTEIP", sa_host(&peer, addr, sizeof(addr)), 1) != 0 ||
	    setenv_num("TCPREMOTEPORT", sa_port(&peer)) != 0 ||
	    unsetenv("TCPLOCALHOST") != 0 || unsetenv("TCPREMOTEHOST") != 0 ||
	    unsetenv("TCPREMOTEINFO") != 0) {
		warnx("setenv: %s", strerror(errno));
		return EX_CONNECT;
	}
	/* Above every target first, so no dup2 is a no-op that would keep
	 * close-on-exec. dup2 clears it on the copies. */
	if ((hi = fcntl(s, F_DUPFD_CLOEXEC, 10)) == -1) {
		warnx("fcntl: %s", strerror(errno));
		return EX_CONNECT;
	}
	close(s);
	if (dup2(hi, 6) == -1 || dup2(hi, 7) == -1 ||
	    (stdio && (dup2(hi, STDIN_FILENO) == -1 ||
	    dup2(hi, STDOUT_FILENO) == -1))) {
		warnx("dup2: %s", strerror(errno));
		return EX_CONNECT;
	}
	close(hi);
	execvp(argv[0], argv);
	warnx("%s: %s", argv[0], strerror(errno));
	return errno == ENOENT ? EX_NOTFOUND : EX_NOEXEC;
}

/* ---- listing ---- */

static int
print_name(const char *name, void *arg)
{
	(void)arg;
	return puts(name) == EOF;
}

int
main(int argc, char *argv[])
{
	struct oneport_opts	 opts;
	struct oneport_result	 res;
	const char		*host = NULL, *port = NULL, *name = NULL;
	const char		*inport = NULL;
	char			 target[512], shown[600], *end;
	char			 addr[INET6_ADDRSTRLEN];
	int			 ch, mode = 0, stdio = 0, fd, n, st;
	double			 secs;

	/* A subcommand: the daemon's counters (status.c). */
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_main(argc - 1, argv + 1);
	memset(&opts, 0, sizeof(opts));
	/* "+": options end at the first operand; a program's are its own. */
	while ((ch = getopt_long(argc, argv, "+46ehilp:qRt:vV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
			opts.family = AF_INET;
			break;
		case '6':
			opts.family = AF_INET6;
			break;
		case 'e':
		case 'l':
		case 'q':
			if (mode != 0 && mode != ch)
				usage("-%c and -%c exclude each other", mode, ch);
			mode = ch;
			break;
		case 'h':
			help();
		case 'i':
			stdio = 1;
			break;
		case 'p':
			port = optarg;
			break;
		case 'R':
			opts.flags |= ONEPORT_ANYHOST;
			break;
		case 't':
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(secs > 0) || secs > 86400)
				usage("bad timeout: %s (seconds, more than 0 "
				    "and at most 86400)", optarg);
			opts.timeout_ms = secs * 1000 < 1 ? 1 :
			    (int)(secs * 1000);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("oneport %s\n", ONEPORT_VERSION);
			return fflush(stdout) == EOF ? EX_CONNECT : EX_OK;
		default:
			usage(NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (stdio && mode != 'e')
		usage("-i is for -e only: oneport -ei host[:port] name program");
	if (argc < 1)
		usage("no host: oneport host[:port] name");
	if (split_target(argv[0], target, sizeof(target), &host,
	    &inport) == -1)
		usage("bad host: %s (host, host:port, [IPv6] or [IPv6]:port)",
		    argv[0]);
	/* "host port name", as nc and telnet take it. */
	if (argc > 1 && is_port(argv[1])) {
		if (inport != NULL || port != NULL)
			usage("two ports: %s and %s", inport != NULL ? inport :
			    port, argv[1]);
		inport = argv[1];
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if (inport != NULL && port != NULL)
		usage("two ports: -p %s and %s", port, argv[0]);
	if (inport != NULL)
		port = inport;

	/* "HELP" can never name a function: it is the listing. */
	if (mode == 0 && argc == 2 && strcasecmp(argv[1], "help") == 0)
		mode = 'l';
	if (mode == 'l' && argc != 1 && !(argc == 2 &&
	    strcasecmp(argv[1], "help") == 0))
		usage("-l takes no name: oneport -l %s", target_text(host,
		    port, shown, sizeof(shown)));
	if ((mode == 0 || mode == 'q') && argc == 1)
		usage("no service name: oneport %s%s name (oneport -l %s "
		    "lists them)", mode == 'q' ? "-q " : "", target_text(host,
		    port, shown, sizeof(shown)), shown);
	if ((mode == 0 || mode == 'q') && argc > 2)
		usage("one name only, then nothing: \"%s\" is too many%s",
		    argv[2], mode == 0 ? " (-e runs a program with the "
		    "connection)" : "");
	if (mode == 'e' && argc < 3)
		usage(argc < 2 ? "-e needs a name and a program" :
		    "-e needs a program after the name");
	if (argc > 1)
		name = argv[1];

	if (mode == 'l') {
		if ((n = oneport_help(host, port, &opts, print_name, NULL,
		    &res)) == -1)
			return failed(&res, host, port);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			warnx("writing standard output: %s", strerror(errno));
			return EX_CONNECT;
		}
		if (verbose)
			warnx("%d names", n);
		return EX_OK;
	}
	if (mode == 'q') {
		if (oneport_query(host, port, name, &opts, &res) == -1)
			return failed(&res, host, port);
		printf("%s %d\n", res.host, res.port);
		if (fflush(stdout) == EOF) {
			warnx("writing standard output: %s", strerror(errno));
			return EX_CONNECT;
		}
		return EX_OK;
	}

	if ((fd = oneport_connect(host, port, name, &opts, &res)) == -1)
		return failed(&res, host, port);
	if (verbose)
		warnx("%s: connected to %s port %d%s", name,
		    sa_host(&res.peer, addr, sizeof(addr)), sa_port(&res.peer),
		    res.redirected ? " (redirected)" : "");
	if (mode == 'e')
		return run(fd, stdio, argv + 2);
	st = relay(fd);
	close(fd);
	return st;
}
