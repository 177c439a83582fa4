/* coord_fixture.c: the in-memory coordinator the unit tests of the coordinator's model share
 * (coord_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/json.h"
#include "common/util.h"
#include "coord_fixture.h"

struct coord *coord_fixture_open(const char *db)
{
	struct coord *c = calloc(1, sizeof(*c));
	char err[256];

	assert_non_null(c);
	c->cfg.db_path = db;
	c->cfg.heartbeat_interval_s = 2;
	c->cfg.heartbeat_timeout_s = 15;
	c->cfg.default_timeout_s = 3600;
	pthread_mutex_init(&c->lock, NULL);
	dtf_hmap_init(&c->tasks);
	dtf_hmap_init(&c->workers);
	dtf_hmap_init(&c->runs);
	c->next_seq = 1;
	c->started_wall_ms = dtf_wall_ms();
	c->store = dtf_store_open(db, err, sizeof(err));
	if (!c->store)
		print_error("dtf_store_open: %s\n", err);
	assert_non_null(c->store);
	return c;
}

struct coord_fixture *coord_fixture_new(void (*prepare)(struct coord *c))
{
	struct coord_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dtf-test-coord-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return NULL;
	}
	snprintf(f->db, sizeof(f->db), "%s/dtf.db", f->dir);
	f->prepare = prepare;
	f->c = coord_fixture_open(f->db);
	if (prepare)
		prepare(f->c);
	return f;
}

void coord_fixture_free(struct coord_fixture *f)
{
	if (!f)
		return;
	if (f->c)
		core_free(f->c);
	dtf_rmtree(f->dir);
	free(f);
}

struct coord *coord_fixture_reopen(struct coord_fixture *f)
{
	struct coord *old = f->c;

	/* Cleared first: a failed open leaves nothing for the teardown to stop twice. */
	f->c = NULL;
	core_free(old);
	f->c = coord_fixture_open(f->db);
	if (f->prepare)
		f->prepare(f->c);
	return f->c;
}

int coord_fixture_setup(void **state)
{
	*state = coord_fixture_new(NULL);
	return *state ? 0 : -1;
}

int coord_fixture_teardown(void **state)
{
	coord_fixture_free(*state);
	*state = NULL;
	return 0;
}

struct ctask *coord_fixture_submit(struct coord *c, json_t *doc)
{
	struct ctask *t;

	assert_non_null(doc);
	assert_int_equal(txn_begin(c), 0);
	t = state_add_task(c, doc, TS_PENDING);
	assert_non_null(t);
	assert_int_equal(state_save_task(c, t), 0);
	assert_int_equal(txn_commit(c), 0);
	return t;
}

struct ctask *coord_fixture_add_task(struct coord *c, const char *id, const char *text)
{
	char err[256];
	json_t *in = dtf_json_parse(text, strlen(text), err, sizeof(err)), *doc;

	if (!in)
		print_error("bad test input %s: %s\n", text, err);
	assert_non_null(in);
	json_object_set_new(in, "id", json_string(id));
	if (!json_object_get(in, "command") && !json_object_get(in, "shell"))
		json_object_set_new(in, "command", json_pack("[s]", "true"));
	doc = task_normalize(in, 60, err, sizeof(err));
	if (!doc)
		print_error("task_normalize %s: %s\n", text, err);
	assert_non_null(doc);
	json_decref(in);
	return coord_fixture_submit(c, doc);
}

struct cworker *coord_fixture_add_worker(struct coord *c, const char *id, const char *text)
{
	char err[256];
	json_t *doc = dtf_json_parse(text, strlen(text), err, sizeof(err));
	struct cworker *w;

	if (!doc)
		print_error("bad test input %s: %s\n", text, err);
	assert_non_null(doc);
	w = state_add_worker(c, id, doc);
	assert_non_null(w);
	return w;
}

json_t *coord_fixture_lease(struct coord *c, struct cworker *w, int max)
{
	json_t *tasks;

	assert_int_equal(txn_begin(c), 0);
	tasks = lease_tasks(c, w, max);
	assert_int_equal(txn_commit(c), 0);
	assert_true(json_is_array(tasks));
	return tasks;
}
