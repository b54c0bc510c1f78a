/* Unit tests for src/stats.c: shards merged on read (counters, histograms,
 * the connection gauge, totals), cumulative histogram buckets, label
 * escaping, the exposition format checked twice (a tiny parser here and the
 * real `promtool check metrics`), no allocation once a series exists, and a
 * reader rendering while a writer counts a million requests. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "veer/stats.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a tiny parser of the text format ---- */

struct sample {
	char *key; /* name{labels} exactly as rendered */
	char *name;
	double v;
};

struct scrape {
	struct sample *s;
	size_t n;
	char *text;
};

static const char *const families[] = {
	"veer_requests_total",     "veer_request_duration_seconds", "veer_upstream_retries_total",
	"veer_rate_limited_total", "veer_connections_active", "veer_redis_errors_total",
	"veer_redis_connections",
};
static const char *const family_types[] = { "counter", "histogram", "counter", "counter",
					    "gauge",   "counter",   "gauge" };
#define NFAM (sizeof(families) / sizeof(families[0]))

static char *render(struct veer_stats *const *shards, size_t n)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *text;

	veer_stats_render(b, shards, n);
	len = evbuffer_get_length(b);
	text = malloc(len + 1);
	cr_assert_not_null(text);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	evbuffer_free(b);
	return text;
}

/* Checks `l="v",...}` from P (just past '{'); returns the char after '}'. */
static const char *parse_labels(const char *p, const char *line)
{
	for (;;) {
		const char *l = p;

		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		       (p > l && *p >= '0' && *p <= '9'))
			p++;
		cr_assert(p > l && p[0] == '=' && p[1] == '"', "bad label name in: %s", line);
		for (p += 2; *p != '"'; p++) {
			cr_assert(*p && *p != '\n', "unterminated label value in: %s", line);
			if (*p == '\\') {
				p++;
				cr_assert(*p == '\\' || *p == '"' || *p == 'n', "bad escape in: %s",
					  line);
			}
		}
		p++;
		if (*p == '}')
			return p + 1;
		cr_assert_eq(*p, ',', "expected , or } in: %s", line);
		p++;
	}
}

/* Parses TEXT (taken over): every line a comment (# HELP / # TYPE, once per
 * family, HELP first) or `name{labels} value`; samples only of declared
 * families. */
static struct scrape parse(char *text)
{
	struct scrape sc = { .text = text };
	bool help[NFAM] = { false }, type[NFAM] = { false };
	char *save = NULL;
	char *copy = strdup(text);

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *p = line;
		char *end;

		if (line[0] == '#') {
			char kind[8], name[64], rest[128];
			size_t f;

			cr_assert_eq(sscanf(line, "# %7s %63s %127[^\n]", kind, name, rest), 3,
				     "bad comment: %s", line);
			for (f = 0; f < NFAM && strcmp(families[f], name) != 0; f++)
				;
			cr_assert(f < NFAM, "unknown family: %s", line);
			if (strcmp(kind, "HELP") == 0) {
				cr_assert(!help[f] && !type[f], "HELP twice or after TYPE: %s",
					  line);
				help[f] = true;
			} else {
				cr_assert_str_eq(kind, "TYPE", "%s", line);
				cr_assert(help[f] && !type[f], "TYPE twice or before HELP: %s",
					  line);
				cr_assert_str_eq(rest, family_types[f], "%s", line);
				type[f] = true;
			}
			continue;
		}
		while ((*p >= 'a' && *p <= 'z') || *p == '_')
			p++;
		cr_assert(p > line && *p == '{', "bad sample: %s", line);
		sc.s = realloc(sc.s, (sc.n + 1) * sizeof(*sc.s));
		sc.s[sc.n].name = strndup(line, (size_t)(p - line));
		p = parse_labels(p + 1, line);
		sc.s[sc.n].key = strndup(line, (size_t)(p - line));
		cr_assert_eq(*p, ' ', "no space before value: %s", line);
		sc.s[sc.n].v = strtod(p + 1, &end);
		cr_assert(end > p + 1 && *end == '\0', "bad value: %s", line);
		{
			size_t f;
			bool ok = false;

			for (f = 0; f < NFAM; f++) {
				size_t fl = strlen(families[f]);
				const char *nm = sc.s[sc.n].name;

				if (strncmp(nm, families[f], fl) == 0 &&
				    (nm[fl] == '\0' ||
				     (f == 1 && (strcmp(nm + fl, "_bucket") == 0 ||
						 strcmp(nm + fl, "_sum") == 0 ||
						 strcmp(nm + fl, "_count") == 0))))
					ok = type[f];
			}
			cr_assert(ok, "sample of an undeclared family: %s", line);
		}
		sc.n++;
	}
	for (size_t f = 0; f < NFAM; f++)
		cr_assert(help[f] && type[f], "family %s missing its HELP/TYPE", families[f]);
	free(copy);
	return sc;
}

