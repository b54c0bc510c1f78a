/* veer — the access log (see accesslog.h for the design).
 *
 * Lines are hand-formatted into a per-worker buffer: one capacity check per
 * line (an upper bound computed from the field lengths), no allocation per
 * line, no lock.  A flush is one write(2) of whole lines.  A line is never
 * split across two flushes; a write(2) the kernel cuts short (disk full, a
 * signal) is continued at once with the rest, before any other line.  For a
 * file opened O_APPEND each write(2) lands whole at the end of the file, so
 * lines from different workers never interleave within a line.  (A pipe only
 * promises that for writes of at most PIPE_BUF bytes: with stdout on a pipe
 * and several workers, a flush larger than that may interleave with another
 * worker's at a byte boundary.)
 *
 * Reopen (logrotate) keeps the file descriptor number and swaps what it
 * refers to with dup3(2): a worker that loaded the number just before the
 * swap writes to the old file, never to some unrelated descriptor that
 * reused a freshly closed number (a client socket, say).
 *
 * Contract details beyond accesslog.h: a NULL sink (in _new or _configure)
 * means off, and write() then does nothing.  A veer_accesslog is used only
 * on its base's thread.  veer_access_sink_reopen() may run on any thread
 * while workers write; veer_access_sink_close() only once no accesslog
 * refers to the sink (configure them away or free them first).  A string
 * field is NULL (null / "-") or exactly its length in bytes: a non-NULL
 * pointer with length 0 is the empty string.
 */
#include "veer/accesslog.h"
#include "veer/common.h"
#include "veer/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_AT (64 * 1024)        /* flush when the buffer passes this */
#define FLUSH_AFTER_US (100 * 1000) /* or this long after it went non-empty */
#define SHRINK_ABOVE (1024 * 1024)  /* a huge line grew the buffer: give it back */
#define INITIAL_CAP (FLUSH_AT + 4096)
/* Longest the fixed parts of a line (keys, numbers, time, punctuation) can
 * be, strings excluded; generous. */
#define LINE_FIXED 640
/* The worst expansion of one input byte: "\u00XX" in JSON, "\xHH" in
 * combined. */
#define ESC_MAX 6
#define EAGAIN_WAIT_MS 100

#define SINK_MAGIC 0x5a11c0deu
#define LOG_MAGIC 0xacc1096u

struct veer_access_sink {
	unsigned magic;
	/* Constant from open to close: reopen changes the file it refers to,
	 * not the number (see the top of this file). */
	_Atomic int fd;
	char *path; /* NULL for stdout */
};

struct veer_accesslog {
	unsigned magic;
	struct event_base *base;
	struct veer_access_sink *sink; /* NULL = off */
	bool json;
	struct event *timer;
	bool timer_armed;
	bool failing; /* the last flush failed: warn once per failure streak */
	char *buf;
	size_t len, cap;
	/* Formatted time of the last second seen (lines come in bursts). */
	int64_t cached_sec;
	char iso[64]; /* 2026-11-26T02:03:04 */
	char clf[64]; /* 26/Nov/2026:02:03:04 +0000 */
	size_t iso_len, clf_len;
};

/* ---- the sink ---- */

struct veer_access_sink *veer_access_sink_open(const char *dest)
{
	struct veer_access_sink *s;
	int fd;

	if (dest == NULL || *dest == '\0') {
		errno = EINVAL;
		return NULL;
	}
	if (strcmp(dest, "stdout") == 0) {
		fd = STDOUT_FILENO;
	} else {
		fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd < 0)
			return NULL;
	}
	s = veer_xcalloc(1, sizeof(*s));
	s->magic = SINK_MAGIC;
	atomic_init(&s->fd, fd);
	s->path = fd == STDOUT_FILENO ? NULL : veer_xstrdup(dest);
	return s;
}

