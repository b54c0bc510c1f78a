/* veer — runtime state that outlives config generations, by name.
 *
 * The control thread owns the registry.  When it loads a config (at start
 * and on each reload, before any worker sees the generation) it binds the
 * config to its state: each server gets the health record of its (pool,
 * address), each rate-limited pool and route its token-bucket table.  The
 * records themselves are shared with the workers through those pointers and
 * change only through atomics (health) or lock-free compare-and-swap
 * (buckets), so the request path takes no lock.  Records live as long as
 * the process: a reload that keeps a name keeps its state.
 */
#ifndef VEER_REGISTRY_H
#define VEER_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "veer/config.h"

/* How long a server that came back (health check, or breaker closing) takes
 * to get its full share of requests. */
#define VEER_SLOW_START_MS 10000u

/* Most worker threads (global.workers' upper bound). */
#define VEER_MAX_WORKERS 256

struct veer_server_health {
	char *pool;
	char *address;
	atomic_int healthy;          /* 1 (also before any check) or 0 */
	_Atomic uint64_t since_ms;   /* when it last became healthy (slow start) */
	/* Published by each worker for the admin API (its own slot only):
	 * its breaker's state (enum veer_breaker_state) and requests in
	 * flight to this server. */
	_Atomic uint8_t breaker[VEER_MAX_WORKERS];
	_Atomic uint32_t inflight[VEER_MAX_WORKERS];
	/* Written by the health checker (control thread) only. */
	uint32_t ok_in_row, fail_in_row;
	bool checked;
	/* Configs bound to this record (control thread only): the record is
	 * freed with the last of them. */
	uint32_t refs;
};

struct veer_registry;

struct veer_registry *veer_registry_new(void);
void veer_registry_free(struct veer_registry *r);

/* Bind CONFIG's servers, pools and routes to their state (creating what is
 * new).  Control thread, before the config is published.  Binding a config
 * twice binds it once. */
void veer_registry_bind(struct veer_registry *r, struct veer_config *config);

/* CONFIG is being freed (veer_config_free() calls this for a bound config):
 * state that no other bound config uses is freed with it, so servers that
 * come and go (discovery) and rate limits whose parameters change leave
 * nothing behind.  Control thread. */
void veer_registry_unbind(struct veer_registry *r, struct veer_config *config);

/* How many health records and rate-limit tables R holds (tests, status). */
void veer_registry_sizes(const struct veer_registry *r, size_t *health, size_t *limiters);

/* Rotate every listener's session-ticket keys (control thread, every
 * VEER_TLS_TICKET_ROTATE_MS). */
void veer_registry_rotate_tickets(struct veer_registry *r);

/* Visit every health record of CONFIG's pools with health checks. */
struct veer_server_health *veer_registry_health(struct veer_registry *r, const char *pool,
						const char *address);

/* Is server S usable now, and how much of its share may it take (slow start):
 * 0 = out, 1..1000 = thousandths of its share. */
uint32_t veer_server_share(const struct veer_server_conf *s, uint64_t now_ms);

#endif
