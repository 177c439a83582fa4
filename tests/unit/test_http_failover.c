/* test_http_failover.c: unit tests of the HTTP client's list of coordinators (src/net/client.c):
 * which lists it accepts, a call that moves from a coordinator that refuses connections to a
 * standby's hint and on to the leader, the leader remembered by the process's next client, and a
 * hint outside the list not followed. The coordinators are real servers (src/net/server.c) on
 * loopback ports: a standby answering everything with a redirect ("*" routes), and a leader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "net/http.h"
#include "unit_main.h"

/* Where the standby's redirect points (set by each test before its call). */
static char hint[128];
static int standby_hits, leader_hits;

static void standby_any(struct dtf_http_req *r)
{
	standby_hits++;
	dtf_http_add_header(r, "Location", hint);
	dtf_http_reply_json(r, 307,
			    json_pack("{s:{s:s,s:s},s:s}", "error", "code", "not_leader", "message",
				      "a standby", "leader", hint));
}

static void leader_any(struct dtf_http_req *r)
{
	leader_hits++;
	dtf_http_reply_json(r, 200, json_pack("{s:s,s:s}", "role", "leader", "method", r->method));
}

static const struct dtf_http_route standby_routes[] = {
    {"*", "*", standby_any, DTF_ROUTE_OPEN},
    {NULL, NULL, NULL, 0},
};

static const struct dtf_http_route leader_routes[] = {
    {"*", "*", leader_any, DTF_ROUTE_OPEN},
    {NULL, NULL, NULL, 0},
};

struct pair {
	struct dtf_http_server *standby, *leader;
	char standby_url[64], leader_url[64];
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	struct dtf_http_config sc = {.routes = standby_routes}, lc = {.routes = leader_routes};
	char err[256];

	if (!p)
		return -1;
	p->standby = dtf_http_server_start(&sc, err, sizeof(err));
	p->leader = dtf_http_server_start(&lc, err, sizeof(err));
	if (!p->standby || !p->leader)
		return -1;
	snprintf(p->standby_url, sizeof(p->standby_url), "http://127.0.0.1:%u",
		 dtf_http_server_port(p->standby));
	snprintf(p->leader_url, sizeof(p->leader_url), "http://127.0.0.1:%u",
		 dtf_http_server_port(p->leader));
	standby_hits = leader_hits = 0;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	dtf_http_server_stop(p->standby);
	dtf_http_server_stop(p->leader);
	free(p);
	return 0;
}

static void test_lists_accepted_or_refused(void **state)
{
	struct dtf_http_client c;

	(void)state;
	assert_int_equal(dtf_http_client_init(&c, "http://a:1, http://b:2/", NULL), 0);
	assert_int_equal(c.nurls, 2);
	assert_string_equal(c.base, "http://a:1");
	dtf_http_client_release(&c);
	assert_int_equal(dtf_http_client_init(&c, "http://a:1,,http://b:2", NULL), DTF_EINVAL);
	dtf_http_client_release(&c);
	assert_int_equal(dtf_http_client_init(&c, "http://a:1,", NULL), DTF_EINVAL);
	dtf_http_client_release(&c);
	assert_int_equal(dtf_http_client_init(&c, "http://a:1,ftp://b", NULL), DTF_EINVAL);
	dtf_http_client_release(&c);
	assert_int_equal(dtf_http_client_init(&c,
					      "http://1,http://2,http://3,http://4,http://5,"
					      "http://6,http://7,http://8,http://9",
					      NULL),
			 DTF_EINVAL);
	dtf_http_client_release(&c);
	/* One URL: no list. */
	assert_int_equal(dtf_http_client_init(&c, "http://a:1", NULL), 0);
	assert_int_equal(c.nurls, 0);
	dtf_http_client_release(&c);
}

/* Refused, then a standby's hint, then the leader: one call; the body goes along each time. */
static void test_follows_the_leader(void **state)
{
	struct pair *p = *state;
	struct dtf_http_client c, c2;
	char list[256];
	json_t *resp = NULL, *body = json_pack("{s:i}", "n", 1);

	snprintf(hint, sizeof(hint), "%s", p->leader_url);
	/* Port 1: nothing listens there, the connection is refused. */
	snprintf(list, sizeof(list), "http://127.0.0.1:1,%s,%s", p->standby_url, p->leader_url);
	assert_int_equal(dtf_http_client_init(&c, list, NULL), 0);
	assert_int_equal(dtf_http_call(&c, "POST", "/api/v1/tasks", body, 5000, &resp), 0);
	assert_string_equal(json_string_value(json_object_get(resp, "method")), "POST");
	assert_string_equal(c.base, p->leader_url);
	assert_int_equal(standby_hits, 1);
	assert_int_equal(leader_hits, 1);
	json_decref(resp);
	/* The process's next client of the same list starts at the leader. */
	assert_int_equal(dtf_http_client_init(&c2, list, NULL), 0);
	assert_string_equal(c2.base, p->leader_url);
	assert_int_equal(dtf_http_call(&c2, "GET", "/healthz", NULL, 5000, NULL), 0);
	assert_int_equal(standby_hits, 1);
	assert_int_equal(leader_hits, 2);
	dtf_http_client_release(&c2);
	dtf_http_client_release(&c);
	json_decref(body);
}

/* A hint naming a URL that is not in the list is not followed: the next URL is tried, and when
 * every one failed the caller gets the last answer. */
static void test_hint_outside_list_ignored(void **state)
{
	struct pair *p = *state;
	struct dtf_http_client c;
	char list[256];

	snprintf(hint, sizeof(hint), "http://elsewhere.example:9");
	snprintf(list, sizeof(list), "%s,http://127.0.0.1:1", p->standby_url);
	assert_int_equal(dtf_http_client_init(&c, list, NULL), 0);
	assert_int_equal(dtf_http_call(&c, "GET", "/x", NULL, 5000, NULL), DTF_ENET);
	assert_int_equal(standby_hits, 1);
	assert_int_equal(leader_hits, 0);
	dtf_http_client_release(&c);
	/* Ending on a standby: none of the list leads, which the caller retries as unreachable. */
	snprintf(list, sizeof(list), "http://127.0.0.1:1,%s", p->standby_url);
	assert_int_equal(dtf_http_client_init(&c, list, NULL), 0);
	assert_int_equal(dtf_http_call(&c, "GET", "/x", NULL, 5000, NULL), DTF_ENET);
	assert_int_equal(c.status, 307);
	assert_non_null(strstr(c.error, "no coordinator of the list leads"));
	assert_int_equal(standby_hits, 2);
	dtf_http_client_release(&c);
	/* A single URL is never left: the standby's answer comes back as it is. */
	assert_int_equal(dtf_http_client_init(&c, p->standby_url, NULL), 0);
	assert_int_equal(dtf_http_call(&c, "GET", "/x", NULL, 5000, NULL), DTF_EPROTO);
	assert_int_equal(c.status, 307);
	assert_string_equal(c.error_code, "not_leader");
	dtf_http_client_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lists_accepted_or_refused),
	    cmocka_unit_test_setup_teardown(test_follows_the_leader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hint_outside_list_ignored, setup, teardown),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
