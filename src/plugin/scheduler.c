/* sched.c: scheduler plugins on the coordinator's lease path: which strategies the enabled
 * scheduler plugins offer, and calling their order(). Unlike hooks, order() is called on the
 * calling thread (the lease is answered with its result), so it must be quick. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "plugin/internal.h"

/* The enabled plugin offering strategy, or NULL. Called with p->lock held. */
static struct dtf_plugin_ctx *scheduler_for(struct dtf_plugins *p, const char *strategy)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		if (pl->st == PS_ENABLED && pl->has_scheduler && pl->scheduler.order &&
		    pl->scheduler.strategy && strcmp(pl->scheduler.strategy, strategy) == 0)
			return pl;
	}
	return NULL;
}

bool dtf_plugins_has_strategy(struct dtf_plugins *p, const char *name)
{
	bool found;

	if (!p || !name)
		return false;
	pthread_mutex_lock(&p->lock);
	found = scheduler_for(p, name) != NULL;
	pthread_mutex_unlock(&p->lock);
	return found;
}

json_t *dtf_plugins_strategies(struct dtf_plugins *p)
{
	json_t *out = json_array();
	size_t i;

	if (!p)
		return out;
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->n; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		if (pl->st != PS_ENABLED || !pl->has_scheduler || !pl->scheduler.order ||
		    !pl->scheduler.strategy)
			continue;
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s}", "name",
						     pl->scheduler.strategy, "description",
						     pl->description ? pl->description : "",
						     "source", "plugin", "plugin", pl->name));
	}
	pthread_mutex_unlock(&p->lock);
	return out;
}

int dtf_plugins_order(struct dtf_plugins *p, const char *strategy, const char *worker_json,
		      const char *tasks_json, size_t n, size_t *order)
{
	struct dtf_plugin_ctx *pl;
	unsigned char *seen;
	size_t i;
	int rc;

	if (!p || !strategy)
		return DTF_ENOTFOUND;
	pthread_mutex_lock(&p->lock);
	pl = scheduler_for(p, strategy);
	pthread_mutex_unlock(&p->lock);
	if (!pl)
		return DTF_ENOTFOUND;
	rc = pl->scheduler.order(pl->state, worker_json, tasks_json, n, order);
	if (rc < 0 || (size_t)rc > n) {
		log_warn("plugin %s: order() returned %d for %zu tasks", pl->name, rc, n);
		return DTF_EPROTO;
	}
	seen = calloc(n ? n : 1, 1);
	if (!seen)
		return DTF_ENOMEM;
	for (i = 0; i < (size_t)rc; i++) {
		if (order[i] >= n || seen[order[i]]) {
			log_warn("plugin %s: order() wrote a bad or repeated index", pl->name);
			free(seen);
			return DTF_EPROTO;
		}
		seen[order[i]] = 1;
	}
	free(seen);
	return rc;
}
