/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for errline_next and errline_escape (src/parent/errline.c).
 * The input is a program's stderr, fed through a buffer like child.c's in
 * reads whose sizes the first bytes pick, then all at once: the lines
 * must be the same both ways, none longer than the buffer or holding an
 * LF, and every escaped line free of control bytes, NUL-terminated,
 * within its buffer, and the whole line when there is room for it.
 */
#include <stdlib.h>
#include <string.h>

#include "parent.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXBUF	64

struct lines {
	char	 out[1 << 16];	/* each line's length byte, then its bytes */
	size_t	 len;
};

static void
check_escape(const char *line, size_t len)
{
	char	 small[17], big[4 * MAXBUF + 1];
	size_t	 n, i, want = 0;

	for (i = 0; i < len; i++)
		want += line[i] == '\\' ? 2 :
		    ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) ? 4 : 1;
	if ((n = errline_escape(big, sizeof(big), line, len)) != want ||
	    strlen(big) != n)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)big[i] < 0x20 || big[i] == 0x7f)
			abort();
	/* Cut short: a prefix of the whole, never half an escape. */
	n = errline_escape(small, sizeof(small), line, len);
	if (n >= sizeof(small) || strlen(small) != n ||
	    memcmp(small, big, n) != 0 || (n < want && big[n] != '\\' &&
	    n + 1 < sizeof(small)))
		abort();
}

/* Feeds data in reads of the sizes in steps (cycled; 0: as it fits). */
static void
run(const uint8_t *data, size_t size, size_t max, const uint8_t *steps,
    size_t nsteps, struct lines *l)
{
	char	 buf[MAXBUF];
	size_t	 have = 0, off = 0, k = 0, want, used, len;
	int	 final;

	l->len = 0;
	for (;;) {
		want = max - have;
		if (nsteps > 0 && steps[k++ % nsteps] % (max + 1) != 0 &&
		    steps[(k - 1) % nsteps] % (max + 1) < want)
			want = steps[(k - 1) % nsteps] % (max + 1);
		if (want > size - off)
			want = size - off;
		memcpy(buf + have, data + off, want);
		have += want;
		off += want;
		final = off == size;
		while ((used = errline_next(buf, have, max, final,
		    &len)) > 0) {
			if (used > have || len > used || len > max ||
			    memchr(buf, '\n', len) != NULL)
				abort();
			check_escape(buf, len);
			if (l->len + 1 + len > sizeof(l->out))
				abort();
			l->out[l->len++] = (char)len;
			memcpy(l->out + l->len, buf, len);
			l->len += len;
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		if (have >= max)
			abort();	/* a full buffer is always cut */
		if (final)
			break;
	}
	if (have != 0)
		abort();		/* the end of the stream flushes */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lines	 a, b;
	size_t			 max, nsteps;

	if (size < 2 || size > sizeof(a.out) / 2)
		return 0;
	max = 1 + data[0] % MAXBUF;
	nsteps = data[1] % 8;
	if (size < 2 + nsteps)
		return 0;
	run(data + 2 + nsteps, size - 2 - nsteps, max, data + 2, nsteps, &a);
	run(data + 2 + nsteps, size - 2 - nsteps, max, NULL, 0, &b);
	if (a.len != b.len || memcmp(a.out, b.out, a.len) != 0)
		abort();
	return 0;
}
