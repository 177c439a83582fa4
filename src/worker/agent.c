/* agent.c: the worker agent. Threads: the main thread registers, then waits for the drain to
 * end; one signal thread turns SIGTERM/SIGINT/SIGQUIT and the drain timeout into drain and stop;
 * one heartbeat thread (and re-registration after the coordinator declared us lost); one
 * dispatcher that long-polls for leases while a slot is idle and queues the tasks; `slots`
 * executor threads that run tasks; one reporter that sends the executors' results (several in
 * one request when they finish together, retrying with backoff while the coordinator is down)
 * and asks for the next tasks in the same round trip. While tasks are short, it also leases
 * ahead: up to one queued task per slot, so an executor starts its next task at once instead of
 * waiting for the round trip.
 *
 * Every wait is bounded by the stop: HTTP calls are abandoned (net/client.c's abandon hook) and
 * retry sleeps cut short when the thread's reason to go on ends, so a worker whose coordinator
 * is down, wrong or silent still stops. What it could not deliver goes to a spool file that its
 * next start delivers; what it ran is recorded so that its next start (or its guard process, at
 * once) kills what is left of it (worker/state.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/token.h"
#include "common/util.h"
#include "net/http.h"
#include "plugin/plugin.h"
#include "worker/agent.h"
#include "worker/browser_pool.h"
#include "worker/classify.h"
#include "worker/exec.h"
#include "worker/hw.h"
#include "worker/junit.h"
#include "worker/slurm.h"
#include "worker/state.h"

#define PROTOCOL 1

extern char **environ;

struct job {
	json_t *task;
	struct job *next;
};

/* A finished task's result waiting for the reporter. */
struct outmsg {
	char task_id[72];
	char *text; /* the result as JSON, with its task_id */
	size_t len;
	bool short_task; /* it ran for less than cfg.ahead_below_s */
	bool from_spool; /* read from the spool file at start */
	struct outmsg *next;
};

/* From the stop (a second SIGTERM/SIGINT or SIGQUIT), results (those of the interrupted tasks
 * too) are delivered for at most this long; what is left then goes to the spool. At the end of
 * the drain timeout, delivery has been going on for the whole drain: it gets DRAIN_DELIVERY_MS
 * more, so the worker exits within the drain timeout plus a second. */
#define STOP_DELIVERY_MS  1000
#define DRAIN_DELIVERY_MS 500
/* The spool is read up to this size. */
#define SPOOL_MAX ((size_t)512 << 20)

/* Results sent in one request: at most this many bytes of them (a larger one goes alone). */
#define BATCH_MAX_BYTES (1u << 20)
/* Tasks shorter than this (the default of --lease-ahead-below) make the reporter lease ahead
 * (one queued task per slot): for them a round trip per task would be a large share of the time;
 * longer ones are leased only for free slots, so no task waits behind another while a worker
 * elsewhere could take it. */
#define AHEAD_TASK_MS 50

/* A task's start is reported only once it has run for STARTED_DELAY_MS: shorter tasks report it
 * with their result, which saves a round trip per task. */
#define STARTED_DELAY_MS 200

struct notice {
	char task_id[64];
	long long attempt;
	int64_t due_ms;
	bool sent;
	struct notice *next;
};

struct slot {
	pthread_t thread;
	atomic_int cancel;	/* set to stop the running task */
	atomic_int interrupted; /* the stop was the second signal */
	char task_id[64];	/* the running task, "" when idle (guarded by a->lock) */
	char spare[4200];	/* an empty directory left by a passed task, renamed into the
				 * next task's (no block freed and allocated per task), or "" */
	atomic_int restart;	/* the coordinator asked to restart the executors */
};

struct agent {
	struct agent_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;	    /* the dispatcher waits here for free slots or a registration */
	pthread_cond_t work;	    /* executors wait here for queued jobs */
	pthread_cond_t outbox_cond; /* the reporter waits here for results */
	pthread_cond_t idle;	    /* the main thread waits here for the drain to end */
	struct outmsg *out_head, **out_tail; /* results waiting for the reporter */
	struct outmsg *in_flight;	     /* the results the reporter is sending */
	bool reporter_stop;
	atomic_int reporter_reconnect; /* executors restarted: the reporter reconnects too */
	struct job *head, *tail;       /* leased tasks waiting for a slot */
	int queued, busy;	       /* queued jobs, running executors */
	char worker_id[72];
	char token[DTF_TOKEN_MAX + 1]; /* opaque, or a JWT when the coordinator has keys */
	int generation;		       /* bumps at each (re)registration and token renewal */
	bool need_register;
	atomic_int draining, stopping, done;
	/* The heartbeat thread's news of the drain: the coordinator has it (announced), or a
	 * heartbeat that carried it failed (drain_unsent). */
	atomic_int drain_announced, drain_unsent;
	double hb_interval;
	json_t *caps;
	struct slot *slots;
	char work_dir_abs[4096];
	struct notice *notices;	      /* tasks whose start is not reported yet (guarded by lock) */
	atomic_int executor_restarts; /* executors restarted at the coordinator's request */
	struct dtf_wstate st;	      /* lock, task records, guard, spool path (worker/state.h) */
	bool named;		      /* started with a worker id: results can wait in the spool */
	int64_t drain_deadline_ms; /* first signal + drain timeout; 0 when none (guarded by lock) */
	atomic_llong stop_ms;	   /* when the stop began; 0 before */
	atomic_llong give_up_ms;   /* when delivery is given up; 0 while it is not bounded */
	int spooled_left;	   /* results read from the spool and not answered yet (lock) */
};

/* Wakes every thread waiting on the agent's state (registration, restart, drain, stop). Called
 * with a->lock held. */
static void wake_all(struct agent *a)
{
	pthread_cond_broadcast(&a->cond);
	pthread_cond_broadcast(&a->work);
	pthread_cond_broadcast(&a->idle);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* When a thread's calls and retry sleeps are cut short: QUIT_DRAIN at the first signal (the
 * dispatcher, the first registration), QUIT_STOP at the stop (heartbeats, start notices),
 * QUIT_GIVE_UP when delivery is given up, and at the stop for a call begun before it (the
 * reporter: it then retries with what is left before it gives up as its timeout). */
enum quit_when { QUIT_DRAIN, QUIT_STOP, QUIT_GIVE_UP };

/* A client for this thread, rebuilt when the worker's token changes. */
struct conn {
	struct dtf_http_client http;
	int generation;
	bool ready;
	struct agent *a;
	enum quit_when quit;
	int64_t call_ms; /* when the current call or sleep began */
};

/* True once delivery is given up (the stop plus STOP_DELIVERY_MS, or the drain's bound). */
static bool giving_up(struct agent *a)
{
	int64_t g = atomic_load(&a->give_up_ms);

	return g > 0 && dtf_mono_ms() >= g;
}

static bool conn_quit(struct conn *cn)
{
	struct agent *a = cn->a;
	int64_t stop;

	switch (cn->quit) {
	case QUIT_DRAIN:
		return atomic_load(&a->draining) || atomic_load(&a->stopping);
	case QUIT_STOP:
		return atomic_load(&a->stopping) || atomic_load(&a->done);
	case QUIT_GIVE_UP:
		stop = atomic_load(&a->stop_ms);
		return giving_up(a) || (stop > 0 && cn->call_ms < stop);
	}
	return false;
}

static bool abandon_call(void *arg)
{
	return conn_quit(arg);
}

/* Sleeps up to ms, less when the thread's reason to go on ends. */
static void nap(struct conn *cn, long ms)
{
	cn->call_ms = dtf_mono_ms();
	for (long t = 0; t < ms && !conn_quit(cn); t += 20)
		sleep_ms(ms - t < 20 ? ms - t : 20);
}

/* The next retry delay: doubled, up to 2 s; up to 0.5 s with several coordinators, where the
 * failure is most likely a takeover that ends within a second or two (docs/deploy-postgres.md). */
static long next_backoff(long backoff, const struct dtf_http_client *http)
{
	long cap = http->nurls > 1 ? 500 : 2000;

	return backoff * 2 > cap ? cap : backoff * 2;
}

/* A call's timeout: ms, or less when delivery is to be given up sooner (at least 50 ms). */
static long call_timeout(struct agent *a, long ms)
{
	int64_t g = atomic_load(&a->give_up_ms), left;

	if (g <= 0)
		return ms;
	left = g - dtf_mono_ms();
	if (left < 50)
		left = 50;
	return left < ms ? (long)left : ms;
}

static int conn_get(struct agent *a, struct conn *cn)
{
	char hdr[DTF_TOKEN_MAX + 64];
	int gen;

	pthread_mutex_lock(&a->lock);
	gen = a->generation;
	snprintf(hdr, sizeof(hdr), "X-DTF-Worker-Token: %s", a->token);
	pthread_mutex_unlock(&a->lock);
	if (cn->ready && cn->generation == gen)
		return 0;
	if (cn->ready)
		dtf_http_client_release(&cn->http);
	cn->ready = false;
	if (dtf_http_client_init(&cn->http, a->cfg.coordinator, a->cfg.api_key) != 0)
		return DTF_EINVAL;
	dtf_http_client_header(&cn->http, "X-DTF-Protocol: 1");
	dtf_http_client_header(&cn->http, hdr);
	cn->http.abandon = abandon_call;
	cn->http.abandon_arg = cn;
	cn->generation = gen;
	cn->ready = true;
	return 0;
}

