/* test_config.c: unit tests of the option tables (src/common/config.c and the tables of
 * src/cli/coordinator.c and src/cli/worker.c): precedence flag > environment > YAML > default,
 * range and type errors that name the flag or the key, unknown YAML keys, lists that every source
 * adds to, and "0 means 0" (--retry-backoff 0 retries at once, quarantine_threshold: 0 never
 * quarantines), the last on a coordinator core with a private database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cli/options.h"
#include "common/config.h"
#include "common/err.h"
#include "common/util.h"
#include "common/yaml.h"
#include "core/model.h"
#include "core/recovery.h"
#include "unit_main.h"

/* ---- a small table of every type ---- */

struct topts {
	int count;
	double delay;
	bool loud;
	const char *name;
	const char *mode;
	const char *const *tags;
};

static const char *const modes[] = {"fast", "slow", NULL};

static const struct dtf_opt topts[] = {
    {.flag = "count",
     .yaml = "t.count",
     .env = "DTF_TEST_COUNT",
     .type = DTF_OPT_INT,
     .offset = offsetof(struct topts, count),
     .min = 0,
     .max = 100,
     .def = "7",
     .arg = "N",
     .help = "a count"},
    {.flag = "delay",
     .yaml = "t.delay",
     .type = DTF_OPT_SECONDS,
     .offset = offsetof(struct topts, delay),
     .min = 0,
     .def = "1.5",
     .arg = "S",
     .help = "a delay"},
    {.flag = "loud",
     .yaml = "t.loud",
     .type = DTF_OPT_BOOL,
     .offset = offsetof(struct topts, loud),
     .help = "a switch"},
    {.flag = "name",
     .short_flag = 'n',
     .yaml = "t.name",
     .env = "DTF_TEST_NAME",
     .type = DTF_OPT_STRING,
     .offset = offsetof(struct topts, name),
     .def = "anon",
     .arg = "S",
     .help = "a name"},
    {.flag = "mode",
     .yaml = "t.mode",
     .type = DTF_OPT_ENUM,
     .offset = offsetof(struct topts, mode),
     .values = modes,
     .def = "fast",
     .arg = "M",
     .help = "a mode"},
    {.flag = "tag",
     .yaml = "t.tags",
     .env = "DTF_TEST_TAGS",
     .type = DTF_OPT_LIST,
     .offset = offsetof(struct topts, tags),
     .max = 3,
     .flags = DTF_OPTF_ENV_SPLIT,
     .arg = "T",
     .help = "tags"},
};

#define NT (sizeof(topts) / sizeof(topts[0]))

static int find(const struct dtf_config *cfg, const char *name)
{
	int i = dtf_config_find(cfg, name);

	assert_true(i >= 0);
	return i;
}

/* Parses argv (a NULL-terminated list after the command's name) into *o. */
static int parse(struct dtf_config *cfg, struct topts *o, const char *const *args)
{
	char *argv[16] = {"test"};
	int argc = 1, first;

	while (args && *args && argc < 15)
		argv[argc++] = (char *)*args++;
	memset(o, 0, sizeof(*o));
	assert_int_equal(dtf_config_init(cfg, "test", topts, NT, o), 0);
	return dtf_config_parse_args(cfg, argc, argv, &first);
}

/* Loads YAML text as the file "t.yaml" into cfg. */
static int load_yaml(struct dtf_config *cfg, const char *text, json_t **doc)
{
	char err[256];

	*doc = dtf_yaml_parse(text, strlen(text), "t.yaml", err, sizeof(err));
	if (!*doc)
		print_error("yaml: %s\n", err);
	assert_non_null(*doc);
	return dtf_config_load_yaml(cfg, *doc, "t", NULL, "t.yaml", text, strlen(text));
}

static void test_defaults(void **state)
{
	struct dtf_config cfg;
	struct topts o;

	(void)state;
	assert_int_equal(parse(&cfg, &o, NULL), 0);
	assert_int_equal(dtf_config_finish(&cfg), 0);
	assert_int_equal(o.count, 7);
	assert_true(o.delay == 1.5);
	assert_false(o.loud);
	assert_string_equal(o.name, "anon");
	assert_string_equal(o.mode, "fast");
	assert_null(o.tags);
	assert_int_equal(dtf_config_source(&cfg, (size_t)find(&cfg, "count")), DTF_SRC_DEFAULT);
	assert_int_equal(dtf_config_source(&cfg, (size_t)find(&cfg, "loud")), DTF_SRC_UNSET);
	dtf_config_release(&cfg);
}

