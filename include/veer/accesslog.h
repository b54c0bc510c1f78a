/* veer — the access log: one line per request, buffered per worker.
 *
 * Each worker formats its lines into its own buffer (no lock, no syscall on
 * the request path) and writes the buffer out in one write(2) when it passes
 * a size threshold or when a short timer fires (off the request path).  The
 * destination (a file opened for append, or stdout) is shared by all
 * workers as an atomic file descriptor owned by the process; SIGUSR1 makes
 * the control thread reopen it (logrotate).  Formats: json (one object per
 * line) or combined (Apache/nginx combined, with veer's fields appended).
 */
#ifndef VEER_ACCESSLOG_H
#define VEER_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* What one line says.  Strings may be NULL (logged as "-" or null); none
 * needs to outlive the call. */
struct veer_access_entry {
	uint64_t time_us;        /* wall clock, microseconds since the epoch, at the request's start */
	const char *client;      /* client address */
	const char *method;
	const char *target;      /* request target as received */
	size_t target_len;
	int http_minor;          /* HTTP/1.x */
	int status;              /* status sent to the client; 0 = none (connection cut) */
	uint64_t bytes_in;       /* request bytes received (head and body) */
	uint64_t bytes_out;      /* response bytes sent (head and body) */
	uint64_t duration_us;
	const char *route;
	const char *pool;
	const char *version;     /* the pool's version */
	const char *server;      /* upstream address that answered */
	uint32_t retries;
	const char *request_id;
	const char *trace_id;    /* 32 hex, from traceparent */
	const char *host;
	size_t host_len;
	const char *user_agent;
	size_t user_agent_len;
	const char *referer;
	size_t referer_len;
};

/* The process-wide destination. */
struct veer_access_sink;

/* Open DEST ("stdout" or a path, created 0640, appended).  NULL with errno
 * set when the path cannot be opened. */
struct veer_access_sink *veer_access_sink_open(const char *dest);
/* Reopen a path destination (SIGUSR1); VEER_OK or VEER_ERR (the old fd stays). */
int veer_access_sink_reopen(struct veer_access_sink *s);
void veer_access_sink_close(struct veer_access_sink *s);

/* A worker's buffer, writing to SINK on BASE's loop. */
struct veer_accesslog;
struct veer_accesslog *veer_accesslog_new(struct event_base *base, struct veer_access_sink *sink,
					  bool json);
/* Switch format or sink (after a reload); flushes first. */
void veer_accesslog_configure(struct veer_accesslog *l, struct veer_access_sink *sink, bool json);
void veer_accesslog_write(struct veer_accesslog *l, const struct veer_access_entry *e);
void veer_accesslog_flush(struct veer_accesslog *l);
/* Flushes, then frees. */
void veer_accesslog_free(struct veer_accesslog *l);

#endif
