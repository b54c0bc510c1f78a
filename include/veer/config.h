/* veer — configuration generations.
 *
 * A struct veer_config is built in full from a YAML file by veer_config_load()
 * and never changed afterwards: it is immutable and shared by every worker.
 * Workers and in-flight requests hold references (veer_config_ref/unref); the
 * control loop frees a generation when its last reference is dropped.
 * Runtime state (balancer positions, in-flight counts, health ...) lives
 * elsewhere, keyed by name, never in here.
 */
#ifndef VEER_CONFIG_H
#define VEER_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "veer/semver.h"

typedef uint64_t veer_ms_t;

#define VEER_CONFIG_MAGIC 0x5645434eu /* "VECN" */

struct veer_balancer_ops; /* balance.h */

/* A resolved socket address and its canonical text ("127.0.0.1:80",
 * "[::1]:80"). */
struct veer_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80];
};

struct veer_server_health; /* registry.h */
struct veer_limiter;       /* ratelimit.h */
struct veer_registry;      /* registry.h */

struct veer_server_conf {
	char *address;         /* as written in the file: runtime state key */
	struct veer_addr addr; /* resolved at load */
	uint32_t weight;       /* 0 (no traffic) .. 1000; default 1 */
	struct veer_server_health *health; /* registry record, bound before publication */
	bool discovered;       /* added by pools[].discovery (address is the canonical
				* text), not written in the file */
};

enum veer_balance_kind {
	VEER_BALANCE_ROUND_ROBIN = 0, /* smooth weighted round robin (nginx) */
	VEER_BALANCE_LEAST_CONN,
	VEER_BALANCE_P2C,
	VEER_BALANCE_RANDOM,
	VEER_BALANCE_HASH,
};

enum veer_hash_on {
	VEER_HASH_NONE = 0,
	VEER_HASH_HEADER,    /* header:NAME */
	VEER_HASH_COOKIE,    /* cookie:NAME */
	VEER_HASH_CLIENT_IP, /* client_ip */
	VEER_HASH_PATH,      /* path */
};

struct veer_tls_server; /* tls.h */
struct veer_tls_client; /* tls.h */

struct veer_tls_cert_conf {
	char *cert; /* PEM certificate chain path */
	char *key;  /* PEM private key path */
};

/* listeners[].tls */
struct veer_listener_tls {
	bool enabled;
	struct veer_tls_cert_conf *certs;
	size_t ncerts;
	int min_version;              /* 12 (default) or 13 */
	struct veer_tls_server *server; /* built at load: contexts, SNI table */
};

/* pools[].tls */
struct veer_pool_tls {
	bool enabled;
	char *ca;                     /* CA file; NULL = the system store */
	char *server_name;            /* SNI and the name verified; NULL = the server's host */
	struct veer_tls_client *client; /* built at load */
};

/* pools[].health_check: active HTTP checks from the control loop. */
struct veer_health_conf {
	bool enabled;         /* the key is present */
	char *path;           /* default "/healthz" */
	veer_ms_t interval;   /* default 2s */
	veer_ms_t timeout;    /* default 1s */
	uint32_t rise;        /* default 2: successes in a row to become healthy */
	uint32_t fall;        /* default 3: failures in a row to become unhealthy */
};

/* pools[].circuit_breaker (per server). */
struct veer_breaker_conf {
	bool enabled;
	uint32_t consecutive_failures; /* default 5; 0 = rule off */
	uint32_t failure_rate;         /* percent, default 50; 0 = rule off */
	veer_ms_t window;              /* default 10s */
	uint32_t min_requests;         /* default 20 */
	veer_ms_t open_for;            /* default 30s */
	uint32_t probe_requests;       /* default 3 */
	uint32_t max_pending;          /* default 1024; 0 = no bound */
};

