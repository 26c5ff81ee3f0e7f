/* SPDX-License-Identifier: ISC */
/*
 * sandbox_test.c: the frontend's seccomp filter (sandbox_seccomp), loaded
 * in a child per case: what the frontend's loop does still works, and an
 * executable mapping, a send with an address, an fcntl it does not need
 * a getsockopt other than IP_TRANSPARENT's or an exec kills the process
 * with SIGSYS; opening a file or making a
 * socket fails with EACCES.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"

enum verdict { WORKS, KILLED, REFUSED };

static int	sv[2];

static long
map(int prot)
{
	return syscall(SYS_mmap, NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
}

/* Each returns 0 when the call did what was asked, 1 when it failed,
 * 2 when it failed with EACCES. */
static int
mmap_rw(void)
{
	return map(PROT_READ | PROT_WRITE) == (long)MAP_FAILED;
}

static int
mmap_exec(void)
{
	return map(PROT_READ | PROT_EXEC) == (long)MAP_FAILED;
}

static int
mprotect_exec(void)
{
	long	p = map(PROT_READ | PROT_WRITE);

	return syscall(SYS_mprotect, p, 4096, PROT_READ | PROT_EXEC) != 0;
}

static int
mprotect_ro(void)
{
	long	p = map(PROT_READ | PROT_WRITE);

	return syscall(SYS_mprotect, p, 4096, PROT_READ) != 0;
}

static int
send_connected(void)
{
	return syscall(SYS_sendto, sv[0], "x", 1, MSG_DONTWAIT, NULL, 0) != 1;
}

static int
send_to_address(void)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	return syscall(SYS_sendto, sv[0], "x", 1, MSG_DONTWAIT, &sun,
	    sizeof(sun)) != 1;
}

static int
fcntl_dup_cloexec(void)
{
	return syscall(SYS_fcntl, sv[0], F_DUPFD_CLOEXEC, 0) == -1;
}

static int
fcntl_setown(void)
{
	return syscall(SYS_fcntl, sv[0], F_SETOWN, 1) == -1;
}

/* Reached the kernel (a unix socket has no IP level: it says so). */
static int
getsockopt_transparent(void)
{
	int		on;
	socklen_t	len = sizeof(on);

	(void)syscall(SYS_getsockopt, sv[0], SOL_IP, IP_TRANSPARENT, &on,
	    &len);
	return 0;
}

static int
getsockopt_error(void)
{
	int		e;
	socklen_t	len = sizeof(e);

	return syscall(SYS_getsockopt, sv[0], SOL_SOCKET, SO_ERROR, &e,
	    &len) != 0;
}

static int
open_file(void)
{
	return syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY) == -1 ?
	    (errno == EACCES ? 2 : 1) : 0;
}

static int
make_socket(void)
{
	return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) == -1 ?
	    (errno == EACCES ? 2 : 1) : 0;
}

static int
exec_shell(void)
{
	char	*argv[] = { (char *)"sh", NULL };

	return syscall(SYS_execve, "/bin/sh", argv, NULL) != 0;
}

static const struct {
	const char	*what;
	int		(*fn)(void);
	enum verdict	 want;
} cases[] = {
	{ "mmap read-write", mmap_rw, WORKS },
	{ "mmap executable", mmap_exec, KILLED },
	{ "mprotect read-only", mprotect_ro, WORKS },
	{ "mprotect executable", mprotect_exec, KILLED },
	{ "send on a connected socket", send_connected, WORKS },
	{ "sendto an address", send_to_address, KILLED },
	{ "fcntl F_DUPFD_CLOEXEC", fcntl_dup_cloexec, WORKS },
	{ "fcntl F_SETOWN", fcntl_setown, KILLED },
	{ "getsockopt IP_TRANSPARENT", getsockopt_transparent, WORKS },
	{ "getsockopt SO_ERROR", getsockopt_error, KILLED },
	{ "openat", open_file, REFUSED },
	{ "socket", make_socket, REFUSED },
	{ "execve", exec_shell, KILLED },
};

int
main(void)
{
	size_t		i;
	pid_t		pid;
	int		st, failed = 0, ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == -1) {
			perror("socketpair");
			return 1;
		}
		if ((pid = fork()) == -1) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			sandbox_seccomp();
			/* Straight to the kernel: no exit handlers run. */
			syscall(SYS_exit_group, cases[i].fn());
		}
		close(sv[0]);
		close(sv[1]);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		switch (cases[i].want) {
		case WORKS:
			ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
			break;
		case REFUSED:
			ok = WIFEXITED(st) && WEXITSTATUS(st) == 2;
			break;
		default:
			ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
			break;
		}
		if (!ok) {
			printf("sandbox_test: %s: wanted %s, got status %#x\n",
			    cases[i].what, cases[i].want == WORKS ? "success" :
			    cases[i].want == REFUSED ? "EACCES" : "SIGSYS", st);
			failed++;
		}
	}
	printf("sandbox_test: %zu checks, %d failed\n", i, failed);
	return failed != 0;
}
