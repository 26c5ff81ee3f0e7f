/* SPDX-License-Identifier: ISC */
/*
 * stats.c: the parent's counters, behind "oneport status" and the
 * metrics: per service what it served and refused (by reason) and how
 * long clients waited from accept to dispatch, the programs it runs, the
 * frontend's pending clients; and the sections other modules add
 * (stats_section). Every counter is fixed-size: a connection costs a few
 * additions, never an allocation. stats_render writes the view as a
 * table, as JSON, or in the Prometheus text format.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"

#define REASONS		8	/* refusal reasons kept apart per service */
#define REASON_LEN	48
#define EXTRA_ROWS	1024	/* rows for registered names, at most */
#define SECTIONS_MAX	16
#define COLS_MAX	16

/* Upper bounds of the dispatch-time buckets, microseconds; one more
 * bucket above the last. */
static const uint32_t bounds_us[] = { 100, 250, 500, 1000, 2500, 5000,
	10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
	5000000 };
#define NBOUNDS		(sizeof(bounds_us) / sizeof(bounds_us[0]))

struct reason {
	char		 text[REASON_LEN];	/* "": unused */
	uint64_t	 n;
};

struct row {
	char		 name[SERVICE_NAME_MAX + 1];
	uint64_t	 served, refused;
	struct reason	 reasons[REASONS];
	uint64_t	 other;		/* refusals of further reasons */
	uint64_t	 hist[NBOUNDS + 1];
	uint64_t	 sum_ns, max_ns;
	uint64_t	 relayed, bytes_in, bytes_out;
	uint64_t	 starts;	/* programs oneportd runs for it */
	int		 progs;		/* of them running now */
	pid_t		 prog_pid;	/* the last started */
	char		 last_exit[16];	/* "" none yet, "0", "signal:9" */
};

struct section {
	const char	*name;
	const char	*help;
	stats_fill	 fill;
	void		*arg;
};

/* A section being filled: its rows' cells, row after row. */
struct cell {
	char		*s;		/* the text (a number printed too) */
	uint64_t	 num;
	enum stats_kind	 kind;
};
struct stats_out {
	const char	*keys[COLS_MAX];
	int		 ncols;
	struct cell	*cells;
	size_t		 ncells, maxcells;
};

static struct {
	const struct config *cfg;
	struct row	*rows;		/* sorted by name */
	int		 nrows, nextra;
	struct row	 none;		/* no service: unknown names and the
					 * frontend's refusals before a name */
	uint64_t	 started_ns;
	uint64_t	 help;		/* HELP listings */
	uint32_t	 pending, pending_max;
	struct section	 sections[SECTIONS_MAX];
	int		 nsections;
} st;

static void	channels_fill(struct stats_out *, void *);

/* ---- the bounded output buffer ---- */

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	ap;
	size_t	cap;
	int	n;

	if (b->cut)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p == NULL ? NULL : b->p + b->len,
		    b->p == NULL ? 0 : b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p != NULL && (size_t)n < b->cap - b->len) {
			b->len += n;
			return;
		}
		cap = b->cap ? b->cap * 2 : 16384;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		if (b->len + n + 1 > cap) {
			b->cut = 1;	/* the caller says so */
			return;
		}
		char	*p = realloc(b->p, cap);

		if (p == NULL) {
			b->cut = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void
sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- rows ---- */

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name,
	    ((const struct row *)b)->name);
}

static struct row *
row_find(const char *name)
{
	struct row	key;

	if (st.nrows == 0 || strlen(name) > SERVICE_NAME_MAX)
		return NULL;
	memset(key.name, 0, sizeof(key.name));
	memcpy(key.name, name, strlen(name));
	return bsearch(&key, st.rows, st.nrows, sizeof(key), row_cmp);
}

/* A name's row: a configured service's, or a registered name's (made
 * now, up to EXTRA_ROWS of them); anything else counts as no service. */
static struct row *
row_of(const char *name)
{
	struct row	*r, *rows;

	if ((r = row_find(name)) != NULL)
		return r;
	if (st.nextra >= EXTRA_ROWS || !handoff_registered(name) ||
	    strlen(name) > SERVICE_NAME_MAX)
		return &st.none;
	if ((rows = reallocarray(st.rows, st.nrows + 1, sizeof(*rows))) ==
	    NULL)
		return &st.none;
	st.rows = rows;
	r = &rows[st.nrows++];
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, strlen(name));
	st.nextra++;
	qsort(st.rows, st.nrows, sizeof(*rows), row_cmp);
	return row_find(name);
}

/*
 * A new config: a row for each service, its counts kept if it had one;
 * rows of registered names stay while they are registered. Out of
 * memory, the old rows stay (they are only counts).
 */