int veer_access_sink_reopen(struct veer_access_sink *s)
{
	int fd, ret = VEER_ERR;

	VEER_CHECK_MAGIC(s, SINK_MAGIC);
	if (s->path == NULL)
		return VEER_OK;
	fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		goto out;
	/* Atomically make our number refer to the new file; the old file is
	 * closed when the last write(2) in flight on it returns. */
	if (dup3(fd, atomic_load(&s->fd), O_CLOEXEC) < 0)
		goto out;
	ret = VEER_OK;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

void veer_access_sink_close(struct veer_access_sink *s)
{
	if (s == NULL)
		return;
	VEER_CHECK_MAGIC(s, SINK_MAGIC);
	if (s->path != NULL)
		close(atomic_load(&s->fd));
	free(s->path);
	s->magic = 0;
	free(s);
}

/* ---- writing ---- */

/* Write all of P[0..N) to FD.  A short write is continued; EINTR retried;
 * EAGAIN (someone made our stdout non-blocking) waits a bounded time for
 * the fd to drain.  VEER_OK, or VEER_ERR with errno set. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, EAGAIN_WAIT_MS) > 0)
				continue;
			errno = EAGAIN;
			return VEER_ERR;
		}
		if (w == 0)
			errno = EIO;
		return VEER_ERR;
	}
	return VEER_OK;
}

void veer_accesslog_flush(struct veer_accesslog *l)
{
	VEER_CHECK_MAGIC(l, LOG_MAGIC);
	if (l->timer_armed) {
		evtimer_del(l->timer);
		l->timer_armed = false;
	}
	if (l->len == 0)
		return;
	if (l->sink != NULL) {
		if (write_all(atomic_load(&l->sink->fd), l->buf, l->len) != VEER_OK) {
			/* The lines are dropped: keeping them would grow without
			 * bound while the disk is full. */
			if (!l->failing)
				veer_warn("access log: write failed (%s); dropping lines until "
					  "it works again",
					  strerror(errno));
			l->failing = true;
		} else if (l->failing) {
			veer_info("access log: writing again");
			l->failing = false;
		}
	}
	l->len = 0;
	if (l->cap > SHRINK_ABOVE) {
		l->buf = veer_xrealloc(l->buf, INITIAL_CAP);
		l->cap = INITIAL_CAP;
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct veer_accesslog *l = arg;

	VEER_CHECK_MAGIC(l, LOG_MAGIC);
	l->timer_armed = false;
	veer_accesslog_flush(l);
}

struct veer_accesslog *veer_accesslog_new(struct event_base *base, struct veer_access_sink *sink,
					  bool json)
{
	struct veer_accesslog *l = veer_xcalloc(1, sizeof(*l));

	l->magic = LOG_MAGIC;
	l->base = base;
	l->sink = sink;
	l->json = json;
	l->timer = evtimer_new(base, on_timer, l);
	if (l->timer == NULL)
		abort(); /* out of memory: see common.h */
	l->buf = veer_xmalloc(INITIAL_CAP);
	l->cap = INITIAL_CAP;
	l->cached_sec = -1;
	return l;
}

void veer_accesslog_configure(struct veer_accesslog *l, struct veer_access_sink *sink, bool json)
{
	VEER_CHECK_MAGIC(l, LOG_MAGIC);
	veer_accesslog_flush(l);
	l->sink = sink;
	l->json = json;
	l->failing = false;
}

void veer_accesslog_free(struct veer_accesslog *l)
{
	if (l == NULL)
		return;
	VEER_CHECK_MAGIC(l, LOG_MAGIC);
	veer_accesslog_flush(l);
	event_free(l->timer);
	free(l->buf);
	l->magic = 0;
	free(l);
}

/* ---- formatting ----
 *
 * The appenders below write at P without bounds checks: veer_accesslog_write
 * reserved LINE_FIXED + ESC_MAX * (sum of the string lengths) first. */

static const char hexd[] = "0123456789abcdef";

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUTLIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Microseconds as milliseconds with three decimals: 1234 -> "1.234". */
static char *put_ms(char *p, uint64_t us)
{
	unsigned frac = (unsigned)(us % 1000);

	p = put_u64(p, us / 1000);
	*p++ = '.';
	*p++ = (char)('0' + frac / 100);
	*p++ = (char)('0' + frac / 10 % 10);
	*p++ = (char)('0' + frac % 10);
	return p;
}

/* Length of the valid UTF-8 sequence at S (at most N bytes), or 0 when the
 * bytes there are not one (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* S as a JSON string (RFC 8259 §7), or null.  Bytes that are not valid
 * UTF-8 are written as \u00XX of the byte, so the output is always valid
 * JSON whatever the input. */
static char *put_json_str(char *p, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	if (str == NULL)
		return PUTLIT(p, "null");
	*p++ = '"';
	while (i < n) {
		unsigned char c = s[i];
		size_t u;

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			*p++ = (char)c;
			i++;
		} else if (c == '\n') {
			p = PUTLIT(p, "\\n");
			i++;
		} else if (c == '\t') {
			p = PUTLIT(p, "\\t");
			i++;
		} else if (c == '\r') {
			p = PUTLIT(p, "\\r");
			i++;
		} else if (c >= 0x80 && (u = utf8_len(s + i, n - i)) != 0) {
			p = put(p, (const char *)s + i, u);
			i += u;
		} else {
			p = PUTLIT(p, "\\u00");
			*p++ = hexd[c >> 4];
			*p++ = hexd[c & 15];
			i++;
		}
	}
	*p++ = '"';
	return p;
}

