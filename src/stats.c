/* veer — request metrics: per-worker shards, summed when read.  See
 * include/veer/stats.h.
 *
 * The scheme (single writer per shard, lock-free readers):
 *
 * - A shard holds four tables: requests keyed by (route, pool), retries by
 *   pool, rate-limited by route, connections by listener.  A table's entries
 *   live in chunks that never move: chunk k holds CHUNK0 << k entries, so
 *   entry i sits at a fixed address for the life of the shard however many
 *   entries follow it.  An entry's key (a hash and copies of the names, owned
 *   by the shard) is written once, before the entry is published, and never
 *   changes.
 * - The owning worker finds an entry through an open-addressing index of
 *   entry numbers (linear probing on a hash of the names).  Only the writer
 *   touches the index; it may reallocate it while growing, since readers
 *   never look at it.
 * - A new entry is filled in first, then published by storing the table's
 *   count with memory_order_release.  A reader loads the count with
 *   memory_order_acquire and walks entries [0, count) in place: everything
 *   the writer did before the store (chunk pointer, names, zeroed counters)
 *   is visible to it.  The same release/acquire pair publishes a request
 *   entry's inline status codes (ncodes) and its overflow code array.
 * - Counters are _Atomic uint64_t.  Having one writer, a bump is a relaxed
 *   load and a relaxed store of the value plus one: no read-modify-write
 *   instruction, no lock prefix, and a reader's relaxed load never sees a
 *   torn value.  The connection gauge is kept the same way, in two's
 *   complement; shards are summed modulo 2^64 and read back as signed, so a
 *   close counted on another worker than the open still sums right.
 * - After the first request of a series the writer neither allocates nor
 *   takes a lock: it hashes the names, probes, compares, and bumps three
 *   counters (code, duration bucket, duration sum).
 * - A histogram keeps per-bucket (not cumulative) counts; the renderer adds
 *   them up, and takes _count as their total, so +Inf always equals _count
 *   within one scrape even while the worker keeps counting.
 *
 * Status codes: the first INLINE_CODES distinct codes of a series are kept
 * inline (a short scan finds them); later ones go to an array of every code
 * 100..599, allocated once per series.  Codes outside 100..599 (no answer
 * was sent) are counted as code="0".
 *
 * A shard must outlive every reader that walks it: veer_stats_free() only
 * once no render or totals call can be running on it.  No global state.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "veer/common.h"
#include "veer/stats.h"

#define STATS_MAGIC 0x76737461u /* "vsta" */

/* Entries: chunk k holds CHUNK0 << k of them; NCHUNKS chunks are far more
 * series than any configuration names (8 * (2^20 - 1)). */
#define CHUNK0 8u
#define NCHUNKS 20u
#define MAX_ENTRIES ((size_t)CHUNK0 * ((((size_t)1) << NCHUNKS) - 1))
#define INDEX_MIN 16u /* initial index slots (a power of two) */

#define CODE_MIN 100
#define CODE_MAX 599
#define NCODES (CODE_MAX - CODE_MIN + 1)
#define CODE_OTHER 0 /* out of range: rendered code="0" */
#define INLINE_CODES 8u

/* Prometheus le bounds of veer_request_duration_seconds, in microseconds and
 * as rendered; the last bucket is +Inf. */
