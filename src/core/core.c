/* core.c: the coordinator core's life: a new core from a configuration (the store opened, the
 * state loaded, the scheduler and the plugins set up), its tick (liveness, long-poll and backoff
 * deadlines, recovery), and its end. What a transport adds (a server, its thread) is the
 * front-end's and coordinator.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "core/model.h"
#include "core/outbox.h"

/* Ends the suspended leases whose wait is over: only the workers listed as waiting. */
static void end_waits(struct coord *c, int64_t now)
{
	size_t i, nw;
	struct sx_worker **ws = sx_waiting(c->sx, &nw);

	for (i = 0; i < nw; i++) {
		struct cworker *w = cworker_of(ws[i]);
		if (w->waiter && now >= w->waiter_deadline_ms)
			lease_end(c, w, 0, NULL, NULL);
	}
}

void core_tick(struct coord *c)
{
	int64_t now = dtf_mono_ms();
	int64_t timeout_ms = (int64_t)(c->cfg.heartbeat_timeout_s * 1000);
	int64_t next = INT64_MAX;
	size_t pos = 0;
	const char *k;
	void *v;
	bool lost_any = false;

	pthread_mutex_lock(&c->lock);
	end_waits(c, now);
	/* Every worker only when a heartbeat can have run out since the last walk: with 10,000
	 * workers the walk held the lock half a millisecond, ten times a second. */
	if (!c->hb_check_ms || now >= c->hb_check_ms) {
		while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
			struct cworker *w = v;
			if (w->status == WS_LOST)
				continue;
			if (now - w->last_seen_ms > timeout_ms) {
				char why[128];
				snprintf(why, sizeof(why), "no heartbeat for %.1f s",
					 (double)(now - w->last_seen_ms) / 1000.0);
				if (txn_begin(c) == 0) {
					state_worker_lost(c, w, why);
					txn_commit(c);
					lost_any = true;
				} else {
					next = now; /* the store failed: again at the next tick */
				}
			} else if (w->last_seen_ms + timeout_ms + 1 < next) {
				next = w->last_seen_ms + timeout_ms + 1;
			}
		}
		c->hb_check_ms = next;
	}
	if (lost_any)
		lease_wake(c);
	state_backoff_tick(c);
	recovery_tick(c);
	if (c->run_waiters)
		core_summary_check(c, true);
	pthread_mutex_unlock(&c->lock);
}

/* ---- what plugins may ask of the coordinator (called from the plugins' threads) ---- */

static char *plugin_task_json(void *arg, const char *id)
{
	struct coord *c = arg;
	struct ctask *t;
	char *s = NULL;

	pthread_mutex_lock(&c->lock);
	t = dtf_hmap_get(&c->tasks, id);
	if (t)
		s = json_dumps(task_doc(t), JSON_COMPACT);
	pthread_mutex_unlock(&c->lock);
	return s;
}