static void conn_release(struct conn *cn)
{
	if (cn->ready)
		dtf_http_client_release(&cn->http);
	cn->ready = false;
}

json_t *agent_capabilities(const struct agent_config *cfg)
{
	json_t *caps = dtf_hw_detect();
	json_t *hw = json_object_get(caps, "hardware");
	size_t i;
	json_t *e;
	const char *env = getenv("DTF_CAPABILITIES");

	json_array_foreach(cfg->extra_hardware, i, e)
		json_array_append(hw, e);
	dtf_plugins_detect_resources(cfg->plugins, caps);
	dtf_bpool_add_capabilities(cfg->browsers, caps);
	/* Overrides (--capabilities, DTF_CAPABILITIES) still win over the job's allocation. */
	if (cfg->slurm && dtf_slurm_job_capabilities(caps) == DTF_ENOMEM)
		log_warn("out of memory narrowing the capabilities to the Slurm job's");
	/* A container's limits (dtf k8s manifest) are not what the node's /proc tells. */
	if (cfg->cpus > 0 && json_is_object(json_object_get(caps, "cpu")))
		json_object_set_new(json_object_get(caps, "cpu"), "cores",
				    cfg->cpus == (double)(long long)cfg->cpus
					? json_integer((json_int_t)cfg->cpus)
					: json_real(cfg->cpus));
	if (cfg->memory > 0)
		json_object_set_new(caps, "memory", json_integer(cfg->memory));
	if (json_is_object(cfg->capabilities))
		json_object_update(caps, cfg->capabilities);
	if (env && *env) {
		char err[128];
		json_t *o = dtf_json_parse(env, strlen(env), err, sizeof(err));
		if (json_is_object(o))
			json_object_update(caps, o);
		else
			log_warn("DTF_CAPABILITIES is not a JSON object (%s); ignored", err);
		json_decref(o);
	}
	return caps;
}

static json_t *running_ids(struct agent *a)
{
	json_t *ids = json_array();
	int i;

	struct job *j;
	struct outmsg *o;

	for (i = 0; i < a->cfg.slots; i++)
		if (a->slots[i].task_id[0])
			json_array_append_new(ids, json_string(a->slots[i].task_id));
	for (j = a->head; j; j = j->next)
		json_array_append_new(ids, json_string(dtf_json_str(j->task, "id", "")));
	/* Finished, with the result not delivered yet: still ours. */
	for (o = a->out_head; o; o = o->next)
		json_array_append_new(ids, json_string(o->task_id));
	for (o = a->in_flight; o; o = o->next)
		json_array_append_new(ids, json_string(o->task_id));
	return ids;
}

/* Keeps the worker's current token in its state directory (state.h): what a worker started
 * again after a crash registers with. Not under a->lock (the file is synced). */
static void keep_token(struct agent *a, const char *token)
{
	if (a->named && token && *token)
		dtf_wstate_token_save(&a->st, token);
}

/* Registers (again); retries with backoff until it works or the thread's reason to go on ends
 * (cn->quit): then DTF_ENET. */
static int do_register(struct agent *a, struct conn *cn)
{
	long backoff = 100;
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	while (!conn_quit(cn)) {
		json_t *body, *resp = NULL;
		int rc;
		if (conn_get(a, cn)) {
			log_error("bad coordinator URL '%s'", a->cfg.coordinator);
			return DTF_EINVAL;
		}
		pthread_mutex_lock(&a->lock);
		body = json_pack("{s:i,s:s,s:O,s:i,s:o}", "protocol", PROTOCOL, "hostname", host,
				 "capabilities", a->caps, "slots", a->cfg.slots, "running",
				 running_ids(a));
		if (a->worker_id[0])
			json_object_set_new(body, "worker_id", json_string(a->worker_id));
		pthread_mutex_unlock(&a->lock);
		if (dtf_plugins_task_types(a->cfg.plugins)[0] || a->cfg.browsers) {
			/* The built-in types plus the plugins' own (and the browser pool's). */
			json_t *types =
			    json_pack("[s,s,s,s]", "command", "test", "shell", "benchmark");
			if (a->cfg.browsers)
				json_array_append_new(types, json_string("browser"));
			for (const char *const *t = dtf_plugins_task_types(a->cfg.plugins); *t;
			     t++) {
				size_t k;
				json_t *x;
				bool dup = false;
				json_array_foreach(types, k, x)
					if (strcmp(json_string_value(x), *t) == 0)
						dup = true;
				if (!dup)
					json_array_append_new(types, json_string(*t));
			}
			json_object_set_new(body, "task_types", types);
		}
		if (a->cfg.labels)
			json_object_set(body, "labels", a->cfg.labels);
		cn->call_ms = dtf_mono_ms();
		rc = dtf_http_call(&cn->http, "POST", "/api/v1/workers/register", body, 10000,
				   &resp);
		json_decref(body);
		if (rc == 0) {
			pthread_mutex_lock(&a->lock);
			snprintf(a->worker_id, sizeof(a->worker_id), "%s",
				 dtf_json_str(resp, "worker_id", a->worker_id));
			snprintf(a->token, sizeof(a->token), "%s", dtf_json_str(resp, "token", ""));
			a->hb_interval = dtf_json_num(resp, "heartbeat_interval_s", 2);
			a->generation++;
			a->need_register = false;
			wake_all(a);
			pthread_mutex_unlock(&a->lock);
			keep_token(a, dtf_json_str(resp, "token", ""));
			json_decref(resp);
			log_info("registered as %s with %s (%d slots)", a->worker_id,
				 a->cfg.coordinator, a->cfg.slots);
			return 0;
		}
		if (rc == DTF_EAUTH || cn->http.status == 403 || cn->http.status == 400) {
			log_error("registration refused: %s", cn->http.error);
			return rc ? rc : DTF_EAUTH;
		}
		if (conn_quit(cn))
			break;
		log_warn("cannot register yet (%s); retrying", cn->http.error);
		nap(cn, backoff);
		backoff = next_backoff(backoff, &cn->http);
	}
	return DTF_ENET;
}

static void request_register(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->need_register = true;
	wake_all(a);
	pthread_mutex_unlock(&a->lock);
}

static void apply_cancel(struct agent *a, json_t *cancel)
{
	size_t i;
	json_t *e;
	int s;

	pthread_mutex_lock(&a->lock);
	json_array_foreach(cancel, i, e) {
		const char *id = json_string_value(e);
		struct job **pp;
		if (!id)
			continue;
		for (s = 0; s < a->cfg.slots; s++)
			if (strcmp(a->slots[s].task_id, id) == 0) {
				log_info("cancelling task %s", id);
				atomic_store(&a->slots[s].cancel, 1);
			}
		for (pp = &a->head; *pp;) {
			if (strcmp(dtf_json_str((*pp)->task, "id", ""), id) == 0) {
				struct job *j = *pp;
				*pp = j->next;
				json_decref(j->task);
				free(j);
				a->queued--;
			} else {
				pp = &(*pp)->next;
			}
		}
		a->tail = NULL;
		for (struct job *j = a->head; j; j = j->next)
			a->tail = j;
	}
	pthread_mutex_unlock(&a->lock);
}

/* A reply that says restart_executor: every executor restarts before its next task (at once
 * when idle). */
static void apply_restart(struct agent *a, json_t *resp)
{
	int s;

	if (!json_is_true(json_object_get(resp, "restart_executor")))
		return;
	log_warn("the coordinator asked to restart the executors");
	pthread_mutex_lock(&a->lock);
	for (s = 0; s < a->cfg.slots; s++)
		atomic_store(&a->slots[s].restart, 1);
	atomic_store(&a->reporter_reconnect, 1);
	wake_all(a);
	pthread_mutex_unlock(&a->lock);
}

/* What this machine has free right now: available memory (MiB) and the load average. */
static json_t *live_resources(void)
{
	json_t *o = json_object();
	char *text = NULL, *p;
	size_t len;
	double load[3];

	if (dtf_read_file("/proc/meminfo", 1 << 16, &text, &len) == 0) {
		p = strstr(text, "MemAvailable:");
		if (p)
			json_object_set_new(o, "memory_available",
					    json_integer(strtoll(p + 13, NULL, 10) / 1024));
		free(text);
	}
	if (getloadavg(load, 3) == 3)
		json_object_set_new(o, "load1", json_real(load[0]));
	return o;
}

