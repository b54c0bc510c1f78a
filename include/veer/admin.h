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

#include <stdbool.h>
#include <stddef.h>

struct veer_config;
struct veer_overrides;
struct veer_process;
struct veer_admin;

/* Listen on PROC's global.admin.listen (proc->config) on proc->base and log
 * "admin on ADDR:PORT" (the real port when the config says 0).  Returns the
 * server, or NULL after logging why (the address cannot be bound). */
struct veer_admin *veer_admin_start(struct veer_process *proc);

/* Close the listening socket and every admin connection; NULL is a no-op. */
void veer_admin_stop(struct veer_admin *a);

/* What veer_admin_parse_body made of a body. */
struct veer_admin_change {
	int status;       /* 200 when recorded, else the HTTP status of the refusal (400, 404) */
	bool bad_json;    /* the body is not JSON at all: line and column say where */
	int line, column; /* jansson's position of the syntax error */
	char text[1024];  /* 200: the change, for the log ("route web split a=3 b=1");
			   * else the error message (the "error" of the 400/404 body) */
};

/* The body of a PUT, parsed (jansson, duplicate keys refused) and checked,
 * then recorded in O with veer_override_*() against FILE_CFG (the file's
 * config, without overrides).  This is the whole path of the admin API's
 * PUT handlers; only the publish that follows is theirs.
 *   KIND "split"      route NAME, body {"pool": weight, ...}
 *   KIND "blue_green" route NAME, body {"active": "blue"|"green"|POOL}
 *   KIND "server"     server ADDRESS (as in the file, or as resolved) of
 *                     pool NAME, body {"weight": 0..1000, "drain": bool}
 * BODY is LEN bytes, not necessarily NUL-terminated; ADDRESS is NULL for
 * the route kinds.  Returns VEER_OK (OUT->status 200) with O changed, or
 * VEER_ERR with OUT filled and O as it was.  Nothing here allocates what
 * outlives the call, except the overrides O now owns. */
int veer_admin_parse_body(const char *kind, const char *name, const char *address,
			  const char *body, size_t len, const struct veer_config *file_cfg,
			  struct veer_overrides *o, struct veer_admin_change *out);

#endif
