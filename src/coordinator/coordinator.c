/* coordinator.c: starting and stopping the coordinator, and its tick thread: workers silent past
 * the heartbeat timeout are declared lost (their tasks requeued), and long-polls past their
 * deadline are answered with no tasks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "coordinator/coordinator.h"

static void tick(struct coord *c)
{
	int64_t now = dtf_mono_ms();
	int64_t timeout_ms = (int64_t)(c->cfg.heartbeat_timeout_s * 1000);
	size_t pos = 0;
	const char *k;
	void *v;
	bool lost_any = false;

	pthread_mutex_lock(&c->lock);
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		if (w->waiter && now >= w->waiter_deadline_ms) {
			struct dtf_http_req *r = w->waiter;
			w->waiter = NULL;
			dtf_http_reply_json(r, 200, sched_lease_reply(w, json_array()));
			dtf_http_resume(r);
		}
		if (w->status != WS_LOST && now - w->last_seen_ms > timeout_ms) {
			char why[128];
			snprintf(why, sizeof(why), "no heartbeat for %.1f s",
				 (double)(now - w->last_seen_ms) / 1000.0);
			if (state_begin(c) == 0) {
				state_worker_lost(c, w, why);
				state_commit(c);
				lost_any = true;
			}
		}
	}
	if (lost_any)
		sched_wake(c);
	state_backoff_tick(c);
	recovery_tick(c);
	if (c->run_waiters)
		coord_run_waiters_check(c, true);
	pthread_mutex_unlock(&c->lock);
}

static void *tick_main(void *arg)
{
	struct coord *c = arg;
	int n = 0;

	while (!c->stopping) {
		usleep(100 * 1000);
		tick(c);
		if (++n % 150 == 0) /* every 15 s, so proxies keep idle event streams open */
			dtf_events_keepalive(c->events);
	}
	return NULL;
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
	dtf_events_publish(c->events, "custom", NULL, e);
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

	return sec ? sec : json_object_get(json_object_get(cfg->config_doc, "coordinator"),
					   "scheduler");
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

	return sched_init(c, sched_section(&c->cfg), sx_builtin(want) ? want : "priority", err,
			  errlen);
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

struct coord *coord_start(const struct coord_config *cfg, char *err, size_t errlen)
{
	struct coord *c = calloc(1, sizeof(*c));
	struct dtf_http_config hc;

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
	dtf_hmap_init(&c->tasks);
	dtf_hmap_init(&c->workers);
	dtf_hmap_init(&c->runs);
	c->next_seq = 1;
	c->started_wall_ms = dtf_wall_ms();
	raise_fd_limit();
	if (constraints_registry_new(cfg->config_doc, cfg->default_constraints, &c->constraints, err,
				     errlen) != 0)
		goto fail;
	c->store = dtf_store_open(cfg->db_path, err, errlen);
	if (!c->store)
		goto fail;
	if (c->cfg.quarantine_threshold == 0)
		c->cfg.quarantine_threshold = 3;
	if (c->cfg.quarantine_s <= 0)
		c->cfg.quarantine_s = 600;
	pthread_mutex_lock(&c->lock);
	if (coord_sched_init(c, err, errlen) != 0) {
		pthread_mutex_unlock(&c->lock);
		goto fail;
	}
	if (recovery_load(c) != 0 || state_load(c) != 0) {
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
		struct dtf_plugins *ps = dtf_plugins_load(cfg->config_doc, cfg->config_path, &hi,
							  err, errlen);
		if (!ps)
			goto fail;
		pthread_mutex_lock(&c->lock);
		c->plugins = ps;
		if (coord_sched_plugin(c, err, errlen) != 0) {
			pthread_mutex_unlock(&c->lock);
			goto fail;
		}
		pthread_mutex_unlock(&c->lock);
	}
	memset(&hc, 0, sizeof(hc));
	hc.host = cfg->host;
	hc.port = cfg->port;
	hc.routes = coord_routes;
	hc.app = c;
	hc.api_keys = cfg->api_keys;
	hc.on_done = coord_on_done;
	hc.tls_cert = cfg->tls_cert;
	hc.tls_key = cfg->tls_key;
	hc.hold = coord_hold;
	hc.after_run = coord_after_run;
	c->http = dtf_http_server_start(&hc, err, errlen);
	if (!c->http)
		goto fail;
	if (pthread_create(&c->tick, NULL, tick_main, c) != 0) {
		snprintf(err, errlen, "cannot start the tick thread");
		goto fail;
	}
	c->tick_running = true;
	{
		char ts[32], url[300];
		json_t *ev;
		dtf_rfc3339(dtf_wall_ms(), ts);
		snprintf(url, sizeof(url), "http%s://%s:%u", cfg->tls_cert ? "s" : "",
			 cfg->host && *cfg->host ? cfg->host : "127.0.0.1", coord_port(c));
		ev = json_pack("{s:s,s:s,s:s}", "time", ts, "version", "0.1.0", "url", url);
		dtf_plugins_fire(c->plugins, DTF_HOOK_COORDINATOR_STARTUP, ev);
		json_decref(ev);
	}
	return c;
fail:
	coord_stop(c);
	return NULL;
}

unsigned coord_port(const struct coord *c)
{
	return dtf_http_server_port(c->http);
}

void coord_stop(struct coord *c)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (!c)
		return;
	c->stopping = true;
	if (c->tick_running)
		pthread_join(c->tick, NULL);
	if (c->plugins) {
		char ts[32];
		json_t *ev;
		dtf_rfc3339(dtf_wall_ms(), ts);
		ev = json_pack("{s:s}", "time", ts);
		dtf_plugins_fire(c->plugins, DTF_HOOK_COORDINATOR_SHUTDOWN, ev);
		json_decref(ev);
	}
	if (c->http) {
		pthread_mutex_lock(&c->lock);
		while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
			struct cworker *w = v;
			if (w->waiter) {
				struct dtf_http_req *r = w->waiter;
				w->waiter = NULL;
				dtf_http_reply_error(r, 503, "shutting_down",
						     "the coordinator is shutting down");
				dtf_http_resume(r);
			}
		}
		coord_run_waiters_end(c);
		pthread_mutex_unlock(&c->lock);
		dtf_events_close(c->events);
		dtf_http_server_stop(c->http);
	}
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
	if (c->store && c->sx && state_begin(c) == 0) {
		sx_history_persist(c->sx, true);
		if (state_commit_now(c))
			log_warn("store: the last duration history was not saved: %s", c->store->error);
	}
	sx_free(c->sx);
	c->sx = NULL;
	state_free_all(c);
	free(c->gc_held);
	dtf_store_close(c->store);
	constraints_registry_free(c->constraints);
	free(c->rhist);
	json_decref(c->blocked_hw);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