static void *heartbeat_main(void *arg)
{
	struct agent *a = arg;
	struct conn cn = {.a = a, .quit = QUIT_STOP};
	bool sent_drain = false;
	int drain_in_body;

	while (!a->done) {
		json_t *body, *resp = NULL, *gpus;
		int rc;
		char path[160];
		long wait_ms;

		if (atomic_load(&a->stopping)) {
			/* Nothing more to announce: the worker is about to end. */
			sleep_ms(20);
			continue;
		}
		pthread_mutex_lock(&a->lock);
		if (a->need_register) {
			pthread_mutex_unlock(&a->lock);
			if (do_register(a, &cn) != 0)
				nap(&cn, 1000);
			continue;
		}
		drain_in_body = atomic_load(&a->draining);
		body = json_pack("{s:i,s:b,s:o,s:o,s:i}", "protocol", PROTOCOL, "draining",
				 drain_in_body, "running", running_ids(a), "resources",
				 live_resources(), "executor_restarts",
				 (int)atomic_load(&a->executor_restarts));
		if (a->cfg.browsers)
			json_object_set_new(body, "browsers", dtf_bpool_status(a->cfg.browsers));
		snprintf(path, sizeof(path), "/api/v1/workers/%s/heartbeat", a->worker_id);
		wait_ms = (long)(a->hb_interval * 1000);
		pthread_mutex_unlock(&a->lock);
		/* Free memory and utilization per GPU: the coordinator matches gpu_memory against
		 * what is really free (docs/gpu.md). Read outside the lock: NVML may take a while.
		 */
		gpus = dtf_hw_gpu_live(json_object_get(a->caps, "gpus"));
		if (gpus)
			json_object_set_new(body, "gpus", gpus);
		if (conn_get(a, &cn) == 0) {
			cn.call_ms = dtf_mono_ms();
			/* Sooner with several coordinators: a leader that answers nobody (paused)
			 * is left for the next one, and every call of the worker follows. */
			rc = dtf_http_call(&cn.http, "POST", path, body,
					   cn.http.nurls > 1 ? 2000 : 5000, &resp);
			if (rc == 0) {
				const char *tok = dtf_json_str(resp, "token", NULL);
				if (tok && strlen(tok) < sizeof(a->token)) {
					/* A renewed token (a JWT nearing its expiry): every
					 * connection sends it from its next call on. */
					pthread_mutex_lock(&a->lock);
					snprintf(a->token, sizeof(a->token), "%s", tok);
					a->generation++;
					pthread_mutex_unlock(&a->lock);
					keep_token(a, tok);
					log_debug("worker token renewed");
				}
				apply_cancel(a, json_object_get(resp, "cancel"));
				apply_restart(a, resp);
				if (drain_in_body) {
					sent_drain = true;
					atomic_store(&a->drain_announced, 1);
				}
			} else if (rc == DTF_ESTALE || rc == DTF_ENOTFOUND ||
				   (rc == DTF_EAUTH &&
				    strcmp(cn.http.error_code, "bad_worker_token") == 0)) {
				log_warn("coordinator: %s; registering again", cn.http.error);
				request_register(a);
			} else {
				log_debug("heartbeat failed: %s", cn.http.error);
			}
			if (rc != 0 && drain_in_body)
				atomic_store(&a->drain_unsent, 1);
			json_decref(resp);
		}
		json_decref(body);
		/* Sleep in small steps so a drain is announced at once. */
		for (long t = 0; t < wait_ms && !a->done && !a->stopping; t += 50) {
			if (atomic_load(&a->draining) && !sent_drain)
				break;
			pthread_mutex_lock(&a->lock);
			if (a->need_register) {
				pthread_mutex_unlock(&a->lock);
				break;
			}
			pthread_mutex_unlock(&a->lock);
			sleep_ms(50);
		}
	}
	conn_release(&cn);
	return NULL;
}

/* Queues the tasks of a lease reply (and applies its cancellations). */
static void enqueue(struct agent *a, json_t *resp)
{
	json_t *tasks = json_object_get(resp, "tasks"), *e;
	size_t i;

	apply_cancel(a, json_object_get(resp, "cancel"));
	apply_restart(a, resp);
	if (!json_array_size(tasks))
		return;
	pthread_mutex_lock(&a->lock);
	json_array_foreach(tasks, i, e) {
		struct job *j = calloc(1, sizeof(*j));
		if (!j)
			continue;
		j->task = json_incref(e);
		if (a->tail)
			a->tail->next = j;
		else
			a->head = j;
		a->tail = j;
		a->queued++;
	}
	/* More queued jobs only keep the dispatcher waiting: just the executors are told. */
	if (json_array_size(tasks) > 1)
		pthread_cond_broadcast(&a->work);
	else
		pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
}

static void *notifier_main(void *arg)
{
	struct agent *a = arg;
	struct conn cn = {.a = a, .quit = QUIT_STOP};

	while (!a->done) {
		struct notice *n;
		char task_id[64] = "", path[160];
		long long attempt = 0;
		int64_t now = dtf_mono_ms();

		pthread_mutex_lock(&a->lock);
		for (n = a->notices; n; n = n->next) {
			if (!n->sent && n->due_ms <= now) {
				n->sent = true;
				snprintf(task_id, sizeof(task_id), "%s", n->task_id);
				attempt = n->attempt;
				break;
			}
		}
		pthread_mutex_unlock(&a->lock);
		if (!task_id[0] || atomic_load(&a->stopping)) {
			sleep_ms(20);
			continue;
		}
		if (conn_get(a, &cn) == 0) {
			json_t *body = json_pack("{s:i,s:s,s:I}", "protocol", PROTOCOL, "worker_id",
						 a->worker_id, "attempt", (json_int_t)attempt);
			snprintf(path, sizeof(path), "/api/v1/tasks/%s/started", task_id);
			cn.call_ms = dtf_mono_ms();
			if (dtf_http_call(&cn.http, "POST", path, body, 10000, NULL) != 0)
				log_debug("start of %s not reported: %s", task_id, cn.http.error);
			json_decref(body);
		}
	}
	conn_release(&cn);
	return NULL;
}

static void *dispatcher_main(void *arg)
{
	struct agent *a = arg;
	struct conn cn = {.a = a, .quit = QUIT_DRAIN};
	long backoff = 100;

	while (!a->stopping && !a->draining) {
		json_t *body, *resp = NULL;
		char path[160];
		int rc, free_slots;

		pthread_mutex_lock(&a->lock);
		while (!a->stopping && !a->draining &&
		       (a->need_register || a->queued + a->busy >= a->cfg.slots))
			pthread_cond_wait(&a->cond, &a->lock);
		free_slots = a->cfg.slots - a->queued - a->busy;
		snprintf(path, sizeof(path), "/api/v1/workers/%s/lease", a->worker_id);
		pthread_mutex_unlock(&a->lock);
		if (a->stopping || a->draining)
			break;
		if (conn_get(a, &cn))
			break;
		body = json_pack("{s:i,s:i,s:f}", "protocol", PROTOCOL, "max", free_slots, "wait_s",
				 a->cfg.lease_wait_s);
		cn.call_ms = dtf_mono_ms();
		rc = dtf_http_call(&cn.http, "POST", path, body,
				   (long)(a->cfg.lease_wait_s * 1000) + 15000, &resp);
		json_decref(body);
		if (rc == DTF_ESTALE || rc == DTF_ENOTFOUND) {
			log_warn("coordinator: %s; registering again", cn.http.error);
			request_register(a);
			continue;
		}
		if (rc) {
			log_debug("lease failed: %s", cn.http.error);
			nap(&cn, backoff);
			backoff = next_backoff(backoff, &cn.http);
			continue;
		}
		backoff = 100;
		enqueue(a, resp);
		json_decref(resp);
	}
	conn_release(&cn);
	return NULL;
}

/* Sends a message (JSON text) until the coordinator answers (held while it is down) or delivery
 * is given up (*gave_up set). Returns 0, or DTF_ESTALE/DTF_ENOTFOUND/DTF_EPROTO when the
 * coordinator refused it. */
static int send_until_answered(struct agent *a, struct conn *cn, const char *path, const char *text,
			       size_t len, json_t **resp, bool *gave_up)
{
	long backoff = 100;

	*gave_up = false;
	for (;;) {
		int rc;
		if (giving_up(a)) {
			*gave_up = true;
			return DTF_ENET;
		}
		if (conn_get(a, cn))
			return DTF_EINVAL;
		cn->call_ms = dtf_mono_ms();
		rc = dtf_http_call_raw(&cn->http, "POST", path, text, len, call_timeout(a, 30000),
				       resp);
		if (rc == 0)
			return 0;
		/* Not an answer about the message: a coordinator that could not commit it (503:
		 * its database is unreachable, or it stopped leading), or a standby (3xx) when no
		 * coordinator of the list leads yet. Held and sent again, as when none answers. */
		if (rc == DTF_EPROTO &&
		    (cn->http.status == 503 || cn->http.status == 502 || cn->http.status == 504 ||
		     (cn->http.status >= 300 && cn->http.status < 400))) {
			log_warn("%s: %s; holding the message, retrying", path, cn->http.error);
			nap(cn, backoff);
			backoff = next_backoff(backoff, &cn->http);
			continue;
		}
		if (rc == DTF_ESTALE || rc == DTF_ENOTFOUND || rc == DTF_EPROTO) {
			if (strcmp(cn->http.error_code, "worker_lost") == 0)
				request_register(a);
			log_warn("%s refused: %s", path, cn->http.error);
			return rc;
		}
		if (rc == DTF_EAUTH && strcmp(cn->http.error_code, "bad_worker_token") == 0) {
			/* We registered again meanwhile: resend with the new token. */
			nap(cn, 100);
			continue;
		}
		if (giving_up(a))
			continue;
		if (rc == DTF_ENET && atomic_load(&a->stop_ms) > 0 &&
		    cn->call_ms >= atomic_load(&a->stop_ms)) {
			/* Stopping, and the coordinator cannot be reached (not merely slow): no
			 * point in waiting for the rest of STOP_DELIVERY_MS. */
			log_warn("cannot reach the coordinator (%s) while stopping; giving up "
				 "delivery",
				 cn->http.error);
			*gave_up = true;
			return DTF_ENET;
		}
		log_warn("cannot reach the coordinator (%s); holding the message, retrying",
			 cn->http.error);
		nap(cn, backoff);
		backoff = next_backoff(backoff, &cn->http);
	}
}

