/* api_scheduler.c: the scheduler's part of the REST API (GET and PUT /api/v1/scheduler). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "core/model.h"

#define MAX_SCHEDULER_BODY 4096

static json_t *describe(struct coord *c)
{
	return sx_describe(c->sx, c->plugins, c->cfg.batch_processing, c->cfg.batch_size_limit,
			   c->pending_count);
}

void api_h_scheduler_get(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);

	pthread_mutex_lock(&c->lock);
	dtf_http_reply_json(r, 200, describe(c));
	pthread_mutex_unlock(&c->lock);
}

void api_h_scheduler_put(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
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
	if (!lease_index(c) || sx_set_strategy(c->sx, c->plugins, name, err, sizeof(err)) != 0) {
		if (!c->sx)
			snprintf(err, sizeof(err), "out of memory");
		dtf_http_reply_error(r, 400, "unknown_strategy", "%s", err);
	} else {
		dtf_http_reply_json(r, 200, describe(c));
		lease_wake(c); /* the new order may hand work to a waiting worker */
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(body);
}