#define NBUCKETS 14u
static const uint64_t bucket_us[NBUCKETS - 1] = {
	1000,   2500,   5000,    10000,   25000,   50000,    100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const bucket_le[NBUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25",  "0.5",    "1",     "2.5",  "5",     "10",   "+Inf",
};

/* The head of every entry: set before publication, then read-only. */
struct key {
	uint64_t hash;
	char *a; /* route, pool or listener */
	char *b; /* pool of a request entry; NULL in one-name tables */
};

struct code_slot {
	int code; /* written before ncodes covers the slot */
	_Atomic uint64_t n;
};

struct req_entry {
	struct key k;
	_Atomic uint32_t ncodes;
	struct code_slot codes[INLINE_CODES];
	/* NCODES + 1 counters (the last for CODE_OTHER), once the inline slots
	 * are full; NULL before. */
	_Atomic uint64_t *_Atomic overflow;
	_Atomic uint64_t bucket[NBUCKETS]; /* per bucket, not cumulative */
	_Atomic uint64_t sum_us;
};

/* A counter (retries, rate limited) or the connection gauge. */
struct one_entry {
	struct key k;
	_Atomic uint64_t v;
};

struct table {
	size_t esize;
	void *chunk[NCHUNKS]; /* set before count covers any of its entries */
	_Atomic size_t count; /* published entries */
	/* Writer only. */
	uint32_t *index; /* entry number + 1; 0 = empty */
	size_t mask;     /* index slots - 1 */
};

struct veer_stats {
	unsigned magic;
	struct table req;     /* struct req_entry by (route, pool) */
	struct table retries; /* struct one_entry by pool */
	struct table limited; /* struct one_entry by route */
	struct table conns;   /* struct one_entry by listener */
	struct table redis_errors; /* struct one_entry by reason */
	struct table redis_conns;  /* struct one_entry by address */
};

/* ---- tables ---- */

static void table_init(struct table *t, size_t esize)
{
	memset(t, 0, sizeof(*t));
	t->esize = esize;
	atomic_init(&t->count, 0);
	t->index = veer_xcalloc(INDEX_MIN, sizeof(*t->index));
	t->mask = INDEX_MIN - 1;
}

/* The chunk holding entry I, and I's place in it. */
static unsigned chunk_of(size_t i, size_t *off)
{
	size_t q = i / CHUNK0 + 1;
	unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)q);

	*off = i - (size_t)CHUNK0 * ((((size_t)1) << k) - 1);
	return k;
}

static void *entry_at(const struct table *t, size_t i)
{
	size_t off;
	unsigned k = chunk_of(i, &off);

	return (char *)t->chunk[k] + off * t->esize;
}

static void table_fini(struct table *t, bool req)
{
	size_t n = atomic_load_explicit(&t->count, memory_order_relaxed);

	for (size_t i = 0; i < n; i++) {
		struct key *k = entry_at(t, i);

		free(k->a);
		free(k->b);
		if (req)
			free(atomic_load_explicit(&((struct req_entry *)k)->overflow,
						  memory_order_relaxed));
	}
	for (unsigned c = 0; c < NCHUNKS; c++)
		free(t->chunk[c]);
	free(t->index);
}

/* FNV-1a over A, a 0xff separator, then B; folded so the index's low bits
 * see the high ones.  Only a hint: equality is decided by strcmp. */
static uint64_t hash_names(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	if (b) {
		h = (h ^ 0xffu) * 0x100000001b3ull;
		for (const unsigned char *p = (const unsigned char *)b; *p; p++)
			h = (h ^ *p) * 0x100000001b3ull;
	}
	return h ^ (h >> 32);
}

static bool key_eq(const struct key *k, uint64_t h, const char *a, const char *b)
{
	return k->hash == h && strcmp(k->a, a) == 0 && (b == NULL || strcmp(k->b, b) == 0);
}

static void index_grow(struct table *t, size_t n)
{
	size_t mask = t->mask * 2 + 1;
	uint32_t *index = veer_xcalloc(mask + 1, sizeof(*index));

	for (size_t i = 0; i < n; i++) {
		const struct key *k = entry_at(t, i);
		size_t p = k->hash & mask;

		while (index[p])
			p = (p + 1) & mask;
		index[p] = (uint32_t)(i + 1);
	}
	free(t->index);
	t->index = index;
	t->mask = mask;
}

/* The entry of (A, B) in T, created and published when new; NULL only when
 * the table is full (MAX_ENTRIES series: the event goes uncounted). */
static void *table_get(struct table *t, const char *a, const char *b)
{
	uint64_t h = hash_names(a, b);
	size_t n = atomic_load_explicit(&t->count, memory_order_relaxed);
	size_t p = h & t->mask;
	struct key *k;
	size_t off;
	unsigned c;
	uint32_t v;

	while ((v = t->index[p]) != 0) {
		k = entry_at(t, v - 1);
		if (key_eq(k, h, a, b))
			return k;
		p = (p + 1) & t->mask;
	}
	if (VEER_UNLIKELY(n >= MAX_ENTRIES))
		return NULL;
	/* Keep the index at most half full. */
	if ((n + 1) * 2 > t->mask + 1) {
		index_grow(t, n);
		p = h & t->mask;
		while (t->index[p])
			p = (p + 1) & t->mask;
	}
	c = chunk_of(n, &off);
	if (off == 0) /* zeroed memory is a valid 0 for every counter */
		t->chunk[c] = veer_xcalloc((size_t)CHUNK0 << c, t->esize);
	k = entry_at(t, n);
	k->hash = h;
	k->a = veer_xstrdup(a);
	k->b = b ? veer_xstrdup(b) : NULL;
	t->index[p] = (uint32_t)(n + 1);
	atomic_store_explicit(&t->count, n + 1, memory_order_release);
	return k;
}

