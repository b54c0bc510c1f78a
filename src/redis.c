/* veer — a worker's Redis connection for global rate limits (redis.h). */
#include "veer/redis.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/log.h"
#include "veer/stats.h"

/* hiredis's libevent adapter is a header of static functions. */
#include <hiredis/adapters/libevent.h>

#define REDIS_MAGIC 0x56524453u /* "VRDS" */
#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 2000u
#define CONNECT_TIMEOUT_MS 1000u
#define STALL_MIN_MS 500u
/* Longer keys are sent as a hash of themselves. */
#define KEY_MAX 200u

/* The token bucket, run atomically by Redis.  KEYS[1] is the bucket,
 * ARGV[1] the rate in tokens/s (> 0), ARGV[2] the burst.  The bucket is a
 * hash {t: last refill, ms of Redis's clock; n: tokens, fractional}; a
 * missing key is a full bucket, and a key expires once it would be full
 * again.  Returns {allowed 0|1, whole tokens left, ms until a token, ms
 * until full}, as veer_bucket_take() does locally. */
static const char SCRIPT[] =
	"local rate = tonumber(ARGV[1])\n"
	"local burst = tonumber(ARGV[2])\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local b = redis.call('HMGET', KEYS[1], 't', 'n')\n"
	"local last = tonumber(b[1])\n"
	"local n = tonumber(b[2])\n"
	"if last == nil or n == nil then last = now; n = burst end\n"
	"if n > burst then n = burst end\n"
	"if now > last then\n"
	"  n = math.min(burst, n + (now - last) * rate / 1000)\n"
	"  last = now\n"
	"end\n"
	"local ok = 0\n"
	"if n >= 1 then n = n - 1; ok = 1 end\n"
	"local retry = 0\n"
	"if ok == 0 then retry = math.ceil((1 - n) * 1000 / rate) end\n"
	"local reset = math.ceil((burst - n) * 1000 / rate)\n"
	"if reset > 0 then\n"
	"  redis.call('HSET', KEYS[1], 't', last, 'n', n)\n"
	"  redis.call('PEXPIRE', KEYS[1], reset)\n"
	"else\n"
	"  redis.call('DEL', KEYS[1])\n"
	"end\n"
	"return { ok, math.floor(n), retry, reset }\n";

struct veer_redis_wait {
	veer_redis_cb *cb; /* NULL once cancelled */
	void *arg;
	struct veer_redis_wait *next; /* in the free list */
};

struct veer_redis {
	uint32_t magic;
	struct event_base *base;
	struct veer_stats *stats;
	struct veer_addr addr;
	char host[INET6_ADDRSTRLEN];
	int port;
	redisAsyncContext *ac; /* NULL while down */
	bool up;               /* the connect completed */
	bool failing;          /* the last attempt failed (log the next one at debug) */
	bool closing;          /* veer_redis_free() is running */
	struct event *timer;   /* down: the next connect; else the stall check */
	uint32_t backoff_ms;
	uint64_t t_connect;  /* ms: when the connect began */
	uint64_t t_progress; /* ms: the last reply, or when the queue stopped being empty */
	uint32_t inflight;   /* takes sent and not answered */
	veer_ms_t timeout;
	char sha[41];                  /* SHA-1 of SCRIPT, hex */
	struct veer_redis_wait *spare; /* free list */
	size_t nwaits;                 /* wait records allocated (in flight + spare) */
};

static void start_connect(struct veer_redis *r);

static void count_error(struct veer_redis *r, enum veer_redis_error e)
{
	static const char *const reasons[] = {
		[VEER_REDIS_DOWN] = "down",
		[VEER_REDIS_TIMEOUT] = "timeout",
		[VEER_REDIS_FAILED] = "failed",
	};

	veer_stats_redis_error(r->stats, reasons[e]);
}

