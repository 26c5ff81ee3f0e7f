/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the configuration grammar (src/common/parse.y)
 * and what config_finish checks after it. The input is written to a file of its
 * own in a directory of its own, parsed, finished and freed: no input may
 * crash, leak or hang it, and a file that parses must also print
 * (printconf.c) without a crash. Inputs that could include a file from
 * outside the directory (the word "include" and a '/') are skipped, so
 * the parse reads nothing but what the fuzzer wrote.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[] = "/tmp/config_fuzz.XXXXXX", path[64];

static void
quiet(int pri, const char *msg)
{
	(void)pri;
	(void)msg;
}

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static int
setup(void)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/oneportd.conf", dir);
	atexit(cleanup);
	log_set_sink(quiet);
	parse_secrecy = 0;
	/* print_config writes there. */
	return freopen("/dev/null", "w", stdout) == NULL ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*cfg;
	int		 fd;

	if (path[0] == '\0' && setup() == -1)
		abort();
	if (memmem(data, size, "include", 7) != NULL &&
	    memchr(data, '/', size) != NULL)
		return 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	cfg = config_new();
	cfg->config_dns = 0;	/* no lookups: literals only */
	if (parse_config(path, cfg) == 0 && config_finish(cfg) == 0)
		print_config(cfg);
	config_free(cfg);
	return 0;
}