/* Conditions of retries.on (bits). */
enum veer_retry_on {
	VEER_RETRY_CONNECT_FAILURE = 1u << 0,
	VEER_RETRY_RESET = 1u << 1,
	VEER_RETRY_TIMEOUT = 1u << 2,
	VEER_RETRY_502 = 1u << 3,
	VEER_RETRY_503 = 1u << 4,
	VEER_RETRY_504 = 1u << 5,
};

/* pools[].retries. */
struct veer_retry_conf {
	bool enabled;
	uint32_t attempts;          /* tries in all, the first included; default 3 */
	uint32_t on;                /* enum veer_retry_on bits; default connect_failure */
	veer_ms_t per_try_timeout;  /* 0 = timeouts.response */
	veer_ms_t backoff_base;     /* default 25ms */
	veer_ms_t backoff_max;      /* default 250ms */
	uint32_t budget;            /* percent, default 20 */
};

enum veer_ratelimit_key {
	VEER_RLKEY_CLIENT_IP = 0,
	VEER_RLKEY_HEADER,          /* header:NAME */
	VEER_RLKEY_ROUTE,           /* one bucket for the whole route */
};

/* pools[].rate_limit and routes[].rate_limit: a token bucket. */
struct veer_ratelimit_conf {
	bool enabled;
	double rate;                /* tokens per second */
	uint32_t burst;             /* bucket size; default 0 = max(1, rate per second) */
	enum veer_ratelimit_key key; /* routes only; pools always one bucket */
	char *key_header;           /* for header:NAME */
	bool global;                /* scope: global (Redis) */
};

/* pools[].discovery.dns.type */
enum veer_dns_type {
	VEER_DNS_SRV = 0, /* port and weight from the records */
	VEER_DNS_A,       /* IPv4 addresses, port from dns.port */
	VEER_DNS_AAAA,    /* IPv6 addresses, port from dns.port */
};

/* pools[].discovery: endpoints found at runtime (discovery.h), appended to
 * the pool's servers of each generation the control thread builds. */
struct veer_discovery_conf {
	bool enabled;             /* the key is present */
	bool dns;                 /* discovery.dns is present */
	char *dns_name;           /* name to resolve */
	enum veer_dns_type dns_type; /* default SRV */
	uint16_t dns_port;        /* A and AAAA (required there); 0 for SRV */
	char **dns_resolvers;     /* "host:port" texts; none = /etc/resolv.conf */
	size_t ndns_resolvers;
	veer_ms_t dns_refresh;    /* default 5s */
	char *file;               /* endpoint file (relative paths are made relative to
				   * the config file's directory at load), or NULL */
};

struct veer_pool_conf {
	char *name;
	char *version; /* semantic version text, NULL when absent */
	struct veer_semver semver; /* parsed from version (points into it) */
	enum veer_balance_kind balance;
	const struct veer_balancer_ops *balancer; /* from balance, set at load */
	void *balancer_data; /* immutable data built by balancer->prepare */
	enum veer_hash_on hash_on;
	char *hash_key; /* header or cookie name for hash_on, else NULL */
	struct veer_server_conf *servers;
	size_t nservers;
	uint32_t keepalive_max_idle;     /* default 64 */
	veer_ms_t keepalive_idle_timeout; /* default 60s */
	veer_ms_t connect_timeout;        /* default 5s */
	veer_ms_t response_timeout;       /* default 60s */
	struct veer_health_conf health;
	struct veer_breaker_conf breaker;
	struct veer_retry_conf retries;
	struct veer_ratelimit_conf rate_limit;
	struct veer_limiter *limiter; /* registry record when rate_limit.enabled */
	struct veer_pool_tls tls;
	struct veer_discovery_conf discovery;
	size_t index; /* position in veer_config.pools */
};

enum veer_route_action {
	VEER_ACTION_NONE = 0,
	VEER_ACTION_POOL,       /* proxy to one pool */
	VEER_ACTION_RESPOND,    /* answer directly */
	VEER_ACTION_SPLIT,      /* weighted choice between pools */
	VEER_ACTION_BLUE_GREEN, /* all traffic to the active one of two pools */
};