/* A new outbox entry for msg (a result with its task_id), or NULL without memory (logged). */
static struct outmsg *outmsg_new(json_t *msg)
{
	struct outmsg *om = calloc(1, sizeof(*om));

	if (om) {
		snprintf(om->task_id, sizeof(om->task_id), "%s", dtf_json_str(msg, "task_id", ""));
		om->text = dtf_json_dumps(msg);
		if (om->text)
			om->len = strlen(om->text);
	}
	if (om && !om->text) {
		free(om);
		om = NULL;
	}
	if (!om)
		log_error("out of memory: a result could not be kept");
	return om;
}

/* Appends om to the outbox. Called with a->lock held. */
static void outbox_push(struct agent *a, struct outmsg *om)
{
	*a->out_tail = om;
	a->out_tail = &om->next;
}

/* True when the outbox holds a result for task_id. Called with a->lock held. */
static bool outbox_has(struct agent *a, const char *task_id)
{
	for (struct outmsg *o = a->out_head; o; o = o->next)
		if (strcmp(o->task_id, task_id) == 0)
			return true;
	return false;
}

/* Queues a finished task's result for the reporter (msg is consumed) and frees the slot, in one
 * step, so the reporter counts the slot free when it asks for the next tasks. */
static void report_result(struct agent *a, struct slot *sl, json_t *msg, double duration_s)
{
	struct outmsg *om = outmsg_new(msg);

	json_decref(msg);
	if (om)
		om->short_task = duration_s < a->cfg.ahead_below_s;
	pthread_mutex_lock(&a->lock);
	if (om) {
		outbox_push(a, om);
		pthread_cond_signal(&a->outbox_cond);
	}
	sl->task_id[0] = '\0';
	a->busy--;
	if (!om || a->draining || a->stopping)
		wake_all(a);
	pthread_mutex_unlock(&a->lock);
}

/* Logs the results the coordinator refused (a stale attempt, a task no longer ours). */
static void log_refused(json_t *resp)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(resp, "results"), i, e) {
		if (!json_is_true(json_object_get(e, "accepted")))
			log_warn("result of %s refused: %s", dtf_json_str(e, "task_id", "?"),
				 dtf_json_str(e, "reason", "no reason given"));
	}
}

/* Takes the results waiting in the outbox, up to BATCH_MAX_BYTES (at least one); says how many
 * and whether they were all short. Called with a->lock held and the outbox not empty. */
static struct outmsg *take_batch(struct agent *a, int *n, bool *all_short)
{
	struct outmsg *batch = a->out_head, *last = NULL, *o;
	size_t bytes = 0;

	*n = 0;
	*all_short = true;
	for (o = batch; o; o = o->next) {
		if (*n && bytes + o->len > BATCH_MAX_BYTES)
			break;
		bytes += o->len;
		*all_short = *all_short && o->short_task;
		(*n)++;
		last = o;
	}
	a->out_head = last->next;
	last->next = NULL;
	if (!a->out_head)
		a->out_tail = &a->out_head;
	return batch;
}

/* Counts the answered results that came from the spool; once all are, the file goes. Called
 * with a->lock held. */
static void spool_answered(struct agent *a, struct outmsg *batch)
{
	int n = 0;

	for (struct outmsg *o = batch; o; o = o->next)
		n += o->from_spool;
	if (!n || a->spooled_left <= 0)
		return;
	a->spooled_left -= n;
	if (a->spooled_left <= 0 && unlink(a->st.spool_path) == 0)
		log_info("the results of the spool are delivered; %s removed", a->st.spool_path);
}

static void *reporter_main(void *arg)
{
	struct agent *a = arg;
	struct conn cn = {.a = a, .quit = QUIT_GIVE_UP};
	struct dtf_buf body;

	dtf_buf_init(&body, DTF_HTTP_MAX_BODY);
	for (;;) {
		struct outmsg *batch, *o, *next;
		char path[160], head[128];
		int n, max, ahead, held, want, rc;
		bool all_short, gave_up = false;
		json_t *resp = NULL;

		pthread_mutex_lock(&a->lock);
		while (!a->out_head && !a->reporter_stop)
			pthread_cond_wait(&a->outbox_cond, &a->lock);
		if (!a->out_head || giving_up(a)) {
			/* What is left stays in the outbox for the spool. */
			pthread_mutex_unlock(&a->lock);
			break;
		}
		batch = take_batch(a, &n, &all_short);
		a->in_flight = batch;
		/* Ask for the free slots' next tasks; while tasks are short, for one more per slot
		 * to queue (the coordinator gives those only when no other worker waits). */
		held = a->busy + a->queued;
		max = a->cfg.slots - held > 0 ? a->cfg.slots - held : 0;
		want = (all_short ? 2 * a->cfg.slots : a->cfg.slots) - held;
		ahead = want > max ? want - max : 0;
		if (a->draining || a->stopping || a->need_register)
			max = ahead = 0;
		snprintf(path, sizeof(path), "/api/v1/workers/%s/lease", a->worker_id);
		pthread_mutex_unlock(&a->lock);

		dtf_buf_reset(&body);
		snprintf(head, sizeof(head),
			 "{\"protocol\":%d,\"max\":%d,\"ahead\":%d,\"wait_s\":0,\"results\":[",
			 PROTOCOL, max, ahead);
		rc = dtf_buf_add(&body, head, strlen(head));
		for (o = batch; o && rc == 0; o = o->next) {
			if (o != batch)
				rc = dtf_buf_add(&body, ",", 1);
			if (rc == 0)
				rc = dtf_buf_add(&body, o->text, o->len);
		}
		if (rc == 0)
			rc = dtf_buf_add(&body, "]}", 2);
		if (atomic_exchange(&a->reporter_reconnect, 0))
			conn_release(&cn);
		if (rc)
			log_error("out of memory: %d results could not be sent", n);
		else
			rc =
			    send_until_answered(a, &cn, path, body.data, body.len, &resp, &gave_up);
		if (gave_up) {
			/* Back to the head of the outbox, in order, for the spool. */
			pthread_mutex_lock(&a->lock);
			for (o = batch; o->next; o = o->next)
				;
			o->next = a->out_head;
			if (!a->out_head)
				a->out_tail = &o->next;
			a->out_head = batch;
			a->in_flight = NULL;
			pthread_mutex_unlock(&a->lock);
			break;
		}
		if (rc == 0) {
			log_refused(resp);
			enqueue(a, resp);
		} else if (rc == DTF_ESTALE || rc == DTF_ENOTFOUND || rc == DTF_EPROTO) {
			/* Refused as a whole (e.g. this worker was declared lost meanwhile). */
			for (o = batch; o; o = o->next)
				log_warn("result of %s refused: %s", o->task_id, cn.http.error);
		}
		json_decref(resp);
		pthread_mutex_lock(&a->lock);
		a->in_flight = NULL;
		if (rc == 0 || rc == DTF_ESTALE || rc == DTF_ENOTFOUND || rc == DTF_EPROTO)
			spool_answered(a, batch);
		/* A slot left with nothing to do: the dispatcher long-polls for it (the reporter
		 * asks again only with the next result). */
		if (!a->out_head && a->queued + a->busy < a->cfg.slots)
			pthread_cond_signal(&a->cond);
		pthread_mutex_unlock(&a->lock);
		for (o = batch; o; o = next) {
			next = o->next;
			free(o->text);
			free(o);
		}
	}
	dtf_buf_release(&body);
	conn_release(&cn);
	return NULL;
}

/* The worker's own secrets, which its tasks do not inherit: test code is not trusted with the
 * worker's key, and a crashing test's core dump or a test that prints its environment would
 * show it. A task that needs one sets it in its own "env". */
static bool secret_var(const char *kv, size_t n)
{
	static const char *const names[] = {
	    "DTF_API_KEY",    "DTF_API_KEYS",	    "DTF_TOKEN", "DTF_WORKER_TOKEN",
	    "DTF_ENROLL_KEY", "DTF_ENROLLMENT_KEY", NULL};

	for (const char *const *p = names; *p; p++)
		if (strlen(*p) == n && memcmp(kv, *p, n) == 0)
			return true;
	return false;
}

/* The variables dtf sets for a task it gave GPUs to, which neither the worker's environment nor
 * the task's own env may override (a task that picked its own GPU could share another's). */
static bool gpu_var(const char *kv, size_t n)
{
	static const char *const names[] = {"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "DTF_GPUS",
					    NULL};

	for (const char *const *p = names; *p; p++)
		if (strlen(*p) == n && memcmp(kv, *p, n) == 0)
			return true;
	return false;
}

/* The values of CUDA_VISIBLE_DEVICES and DTF_GPUS for the GPUs the coordinator gave the task
 * (its "assigned_gpus": NVML indices of this worker's GPUs): their UUIDs, which name a GPU
 * whatever order CUDA enumerates in, and the indices. False when it was given none. */