void
stats_configure(const struct config *cfg)
{
	struct row	*rows, *old;
	int		 i, n = 0, extra = 0;

	if (st.started_ns == 0) {
		st.started_ns = now_ns();
		stats_section("channels", "Hand-off channels: a pass "
		    "service's socket, or a name registered on the control "
		    "socket (by uid).", channels_fill, NULL);
	}
	st.cfg = cfg;
	if ((rows = calloc(cfg->nservices + st.nextra + 1,
	    sizeof(*rows))) == NULL) {
		log_warn("status counters");
		return;
	}
	for (i = 0; i < cfg->nservices; i++, n++) {
		if ((old = row_find(cfg->services[i].name)) != NULL)
			rows[n] = *old;
		else
			memcpy(rows[n].name, cfg->services[i].name,
			    sizeof(rows[n].name));
	}
	for (i = 0; i < st.nrows; i++)
		if (config_find(cfg, st.rows[i].name) == NULL &&
		    handoff_registered(st.rows[i].name)) {
			rows[n++] = st.rows[i];
			extra++;
		}
	free(st.rows);
	st.rows = rows;
	st.nrows = n;
	st.nextra = extra;
	qsort(st.rows, st.nrows, sizeof(*rows), row_cmp);
}

static void
count_refusal(struct row *r, const char *reason, uint64_t n)
{
	int	i;

	r->refused += n;
	for (i = 0; i < REASONS && r->reasons[i].text[0] != '\0'; i++)
		if (strncmp(r->reasons[i].text, reason, REASON_LEN - 1) == 0)
			break;
	if (i == REASONS) {
		r->other += n;
		return;
	}
	if (r->reasons[i].text[0] == '\0')
		snprintf(r->reasons[i].text, REASON_LEN, "%s", reason);
	r->reasons[i].n += n;
}

/* An outcome as the log line says it: "+", "@PORT..." served, "help",
 * "-reason" or a word ("reset") refused. */
static void
count_result(struct row *r, const char *result, uint64_t n)
{
	if (result[0] == '+' || result[0] == '@')
		r->served += n;
	else if (strcmp(result, "help") == 0)
		st.help += n;
	else
		count_refusal(r, result[0] == '-' ? result + 1 : result, n);
}

static void
count_time(struct row *r, uint64_t ns)
{
	size_t	i;

	for (i = 0; i < NBOUNDS && ns > bounds_us[i] * 1000ull; i++)
		;
	r->hist[i]++;
	r->sum_ns += ns;
	if (ns > r->max_ns)
		r->max_ns = ns;
}

/* Every connection the parent decided (parent_log_conn). */
void
stats_conn(const char *name, const char *result, uint64_t accepted_ns)
{
	struct row	*r = row_of(name);
	uint64_t	 now = now_ns();

	count_result(r, result, 1);
	if (accepted_ns != 0 && now >= accepted_ns)
		count_time(r, now - accepted_ns);
}

/* A relayed connection's end: its time to the backend, its bytes. */
void
stats_relayed(const char *name, const char *result, uint64_t accepted_ns,
    uint64_t connected_ns, uint64_t in, uint64_t out)
{
	struct row	*r = row_of(name);

	count_result(r, result, 1);
	if (accepted_ns != 0 && connected_ns >= accepted_ns)
		count_time(r, connected_ns - accepted_ns);
	if (result[0] == '+')
		r->relayed++;
	r->bytes_in += in;
	r->bytes_out += out;
}

/* A program oneportd runs for a service itself (supervised, redirect). */
void
stats_program(const char *name, pid_t pid)
{
	struct row	*r = row_of(name);

	r->starts++;
	r->progs++;
	r->prog_pid = pid;
}

void
stats_program_exit(const char *name, pid_t pid, int status)
{
	struct row	*r = row_of(name);

	if (r->progs > 0)
		r->progs--;
	if (r->prog_pid == pid)
		r->prog_pid = 0;
	if (WIFSIGNALED(status))
		snprintf(r->last_exit, sizeof(r->last_exit), "signal:%d",
		    WTERMSIG(status));
	else
		snprintf(r->last_exit, sizeof(r->last_exit), "%d",
		    WEXITSTATUS(status));
}

/* The frontend's report: its pending clients and what it decided. */
void
stats_frontend(const struct ipc_fstats *f)
{
	const struct ipc_fcount	*c;
	struct row		*r;
	uint32_t		 i;

	st.pending = f->pending;
	if (f->pending_max > st.pending_max)
		st.pending_max = f->pending_max;
	if (f->pending > st.pending_max)
		st.pending_max = f->pending;
	for (i = 0; i < f->n; i++) {
		c = &f->c[i];
		r = strcmp(c->name, "-") == 0 ? &st.none : row_of(c->name);
		count_result(r, c->result, c->n);
	}
}

