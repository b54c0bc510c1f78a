/* Unit tests of the access log (src/accesslog.c): both line formats byte for
 * byte, hostile strings that must not break a line or the JSON, the size and
 * timer flushes, reopen after logrotate's rename, and the config keys. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "veer/accesslog.h"
#include "veer/common.h"
#include "veer/config.h"

/* 2026-11-26T02:03:04.123456Z */
#define T0 1795658584123456ull

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/veer-accesslog-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
}

static void teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(accesslog, .init = setup, .fini = teardown);

/* The whole file at P (NUL-terminated; length in *N when N is not NULL). */
static char *slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	char *buf;
	long len;

	cr_assert_not_null(f, "%s: %s", p, strerror(errno));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	if (n != NULL)
		*n = (size_t)len;
	return buf;
}

static size_t file_size(const char *p)
{
	struct stat st;

	cr_assert_eq(stat(p, &st), 0);
	return (size_t)st.st_size;
}

static size_t count_lines(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

/* Every line of the file at P parses as a JSON object (by Python's parser,
 * which rejects control characters in strings and bad escapes). */
static void assert_json_lines(const char *p)
{
	char cmd[512];
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys\n"
		 "for l in sys.stdin.buffer:\n"
		 "    assert l.endswith(b\"\\n\")\n"
		 "    assert isinstance(json.loads(l.decode(\"utf-8\")), dict)' < '%s'",
		 p);
	rc = system(cmd);
	cr_assert_eq(rc, 0, "a line of %s is not valid JSON (rc %d)", p, rc);
}

static struct veer_access_entry full_entry(void)
{
	static const char target[] = "/a?b";
	static const char host[] = "api.example.com";
	static const char ua[] = "curl/8.5.0";
	static const char ref[] = "https://example.com/";

	return (struct veer_access_entry){
		.time_us = T0,
		.client = "1.2.3.4",
		.method = "GET",
		.target = target,
		.target_len = sizeof(target) - 1,
		.http_minor = 1,
		.status = 200,
		.bytes_in = 123,
		.bytes_out = 456,
		.duration_us = 1234,
		.route = "api",
		.pool = "api-v1",
		.version = "1.8.3",
		.server = "127.0.0.1:9001",
		.retries = 0,
		.request_id = "f3b2c1d0a9e8d7c6",
		.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
		.host = host,
		.host_len = sizeof(host) - 1,
		.user_agent = ua,
		.user_agent_len = sizeof(ua) - 1,
		.referer = ref,
		.referer_len = sizeof(ref) - 1,
	};
}

/* Write ENTRIES (N of them) through a fresh sink on PATH in the given
 * format, flush, and return the file's contents. */
static char *log_entries(const struct veer_access_entry *entries, size_t n, bool json)
{
	struct event_base *base = event_base_new();
	struct veer_access_sink *s = veer_access_sink_open(path);
	struct veer_accesslog *l;

	cr_assert_not_null(s, "%s: %s", path, strerror(errno));
	l = veer_accesslog_new(base, s, json);
	for (size_t i = 0; i < n; i++)
		veer_accesslog_write(l, &entries[i]);
	veer_accesslog_flush(l);
	veer_accesslog_free(l);
	veer_access_sink_close(s);
	event_base_free(base);
	return slurp(path, NULL);
}

Test(accesslog, json_line)
{
	struct veer_access_entry e = full_entry();
	char *got = log_entries(&e, 1, true);

	cr_assert_str_eq(got,
			 "{\"time\":\"2026-11-26T02:03:04.123456Z\",\"client\":\"1.2.3.4\","
			 "\"method\":\"GET\",\"target\":\"/a?b\",\"protocol\":\"HTTP/1.1\","
			 "\"status\":200,\"bytes_in\":123,\"bytes_out\":456,\"duration_ms\":1.234,"
			 "\"route\":\"api\",\"pool\":\"api-v1\",\"version\":\"1.8.3\","
			 "\"server\":\"127.0.0.1:9001\",\"retries\":0,"
			 "\"request_id\":\"f3b2c1d0a9e8d7c6\","
			 "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
			 "\"host\":\"api.example.com\",\"user_agent\":\"curl/8.5.0\","
			 "\"referer\":\"https://example.com/\"}\n");
	assert_json_lines(path);
	free(got);
}

