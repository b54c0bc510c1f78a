/* veer — worker threads and the process that owns them.
 *
 * A worker owns an event_base, its own SO_REUSEPORT listening sockets, its
 * client connections and its upstream keep-alive pools.  Nothing it touches
 * on the request path is shared with another worker, so nothing takes a
 * lock.  The control loop (main thread) talks to workers only through an
 * eventfd per worker and a few atomics (veer_worker_post): worker bases are
 * created without locks.
 *
 * Config generations (reload).  Each worker sees a generation through a
 * struct veer_gen, which holds one reference to the shared immutable config
 * and counts, worker-locally and without atomics, what pins it: being the
 * worker's current generation, each request in flight, each listening socket
 * and each upstream pool built from it.  When the count drops to zero the
 * worker drops its reference; the last reference of all queues the config
 * for the control loop to free.
 *
 * Runtime state by name.  Listening sockets (struct veer_lsock) and upstream
 * pools (struct veer_wpool) outlive generations: a reload that keeps a
 * listener's name and address keeps its socket, and one that keeps a pool's
 * name and server list keeps its balancer state and idle connections.
 */
#ifndef VEER_WORKER_H
#define VEER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "veer/balance.h"
#include "veer/breaker.h"
#include "veer/config.h"
#include "veer/upgrade.h"

#define VEER_WORKER_MAGIC 0x5657524bu /* "VWRK" */

/* Commands the control loop posts to a worker (bits of veer_worker.cmd). */
#define VEER_WCMD_STOP 1u   /* graceful stop */
#define VEER_WCMD_FORCE 2u  /* stop now */
#define VEER_WCMD_RELOAD 4u /* take veer_worker.pending */

struct veer_client;
struct veer_upstream;
struct veer_hdr;
struct hdr_block;
struct veer_registry;
struct veer_health;
struct veer_discovery;
struct veer_overrides;
struct veer_stats;
struct veer_admin;
struct veer_accesslog;
struct veer_access_sink;
struct veer_redis;
struct veer_request;
struct veer_read_block; /* conn.c */

TAILQ_HEAD(veer_client_list, veer_client);
TAILQ_HEAD(veer_upstream_list, veer_upstream);

/* A config generation as one worker sees it (see above). */
struct veer_gen {
	struct veer_config *config; /* one reference, held by this worker */
	uint32_t users;             /* worker-local pins */
	TAILQ_ENTRY(veer_gen) link;
};
TAILQ_HEAD(veer_gen_list, veer_gen);

/* A listening socket of this worker, for one listener name and address. */
struct veer_lsock {
	struct veer_worker *w;
	char *name;
	char addr[80];                 /* the configured address text */
	struct evconnlistener *ev;     /* NULL once retired */
	struct veer_listener_conf *conf; /* in gen's config */
	struct veer_gen *gen;          /* pinned */
	uint32_t nclients;
	bool retired;                  /* removed by a reload: no more accepts */
	TAILQ_ENTRY(veer_lsock) link;
};
TAILQ_HEAD(veer_lsock_list, veer_lsock);

/* Per worker, per server: idle keep-alive connections (most recent first)
 * and the circuit breaker (per worker: no lock; each worker trips on what it
 * sees). */
struct veer_server_rt {
	struct veer_upstream_list idle;
	uint32_t nidle;
	struct veer_breaker breaker;
	SSL_SESSION *session;          /* pools[].tls: the last session, offered for resumption */
};

/* Per worker, per pool: balancer state and keep-alive pools, for one pool
 * name and server list.  Kept across reloads that keep both. */
struct veer_wpool {
	struct veer_pool_conf *conf;   /* in gen's config */
	struct veer_gen *gen;          /* pinned */
	struct veer_balance_state bal;
	struct veer_server_rt *servers; /* conf->nservers entries */
	size_t nservers;
	uint32_t refs;                 /* 1 while current + one per upstream connection or request */
	uint32_t pending;              /* connections being set up (max_pending) */
	uint32_t requests_inflight;    /* for the retry budget */
	uint32_t retries_inflight;
	bool retired;
	TAILQ_ENTRY(veer_wpool) link;
};
TAILQ_HEAD(veer_wpool_list, veer_wpool);

/* What the control loop hands a worker on reload. */
struct veer_reload_msg {
	struct veer_config *config; /* one reference, passed to the worker */
	struct veer_access_sink *access_sink; /* the access log's destination, or NULL (off) */
	int *fds;                   /* per new listener: a new socket, or -1 (keep) */
};

/* A common-timeout timeval cached per duration (libevent keeps one queue per
 * distinct duration: O(1) add and delete instead of heap operations). */
struct veer_timeout_slot {
	veer_ms_t ms;
	const struct timeval *tv;
};

