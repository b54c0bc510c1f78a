/* veer — the admin API (SPEC section 4), served by the control loop.
 *
 * An HTTP/1.1 server (libevent's evhttp) on global.admin.listen, on the
 * control thread's event_base: it reads the process state (current and file
 * config, overrides, registry, metrics shards) without locks because it runs
 * on the thread that owns them, and changes the config only through the
 * overrides and veer_process_republish / veer_process_reload.
 *
 *   GET  /                                      dashboard page
 *   GET  /metrics                               Prometheus text format 0.0.4
 *   GET  /api/v1/status                         process, listeners, routes, pools
 *   GET  /api/v1/routes/{route}                 one route of the status
 *   GET  /api/v1/pools/{pool}                   one pool of the status
 *   PUT  /api/v1/routes/{route}/split           {"pool": weight, ...}
 *   PUT  /api/v1/routes/{route}/blue_green      {"active": "blue"|"green"}
 *   PUT  /api/v1/pools/{pool}/servers/{address} {"weight": N} and/or {"drain": bool}
 *   POST /api/v1/reload                         reload the config file
 *
 * Mutating calls need "Authorization: Bearer TOKEN" when
 * global.admin.token_file is set.  Errors are JSON {"error": "..."}; a
 * failed call changes nothing.
 */
#ifndef VEER_ADMIN_H
#define VEER_ADMIN_H

struct veer_process;
struct veer_admin;

/* Listen on PROC's global.admin.listen (proc->config) on proc->base and log
 * "admin on ADDR:PORT" (the real port when the config says 0).  Returns the
 * server, or NULL after logging why (the address cannot be bound). */
struct veer_admin *veer_admin_start(struct veer_process *proc);

/* Close the listening socket and every admin connection; NULL is a no-op. */
void veer_admin_stop(struct veer_admin *a);

#endif