static bool gpu_env(const json_t *task, const json_t *caps, char *visible, size_t vlen,
		    char *indices, size_t ilen)
{
	const json_t *assigned = json_object_get(task, "assigned_gpus"), *e, *g;
	size_t i, j, vn = 0, in = 0;

	if (json_array_size(assigned) == 0)
		return false;
	visible[0] = indices[0] = '\0';
	json_array_foreach(assigned, i, e) {
		json_int_t index = json_integer_value(e);
		const char *uuid = NULL;

		json_array_foreach(json_object_get(caps, "gpus"), j, g)
			if (json_integer_value(json_object_get(g, "index")) == index)
				uuid = json_string_value(json_object_get(g, "uuid"));
		if (uuid && *uuid)
			vn += (size_t)snprintf(visible + vn, vn < vlen ? vlen - vn : 0, "%s%s",
					       i ? "," : "", uuid);
		else
			vn += (size_t)snprintf(visible + vn, vn < vlen ? vlen - vn : 0, "%s%lld",
					       i ? "," : "", (long long)index);
		in += (size_t)snprintf(indices + in, in < ilen ? ilen - in : 0, "%s%lld",
				       i ? "," : "", (long long)index);
	}
	return vn < vlen && in < ilen;
}

static char **build_env(json_t *task, const json_t *caps, const char *workdir,
			const char *worker_id)
{
	size_t n = 0, i = 0;
	char **env;
	json_t *tenv = json_object_get(task, "env"), *v;
	const char *k;
	char visible[DTF_HW_MAX_GPUS * 48], indices[DTF_HW_MAX_GPUS * 4];
	bool gpus = gpu_env(task, caps, visible, sizeof(visible), indices, sizeof(indices));

	while (environ[n])
		n++;
	env = calloc(n + json_object_size(tenv) + 12, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		const char *eq = strchr(environ[j], '=');
		if (eq && json_object_getn(tenv, environ[j], (size_t)(eq - environ[j])))
			continue;
		if (eq && secret_var(environ[j], (size_t)(eq - environ[j])))
			continue;
		if (eq && gpus && gpu_var(environ[j], (size_t)(eq - environ[j])))
			continue;
		env[i++] = strdup(environ[j]);
	}
	json_object_foreach(tenv, k, v) {
		char *s = NULL;
		if (gpus && gpu_var(k, strlen(k)))
			continue;
		if (asprintf(&s, "%s=%s", k, json_string_value(v)) > 0)
			env[i++] = s;
	}
#define SETENV(name, val)                                                                          \
	do {                                                                                       \
		char *s_ = NULL;                                                                   \
		if (asprintf(&s_, "%s=%s", name, val) > 0)                                         \
			env[i++] = s_;                                                             \
	} while (0)
	SETENV("DTF_TASK_ID", dtf_json_str(task, "id", ""));
	SETENV("DTF_RUN_ID", dtf_json_str(task, "run_id", ""));
	SETENV("DTF_WORK_DIR", workdir);
	SETENV("DTF_WORKER_ID", worker_id);
	{
		char at[16];
		snprintf(at, sizeof(at), "%lld", dtf_json_int(task, "attempt", 1));
		SETENV("DTF_ATTEMPT", at);
	}
	if (json_is_string(json_object_get(task, "batch_id")))
		SETENV("DTF_BATCH_ID", dtf_json_str(task, "batch_id", ""));
	if (gpus) {
		/* PCI bus order, so that the task's own CUDA indices agree with NVML's (and with
		 * DTF_GPUS) should it narrow the list further. */
		SETENV("CUDA_VISIBLE_DEVICES", visible);
		SETENV("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
		SETENV("DTF_GPUS", indices);
	}
#undef SETENV
	env[i] = NULL;
	return env;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Reads metrics from a benchmark's output: the last line of stdout that is a JSON object. */
static json_t *metrics_from(const char *out)
{
	const char *end = out + strlen(out), *line;

	while (end > out) {
		const char *e = end;
		while (e > out && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
			e--;
		line = e;
		while (line > out && line[-1] != '\n')
			line--;
		if (e > line && *line == '{') {
			char err[64];
			json_t *m = dtf_json_parse(line, (size_t)(e - line), err, sizeof(err));
			if (json_is_object(m))
				return m;
			json_decref(m);
		}
		end = line;
		if (end > out)
			end--;
		else
			break;
	}
	return NULL;
}

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

/* Retires a passed task's directory: an empty one is kept as the slot's spare (renamed into
 * the next task's directory), anything else is removed. */
static void retire_workdir(struct agent *a, struct slot *sl, const char *dir)
{
	if (!sl->spare[0] && dir_is_empty(dir)) {
		snprintf(sl->spare, sizeof(sl->spare), "%s/.spare-%d", a->cfg.work_dir,
			 (int)(sl - a->slots));
		if (rename(dir, sl->spare) == 0)
			return;
		sl->spare[0] = '\0';
	}
	dtf_rmtree(dir);
}

/* Makes a new, empty task directory, from the slot's spare when it has one. Returns 0 or the
 * errno of the failure. DTF_WORKER_FAULT_WORKDIR=enospc in the worker's environment makes it fail
 * with ENOSPC (a fault-injection hook for tests where no small file system can be mounted). */
static int make_workdir(struct slot *sl, const char *dir)
{
	const char *fault = getenv("DTF_WORKER_FAULT_WORKDIR");
	struct stat sb;

	if (fault && strcmp(fault, "enospc") == 0)
		return ENOSPC;
	if (sl->spare[0]) {
		bool ok = rename(sl->spare, dir) == 0;
		sl->spare[0] = '\0';
		if (ok)
			return 0;
	}
	if (mkdir(dir, 0755) != 0) {
		int e = errno;
		/* A leftover directory of the same attempt is replaced. */
		if (e != EEXIST)
			return e;
		dtf_rmtree(dir);
		if (dtf_mkdirs(dir, 0755) != 0)
			return errno ? errno : EIO;
	}
	return stat(dir, &sb) == 0 ? 0 : errno;
}

/* True if the file system holding dir has no block (or no inode) left for unprivileged use. */
static bool disk_full(const char *dir)
{
	struct statvfs sv;

	return statvfs(dir, &sv) == 0 && (sv.f_bavail == 0 || (sv.f_files && sv.f_favail == 0));
}

/* A result for an attempt the worker could not start: error.kind infrastructure. */
static json_t *infrastructure_result(struct agent *a, json_t *task, const char *reason, int err,
				     const char *message)
{
	json_t *msg = json_pack("{s:i,s:s,s:I,s:s,s:{s:i,s:i,s:f,s:s,s:s,s:s},s:{s:s,s:s,s:s}}",
				"protocol", PROTOCOL, "worker_id", a->worker_id, "attempt",
				(json_int_t)dtf_json_int(task, "attempt", 1), "outcome", "failed",
				"result", "exit_code", -1, "signal", 0, "duration_s", 0.0, "stdout",
				"", "stderr", message, "worker_id", a->worker_id, "error", "kind",
				"infrastructure", "reason", reason, "message", message);

	if (err)
		json_object_set_new(json_object_get(msg, "error"), "errno", json_integer(err));
	return msg;
}

/* What the executor's spawn callback records. */
struct started_ctx {
	struct agent *a;
	int slot;
	const char *task_id;
	long long attempt;
	bool recorded;
};

/* exec.c's callback once a task's process runs: its group is recorded in the state file. */
static void task_started(void *arg, pid_t pid)
{
	struct started_ctx *x = arg;

	dtf_wstate_task_started(&x->a->st, x->slot, x->task_id, x->attempt, pid);
	x->recorded = true;
}

/* Runs one task and builds the result message. */
static json_t *run_task(struct agent *a, struct slot *sl, json_t *task, char *workdir, size_t wlen)
{
	struct dtf_exec_spec spec = {0};
	struct dtf_exec_result res;
	json_t *cmd = json_object_get(task, "command"), *result, *msg, *cases = NULL;
	const char *shell = dtf_json_str(task, "shell", NULL);
	const char *cwd = dtf_json_str(task, "cwd", NULL);
	const char *junit = dtf_json_str(task, "junit", NULL);
	const char *outcome = "passed", *kind = NULL, *reason = NULL;
	struct dtf_failure_facts facts = {.oom_kills_before = -1, .oom_kills_after = -1};
	int err_no = 0;
	char message[512] = "";
	char **argv = NULL, **envp = NULL;
	size_t i, n;
	int rc;
	struct started_ctx started = {.a = a,
				      .slot = (int)(sl - a->slots),
				      .task_id = dtf_json_str(task, "id", ""),
				      .attempt = dtf_json_int(task, "attempt", 1)};

	snprintf(workdir, wlen, "%s/%s-%lld", a->cfg.work_dir, dtf_json_str(task, "id", "task"),
		 dtf_json_int(task, "attempt", 1));
	rc = make_workdir(sl, workdir);
	if (rc) {
		snprintf(message, sizeof(message), "cannot create the work directory %s: %s",
			 workdir, strerror(rc));
		log_warn("task %s: %s", dtf_json_str(task, "id", ""), message);
		return infrastructure_result(a, task, rc == ENOSPC ? "disk_full" : "work_dir", rc,
					     message);
	}
	if (strcmp(dtf_json_str(task, "type", ""), "browser") == 0 && a->cfg.browsers) {
		/* A page in the browser pool (worker/browser_pool.c). */
		json_t *t = json_copy(task), *pres;
		json_object_set_new(t, "work_dir", json_string(workdir));
		pres = dtf_bpool_run(a->cfg.browsers, t, &sl->cancel);
		json_decref(t);
		if (atomic_load(&sl->cancel) && atomic_load(&sl->interrupted))
			json_object_set_new(pres, "outcome", json_string("interrupted"));
		json_object_set_new(json_object_get(pres, "result"), "worker_id",
				    json_string(a->worker_id));
		json_object_set_new(pres, "protocol", json_integer(PROTOCOL));
		json_object_set_new(pres, "worker_id", json_string(a->worker_id));
		json_object_set_new(pres, "attempt",
				    json_integer(dtf_json_int(task, "attempt", 1)));
		return pres;
	}
	if (strcmp(dtf_json_str(task, "type", ""), "browser") == 0 &&
	    !dtf_plugins_handles(a->cfg.plugins, "browser"))
		return infrastructure_result(
		    a, task, "browser_missing", 0,
		    "this worker has no browser pool (dtf worker --browsers)");
	if (dtf_plugins_handles(a->cfg.plugins, dtf_json_str(task, "type", ""))) {
		/* A plugin's task type: its task processor runs it here. */
		json_t *t = json_copy(task), *pres = NULL;
		json_object_set_new(t, "work_dir", json_string(workdir));
		dtf_plugins_run_task_cancellable(a->cfg.plugins, t, &sl->cancel, &pres);
		json_decref(t);
		if (!pres)
			pres = json_pack("{s:s,s:{},s:{s:s,s:s}}", "outcome", "failed", "result",
					 "error", "kind", "plugin", "message", "no task processor");
		if (atomic_load(&sl->cancel) && atomic_load(&sl->interrupted))
			json_object_set_new(pres, "outcome", json_string("interrupted"));
		json_object_set_new(json_object_get(pres, "result"), "worker_id",
				    json_string(a->worker_id));
		json_object_set_new(pres, "protocol", json_integer(PROTOCOL));
		json_object_set_new(pres, "worker_id", json_string(a->worker_id));
		json_object_set_new(pres, "attempt",
				    json_integer(dtf_json_int(task, "attempt", 1)));
		return pres;
	}
	if (shell) {
		argv = calloc(4, sizeof(*argv));
		argv[0] = strdup("/bin/sh");
		argv[1] = strdup("-c");
		argv[2] = strdup(shell);
	} else {
		n = json_array_size(cmd);
		argv = calloc(n + 1, sizeof(*argv));
		for (i = 0; i < n; i++)
			argv[i] = strdup(json_string_value(json_array_get(cmd, i)));
	}
	envp = build_env(task, a->caps, workdir, a->worker_id);
	spec.argv = argv;
	spec.envp = envp;
	spec.cwd = cwd ? cwd : workdir;
	spec.timeout_s = dtf_json_num(task, "timeout_s", 0);
	spec.output_cap = a->cfg.output_cap;
	spec.cancel = &sl->cancel;
	spec.started = task_started;
	spec.started_arg = &started;
	facts.oom_kills_before = dtf_cgroup_oom_kills();
	rc = dtf_exec_run(&spec, &res);
	if (started.recorded)
		dtf_wstate_task_ended(&a->st, started.slot);
	result =
	    json_pack("{s:i,s:i,s:f,s:s,s:s,s:I,s:I}", "exit_code", res.exit_code, "signal",
		      res.signal, "duration_s", res.duration_s, "stdout", res.out ? res.out : "",
		      "stderr", res.err ? res.err : "", "stdout_truncated",
		      (json_int_t)res.out_dropped, "stderr_truncated", (json_int_t)res.err_dropped);
	if (!json_object_get(result, "stdout")) /* output that is not UTF-8 */
		json_object_set_new(result, "stdout", json_stringn_nocheck("", 0));
	json_object_set_new(result, "worker_id", json_string(a->worker_id));
	if (rc) {
		outcome = "failed";
		kind = "infrastructure";
		reason = "spawn";
		snprintf(message, sizeof(message), "%s", res.error);
	} else {
		facts.timed_out = res.timed_out;
		facts.cancelled = res.cancelled;
		facts.signal = res.signal;
		facts.exit_code = res.exit_code;
		facts.oom_kills_after = facts.oom_kills_before >= 0 && res.signal == SIGKILL
					    ? dtf_cgroup_oom_kills()
					    : -1;
		facts.memory_limited =
		    dtf_json_num(json_object_get(task, "requirements"), "memory", 0) > 0;
		facts.err = res.err;
		facts.err_len = res.err_len;
		facts.disk_full = (res.signal || res.exit_code) && !res.timed_out &&
				  !res.cancelled && disk_full(workdir);
		kind = dtf_failure_kind(&facts);
	}
	if (rc || !kind) {
		/* set above, or passed */
	} else if (strcmp(kind, "cancelled") == 0) {
		outcome = atomic_load(&sl->interrupted) ? "interrupted" : "failed";
		snprintf(message, sizeof(message), "the task was cancelled");
	} else if (strcmp(kind, "timeout") == 0) {
		outcome = "failed";
		snprintf(message, sizeof(message), "timed out after %.1f s", spec.timeout_s);
	} else if (strcmp(kind, "oom") == 0) {
		outcome = "failed";
		snprintf(message, sizeof(message), "out of memory (%s)",
			 res.signal ? "killed by the kernel's OOM killer" : "allocation failed");
	} else if (strcmp(kind, "infrastructure") == 0 &&
		   dtf_runner_missing(res.exit_code, res.err, res.err_len, message,
				      sizeof(message))) {
		outcome = "failed";
		reason = "runner_missing";
	} else if (strcmp(kind, "infrastructure") == 0) {
		outcome = "failed";
		reason = "disk_full";
		err_no = ENOSPC;
		snprintf(
		    message, sizeof(message), "the work directory's file system is full (%s %d)",
		    res.signal ? "signal" : "exit code", res.signal ? res.signal : res.exit_code);
	} else if (res.signal) {
		outcome = "failed";
		snprintf(message, sizeof(message), "killed by signal %d (%s)", res.signal,
			 strsignal(res.signal));
	} else {
		outcome = "failed";
		snprintf(message, sizeof(message), "exit code %d", res.exit_code);
	}
	if (junit && rc == 0 && !res.cancelled) {
		char path[4096], *xml = NULL;
		size_t len;
		int jr;
		/* A relative report path is inside the task's own work directory. */
		if (junit[0] == '/')
			snprintf(path, sizeof(path), "%s", junit);
		else
			snprintf(path, sizeof(path), "%s/%s", workdir, junit);
		jr = dtf_read_file(path, DTF_JUNIT_MAX_BYTES, &xml, &len);
		if (jr == 0)
			jr = dtf_junit_parse(xml, len, &cases);
		free(xml);
		if (jr == 0) {
			size_t nfail = 0;
			json_t *e;
			json_array_foreach(cases, i, e) {
				const char *st = dtf_json_str(e, "status", "");
				if (strcmp(st, "failed") == 0 || strcmp(st, "error") == 0)
					nfail++;
			}
			json_object_set_new(result, "testcases", cases);
			if (nfail && strcmp(outcome, "passed") == 0) {
				outcome = "failed";
				kind = "test_failures";
				snprintf(message, sizeof(message), "%zu of %zu test cases failed",
					 nfail, json_array_size(cases));
			}
		} else {
			json_object_set_new(result, "junit_error",
					    json_sprintf("cannot read JUnit report %s: %s", junit,
							 dtf_strerror(jr)));
			/* The task promised a report of its tests: without one, an exit status
			 * of 0 says nothing about them, so it is not a pass. */
			if (strcmp(outcome, "passed") == 0) {
				outcome = "failed";
				kind = "test_failures";
				reason = "junit_missing";
				snprintf(message, sizeof(message),
					 "the task exited 0 but its JUnit report %s could not be "
					 "read: %s",
					 junit, dtf_strerror(jr));
			}
		}
	}
	if (strcmp(dtf_json_str(task, "type", ""), "benchmark") == 0 && res.out) {
		json_t *m = metrics_from(res.out);
		if (m)
			json_object_set_new(result, "metrics", m);
	}
	msg = json_pack("{s:i,s:s,s:I,s:s,s:o}", "protocol", PROTOCOL, "worker_id", a->worker_id,
			"attempt", (json_int_t)dtf_json_int(task, "attempt", 1), "outcome", outcome,
			"result", result);
	if (kind) {
		json_t *err = json_pack("{s:s,s:s}", "kind", kind, "message", message);
		if (reason)
			json_object_set_new(err, "reason", json_string(reason));
		if (err_no)
			json_object_set_new(err, "errno", json_integer(err_no));
		json_object_set_new(msg, "error", err);
	}
	dtf_exec_result_release(&res);
	free_strv(argv);
	free_strv(envp);
	return msg;
}

struct exec_arg {
	struct agent *a;
	struct slot *sl;
};

static void *executor_thread(void *arg)
{
	struct exec_arg *ea = arg;
	struct agent *a = ea->a;
	struct slot *sl = ea->sl;

	for (;;) {
		struct job *j;
		json_t *msg;
		char workdir[4096];
		const char *tid;
		bool passed;

		pthread_mutex_lock(&a->lock);
		while (!a->head && !a->stopping && !(a->draining && a->queued == 0) &&
		       !atomic_load(&sl->restart))
			pthread_cond_wait(&a->work, &a->lock);
		if (atomic_load(&sl->restart)) {
			/* A fresh executor: its spare directory and the work directory itself
			 * are made again (and the reporter's connection). */
			atomic_store(&sl->restart, 0);
			pthread_mutex_unlock(&a->lock);
			if (sl->spare[0])
				dtf_rmtree(sl->spare);
			sl->spare[0] = '\0';
			dtf_mkdirs(a->cfg.work_dir, 0755);
			atomic_fetch_add(&a->executor_restarts, 1);
			log_info("executor %d restarted", (int)(sl - a->slots));
			continue;
		}
		if (!a->head || a->stopping) {
			/* Stopping: what is queued is handed back unstarted (see agent_run). */
			pthread_mutex_unlock(&a->lock);
			break;
		}
		j = a->head;
		a->head = j->next;
		if (!a->head)
			a->tail = NULL;
		a->queued--;
		a->busy++;
		tid = dtf_json_str(j->task, "id", "");
		snprintf(sl->task_id, sizeof(sl->task_id), "%s", tid);
		atomic_store(&sl->cancel, a->stopping ? DTF_EXEC_CANCEL_NOW : 0);
		atomic_store(&sl->interrupted, a->stopping ? 1 : 0);
		pthread_mutex_unlock(&a->lock);

		{
			struct notice *n = calloc(1, sizeof(*n)), **pp;
			char ts[32];
			int64_t t0;

			dtf_rfc3339(dtf_wall_ms(), ts);
			if (n) {
				snprintf(n->task_id, sizeof(n->task_id), "%s", tid);
				n->attempt = dtf_json_int(j->task, "attempt", 1);
				n->due_ms = dtf_mono_ms() + STARTED_DELAY_MS;
				pthread_mutex_lock(&a->lock);
				n->next = a->notices;
				a->notices = n;
				pthread_mutex_unlock(&a->lock);
			}
			log_debug("running task %s", tid);
			t0 = dtf_mono_ms();
			msg = run_task(a, sl, j->task, workdir, sizeof(workdir));
			pthread_mutex_lock(&a->lock);
			for (pp = &a->notices; *pp; pp = &(*pp)->next)
				if (*pp == n) {
					*pp = n->next;
					break;
				}
			pthread_mutex_unlock(&a->lock);
			free(n);
			json_object_set_new(msg, "started_at", json_string(ts));
			/* Which executor ran it: its lane on the run's timeline. */
			json_object_set_new(msg, "slot", json_integer((json_int_t)(sl - a->slots)));
			json_object_set_new(msg, "task_id", json_string(tid));
			passed = strcmp(dtf_json_str(msg, "outcome", ""), "passed") == 0;
			if (passed && !a->cfg.keep_work_dirs)
				retire_workdir(a, sl, workdir);
			/* The reporter sends it; this slot goes on with its next task. */
			report_result(a, sl, msg, (double)(dtf_mono_ms() - t0) / 1000.0);
		}
		json_decref(j->task);
		free(j);
	}
	return NULL;
}

/* The first SIGTERM/SIGINT: no new tasks; running ones finish; the drain timeout starts. */
static void begin_drain(struct agent *a)
{
	int64_t now = dtf_mono_ms();

	pthread_mutex_lock(&a->lock);
	if (a->cfg.drain_timeout_s > 0) {
		a->drain_deadline_ms = now + (int64_t)(a->cfg.drain_timeout_s * 1000);
		atomic_store(&a->give_up_ms, a->drain_deadline_ms + DRAIN_DELIVERY_MS);
	}
	atomic_store(&a->draining, 1);
	wake_all(a);
	pthread_cond_broadcast(&a->outbox_cond);
	pthread_mutex_unlock(&a->lock);
	if (a->cfg.drain_timeout_s > 0)
		log_info("draining: finishing running tasks, taking no new ones (for at most %g s; "
			 "a second signal stops at once)",
			 a->cfg.drain_timeout_s);
	else
		log_info("draining: finishing running tasks, taking no new ones (a second signal "
			 "stops at once)");
}

/* The stop: running tasks are stopped and reported interrupted; delivery ends STOP_DELIVERY_MS
 * later at most (or at the drain's bound, if that comes first). */
static void begin_stop(struct agent *a, const char *why)
{
	int64_t now = dtf_mono_ms(), g;
	int i;

	pthread_mutex_lock(&a->lock);
	atomic_store(&a->stop_ms, now);
	g = atomic_load(&a->give_up_ms);
	if (g <= 0 || g > now + STOP_DELIVERY_MS)
		atomic_store(&a->give_up_ms, now + STOP_DELIVERY_MS);
	atomic_store(&a->draining, 1);
	atomic_store(&a->stopping, 1);
	for (i = 0; i < a->cfg.slots; i++) {
		atomic_store(&a->slots[i].interrupted, 1);
		atomic_store(&a->slots[i].cancel, DTF_EXEC_CANCEL_NOW);
	}
	wake_all(a);
	pthread_cond_broadcast(&a->outbox_cond);
	pthread_mutex_unlock(&a->lock);
	log_info("stopping (%s): interrupting running tasks", why);
}

/* The signal thread: the first SIGTERM/SIGINT drains, a second one or SIGQUIT stops, and so does
 * the end of the drain timeout; one more after the stop gives delivery up at once. */
static void *signal_main(void *arg)
{
	struct agent *a = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	while (!atomic_load(&a->done)) {
		struct timespec ts = {0, 50 * 1000000L};
		int sig = sigtimedwait(&set, NULL, &ts);
		int64_t deadline;

		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			if (atomic_load(&a->stopping)) {
				log_info("giving up delivery now");
				atomic_store(&a->give_up_ms, dtf_mono_ms());
			} else if (sig == SIGQUIT) {
				begin_stop(a, "SIGQUIT");
			} else if (atomic_load(&a->draining)) {
				begin_stop(a, "a second signal");
			} else {
				begin_drain(a);
			}
		}
		pthread_mutex_lock(&a->lock);
		deadline = a->drain_deadline_ms;
		pthread_mutex_unlock(&a->lock);
		if (deadline > 0 && !atomic_load(&a->stopping) && dtf_mono_ms() >= deadline)
			begin_stop(a, "the drain timeout passed");
	}
	return NULL;
}

/* Reads the spool the last run of this worker left into the outbox. */
static void load_spool(struct agent *a)
{
	char *text = NULL, *line, *end;
	size_t len = 0, n = 0, bad = 0;
	int rc;

	if (!a->named || a->st.lock_fd < 0)
		return;
	rc = dtf_read_file(a->st.spool_path, SPOOL_MAX, &text, &len);
	if (rc) {
		if (access(a->st.spool_path, F_OK) == 0)
			log_warn("cannot read the spool %s: %s", a->st.spool_path,
				 dtf_strerror(rc));
		return;
	}
	pthread_mutex_lock(&a->lock);
	for (line = text; line < text + len; line = end + 1) {
		char err[128];
		json_t *msg;
		struct outmsg *om;

		end = memchr(line, '\n', (size_t)(text + len - line));
		if (!end)
			end = text + len;
		if (end == line)
			continue;
		msg = dtf_json_parse(line, (size_t)(end - line), err, sizeof(err));
		if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "task_id")) ||
		    !json_is_integer(json_object_get(msg, "attempt"))) {
			json_decref(msg);
			bad++;
			continue;
		}
		om = outmsg_new(msg);
		json_decref(msg);
		if (!om)
			continue;
		om->from_spool = true;
		outbox_push(a, om);
		n++;
	}
	a->spooled_left = (int)n;
	pthread_mutex_unlock(&a->lock);
	free(text);
	if (bad)
		log_warn("skipped %zu line%s of the spool %s that %s not results", bad,
			 bad == 1 ? "" : "s", a->st.spool_path, bad == 1 ? "is" : "are");
	if (n)
		log_info("read %zu result%s the last run could not deliver from %s", n,
			 n == 1 ? "" : "s", a->st.spool_path);
}