struct veer_worker {
	uint32_t magic;
	unsigned id;
	struct veer_process *proc;
	struct event_base *base;
	pthread_t thread;
	struct veer_gen *cur;          /* current generation (pinned) */
	struct veer_gen_list gens;     /* every generation still pinned */
	struct veer_lsock_list lsocks;
	struct veer_wpool_list wpools; /* current and retired */
	struct veer_wpool **pool_map;  /* cur config pool index -> wpool */
	struct veer_client_list clients;
	uint32_t nclients;
	uint32_t max_clients;          /* this worker's share of max_connections */
	bool accept_paused;
	bool stopping;
	struct veer_client_list to_free; /* closed clients, freed from the loop */
	struct veer_upstream_list up_free;
	struct event *gc_ev;
	struct event *drain_ev;        /* drain_timeout after a reload */
	atomic_uint cmd;               /* VEER_WCMD_* posted by the control loop */
	_Atomic(struct veer_reload_msg *) pending; /* VEER_WCMD_RELOAD's message */
	_Atomic uint64_t applied_gen;  /* the generation this worker serves */
	int cmd_fd;                    /* eventfd that wakes the loop for cmd */
	struct event *cmd_ev;
	struct veer_timeout_slot timeouts[32];
	size_t ntimeouts;
	struct timeval plain_tv;       /* beyond the slots: a plain (heap) timeout */
	uint64_t rng;
	uint64_t req_seq;
	char id_prefix[17];            /* random per worker: request ids are unique */
	struct veer_stats *stats;      /* this worker's metrics shard (owned by proc) */
	struct veer_accesslog *alog;   /* this worker's access log buffer, or NULL */
	struct hdr_block *spare_hdrs;  /* header tables not in use (a free list) */
	uint32_t nspare_hdrs;
	struct veer_redis *redis;      /* global.redis connection, or NULL (redis.h) */
	struct veer_request *spare_reqs; /* request blocks not in use (proxy.h) */
	uint32_t nspare_reqs;
	struct veer_read_block *spare_blocks; /* read blocks not in use (conn.c) */
	uint32_t nspare_blocks;
	bool blocks_closed;            /* torn down: blocks given back are freed */
};

/* The whole process: config, workers, control loop. */
struct veer_process {
	struct event_base *base; /* control loop */
	const char *config_path;
	struct veer_config *config; /* the current generation (control's reference) */
	struct veer_config *file_config; /* the file as written, without overrides */
	char *config_text;          /* the text both came from */
	size_t config_len;
	struct veer_overrides *overrides; /* admin API changes (overrides.h) */
	struct veer_stats **stats;  /* one shard per worker (stats.h) */
	struct veer_admin *admin;   /* admin API server, or NULL */
	struct veer_access_sink *access_sink; /* access log destination, or NULL */
	char *access_dest;          /* what access_sink was opened for */
	struct veer_access_sink **old_sinks; /* replaced by reloads, closed at exit */
	size_t nold_sinks;
	bool last_reload_ok;
	uint64_t generation;
	uint64_t awaiting_gen;       /* a reload not yet taken by every worker, or 0 */
	uint64_t reloads_ok, reloads_failed;
	struct veer_worker *workers;
	unsigned nworkers;
	int **listen_fds; /* [worker][listener] at start */
	size_t nlisten_fds;
	struct veer_sockets inherited; /* handed over by an older veer (SIGUSR2) */
	struct veer_sockets sockets;   /* a duplicate of every listening socket */
	const char *exe;               /* this binary's path, for SIGUSR2 */
	char *const *argv;
	struct event *sig_usr2, *sig_chld, *tickets_ev;
	struct veer_registry *registry; /* runtime state by name (registry.h) */
	struct veer_health *health;     /* active checks of the current config */
	struct veer_discovery *discovery; /* pools[].discovery sources (discovery.h), or NULL */
	struct event *sig_term, *sig_int, *sig_hup, *sig_usr1, *drain_ev, *done_ev;
	int done_fd;                 /* eventfd: a worker's loop ended, or configs to free */
	unsigned stop_requests;
	atomic_uint workers_done;
	pthread_mutex_t free_lock;   /* guards to_free: reload path only */
	struct veer_config **to_free;
	size_t nto_free;
	int exit_code;
};

/* Bind every listener for every worker (SO_REUSEPORT; port 0 takes one port
 * from the OS for all workers), log "listener NAME on ADDR:PORT". */
int veer_listeners_bind(struct veer_process *proc);

/* Bind listener L for NWORKERS workers into FDS[k] (port 0: one port for
 * all), taking sockets from INHERITED where it has them (may be NULL), and
 * keeping a duplicate of each in RECORD (may be NULL).  VEER_OK, or VEER_ERR
 * with nothing left open. */
int veer_listener_bind_all(const struct veer_listener_conf *l, unsigned nworkers, int *fds,
			   struct veer_sockets *inherited, struct veer_sockets *record);

/* Close sockets not handed to a worker and free the table. */
void veer_listeners_close(struct veer_process *proc);

