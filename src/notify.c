/* veer — service manager notifications (see notify.h). */
#include "veer/notify.h"

#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#ifdef VEER_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

void veer_notify_ready(uint64_t generation)
{
	sd_notifyf(0, "READY=1\nSTATUS=serving, config generation %" PRIu64, generation);
}

void veer_notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading",
		   (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

void veer_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: draining in-flight requests");
}

void veer_notify_mainpid(void)
{
	sd_notifyf(0, "MAINPID=%d", (int)getpid());
}

int veer_notify_supported(void)
{
	return 1;
}
#else
void veer_notify_ready(uint64_t generation)
{
	(void)generation;
}

void veer_notify_reloading(void)
{
}

void veer_notify_stopping(void)
{
}

void veer_notify_mainpid(void)
{
}

int veer_notify_supported(void)
{
	return 0;
}
#endif
