/* dispatch.c: how plugins are called. dtf_plugins_fire() serializes the payload and queues the
 * event (bounded: a full queue drops its oldest event) and returns; one dispatcher thread takes
 * events in order and, for each, calls every enabled plugin that wants it, in the enabled order,
 * exactly once. Each plugin has a thread of its own that makes the calls: the dispatcher hands a
 * call over and waits at most the plugin's budget, so a plugin stuck in a hook is disabled and
 * left behind while the others go on. Timers of plugins are queued as events for their plugin.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "plugin/internal.h"

static _Thread_local int tls_depth;

int plugin_current_depth(void)
{
	return tls_depth;
}

/* ---- condition variables on the monotonic clock ---- */

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/* Waits until mono_ms (dtf_mono_ms time); returns ETIMEDOUT once it passed. */
static int cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t mono_ms)
{
	struct timespec now, ts;
	int64_t delta = mono_ms - dtf_mono_ms();

	if (delta <= 0)
		return ETIMEDOUT;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ts.tv_sec = now.tv_sec + (time_t)(delta / 1000);
	ts.tv_nsec = now.tv_nsec + (long)(delta % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(c, m, &ts);
}

/* Starts a thread with every signal blocked: signals are for the process's main thread. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- events ---- */

void plugin_event_unref(struct plugin_event *ev)
{
	if (!ev || atomic_fetch_sub(&ev->refs, 1) != 1)
		return;
	free(ev->payload);
	free(ev->envelope);
	free(ev->message);
	free(ev);
}

static void call_free(struct plugin_call *c)
{
	if (!c)
		return;
	plugin_event_unref(c->ev);
	free(c->config_json);
	free(c->out);
	free(c);
}

/* Adds ev to the queue, dropping the oldest event when it is full. Called with p->lock held. */
static void enqueue_locked(struct dtf_plugins *p, struct plugin_event *ev)
{
	while (p->head && (p->qlen >= p->qcap || p->qbytes + ev->size > PLUGIN_QUEUE_MAX_BYTES)) {
		struct plugin_event *old = p->head;
		p->head = old->next;
		if (!p->head)
			p->tail = NULL;
		p->qlen--;
		p->qbytes -= old->size;
		p->dropped++;
		if (p->dropped == 1 || p->dropped % 1000 == 0)
			log_warn(
			    "plugins: the event queue is full (%zu); dropped %llu events so far",
			    p->qcap, (unsigned long long)p->dropped);
		plugin_event_unref(old);
	}
	ev->seq = ++p->seq;
	ev->next = NULL;
	if (p->tail)
		p->tail->next = ev;
	else
		p->head = ev;
	p->tail = ev;
	p->qlen++;
	p->qbytes += ev->size;
	pthread_cond_broadcast(&p->cond);
}

static struct plugin_event *event_new(int hook, char *payload, int origin, int depth)
{
	struct plugin_event *ev = calloc(1, sizeof(*ev));

	if (!ev) {
		free(payload);
		return NULL;
	}
	atomic_init(&ev->refs, 1);
	ev->hook = hook;
	ev->payload = payload;
	ev->size = payload ? strlen(payload) : 0;
	ev->wall_ms = dtf_wall_ms();
	ev->target = -1;
	ev->origin = origin;
	ev->depth = depth;
	ev->severity = "info";
	return ev;
}

void plugin_enqueue(struct dtf_plugins *p, int hook, char *payload, const json_t *json, int origin,
		    int depth)
{
	struct plugin_event *ev;
	json_t *parsed = NULL;

	if (!payload)
		return;
	ev = event_new(hook, payload, origin, depth);
	if (!ev)
		return;
	if (hook >= DTF_HOOK_TASK_CREATED && hook <= DTF_HOOK_TASK_CANCELLED) {
		if (!json) {
			char perr[64];
			json = parsed =
			    dtf_json_parse(payload, strlen(payload), perr, sizeof(perr));
		}
		snprintf(ev->task_id, sizeof(ev->task_id), "%s", dtf_json_str(json, "id", ""));
	}
	if (atomic_load(&p->any_notifier)) {
		if (!json) {
			char perr[64];
			json = parsed =
			    dtf_json_parse(payload, strlen(payload), perr, sizeof(perr));
		}
		ev->severity = plugin_event_severity(hook, json);
		ev->message = plugin_event_message(hook, json);
	}
	json_decref(parsed);
	pthread_mutex_lock(&p->lock);
	enqueue_locked(p, ev);
	pthread_mutex_unlock(&p->lock);
}

bool dtf_plugins_subscribed(struct dtf_plugins *p, enum dtf_hook hook)
{
	if (!p || (int)hook < 0 || hook >= DTF_HOOK__COUNT)
		return false;
	return (atomic_load(&p->subscribed) & DTF_HOOK_BIT(hook)) != 0;
}

void dtf_plugins_fire(struct dtf_plugins *p, enum dtf_hook hook, const json_t *payload)
{
	json_t *empty = NULL;
	char *text;

	if (!p || (int)hook < 0 || hook >= DTF_HOOK__COUNT)
		return;
	if (!(atomic_load(&p->subscribed) & DTF_HOOK_BIT(hook)))
		return;
	if (!payload)
		payload = empty = json_object();
	text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text && strlen(text) > PLUGIN_MAX_EVENT_BYTES) {
		log_warn("plugins: the %s payload is over %u bytes; sent without it",
			 dtf_hook_name(hook), PLUGIN_MAX_EVENT_BYTES);
		free(text);
		text = strdup("{\"truncated\":true}");
	}
	plugin_enqueue(p, hook, text, payload, -1, 0);
	json_decref(empty);
}