/* ---- sections ---- */

/*
 * Another module's rows in the view, under name (lower case, [a-z_]):
 * fill is called at each rendering and calls stats_row once per row.
 * In the metrics each gauge or counter field of a row is a sample of
 * oneport_NAME_KEY (counters with _total), its label fields the labels.
 */
void
stats_section(const char *name, const char *help, stats_fill fill,
    void *arg)
{
	if (st.nsections == SECTIONS_MAX)
		fatalx("stats: too many sections");
	st.sections[st.nsections].name = name;
	st.sections[st.nsections].help = help;
	st.sections[st.nsections].fill = fill;
	st.sections[st.nsections].arg = arg;
	st.nsections++;
}

/* Every row of a section has the fields of its first, in that order;
 * one that does not is left out. */
void
stats_row(struct stats_out *o, const struct stats_field *f, int n)
{
	struct cell	*c;
	char		 num[24];
	int		 i;

	if (o->ncols == 0) {
		if (n > COLS_MAX || n <= 0)
			return;
		for (i = 0; i < n; i++)
			o->keys[i] = f[i].key;
		o->ncols = n;
	}
	if (n != o->ncols)
		return;
	for (i = 0; i < n; i++)
		if (strcmp(o->keys[i], f[i].key) != 0)
			return;
	if (o->ncells + n > o->maxcells) {
		size_t	 max = o->maxcells ? o->maxcells * 2 : 64;

		while (max < o->ncells + n)
			max *= 2;
		if ((c = reallocarray(o->cells, max, sizeof(*c))) == NULL)
			return;
		o->cells = c;
		o->maxcells = max;
	}
	for (i = 0; i < n; i++) {
		c = &o->cells[o->ncells + i];
		c->kind = f[i].kind;
		c->num = f[i].num;
		if (f[i].kind != STATS_LABEL)
			snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)f[i].num);
		c->s = strdup(f[i].kind == STATS_LABEL ?
		    (f[i].str != NULL ? f[i].str : "") : num);
		if (c->s == NULL) {
			while (--i >= 0)
				free(o->cells[o->ncells + i].s);
			return;
		}
	}
	o->ncells += n;
}

static void
out_clear(struct stats_out *o)
{
	size_t	i;

	for (i = 0; i < o->ncells; i++)
		free(o->cells[i].s);
	free(o->cells);
	memset(o, 0, sizeof(*o));
}

/* The hand-off channels: configured sockets and registered names. */
static void
channel_row(const char *name, const char *kind, uid_t uid, int port,
    int waiting, void *arg)
{
	struct stats_field	f[5];
	char			u[16];

	snprintf(u, sizeof(u), "%d", (int)uid);
	f[0] = (struct stats_field){ "name", STATS_LABEL, name, 0 };
	f[1] = (struct stats_field){ "kind", STATS_LABEL, kind, 0 };
	f[2] = (struct stats_field){ "uid", STATS_LABEL, u, 0 };
	f[3] = (struct stats_field){ "port", STATS_GAUGE, NULL,
	    (uint64_t)port };
	f[4] = (struct stats_field){ "waiting", STATS_GAUGE, NULL,
	    (uint64_t)waiting };
	stats_row(arg, f, 5);
}

static void
channels_fill(struct stats_out *o, void *arg)
{
	(void)arg;
	handoff_each(channel_row, o);
}

/* ---- rendering ---- */

/* Text for a person: what cannot be printed as itself is a '?'. */
static void
put_text(struct sbuf *b, const char *s, int width)
{
	int	n = 0;

	for (; *s != '\0'; s++, n++)
		sbuf_printf(b, "%c", *s >= ' ' && *s <= '~' ? *s : '?');
	for (; n < width; n++)
		sbuf_printf(b, " ");
}

/* A JSON string: every byte outside printable ASCII escaped, so any
 * bytes make valid JSON. */
static void
put_json(struct sbuf *b, const char *s)
{
	sbuf_printf(b, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_printf(b, "\\%c", *s);
		else if (*s >= ' ' && *s <= '~')
			sbuf_printf(b, "%c", *s);
		else
			sbuf_printf(b, "\\u%04x", (unsigned char)*s);
	}
	sbuf_printf(b, "\"");
}

/* A Prometheus label value: printable ASCII, quote and backslash
 * escaped. */
static void
put_label(struct sbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_printf(b, "\\%c", *s);
		else
			sbuf_printf(b, "%c", *s >= ' ' && *s <= '~' ? *s : '?');
	}
}