/* flag > environment > YAML > default, and each value remembers its source. */
static void test_precedence(void **state)
{
	static const char *const args[] = {"--count", "3", "--tag", "f1", NULL};
	struct dtf_config cfg;
	struct topts o;
	json_t *doc;
	int count, name, delay, tag;

	(void)state;
	setenv("DTF_TEST_COUNT", "50", 1);
	setenv("DTF_TEST_NAME", "from-env", 1);
	setenv("DTF_TEST_TAGS", "e1", 1);
	assert_int_equal(parse(&cfg, &o, args), 0);
	/* YAML after the flags, as the commands do (the flags name the file). */
	assert_int_equal(load_yaml(&cfg,
				   "t:\n  count: 9\n  name: from-yaml\n  delay: 4\n  mode: slow\n"
				   "  tags: [y1]\n",
				   &doc),
			 0);
	assert_int_equal(dtf_config_load_env(&cfg), 0);
	assert_int_equal(dtf_config_finish(&cfg), 0);
	count = find(&cfg, "count");
	name = find(&cfg, "name");
	delay = find(&cfg, "delay");
	tag = find(&cfg, "tag");
	assert_int_equal(o.count, 3); /* the flag beats the environment and the file */
	assert_int_equal(dtf_config_source(&cfg, (size_t)count), DTF_SRC_FLAG);
	assert_string_equal(o.name, "from-env"); /* the environment beats the file */
	assert_int_equal(dtf_config_source(&cfg, (size_t)name), DTF_SRC_ENV);
	assert_true(o.delay == 4); /* the file beats the default */
	assert_int_equal(dtf_config_source(&cfg, (size_t)delay), DTF_SRC_YAML);
	assert_string_equal(o.mode, "slow");
	/* Every source adds to a list. */
	assert_non_null(o.tags);
	assert_string_equal(o.tags[0], "f1");
	assert_string_equal(o.tags[1], "y1");
	assert_string_equal(o.tags[2], "e1");
	assert_null(o.tags[3]);
	assert_int_equal(dtf_config_source(&cfg, (size_t)tag), DTF_SRC_FLAG);
	dtf_config_release(&cfg);
	json_decref(doc);
	unsetenv("DTF_TEST_COUNT");
	unsetenv("DTF_TEST_NAME");
	unsetenv("DTF_TEST_TAGS");
}

/* A list past its max is an error naming the flag: e1,e2 and the flag's make four of three. */
static void test_list_max(void **state)
{
	static const char *const args[] = {"--tag", "a", "--tag", "b", NULL};
	struct dtf_config cfg;
	struct topts o;

	(void)state;
	setenv("DTF_TEST_TAGS", "e1,e2", 1);
	assert_int_equal(parse(&cfg, &o, args), 0);
	assert_int_equal(dtf_config_load_env(&cfg), DTF_EINVAL);
	assert_non_null(strstr(cfg.err, "test: DTF_TEST_TAGS: at most 3 values"));
	dtf_config_release(&cfg);
	unsetenv("DTF_TEST_TAGS");
}

/* 0 is a value, not "unset": it survives the defaults. */
static void test_zero_is_zero(void **state)
{
	static const char *const args[] = {"--count", "0", "--delay", "0", NULL};
	struct dtf_config cfg;
	struct topts o;

	(void)state;
	assert_int_equal(parse(&cfg, &o, args), 0);
	assert_int_equal(dtf_config_finish(&cfg), 0);
	assert_int_equal(o.count, 0);
	assert_true(o.delay == 0);
	dtf_config_release(&cfg);
}

/* Range errors name the flag, the variable or the file, line and key, and the range. */
static void test_range_errors(void **state)
{
	static const char *const big[] = {"--count", "101", NULL};
	static const char *const neg[] = {"--delay", "-1", NULL};
	struct dtf_config cfg;
	struct topts o;
	json_t *doc;

	(void)state;
	assert_int_equal(parse(&cfg, &o, big), DTF_EINVAL);
	assert_string_equal(cfg.err, "test: --count: 101 is out of range (0 to 100)\n");
	dtf_config_release(&cfg);

	assert_int_equal(parse(&cfg, &o, neg), DTF_EINVAL);
	assert_string_equal(cfg.err, "test: --delay: -1 is out of range (at least 0)\n");
	dtf_config_release(&cfg);

	assert_int_equal(parse(&cfg, &o, NULL), 0);
	assert_int_equal(load_yaml(&cfg, "t:\n  name: x\n  count: -4\n", &doc), DTF_EINVAL);
	assert_string_equal(cfg.err,
			    "test: t.yaml:3: key 'count': -4 is out of range (0 to 100)\n");
	dtf_config_release(&cfg);
	json_decref(doc);

	setenv("DTF_TEST_COUNT", "1000", 1);
	assert_int_equal(parse(&cfg, &o, NULL), 0);
	assert_int_equal(dtf_config_load_env(&cfg), DTF_EINVAL);
	assert_string_equal(cfg.err, "test: DTF_TEST_COUNT: 1000 is out of range (0 to 100)\n");
	dtf_config_release(&cfg);
	unsetenv("DTF_TEST_COUNT");
}