/* Kills what is left of the tasks the last run was running when it ended, and reports them
 * interrupted (so the coordinator requeues them without spending a retry). */
static void sweep_previous(struct agent *a)
{
	struct dtf_wstate_task *t = NULL;
	size_t n = 0, i;

	if (dtf_wstate_sweep(&a->st, &t, &n) != 0)
		log_warn("cannot read the task records %s", a->st.tasks_path);
	for (i = 0; i < n; i++) {
		json_t *msg;
		struct outmsg *om;

		if (t[i].killed)
			log_warn("task %s (attempt %lld) was running when this worker last ended: "
				 "killed %d leftover process%s of its process group %d",
				 t[i].task_id, t[i].attempt, t[i].killed,
				 t[i].killed == 1 ? "" : "es", t[i].pgid);
		else
			log_warn("task %s (attempt %lld) was running when this worker last ended; "
				 "none of its processes is left%s",
				 t[i].task_id, t[i].attempt,
				 t[i].other_boot ? " (the machine restarted since)" : "");
		if (!a->named)
			continue;
		msg = json_pack("{s:i,s:s,s:s,s:I,s:s,s:{s:s,s:s}}", "protocol", PROTOCOL,
				"task_id", t[i].task_id, "worker_id", a->worker_id, "attempt",
				(json_int_t)t[i].attempt, "outcome", "interrupted", "error", "kind",
				"interrupted", "message",
				"the worker ended while the task ran; its next start stopped what "
				"was left of it");
		pthread_mutex_lock(&a->lock);
		if (msg && !outbox_has(a, t[i].task_id) && (om = outmsg_new(msg)))
			outbox_push(a, om);
		pthread_mutex_unlock(&a->lock);
		json_decref(msg);
	}
	free(t);
}

