/* veer — service manager notifications (systemd Type=notify).
 *
 * With libsystemd at build time (optional), these send sd_notify(3)
 * messages to $NOTIFY_SOCKET; without it, or without $NOTIFY_SOCKET, they do
 * nothing.  Control thread only. */
#ifndef VEER_NOTIFY_H
#define VEER_NOTIFY_H

#include <stdint.h>

/* READY=1 and a STATUS= line naming GENERATION. */
void veer_notify_ready(uint64_t generation);
/* RELOADING=1 with MONOTONIC_USEC= (systemd's Type=notify-reload protocol). */
void veer_notify_reloading(void);
/* STOPPING=1. */
void veer_notify_stopping(void);
/* MAINPID= this process (after a binary upgrade took over). */
void veer_notify_mainpid(void);
/* True when veer was built with libsystemd. */
int veer_notify_supported(void);

#endif