void dtf_plugins_fire_custom(struct dtf_plugins *p, const char *name, const json_t *data)
{
	json_t *payload;

	if (!p)
		return;
	payload = json_pack("{s:s,s:O}", "name", name ? name : "", "data",
			    data ? (json_t *)data : json_null());
	dtf_plugins_fire(p, DTF_HOOK_CUSTOM, payload);
	json_decref(payload);
}

/* ---- the plugins' threads ---- */

/* Makes the call on the plugin's thread. */
static void execute(struct dtf_plugin_ctx *pl, struct plugin_call *c)
{
	struct dtf_plugins *p = pl->owner;
	struct plugin_event *ev = c->ev;
	const char *caps;

	switch (c->kind) {
	case CALL_INIT:
		c->rc = pl->d.init ? pl->d.init(pl, &p->host, &pl->state) : 0;
		break;
	case CALL_CONFIGURE:
		c->rc = pl->d.configure
			    ? pl->d.configure(pl->state, c->config_json, c->err, sizeof(c->err))
			    : 0;
		if (c->rc == 0 && pl->d.capabilities && (caps = pl->d.capabilities(pl->state)))
			c->out = strndup(caps, 1u << 20);
		break;
	case CALL_EVENT:
		tls_depth = ev->depth;
		c->rc = 0;
		if (pl->exec) {
			c->rc = exec_plugin_deliver(pl->exec, ev->envelope, strlen(ev->envelope),
						    pl->hook_timeout_s, c->err, sizeof(c->err));
		} else {
			if (pl->d.on_hook)
				c->rc = pl->d.on_hook(pl->state, ev->hook, ev->payload);
			if (c->rc == 0 && pl->has_results_handler &&
			    pl->results_handler.handle_result &&
			    (DTF_HOOK_BIT(ev->hook) & DTF_HOOK_MASK_TASK_FINAL))
				c->rc = pl->results_handler.handle_result(pl->state, ev->task_id,
									  ev->payload);
			if (c->rc == 0 && pl->has_notifier && pl->notifier.notify)
				c->rc = pl->notifier.notify(pl->state, ev->severity,
							    ev->message ? ev->message : "",
							    ev->envelope);
		}
		tls_depth = 0;
		break;
	case CALL_TIMER:
		c->rc = c->timer_fn(c->timer_arg);
		break;
	case CALL_DETECT:
		c->rc = pl->resource_manager.detect(pl->state, &c->out);
		break;
	case CALL_SHUTDOWN:
		if (pl->exec)
			exec_plugin_stop(pl->exec);
		if (pl->d.shutdown)
			pl->d.shutdown(pl->state);
		c->rc = 0;
		break;
	}
}

