/* SPDX-License-Identifier: ISC */
/*
 * errline.c: a program's stderr cut into log lines, each made safe to log.
 * Pure functions over (buf, len): no I/O, no globals, no allocation, never
 * reading past len. Cutting the same stream into other reads never
 * changes the lines (fuzz/errline_fuzz.c checks it).
 */
#include <string.h>

#include "parent.h"

/*
 * The next line of a stream whose unconsumed bytes are buf[0, len): it
 * ends at an LF, or once max bytes have come without one, or at the end
 * of the stream (final). Returns the bytes to consume, or 0 while the
 * line is still coming; *linelen is the line's length without its LF and
 * without a CR right before it.
 */
size_t
errline_next(const char *buf, size_t len, size_t max, int final,
    size_t *linelen)
{
	const char	*nl;
	size_t		 n = len < max ? len : max;

	*linelen = 0;
	if (n == 0)
		return 0;
	if ((nl = memchr(buf, '\n', n)) != NULL) {
		*linelen = nl - buf;
		if (*linelen > 0 && buf[*linelen - 1] == '\r')
			(*linelen)--;
		return nl - buf + 1;
	}
	if (len >= max || final) {
		*linelen = n;
		return n;
	}
	return 0;
}

/*
 * src[0, len) into dst as one line a terminal or syslog shows as it is:
 * control bytes (and DEL) become \xHH and a backslash \\, so a program
 * cannot forge log lines or send escape sequences to whoever reads the
 * log. Bytes from 0x80 up pass (UTF-8). Cut at the last whole escape that
 * fits; dst is always NUL-terminated. Returns strlen(dst).
 */
size_t
errline_escape(char *dst, size_t size, const char *src, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;
	unsigned char		 c;

	if (size == 0)
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)src[i];
		if (c == '\\') {
			if (o + 2 >= size)
				break;
			dst[o++] = '\\';
			dst[o++] = '\\';
		} else if (c < 0x20 || c == 0x7f) {
			if (o + 4 >= size)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		} else {
			if (o + 1 >= size)
				break;
			dst[o++] = c;
		}
	}
	dst[o] = '\0';
	return o;
}
