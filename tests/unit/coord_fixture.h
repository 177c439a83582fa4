/* coord_fixture.h: an in-memory coordinator for the unit tests of the coordinator's model
 * (test_state, test_recovery, test_sched, test_constraints): built as coord_start() builds it,
 * minus the HTTP server and the tick thread, on a private database in a temporary directory.
 * Linked into every unit test by tests/CMakeLists.txt (library dtf_unit_support). Failures
 * are reported through cmocka, so these are called from a test, a setup or a teardown only.
 *
 * The tests of the strategies (test_strategy, test_sched_plugin) use sim_coord_new() instead:
 * a coordinator on a virtual clock with no store. */
#ifndef DTF_TEST_COORD_FIXTURE_H
#define DTF_TEST_COORD_FIXTURE_H

#include <jansson.h>

#include "core/model.h"

struct coord_fixture {
	char dir[64]; /* the temporary directory, removed with the fixture */
	char db[128]; /* dir/dtf.db */
	struct coord *c;
	/* Run on each coordinator the fixture opens (setup and reopen): configuration beyond the
	 * defaults, loading state. NULL for none. */
	void (*prepare)(struct coord *c);
};

/* Opens a coordinator on the database db: heartbeat interval 2 s, heartbeat timeout 15 s,
 * default task timeout 3600 s, empty maps, the store open. Fails the test when the store cannot
 * be opened. The caller stops it with core_free() (which, with no server and no tick thread,
 * only frees the state and closes the store). */
struct coord *coord_fixture_open(const char *db);

/* A fixture: a new temporary directory, a coordinator on dir/dtf.db, then prepare(c) when it is
 * not NULL. Returns NULL when the directory cannot be made. Free with coord_fixture_free(). */
struct coord_fixture *coord_fixture_new(void (*prepare)(struct coord *c));

/* Stops the coordinator, removes the directory and frees f. Accepts NULL. */
void coord_fixture_free(struct coord_fixture *f);

/* A restart: stops f->c and opens a coordinator on the same database (prepare run again);
 * returns it, also stored in f->c. Pointers into the old one are no longer valid. */
struct coord *coord_fixture_reopen(struct coord_fixture *f);

/* cmocka setup and teardown: *state is a struct coord_fixture with no prepare. */
int coord_fixture_setup(void **state);
int coord_fixture_teardown(void **state);
/* A cmocka case run between coord_fixture_setup() and coord_fixture_teardown(). */
#define coord_fixture_test(fn)                                                                     \
	cmocka_unit_test_setup_teardown(fn, coord_fixture_setup, coord_fixture_teardown)

/* Adds a task the way the API does: state_add_task() of the normalized document doc (the task
 * takes it), pending, saved and committed in one transaction. Returns the task. */
struct ctask *coord_fixture_submit(struct coord *c, json_t *doc);

/* Adds a pending task from a JSON object text with the id id ("command": ["true"] when it has
 * neither command nor shell), normalized with a default timeout of 60 s, as
 * coord_fixture_submit() does. */
struct ctask *coord_fixture_add_task(struct coord *c, const char *id, const char *text);

/* Registers a worker from a JSON registration document text (not saved to the store). */
struct cworker *coord_fixture_add_worker(struct coord *c, const char *id, const char *text);

/* Leases up to max tasks to w in one transaction. Returns the leased task documents (a JSON
 * array; the caller releases it). */
json_t *coord_fixture_lease(struct coord *c, struct cworker *w, int max);

#endif