Test(accesslog, json_missing_values_are_null)
{
	struct veer_access_entry e = { .time_us = 7, .duration_us = 5 };
	char *got = log_entries(&e, 1, true);

	cr_assert_str_eq(got, "{\"time\":\"1970-01-01T00:00:00.000007Z\",\"client\":null,"
			      "\"method\":null,\"target\":null,\"protocol\":null,"
			      "\"status\":0,\"bytes_in\":0,\"bytes_out\":0,\"duration_ms\":0.005,"
			      "\"route\":null,\"pool\":null,\"version\":null,"
			      "\"server\":null,\"retries\":0,"
			      "\"request_id\":null,\"trace_id\":null,"
			      "\"host\":null,\"user_agent\":null,\"referer\":null}\n");
	assert_json_lines(path);
	free(got);
}

/* Quotes, backslashes, line breaks, control bytes, DEL, a NUL inside a
 * length-delimited field, valid UTF-8 (kept) and every kind of invalid
 * UTF-8 (each byte escaped). */
static const char hostile_target[] = "/x\"y\\z\n{\"forged\":1}\r\t\x01\x7f\0end";
static const char hostile_ua[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" /* é € 😀 */
				 " \xff \x80 \xc0\xaf \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80";
static const char hostile_ref[] = "\" \"forged";

static struct veer_access_entry hostile_entry(void)
{
	struct veer_access_entry e = full_entry();

	e.target = hostile_target;
	e.target_len = sizeof(hostile_target) - 1;
	e.user_agent = hostile_ua;
	e.user_agent_len = sizeof(hostile_ua) - 1;
	e.referer = hostile_ref;
	e.referer_len = sizeof(hostile_ref) - 1;
	e.request_id = "id with spaces \"and\" quotes\nroute=evil";
	e.host = "h\x1b[31m";
	e.host_len = 6;
	return e;
}

Test(accesslog, json_hostile_strings)
{
	struct veer_access_entry e[3] = { hostile_entry(), full_entry(), hostile_entry() };
	size_t n;
	char *got = log_entries(e, 3, true);
	char *nl;

	cr_assert_eq(count_lines(got, strlen(got)), 3);
	assert_json_lines(path);
	nl = strchr(got, '\n');
	*nl = '\0';
	n = strlen(got);
	cr_assert_not_null(strstr(got, "\"target\":\"/x\\\"y\\\\z\\n{\\\"forged\\\":1}\\r\\t"
				       "\\u0001\\u007f\\u0000end\""),
			   "%s", got);
	cr_assert_not_null(strstr(got, "\"user_agent\":\"caf\xc3\xa9 \xe2\x82\xac "
				       "\xf0\x9f\x98\x80 \\u00ff \\u0080 \\u00c0\\u00af "
				       "\\u00e2\\u0082 \\u00ed\\u00a0\\u0080 "
				       "\\u00f4\\u0090\\u0080\\u0080\""),
			   "%s", got);
	cr_assert_not_null(strstr(got, "\"referer\":\"\\\" \\\"forged\""), "%s", got);
	cr_assert_not_null(strstr(got, "\"request_id\":\"id with spaces \\\"and\\\" quotes"
				       "\\nroute=evil\""),
			   "%s", got);
	cr_assert_not_null(strstr(got, "\"host\":\"h\\u001b[31m\""), "%s", got);
	cr_assert_eq(got[n - 1], '}');
	free(got);
}

/* A field as long as a whole header section, every byte escaped: the buffer
 * grows for it and the line is written whole. */
Test(accesslog, json_huge_line)
{
	struct veer_access_entry e = full_entry();
	size_t len = 40000, n;
	char *target = malloc(len);
	char *got;

	memset(target, '\x02', len);
	e.target = target;
	e.target_len = len;
	got = log_entries(&e, 1, true);
	n = strlen(got);
	cr_assert_eq(count_lines(got, n), 1);
	cr_assert_gt(n, 6 * len);
	assert_json_lines(path);
	free(got);
	free(target);
}

Test(accesslog, combined_line)
{
	struct veer_access_entry e = full_entry();
	char *got = log_entries(&e, 1, false);

	cr_assert_str_eq(got,
			 "1.2.3.4 - - [26/Nov/2026:02:03:04 +0000] \"GET /a?b HTTP/1.1\" 200 456 "
			 "\"https://example.com/\" \"curl/8.5.0\" route=api pool=api-v1 "
			 "version=1.8.3 server=127.0.0.1:9001 retries=0 duration_ms=1.234 "
			 "request_id=f3b2c1d0a9e8d7c6 "
			 "trace_id=4bf92f3577b34da6a3ce929d0e0e4736\n");
	free(got);
}

Test(accesslog, combined_missing_values_are_dashes)
{
	struct veer_access_entry e = {
		.time_us = T0, .client = "::1", .retries = 2, .duration_us = 30000123
	};
	struct veer_access_entry e2 = {
		.time_us = T0, .method = "POST", .http_minor = 0, .status = 502
	};
	char *got;

	got = log_entries(&e, 1, false);
	cr_assert_str_eq(got, "::1 - - [26/Nov/2026:02:03:04 +0000] \"-\" 0 0 \"-\" \"-\" route=- "
			      "pool=- version=- server=- retries=2 duration_ms=30000.123 "
			      "request_id=- trace_id=-\n");
	free(got);
	unlink(path);
	got = log_entries(&e2, 1, false);
	cr_assert_str_eq(got, "- - - [26/Nov/2026:02:03:04 +0000] \"POST - HTTP/1.0\" 502 0 \"-\" "
			      "\"-\" route=- pool=- version=- server=- retries=0 duration_ms=0.000 "
			      "request_id=- trace_id=-\n");
	free(got);
}

/* The shape every combined line must have, whatever its fields held. */
static const char combined_re[] =
	"^[^ ]+ - - \\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000\\] "
	"\"([^\"\\\\]|\\\\.)*\" [0-9]+ [0-9]+ \"([^\"\\\\]|\\\\.)*\" \"([^\"\\\\]|\\\\.)*\" "
	"route=[^ ]+ pool=[^ ]+ version=[^ ]+ server=[^ ]+ retries=[0-9]+ "
	"duration_ms=[0-9]+\\.[0-9]{3} request_id=[^ ]+ trace_id=[^ ]+$";

Test(accesslog, combined_hostile_strings)
{
	struct veer_access_entry e[3] = { hostile_entry(), full_entry(), hostile_entry() };
	char *got = log_entries(e, 3, false);
	char *line, *save = NULL;
	regex_t re;
	size_t lines = 0;

	cr_assert_eq(regcomp(&re, combined_re, REG_EXTENDED | REG_NOSUB), 0);
	cr_assert_eq(count_lines(got, strlen(got)), 3);
	cr_assert_not_null(strstr(got, "\"GET /x\\\"y\\\\z\\x0a{\\\"forged\\\":1}\\x0d\\x09\\x01"
				       "\\x7f\\x00end HTTP/1.1\""),
			   "%s", got);
	cr_assert_not_null(strstr(got, "\"\\\" \\\"forged\" \"caf\\xc3\\xa9 \\xe2\\x82\\xac "
				       "\\xf0\\x9f\\x98\\x80 \\xff \\x80 \\xc0\\xaf \\xe2\\x82 "
				       "\\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80\" "),
			   "%s", got);
	cr_assert_not_null(strstr(got, " request_id=id\\x20with\\x20spaces\\x20\\x22and\\x22"
				       "\\x20quotes\\x0aroute=evil trace_id="),
			   "%s", got);
	for (line = strtok_r(got, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		cr_assert_eq(regexec(&re, line, 0, NULL, 0), 0, "bad shape: %s", line);
		lines++;
	}
	cr_assert_eq(lines, 3);
	regfree(&re);
	free(got);
}

/* Past 64 KiB the buffer is written at once, whole lines only, without the
 * event loop running. */
Test(accesslog, flush_at_size_threshold)
{
	struct event_base *base = event_base_new();
	struct veer_access_sink *s = veer_access_sink_open(path);
	struct veer_accesslog *l = veer_accesslog_new(base, s, true);
	struct veer_access_entry e = full_entry();
	size_t line_len, k;
	char *got;

	veer_accesslog_write(l, &e);
	veer_accesslog_flush(l);
	line_len = file_size(path);
	cr_assert_gt(line_len, 100);
	cr_assert_eq(truncate(path, 0), 0);

	for (k = 1; k * line_len < 64 * 1024; k++) {
		veer_accesslog_write(l, &e);
		cr_assert_eq(file_size(path), 0, "flushed early after %zu lines", k);
	}
	veer_accesslog_write(l, &e); /* the line that passes the threshold */
	cr_assert_eq(file_size(path), k * line_len);
	got = slurp(path, NULL);
	cr_assert_eq(count_lines(got, strlen(got)), k);
	free(got);
	/* Nothing left to flush: the timer was disarmed with the flush. */
	cr_assert_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);

	veer_accesslog_free(l);
	veer_access_sink_close(s);
	event_base_free(base);
}

/* Below the threshold the timer writes the buffer out on the loop. */
Test(accesslog, flush_on_timer)
{
	struct event_base *base = event_base_new();
	struct veer_access_sink *s = veer_access_sink_open(path);
	struct veer_accesslog *l = veer_accesslog_new(base, s, false);
	struct veer_access_entry e = full_entry();
	int rounds = 0;

	veer_accesslog_write(l, &e);
	veer_accesslog_write(l, &e); /* one timer for both */
	cr_assert_eq(file_size(path), 0);
	/* Each round blocks until the (only) pending event fires; 0 means an
	 * event ran, 1 that none was pending. */
	while (file_size(path) == 0 && rounds < 20) {
		cr_assert_eq(event_base_loop(base, EVLOOP_ONCE), 0, "no timer armed");
		rounds++;
	}
	cr_assert_eq(rounds, 1);
	{
		char *got = slurp(path, NULL);

		cr_assert_eq(count_lines(got, strlen(got)), 2);
		free(got);
	}
	cr_assert_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1, "timer left armed");

	/* An explicit flush disarms the timer. */
	veer_accesslog_write(l, &e);
	veer_accesslog_flush(l);
	cr_assert_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1, "timer left armed");

	/* The buffer goes non-empty again: the timer is armed again. */
	veer_accesslog_write(l, &e);
	cr_assert_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	{
		char *got = slurp(path, NULL);

		cr_assert_eq(count_lines(got, strlen(got)), 4);
		free(got);
	}

	veer_accesslog_free(l);
	veer_access_sink_close(s);
	event_base_free(base);
}

