/* test_sched_plugin.c: a third-party scheduler plugin (examples/plugins/shortest_first.c)
 * replacing the built-in strategies: selected by its strategy name, it orders the candidates
 * of each lease and may hold tasks back; an unknown name is refused; switching back to a
 * built-in works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../fixtures/plugins/unit_helpers.h"
#include "common/err.h"
#include "core/model.h"
#include "core/sim.h"
#include "unit_main.h"

static struct ctask *add_task(struct coord *c, const char *id, const char *text)
{
	char err[256];
	json_t *in = json_loads(text, 0, NULL), *doc;
	struct ctask *t;

	assert_non_null(in);
	json_object_set_new(in, "id", json_string(id));
	json_object_set_new(in, "command", json_pack("[s]", "true"));
	doc = task_normalize(in, 60, err, sizeof(err));
	json_decref(in);
	assert_non_null(doc);
	t = state_add_task(c, doc, TS_PENDING);
	assert_non_null(t);
	return t;
}

static const char *lease_ids(struct coord *c, struct cworker *w, int max, char *out, size_t len)
{
	json_t *tasks = lease_tasks(c, w, max), *e;
	size_t i, n = 0;

	out[0] = '\0';
	json_array_foreach(tasks, i, e)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "",
				      dtf_json_str(e, "id", "?"));
	json_decref(tasks);
	return out;
}

static void test_plugin_orders_leases(void **state)
{
	char err[1024] = "", ids[256];
	struct dtf_plugins *p;
	struct coord *c;
	struct cworker *w;
	json_t *d, *e;
	size_t i;
	bool listed = false;

	(void)state;
	p = load_yaml(err, sizeof(err),
		      "plugins:\n  directories: [%s]\n  enabled: [shortest_first]\n  config:\n"
		      "    shortest_first:\n      max_estimate_s: 100\n",
		      DTF_TEST_EXAMPLES_DIR);
	if (!p)
		fprintf(stderr, "load: %s\n", err);
	assert_non_null(p);
	assert_true(dtf_plugins_has_strategy(p, "shortest-first"));
	assert_false(dtf_plugins_has_strategy(p, "longest-first"));
	c = sim_coord_new(NULL, "priority", false, 8, err, sizeof(err));
	assert_non_null(c);
	c->plugins = p;
	w = state_add_worker(c, "w", json_pack("{s:i}", "slots", 8));
	assert_non_null(w);
	add_task(c, "a", "{\"params\": {\"estimate_s\": 50}, \"priority\": 1}");
	add_task(c, "b", "{\"params\": {\"estimate_s\": 5}, \"priority\": 9}");
	add_task(c, "none", "{\"priority\": 1}");
	add_task(c, "huge", "{\"params\": {\"estimate_s\": 5000}}");
	add_task(c, "c", "{\"params\": {\"estimate_s\": 20}}");
	assert_int_equal(sx_set_strategy(c->sx, c->plugins, "longest-first", err, sizeof(err)),
			 DTF_ENOTFOUND);
	assert_int_equal(sx_set_strategy(c->sx, c->plugins, "shortest-first", err, sizeof(err)), 0);
	assert_string_equal(sx_strategy(c->sx), "shortest-first");
	d = sx_describe(c->sx, c->plugins, c->cfg.batch_processing, c->cfg.batch_size_limit,
			c->pending_count);
	json_array_foreach(json_object_get(d, "strategies"), i, e)
		if (strcmp(dtf_json_str(e, "name", ""), "shortest-first") == 0)
			listed = strcmp(dtf_json_str(e, "plugin", ""), "shortest_first") == 0;
	assert_true(listed);
	json_decref(d);
	/* Smallest estimate first whatever the priority; no estimate last; over the limit: held. */
	assert_string_equal(lease_ids(c, w, 2, ids, sizeof(ids)), "b,c");
	assert_string_equal(lease_ids(c, w, 8, ids, sizeof(ids)), "a,none");
	assert_string_equal(lease_ids(c, w, 8, ids, sizeof(ids)), "");
	assert_int_equal(c->pending_count, 1);
	/* Back to a built-in: the held task goes. */
	assert_int_equal(sx_set_strategy(c->sx, c->plugins, "priority", err, sizeof(err)), 0);
	assert_string_equal(lease_ids(c, w, 8, ids, sizeof(ids)), "huge");
	c->plugins = NULL;
	sim_coord_free(c);
	dtf_plugins_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_plugin_orders_leases, make_tmpdir, remove_tmpdir),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