/* Single writer: no read-modify-write needed (see the top of the file). */
static inline void bump(_Atomic uint64_t *c, uint64_t by)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
			      memory_order_relaxed);
}

static inline uint64_t rd(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- writer side ---- */

struct veer_stats *veer_stats_new(void)
{
	struct veer_stats *s = veer_xcalloc(1, sizeof(*s));

	s->magic = STATS_MAGIC;
	table_init(&s->req, sizeof(struct req_entry));
	table_init(&s->retries, sizeof(struct one_entry));
	table_init(&s->limited, sizeof(struct one_entry));
	table_init(&s->conns, sizeof(struct one_entry));
	table_init(&s->redis_errors, sizeof(struct one_entry));
	table_init(&s->redis_conns, sizeof(struct one_entry));
	return s;
}

void veer_stats_free(struct veer_stats *s)
{
	if (s == NULL)
		return;
	VEER_CHECK_MAGIC(s, STATS_MAGIC);
	table_fini(&s->req, true);
	table_fini(&s->retries, false);
	table_fini(&s->limited, false);
	table_fini(&s->conns, false);
	table_fini(&s->redis_errors, false);
	table_fini(&s->redis_conns, false);
	s->magic = 0;
	free(s);
}

static size_t overflow_slot(int code)
{
	return code == CODE_OTHER ? NCODES : (size_t)(code - CODE_MIN);
}

static void count_code(struct req_entry *e, int code)
{
	uint32_t nc = atomic_load_explicit(&e->ncodes, memory_order_relaxed);
	_Atomic uint64_t *ov;

	for (uint32_t i = 0; i < nc; i++) {
		if (e->codes[i].code == code) {
			bump(&e->codes[i].n, 1);
			return;
		}
	}
	ov = atomic_load_explicit(&e->overflow, memory_order_relaxed);
	if (nc < INLINE_CODES) {
		e->codes[nc].code = code;
		atomic_store_explicit(&e->codes[nc].n, 1, memory_order_relaxed);
		atomic_store_explicit(&e->ncodes, nc + 1, memory_order_release);
		return;
	}
	if (ov == NULL) {
		ov = veer_xcalloc(NCODES + 1, sizeof(*ov));
		atomic_store_explicit(&e->overflow, ov, memory_order_release);
	}
	bump(&ov[overflow_slot(code)], 1);
}

void veer_stats_request(struct veer_stats *s, const char *route, const char *pool, int code,
			uint64_t duration_us)
{
	struct req_entry *e;
	unsigned b = 0;

	VEER_CHECK_MAGIC(s, STATS_MAGIC);
	e = table_get(&s->req, route ? route : "", pool ? pool : "");
	if (VEER_UNLIKELY(e == NULL))
		return;
	count_code(e, code >= CODE_MIN && code <= CODE_MAX ? code : CODE_OTHER);
	while (b < NBUCKETS - 1 && duration_us > bucket_us[b])
		b++;
	bump(&e->bucket[b], 1);
	bump(&e->sum_us, duration_us);
}

static void one_add(struct table *t, const char *name, uint64_t by)
{
	struct one_entry *e = table_get(t, name ? name : "", NULL);

	if (VEER_LIKELY(e != NULL))
		bump(&e->v, by);
}

void veer_stats_retry(struct veer_stats *s, const char *pool)
{
	VEER_CHECK_MAGIC(s, STATS_MAGIC);
	one_add(&s->retries, pool, 1);
}

void veer_stats_rate_limited(struct veer_stats *s, const char *route)
{
	VEER_CHECK_MAGIC(s, STATS_MAGIC);
	one_add(&s->limited, route, 1);
}

void veer_stats_redis_error(struct veer_stats *s, const char *reason)
{
	VEER_CHECK_MAGIC(s, STATS_MAGIC);
	one_add(&s->redis_errors, reason, 1);
}

void veer_stats_redis_connected(struct veer_stats *s, const char *address, int delta)
{
	VEER_CHECK_MAGIC(s, STATS_MAGIC);
	one_add(&s->redis_conns, address, (uint64_t)(int64_t)delta);
}

void veer_stats_connection(struct veer_stats *s, const char *listener, int delta)
{
	VEER_CHECK_MAGIC(s, STATS_MAGIC);
	/* Two's complement: adding (uint64_t)-1 takes one off. */
	one_add(&s->conns, listener, (uint64_t)(int64_t)delta);
}

/* ---- reader side ---- */

static size_t published(struct table *t)
{
	return atomic_load_explicit(&t->count, memory_order_acquire);
}

/* Calls FN(ARG, code, count) for every code of E counted so far. */
static void each_code(struct req_entry *e, void (*fn)(void *, int, uint64_t), void *arg)
{
	uint32_t nc = atomic_load_explicit(&e->ncodes, memory_order_acquire);
	_Atomic uint64_t *ov = atomic_load_explicit(&e->overflow, memory_order_acquire);

	for (uint32_t i = 0; i < nc; i++)
		fn(arg, e->codes[i].code, rd(&e->codes[i].n));
	if (ov == NULL)
		return;
	for (size_t i = 0; i <= NCODES; i++) {
		uint64_t n = rd(&ov[i]);

		/* Counters only grow: 0 is a code never seen. */
		if (n)
			fn(arg, i == NCODES ? CODE_OTHER : CODE_MIN + (int)i, n);
	}
}

static void add_totals(void *arg, int code, uint64_t n)
{
	struct veer_stats_totals *t = arg;

	t->requests += n;
	if (code >= 500 && code <= 599)
		t->errors += n;
}

/* Sums over every request entry whose route (POOL false) or pool (POOL true)
 * is NAME. */
static struct veer_stats_totals totals(struct veer_stats *const *shards, size_t n, const char *name,
				       bool pool)
{
	struct veer_stats_totals t = { 0, 0 };

	if (name == NULL)
		name = "";
	for (size_t i = 0; i < n; i++) {
		struct veer_stats *s = shards[i];
		size_t cnt;

		if (s == NULL)
			continue;
		VEER_CHECK_MAGIC(s, STATS_MAGIC);
		cnt = published(&s->req);
		for (size_t j = 0; j < cnt; j++) {
			struct req_entry *e = entry_at(&s->req, j);

			if (strcmp(pool ? e->k.b : e->k.a, name) == 0)
				each_code(e, add_totals, &t);
		}
	}
	return t;
}

struct veer_stats_totals veer_stats_route_totals(struct veer_stats *const *shards, size_t n,
						 const char *route)
{
	return totals(shards, n, route, false);
}

struct veer_stats_totals veer_stats_pool_totals(struct veer_stats *const *shards, size_t n,
						const char *pool)
{
	return totals(shards, n, pool, true);
}

int64_t veer_stats_connections(struct veer_stats *const *shards, size_t n, const char *listener)
{
	uint64_t sum = 0;

	if (listener == NULL)
		listener = "";
	for (size_t i = 0; i < n; i++) {
		struct veer_stats *s = shards[i];
		size_t cnt;

		if (s == NULL)
			continue;
		VEER_CHECK_MAGIC(s, STATS_MAGIC);
		cnt = published(&s->conns);
		for (size_t j = 0; j < cnt; j++) {
			struct one_entry *e = entry_at(&s->conns, j);

			if (strcmp(e->k.a, listener) == 0)
				sum += rd(&e->v);
		}
	}
	return (int64_t)sum;
}

/* ---- rendering ---- */

/* Rows gathered from every shard, sorted by labels, then merged. */
struct code_row {
	const char *route, *pool;
	int code;
	uint64_t n;
};

struct hist_row {
	const char *route, *pool;
	uint64_t bucket[NBUCKETS];
	uint64_t sum_us;
};

struct one_row {
	const char *name;
	uint64_t v;
};

struct rows {
	void *v;
	size_t n, cap, size;
};

static void *rows_push(struct rows *r)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = veer_xrealloc(r->v, r->cap * r->size);
	}
	return (char *)r->v + r->n++ * r->size;
}

