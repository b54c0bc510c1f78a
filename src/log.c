/* veer — the error log (see log.h for why this is process-wide). */
#include "veer/log.h"
#include "veer/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = VEER_LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static char log_path[4096]; /* written only by the control thread */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static int open_dest(const char *dest)
{
	if (dest == NULL || strcmp(dest, "stderr") == 0)
		return STDERR_FILENO;
	return open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int veer_log_open(enum veer_log_level level, const char *dest)
{
	int fd = open_dest(dest);
	int old;

	if (fd < 0)
		return VEER_ERR;
	atomic_store(&log_level, (int)level);
	if (fd == STDERR_FILENO)
		log_path[0] = '\0';
	else
		snprintf(log_path, sizeof(log_path), "%s", dest);
	old = atomic_exchange(&log_fd, fd);
	if (old != STDERR_FILENO && old != fd)
		close(old);
	return VEER_OK;
}

int veer_log_reopen(void)
{
	int fd, old;

	if (log_path[0] == '\0')
		return VEER_OK;
	fd = open_dest(log_path);
	if (fd < 0)
		return VEER_ERR;
	old = atomic_exchange(&log_fd, fd);
	if (old != STDERR_FILENO)
		close(old);
	return VEER_OK;
}

void veer_log_set_level(enum veer_log_level level)
{
	atomic_store(&log_level, (int)level);
}

bool veer_log_enabled(enum veer_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void veer_log(enum veer_log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;
	int saved = errno;
	int r;

	if (!veer_log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ %s: ",
			      (int)(tv.tv_usec / 1000), level_names[level]);
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n - 1 ? (size_t)r : sizeof(line) - n - 2;
	line[n++] = '\n';
	/* One write(2) per line: lines from several threads never interleave. */
	if (write(atomic_load(&log_fd), line, n) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved;
}
