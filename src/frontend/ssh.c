/* ssh.c: the SSH identification line probe (a stub until it is written). */
#include "frontend.h"

enum probe_result
ssh_probe(const uint8_t *buf, size_t len, const char **why)
{
	(void)buf;
	(void)len;
	*why = NULL;
	return PROBE_NEXT;
}