/* A simple table: ncols headers, then rows of cells, each column as
 * wide as its widest. */
static void
text_table(struct sbuf *b, const char *const *heads, int ncols,
    char *const *cells, size_t nrows)
{
	int	w[COLS_MAX], i;
	size_t	r;

	for (i = 0; i < ncols; i++)
		w[i] = strlen(heads[i]);
	for (r = 0; r < nrows; r++)
		for (i = 0; i < ncols; i++)
			if ((int)strlen(cells[r * ncols + i]) > w[i])
				w[i] = strlen(cells[r * ncols + i]);
	for (i = 0; i < ncols; i++) {
		char	h[64];
		int	k;

		snprintf(h, sizeof(h), "%s", heads[i]);
		for (k = 0; h[k] != '\0'; k++)
			h[k] = toupper((unsigned char)h[k]);
		put_text(b, h, i + 1 < ncols ? w[i] + 2 : 0);
	}
	sbuf_printf(b, "\n");
	for (r = 0; r < nrows; r++) {
		for (i = 0; i < ncols; i++)
			put_text(b, cells[r * ncols + i], i + 1 < ncols ?
			    w[i] + 2 : 0);
		sbuf_printf(b, "\n");
	}
}

/* A row's configured service; NULL for a registered name or none. */
static const struct service *
svc_of(const struct row *r)
{
	if (r == &st.none || st.cfg == NULL)
		return NULL;
	return config_find(st.cfg, r->name);
}

static const char *
mode_of(const struct row *r)
{
	const struct service	*svc = svc_of(r);

	if (r == &st.none)
		return "-";
	if (svc == NULL)
		return "registered";
	if (svc->forward_host != NULL)
		return "forward";
	if (svc->socket != NULL)
		return svc->argv != NULL ? "pass+run" : "pass";
	switch (svc->redirect) {
	case REDIRECT_SHARED:
		return "redirect";
	case REDIRECT_PER_REQUEST:
		return "redirect1";
	case REDIRECT_STATIC:
		return "static";
	}
	return "spawn";
}

static uint64_t
hist_count(const struct row *r)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i <= NBOUNDS; i++)
		n += r->hist[i];
	return n;
}

/* A quantile of the dispatch time, in microseconds, interpolated in
 * its bucket; the top bucket ends at the longest seen. */
static double
quantile_us(const struct row *r, double q)
{
	uint64_t	n = hist_count(r), cum = 0;
	double		want = q * n, lo, hi;
	size_t		i;

	if (n == 0)
		return -1;
	for (i = 0; i <= NBOUNDS; i++) {
		if (r->hist[i] > 0 && cum + r->hist[i] >= want) {
			lo = i == 0 ? 0 : bounds_us[i - 1];
			hi = i < NBOUNDS ? bounds_us[i] : r->max_ns / 1000.0;
			if (hi > r->max_ns / 1000.0)
				hi = r->max_ns / 1000.0;
			if (hi < lo)
				hi = lo;
			return lo + (hi - lo) * (want - cum) / r->hist[i];
		}
		cum += r->hist[i];
	}
	return r->max_ns / 1000.0;
}

static void
fmt_ms(char *buf, size_t size, double us)
{
	if (us < 0)
		snprintf(buf, size, "-");
	else if (us < 10000)
		snprintf(buf, size, "%.2fms", us / 1000);
	else
		snprintf(buf, size, "%.0fms", us / 1000);
}