enum veer_sticky_kind {
	VEER_STICKY_NONE = 0,
	VEER_STICKY_HEADER, /* sticky: { header: NAME } */
	VEER_STICKY_COOKIE, /* sticky: { cookie: NAME } */
};

enum veer_on_mismatch {
	VEER_MISMATCH_REJECT = 0, /* 400 listing the versions on offer */
	VEER_MISMATCH_FALLBACK,   /* the route's action */
};

/* A header name and value from the config (match.headers, request_headers.set).
 * Validated at load: a token name, a value without CR, LF or NUL. */
struct veer_header_kv {
	char *name;
	char *value;
};

/* Most entries of a split and most pools of a version route: larger ones
 * are refused at load, so request-time code may use arrays of this size. */
#define VEER_ROUTE_POOLS_MAX 64

struct veer_split_entry {
	struct veer_pool_conf *pool;
	uint32_t weight; /* relative; 0 = no traffic */
};

struct veer_route_conf {
	char *name;
	char *match_host;        /* NULL = any host; exact, case-insensitive */
	bool match_host_wildcard; /* match_host was "*.example.com": match_host holds
				   * ".example.com", matched as a suffix (nginx) */
	char *match_path_prefix; /* NULL = any path */
	char **match_methods;    /* upper-case method names; NULL/0 = any */
	size_t nmatch_methods;
	struct veer_header_kv *match_headers; /* all must be present with exactly that value */
	size_t nmatch_headers;

	/* version: evaluated first when present (version_header != NULL) */
	char *version_header;
	struct veer_pool_conf **version_pools;
	size_t nversion_pools;
	enum veer_on_mismatch on_mismatch;

	/* split */
	struct veer_split_entry *split;
	size_t nsplit;
	enum veer_sticky_kind sticky;
	char *sticky_name;       /* header or cookie name */

	/* blue_green */
	struct veer_pool_conf *blue;
	struct veer_pool_conf *green;
	bool green_active;       /* active: green (else blue) */

	struct veer_ratelimit_conf rate_limit;
	struct veer_limiter *limiter; /* registry record when rate_limit.enabled */

	/* request_headers */
	struct veer_header_kv *set_headers;
	size_t nset_headers;
	char **remove_headers;
	size_t nremove_headers;

	enum veer_route_action action;
	struct veer_pool_conf *pool; /* VEER_ACTION_POOL */
	int respond_status;          /* VEER_ACTION_RESPOND */
	char *respond_body;
	size_t respond_body_len;
	size_t index;
};

struct veer_listener_conf {
	char *name;
	struct veer_addr addr;
	struct veer_listener_tls tls;
	veer_ms_t header_timeout; /* default 10s: first byte to end of headers */
	veer_ms_t idle_timeout;   /* default 75s: keep-alive wait between requests */
	veer_ms_t body_timeout;   /* default 60s: between two reads of a body */
	size_t header_bytes;      /* default 32k */
	size_t max_headers;       /* default 100 */
	uint64_t body_bytes;      /* default 100m */
	struct veer_route_conf **routes; /* into veer_config.routes, in order */
	size_t nroutes;
};

enum veer_log_level {
	VEER_LOG_ERROR = 0,
	VEER_LOG_WARN,
	VEER_LOG_INFO,
	VEER_LOG_DEBUG,
};

struct veer_global_conf {
	unsigned workers;          /* resolved: "auto" becomes the CPU count */
	uint32_t max_connections;  /* default 20000 */
	veer_ms_t drain_timeout;   /* default 30s */
	bool expose_headers;       /* default true */
	char *user;                /* NULL when absent */
	enum veer_log_level log_level; /* default info */
	char *log_error;           /* "stderr" (default) or a path */
	char *log_access;          /* "off" (default), "stdout" or a path */
	bool access_json;          /* access_format: json (default) | combined */
	bool admin_enabled;        /* global.admin is present */
	struct veer_addr admin_addr; /* admin.listen */
	char *admin_token_file;    /* admin.token_file; NULL = no token needed */
	char *admin_token;         /* its content, trimmed of whitespace (read at load;
				    * zeroed before it is freed) */
	bool redis_enabled;        /* global.redis is present */
	struct veer_addr redis_addr; /* redis.address */
	veer_ms_t redis_timeout;   /* redis.timeout, default 50ms */
	bool redis_deny;           /* redis.on_error: deny (503) | allow (default) */
};