static char *plugin_worker_json(void *arg, const char *id)
{
	struct coord *c = arg;
	struct cworker *w;
	char *s = NULL;

	pthread_mutex_lock(&c->lock);
	w = dtf_hmap_get(&c->workers, id);
	if (w) {
		json_t *v = state_worker_view(w);
		s = json_dumps(v, JSON_COMPACT);
		json_decref(v);
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

static void plugin_emit(void *arg, const char *name, const json_t *data)
{
	struct coord *c = arg;
	json_t *e;

	if (!c->events)
		return;
	e = json_pack("{s:s,s:O}", "name", name, "data", (json_t *)data);
	/* A plugin's event is of no known project: readers limited to one do not see it. */
	dtf_events_publish(c->events, "custom", NULL, "", e);
	json_decref(e);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The configuration's scheduler section: top level, or under coordinator. */
static const json_t *sched_section(const struct coord_config *cfg)
{
	const json_t *sec = json_object_get(cfg->config_doc, "scheduler");

	return sec ? sec
		   : json_object_get(json_object_get(cfg->config_doc, "coordinator"), "scheduler");
}

/* The strategy asked for (--strategy, else scheduler.strategy), or NULL. */
static const char *sched_wanted(const struct coord_config *cfg)
{
	return cfg->strategy ? cfg->strategy
			     : json_string_value(json_object_get(sched_section(cfg), "strategy"));
}

/* Sets up the scheduler before the state is loaded: a built-in strategy at once; one a plugin
 * offers starts as priority and is chosen once plugins are loaded. */
static int coord_sched_init(struct coord *c, char *err, size_t errlen)
{
	const char *want = sched_wanted(&c->cfg);

	return lease_index_init(c, sched_section(&c->cfg), sx_builtin(want) ? want : "priority",
				err, errlen);
}

static int coord_sched_plugin(struct coord *c, char *err, size_t errlen)
{
	const char *want = sched_wanted(&c->cfg);
	char why[256];

	if (!want || sx_builtin(want))
		return 0;
	if (sx_set_strategy(c->sx, c->plugins, want, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "scheduler.strategy: %s", why);
		return DTF_EINVAL;
	}
	return 0;
}

struct coord *core_new(const struct coord_config *cfg, char *err, size_t errlen)
{
	struct coord *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	if (c->cfg.heartbeat_interval_s <= 0)
		c->cfg.heartbeat_interval_s = 2;
	if (c->cfg.heartbeat_timeout_s <= 0)
		c->cfg.heartbeat_timeout_s = 15;
	if (c->cfg.default_timeout_s <= 0)
		c->cfg.default_timeout_s = 3600;
	pthread_mutex_init(&c->lock, NULL);
	dtf_hmap_init_borrowed(&c->tasks); /* keyed by each task's own id */
	dtf_hmap_init(&c->workers);
	dtf_hmap_init(&c->runs);
	c->next_seq = 1;
	c->started_wall_ms = dtf_wall_ms();
	raise_fd_limit();
	if (constraints_registry_new(cfg->config_doc, cfg->default_constraints, &c->constraints,
				     err, errlen) != 0)
		goto fail;
	c->store = cfg->leader_epoch > 0
		       ? dtf_store_open_fenced(cfg->db_path, cfg->leader_epoch, err, errlen)
		       : dtf_store_open(cfg->db_path, err, errlen);
	if (!c->store)
		goto fail;
	if (c->cfg.quarantine_s <= 0)
		c->cfg.quarantine_s = 600;
	pthread_mutex_lock(&c->lock);
	if (coord_sched_init(c, err, errlen) != 0) {
		pthread_mutex_unlock(&c->lock);
		goto fail;
	}
	if (recovery_load(c) != 0 || state_load(c) != 0 || browsers_load(c) != 0) {
		pthread_mutex_unlock(&c->lock);
		snprintf(err, errlen, "cannot load the state from %s: %s", cfg->db_path,
			 c->store->error);
		goto fail;
	}
	c->events = dtf_events_new();
	pthread_mutex_unlock(&c->lock);
	{
		struct dtf_plugin_host_impl hi = {
		    .arg = c,
		    .role = "coordinator",
		    .get_task_json = plugin_task_json,
		    .get_worker_json = plugin_worker_json,
		    .emit_event = plugin_emit,
		};
		struct dtf_plugins *ps =
		    dtf_plugins_load(cfg->config_doc, cfg->config_path, &hi, err, errlen);
		if (!ps)
			goto fail;
		pthread_mutex_lock(&c->lock);
		c->plugins = ps;
		if (coord_sched_plugin(c, err, errlen) != 0) {
			pthread_mutex_unlock(&c->lock);
			goto fail;
		}
		/* After the plugins: a channel's type may be one a plugin offers. */
		if (outbox_open(c, err, errlen) != 0) {
			pthread_mutex_unlock(&c->lock);
			goto fail;
		}
		pthread_mutex_unlock(&c->lock);
	}
	return c;
fail:
	core_free(c);
	return NULL;
}

void core_end_waiting(struct coord *c)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
		lease_end(c, v, DTF_ESHUTDOWN, "shutting_down", "the coordinator is shutting down");
	core_summary_end(c);
}

void core_free(struct coord *c)
{
	if (!c)
		return;
	/* After the server (no handler fires any more), before the state (plugins may still
	 * read tasks while the last events are delivered). Not under c->lock. */
	{
		struct dtf_plugins *ps = c->plugins;
		pthread_mutex_lock(&c->lock);
		c->plugins = NULL;
		pthread_mutex_unlock(&c->lock);
		dtf_plugins_free(ps);
	}
	dtf_events_free(c->events);
	/* The duration history not written yet goes in with a last commit. */
	if (c->store && c->sx && txn_begin(c) == 0) {
		sx_history_persist(c->sx, true);
		if (txn_commit_now(c))
			log_warn("store: the last duration history was not saved: %s",
				 c->store->error);
	}
	sx_free(c->sx);
	c->sx = NULL;
	outbox_free(c);
	state_free_all(c);
	dtf_store_close(c->store);
	constraints_registry_free(c->constraints);
	free(c->rhist);
	json_decref(c->blocked_hw);
	json_decref(c->auth.revoked);
	json_decref(c->browser_perf);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