static void
fmt_duration(char *buf, size_t size, uint64_t s)
{
	if (s < 3600)
		snprintf(buf, size, "%llum%02llus", (unsigned long long)s / 60,
		    (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lluh%02llum",
		    (unsigned long long)s / 3600,
		    (unsigned long long)s % 3600 / 60);
	else
		snprintf(buf, size, "%llud%02lluh",
		    (unsigned long long)s / 86400,
		    (unsigned long long)s % 86400 / 3600);
}

/* The rows shown: the services', and the no-service row if it has
 * anything to show. */
static int
rows_shown(const struct row **v, int max)
{
	int	i, n = 0;

	for (i = 0; i < st.nrows && n < max; i++)
		v[n++] = &st.rows[i];
	if (n < max && (st.none.served || st.none.refused))
		v[n++] = &st.none;
	return n;
}

static void
reasons_text(const struct row *r, char *buf, size_t size)
{
	size_t	len = 0;
	int	i;

	buf[0] = '\0';
	for (i = 0; i < REASONS && r->reasons[i].text[0] != '\0'; i++)
		len += snprintf(buf + len, len < size ? size - len : 0,
		    "%s%s %llu", i ? ", " : "", r->reasons[i].text,
		    (unsigned long long)r->reasons[i].n);
	if (r->other)
		snprintf(buf + len, len < size ? size - len : 0,
		    "%sother %llu", i ? ", " : "",
		    (unsigned long long)r->other);
}

#define SVC_COLS	8

static void
text_services(struct sbuf *b, const struct row **v, int n)
{
	static const char *const heads[SVC_COLS] = { "service", "mode",
	    "running", "served", "refused", "p50", "p99", "refused by reason" };
	const struct service	*svc;
	char			**cells;
	char			 buf[1024];
	int			 i, k;

	if ((cells = calloc((size_t)n * SVC_COLS, sizeof(*cells))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		char	**c = cells + (size_t)i * SVC_COLS;

		svc = svc_of(v[i]);
		c[0] = strdup(v[i] == &st.none ? "-" : v[i]->name);
		c[1] = strdup(mode_of(v[i]));
		if (svc != NULL && svc->socket == NULL &&
		    svc->redirect == REDIRECT_NONE &&
		    svc->forward_host == NULL) {
			if (svc->max_instances > 0)
				snprintf(buf, sizeof(buf), "%d/%d",
				    svc->running, svc->max_instances);
			else
				snprintf(buf, sizeof(buf), "%d", svc->running);
		} else if (v[i]->starts > 0)
			snprintf(buf, sizeof(buf), "%d prog", v[i]->progs);
		else
			snprintf(buf, sizeof(buf), "-");
		c[2] = strdup(buf);
		snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)v[i]->served);
		c[3] = strdup(buf);
		snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)v[i]->refused);
		c[4] = strdup(buf);
		fmt_ms(buf, sizeof(buf), quantile_us(v[i], 0.5));
		c[5] = strdup(buf);
		fmt_ms(buf, sizeof(buf), quantile_us(v[i], 0.99));
		c[6] = strdup(buf);
		reasons_text(v[i], buf, sizeof(buf));
		c[7] = strdup(buf);
		for (k = 0; k < SVC_COLS; k++)
			if (c[k] == NULL)
				goto out;
	}
	text_table(b, heads, SVC_COLS, cells, n);
out:
	for (i = 0; i < n * SVC_COLS; i++)
		free(cells[i]);
	free(cells);
}

static void
text_programs(struct sbuf *b)
{
	static const char *const heads[] = { "program of", "pid", "running",
	    "starts", "restarts", "last exit" };
	char	*cells[6 * 64], buf[32];
	int	 i, n = 0, k;

	for (i = 0; i < st.nrows && n < 64; i++) {
		const struct row *r = &st.rows[i];

		if (r->starts == 0)
			continue;
		cells[n * 6] = strdup(r->name);
		snprintf(buf, sizeof(buf), "%d", (int)r->prog_pid);
		cells[n * 6 + 1] = strdup(r->prog_pid > 0 ? buf : "-");
		snprintf(buf, sizeof(buf), "%d", r->progs);
		cells[n * 6 + 2] = strdup(buf);
		snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)r->starts);
		cells[n * 6 + 3] = strdup(buf);
		snprintf(buf, sizeof(buf), "%llu",
		    (unsigned long long)r->starts - 1);
		cells[n * 6 + 4] = strdup(buf);
		cells[n * 6 + 5] = strdup(r->last_exit[0] ? r->last_exit :
		    "-");
		n++;
	}
	for (k = 0; k < n * 6; k++)
		if (cells[k] == NULL)
			goto out;
	if (n > 0) {
		sbuf_printf(b, "\n");
		text_table(b, heads, 6, cells, n);
	}
out:
	for (k = 0; k < n * 6; k++)
		free(cells[k]);
}

static void
text_section(struct sbuf *b, const struct section *sec,
    const struct stats_out *o)
{
	char	**cells;
	size_t	  i;

	if (o->ncols == 0 || o->ncells == 0)
		return;
	if ((cells = calloc(o->ncells, sizeof(*cells))) == NULL)
		return;
	for (i = 0; i < o->ncells; i++)
		cells[i] = o->cells[i].s;
	sbuf_printf(b, "\n%s:\n", sec->name);
	text_table(b, o->keys, o->ncols, cells, o->ncells / o->ncols);
	free(cells);
}

static void
json_section(struct sbuf *b, const struct section *sec,
    const struct stats_out *o)
{
	size_t	i;
	int	k;

	sbuf_printf(b, ",\n  ");
	put_json(b, sec->name);
	sbuf_printf(b, ": [");
	for (i = 0; o->ncols > 0 && i < o->ncells; i += o->ncols) {
		sbuf_printf(b, "%s{", i ? ", " : "");
		for (k = 0; k < o->ncols; k++) {
			sbuf_printf(b, "%s", k ? ", " : "");
			put_json(b, o->keys[k]);
			sbuf_printf(b, ": ");
			if (o->cells[i + k].kind == STATS_LABEL)
				put_json(b, o->cells[i + k].s);
			else
				sbuf_printf(b, "%s", o->cells[i + k].s);
		}
		sbuf_printf(b, "}");
	}
	sbuf_printf(b, "]");
}