/* S escaped for combined: \" and \\ for the quote and backslash, \xHH for
 * control bytes, DEL and bytes >= 0x80 (as nginx does); with BARE (a field
 * outside quotes) also for the space, so a field cannot split in two.  NULL
 * and empty are "-". */
static char *put_clf_str(char *p, const char *str, size_t n, bool bare)
{
	const unsigned char *s = (const unsigned char *)str;

	if (str == NULL || n == 0) {
		*p++ = '-';
		return p;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		bool esc = c < 0x20 || c >= 0x7f || (bare && (c == ' ' || c == '"' || c == '\\'));

		if (esc) {
			p = PUTLIT(p, "\\x");
			*p++ = hexd[c >> 4];
			*p++ = hexd[c & 15];
		} else if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else {
			*p++ = (char)c;
		}
	}
	return p;
}

static void cache_time(struct veer_accesslog *l, int64_t sec)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	l->iso_len = (size_t)snprintf(l->iso, sizeof(l->iso), "%04d-%02d-%02dT%02d:%02d:%02d",
				      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				      tm.tm_min, tm.tm_sec);
	l->clf_len = (size_t)snprintf(l->clf, sizeof(l->clf), "%02d/%s/%04d:%02d:%02d:%02d +0000",
				      tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
				      tm.tm_min, tm.tm_sec);
	l->cached_sec = sec;
}

/* The string fields of an entry with their lengths, computed once. */
enum {
	F_CLIENT,
	F_METHOD,
	F_TARGET,
	F_ROUTE,
	F_POOL,
	F_VERSION,
	F_SERVER,
	F_REQID,
	F_TRACEID,
	F_HOST,
	F_UA,
	F_REFERER,
	F_COUNT
};

struct strs {
	const char *s[F_COUNT];
	size_t n[F_COUNT];
};

static void gather(struct strs *f, const struct veer_access_entry *e)
{
	const char *cs[F_COUNT] = {
		[F_CLIENT] = e->client,    [F_METHOD] = e->method,    [F_ROUTE] = e->route,
		[F_POOL] = e->pool,        [F_VERSION] = e->version,  [F_SERVER] = e->server,
		[F_REQID] = e->request_id, [F_TRACEID] = e->trace_id,
	};

	for (int i = 0; i < F_COUNT; i++) {
		f->s[i] = cs[i];
		f->n[i] = cs[i] != NULL ? strlen(cs[i]) : 0;
	}
	f->s[F_TARGET] = e->target, f->n[F_TARGET] = e->target != NULL ? e->target_len : 0;
	f->s[F_HOST] = e->host, f->n[F_HOST] = e->host != NULL ? e->host_len : 0;
	f->s[F_UA] = e->user_agent, f->n[F_UA] = e->user_agent != NULL ? e->user_agent_len : 0;
	f->s[F_REFERER] = e->referer, f->n[F_REFERER] = e->referer != NULL ? e->referer_len : 0;
}

/* The version is known once a method was read (a zeroed entry has
 * http_minor 0 and no request line). */
static bool have_protocol(const struct veer_access_entry *e)
{
	return e->method != NULL && e->http_minor >= 0 && e->http_minor <= 9;
}

#define JS(p, f, i) put_json_str((p), (f)->s[i], (f)->n[i])

static char *format_json(struct veer_accesslog *l, char *p, const struct veer_access_entry *e,
			 const struct strs *f)
{
	unsigned usec = (unsigned)(e->time_us % 1000000);

	p = PUTLIT(p, "{\"time\":\"");
	p = put(p, l->iso, l->iso_len);
	*p++ = '.';
	for (unsigned d = 100000; d > 0; d /= 10)
		*p++ = (char)('0' + usec / d % 10);
	p = PUTLIT(p, "Z\",\"client\":");
	p = JS(p, f, F_CLIENT);
	p = PUTLIT(p, ",\"method\":");
	p = JS(p, f, F_METHOD);
	p = PUTLIT(p, ",\"target\":");
	p = JS(p, f, F_TARGET);
	p = PUTLIT(p, ",\"protocol\":");
	if (have_protocol(e)) {
		p = PUTLIT(p, "\"HTTP/1.");
		*p++ = (char)('0' + e->http_minor);
		*p++ = '"';
	} else {
		p = PUTLIT(p, "null");
	}
	p = PUTLIT(p, ",\"status\":");
	p = put_u64(p, (uint64_t)(e->status > 0 ? e->status : 0));
	p = PUTLIT(p, ",\"bytes_in\":");
	p = put_u64(p, e->bytes_in);
	p = PUTLIT(p, ",\"bytes_out\":");
	p = put_u64(p, e->bytes_out);
	p = PUTLIT(p, ",\"duration_ms\":");
	p = put_ms(p, e->duration_us);
	p = PUTLIT(p, ",\"route\":");
	p = JS(p, f, F_ROUTE);
	p = PUTLIT(p, ",\"pool\":");
	p = JS(p, f, F_POOL);
	p = PUTLIT(p, ",\"version\":");
	p = JS(p, f, F_VERSION);
	p = PUTLIT(p, ",\"server\":");
	p = JS(p, f, F_SERVER);
	p = PUTLIT(p, ",\"retries\":");
	p = put_u64(p, e->retries);
	p = PUTLIT(p, ",\"request_id\":");
	p = JS(p, f, F_REQID);
	p = PUTLIT(p, ",\"trace_id\":");
	p = JS(p, f, F_TRACEID);
	p = PUTLIT(p, ",\"host\":");
	p = JS(p, f, F_HOST);
	p = PUTLIT(p, ",\"user_agent\":");
	p = JS(p, f, F_UA);
	p = PUTLIT(p, ",\"referer\":");
	p = JS(p, f, F_REFERER);
	p = PUTLIT(p, "}\n");
	return p;
}