static veer_ms_t stall_ms(const struct veer_redis *r)
{
	veer_ms_t ms = r->timeout * 4;

	return ms > STALL_MIN_MS ? ms : STALL_MIN_MS;
}

static void arm(struct veer_redis *r, veer_ms_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(r->timer, &tv);
}

static void set_up(struct veer_redis *r, bool up)
{
	if (r->up != up)
		veer_stats_redis_connected(r->stats, r->addr.text, up ? 1 : -1);
	r->up = up;
}

/* The connection is gone (AC freed or being freed by hiredis): try again
 * after the backoff. */
static void lost(struct veer_redis *r)
{
	r->ac = NULL;
	set_up(r, false);
	r->inflight = 0;
	if (r->closing)
		return;
	arm(r, r->backoff_ms);
	r->backoff_ms = r->backoff_ms * 2 < BACKOFF_MAX_MS ? r->backoff_ms * 2 : BACKOFF_MAX_MS;
}

/* Drop the connection now: takes waiting get NULL (from inside this call). */
static void drop(struct veer_redis *r, const char *why)
{
	redisAsyncContext *ac = r->ac;

	if (ac == NULL)
		return;
	/* One warning per outage: a server that stays unreachable is
	 * retried every 2 s, and each retry would say the same. */
	if (!r->failing)
		veer_warn("redis %s: %s; reconnecting", r->addr.text, why);
	else
		veer_debug("redis %s: %s; reconnecting", r->addr.text, why);
	r->failing = true;
	/* Marked down first: a callback that takes again fails at once, and
	 * disconnect_cb() sees that AC is no longer R's. */
	lost(r);
	redisAsyncFree(ac);
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
	struct veer_redis *r = ac->data;

	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	if (status != REDIS_OK) {
		/* hiredis frees AC after this returns. */
		if (!r->failing)
			veer_warn("redis %s: connect failed: %s (retrying in the background)",
				  r->addr.text, ac->errstr);
		else
			veer_debug("redis %s: connect failed: %s", r->addr.text, ac->errstr);
		r->failing = true;
		lost(r);
		return;
	}
	/* "answering again" is logged at its first answer (script_cb): a
	 * stopped server still completes TCP connects from its backlog. */
	veer_debug("redis %s: connected", r->addr.text);
	r->backoff_ms = BACKOFF_MIN_MS;
	set_up(r, true);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct veer_redis *r = ac->data;

	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	if (r->ac != ac)
		return; /* dropped on purpose: lost() ran already */
	if (!r->closing) {
		veer_warn("redis %s: connection lost%s%s; reconnecting", r->addr.text,
			  status != REDIS_OK ? ": " : "", status != REDIS_OK ? ac->errstr : "");
		r->failing = true;
	}
	lost(r);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_redis *r = arg;
	uint64_t now = veer_now_ms(), since;

	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	(void)fd;
	(void)what;
	if (r->ac == NULL) {
		start_connect(r);
		return;
	}
	if (!r->up) {
		since = now - r->t_connect;
		if (since >= CONNECT_TIMEOUT_MS)
			drop(r, "connect timed out");
		else
			arm(r, CONNECT_TIMEOUT_MS - since);
		return;
	}
	if (r->inflight == 0)
		return; /* re-armed by the next take */
	since = now - r->t_progress;
	if (since >= stall_ms(r))
		drop(r, "no answer");
	else
		arm(r, stall_ms(r) - since);
}

static void script_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *rep = reply;
	struct veer_redis *r = ac->data;

	(void)priv;
	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	if (rep == NULL)
		return;
	if (r->inflight > 0)
		r->inflight--;
	r->t_progress = veer_now_ms();
	if (rep->type == REDIS_REPLY_ERROR) {
		veer_warn("redis %s: SCRIPT LOAD: %s", r->addr.text, rep->str);
		return;
	}
	if (r->failing)
		veer_info("redis %s: answering again", r->addr.text);
	r->failing = false;
}