static void scrape_free(struct scrape *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		free(sc->s[i].key);
		free(sc->s[i].name);
	}
	free(sc->s);
	free(sc->text);
}

/* The value of series KEY; -1 when absent. */
static double value(const struct scrape *sc, const char *key)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].key, key) == 0)
			return sc->s[i].v;
	return -1;
}

/* Sum of every sample named NAME. */
static double total(const struct scrape *sc, const char *name)
{
	double t = 0;

	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, name) == 0)
			t += sc->s[i].v;
	return t;
}

static struct scrape scrape(struct veer_stats *const *shards, size_t n)
{
	return parse(render(shards, n));
}

/* ---- promtool ---- */

/* Runs `promtool check metrics` on TEXT; fails the test unless it exits 0
 * without a complaint. */
static void promtool_check(const char *text)
{
	char path[] = "/tmp/veer-stats-XXXXXX";
	char cmd[256], out[4096];
	size_t got;
	FILE *p;
	int fd, st;

	cr_assert_eq(system("command -v promtool >/dev/null 2>&1"), 0,
		     "promtool not found: install Debian's prometheus package "
		     "(apt-get install -y prometheus); the metrics format test needs it");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	st = pclose(p);
	unlink(path);
	cr_log_info("promtool check metrics: exit %d, output: '%s'", WEXITSTATUS(st), out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "promtool check metrics failed (status %d):\n%s\n--- input ---\n%s", st, out,
		  text);
	cr_assert_eq(got, 0, "promtool complained:\n%s", out);
}

/* ---- tests ---- */