/* Start the workers' threads with proc->config, run the control loop until
 * a graceful stop finishes; returns the exit code. */
int veer_process_run(struct veer_process *proc);

/* Reload proc->config_path: on success every worker switches to the new
 * generation for new requests; on failure nothing changes.  ERRS gets the
 * error lines (the caller frees it).  VEER_OK or VEER_ERR. */
int veer_process_reload(struct veer_process *proc, struct veer_errors *errs);

/* veer_process_reload() as SIGHUP and the admin API ask for it: told to
 * systemd, and on failure each error logged, then "reload failed: the
 * running config (generation N) stays".  ERRS as for veer_process_reload. */
int veer_process_reload_logged(struct veer_process *proc, struct veer_errors *errs);

/* Load proc->config_path for the start: proc->config (generation 1, with
 * overrides) and proc->file_config.  VEER_OK or VEER_ERR (ERRS filled). */
int veer_process_load(struct veer_process *proc, struct veer_errors *errs);

/* Build a new generation from the text last loaded plus the overrides and
 * publish it (after an admin API change).  VEER_OK or VEER_ERR. */
int veer_process_republish(struct veer_process *proc, struct veer_errors *errs);

/* Worker-side: set up (before the thread starts) and tear down. */
int veer_worker_init(struct veer_worker *w, struct veer_process *proc, unsigned id, int *fds);
void veer_worker_fini(struct veer_worker *w);
void *veer_worker_main(void *arg);

/* Post command bits (VEER_WCMD_*) to W from any thread. */
void veer_worker_post(struct veer_worker *w, unsigned cmd);

/* Graceful stop, run in the worker's thread (posted by the control loop). */
void veer_worker_stop(struct veer_worker *w);

/* A common timeout for MS milliseconds on this worker's base. */
const struct timeval *veer_worker_timeout(struct veer_worker *w, veer_ms_t ms);

/* A connection timer moved lazily.  Pushing a deadline later does not touch
 * libevent while the timer already pending fires no later: veer_lazy_arm
 * notes the new deadline, and the timer's callback asks veer_lazy_fired
 * whether it has come, re-arming for the rest when not.  A keep-alive
 * connection under load then costs one event_add per timeout period, not
 * one or two per request (bench/RESULTS.md).  Deadlines are in coarse
 * milliseconds (veer_coarse_ms): a timeout may run a tick late. */
struct veer_lazy {
	uint32_t armed; /* when the pending timer fires */
	uint32_t due;   /* the deadline in force */
	bool off;       /* no deadline: a firing is ignored (veer_lazy_off) */
	bool exact;     /* armed exactly (a timeout of 2^30 ms or more) */
};

/* Make the deadline of EV (a timer of W's base) MS from now. */
void veer_lazy_arm(struct veer_worker *w, struct event *ev, struct veer_lazy *t, veer_ms_t ms);
/* No deadline for now, without an event_del: the pending timer, if it
 * fires, is ignored. */
static inline void veer_lazy_off(struct veer_lazy *t)
{
	t->off = true;
}
/* In EV's callback: true when the deadline has come; false when the timer
 * was re-armed for the rest, or is off. */
bool veer_lazy_fired(struct event *ev, struct veer_lazy *t);

/* Queue the garbage collection pass (frees closed connections). */
void veer_worker_schedule_gc(struct veer_worker *w);

/* A client of LS closed: accepting resumes below max_clients, a retired
 * socket goes away with its last client. */
void veer_worker_client_closed(struct veer_worker *w, struct veer_lsock *ls);

/* A header table of at least WANT entries for a request (*CAP gets its
 * size), from the worker's spares when it has one; give it back with
 * veer_worker_put_hdrs (HDRS may be NULL). */
struct veer_hdr *veer_worker_get_hdrs(struct veer_worker *w, uint32_t want, uint32_t *cap);
void veer_worker_put_hdrs(struct veer_worker *w, struct veer_hdr *hdrs, uint32_t cap);

/* Generation pins (worker thread only). */
struct veer_gen *veer_gen_pin(struct veer_gen *g);
void veer_gen_unpin(struct veer_worker *w, struct veer_gen *g);

/* The wpool serving POOL (a pool of generation G) now, or NULL when the
 * current generation has no pool of that name. */
struct veer_wpool *veer_worker_wpool(struct veer_worker *w, struct veer_gen *g,
				     const struct veer_pool_conf *pool);
void veer_wpool_ref(struct veer_wpool *wp);
void veer_wpool_unref(struct veer_worker *w, struct veer_wpool *wp);

/* Called when a worker took a new generation (from its thread). */
void veer_process_worker_applied(struct veer_process *proc);

/* Called when a worker's loop ended (from its thread). */
void veer_process_worker_done(struct veer_process *proc);

/* A worker dropped the last reference to CONFIG: the control loop frees it. */
void veer_process_free_config(struct veer_process *proc, struct veer_config *config);

#endif