/* At the end: what is still in the outbox goes to the spool (or the spool goes when empty). */
static void write_spool(struct agent *a)
{
	struct dtf_buf b;
	size_t n = 0;
	struct outmsg *o;
	int rc = 0;

	if (!a->out_head) {
		if (a->named && a->st.lock_fd >= 0 && unlink(a->st.spool_path) == 0)
			log_info("%s removed: nothing is left to deliver", a->st.spool_path);
		return;
	}
	for (o = a->out_head; o; o = o->next)
		n++;
	if (!a->named || a->st.lock_fd < 0) {
		log_warn("lost %zu undelivered result%s: %s", n, n == 1 ? "" : "s",
			 a->named ? "the worker keeps no state file"
				  : "a worker without --worker-id cannot deliver them later");
		return;
	}
	dtf_buf_init(&b, SIZE_MAX);
	for (o = a->out_head; o && rc == 0; o = o->next) {
		rc = dtf_buf_add(&b, o->text, o->len);
		if (rc == 0)
			rc = dtf_buf_add(&b, "\n", 1);
	}
	if (rc == 0)
		rc = dtf_write_file(a->st.spool_path, b.data, b.len);
	dtf_buf_release(&b);
	if (rc)
		log_error("cannot write the spool %s: %s; lost %zu undelivered result%s",
			  a->st.spool_path, dtf_strerror(rc), n, n == 1 ? "" : "s");
	else
		log_warn("kept %zu undelivered result%s in %s; the next start of worker %s "
			 "delivers %s",
			 n, n == 1 ? "" : "s", a->st.spool_path, a->worker_id,
			 n == 1 ? "it" : "them");
}