struct code_ctx {
	struct rows *rows;
	const struct key *k;
};

static void push_code(void *arg, int code, uint64_t n)
{
	struct code_ctx *c = arg;
	struct code_row *row = rows_push(c->rows);

	row->route = c->k->a;
	row->pool = c->k->b;
	row->code = code;
	row->n = n;
}

static int cmp_code_row(const void *x, const void *y)
{
	const struct code_row *a = x, *b = y;
	int c = strcmp(a->route, b->route);

	if (c == 0)
		c = strcmp(a->pool, b->pool);
	return c ? c : (a->code > b->code) - (a->code < b->code);
}

static int cmp_hist_row(const void *x, const void *y)
{
	const struct hist_row *a = x, *b = y;
	int c = strcmp(a->route, b->route);

	return c ? c : strcmp(a->pool, b->pool);
}

static int cmp_one_row(const void *x, const void *y)
{
	const struct one_row *a = x, *b = y;

	return strcmp(a->name, b->name);
}

/* A label value per the text format: backslash, double quote and line feed
 * escaped, every other byte as is. */
static void add_escaped(struct evbuffer *out, const char *v)
{
	const char *run = v;

	for (; *v; v++) {
		const char *esc = *v == '\\' ? "\\\\" :
				  *v == '"'  ? "\\\"" :
				  *v == '\n' ? "\\n" :
					       NULL;

		if (esc == NULL)
			continue;
		evbuffer_add(out, run, (size_t)(v - run));
		evbuffer_add(out, esc, 2);
		run = v + 1;
	}
	evbuffer_add(out, run, (size_t)(v - run));
}