Test(stats, three_shards_merge)
{
	struct veer_stats *sh[3] = { veer_stats_new(), veer_stats_new(), veer_stats_new() };
	struct veer_stats_totals t;
	struct scrape sc;

	for (int i = 0; i < 3; i++) {
		for (int j = 0; j <= i; j++) {
			veer_stats_request(sh[i], "api", "v1", 200, 1000);
			veer_stats_request(sh[i], "api", "v2", 503, 2000);
			veer_stats_retry(sh[i], "v2");
		}
		veer_stats_request(sh[i], "web", "static", 200 + i, 3000);
		veer_stats_rate_limited(sh[i], "api");
		veer_stats_connection(sh[i], "main", +1);
	}
	veer_stats_request(sh[1], NULL, NULL, 404, 10);
	veer_stats_request(sh[2], "api", NULL, 429, 10);
	veer_stats_connection(sh[0], "main", +1);
	veer_stats_connection(sh[2], "main", -1);
	veer_stats_connection(sh[1], "admin", +1);

	sc = scrape(sh, 3);
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"api\",pool=\"v1\",code=\"200\"}"), 6);
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"api\",pool=\"v2\",code=\"503\"}"), 6);
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"web\",pool=\"static\",code=\"200\"}"),
		     1);
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"web\",pool=\"static\",code=\"202\"}"),
		     1);
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"\",pool=\"\",code=\"404\"}"), 1);
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"api\",pool=\"\",code=\"429\"}"), 1);
	cr_assert_eq(total(&sc, "veer_requests_total"), 6 + 6 + 3 + 2);
	cr_assert_eq(value(&sc, "veer_request_duration_seconds_count{route=\"api\",pool=\"v1\"}"),
		     6);
	cr_assert_eq(value(&sc, "veer_request_duration_seconds_sum{route=\"api\",pool=\"v2\"}"),
		     0.012);
	cr_assert_eq(value(&sc, "veer_upstream_retries_total{pool=\"v2\"}"), 6);
	cr_assert_eq(value(&sc, "veer_rate_limited_total{route=\"api\"}"), 3);
	cr_assert_eq(value(&sc, "veer_connections_active{listener=\"main\"}"), 3);
	cr_assert_eq(value(&sc, "veer_connections_active{listener=\"admin\"}"), 1);
	/* One series per label set, however many shards hold it. */
	cr_assert_eq(sc.n, 7 /* requests */ + 5 * 16 /* histograms */ + 1 + 1 + 2);

	t = veer_stats_route_totals(sh, 3, "api");
	cr_assert_eq(t.requests, 13);
	cr_assert_eq(t.errors, 6);
	t = veer_stats_route_totals(sh, 3, "web");
	cr_assert_eq(t.requests, 3);
	cr_assert_eq(t.errors, 0);
	t = veer_stats_route_totals(sh, 3, "none");
	cr_assert_eq(t.requests, 0);
	t = veer_stats_pool_totals(sh, 3, "v2");
	cr_assert_eq(t.requests, 6);
	cr_assert_eq(t.errors, 6);
	t = veer_stats_pool_totals(sh, 3, NULL);
	cr_assert_eq(t.requests, 2);
	cr_assert_eq(veer_stats_connections(sh, 3, "main"), 3);
	cr_assert_eq(veer_stats_connections(sh, 3, "admin"), 1);
	cr_assert_eq(veer_stats_connections(sh, 3, "other"), 0);
	/* Fewer shards: only theirs. */
	cr_assert_eq(veer_stats_route_totals(sh, 1, "api").requests, 2);

	promtool_check(sc.text);
	scrape_free(&sc);
	for (int i = 0; i < 3; i++)
		veer_stats_free(sh[i]);
}

Test(stats, gauge_sums_across_shards_and_goes_negative_in_one)
{
	struct veer_stats *sh[2] = { veer_stats_new(), veer_stats_new() };
	struct scrape sc;

	/* Opened on one worker, closed on another: each shard alone is off,
	 * the sum is right. */
	veer_stats_connection(sh[0], "l", +1);
	veer_stats_connection(sh[0], "l", +1);
	veer_stats_connection(sh[1], "l", -1);
	cr_assert_eq(veer_stats_connections(sh, 2, "l"), 1);
	cr_assert_eq(veer_stats_connections(&sh[1], 1, "l"), -1);
	sc = scrape(&sh[1], 1);
	cr_assert_eq(value(&sc, "veer_connections_active{listener=\"l\"}"), -1);
	scrape_free(&sc);
	veer_stats_connection(sh[0], "l", -1);
	cr_assert_eq(veer_stats_connections(sh, 2, "l"), 0);
	veer_stats_free(sh[0]);
	veer_stats_free(sh[1]);
}

Test(stats, redis_errors_and_connections)
{
	struct veer_stats *sh[2] = { veer_stats_new(), veer_stats_new() };
	struct scrape sc;

	veer_stats_redis_error(sh[0], "down");
	veer_stats_redis_error(sh[1], "down");
	veer_stats_redis_error(sh[1], "timeout");
	veer_stats_redis_connected(sh[0], "127.0.0.1:6379", +1);
	veer_stats_redis_connected(sh[1], "127.0.0.1:6379", +1);
	veer_stats_redis_connected(sh[1], "127.0.0.1:6379", -1);
	sc = scrape(sh, 2);
	cr_assert_eq(value(&sc, "veer_redis_errors_total{reason=\"down\"}"), 2);
	cr_assert_eq(value(&sc, "veer_redis_errors_total{reason=\"timeout\"}"), 1);
	cr_assert_eq(value(&sc, "veer_redis_connections{address=\"127.0.0.1:6379\"}"), 1);
	promtool_check(sc.text);
	scrape_free(&sc);
	veer_stats_free(sh[0]);
	veer_stats_free(sh[1]);
}