struct veer_config {
	uint32_t magic;
	atomic_uint refs;
	struct veer_registry *registry; /* the registry it is bound to, or NULL */
	uint64_t generation; /* set by whoever installs it; 0 after load */
	char *path;
	struct veer_global_conf global;
	struct veer_listener_conf *listeners;
	size_t nlisteners;
	struct veer_pool_conf *pools;
	size_t npools;
	struct veer_route_conf *routes;
	size_t nroutes;
};

/* A list of error lines, each "FILE:LINE:COL: message" (or "FILE: message"
 * when no position applies).  Owned by the caller; free with
 * veer_errors_free(). */
struct veer_errors {
	char **lines;
	size_t n;
};

void veer_errors_add(struct veer_errors *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void veer_errors_free(struct veer_errors *e);

/* Parse and validate PATH in full.  Returns a new config with one reference
 * held by the caller, or NULL with every problem appended to ERRS (at least
 * one line).  Never changes anything outside its result. */
struct veer_config *veer_config_load(const char *path, struct veer_errors *errs);

/* Same, from a memory buffer; NAME is used in error lines.  For tests and
 * fuzzing. */
struct veer_config *veer_config_load_mem(const char *name, const char *data,
					 size_t len, struct veer_errors *errs);

/* Reference counting.  veer_config_unref() returns true when it dropped the
 * last reference: the caller must then pass the config to veer_config_free()
 * (workers hand it to the control loop for that). */
void veer_config_ref(struct veer_config *c);
bool veer_config_unref(struct veer_config *c);
void veer_config_free(struct veer_config *c);

/* Lookups by name; NULL when absent. */
struct veer_pool_conf *veer_config_pool(const struct veer_config *c, const char *name);
struct veer_route_conf *veer_config_route(const struct veer_config *c, const char *name);

/* Parse helpers shared by the loader and its tests.  Each returns VEER_OK or
 * VEER_ERR (then *out is untouched). */
int veer_parse_duration(const char *s, veer_ms_t *out);  /* "250ms" "2s" "1m" "1h" */
int veer_parse_size(const char *s, uint64_t *out);       /* "512" "16k" "1m" "1g" */
int veer_parse_addr(const char *s, struct veer_addr *out, bool resolve_names);
/* veer_parse_addr() that explains a failure: on VEER_ERR, WHY (WHYLEN bytes,
 * may be NULL/0) receives a short reason ("missing :PORT", "cannot resolve
 * \"db\": Name or service not known" ...). */
int veer_parse_addr_why(const char *s, struct veer_addr *out, bool resolve_names,
			char *why, size_t whylen);
/* A DNS resolver: "IP:PORT", "[IPv6]:PORT", or a bare IP (port 53); numeric
 * only.  VEER_OK, or VEER_ERR with a reason in WHY (WHYLEN bytes). */
int veer_parse_resolver(const char *s, struct veer_addr *out, char *why, size_t whylen);
int veer_parse_percent(const char *s, uint32_t *out); /* "20%" -> 20; 0..100 */
int veer_parse_rate(const char *s, double *out);      /* "500/s" "30/m" -> per second */

/* The inverse of the parsers, in the largest exact unit ("90s", "1500ms",
 * "32k", "100m"); write into BUF (N bytes) and return it. */
const char *veer_format_duration(char *buf, size_t n, veer_ms_t ms);
const char *veer_format_size(char *buf, size_t n, uint64_t bytes);

/* Print the config key reference (one markdown table row per key, from the
 * key table that drives the loader) to F. */
void veer_config_reference(FILE *f);

#endif
