/* SPDX-License-Identifier: ISC */
/*
 * hello: the service every server under test spawns per connection.
 * Writes "hello\r\n" to fd 1 and exits without reading, so the cost measured
 * is the server's accept/fork/exec path, not the service's work.
 */
#include <errno.h>
#include <unistd.h>

int
main(void)
{
	static const char msg[] = "hello\r\n";
	ssize_t n;

	do
		n = write(1, msg, sizeof(msg) - 1);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)(sizeof(msg) - 1) ? 0 : 1;
}