Test(stats, histogram_buckets_cumulative)
{
	static const char *const le[] = { "0.001", "0.0025", "0.005", "0.01", "0.025",
					  "0.05",  "0.1",    "0.25",  "0.5",  "1",
					  "2.5",   "5",      "10",    "+Inf" };
	/* Durations (us) and the first bucket each belongs to (le is <=). */
	static const struct {
		uint64_t us;
		int bucket;
	} d[] = {
		{ 0, 0 },         { 1000, 0 },      { 1001, 1 },           { 2500, 1 },
		{ 7000, 3 },      { 10000, 3 },     { 99999, 6 },          { 999999, 9 },
		{ 1000000, 9 },   { 1000001, 10 },  { 9999999, 12 },       { 10000000, 12 },
		{ 10000001, 13 }, { 30000000, 13 }, { 3600000000ull, 13 },
	};
	struct veer_stats *s = veer_stats_new();
	struct veer_stats *sh[1] = { s };
	uint64_t sum = 0;
	struct scrape sc;
	char key[160];

	for (size_t i = 0; i < LEN(d); i++) {
		veer_stats_request(s, "r", "p", 200, d[i].us);
		sum += d[i].us;
	}
	sc = scrape(sh, 1);
	for (int b = 0; b < 14; b++) {
		double want = 0;

		for (size_t i = 0; i < LEN(d); i++)
			want += d[i].bucket <= b;
		snprintf(key, sizeof(key),
			 "veer_request_duration_seconds_bucket{route=\"r\",pool=\"p\",le=\"%s\"}",
			 le[b]);
		cr_assert_eq(value(&sc, key), want, "%s = %g, want %g", key, value(&sc, key), want);
	}
	cr_assert_eq(value(&sc, "veer_request_duration_seconds_count{route=\"r\",pool=\"p\"}"),
		     (double)LEN(d));
	/* The sum is printed exactly, in seconds with 6 decimals. */
	snprintf(key, sizeof(key),
		 "veer_request_duration_seconds_sum{route=\"r\",pool=\"p\"} %llu.%06llu",
		 (unsigned long long)(sum / 1000000), (unsigned long long)(sum % 1000000));
	cr_assert_not_null(strstr(sc.text, key), "no '%s' in:\n%s", key, sc.text);
	/* Buckets in increasing le order, +Inf last. */
	cr_assert_lt(strstr(sc.text, "le=\"0.001\""), strstr(sc.text, "le=\"0.0025\""));
	cr_assert_lt(strstr(sc.text, "le=\"10\""), strstr(sc.text, "le=\"+Inf\""));
	promtool_check(sc.text);
	scrape_free(&sc);
	veer_stats_free(s);
}

Test(stats, label_escaping)
{
	struct veer_stats *s = veer_stats_new();
	struct veer_stats *sh[1] = { s };
	struct scrape sc;

	veer_stats_request(s, "a\"b\\c\nd", "caf\xc3\xa9 \\n", 200, 5);
	veer_stats_retry(s, "q\"");
	veer_stats_rate_limited(s, "back\\slash");
	veer_stats_connection(s, "new\nline", 1);
	sc = scrape(sh, 1);
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"a\\\"b\\\\c\\nd\","
				"pool=\"caf\xc3\xa9 \\\\n\",code=\"200\"}"),
		     1, "%s", sc.text);
	cr_assert_eq(value(&sc, "veer_upstream_retries_total{pool=\"q\\\"\"}"), 1);
	cr_assert_eq(value(&sc, "veer_rate_limited_total{route=\"back\\\\slash\"}"), 1);
	cr_assert_eq(value(&sc, "veer_connections_active{listener=\"new\\nline\"}"), 1);
	promtool_check(sc.text);
	scrape_free(&sc);
	veer_stats_free(s);
}

Test(stats, empty_shards_still_declare_families)
{
	struct veer_stats *sh[2] = { veer_stats_new(), NULL /* a worker not started yet */ };
	struct scrape sc = scrape(sh, 2);

	cr_assert_eq(sc.n, 0, "%s", sc.text);
	promtool_check(sc.text);
	scrape_free(&sc);
	sc = scrape(NULL, 0);
	cr_assert_eq(sc.n, 0);
	scrape_free(&sc);
	veer_stats_free(sh[0]);
}