/* logrotate: rename, SIGUSR1 (reopen), new lines go to the new file. */
Test(accesslog, reopen_after_rename)
{
	struct event_base *base = event_base_new();
	struct veer_access_sink *s = veer_access_sink_open(path);
	struct veer_accesslog *l = veer_accesslog_new(base, s, true);
	struct veer_access_entry e = full_entry();
	char rotated[160];
	char *a, *b;
	struct stat st;

	snprintf(rotated, sizeof(rotated), "%s.1", path);
	veer_accesslog_write(l, &e);
	veer_accesslog_flush(l);
	cr_assert_eq(rename(path, rotated), 0);
	e.status = 503;
	veer_accesslog_write(l, &e); /* buffered before the reopen, written after */
	cr_assert_eq(veer_access_sink_reopen(s), VEER_OK);
	e.status = 504;
	veer_accesslog_write(l, &e);
	veer_accesslog_flush(l);

	a = slurp(rotated, NULL);
	b = slurp(path, NULL);
	cr_assert_eq(count_lines(a, strlen(a)), 1);
	cr_assert_not_null(strstr(a, "\"status\":200"));
	cr_assert_eq(count_lines(b, strlen(b)), 2);
	cr_assert_not_null(strstr(b, "\"status\":503"));
	cr_assert_not_null(strstr(b, "\"status\":504"));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777 & ~0640, 0, "mode %o", st.st_mode & 0777);
	free(a);
	free(b);

	/* A reopen that cannot open keeps the old file. */
	cr_assert_eq(chmod(dir, 0500), 0);
	cr_assert_eq(unlink(path), 0);
	if (geteuid() != 0) { /* root ignores the mode */
		cr_assert_eq(veer_access_sink_reopen(s), VEER_ERR);
		veer_accesslog_write(l, &e);
		veer_accesslog_flush(l); /* to the unlinked file: no crash, no error */
	}
	cr_assert_eq(chmod(dir, 0700), 0);

	veer_accesslog_free(l);
	veer_access_sink_close(s);
	event_base_free(base);
}

