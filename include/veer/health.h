/* veer — active health checks, run by the control loop (never on the
 * workers).  Each server of a pool with health_check gets a GET of the
 * path every interval; 2xx or 3xx within the timeout is a success.  After
 * `fall` failures in a row a server is marked unhealthy (workers stop
 * sending it requests at once), after `rise` successes healthy again (with
 * a slow start).  The verdict lives in the registry record, so it survives
 * reloads. */
#ifndef VEER_HEALTH_H
#define VEER_HEALTH_H

#include <event2/event.h>

#include "veer/config.h"

struct veer_health;

/* Start checking CONFIG's pools on BASE.  CONFIG must stay alive (the
 * caller holds a reference) until veer_health_stop().  NULL when no pool
 * has health_check. */
struct veer_health *veer_health_start(struct event_base *base, struct veer_config *config);
void veer_health_stop(struct veer_health *h);

#endif