/* Queue SCRIPT LOAD: every EVALSHA after it on this connection finds the
 * script. */
static void load_script(struct veer_redis *r)
{
	if (redisAsyncCommand(r->ac, script_cb, NULL, "SCRIPT LOAD %s", SCRIPT) == REDIS_OK) {
		if (r->inflight++ == 0)
			r->t_progress = veer_now_ms();
	}
}

static void start_connect(struct veer_redis *r)
{
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

	if (ac == NULL || ac->err) {
		veer_debug("redis %s: connect: %s", r->addr.text,
			   ac != NULL ? ac->errstr : "no memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		r->failing = true;
		lost(r);
		return;
	}
	ac->data = r;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	r->ac = ac;
	r->t_connect = veer_now_ms();
	r->inflight = 0;
	load_script(r);
	arm(r, CONNECT_TIMEOUT_MS);
}

struct veer_redis *veer_redis_new(struct event_base *base, const struct veer_addr *addr,
				  veer_ms_t timeout, struct veer_stats *stats)
{
	struct veer_redis *r = veer_xcalloc(1, sizeof(*r));
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char serv[8];

	r->magic = REDIS_MAGIC;
	r->base = base;
	r->stats = stats;
	r->addr = *addr;
	r->timeout = timeout;
	r->backoff_ms = BACKOFF_MIN_MS;
	if (getnameinfo((const struct sockaddr *)&addr->ss, addr->len, r->host, sizeof(r->host),
			serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(r->host, sizeof(r->host), "127.0.0.1");
		snprintf(serv, sizeof(serv), "6379");
	}
	r->port = atoi(serv);
	if (EVP_Digest(SCRIPT, sizeof(SCRIPT) - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20) {
		veer_err("redis: SHA-1 of the rate-limit script failed");
		abort();
	}
	for (unsigned i = 0; i < 20; i++)
		snprintf(r->sha + 2 * i, 3, "%02x", md[i]);
	r->timer = evtimer_new(base, timer_cb, r);
	if (r->timer == NULL) {
		veer_err("redis: no memory for a timer");
		abort();
	}
	start_connect(r);
	return r;
}

void veer_redis_free(struct veer_redis *r)
{
	if (r == NULL)
		return;
	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	r->closing = true;
	if (r->ac != NULL) {
		redisAsyncContext *ac = r->ac;
		lost(r);
		/* Callbacks still run (with NULL replies) and find R. */
		redisAsyncFree(ac);
	}
	set_up(r, false);
	event_free(r->timer);
	while (r->spare != NULL) {
		struct veer_redis_wait *w = r->spare;
		r->spare = w->next;
		free(w);
		r->nwaits--;
	}
	if (r->nwaits != 0)
		veer_warn("redis %s: %zu wait records still out at close", r->addr.text, r->nwaits);
	r->magic = 0;
	free(r);
}

bool veer_redis_is_for(const struct veer_redis *r, const struct veer_addr *addr)
{
	return strcmp(r->addr.text, addr->text) == 0;
}

void veer_redis_set_timeout(struct veer_redis *r, veer_ms_t timeout)
{
	r->timeout = timeout;
}

static bool int_elem(const redisReply *rep, size_t i, long long *v)
{
	if (rep->element[i]->type != REDIS_REPLY_INTEGER)
		return false;
	*v = rep->element[i]->integer;
	return true;
}

static void take_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *rep = reply;
	struct veer_redis_wait *w = priv;
	struct veer_redis *r = ac->data;
	struct veer_bucket_result res = { 0 };
	long long ok = 0, left = 0, retry = 0, reset = 0;
	bool good = false;
	veer_redis_cb *cb = w->cb;
	void *arg = w->arg;

	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	if (rep != NULL) {
		if (r->inflight > 0)
			r->inflight--;
		r->t_progress = veer_now_ms();
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 && int_elem(rep, 0, &ok) &&
		    int_elem(rep, 1, &left) && int_elem(rep, 2, &retry) &&
		    int_elem(rep, 3, &reset) && left >= 0 && retry >= 0 && reset >= 0) {
			good = true;
			res.allowed = ok == 1;
			res.remaining = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
			res.retry_after_ms = (uint64_t)retry;
			res.reset_ms = (uint64_t)reset;
		} else if (rep->type == REDIS_REPLY_ERROR) {
			veer_debug("redis %s: %s", r->addr.text, rep->str);
			/* SCRIPT FLUSH (or a failover to a server without
			 * it): load it again for the takes that follow. */
			if (strncmp(rep->str, "NOSCRIPT", 8) == 0 && r->ac != NULL)
				load_script(r);
		}
	}
	w->next = r->spare;
	r->spare = w;
	if (cb == NULL)
		return;
	if (!good)
		count_error(r, VEER_REDIS_FAILED);
	cb(arg, good ? &res : NULL);
}

struct veer_redis_wait *veer_redis_take(struct veer_redis *r, const char *route, const char *key,
					size_t key_len, double rate, uint32_t burst,
					veer_redis_cb *cb, void *arg)
{
	char kbuf[16 + 2 * KEY_MAX], rbuf[32], bbuf[16];
	const char *argv[6];
	size_t argl[6], rlen = strlen(route), klen;
	struct veer_redis_wait *w;
	uint64_t now;

	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	now = veer_now_ms();
	/* Down, stalled (the oldest take is overdue: the next would only
	 * wait behind it) or overloaded: fail now, not after the timeout. */
	if (r->ac == NULL || (r->inflight > 0 && now - r->t_progress > r->timeout) ||
	    r->inflight >= VEER_REDIS_MAX_INFLIGHT) {
		count_error(r, VEER_REDIS_DOWN);
		return NULL;
	}
	if (rlen > KEY_MAX)
		rlen = KEY_MAX;
	memcpy(kbuf, "veer:rl:", 8);
	memcpy(kbuf + 8, route, rlen);
	klen = 8 + rlen;
	kbuf[klen++] = ':';
	if (key_len <= KEY_MAX) {
		memcpy(kbuf + klen, key, key_len);
		klen += key_len;
	} else {
		memcpy(kbuf + klen, "#", 1);
		veer_hex64(kbuf + klen + 1, veer_hash_mix64(veer_hash64(key, key_len)));
		klen += 17;
	}
	argv[0] = "EVALSHA", argl[0] = 7;
	argv[1] = r->sha, argl[1] = 40;
	argv[2] = "1", argl[2] = 1;
	argv[3] = kbuf, argl[3] = klen;
	argl[4] = (size_t)snprintf(rbuf, sizeof(rbuf), "%.17g", rate);
	argv[4] = rbuf;
	argl[5] = (size_t)snprintf(bbuf, sizeof(bbuf), "%u", burst);
	argv[5] = bbuf;

	w = r->spare;
	if (w != NULL) {
		r->spare = w->next;
	} else {
		w = veer_xmalloc(sizeof(*w));
		r->nwaits++;
	}
	w->cb = cb;
	w->arg = arg;
	w->next = NULL;
	if (redisAsyncCommandArgv(r->ac, take_cb, w, 6, argv, argl) != REDIS_OK) {
		w->next = r->spare;
		r->spare = w;
		count_error(r, VEER_REDIS_DOWN);
		return NULL;
	}
	if (r->inflight++ == 0) {
		r->t_progress = now;
		if (r->up)
			arm(r, stall_ms(r));
	}
	return w;
}

void veer_redis_cancel(struct veer_redis *r, struct veer_redis_wait *w, bool timed_out)
{
	VEER_CHECK_MAGIC(r, REDIS_MAGIC);
	w->cb = NULL;
	w->arg = NULL;
	if (timed_out)
		count_error(r, VEER_REDIS_TIMEOUT);
}