Test(accesslog, configure_switches_format_and_sink)
{
	struct event_base *base = event_base_new();
	struct veer_access_sink *s = veer_access_sink_open(path);
	struct veer_accesslog *l = veer_accesslog_new(base, s, true);
	struct veer_access_entry e = full_entry();
	char *got;

	veer_accesslog_write(l, &e);
	veer_accesslog_configure(l, s, false); /* flushes the JSON line first */
	veer_accesslog_write(l, &e);
	veer_accesslog_configure(l, NULL, false); /* off */
	veer_accesslog_write(l, &e);
	cr_assert_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1, "timer armed while off");
	veer_accesslog_configure(l, s, true);
	veer_accesslog_write(l, &e);
	veer_accesslog_free(l); /* flushes */

	got = slurp(path, NULL);
	cr_assert_eq(count_lines(got, strlen(got)), 3);
	cr_assert_eq(strncmp(got, "{\"time\"", 7), 0);
	cr_assert_eq(strncmp(strchr(got, '\n') + 1, "1.2.3.4 - - [", 13), 0);
	cr_assert_eq(strncmp(strrchr(got, '}') - 1, "\"}\n", 3), 0);
	free(got);
	veer_access_sink_close(s);
	event_base_free(base);
}

Test(accesslog, stdout_sink)
{
	struct veer_access_sink *s = veer_access_sink_open("stdout");

	cr_assert_not_null(s);
	cr_assert_eq(veer_access_sink_reopen(s), VEER_OK);
	veer_access_sink_close(s);
	cr_assert_neq(fcntl(STDOUT_FILENO, F_GETFD), -1, "closed stdout");
}

