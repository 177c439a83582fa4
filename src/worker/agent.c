/* agent.c: the worker agent. Threads: the main thread waits for signals; one heartbeat thread
 * (and re-registration after the coordinator declared us lost); one dispatcher that long-polls
 * for leases while a slot is idle and queues the tasks; `slots` executor threads that run tasks;
 * one reporter that sends the executors' results (several in one request when they finish
 * together, retrying with backoff while the coordinator is down) and asks for the next tasks in
 * the same round trip. While tasks are short, it also leases ahead: up to one queued task per
 * slot, so an executor starts its next task at once instead of waiting for the round trip. */
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
#include "common/util.h"
#include "net/http.h"
#include "plugin/plugin.h"
#include "worker/agent.h"
#include "worker/classify.h"
#include "worker/exec.h"
#include "worker/hw.h"
#include "worker/junit.h"

#define PROTOCOL 1

extern char **environ;

struct job {
	json_t *task;
	struct job *next;
};

/* A finished task's result waiting for the reporter. */
struct outmsg {
	char task_id[64];
	char *text; /* the result as JSON, with its task_id */
	size_t len;
	bool short_task; /* it ran for less than AHEAD_TASK_MS */
	struct outmsg *next;
};

/* Results sent in one request: at most this many bytes of them (a larger one goes alone). */
#define BATCH_MAX_BYTES (1u << 20)
/* Tasks shorter than this make the reporter lease ahead (one queued task per slot): for them a
 * round trip per task would be a large share of the time; longer ones are leased only for free
 * slots, so no task waits behind another while a worker elsewhere could take it. */
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
	atomic_int cancel;         /* set to stop the running task */
	atomic_int interrupted;    /* the stop was the second signal */
	char task_id[64];          /* the running task, "" when idle (guarded by a->lock) */
	char spare[4200];          /* an empty directory left by a passed task, renamed into the
				    * next task's (no block freed and allocated per task), or "" */
	atomic_int restart;        /* the coordinator asked to restart the executors */
};

struct agent {
	struct agent_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* the dispatcher waits here for free slots or a registration */
	pthread_cond_t work;       /* executors wait here for queued jobs */
	pthread_cond_t outbox_cond; /* the reporter waits here for results */
	struct outmsg *out_head, **out_tail; /* results waiting for the reporter */
	struct outmsg *in_flight;  /* the results the reporter is sending */
	bool reporter_stop;
	atomic_int reporter_reconnect; /* executors restarted: the reporter reconnects too */
	struct job *head, *tail;   /* leased tasks waiting for a slot */
	int queued, busy;          /* queued jobs, running executors */
	char worker_id[72];
	char token[64];
	int generation;            /* bumps at each (re)registration */
	bool need_register;
	atomic_int draining, stopping, done;
	double hb_interval;
	json_t *caps;
	struct slot *slots;
	char work_dir_abs[4096];
	struct notice *notices;     /* tasks whose start is not reported yet (guarded by lock) */
	atomic_int executor_restarts; /* executors restarted at the coordinator's request */
};

/* Wakes every thread waiting on the agent's state (registration, restart, drain, stop). Called
 * with a->lock held. */