/* NAME{L1="V1"[,L2="V2"]  — the caller closes the braces. */
static void add_series(struct evbuffer *out, const char *name, const char *l1, const char *v1,
		       const char *l2, const char *v2)
{
	evbuffer_add_printf(out, "%s{%s=\"", name, l1);
	add_escaped(out, v1);
	if (l2) {
		evbuffer_add_printf(out, "\",%s=\"", l2);
		add_escaped(out, v2);
	}
	evbuffer_add(out, "\"", 1);
}

static void add_family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_requests(struct evbuffer *out, struct veer_stats *const *shards, size_t n)
{
	struct rows codes = { .size = sizeof(struct code_row) };
	struct rows hists = { .size = sizeof(struct hist_row) };
	struct code_row *cr;
	struct hist_row *hr;
	size_t m;

	for (size_t i = 0; i < n; i++) {
		struct veer_stats *s = shards[i];
		size_t cnt;

		if (s == NULL)
			continue;
		VEER_CHECK_MAGIC(s, STATS_MAGIC);
		cnt = published(&s->req);
		for (size_t j = 0; j < cnt; j++) {
			struct req_entry *e = entry_at(&s->req, j);
			struct code_ctx ctx = { &codes, &e->k };

			each_code(e, push_code, &ctx);
			hr = rows_push(&hists);
			hr->route = e->k.a;
			hr->pool = e->k.b;
			for (unsigned b = 0; b < NBUCKETS; b++)
				hr->bucket[b] = rd(&e->bucket[b]);
			hr->sum_us = rd(&e->sum_us);
		}
	}

	add_family(out, "veer_requests_total", "counter",
		   "Requests answered, by route, pool (empty: answered by veer) and status code.");
	cr = codes.v;
	if (codes.n)
		qsort(cr, codes.n, sizeof(*cr), cmp_code_row);
	for (size_t i = 0; i < codes.n; i = m) {
		uint64_t sum = 0;

		for (m = i; m < codes.n && cmp_code_row(&cr[i], &cr[m]) == 0; m++)
			sum += cr[m].n;
		add_series(out, "veer_requests_total", "route", cr[i].route, "pool", cr[i].pool);
		evbuffer_add_printf(out, ",code=\"%d\"} %" PRIu64 "\n", cr[i].code, sum);
	}

	add_family(out, "veer_request_duration_seconds", "histogram",
		   "Time from the start of a request to the end of its response, in seconds.");
	hr = hists.v;
	if (hists.n)
		qsort(hr, hists.n, sizeof(*hr), cmp_hist_row);
	for (size_t i = 0; i < hists.n; i = m) {
		struct hist_row acc = hr[i];
		uint64_t cum = 0;

		for (m = i + 1; m < hists.n && cmp_hist_row(&hr[i], &hr[m]) == 0; m++) {
			for (unsigned b = 0; b < NBUCKETS; b++)
				acc.bucket[b] += hr[m].bucket[b];
			acc.sum_us += hr[m].sum_us;
		}
		for (unsigned b = 0; b < NBUCKETS; b++) {
			cum += acc.bucket[b];
			add_series(out, "veer_request_duration_seconds_bucket", "route", acc.route,
				   "pool", acc.pool);
			evbuffer_add_printf(out, ",le=\"%s\"} %" PRIu64 "\n", bucket_le[b], cum);
		}
		add_series(out, "veer_request_duration_seconds_sum", "route", acc.route, "pool",
			   acc.pool);
		evbuffer_add_printf(out, "} %" PRIu64 ".%06" PRIu64 "\n", acc.sum_us / 1000000,
				    acc.sum_us % 1000000);
		add_series(out, "veer_request_duration_seconds_count", "route", acc.route, "pool",
			   acc.pool);
		evbuffer_add_printf(out, "} %" PRIu64 "\n", cum);
	}
	free(codes.v);
	free(hists.v);
}