static void
prom_section(struct sbuf *b, const struct section *sec,
    const struct stats_out *o)
{
	size_t	i;
	int	k, j, first;

	for (k = 0; k < o->ncols; k++) {
		if (o->ncells == 0 || o->cells[k].kind == STATS_LABEL)
			continue;
		sbuf_printf(b, "# HELP oneport_%s_%s%s %s\n", sec->name,
		    o->keys[k], o->cells[k].kind == STATS_COUNTER ? "_total" :
		    "", sec->help);
		sbuf_printf(b, "# TYPE oneport_%s_%s%s %s\n", sec->name,
		    o->keys[k], o->cells[k].kind == STATS_COUNTER ? "_total" :
		    "", o->cells[k].kind == STATS_COUNTER ? "counter" :
		    "gauge");
		for (i = 0; i < o->ncells; i += o->ncols) {
			sbuf_printf(b, "oneport_%s_%s%s", sec->name,
			    o->keys[k], o->cells[k].kind == STATS_COUNTER ?
			    "_total" : "");
			for (j = 0, first = 1; j < o->ncols; j++) {
				if (o->cells[i + j].kind != STATS_LABEL)
					continue;
				sbuf_printf(b, "%s%s=\"", first ? "{" : ",",
				    o->keys[j]);
				put_label(b, o->cells[i + j].s);
				sbuf_printf(b, "\"");
				first = 0;
			}
			sbuf_printf(b, "%s %s\n", first ? "" : "}",
			    o->cells[i + k].s);
		}
	}
}

static void
json_row(struct sbuf *b, const struct row *r, int first)
{
	const struct service	*svc = svc_of(r);
	const char		*mode = mode_of(r);
	double			 p50 = quantile_us(r, 0.5),
				 p99 = quantile_us(r, 0.99);
	int			 i;

	sbuf_printf(b, "%s\n    {\"name\": ", first ? "" : ",");
	put_json(b, r == &st.none ? "-" : r->name);
	sbuf_printf(b, ", \"mode\": \"%s\"", mode);
	if (svc != NULL)
		sbuf_printf(b, ", \"running\": %d, \"limit\": %d",
		    svc->running, svc->max_instances);
	sbuf_printf(b, ", \"served\": %llu, \"refused\": %llu, "
	    "\"refused_by\": {", (unsigned long long)r->served,
	    (unsigned long long)r->refused);
	for (i = 0; i < REASONS && r->reasons[i].text[0] != '\0'; i++) {
		sbuf_printf(b, "%s", i ? ", " : "");
		put_json(b, r->reasons[i].text);
		sbuf_printf(b, ": %llu", (unsigned long long)r->reasons[i].n);
	}
	if (r->other)
		sbuf_printf(b, "%s\"other\": %llu", i ? ", " : "",
		    (unsigned long long)r->other);
	sbuf_printf(b, "}, \"dispatched\": %llu",
	    (unsigned long long)hist_count(r));
	if (p50 >= 0)
		sbuf_printf(b, ", \"p50_ms\": %.3f, \"p99_ms\": %.3f",
		    p50 / 1000, p99 / 1000);
	else
		sbuf_printf(b, ", \"p50_ms\": null, \"p99_ms\": null");
	if (svc != NULL && svc->forward_host != NULL)
		sbuf_printf(b, ", \"relayed\": %llu, \"bytes_in\": %llu, "
		    "\"bytes_out\": %llu", (unsigned long long)r->relayed,
		    (unsigned long long)r->bytes_in,
		    (unsigned long long)r->bytes_out);
	if (r->starts > 0) {
		sbuf_printf(b, ", \"program\": {\"pid\": %d, \"running\": %d, "
		    "\"starts\": %llu, \"restarts\": %llu, \"last_exit\": ",
		    (int)r->prog_pid, r->progs, (unsigned long long)r->starts,
		    (unsigned long long)r->starts - 1);
		if (r->last_exit[0] != '\0')
			put_json(b, r->last_exit);
		else
			sbuf_printf(b, "null");
		sbuf_printf(b, "}");
	}
	sbuf_printf(b, "}");
}

static void
prom_head(struct sbuf *b, const char *name, const char *type,
    const char *help)
{
	sbuf_printf(b, "# HELP oneport_%s %s\n# TYPE oneport_%s %s\n", name,
	    help, name, type);
}