static void wake_all(struct agent *a)
{
	pthread_cond_broadcast(&a->cond);
	pthread_cond_broadcast(&a->work);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A client for this thread, rebuilt when the worker's token changes. */
struct conn {
	struct dtf_http_client http;
	int generation;
	bool ready;
};

static int conn_get(struct agent *a, struct conn *cn)
{
	char hdr[128];
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

	json_array_foreach(cfg->extra_hardware, i, e) json_array_append(hw, e);
	dtf_plugins_detect_resources(cfg->plugins, caps);
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

/* Registers (again); retries with backoff until it works or the agent stops. */
static int do_register(struct agent *a, struct conn *cn)
{
	long backoff = 100;
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	while (!a->stopping) {
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
		if (dtf_plugins_task_types(a->cfg.plugins)[0]) {
			/* The built-in types plus the plugins' own. */
			json_t *types = json_pack("[s,s,s,s]", "command", "test", "shell", "benchmark");
			for (const char *const *t = dtf_plugins_task_types(a->cfg.plugins); *t; t++) {
				size_t k;
				json_t *x;
				bool dup = false;
				json_array_foreach(types, k, x) if (strcmp(json_string_value(x), *t) == 0)
					dup = true;
				if (!dup)
					json_array_append_new(types, json_string(*t));
			}
			json_object_set_new(body, "task_types", types);
		}
		if (a->cfg.labels)
			json_object_set(body, "labels", a->cfg.labels);
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
			json_decref(resp);
			log_info("registered as %s with %s (%d slots)", a->worker_id,
				 a->cfg.coordinator, a->cfg.slots);
			return 0;
		}
		if (rc == DTF_EAUTH || cn->http.status == 403 || cn->http.status == 400) {
			log_error("registration refused: %s", cn->http.error);
			return rc ? rc : DTF_EAUTH;
		}
		log_warn("cannot register yet (%s); retrying", cn->http.error);
		sleep_ms(backoff);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
	return DTF_EINVAL;
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
	json_array_foreach(cancel, i, e)
	{
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
	struct conn cn = {0};
	bool sent_drain = false;

	while (!a->done) {
		json_t *body, *resp = NULL;
		int rc;
		char path[160];
		long wait_ms;

		pthread_mutex_lock(&a->lock);
		if (a->need_register) {
			pthread_mutex_unlock(&a->lock);
			if (do_register(a, &cn) != 0 && !a->stopping)
				sleep_ms(1000);
			continue;
		}
		body = json_pack("{s:i,s:b,s:o,s:o,s:i}", "protocol", PROTOCOL, "draining",
				 (int)atomic_load(&a->draining), "running", running_ids(a),
				 "resources", live_resources(), "executor_restarts",
				 (int)atomic_load(&a->executor_restarts));
		snprintf(path, sizeof(path), "/api/v1/workers/%s/heartbeat", a->worker_id);
		wait_ms = (long)(a->hb_interval * 1000);
		pthread_mutex_unlock(&a->lock);
		if (conn_get(a, &cn) == 0) {
			rc = dtf_http_call(&cn.http, "POST", path, body, 5000, &resp);
			if (rc == 0) {
				apply_cancel(a, json_object_get(resp, "cancel"));
				apply_restart(a, resp);
				if (atomic_load(&a->draining))
					sent_drain = true;
			} else if (rc == DTF_ESTALE || rc == DTF_ENOTFOUND) {
				log_warn("coordinator: %s; registering again", cn.http.error);
				request_register(a);
			} else {
				log_debug("heartbeat failed: %s", cn.http.error);
			}
			json_decref(resp);
		}
		json_decref(body);
		/* Sleep in small steps so a drain is announced at once. */
		for (long t = 0; t < wait_ms && !a->done; t += 50) {
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
	json_array_foreach(tasks, i, e)
	{
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
	struct conn cn = {0};

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
		if (!task_id[0]) {
			sleep_ms(20);
			continue;
		}
		if (conn_get(a, &cn) == 0) {
			json_t *body = json_pack("{s:i,s:s,s:I}", "protocol", PROTOCOL, "worker_id",
						 a->worker_id, "attempt", (json_int_t)attempt);
			snprintf(path, sizeof(path), "/api/v1/tasks/%s/started", task_id);
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
	struct conn cn = {0};
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
			sleep_ms(backoff);
			backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
			continue;
		}
		backoff = 100;
		enqueue(a, resp);
		json_decref(resp);
	}
	conn_release(&cn);
	return NULL;
}

/* Sends a message (JSON text) until the coordinator answers (held while it is down). Returns 0,
 * or DTF_ESTALE/DTF_ENOTFOUND/DTF_EPROTO when the coordinator refused it. */
static int send_until_answered(struct agent *a, struct conn *cn, const char *path,
			       const char *text, size_t len, bool give_up_on_stop, json_t **resp)
{
	long backoff = 100;

	for (;;) {
		int rc;
		if (conn_get(a, cn))
			return DTF_EINVAL;
		rc = dtf_http_call_raw(&cn->http, "POST", path, text, len, 30000, resp);
		if (rc == 0)
			return 0;
		if (rc == DTF_ESTALE || rc == DTF_ENOTFOUND || rc == DTF_EPROTO) {
			if (strcmp(cn->http.error_code, "worker_lost") == 0)
				request_register(a);
			log_warn("%s refused: %s", path, cn->http.error);
			return rc;
		}
		if (rc == DTF_EAUTH && strcmp(cn->http.error_code, "bad_worker_token") == 0) {
			/* We registered again meanwhile: resend with the new token. */
			sleep_ms(100);
			continue;
		}
		if (give_up_on_stop && a->stopping)
			return rc;
		log_warn("cannot reach the coordinator (%s); holding the message, retrying",
			 cn->http.error);
		sleep_ms(backoff);
		backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
	}
}

static int send_reliably(struct agent *a, struct conn *cn, const char *path, json_t *body,
			 bool give_up_on_stop, json_t **resp)
{
	char *text = dtf_json_dumps(body);
	int rc;

	if (!text)
		return DTF_ENOMEM;
	rc = send_until_answered(a, cn, path, text, strlen(text), give_up_on_stop, resp);
	free(text);
	return rc;
}

/* Queues a finished task's result for the reporter (msg is consumed) and frees the slot, in one
 * step, so the reporter counts the slot free when it asks for the next tasks. */
static void report_result(struct agent *a, struct slot *sl, json_t *msg, double duration_s)
{
	struct outmsg *om = calloc(1, sizeof(*om));

	if (om) {
		snprintf(om->task_id, sizeof(om->task_id), "%s", dtf_json_str(msg, "task_id", ""));
		om->text = dtf_json_dumps(msg);
	}
	json_decref(msg);
	if (om && !om->text) {
		free(om);
		om = NULL;
	}
	if (!om) {
		log_error("out of memory: a result could not be sent");
	} else {
		om->len = strlen(om->text);
		om->short_task = duration_s * 1000 < AHEAD_TASK_MS;
	}
	pthread_mutex_lock(&a->lock);
	if (om) {
		*a->out_tail = om;
		a->out_tail = &om->next;
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

	json_array_foreach(json_object_get(resp, "results"), i, e)
	{
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

static void *reporter_main(void *arg)
{
	struct agent *a = arg;
	struct conn cn = {0};
	struct dtf_buf body;

	dtf_buf_init(&body, DTF_HTTP_MAX_BODY);
	for (;;) {
		struct outmsg *batch, *o, *next;
		char path[160], head[128];
		int n, max, ahead, held, want, rc;
		bool all_short;
		json_t *resp = NULL;

		pthread_mutex_lock(&a->lock);
		while (!a->out_head && !a->reporter_stop)
			pthread_cond_wait(&a->outbox_cond, &a->lock);
		if (!a->out_head) {
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
			rc = send_until_answered(a, &cn, path, body.data, body.len, false, &resp);
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

static char **build_env(json_t *task, const char *workdir, const char *worker_id)
{
	size_t n = 0, i = 0;
	char **env;
	json_t *tenv = json_object_get(task, "env"), *v;
	const char *k;

	while (environ[n])
		n++;
	env = calloc(n + json_object_size(tenv) + 8, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		const char *eq = strchr(environ[j], '=');
		if (eq && json_object_getn(tenv, environ[j], (size_t)(eq - environ[j])))
			continue;
		env[i++] = strdup(environ[j]);
	}
	json_object_foreach(tenv, k, v)
	{
		char *s = NULL;
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
	envp = build_env(task, workdir, a->worker_id);
	spec.argv = argv;
	spec.envp = envp;
	spec.cwd = cwd ? cwd : workdir;
	spec.timeout_s = dtf_json_num(task, "timeout_s", 0);
	spec.output_cap = a->cfg.output_cap;
	spec.cancel = &sl->cancel;
	facts.oom_kills_before = dtf_cgroup_oom_kills();
	rc = dtf_exec_run(&spec, &res);
	result = json_pack("{s:i,s:i,s:f,s:s,s:s,s:I,s:I}", "exit_code", res.exit_code, "signal",
			   res.signal, "duration_s", res.duration_s, "stdout",
			   res.out ? res.out : "", "stderr", res.err ? res.err : "",
			   "stdout_truncated", (json_int_t)res.out_dropped, "stderr_truncated",
			   (json_int_t)res.err_dropped);
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
		facts.oom_kills_after =
		    facts.oom_kills_before >= 0 && res.signal == SIGKILL ? dtf_cgroup_oom_kills() : -1;
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
		snprintf(message, sizeof(message),
			 "the work directory's file system is full (%s %d)",
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
			json_array_foreach(cases, i, e)
			{
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
		if (!a->head) {
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
		atomic_store(&sl->cancel, a->stopping ? 1 : 0);
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

int agent_run(const struct agent_config *cfg)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct exec_arg *eargs = NULL;
	pthread_t hb, disp, notifier, reporter;
	struct conn cn = {0};
	sigset_t set;
	int rc = 0, i, sig;

	if (!a)
		return DTF_ENOMEM;
	a->cfg = *cfg;
	if (a->cfg.slots < 1)
		a->cfg.slots = 1;
	if (a->cfg.lease_wait_s <= 0)
		a->cfg.lease_wait_s = 20;
	if (!a->cfg.output_cap)
		a->cfg.output_cap = 1u << 20;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->outbox_cond, NULL);
	a->out_tail = &a->out_head;
	if (cfg->worker_id)
		snprintf(a->worker_id, sizeof(a->worker_id), "%s", cfg->worker_id);
	a->hb_interval = 2;
	a->slots = calloc((size_t)a->cfg.slots, sizeof(*a->slots));
	eargs = calloc((size_t)a->cfg.slots, sizeof(*eargs));
	if (dtf_mkdirs(a->cfg.work_dir, 0755) != 0) {
		log_error("cannot create the work directory %s", a->cfg.work_dir);
		rc = DTF_EIO;
		goto out;
	}
	/* Tasks run in other directories: give them an absolute DTF_WORK_DIR. */
	if (realpath(a->cfg.work_dir, a->work_dir_abs))
		a->cfg.work_dir = a->work_dir_abs;
	a->caps = agent_capabilities(&a->cfg);
	rc = do_register(a, &cn);
	conn_release(&cn);
	if (rc)
		goto out;
	pthread_create(&hb, NULL, heartbeat_main, a);
	pthread_create(&notifier, NULL, notifier_main, a);
	pthread_create(&reporter, NULL, reporter_main, a);
	for (i = 0; i < a->cfg.slots; i++) {
		eargs[i].a = a;
		eargs[i].sl = &a->slots[i];
		pthread_create(&a->slots[i].thread, NULL, executor_thread, &eargs[i]);
	}
	pthread_create(&disp, NULL, dispatcher_main, a);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	for (;;) {
		bool idle;
		struct timespec ts = {0, 200 * 1000000L};
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			/* The first SIGTERM/SIGINT drains; a second one, or SIGQUIT, interrupts. */
			if (!a->draining && sig != SIGQUIT) {
				log_info("draining: finishing running tasks, taking no new ones");
				atomic_store(&a->draining, 1);
			} else {
				log_info("stopping: interrupting running tasks");
				atomic_store(&a->draining, 1);
				atomic_store(&a->stopping, 1);
				pthread_mutex_lock(&a->lock);
				for (i = 0; i < a->cfg.slots; i++) {
					atomic_store(&a->slots[i].interrupted, 1);
					atomic_store(&a->slots[i].cancel, 1);
				}
				pthread_mutex_unlock(&a->lock);
			}
			pthread_mutex_lock(&a->lock);
			wake_all(a);
			pthread_mutex_unlock(&a->lock);
		}
		pthread_mutex_lock(&a->lock);
		idle = a->draining && a->busy == 0 && (a->queued == 0 || a->stopping);
		pthread_mutex_unlock(&a->lock);
		if (idle)
			break;
	}
	/* The dispatcher may be inside a long-poll; the drain heartbeat ends it. */
	pthread_join(disp, NULL);
	pthread_mutex_lock(&a->lock);
	wake_all(a);
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < a->cfg.slots; i++)
		pthread_join(a->slots[i].thread, NULL);
	/* The reporter sends what the executors left in the outbox, then ends. */
	pthread_mutex_lock(&a->lock);
	a->reporter_stop = true;
	pthread_cond_signal(&a->outbox_cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(reporter, NULL);
	/* Anything leased but never started is handed back as interrupted. */
	while (a->head) {
		struct job *j = a->head;
		char path[200];
		json_t *msg = json_pack("{s:i,s:s,s:I,s:s}", "protocol", PROTOCOL, "worker_id",
					a->worker_id, "attempt",
					(json_int_t)dtf_json_int(j->task, "attempt", 1), "outcome",
					"interrupted");
		snprintf(path, sizeof(path), "/api/v1/tasks/%s/result",
			 dtf_json_str(j->task, "id", ""));
		send_reliably(a, &cn, path, msg, true, NULL);
		json_decref(msg);
		a->head = j->next;
		json_decref(j->task);
		free(j);
	}
	conn_release(&cn);
	for (i = 0; i < a->cfg.slots; i++)
		if (a->slots[i].spare[0])
			rmdir(a->slots[i].spare);
	atomic_store(&a->done, 1);
	pthread_join(hb, NULL);
	pthread_join(notifier, NULL);
	log_info("worker %s stopped", a->worker_id);
out:
	json_decref(a->caps);
	free(a->slots);
	free(eargs);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->outbox_cond);
	free(a);
	return rc;
}