static void *runner_main(void *arg)
{
	struct dtf_plugin_ctx *pl = arg;

	pthread_mutex_lock(&pl->mu);
	for (;;) {
		struct plugin_call *c;
		/* A call to make: handed over, not being made, not made yet. */
#define PENDING(pl) ((pl)->call && !(pl)->taken && !(pl)->call_done)
		while (!PENDING(pl) && !pl->quit)
			pthread_cond_wait(&pl->cv, &pl->mu);
		if (!PENDING(pl))
			break;
#undef PENDING
		c = pl->call;
		pl->taken = true;
		pthread_mutex_unlock(&pl->mu);
		execute(pl, c);
		pthread_mutex_lock(&pl->mu);
		pl->taken = false;
		if (pl->abandoned) {
			/* The caller gave up on this call: it is ours to free. */
			pl->abandoned = false;
			pl->call = NULL;
			call_free(c);
		} else {
			pl->call_done = true;
		}
		pthread_cond_broadcast(&pl->cv);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

int plugin_thread_start(struct dtf_plugin_ctx *pl)
{
	pthread_mutex_init(&pl->mu, NULL);
	cond_init_mono(&pl->cv);
	if (start_thread(&pl->thread, runner_main, pl) != 0)
		return DTF_ENOMEM;
	pl->thread_started = true;
	return 0;
}

bool plugin_wait_idle(struct dtf_plugin_ctx *pl, double secs)
{
	int64_t deadline = dtf_mono_ms() + (int64_t)(secs * 1000);
	bool idle;

	if (!pl->thread_started)
		return true;
	pthread_mutex_lock(&pl->mu);
	while (pl->call && cond_wait_until(&pl->cv, &pl->mu, deadline) != ETIMEDOUT)
		;
	idle = pl->call == NULL;
	pthread_mutex_unlock(&pl->mu);
	return idle;
}

void plugin_thread_stop(struct dtf_plugin_ctx *pl)
{
	if (!pl->thread_started)
		return;
	pthread_mutex_lock(&pl->mu);
	pl->quit = true;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	pthread_join(pl->thread, NULL);
	pl->thread_started = false;
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->cv);
}

int plugin_call(struct dtf_plugin_ctx *pl, struct plugin_call *c, double budget_s)
{
	int64_t deadline = dtf_mono_ms() + (int64_t)(budget_s * 1000);
	int rc;

	if (!pl->thread_started)
		return DTF_ESTATE;
	pthread_mutex_lock(&pl->mu);
	if (pl->call) {
		/* Still inside a call it was abandoned in: it gets no more. */
		pthread_mutex_unlock(&pl->mu);
		return DTF_ESTATE;
	}
	pl->call = c;
	pl->call_done = false;
	pthread_cond_broadcast(&pl->cv);
	while (!pl->call_done)
		if (cond_wait_until(&pl->cv, &pl->mu, deadline) == ETIMEDOUT && !pl->call_done)
			break;
	if (pl->call_done) {
		pl->call = NULL;
		pl->call_done = false;
		rc = c->rc;
	} else {
		pl->abandoned = true;
		rc = DTF_ETIMEOUT;
	}
	pthread_mutex_unlock(&pl->mu);
	return rc;
}

/* ---- disabling ---- */

void plugin_update_subscriptions(struct dtf_plugins *p)
{
	uint64_t mask = 0;
	bool notifier = false;
	size_t i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->n; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		bool receives = pl->exec || pl->d.on_hook || pl->has_notifier;
		if (pl->st != PS_ENABLED)
			continue;
		if (receives)
			mask |= pl->mask;
		if (pl->has_results_handler)
			mask |= pl->mask & DTF_HOOK_MASK_TASK_FINAL;
		if (pl->has_notifier)
			notifier = true;
	}
	pthread_mutex_unlock(&p->lock);
	atomic_store(&p->subscribed, mask);
	atomic_store(&p->any_notifier, notifier);
}

void plugin_disable(struct dtf_plugin_ctx *pl, const char *fmt, ...)
{
	struct dtf_plugins *p = pl->owner;
	struct plugin_timer **tp;
	char reason[PLUGIN_REASON_MAX];
	json_t *data, *payload;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&p->lock);
	if (pl->st != PS_ENABLED) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pl->st = PS_DISABLED;
	snprintf(pl->reason, sizeof(pl->reason), "%s", reason);
	for (tp = &p->timers; *tp;) {
		struct plugin_timer *t = *tp;
		if (t->plugin == pl->index) {
			*tp = t->next;
			free(t);
		} else {
			tp = &t->next;
		}
	}
	pthread_mutex_unlock(&p->lock);
	plugin_update_subscriptions(p);
	log_error("plugin %s disabled: %s", pl->name, reason);
	data = json_pack("{s:s,s:s,s:s}", "plugin", pl->name, "version", pl->version, "reason",
			 reason);
	if (p->impl.emit_event)
		p->impl.emit_event(p->impl.arg, "plugin_failed", data);
	payload = json_pack("{s:s,s:O}", "name", "plugin_failed", "data", data);
	if (atomic_load(&p->subscribed) & DTF_HOOK_BIT(DTF_HOOK_CUSTOM))
		plugin_enqueue(p, DTF_HOOK_CUSTOM, json_dumps(payload, JSON_COMPACT), payload,
			       pl->index, plugin_current_depth() + 1);
	json_decref(payload);
	json_decref(data);
}

