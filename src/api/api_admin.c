/* api_admin.c: the REST API's health check, plugin list and event stream (GET /api/v1/events as
 * server-sent events over the core's event stream). The scheduler's and recovery's admin calls
 * are in api_scheduler.c and api_recovery.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/err.h"
#include "core/model.h"

void api_h_healthz(struct dtf_http_req *r)
{
	json_t *body = json_pack("{s:s,s:i}", "status", "ok", "protocol", DTF_PROTOCOL_VERSION);
	int64_t epoch = api_core(r)->cfg.leader_epoch;

	/* One of several coordinators on a database: the leader says so (a standby answers 503
	 * with role "standby", coordinator.c), so that a load balancer can tell them apart. */
	if (epoch > 0) {
		json_object_set_new(body, "role", json_string("leader"));
		json_object_set_new(body, "epoch", json_integer(epoch));
	}
	dtf_http_reply_json(r, 200, body);
}

void api_h_plugins(struct dtf_http_req *r)
{
	dtf_http_reply_json(r, 200, dtf_plugins_list(api_core(r)->plugins));
}

/* ---- the event stream ---- */

static void stream_pause(void *arg)
{
	dtf_http_conn_pause(arg);
}

static void stream_wake(void *arg)
{
	dtf_http_conn_resume(arg);
}

static long stream_read(void *cls, char *buf, size_t max)
{
	return dtf_events_read(cls, buf, max);
}

static void stream_free(void *cls)
{
	dtf_events_unsubscribe(cls);
}

/* GET /api/v1/events[?run_id=R]: the stream from now, or from after the Last-Event-ID a client
 * that reconnects sends. */
void api_h_events(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	int err = 0;
	struct dtf_events_sub *sub = dtf_events_subscribe(
	    c->events, dtf_http_query(r, "run_id"), api_project(r),
	    dtf_http_header(r, "Last-Event-ID"), stream_pause, stream_wake, r->conn, &err);

	if (!sub) {
		if (err == DTF_EINVAL)
			dtf_http_reply_error(r, 400, "invalid_run", "run_id is too long");
		else if (err == DTF_ETOOBIG)
			dtf_http_reply_error(r, 503, "too_many_streams", "at most %d event streams",
					     DTF_EVENTS_MAX_CLIENTS);
		else
			dtf_http_reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = "text/event-stream";
	r->stream = stream_read;
	r->stream_free = stream_free;
	r->stream_cls = sub;
}
