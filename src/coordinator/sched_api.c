/* sched_api.c: the scheduler's part of the REST API (GET and PUT /api/v1/scheduler), its
 * /metrics lines, and what a passed task teaches it (the duration history). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "coordinator/coordinator.h"

#include "common/banned.h"

#define MAX_SCHEDULER_BODY 4096

static json_t *describe(struct coord *c)
{
	return sx_describe(c->sx, c->plugins, c->cfg.batch_processing, c->cfg.batch_size_limit,
			   c->pending_count);
}

void coord_h_scheduler_get(struct dtf_http_req *r)
{
	struct coord *c = r->app;

	pthread_mutex_lock(&c->lock);
	dtf_http_reply_json(r, 200, describe(c));
	pthread_mutex_unlock(&c->lock);
}

void coord_h_scheduler_put(struct dtf_http_req *r)
{
	struct coord *c = r->app;
	char err[300];
	json_t *body;
	const char *name;

	if (r->body_len == 0 || r->body_len > MAX_SCHEDULER_BODY) {
		dtf_http_reply_error(r, r->body_len ? 413 : 400, "invalid_scheduler",
				     "the body is a JSON object {\"strategy\": NAME} of at most %d "
				     "bytes",
				     MAX_SCHEDULER_BODY);
		return;
	}
	body = dtf_json_parse(r->body, r->body_len, err, sizeof(err));
	if (!body) {
		dtf_http_reply_error(r, 400, "malformed_json", "malformed JSON: %s", err);
		return;
	}
	name = dtf_json_str(body, "strategy", NULL);
	if (!json_is_object(body) || !name || json_object_size(body) != 1) {
		dtf_http_reply_error(r, 400, "invalid_scheduler",
				     "the body must be {\"strategy\": NAME} and nothing else");
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (!sched_sx(c) || sx_set_strategy(c->sx, c->plugins, name, err, sizeof(err)) != 0) {
		if (!c->sx)
			snprintf(err, sizeof(err), "out of memory");
		dtf_http_reply_error(r, 400, "unknown_strategy", "%s", err);
	} else {
		dtf_http_reply_json(r, 200, describe(c));
		sched_wake(c); /* the new order may hand work to a waiting worker */
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}

int coord_sched_metrics(struct coord *c, struct dtf_prom *pm)
{
	return sx_metrics(c->sx, pm);
}

void coord_task_passed(struct coord *c, struct ctask *t, struct cworker *w, const json_t *result)
{
	json_t *d = json_object_get(result, "duration_s");
	double s = json_is_number(d) ? json_number_value(d)
				     : (double)(sx_now_ms(c->sx) - t->assigned_ms) / 1000.0;

	if (isfinite(s) && s >= 0)
		sx_record_duration(c->sx, &t->sx, sched_worker_hw(w), s);
}