/* ---- the dispatcher ---- */

static bool wants(struct dtf_plugin_ctx *pl, const struct plugin_event *ev)
{
	if (pl->st != PS_ENABLED || ev->origin == pl->index)
		return false;
	if (ev->target >= 0)
		return ev->target == pl->index;
	if (ev->hook < 0 || !(pl->mask & DTF_HOOK_BIT(ev->hook)))
		return false;
	if (pl->exec || pl->d.on_hook || pl->has_notifier)
		return true;
	return pl->has_results_handler && (DTF_HOOK_BIT(ev->hook) & DTF_HOOK_MASK_TASK_FINAL);
}

static void make_envelope(struct plugin_event *ev)
{
	char ts[32];

	if (ev->envelope || ev->hook < 0)
		return;
	dtf_rfc3339(ev->wall_ms, ts);
	if (asprintf(&ev->envelope,
		     "{\"hook\":\"%s\",\"seq\":%llu,\"time\":\"%s\",\"payload\":%s}\n",
		     dtf_hook_name(ev->hook), (unsigned long long)ev->seq, ts, ev->payload) < 0)
		ev->envelope = NULL;
}

/* Calls one plugin for one event and judges the outcome. */
static void deliver_one(struct dtf_plugins *p, struct dtf_plugin_ctx *pl, struct plugin_event *ev)
{
	struct plugin_call *c = calloc(1, sizeof(*c));
	const char *what = ev->hook >= 0 ? dtf_hook_name(ev->hook) : "timer";
	int64_t t0;
	double ms;
	int rc;

	if (!c)
		return;
	if (ev->hook < 0) {
		struct plugin_timer **tp, *t = NULL;
		pthread_mutex_lock(&p->lock);
		for (tp = &p->timers; *tp; tp = &(*tp)->next)
			if ((*tp)->id == ev->timer_id) {
				t = *tp;
				break;
			}
		if (t) {
			c->timer_fn = t->fn;
			c->timer_arg = t->arg;
			t->queued = false;
			if (t->done) {
				*tp = t->next;
				free(t);
			}
		}
		pthread_mutex_unlock(&p->lock);
		if (!t) { /* cancelled meanwhile */
			free(c);
			return;
		}
		c->kind = CALL_TIMER;
	} else {
		c->kind = CALL_EVENT;
		c->ev = ev;
		atomic_fetch_add(&ev->refs, 1);
	}
	t0 = dtf_mono_ms();
	rc = plugin_call(pl, c, pl->hook_timeout_s);
	ms = (double)(dtf_mono_ms() - t0);
	pthread_mutex_lock(&p->lock);
	pl->n_events++;
	pl->total_ms += ms;
	if (ms > pl->max_ms)
		pl->max_ms = ms;
	if (rc == DTF_ETIMEOUT) {
		pl->n_timeouts++;
		pthread_mutex_unlock(&p->lock);
		/* c now belongs to the plugin's thread, which is still inside the call. */
		plugin_disable(pl, "the %s hook took longer than its %.1f s budget", what,
			       pl->hook_timeout_s);
		if (pl->exec)
			exec_plugin_kill(pl->exec); /* a program that does not read its input */
		return;
	}
	if (rc == DTF_ESTATE) {
		pthread_mutex_unlock(&p->lock);
		call_free(c);
		return;
	}
	if (rc != 0) {
		char why[PLUGIN_REASON_MAX], code[32];
		bool give_up;
		pl->n_errors++;
		pl->consecutive_errors++;
		give_up = pl->consecutive_errors >= pl->max_errors;
		snprintf(why, sizeof(why), "%s", c->err[0] ? c->err : pl->last_error);
		pthread_mutex_unlock(&p->lock);
		/* A plugin's own return code means something to its author; an exec plugin's is
		 * dtf's and the reason says it all. */
		if (pl->exec && why[0])
			snprintf(code, sizeof(code), ": ");
		else
			snprintf(code, sizeof(code), " (%d)%s", rc, why[0] ? ": " : "");
		if (give_up)
			plugin_disable(pl, "the %s hook failed%s%s", what, code, why);
		else
			log_warn("plugin %s: the %s hook failed%s%s", pl->name, what, code, why);
	} else {
		pl->consecutive_errors = 0;
		pthread_mutex_unlock(&p->lock);
	}
	call_free(c);
}