int agent_run(const struct agent_config *cfg)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct exec_arg *eargs = NULL;
	pthread_t hb, disp, notifier, reporter, sigt;
	struct conn cn = {.quit = QUIT_DRAIN};
	bool sig_started = false, threads_started = false, registered;
	char err[512];
	int rc = 0, i;

	if (!a)
		return DTF_ENOMEM;
	a->cfg = *cfg;
	cn.a = a;
	a->st.lock_fd = a->st.tasks_fd = a->st.guard_fd = -1;
	if (a->cfg.slots < 1)
		a->cfg.slots = 1;
	if (a->cfg.lease_wait_s <= 0)
		a->cfg.lease_wait_s = 20;
	if (a->cfg.ahead_below_s <= 0)
		a->cfg.ahead_below_s = AHEAD_TASK_MS / 1000.0;
	if (!a->cfg.output_cap)
		a->cfg.output_cap = 1u << 20;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->outbox_cond, NULL);
	pthread_cond_init(&a->idle, NULL);
	a->out_tail = &a->out_head;
	a->named = cfg->worker_id != NULL;
	if (cfg->worker_id)
		snprintf(a->worker_id, sizeof(a->worker_id), "%s", cfg->worker_id);
	a->hb_interval = 2;
	a->slots = calloc((size_t)a->cfg.slots, sizeof(*a->slots));
	eargs = calloc((size_t)a->cfg.slots, sizeof(*eargs));
	if (!a->slots || !eargs) {
		rc = DTF_ENOMEM;
		goto out;
	}
	if (dtf_mkdirs(a->cfg.work_dir, 0755) != 0) {
		log_error("cannot create the work directory %s", a->cfg.work_dir);
		rc = DTF_EIO;
		goto out;
	}
	/* Tasks run in other directories: give them an absolute DTF_WORK_DIR. */
	if (realpath(a->cfg.work_dir, a->work_dir_abs))
		a->cfg.work_dir = a->work_dir_abs;
	rc = dtf_wstate_open(&a->st, a->cfg.work_dir, a->named ? a->worker_id : "anonymous",
			     a->cfg.slots, err, sizeof(err));
	if (rc == DTF_EEXISTS && a->named) {
		log_error("%s", err);
		goto out;
	}
	if (rc)
		log_warn("%s; running without a state file (no spool, no clean-up after a crash)",
			 err);
	rc = 0;
	/* Forked before the agent's own threads start (plugins may already run some: the log's
	 * lock is taken across fork, common/log.c). */
	if (dtf_wstate_guard(&a->st) != 0)
		log_warn("cannot start the guard process: the tasks of a worker that dies are "
			 "only stopped at its next start");
	if (pthread_create(&sigt, NULL, signal_main, a) != 0) {
		log_error("cannot start the signal thread");
		rc = DTF_ENOMEM;
		goto finish;
	}
	sig_started = true;
	load_spool(a);
	sweep_previous(a);
	a->caps = agent_capabilities(&a->cfg);
	/* The token the last run of this worker kept: with it, a worker started again after a
	 * crash registers at once instead of waiting for its old self to be declared lost (the
	 * coordinator lets only the holder of a live worker's current token register it again). */
	if (a->named && dtf_wstate_token_load(&a->st, a->token, sizeof(a->token)) == 0)
		log_info("registering with the token kept by the last run");
	rc = do_register(a, &cn);
	conn_release(&cn);
	if (rc) {
		/* Stopped before it could register: a clean end; else registration was refused. */
		if (atomic_load(&a->draining))
			rc = 0;
		goto finish;
	}
	pthread_create(&hb, NULL, heartbeat_main, a);
	pthread_create(&notifier, NULL, notifier_main, a);
	pthread_create(&reporter, NULL, reporter_main, a);
	for (i = 0; i < a->cfg.slots; i++) {
		eargs[i].a = a;
		eargs[i].sl = &a->slots[i];
		pthread_create(&a->slots[i].thread, NULL, executor_thread, &eargs[i]);
	}
	pthread_create(&disp, NULL, dispatcher_main, a);
	threads_started = true;

	/* Until the drain has ended: no task runs (or they were stopped) and none waits. What can
	 * end it (the drain, the stop, a finished task while draining) calls wake_all; the timeout
	 * is only a backstop, so an idle worker does not wake 50 times a second. */
	pthread_mutex_lock(&a->lock);
	while (!(a->draining && a->busy == 0 && (a->queued == 0 || a->stopping))) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->idle, &a->lock, &ts);
	}
	pthread_mutex_unlock(&a->lock);
	/* The coordinator hears of the drain before the worker goes: it ends the lease the
	 * dispatcher abandons (a suspended request whose client has gone is not noticed) and
	 * assigns nothing more here. A worker that went first left a task submitted just after
	 * its exit on that lease, assigned to it until the heartbeat timeout. Bounded: a heartbeat
	 * that fails, or 3 s, ends the wait. */
	pthread_mutex_lock(&a->lock);
	registered = a->generation > 0 && !a->need_register;
	pthread_mutex_unlock(&a->lock);
	for (int64_t end = dtf_mono_ms() + 3000;
	     registered && atomic_load(&a->draining) && !atomic_load(&a->stopping) &&
	     !atomic_load(&a->drain_announced) && !atomic_load(&a->drain_unsent) &&
	     dtf_mono_ms() < end;)
		sleep_ms(20);
	/* The dispatcher's long-poll is abandoned at the drain. */
	pthread_join(disp, NULL);
	pthread_mutex_lock(&a->lock);
	wake_all(a);
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < a->cfg.slots; i++)
		pthread_join(a->slots[i].thread, NULL);
	/* Anything leased but never started is handed back as interrupted, with the results. */
	pthread_mutex_lock(&a->lock);
	while (a->head) {
		struct job *j = a->head;
		json_t *msg = json_pack("{s:i,s:s,s:s,s:I,s:s}", "protocol", PROTOCOL, "task_id",
					dtf_json_str(j->task, "id", ""), "worker_id", a->worker_id,
					"attempt", (json_int_t)dtf_json_int(j->task, "attempt", 1),
					"outcome", "interrupted");
		struct outmsg *om = msg ? outmsg_new(msg) : NULL;
		if (om)
			outbox_push(a, om);
		json_decref(msg);
		a->head = j->next;
		a->queued--;
		json_decref(j->task);
		free(j);
	}
	a->tail = NULL;
	/* The reporter sends what is in the outbox, then ends (or gives up: see STOP_DELIVERY_MS).
	 */
	a->reporter_stop = true;
	pthread_cond_signal(&a->outbox_cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(reporter, NULL);
	for (i = 0; i < a->cfg.slots; i++)
		if (a->slots[i].spare[0])
			rmdir(a->slots[i].spare);
finish:
	pthread_mutex_lock(&a->lock);
	write_spool(a);
	pthread_mutex_unlock(&a->lock);
	atomic_store(&a->done, 1);
	if (threads_started) {
		pthread_join(hb, NULL);
		pthread_join(notifier, NULL);
	}
	if (sig_started)
		pthread_join(sigt, NULL);
	while (a->out_head) {
		struct outmsg *o = a->out_head;
		a->out_head = o->next;
		free(o->text);
		free(o);
	}
	while (a->notices) {
		struct notice *nt = a->notices;
		a->notices = nt->next;
		free(nt);
	}
	if (rc == 0)
		log_info("worker %s stopped", a->worker_id[0] ? a->worker_id : "(unregistered)");
out:
	dtf_wstate_close(&a->st);
	json_decref(a->caps);
	free(a->slots);
	free(eargs);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->outbox_cond);
	pthread_cond_destroy(&a->idle);
	free(a);
	return rc;
}