static void
prom_sample(struct sbuf *b, const char *name, const struct row *r,
    const char *label, const char *value, uint64_t n)
{
	sbuf_printf(b, "oneport_%s{service=\"", name);
	put_label(b, r == &st.none ? "-" : r->name);
	if (label != NULL) {
		sbuf_printf(b, "\",%s=\"", label);
		put_label(b, value);
	}
	sbuf_printf(b, "\"} %llu\n", (unsigned long long)n);
}

static void
prom_services(struct sbuf *b, const struct row **v, int n)
{
	const struct service	*svc;
	uint64_t		 cum;
	int			 i, k;
	size_t			 j;

	prom_head(b, "service_info", "gauge", "A configured or registered "
	    "service, and how it is served (mode).");
	for (i = 0; i < n; i++)
		if (v[i] != &st.none)
			prom_sample(b, "service_info", v[i], "mode",
			    mode_of(v[i]), 1);
	prom_head(b, "running", "gauge", "Programs running for a spawn "
	    "service's clients.");
	for (i = 0; i < n; i++)
		if ((svc = svc_of(v[i])) != NULL)
			prom_sample(b, "running", v[i], NULL, NULL,
			    svc->running);
	prom_head(b, "instances_limit", "gauge", "A service's max "
	    "instances; 0 for no limit.");
	for (i = 0; i < n; i++)
		if ((svc = svc_of(v[i])) != NULL)
			prom_sample(b, "instances_limit", v[i], NULL, NULL,
			    svc->max_instances);
	prom_head(b, "served_total", "counter", "Clients handed to their "
	    "service or told where it is.");
	for (i = 0; i < n; i++)
		prom_sample(b, "served_total", v[i], NULL, NULL,
		    v[i]->served);
	prom_head(b, "refused_total", "counter", "Clients refused, by the "
	    "reason they were given.");
	for (i = 0; i < n; i++) {
		for (k = 0; k < REASONS && v[i]->reasons[k].text[0]; k++)
			prom_sample(b, "refused_total", v[i], "reason",
			    v[i]->reasons[k].text, v[i]->reasons[k].n);
		if (v[i]->other)
			prom_sample(b, "refused_total", v[i], "reason",
			    "other", v[i]->other);
	}
	prom_head(b, "dispatch_seconds", "histogram", "Time from accept to "
	    "dispatch, of the connections the parent decided.");
	for (i = 0; i < n; i++) {
		for (j = 0, cum = 0; j <= NBOUNDS; j++) {
			cum += v[i]->hist[j];
			sbuf_printf(b, "oneport_dispatch_seconds_bucket"
			    "{service=\"");
			put_label(b, v[i] == &st.none ? "-" : v[i]->name);
			if (j < NBOUNDS)
				sbuf_printf(b, "\",le=\"%g\"} %llu\n",
				    bounds_us[j] / 1e6,
				    (unsigned long long)cum);
			else
				sbuf_printf(b, "\",le=\"+Inf\"} %llu\n",
				    (unsigned long long)cum);
		}
		sbuf_printf(b, "oneport_dispatch_seconds_sum{service=\"");
		put_label(b, v[i] == &st.none ? "-" : v[i]->name);
		sbuf_printf(b, "\"} %.6f\n", v[i]->sum_ns / 1e9);
		sbuf_printf(b, "oneport_dispatch_seconds_count{service=\"");
		put_label(b, v[i] == &st.none ? "-" : v[i]->name);
		sbuf_printf(b, "\"} %llu\n", (unsigned long long)cum);
	}
	prom_head(b, "relayed_total", "counter", "Connections a forward "
	    "service's backend took.");
	for (i = 0; i < n; i++)
		if (v[i]->relayed || v[i]->bytes_in || v[i]->bytes_out)
			prom_sample(b, "relayed_total", v[i], NULL, NULL,
			    v[i]->relayed);
	prom_head(b, "relayed_bytes_total", "counter", "Bytes relayed for "
	    "a forward service: in from clients, out to them.");
	for (i = 0; i < n; i++)
		if (v[i]->relayed || v[i]->bytes_in || v[i]->bytes_out) {
			prom_sample(b, "relayed_bytes_total", v[i],
			    "direction", "in", v[i]->bytes_in);
			prom_sample(b, "relayed_bytes_total", v[i],
			    "direction", "out", v[i]->bytes_out);
		}
	prom_head(b, "program_starts_total", "counter", "Starts of a "
	    "program oneportd runs for a service (supervised, redirect).");
	for (i = 0; i < n; i++)
		if (v[i]->starts > 0)
			prom_sample(b, "program_starts_total", v[i], NULL,
			    NULL, v[i]->starts);
	prom_head(b, "programs_running", "gauge", "Of them, running now.");
	for (i = 0; i < n; i++)
		if (v[i]->starts > 0)
			prom_sample(b, "programs_running", v[i], NULL, NULL,
			    v[i]->progs);
}