static void *dispatcher_main(void *arg)
{
	struct dtf_plugins *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct plugin_event *ev;
		size_t i;

		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->head)
			break;
		if (p->stopping && dtf_mono_ms() > p->drain_deadline_ms) {
			size_t left = p->qlen;
			while ((ev = p->head)) {
				p->head = ev->next;
				plugin_event_unref(ev);
			}
			p->tail = NULL;
			p->qlen = 0;
			p->qbytes = 0;
			p->dropped += left;
			log_warn("plugins: %zu events left undelivered at shutdown", left);
			break;
		}
		ev = p->head;
		p->head = ev->next;
		if (!p->head)
			p->tail = NULL;
		p->qlen--;
		p->qbytes -= ev->size;
		p->busy = true;
		pthread_mutex_unlock(&p->lock);
		make_envelope(ev);
		for (i = 0; i < p->n; i++) {
			struct dtf_plugin_ctx *pl = p->v[i];
			bool w;
			pthread_mutex_lock(&p->lock);
			w = wants(pl, ev);
			pthread_mutex_unlock(&p->lock);
			if (w)
				deliver_one(p, pl, ev);
		}
		plugin_event_unref(ev);
		pthread_mutex_lock(&p->lock);
		p->busy = false;
		p->delivered++;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int plugin_dispatcher_start(struct dtf_plugins *p)
{
	if (start_thread(&p->dispatcher, dispatcher_main, p) != 0)
		return DTF_ENOMEM;
	p->dispatcher_started = true;
	return 0;
}

/* ---- timers ---- */

static void *timer_main(void *arg)
{
	struct dtf_plugins *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->timer_quit) {
		int64_t now = dtf_mono_ms(), next = now + 1000;
		struct plugin_timer *t;

		for (t = p->timers; t; t = t->next) {
			if (t->done)
				continue;
			if (t->due_ms <= now) {
				if (!t->queued && !p->stopping) {
					struct plugin_event *ev = event_new(-1, NULL, -1, 0);
					if (ev) {
						ev->target = t->plugin;
						ev->timer_id = t->id;
						t->queued = true;
						enqueue_locked(p, ev);
					}
				}
				if (t->interval_ms)
					t->due_ms = now + t->interval_ms;
				else
					t->done = true;
			}
			if (!t->done && t->due_ms < next)
				next = t->due_ms;
		}
		cond_wait_until(&p->timer_cond, &p->lock, next);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

long long plugin_timer_add(struct dtf_plugin_ctx *pl, unsigned delay_ms, unsigned interval_ms,
			   int (*fn)(void *arg), void *arg)
{
	struct dtf_plugins *p = pl->owner;
	struct plugin_timer *t;
	long long id;

	if (!fn)
		return DTF_EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return DTF_ENOMEM;
	pthread_mutex_lock(&p->lock);
	if (pl->st != PS_ENABLED || p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(t);
		return DTF_ESTATE;
	}
	if (!p->timer_started) {
		if (start_thread(&p->timer_thread, timer_main, p) != 0) {
			pthread_mutex_unlock(&p->lock);
			free(t);
			return DTF_ENOMEM;
		}
		p->timer_started = true;
	}
	t->id = id = ++p->next_timer_id;
	t->plugin = pl->index;
	t->due_ms = dtf_mono_ms() + delay_ms;
	t->interval_ms = interval_ms;
	t->fn = fn;
	t->arg = arg;
	t->next = p->timers;
	p->timers = t;
	pthread_cond_broadcast(&p->timer_cond);
	pthread_mutex_unlock(&p->lock);
	return id;
}

int plugin_timer_cancel(struct dtf_plugin_ctx *pl, long long id)
{
	struct dtf_plugins *p = pl->owner;
	struct plugin_timer **tp;
	int rc = DTF_ENOTFOUND;

	pthread_mutex_lock(&p->lock);
	for (tp = &p->timers; *tp; tp = &(*tp)->next) {
		struct plugin_timer *t = *tp;
		if (t->id == id && t->plugin == pl->index) {
			*tp = t->next;
			free(t);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void plugin_dispatcher_stop(struct dtf_plugins *p)
{
	pthread_mutex_lock(&p->lock);
	p->timer_quit = true;
	pthread_cond_broadcast(&p->timer_cond);
	pthread_mutex_unlock(&p->lock);
	if (p->timer_started)
		pthread_join(p->timer_thread, NULL);
	p->timer_started = false;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	p->drain_deadline_ms = dtf_mono_ms() + (int64_t)(PLUGIN_DRAIN_S * 1000);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->dispatcher_started)
		pthread_join(p->dispatcher, NULL);
	p->dispatcher_started = false;
}
