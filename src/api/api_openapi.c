/* api_openapi.c: GET /api/v1/openapi.json, the OpenAPI 3.1 description of the REST API. The
 * description is docs/openapi.json, embedded at build time (CMakeLists.txt, scripts/embed_text.py)
 * so that the file in the repository is its one source; tests/unit/test_openapi.c checks that it
 * describes exactly the routes of api_routes[]. */
#include <string.h>

#include "api/api.h"
#include "common/buf.h"

#include "openapi_json.inc"

void api_h_openapi(struct dtf_http_req *r)
{
	/* Sent as it is: parsing and re-serializing it per request would only cost time. */
	dtf_buf_reset(&r->resp);
	if (dtf_buf_add(&r->resp, dtf_openapi_json, strlen(dtf_openapi_json))) {
		dtf_http_reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	r->content_type = "application/json";
	r->status = 200;
}