Test(accesslog, open_errors)
{
	char bad[200];

	snprintf(bad, sizeof(bad), "%s/no/such/dir/access.log", dir);
	errno = 0;
	cr_assert_null(veer_access_sink_open(bad));
	cr_assert_eq(errno, ENOENT);
	errno = 0;
	cr_assert_null(veer_access_sink_open(""));
	cr_assert_eq(errno, EINVAL);
}

#define MINIMAL                                                                \
	"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"                 \
	"pools:\n  - name: p\n    servers:\n      - address: 127.0.0.1:9001\n" \
	"routes:\n  - name: r\n    pool: p\n"

static struct veer_config *load(const char *yaml, struct veer_errors *e)
{
	return veer_config_load_mem("t.yaml", yaml, strlen(yaml), e);
}

Test(accesslog, config_keys)
{
	static const struct {
		const char *yaml, *access;
		bool json;
	} ok[] = {
		{ MINIMAL, "off", true },
		{ "global: { log: { access: stdout } }\n" MINIMAL, "stdout", true },
		{ "global: { log: { access: /var/log/veer/access.log, access_format: combined } }\n" MINIMAL,
		  "/var/log/veer/access.log", false },
		{ "global: { log: { access: off, access_format: json } }\n" MINIMAL, "off", true },
	};
	struct veer_errors e = { 0 };
	struct veer_config *c;

	for (size_t i = 0; i < VEER_ARRAY_LEN(ok); i++) {
		c = load(ok[i].yaml, &e);
		cr_assert_not_null(c, "%zu: %s", i, e.n > 0 ? e.lines[0] : "");
		cr_assert_str_eq(c->global.log_access, ok[i].access);
		cr_assert_eq(c->global.access_json, ok[i].json);
		veer_config_free(c);
	}

	c = load("global: { log: { access: stderr } }\n" MINIMAL, &e);
	cr_assert_null(c);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.lines[0], "t.yaml:1:26: global.log.access: \"stderr\": expected off, "
				     "stdout or a file path (/dev/stderr for stderr)");
	veer_errors_free(&e);

	c = load("global: { log: { access: \"\" } }\n" MINIMAL, &e);
	cr_assert_null(c);
	cr_assert_eq(e.n, 1);
	veer_errors_free(&e);
	c = load("global: { log: { access_format: clf } }\n" MINIMAL, &e);
	cr_assert_null(c);
	cr_assert_eq(e.n, 1);
	veer_errors_free(&e);
}