#define CQ(p, f, i) put_clf_str((p), (f)->s[i], (f)->n[i], false)
#define CB(p, f, i) put_clf_str((p), (f)->s[i], (f)->n[i], true)

static char *format_combined(struct veer_accesslog *l, char *p, const struct veer_access_entry *e,
			     const struct strs *f)
{
	p = CB(p, f, F_CLIENT);
	p = PUTLIT(p, " - - [");
	p = put(p, l->clf, l->clf_len);
	p = PUTLIT(p, "] \"");
	if (f->s[F_METHOD] == NULL && f->s[F_TARGET] == NULL) {
		*p++ = '-'; /* no request line was read */
	} else {
		p = CQ(p, f, F_METHOD);
		*p++ = ' ';
		p = CQ(p, f, F_TARGET);
		*p++ = ' ';
		if (have_protocol(e)) {
			p = PUTLIT(p, "HTTP/1.");
			*p++ = (char)('0' + e->http_minor);
		} else {
			*p++ = '-';
		}
	}
	p = PUTLIT(p, "\" ");
	p = put_u64(p, (uint64_t)(e->status > 0 ? e->status : 0));
	*p++ = ' ';
	p = put_u64(p, e->bytes_out);
	p = PUTLIT(p, " \"");
	p = CQ(p, f, F_REFERER);
	p = PUTLIT(p, "\" \"");
	p = CQ(p, f, F_UA);
	p = PUTLIT(p, "\" route=");
	p = CB(p, f, F_ROUTE);
	p = PUTLIT(p, " pool=");
	p = CB(p, f, F_POOL);
	p = PUTLIT(p, " version=");
	p = CB(p, f, F_VERSION);
	p = PUTLIT(p, " server=");
	p = CB(p, f, F_SERVER);
	p = PUTLIT(p, " retries=");
	p = put_u64(p, e->retries);
	p = PUTLIT(p, " duration_ms=");
	p = put_ms(p, e->duration_us);
	p = PUTLIT(p, " request_id=");
	p = CB(p, f, F_REQID);
	p = PUTLIT(p, " trace_id=");
	p = CB(p, f, F_TRACEID);
	*p++ = '\n';
	return p;
}

void veer_accesslog_write(struct veer_accesslog *l, const struct veer_access_entry *e)
{
	struct strs f;
	size_t need = LINE_FIXED;
	int64_t sec = (int64_t)(e->time_us / 1000000);
	bool was_empty = l->len == 0;
	char *p;

	VEER_CHECK_MAGIC(l, LOG_MAGIC);
	if (l->sink == NULL)
		return;
	gather(&f, e);
	for (int i = 0; i < F_COUNT; i++)
		need += ESC_MAX * f.n[i];
	if (l->cap - l->len < need) {
		l->cap = l->len + need > 2 * l->cap ? l->len + need : 2 * l->cap;
		l->buf = veer_xrealloc(l->buf, l->cap);
	}
	if (sec != l->cached_sec)
		cache_time(l, sec);
	p = l->buf + l->len;
	p = l->json ? format_json(l, p, e, &f) : format_combined(l, p, e, &f);
	l->len = (size_t)(p - l->buf);

	if (l->len >= FLUSH_AT) {
		veer_accesslog_flush(l);
	} else if (was_empty && !l->timer_armed) {
		struct timeval tv = { 0, FLUSH_AFTER_US };

		evtimer_add(l->timer, &tv);
		l->timer_armed = true;
	}
}
