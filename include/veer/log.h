/* veer — the error log.
 *
 * One process-wide sink, configured by the control thread before workers
 * start (and again on SIGUSR1 reopen).  This is the one deliberate piece of
 * process-wide state, like stderr itself: a level and a file descriptor,
 * both read atomically; writes are single write(2) calls of whole lines, so
 * lines from several threads never interleave.
 */
#ifndef VEER_LOG_H
#define VEER_LOG_H

#include "veer/config.h"

/* Set the level and destination ("stderr" or a path, opened for append).
 * VEER_OK, or VEER_ERR with errno set when the path cannot be opened. */
int veer_log_open(enum veer_log_level level, const char *dest);
/* Reopen the current path (logrotate); no-op for stderr. */
int veer_log_reopen(void);
void veer_log_set_level(enum veer_log_level level);
bool veer_log_enabled(enum veer_log_level level);

void veer_log(enum veer_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define veer_err(...) veer_log(VEER_LOG_ERROR, __VA_ARGS__)
#define veer_warn(...) veer_log(VEER_LOG_WARN, __VA_ARGS__)
#define veer_info(...) veer_log(VEER_LOG_INFO, __VA_ARGS__)
#define veer_debug(...) \
	do { if (veer_log_enabled(VEER_LOG_DEBUG)) veer_log(VEER_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
