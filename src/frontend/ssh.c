/* SPDX-License-Identifier: ISC */
/*
 * ssh.c: the SSH client's identification line (RFC 4253 4.2),
 * "SSH-protoversion-softwareversion [SP comments] CR LF". A pure function
 * over (buf, len), judged byte by byte as it arrives, so a split never
 * changes the verdict (fuzz/probe_fuzz.c).
 */
#include <string.h>

#include "frontend.h"

#define SSH_BAD_VERSION	"bad SSH protocol version"
#define SSH_BAD_LINE	"bad SSH identification line"
#define SSH_TOO_LONG	"SSH identification line too long"

static enum probe_result
bad(const char **why, const char *reason)
{
	*why = reason;
	return PROBE_BAD;
}

/*
 * "SSH-" and a prefix of it: AGAIN; anything else before it: NEXT. Then
 * "2.0-" or "1.99-" (the version a 2.0 client that also speaks 1.x
 * announces), a non-empty softwareversion, printable bytes to the LF (CR
 * before it optional: OpenSSH takes a bare LF too) within SSH_LINE_MAX.
 * A version other than those is BAD at its first wrong byte.
 */
enum probe_result
ssh_probe(const uint8_t *buf, size_t len, const char **why)
{
	static const char	 magic[] = "SSH-";
	static const char *const versions[] = { "2.0-", "1.99-" };
	size_t			 i, n, v, start;
	int			 may[2] = { 1, 1 };

	*why = NULL;
	n = len < 4 ? len : 4;
	if (memcmp(buf, magic, n) != 0)
		return PROBE_NEXT;
	if (len < 4)
		return PROBE_AGAIN;

	/* The version: either one, still possible byte by byte. */
	for (i = 4; ; i++) {
		if (i == len)
			return PROBE_AGAIN;
		for (v = 0; v < 2; v++)
			if (may[v] && versions[v][i - 4] != buf[i])
				may[v] = 0;
		if (!may[0] && !may[1])
			return bad(why, SSH_BAD_VERSION);
		v = may[0] ? 0 : 1;
		if (i - 4 + 1 == strlen(versions[v]))
			break;
	}
	start = i + 1;

	for (i = start; i < len && i < SSH_LINE_MAX; i++) {
		if (buf[i] == '\n')
			break;
		if (buf[i] == '\r') {
			/* CR only right before LF, judged within the limit */
			if (i + 1 < len && i + 1 < SSH_LINE_MAX &&
			    buf[i + 1] != '\n')
				return bad(why, SSH_BAD_LINE);
			continue;
		}
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return bad(why, SSH_BAD_LINE);
		/* softwareversion: non-empty, no space first */
		if (i == start && buf[i] == ' ')
			return bad(why, SSH_BAD_LINE);
	}
	if (i == SSH_LINE_MAX)
		return bad(why, SSH_TOO_LONG);
	if (i == len)
		return PROBE_AGAIN;
	/* buf[i] is the LF: something before it that is not the CR. */
	if (i == start || (i == start + 1 && buf[start] == '\r'))
		return bad(why, SSH_BAD_LINE);
	return PROBE_MATCH;
}
