/* gqlapi.h: the GraphQL front-end (docs/graphql.md): POST /graphql and GET /graphql?query=, on
 * the coordinator's port behind the same API keys as REST. It translates requests for the
 * engine in src/graphql/ and its resolvers call the core's operations (core/ops.h) under the
 * core's lock, the same calls and documents REST uses, so the two never disagree. */
#ifndef DTF_GQLAPI_GQLAPI_H
#define DTF_GQLAPI_GQLAPI_H

#include <jansson.h>

#include "graphql/exec.h"
#include "net/http.h"

struct coord;

/* The routes, ended by a NULL method; listed in frontends[] in coordinator/coordinator.c. */
extern const struct dtf_http_route gqlapi_routes[];

/* ---- between gqlapi.c and schema.c ---- */

struct ctask;

/* The tasks of a run (run_id "" for all), in submission order, collected once per request. */
struct gqlapi_tasks {
	char *run_id;
	struct ctask **ts;
	size_t n;
};

/* One request's state, the resolvers' app pointer. What a resolver builds from the core is
 * kept for the rest of the request, so that a document asking for the same list under many
 * aliases costs one core call, not one per alias; a mutation forgets it all first. */
struct gqlapi_ctx {
	struct coord *c;
	json_t *workers; /* worker views by id (an object) */
	json_t *memo;	 /* documents by what they are: "runs", "run:ID", "workers", ... */
	struct gqlapi_tasks *tasks;
	size_t ntasks;
	int role;	     /* the request's key's role (api_role; docs/auth.md) */
	const char *project; /* its project limit (api_project), NULL: every project */
};

/* Forgets what ctx keeps (a mutation changes it); gqlapi_ctx_release() also frees. */
void gqlapi_ctx_forget(struct gqlapi_ctx *g);
void gqlapi_ctx_release(struct gqlapi_ctx *g);

/* dtf's schema (schema.c). */
extern const struct gql_schema_def gqlapi_schema_def;

#endif