Test(stats, many_codes_and_out_of_range)
{
	struct veer_stats *sh[2] = { veer_stats_new(), veer_stats_new() };
	struct scrape sc;
	char key[128];

	/* Past the inline slots on shard 0, in them on shard 1: merged. */
	for (int code = 100; code <= 599; code++) {
		veer_stats_request(sh[0], "r", "p", code, 1);
		if (code % 50 == 0)
			veer_stats_request(sh[1], "r", "p", code, 1);
	}
	veer_stats_request(sh[0], "r", "p", 0, 1);
	veer_stats_request(sh[1], "r", "p", 999, 1);
	veer_stats_request(sh[1], "r", "p", -1, 1);
	sc = scrape(sh, 2);
	for (int code = 100; code <= 599; code++) {
		snprintf(key, sizeof(key),
			 "veer_requests_total{route=\"r\",pool=\"p\",code=\"%d\"}", code);
		cr_assert_eq(value(&sc, key), code % 50 == 0 ? 2 : 1, "%s", key);
	}
	cr_assert_eq(value(&sc, "veer_requests_total{route=\"r\",pool=\"p\",code=\"0\"}"), 3);
	cr_assert_eq(total(&sc, "veer_requests_total"), 500 + 10 + 3);
	cr_assert_eq(veer_stats_pool_totals(sh, 2, "p").errors, 100 + 2);
	/* Sorted: code 0 first, then numeric order. */
	cr_assert_lt(strstr(sc.text, "code=\"0\""), strstr(sc.text, "code=\"100\""));
	cr_assert_lt(strstr(sc.text, "code=\"199\""), strstr(sc.text, "code=\"200\""));
	promtool_check(sc.text);
	scrape_free(&sc);
	veer_stats_free(sh[0]);
	veer_stats_free(sh[1]);
}

Test(stats, deterministic_sorted_output)
{
	static const char *const routes[] = { "zeta", "alpha", "mid", "alpha2", "" };
	struct veer_stats *a[2] = { veer_stats_new(), veer_stats_new() };
	struct veer_stats *b[2] = { veer_stats_new(), veer_stats_new() };
	char *ta, *tb;
	const char *prev = NULL;
	struct scrape sc;

	/* Same events, other order and other shards: same text. */
	for (int i = 0; i < 5; i++) {
		veer_stats_request(a[i % 2], routes[i], "p", 200, 10);
		veer_stats_request(b[(i + 1) % 2], routes[4 - i], "p", 200, 10);
		veer_stats_retry(a[i % 2], routes[i]);
		veer_stats_retry(b[(i + 1) % 2], routes[4 - i]);
	}
	ta = render(a, 2);
	tb = render(b, 2);
	cr_assert_str_eq(ta, tb);
	free(tb);
	sc = parse(ta);
	for (size_t i = 0; i < sc.n; i++) {
		if (strcmp(sc.s[i].name, "veer_requests_total") != 0)
			continue;
		if (prev)
			cr_assert_lt(strcmp(prev, sc.s[i].key), 0, "%s before %s", prev,
				     sc.s[i].key);
		prev = sc.s[i].key;
	}
	scrape_free(&sc);
	for (int i = 0; i < 2; i++) {
		veer_stats_free(a[i]);
		veer_stats_free(b[i]);
	}
}

Test(stats, many_series_grow_the_table)
{
	struct veer_stats *s = veer_stats_new();
	struct veer_stats *sh[1] = { s };
	char route[32];

	/* Past several chunk and index sizes; earlier entries stay found. */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 3000; i++) {
			snprintf(route, sizeof(route), "route-%d", i);
			veer_stats_request(s, route, i % 3 ? "a" : "b", 200, (uint64_t)i);
		}
	for (int i = 0; i < 3000; i += 7) {
		snprintf(route, sizeof(route), "route-%d", i);
		cr_assert_eq(veer_stats_route_totals(sh, 1, route).requests, 2, "%s", route);
	}
	cr_assert_eq(veer_stats_pool_totals(sh, 1, "b").requests, 2000);
	veer_stats_free(s);
}

