/* gqlapi.c: the GraphQL front-end's HTTP side: POST /graphql with a JSON body {"query",
 * "variables"?, "operationName"?} (or a body of Content-Type application/graphql that is the
 * query itself), and GET /graphql?query=&variables=&operationName= for queries. A GraphQL error
 * (syntax, validation, a field's) is HTTP 200 with "errors"; a body that is not a GraphQL request
 * is 400, a mutation over GET 405. Execution holds the core's lock; the reply is written after it
 * is let go, and a mutation's reply waits for the group commit like any REST change (api.c's
 * hold() asks before every reply). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/json.h"
#include "common/log.h"
#include "core/model.h"
#include "gqlapi/gqlapi.h"

/* Fields selected, those under a paged list counted once per item asked for: the seed's query
 * of 1,000 tasks with their workers and results (15,001) passes, the whole store does
 * not. */
#define GQLAPI_MAX_COST 25000
/* Fields really executed, lists without "first" (introspection's) included: the full
 * introspection query executes about 3,000; 50,000 hold the core's lock some 30 ms at most. */
#define GQLAPI_MAX_FIELDS 50000

static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static struct gql_schema *schema;

static void schema_build(void)
{
	char err[300];

	if (gql_schema_new(&gqlapi_schema_def, &schema, err, sizeof(err)))
		dtf_log(DTF_LOG_ERROR, "the GraphQL schema does not build: %s", err);
}

/* 400 and the like: a body that is not a GraphQL request, in the response shape all the same. */
static void reply_bad(struct dtf_http_req *r, unsigned status, const char *msg)
{
	dtf_http_reply_json(r, status, json_pack("{s:[{s:s}]}", "errors", "message", msg));
}

static void begin(void *app, enum gql_operation_type op)
{
	struct gqlapi_ctx *g = app;

	(void)op;
	pthread_mutex_lock(&g->c->lock);
}

static void end(void *app)
{
	struct gqlapi_ctx *g = app;

	pthread_mutex_unlock(&g->c->lock);
}

static void execute(struct dtf_http_req *r, const char *query, const json_t *variables,
		    const char *op_name, bool get)
{
	struct gqlapi_ctx g = {api_core(r), json_object(), json_object(), NULL,
			       0,	    api_role(r),   api_project(r)};
	struct gql_request rq;
	struct gql_outcome out;
	json_t *resp;

	pthread_once(&schema_once, schema_build);
	if (!schema) {
		reply_bad(r, 500,
			  "the GraphQL schema is not available (see the coordinator's log)");
		gqlapi_ctx_release(&g);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.query = query;
	rq.query_len = strlen(query);
	rq.variables = variables;
	rq.operation_name = op_name;
	rq.queries_only = get;
	rq.max_cost = GQLAPI_MAX_COST;
	rq.max_fields = GQLAPI_MAX_FIELDS;
	rq.app = &g;
	rq.begin = begin;
	rq.end = end;
	resp = gql_execute(schema, &rq, &out);
	gqlapi_ctx_release(&g);
	if (!resp) {
		reply_bad(r, 503, "out of memory");
		return;
	}
	if (out.not_allowed) {
		r->extra_header[0] = "Allow";
		r->extra_header[1] = "POST";
		dtf_http_reply_json(r, 405, resp);
		return;
	}
	dtf_http_reply_json(r, 200, resp);
}

/* variables as a request gives them: an object, null or absent; else NULL after a 400. */
static bool variables_ok(struct dtf_http_req *r, const json_t *v)
{
	if (!v || json_is_null(v) || json_is_object(v))
		return true;
	reply_bad(r, 400, "'variables' must be an object");
	return false;
}

static void h_post(struct dtf_http_req *r)
{
	const char *ct = dtf_http_header(r, "Content-Type");
	char err[200];
	json_t *body, *q, *vars, *op;

	if (r->body_len == 0) {
		reply_bad(r, 400, "the request needs a body: {\"query\": ...}");
		return;
	}
	if (ct && strncmp(ct, "application/graphql", 19) == 0 && ct[19] != '-') {
		if (strlen(r->body) != r->body_len) {
			reply_bad(r, 400, "the query holds a NUL byte");
			return;
		}
		execute(r, r->body, NULL, NULL, false);
		return;
	}
	body = dtf_json_parse(r->body, r->body_len, err, sizeof(err));
	if (!body) {
		char msg[300];
		snprintf(msg, sizeof(msg), "the body is not JSON: %s", err);
		reply_bad(r, 400, msg);
		return;
	}
	q = json_object_get(body, "query");
	vars = json_object_get(body, "variables");
	op = json_object_get(body, "operationName");
	if (!json_is_object(body) || !json_is_string(q)) {
		reply_bad(r, 400, "the body must be an object with a string 'query'");
	} else if (op && !json_is_null(op) && !json_is_string(op)) {
		reply_bad(r, 400, "'operationName' must be a string");
	} else if (strlen(json_string_value(q)) != json_string_length(q)) {
		reply_bad(r, 400, "the query holds a NUL character");
	} else if (variables_ok(r, vars)) {
		execute(r, json_string_value(q), json_is_object(vars) ? vars : NULL,
			json_string_value(op), false);
	}
	json_decref(body);
}

static void h_get(struct dtf_http_req *r)
{
	const char *q = dtf_http_query(r, "query"), *vs = dtf_http_query(r, "variables");
	json_t *vars = NULL;
	char err[200];

	if (!q) {
		reply_bad(r, 400, "GET /graphql needs ?query=");
		return;
	}
	if (vs && *vs) {
		vars = dtf_json_parse(vs, strlen(vs), err, sizeof(err));
		if (!vars) {
			char msg[300];
			snprintf(msg, sizeof(msg), "'variables' is not JSON: %s", err);
			reply_bad(r, 400, msg);
			return;
		}
	}
	if (variables_ok(r, vars))
		execute(r, q, json_is_object(vars) ? vars : NULL,
			dtf_http_query(r, "operationName"), true);
	json_decref(vars);
}

const struct dtf_http_route gqlapi_routes[] = {
    /* Read is enough to reach it: each mutation checks the role it needs (schema.c). */
    {"POST", "/graphql", h_post, DTF_ROUTE_READ},
    {"GET", "/graphql", h_get, DTF_ROUTE_READ},
    {NULL, NULL, NULL, 0},
};
