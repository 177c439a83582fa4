/* pytest_group.h: runs pytest files the way pytest users expect to be fast: several files in one
 * pytest process per task, grouped by the durations recorded on earlier runs, with per-test
 * results from pytest's JUnit report. Used by `dtf run`. */
#ifndef DTF_CI_PYTEST_GROUP_H
#define DTF_CI_PYTEST_GROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct dtf_http_client;

#define DTF_PYTEST_HISTORY_MAX (16u << 20) /* a larger history file is ignored */

/* True when dir looks like a pytest project (conftest.py or pytest.ini at its top). */
bool dtf_pytest_detect(const char *dir);

/* Replaces the Python test files among tasks (tasks that discovery gave the pytest or unittest
 * runner, ci/pyrun.h, and that carry no other dtf header settings; not plain scripts) by chunk
 * tasks, each running several files in one pytest process (through pyrun's launcher: a worker
 * without pytest fails the chunk as an infrastructure error) with a JUnit report. With durations in
 * history_path (written by dtf_pytest_history_update), files are packed longest first into chunks
 * of equal expected time, submitted longest first: slots × 4 of them when each is then expected to
 * take 15 s or more, slots × 2 for shorter suites; without, into slots × 4 chunks of equal file
 * counts. Returns the number of chunk tasks made (0 when there were no pytest files). */
int dtf_pytest_group(json_t *tasks, int slots, const char *history_path);

/* Records each pytest file's duration from the finished chunk tasks of run_id (the sum of its
 * test cases' times plus its share of the chunk's start-up) into history_path. Returns 0 or a
 * DTF_E* code. */
int dtf_pytest_history_update(struct dtf_http_client *hc, const char *run_id,
			      const char *history_path);

/* Parses a history document's text (exposed for tests and fuzzing): a new object mapping file
 * paths to seconds, or NULL when the text is not a valid history. */
json_t *dtf_pytest_history_parse(const char *text, size_t len);

#endif