/* Values of the wrong type, on the command line and in the file. */
static void test_bad_types(void **state)
{
	static const char *const notint[] = {"--count", "3x", NULL};
	static const char *const notdur[] = {"--delay", "soon", NULL};
	static const char *const notmode[] = {"--mode", "medium", NULL};
	struct dtf_config cfg;
	struct topts o;
	json_t *doc;

	(void)state;
	assert_int_equal(parse(&cfg, &o, notint), DTF_EINVAL);
	assert_string_equal(cfg.err, "test: --count: '3x' is not a whole number\n");
	dtf_config_release(&cfg);

	assert_int_equal(parse(&cfg, &o, notdur), DTF_EINVAL);
	assert_non_null(strstr(cfg.err, "test: --delay: 'soon' is not a duration"));
	dtf_config_release(&cfg);

	assert_int_equal(parse(&cfg, &o, notmode), DTF_EINVAL);
	assert_string_equal(cfg.err, "test: --mode: 'medium' is not one of fast, slow\n");
	dtf_config_release(&cfg);

	/* Every bad key is reported, each with its line. */
	assert_int_equal(parse(&cfg, &o, NULL), 0);
	assert_int_equal(load_yaml(&cfg, "t:\n  count: \"5\"\n  loud: 1\n  tags: [a, 2]\n", &doc),
			 DTF_EINVAL);
	assert_non_null(strstr(cfg.err, "t.yaml:2: key 'count' has a value of the wrong type"));
	assert_non_null(strstr(cfg.err, "t.yaml:3: key 'loud' has a value of the wrong type"));
	assert_non_null(strstr(cfg.err, "t.yaml:4: key 'tags' has a value of the wrong type"));
	dtf_config_release(&cfg);
	json_decref(doc);
}

/* An unknown key is an error (as the coordinator always had it), the other parts' sections are
 * skipped, and keys may sit at the top level when there is no section. */
static void test_unknown_yaml_key(void **state)
{
	static const char *const others[] = {"plugins", NULL};
	static const char text[] = "count: 2\nplugins: {}\nbogus: 1\n";
	struct dtf_config cfg;
	struct topts o;
	char err[256];
	json_t *doc = dtf_yaml_parse(text, strlen(text), "t.yaml", err, sizeof(err));

	(void)state;
	assert_non_null(doc);
	assert_int_equal(parse(&cfg, &o, NULL), 0);
	assert_int_equal(dtf_config_load_yaml(&cfg, doc, "t", others, "t.yaml", text, strlen(text)),
			 DTF_EINVAL);
	assert_string_equal(cfg.err, "test: t.yaml:3: unknown key 'bogus'\n");
	assert_int_equal(o.count, 2);
	dtf_config_release(&cfg);
	json_decref(doc);
}

/* --help and the doc table come from the same entries. */
static void test_usage_and_doc(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	dtf_config_usage(topts, NT, "test", f);
	dtf_config_doc(topts, NT, f);
	fclose(f);
	assert_non_null(strstr(text, "usage: test [options]\n"));
	assert_non_null(
	    strstr(text, "  --count N                 a count (default 7; $DTF_TEST_COUNT)\n"));
	assert_non_null(strstr(text, "  -n, --name S              a name"));
	assert_non_null(strstr(
	    text, "| `--count N` | `t.count` | `DTF_TEST_COUNT` | integer | 0 to 100 | `7` | a "
		  "count |\n"));
	assert_non_null(strstr(text, "| enum | `fast`, `slow` | `fast` |"));
	free(text);
}

/* ---- the coordinator's and the worker's tables ---- */

struct tmpdir {
	char dir[64];
};

