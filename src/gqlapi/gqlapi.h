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

/* One request's state, the resolvers' app pointer. */
struct gqlapi_ctx {
	struct coord *c;
	json_t *workers; /* worker views by id, looked up once per request (an object) */
	int role;	 /* the request's key's role (api_role; docs/auth.md) */
};

/* dtf's schema (schema.c). */
extern const struct gql_schema_def gqlapi_schema_def;

#endif
