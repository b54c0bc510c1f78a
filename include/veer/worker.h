/* veer — worker threads and the process that owns them.
 *
 * A worker owns an event_base, its own SO_REUSEPORT listening sockets, its
 * client connections and its upstream keep-alive pools.  Nothing it touches
 * on the request path is shared with another worker, so nothing takes a
 * lock.  The control loop (main thread) talks to workers only by posting
 * callbacks into their event_base (event_base_once, thread-safe once
 * evthread_use_pthreads() ran).
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

#include "veer/balance.h"
#include "veer/config.h"

#define VEER_WORKER_MAGIC 0x5657524bu /* "VWRK" */

/* Commands the control loop posts to a worker (bits of veer_worker.cmd). */
#define VEER_WCMD_STOP 1u  /* graceful stop */
#define VEER_WCMD_FORCE 2u /* stop now */

struct veer_client;
struct veer_upstream;

TAILQ_HEAD(veer_client_list, veer_client);
TAILQ_HEAD(veer_upstream_list, veer_upstream);

/* Per worker, per server: idle keep-alive connections (most recent first). */
struct veer_server_rt {
	struct veer_upstream_list idle;
	uint32_t nidle;
};

/* Per worker, per pool runtime state. */
struct veer_pool_rt {
	struct veer_balance_state bal;
	struct veer_server_rt *servers; /* nservers entries */
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
	struct veer_config *config;   /* this worker's reference */
	struct evconnlistener **listeners; /* one per config listener */
	void *listen_ctx;             /* accept callback contexts, one per listener */
	size_t nlisteners;
	struct veer_pool_rt *pools;   /* one per config pool */
	struct veer_client_list clients;
	uint32_t nclients;
	uint32_t max_clients;         /* this worker's share of max_connections */
	bool accept_paused;
	bool stopping;
	struct veer_client_list to_free; /* closed clients, freed from the loop */
	struct veer_upstream_list up_free;
	struct event *gc_ev;
	atomic_uint cmd;              /* VEER_WCMD_* posted by the control loop */
	int cmd_fd;                   /* eventfd that wakes the loop for cmd */
	struct event *cmd_ev;
	struct veer_timeout_slot timeouts[32];
	size_t ntimeouts;
	struct timeval plain_tv;      /* beyond the slots: a plain (heap) timeout */
	uint64_t rng;
	uint64_t req_seq;
	char id_prefix[17]; /* random per worker: request ids are unique */
};

/* The whole process: config, workers, control loop. */
struct veer_process {
	struct event_base *base; /* control loop */
	struct veer_config *config;
	struct veer_worker *workers;
	unsigned nworkers;
	int **listen_fds; /* [worker][listener] */
	struct event *sig_term, *sig_int, *sig_hup, *sig_usr1, *drain_ev, *done_ev;
	int done_fd;                 /* eventfd: a worker's loop ended */
	unsigned stop_requests;
	atomic_uint workers_done;
	int exit_code;
};

/* Bind every listener for every worker (SO_REUSEPORT; port 0 takes one port
 * from the OS for all workers), log "listener NAME on ADDR:PORT". */
int veer_listeners_bind(struct veer_process *proc);

/* Close sockets not handed to a worker and free the table. */
void veer_listeners_close(struct veer_process *proc);

/* Start the workers' threads with proc->config, run the control loop until
 * a graceful stop finishes; returns the exit code. */
int veer_process_run(struct veer_process *proc);

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

/* Queue the garbage collection pass (frees closed connections). */
void veer_worker_schedule_gc(struct veer_worker *w);

/* Accepting pauses at max_clients and resumes below it. */
void veer_worker_client_closed(struct veer_worker *w);

/* Called when a worker's loop ended (from its thread). */
void veer_process_worker_done(struct veer_process *proc);

#endif