/* One family of one-label series from table OFF of every shard; SIGNED
 * renders the sum as a signed value (the gauge). */
static void render_one(struct evbuffer *out, struct veer_stats *const *shards, size_t n, size_t off,
		       const char *name, const char *type, const char *label, const char *help,
		       bool is_signed)
{
	struct rows rows = { .size = sizeof(struct one_row) };
	struct one_row *r;
	size_t m;

	for (size_t i = 0; i < n; i++) {
		struct veer_stats *s = shards[i];
		struct table *t;
		size_t cnt;

		if (s == NULL)
			continue;
		VEER_CHECK_MAGIC(s, STATS_MAGIC);
		t = (struct table *)((char *)s + off);
		cnt = published(t);
		for (size_t j = 0; j < cnt; j++) {
			struct one_entry *e = entry_at(t, j);

			r = rows_push(&rows);
			r->name = e->k.a;
			r->v = rd(&e->v);
		}
	}
	add_family(out, name, type, help);
	r = rows.v;
	if (rows.n)
		qsort(r, rows.n, sizeof(*r), cmp_one_row);
	for (size_t i = 0; i < rows.n; i = m) {
		uint64_t sum = 0;

		for (m = i; m < rows.n && strcmp(r[i].name, r[m].name) == 0; m++)
			sum += r[m].v;
		add_series(out, name, label, r[i].name, NULL, NULL);
		if (is_signed)
			evbuffer_add_printf(out, "} %" PRId64 "\n", (int64_t)sum);
		else
			evbuffer_add_printf(out, "} %" PRIu64 "\n", sum);
	}
	free(rows.v);
}

void veer_stats_render(struct evbuffer *out, struct veer_stats *const *shards, size_t n)
{
	render_requests(out, shards, n);
	render_one(out, shards, n, offsetof(struct veer_stats, retries),
		   "veer_upstream_retries_total", "counter", "pool",
		   "Retries of a request started, by upstream pool.", false);
	render_one(out, shards, n, offsetof(struct veer_stats, limited), "veer_rate_limited_total",
		   "counter", "route", "Requests refused by a rate limit, by route.", false);
	render_one(out, shards, n, offsetof(struct veer_stats, conns), "veer_connections_active",
		   "gauge", "listener", "Client connections open, by listener.", true);
	render_one(out, shards, n, offsetof(struct veer_stats, redis_errors),
		   "veer_redis_errors_total", "counter", "reason",
		   "Global rate-limit takes that Redis did not answer (global.redis.on_error "
		   "decided), by reason: down, timeout, failed.",
		   false);
	render_one(out, shards, n, offsetof(struct veer_stats, redis_conns),
		   "veer_redis_connections", "gauge", "address",
		   "Worker connections to Redis that are up, by address.", true);
}