static void
listener_text(struct sbuf *b, const char *what, const struct listener *l,
    int n)
{
	char	a[ADDR_STRLEN];
	int	i;

	sbuf_printf(b, "%s:", what);
	for (i = 0; i < n; i++)
		sbuf_printf(b, " %s", addr_ntop((const struct sockaddr *)
		    &l[i].ss, a, sizeof(a)));
	sbuf_printf(b, "%s\n", n == 0 ? " none" : "");
}

static void
listener_json(struct sbuf *b, const char *what, const struct listener *l,
    int n)
{
	char	a[ADDR_STRLEN];
	int	i;

	sbuf_printf(b, ",\n  \"%s\": [", what);
	for (i = 0; i < n; i++) {
		sbuf_printf(b, "%s", i ? ", " : "");
		put_json(b, addr_ntop((const struct sockaddr *)&l[i].ss, a,
		    sizeof(a)));
	}
	sbuf_printf(b, "]");
}

/* The whole view, in one of the formats; b->cut says it did not fit. */
void
stats_render(enum stats_fmt fmt, struct sbuf *b)
{
	const struct row	**v;
	struct stats_out	  o;
	const struct config	 *cfg = st.cfg;
	uint64_t		  up = (now_ns() - st.started_ns) / 1000000000;
	char			  dur[32];
	int			  n, i;

	if ((v = calloc(st.nrows + 1, sizeof(*v))) == NULL) {
		b->cut = 1;
		return;
	}
	n = rows_shown(v, st.nrows + 1);
	fmt_duration(dur, sizeof(dur), up);
	switch (fmt) {
	case STATS_TEXT:
		sbuf_printf(b, "oneportd pid %d, up %s, %d services\n",
		    (int)getpid(), dur, cfg->nservices);
		listener_text(b, "listening", cfg->listeners,
		    cfg->nlisteners);
		if (cfg->nmetrics > 0)
			listener_text(b, "metrics", cfg->metrics,
			    cfg->nmetrics);
		sbuf_printf(b, "pending: %u now, %u most; help: %llu\n\n",
		    st.pending, st.pending_max, (unsigned long long)st.help);
		text_services(b, v, n);
		text_programs(b);
		break;
	case STATS_JSON:
		sbuf_printf(b, "{\n  \"pid\": %d, \"uptime_s\": %llu, "
		    "\"pending\": %u, \"pending_max\": %u, \"help\": %llu",
		    (int)getpid(), (unsigned long long)up, st.pending,
		    st.pending_max, (unsigned long long)st.help);
		listener_json(b, "listeners", cfg->listeners,
		    cfg->nlisteners);
		listener_json(b, "metrics", cfg->metrics, cfg->nmetrics);
		sbuf_printf(b, ",\n  \"services\": [");
		for (i = 0; i < n; i++)
			json_row(b, v[i], i == 0);
		sbuf_printf(b, "\n  ]");
		break;
	case STATS_PROM:
		prom_head(b, "uptime_seconds", "gauge", "Seconds since "
		    "oneportd started.");
		sbuf_printf(b, "oneport_uptime_seconds %llu\n",
		    (unsigned long long)up);
		prom_head(b, "pending", "gauge", "Clients the frontend holds "
		    "that have not yet sent their first message.");
		sbuf_printf(b, "oneport_pending %u\n", st.pending);
		prom_head(b, "pending_max", "gauge", "The most pending "
		    "clients seen at once.");
		sbuf_printf(b, "oneport_pending_max %u\n", st.pending_max);
		prom_head(b, "help_total", "counter", "HELP listings sent.");
		sbuf_printf(b, "oneport_help_total %llu\n",
		    (unsigned long long)st.help);
		prom_head(b, "listeners", "gauge", "Listening sockets.");
		sbuf_printf(b, "oneport_listeners %d\n", cfg->nlisteners);
		prom_services(b, v, n);
		break;
	}
	free(v);
	for (i = 0; i < st.nsections; i++) {
		memset(&o, 0, sizeof(o));
		st.sections[i].fill(&o, st.sections[i].arg);
		if (fmt == STATS_TEXT)
			text_section(b, &st.sections[i], &o);
		else if (fmt == STATS_JSON)
			json_section(b, &st.sections[i], &o);
		else
			prom_section(b, &st.sections[i], &o);
		out_clear(&o);
	}
	if (fmt == STATS_JSON)
		sbuf_printf(b, "\n}\n");
}