Test(stats, no_allocation_once_series_exist)
{
	struct veer_stats *s = veer_stats_new();
	struct mallinfo2 before, after;

	for (int code = 100; code < 600; code++) /* inline slots and overflow */
		veer_stats_request(s, "route", "pool", code, 1);
	veer_stats_retry(s, "pool");
	veer_stats_rate_limited(s, "route");
	veer_stats_connection(s, "l", 1);
	before = mallinfo2();
	for (int i = 0; i < 100000; i++) {
		veer_stats_request(s, "route", "pool", 100 + i % 500, (uint64_t)i);
		veer_stats_retry(s, "pool");
		veer_stats_rate_limited(s, "route");
		veer_stats_connection(s, "l", i % 2 ? -1 : 1);
	}
	after = mallinfo2();
	cr_assert_eq(after.uordblks, before.uordblks, "the writer allocated: heap %zu -> %zu",
		     before.uordblks, after.uordblks);
	veer_stats_free(s);
}

/* ---- a reader while the writer counts ---- */

#define WRITES 1000000u

struct race {
	struct veer_stats *s;
	atomic_bool done;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	char route[16];

	for (uint32_t i = 0; i < WRITES; i++) {
		/* New series keep appearing (more routes as it goes, a code
		 * set past the inline slots) while the reader walks. */
		uint32_t nroutes = 1 + i / (WRITES / 40);

		snprintf(route, sizeof(route), "r%u", i % nroutes);
		veer_stats_request(r->s, route, i % 3 ? "p" : "q", 200 + (int)(i % 13),
				   (uint64_t)(i % 20000) * 97);
		if (i % 10 == 0)
			veer_stats_retry(r->s, i % 20 ? "p" : "q");
	}
	atomic_store(&r->done, true);
	return NULL;
}

/* Checks one scrape's internal consistency; returns the requests total. */
static double check_scrape(const struct scrape *sc)
{
	double count = 0, inf = 0;
	double prev = 0;

	for (size_t i = 0; i < sc->n; i++) {
		const struct sample *x = &sc->s[i];

		if (strcmp(x->name, "veer_request_duration_seconds_bucket") == 0) {
			bool first = strstr(x->key, "le=\"0.001\"") != NULL;

			cr_assert(first || x->v >= prev, "buckets not cumulative at %s", x->key);
			prev = x->v;
			if (strstr(x->key, "le=\"+Inf\""))
				inf = x->v;
		} else if (strcmp(x->name, "veer_request_duration_seconds_count") == 0) {
			cr_assert_eq(x->v, inf, "+Inf %g != _count %g at %s", inf, x->v, x->key);
			count += x->v;
		}
	}
	cr_assert_leq(count, WRITES);
	return total(sc, "veer_requests_total");
}

Test(stats, reader_while_writer_counts, .timeout = 120)
{
	struct race r = { .s = veer_stats_new() };
	struct veer_stats *sh[1] = { r.s };
	double last = 0, now;
	unsigned renders = 0;
	pthread_t t;
	struct scrape sc;

	atomic_init(&r.done, false);
	cr_assert_eq(pthread_create(&t, NULL, writer, &r), 0);
	while (!atomic_load(&r.done)) {
		sc = scrape(sh, 1);
		now = check_scrape(&sc);
		cr_assert_geq(now, last, "requests went back: %g after %g", now, last);
		cr_assert_leq(now, WRITES);
		last = now;
		renders++;
		scrape_free(&sc);
		veer_stats_route_totals(sh, 1, "r0");
	}
	pthread_join(t, NULL);
	sc = scrape(sh, 1);
	cr_assert_eq(check_scrape(&sc), WRITES);
	cr_assert_eq(total(&sc, "veer_request_duration_seconds_count"), WRITES);
	cr_assert_eq(total(&sc, "veer_upstream_retries_total"), WRITES / 10);
	cr_assert_eq(veer_stats_pool_totals(sh, 1, "p").requests +
			     veer_stats_pool_totals(sh, 1, "q").requests,
		     WRITES);
	cr_log_info("reader rendered %u times while the writer counted %u requests", renders,
		    WRITES);
	cr_assert_gt(renders, 0);
	scrape_free(&sc);
	veer_stats_free(r.s);
}