static int setup_dir(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/dtf-test-config-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown_dir(void **state)
{
	struct tmpdir *t = *state;

	dtf_rmtree(t->dir);
	free(t);
	return 0;
}

static int coord_load(struct coord_options *o, const char *const *args)
{
	char *argv[24] = {"coordinator"};
	int argc = 1;

	while (args && *args && argc < 23)
		argv[argc++] = (char *)*args++;
	return coord_options_load(o, argc, argv);
}

/* With nothing given, the table's defaults: the same values the consumers used to fill in. */
static void test_coordinator_defaults(void **state)
{
	struct coord_options o;
	struct coord_config cc;

	(void)state;
	unsetenv("DTF_API_KEYS");
	unsetenv("DTF_API_KEY");
	assert_int_equal(coord_load(&o, NULL), 0);
	assert_int_equal(o.cc.port, 8080);
	assert_string_equal(o.cc.db_path, "./coordinator.db");
	assert_int_equal(o.cc.batch_size_limit, 8);
	assert_true(o.cc.heartbeat_interval_s == 2);
	assert_true(o.cc.heartbeat_timeout_s == 15);
	assert_true(o.cc.default_timeout_s == 3600);
	assert_true(o.cc.retry_backoff_s == 1);
	assert_int_equal(o.cc.quarantine_threshold, 3);
	assert_true(o.cc.quarantine_s == 600);
	assert_int_equal(o.cc.max_requeues, 3);
	assert_null(o.cc.api_keys);
	coord_options_release(&o);

	coord_options_defaults(&cc);
	assert_int_equal(cc.quarantine_threshold, 3);
	assert_true(cc.retry_backoff_s == 1);
	assert_int_equal(cc.max_requeues, 3);
	assert_int_equal(cc.port, 8080);
}

/* The coordinator's flags, file and DTF_API_KEYS: precedence, lists and messages. */
static void test_coordinator_sources(void **state)
{
	struct tmpdir *t = *state;
	char path[128];
	const char *args[] = {"--config", path, "--port", "7000", "--api-key", "k-flag", NULL};
	static const char *const bad[] = {"--quarantine-threshold", "-1", NULL};
	struct coord_options o;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dtf.yaml", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("coordinator:\n  port: 9000\n  retry_backoff: 2.5\n  api_keys: [k-yaml]\n"
	      "  worker_auto_discovery: true\nplugins: {}\n",
	      f);
	fclose(f);
	setenv("DTF_API_KEYS", "k-env1,k-env2", 1);
	assert_int_equal(coord_load(&o, args), 0);
	assert_int_equal(o.cc.port, 7000);
	assert_true(o.cc.retry_backoff_s == 2.5);
	assert_true(o.cc.auto_discovery);
	assert_non_null(o.cc.api_keys);
	assert_string_equal(o.cc.api_keys[0], "k-flag");
	assert_string_equal(o.cc.api_keys[1], "k-yaml");
	assert_string_equal(o.cc.api_keys[2], "k-env1");
	assert_string_equal(o.cc.api_keys[3], "k-env2");
	assert_null(o.cc.api_keys[4]);
	assert_ptr_equal(o.cc.config_doc, o.doc);
	coord_options_release(&o);
	unsetenv("DTF_API_KEYS");

	assert_int_equal(coord_load(&o, bad), DTF_EINVAL);
	assert_string_equal(
	    o.table.err,
	    "dtf coordinator: --quarantine-threshold: -1 is out of range (0 to 1000000)\n");
	coord_options_release(&o);

	/* A key of the wrong type and an unknown one, each named with its line. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("port: \"x\"\nbogus: 1\nscheduler: {}\n", f);
	fclose(f);
	assert_int_equal(coord_load(&o, args), DTF_EINVAL);
	assert_non_null(
	    strstr(o.table.err, "dtf.yaml:1: key 'port' has a value of the wrong type"));
	assert_non_null(strstr(o.table.err, "dtf.yaml:2: unknown key 'bogus'"));
	assert_null(strstr(o.table.err, "scheduler"));
	coord_options_release(&o);
}

/* "0 means 0": --retry-backoff 0 and quarantine_threshold: 0 reach the coordinator as 0, which
 * retries at once and never quarantines; --max-requeues 0 is "none" (the core's -1). */
static void test_coordinator_zero_means_zero(void **state)
{
	struct tmpdir *t = *state;
	char path[128], db[128], err[256];
	const char *args[] = {"--config", path, "--retry-backoff", "0", "--db-path", db,
			      "--port",	  "0",	"--max-requeues",  "0", NULL};
	struct coord_options o;
	struct coord *c;
	struct ctask task;
	int64_t before;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dtf.yaml", t->dir);
	snprintf(db, sizeof(db), "%s/dtf.db", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("quarantine_threshold: 0\nhost: 127.0.0.1\n", f);
	fclose(f);
	assert_int_equal(coord_load(&o, args), 0);
	assert_true(o.cc.retry_backoff_s == 0);
	assert_int_equal(o.cc.quarantine_threshold, 0);
	assert_int_equal(o.cc.max_requeues, -1);

	c = core_new(&o.cc, err, sizeof(err));
	if (!c)
		print_error("core_new: %s\n", err);
	assert_non_null(c);
	/* The core keeps them: no default replaces a 0. */
	assert_true(c->cfg.retry_backoff_s == 0);
	assert_int_equal(c->cfg.quarantine_threshold, 0);
	assert_false(recovery_should_quarantine(1000, c->cfg.quarantine_threshold));
	assert_int_equal(state_default_max_requeues(c), 0);
	/* A failed task's first retry is due at once (1 s at the old fallback). */
	memset(&task, 0, sizeof(task));
	task.jdoc = json_object();
	task.retries_used = 1;
	pthread_mutex_lock(&c->lock);
	before = dtf_mono_ms();
	state_backoff(c, &task);
	c->next_backoff_ms = 0;
	pthread_mutex_unlock(&c->lock);
	assert_true(task.sx.not_before_ms <= before + 1);
	json_decref(task.jdoc);
	core_free(c);
	coord_options_release(&o);
}

static int worker_load(struct worker_options *o, const char *const *args)
{
	char *argv[24] = {"worker"};
	int argc = 1;

	while (args && *args && argc < 23)
		argv[argc++] = (char *)*args++;
	return worker_options_load(o, argc, argv);
}

static void test_worker(void **state)
{
	static const char *const none[] = {NULL};
	static const char *const flags[] = {"--coordinator-url",
					    "http://flag:1",
					    "--drain-timeout",
					    "0",
					    "--label",
					    "a=1,2",
					    "--labels",
					    "b=x,c=y",
					    "--hardware",
					    "cuda,rocm",
					    NULL};
	static const char *const bad[] = {"--slots", "0", "--lease-wait", "0", NULL};
	struct worker_options o;

	(void)state;
	setenv("DTF_COORDINATOR", "http://env:2", 1);
	setenv("DTF_API_KEY", "k-env", 1);
	assert_int_equal(worker_load(&o, none), 0);
	assert_string_equal(o.a.coordinator, "http://env:2");
	assert_string_equal(o.a.api_key, "k-env");
	assert_int_equal(o.a.slots, 1);
	assert_true(o.a.drain_timeout_s == 30);
	assert_true(o.a.lease_wait_s == 20);
	assert_int_equal(o.a.output_cap, 1048576);
	worker_options_release(&o);

	assert_int_equal(worker_load(&o, flags), 0);
	assert_string_equal(o.a.coordinator, "http://flag:1");
	assert_true(o.a.drain_timeout_s == 0); /* 0: no bound, not the default 30 */
	assert_string_equal(json_string_value(json_object_get(o.labels, "a")), "1,2");
	assert_string_equal(json_string_value(json_object_get(o.labels, "c")), "y");
	assert_string_equal(o.hardware[0], "cuda,rocm");
	worker_options_release(&o);
	unsetenv("DTF_COORDINATOR");
	unsetenv("DTF_API_KEY");

	assert_int_equal(worker_load(&o, bad), DTF_EINVAL);
	assert_non_null(
	    strstr(o.table.err, "dtf worker: --slots: 0 is out of range (1 to 4096)\n"));
	assert_non_null(strstr(
	    o.table.err, "dtf worker: --lease-wait: 0 is out of range (> 0, at most 3600)\n"));
	worker_options_release(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_list_max),
	    cmocka_unit_test(test_zero_is_zero),
	    cmocka_unit_test(test_range_errors),
	    cmocka_unit_test(test_bad_types),
	    cmocka_unit_test(test_unknown_yaml_key),
	    cmocka_unit_test(test_usage_and_doc),
	    cmocka_unit_test(test_coordinator_defaults),
	    cmocka_unit_test_setup_teardown(test_coordinator_sources, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_coordinator_zero_means_zero, setup_dir,
					    teardown_dir),
	    cmocka_unit_test(test_worker),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
