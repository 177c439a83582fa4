/* test_discover.c: unit tests of test discovery (src/ci/discover.c) on a private directory tree:
 * which files are tests (hidden and build directories skipped), each task's name, command and
 * working directory, the `dtf:` header fields, and a bad header reported as file:line; then the
 * header parser on its own; the runner each Python test file gets (pytest, unittest, or python3
 * for a plain script), the tasks that run them, and how a missing runner is classified. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "ci/discover.h"
#include "ci/pyrun.h"
#include "ci/pytest_group.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "core/model.h"
#include "unit_main.h"
#include "worker/classify.h"
#include "worker/junit.h"

struct fixture {
	char root[64];
	char real[PATH_MAX]; /* the root with symbolic links resolved, as commands show it */
};

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		print_error("\"%s\" does not contain \"%s\"\n", hay, needle);
	assert_non_null(strstr(hay, needle));
}

/* Writes a file under root (creating its directories) with the given mode. */
static void put(const char *root, const char *rel, const char *text, unsigned mode)
{
	char path[PATH_MAX], dir[PATH_MAX];
	char *slash;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(dtf_mkdirs(dir, 0755), 0);
	assert_int_equal(dtf_write_file(path, text, strlen(text)), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/dtf-test-discover-XXXXXX");
	if (!mkdtemp(f->root) || !realpath(f->root, f->real)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dtf_rmtree(f->root);
	free(f);
	return 0;
}

/* The usual tree: tests of each kind, files that are not tests, and places that are skipped. */
static void make_tree(const char *root)
{
	char many[2048];
	size_t n = 0;
	int i;

	put(root, "test_a.sh", "#!/bin/sh\necho a\n", 0644);
	put(root, "test_b.c", "/* dtf: cpu=2 requires=avx2 */\nint main(void) { return 0; }\n",
	    0644);
	put(root, "sub/test_c.sh", "echo c\n", 0644);
	put(root, "foo_test.py", "print('foo')\n", 0644);
	put(root, "test_exe", "#!/bin/sh\nexit 0\n", 0755);
	put(root, "test_data.txt", "not runnable\n", 0644);
	put(root, "notatest.sh", "echo no\n", 0755);
	put(root, ".hidden/test_x.sh", "echo hidden\n", 0755);
	put(root, "build/test_y.sh", "echo build\n", 0755);
	put(root, "test_hdr.sh",
	    "#!/bin/sh\n"
	    "# dtf: hardware=cuda,rocm timeout=5 priority=2 junit=r.xml memory=512\n"
	    "echo hdr\n",
	    0644);
	/* A header past the first 30 lines is just a comment. */
	for (i = 0; i < 30; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "echo %d\n", i);
	snprintf(many + n, sizeof(many) - n, "# dtf: priority=1\n");
	put(root, "sub/test_late.sh", many, 0644);
}

static json_t *task_named(json_t *tasks, const char *name)
{
	json_t *t;
	size_t i;

	json_array_foreach(tasks, i, t) {
		if (strcmp(dtf_json_str(t, "name", ""), name) == 0)
			return t;
	}
	print_error("no task named %s\n", name);
	fail();
	return NULL;
}

/* The names of the tasks joined with spaces, into buf. */
static const char *names_of(const json_t *tasks, char *buf, size_t len)
{
	json_t *t;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(tasks, i, t) {
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "",
				      dtf_json_str(t, "name", "?"));
		assert_true(n < len);
	}
	return buf;
}

/* Checks that command is ["a", "b"] (b NULL for a one-element command). */
static void assert_command(json_t *t, const char *a, const char *b)
{
	json_t *cmd = json_object_get(t, "command");

	assert_true(json_is_array(cmd));
	assert_int_equal(json_array_size(cmd), b ? 2 : 1);
	assert_string_equal(json_string_value(json_array_get(cmd, 0)), a);
	if (b)
		assert_string_equal(json_string_value(json_array_get(cmd, 1)), b);
}

static void test_discover_tree(void **state)
{
	struct fixture *f = *state;
	json_t *tasks = json_array(), *t, *req;
	char err[512] = "", buf[1024], path[PATH_MAX], sub[PATH_MAX];

	make_tree(f->root);
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), 7);
	assert_string_equal(names_of(tasks, buf, sizeof(buf)),
			    "foo_test.py sub/test_c.sh sub/test_late.sh test_a.sh test_b.c "
			    "test_exe test_hdr.sh");
	snprintf(sub, sizeof(sub), "%s/sub", f->real);

	t = task_named(tasks, "test_a.sh");
	snprintf(path, sizeof(path), "%s/test_a.sh", f->real);
	assert_command(t, "/bin/sh", path);
	assert_string_equal(dtf_json_str(t, "cwd", "?"), f->real);
	assert_string_equal(dtf_json_str(t, "type", "?"), "test");
	assert_null(json_object_get(t, "hardware"));
	assert_null(json_object_get(t, "priority"));

	t = task_named(tasks, "sub/test_c.sh");
	snprintf(path, sizeof(path), "%s/sub/test_c.sh", f->real);
	assert_command(t, "/bin/sh", path);
	assert_string_equal(dtf_json_str(t, "cwd", "?"), sub);

	t = task_named(tasks, "sub/test_late.sh");
	assert_null(json_object_get(t, "priority"));

	t = task_named(tasks, "foo_test.py");
	snprintf(path, sizeof(path), "%s/foo_test.py", f->real);
	assert_command(t, "python3", path);

	t = task_named(tasks, "test_exe");
	snprintf(path, sizeof(path), "%s/test_exe", f->real);
	assert_command(t, path, NULL);

	/* A C test is compiled into the work directory and run, through the shell. */
	t = task_named(tasks, "test_b.c");
	assert_null(json_object_get(t, "command"));
	snprintf(path, sizeof(path), "'%s/test_b.c'", f->real);
	assert_contains(dtf_json_str(t, "shell", ""), "cc -std=c11");
	assert_contains(dtf_json_str(t, "shell", ""), path);
	assert_contains(dtf_json_str(t, "shell", ""), "$DTF_WORK_DIR/test.bin");
	req = json_object_get(t, "requirements");
	assert_true(dtf_json_num(req, "cpu", 0) == 2);
	assert_int_equal(json_array_size(json_object_get(req, "hardware")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(req, "hardware"), 0)),
			    "avx2");

	t = task_named(tasks, "test_hdr.sh");
	assert_int_equal(json_array_size(json_object_get(t, "hardware")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "hardware"), 0)),
			    "cuda");
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "hardware"), 1)),
			    "rocm");
	assert_true(dtf_json_num(t, "timeout_s", 0) == 5);
	assert_int_equal(dtf_json_int(t, "priority", 0), 2);
	assert_string_equal(dtf_json_str(t, "junit", "?"), "r.xml");
	assert_true(dtf_json_num(json_object_get(t, "requirements"), "memory", 0) == 512);
	json_decref(tasks);
}

static void test_discovered_tasks_are_valid(void **state)
{
	struct fixture *f = *state;
	json_t *tasks = json_array(), *t, *n;
	char err[512] = "";
	size_t i;

	make_tree(f->root);
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), 7);
	/* What discovery makes, the coordinator takes. */
	json_array_foreach(tasks, i, t) {
		n = task_normalize(t, 60, err, sizeof(err));
		if (!n)
			print_error("%s: %s\n", dtf_json_str(t, "name", "?"), err);
		assert_non_null(n);
		assert_string_equal(dtf_json_str(n, "type", "?"), "test");
		json_decref(n);
	}
	json_decref(tasks);
}

static void test_discover_pattern(void **state)
{
	struct fixture *f = *state;
	json_t *tasks = json_array();
	char err[512] = "", buf[1024], dir[128];

	make_tree(f->root);
	/* With a pattern, any matching file counts; hidden and build directories stay skipped. A
	 * trailing slash does not change the names. */
	snprintf(dir, sizeof(dir), "%s//", f->root);
	assert_int_equal(dtf_discover(dir, "*.sh", tasks, err, sizeof(err)), 5);
	assert_string_equal(names_of(tasks, buf, sizeof(buf)),
			    "notatest.sh sub/test_c.sh sub/test_late.sh test_a.sh test_hdr.sh");
	json_decref(tasks);
}

static void test_discover_bad_header(void **state)
{
	struct fixture *f = *state;
	json_t *tasks = json_array();
	char err[512] = "", want[256];

	put(f->root, "test_a.sh", "echo a\n", 0644);
	put(f->root, "test_bad.sh", "#!/bin/sh\n# dtf: timeout=5 priority=high\necho bad\n", 0644);
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), DTF_EPARSE);
	snprintf(want, sizeof(want), "%s/test_bad.sh:2: dtf header: ", f->root);
	assert_contains(err, want);
	assert_contains(err, "'priority'");
	assert_contains(err, "'high'");
	/* The bad test itself is not added. */
	assert_int_equal(json_array_size(tasks), 1);
	json_decref(tasks);

	put(f->root, "test_bad.sh", "// dtf: colour=blue\n", 0644);
	tasks = json_array();
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), DTF_EPARSE);
	assert_contains(err, "test_bad.sh:1: dtf header: unknown key 'colour'");
	json_decref(tasks);

	/* A runner is for Python files. */
	put(f->root, "test_bad.sh", "# dtf: runner=pytest\n", 0644);
	tasks = json_array();
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), DTF_EPARSE);
	assert_contains(err, "test_bad.sh: dtf header: runner= is for Python files only");
	json_decref(tasks);
}

static void test_discover_missing_dir(void **state)
{
	struct fixture *f = *state;
	json_t *tasks = json_array();
	char err[512] = "", dir[128];

	snprintf(dir, sizeof(dir), "%s/nope", f->root);
	assert_int_equal(dtf_discover(dir, NULL, tasks, err, sizeof(err)), DTF_ENOTFOUND);
	assert_contains(err, "cannot open directory");
	assert_contains(err, dir);
	assert_int_equal(json_array_size(tasks), 0);
	/* An empty directory has no tests, which is not an error. */
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), 0);
	json_decref(tasks);
}

/* Parses a header line into a new task object; rc receives the result. */
static json_t *header(const char *line, int *rc, char *err, size_t errlen)
{
	json_t *t = json_object();

	err[0] = '\0';
	*rc = dtf_discover_header(line, t, err, errlen);
	return t;
}

static void test_header_fields(void **state)
{
	char err[256];
	int rc;
	json_t *t, *req;

	(void)state;
	t = header(" requires=a,,b retries=3 type=benchmark name=n1 skip=flaky timeout=5m "
		   "gpu_memory=8000 cpu=0.5\r\n",
		   &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	req = json_object_get(t, "requirements");
	assert_int_equal(json_array_size(json_object_get(req, "hardware")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(req, "hardware"), 1)),
			    "b");
	assert_int_equal(dtf_json_int(t, "max_retries", -1), 3);
	assert_string_equal(dtf_json_str(t, "type", "?"), "benchmark");
	assert_string_equal(dtf_json_str(t, "name", "?"), "n1");
	assert_string_equal(dtf_json_str(t, "skip", "?"), "flaky");
	assert_true(dtf_json_num(t, "timeout_s", 0) == 300);
	assert_true(dtf_json_num(req, "gpu_memory", 0) == 8000);
	assert_true(dtf_json_num(req, "cpu", 0) == 0.5);
	json_decref(t);

	/* A C comment's end is not part of the header; an empty header sets nothing. */
	t = header(" priority=3 */", &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(dtf_json_int(t, "priority", 0), 3);
	json_decref(t);
	t = header("  \t ", &rc, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(json_object_size(t), 0);
	json_decref(t);
}

static void test_header_errors(void **state)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
	    {"priority", "'priority' is not key=value"},
	    {"=5", "'=5' is not key=value"},
	    {"timeout=", "'timeout=' is not key=value"},
	    {"colour=red", "unknown key 'colour'"},
	    {"timeout=0", "bad value for 'timeout': '0'"},
	    {"timeout=soon", "bad value for 'timeout': 'soon'"},
	    {"timeout=-5", "bad value for 'timeout': '-5'"},
	    {"priority=high", "bad value for 'priority': 'high'"},
	    {"priority=2x", "bad value for 'priority': '2x'"},
	    {"retries=-1", "bad value for 'retries': '-1'"},
	    {"retries=101", "bad value for 'retries': '101'"},
	    {"cpu=-1", "bad value for 'cpu': '-1'"},
	    {"memory=lots", "bad value for 'memory': 'lots'"},
	    {"priority=1 gpu_memory=1G", "bad value for 'gpu_memory': '1G'"},
	    {"runner=nose", "bad value for 'runner': 'nose'"},
	};
	char err[256];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *t = header(cases[i].line, &rc, err, sizeof(err));
		if (rc != DTF_EPARSE)
			print_error("accepted \"%s\"\n", cases[i].line);
		assert_int_equal(rc, DTF_EPARSE);
		assert_string_equal(err, cases[i].want);
		json_decref(t);
	}
}

/* Which runner a Python file's text needs. */
static void test_python_runner_detection(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    /* Test functions at module level need pytest: python3 FILE would only define them. */
	    {"def test_add():\n    assert 1 + 1 == 3\n", "pytest"},
	    {"async def test_io():\n    pass\n", "pytest"},
	    {"import os\n\n\ndef test_x():\n    pass\n", "pytest"},
	    {"import pytest\n", "pytest"},
	    {"import os, pytest\n", "pytest"},
	    {"import pytest as pt\n", "pytest"},
	    {"from pytest import approx\n", "pytest"},
	    {"from _pytest.monkeypatch import MonkeyPatch\n", "pytest"},
	    {"import pytest.mark\n", "pytest"},
	    /* A plain class of test methods is pytest's. */
	    {"class TestMath:\n    def test_add(self):\n        assert 1\n", "pytest"},
	    /* unittest files: pytest when the worker has it, unittest when not. */
	    {"import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        "
	     "pass\n",
	     "unittest"},
	    {"from unittest import TestCase\nclass T(TestCase):\n    def test_a(self): pass\n",
	     "unittest"},
	    {"import unittest\nunittest.main()\n", "unittest"},
	    {"from unittest import (TestCase, main)\n", "unittest"},
	    /* unittest.TestCase with a module-level test function: only pytest runs both. */
	    {"import unittest\nclass T(unittest.TestCase):\n    pass\ndef test_b():\n    pass\n",
	     "pytest"},
	    /* unittest and pytest: pytest. */
	    {"import unittest\nimport pytest\n", "pytest"},
	    /* unittest.mock is not a test runner. */
	    {"from unittest import mock\nprint(mock)\n", "python"},
	    {"from unittest.mock import patch\nassert patch\n", "python"},
	    {"import unittest.mock\n", "python"},
	    {"from unittest.mock import patch\ndef test_p():\n    pass\n", "pytest"},
	    /* Plain scripts. */
	    {"assert 2 + 2 == 4\nprint('ok')\n", "python"},
	    {"# def test_commented_out():\n#     pass\nimport os\n", "python"},
	    {"import pytesting\nimport unittesty\n", "python"},
	    {"def testing_helper():\n    pass\n", "pytest"}, /* pytest collects test* names */
	    {"def helper_test():\n    pass\n", "python"},
	    {"", "python"},
	    /* More blanks than usual. */
	    {"def  test_spaced():\n    pass\n", "pytest"},
	    {"async   def\ttest_io():\n    pass\n", "pytest"},
	    {"class\tTestX:\n    def  test_a(self):\n        pass\n", "pytest"},
	    {"define = 1\nclassic = 2\ndefault_test = 3\n", "python"},
	    /* Windows line ends and tabs. */
	    {"import os\r\ndef test_crlf():\r\n\tpass\r\n", "pytest"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = dtf_pyrun_detect(cases[i].text, strlen(cases[i].text));
		if (strcmp(got, cases[i].want) != 0)
			print_error("case %zu: \"%s\": %s, want %s\n", i, cases[i].text, got,
				    cases[i].want);
		assert_string_equal(got, cases[i].want);
	}
	/* Only the first len bytes count. */
	assert_string_equal(dtf_pyrun_detect("x = 1\ndef test_a(): pass\n", 6), "python");
	assert_string_equal(dtf_pyrun_detect(NULL, 0), "python");
}

/* Checks that t runs file with runner through the launcher, its report in junit. */
static void assert_runner_task(json_t *t, const char *runner, const char *file, const char *junit)
{
	char want[PATH_MAX + 64];
	const char *sh = dtf_json_str(t, "shell", "");

	assert_null(json_object_get(t, "command"));
	assert_string_equal(dtf_json_str(json_object_get(t, "params"), "runner", "?"), runner);
	assert_string_equal(dtf_json_str(t, "junit", "?"), junit);
	assert_string_equal(dtf_json_str(json_object_get(t, "env"), DTF_PYRUN_ENV, "?"),
			    dtf_pyrun_source);
	snprintf(want, sizeof(want), "-c \"$DTF_PYRUN\" %s '%s' '%s'", runner, junit, file);
	assert_contains(sh, want);
	assert_contains(sh, "${DTF_PYTHON:-python3}");
	/* A missing interpreter is the runner-missing status too, not the shell's 127. */
	assert_contains(sh, DTF_RUNNER_MISSING_MARK);
	snprintf(want, sizeof(want), "exit %d;", DTF_EXIT_RUNNER_MISSING);
	assert_contains(sh, want);
}

static void test_discover_python_runners(void **state)
{
	struct fixture *f = *state;
	json_t *tasks = json_array(), *t, *n;
	char err[512] = "", path[PATH_MAX], buf[1024];
	size_t i;

	put(f->root, "test_fn.py", "def test_add():\n    assert 1 + 1 == 3\n", 0644);
	put(f->root, "test_ut.py",
	    "import unittest\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n",
	    0644);
	put(f->root, "test_script.py", "assert 2 + 2 == 4\n", 0644);
	put(f->root, "test_forced.py", "# dtf: runner=python\ndef test_a():\n    pass\n", 0644);
	put(f->root, "test_own.py", "# dtf: junit=mine.xml timeout=9\nimport pytest\n", 0644);
	put(f->root, "it's_test.py", "import unittest\n", 0644);
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), 6);
	assert_string_equal(names_of(tasks, buf, sizeof(buf)),
			    "it's_test.py test_fn.py test_forced.py test_own.py test_script.py "
			    "test_ut.py");

	t = task_named(tasks, "test_fn.py");
	snprintf(path, sizeof(path), "%s/test_fn.py", f->real);
	assert_runner_task(t, "pytest", path, DTF_PYRUN_JUNIT);
	assert_string_equal(dtf_json_str(json_object_get(t, "params"), "test_file", "?"), path);
	assert_string_equal(dtf_json_str(t, "cwd", "?"), f->real);

	t = task_named(tasks, "test_ut.py");
	snprintf(path, sizeof(path), "%s/test_ut.py", f->real);
	assert_runner_task(t, "unittest", path, DTF_PYRUN_JUNIT);

	/* A quote in the file name is quoted for the shell. */
	t = task_named(tasks, "it's_test.py");
	snprintf(path, sizeof(path), "%s/it'\\''s_test.py", f->real);
	assert_runner_task(t, "unittest", path, DTF_PYRUN_JUNIT);

	/* A plain script stays python3 FILE; so does a file whose header says runner=python. */
	t = task_named(tasks, "test_script.py");
	snprintf(path, sizeof(path), "%s/test_script.py", f->real);
	assert_command(t, "python3", path);
	assert_string_equal(dtf_json_str(json_object_get(t, "params"), "runner", "?"), "python");
	assert_null(json_object_get(t, "junit"));
	t = task_named(tasks, "test_forced.py");
	snprintf(path, sizeof(path), "%s/test_forced.py", f->real);
	assert_command(t, "python3", path);

	/* The header's junit= is where the launcher writes. */
	t = task_named(tasks, "test_own.py");
	snprintf(path, sizeof(path), "%s/test_own.py", f->real);
	assert_runner_task(t, "pytest", path, "mine.xml");
	assert_true(dtf_json_num(t, "timeout_s", 0) == 9);

	/* The coordinator takes them all. */
	json_array_foreach(tasks, i, t) {
		n = task_normalize(t, 60, err, sizeof(err));
		if (!n)
			print_error("%s: %s\n", dtf_json_str(t, "name", "?"), err);
		assert_non_null(n);
		json_decref(n);
	}

	/* pytest chunks take the runner files without other header settings, not the plain
	 * scripts: test_fn.py, test_ut.py and it's_test.py go into one chunk. */
	assert_int_equal(dtf_pytest_group(tasks, 1, NULL), 3);
	json_array_foreach(tasks, i, t) {
		if (strncmp(dtf_json_str(t, "name", ""), "pytest chunk", 12) != 0)
			continue;
		assert_string_equal(dtf_json_str(json_object_get(t, "params"), "runner", "?"),
				    "pytest");
		assert_string_equal(dtf_json_str(t, "junit", "?"), "pytest-junit.xml");
		assert_contains(dtf_json_str(t, "shell", ""), "-c \"$DTF_PYRUN\" pytest");
		assert_int_equal(
		    json_array_size(json_object_get(json_object_get(t, "params"), "pytest_files")),
		    1);
	}
	json_decref(tasks);
}

/* How many chunks pytest files go into: slots × 4 without history; with recorded durations,
 * slots × 2 for a short suite and slots × 4 when each of those chunks is still expected to take
 * 15 s or more (estimates vary, and finer chunks let early workers take more). */
static int chunks_for(struct fixture *f, double secs_each)
{
	json_t *tasks = json_array();
	char err[512] = "", hist[PATH_MAX + 32], name[64];
	int i, n;
	FILE *h;

	snprintf(hist, sizeof(hist), "%s/history.json", f->root);
	h = fopen(hist, "w");
	assert_non_null(h);
	fprintf(h, "{\"version\": 1, \"files\": {");
	for (i = 0; i < 16; i++)
		fprintf(h, "%s\"%s/py/test_f%02d.py\": %g", i ? ", " : "", f->real, i, secs_each);
	fprintf(h, "}}\n");
	fclose(h);
	for (i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "py/test_f%02d.py", i);
		put(f->root, name, "def test_one():\n    assert True\n", 0644);
	}
	snprintf(name, sizeof(name), "%s/py", f->root);
	assert_int_equal(dtf_discover(name, NULL, tasks, err, sizeof(err)), 16);
	n = dtf_pytest_group(tasks, 2, secs_each > 0 ? hist : NULL);
	assert_int_equal((int)json_array_size(tasks), n);
	json_decref(tasks);
	return n;
}

static void test_pytest_group_chunk_count(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(chunks_for(f, 0), 8);	/* no history */
	assert_int_equal(chunks_for(f, 1), 4);	/* 16 s in all: 2 s a chunk at 8 */
	assert_int_equal(chunks_for(f, 10), 8); /* 160 s in all: 20 s a chunk at 8 */
}

/* A file longer than what discovery reads, plain-looking in that part, runs under pytest: the
 * safe choice, since pytest runs a script's code at collection too. */
static void test_discover_python_long_file(void **state)
{
	struct fixture *f = *state;
	json_t *tasks = json_array();
	char err[512] = "";
	size_t n = (1u << 20) + 100;
	char *text = malloc(n + 1);

	assert_non_null(text);
	memset(text, '\n', n);
	memcpy(text, "x = 1\n", 6);
	memcpy(text + n - 20, "def test_late(): 1\n", 19);
	text[n] = '\0';
	put(f->root, "test_long.py", text, 0644);
	free(text);
	assert_int_equal(dtf_discover(f->root, NULL, tasks, err, sizeof(err)), 1);
	assert_string_equal(
	    dtf_json_str(json_object_get(json_array_get(tasks, 0), "params"), "runner", "?"),
	    "pytest");
	json_decref(tasks);
}

static void test_pyrun_task_errors(void **state)
{
	json_t *t = json_object(), *args = json_array();

	(void)state;
	assert_int_equal(dtf_pyrun_task(t, "pytest", args), DTF_EINVAL);
	json_array_append_new(args, json_string("/x/test_a.py"));
	assert_int_equal(dtf_pyrun_task(t, "python", args), DTF_EINVAL);
	assert_int_equal(dtf_pyrun_task(t, "nose", args), DTF_EINVAL);
	assert_int_equal(dtf_pyrun_task(t, NULL, args), DTF_EINVAL);
	assert_int_equal(json_object_size(t), 0);
	json_array_append_new(args, json_integer(3));
	assert_int_equal(dtf_pyrun_task(t, "pytest", args), DTF_EINVAL);
	json_array_remove(args, 1);
	/* A node id goes through as given; a command is replaced. */
	json_array_append_new(args, json_string("/x/test_b.py::test_one"));
	json_object_set_new(t, "command", json_pack("[s]", "true"));
	assert_int_equal(dtf_pyrun_task(t, "pytest", args), 0);
	assert_null(json_object_get(t, "command"));
	assert_contains(dtf_json_str(t, "shell", ""),
			"pytest 'dtf-junit.xml' '/x/test_a.py' '/x/test_b.py::test_one'");
	json_decref(args);
	json_decref(t);
	assert_true(dtf_pyrun_valid("python") && dtf_pyrun_valid("unittest") &&
		    !dtf_pyrun_valid("Pytest") && !dtf_pyrun_valid(NULL));
}

/* The worker's side: a missing runner is an infrastructure error with the launcher's message. */
static void test_runner_missing_classified(void **state)
{
	static const char err1[] = "some warning\n"
				   "dtf: runner missing: pytest is not importable by python3 "
				   "(/usr/bin/python3): apt-get install python3-pytest\n";
	struct dtf_failure_facts f = {.oom_kills_before = -1, .oom_kills_after = -1};
	char msg[256];

	(void)state;
	f.exit_code = DTF_EXIT_RUNNER_MISSING;
	f.err = err1;
	f.err_len = strlen(err1);
	assert_string_equal(dtf_failure_kind(&f), "infrastructure");
	assert_true(dtf_runner_missing(f.exit_code, err1, strlen(err1), msg, sizeof(msg)));
	assert_string_equal(msg, "pytest is not importable by python3 (/usr/bin/python3): "
				 "apt-get install python3-pytest");
	/* A short buffer gets what fits. */
	assert_true(dtf_runner_missing(f.exit_code, err1, strlen(err1), msg, 7));
	assert_string_equal(msg, "pytest");
	/* The status without the line, the line without the status, the mark not at a line's
	 * start, a timeout or a signal: not a missing runner. */
	f.exit_code = 1;
	assert_string_equal(dtf_failure_kind(&f), "exit_code");
	assert_false(dtf_runner_missing(1, err1, strlen(err1), NULL, 0));
	f.exit_code = DTF_EXIT_RUNNER_MISSING;
	f.err = "no mark here\n";
	f.err_len = strlen(f.err);
	assert_string_equal(dtf_failure_kind(&f), "exit_code");
	f.err = "x dtf: runner missing: pytest";
	f.err_len = strlen(f.err);
	assert_string_equal(dtf_failure_kind(&f), "exit_code");
	f.err = err1;
	f.err_len = strlen(err1);
	f.timed_out = true;
	assert_string_equal(dtf_failure_kind(&f), "timeout");
	f.timed_out = false;
	f.signal = 9;
	assert_string_equal(dtf_failure_kind(&f), "signal");
	assert_false(dtf_runner_missing(DTF_EXIT_RUNNER_MISSING, NULL, 0, msg, sizeof(msg)));
}

/* The launcher's JUnit marks: expected failures and unexpected passes are their own statuses. */
static void test_junit_xfail_xpass(void **state)
{
	static const char xml[] =
	    "<testsuites><testsuite name=\"s\">"
	    "<testcase classname=\"m\" name=\"xf\"><skipped type=\"pytest.xfail\" message=\"bug\"/>"
	    "</testcase>"
	    "<testcase classname=\"m\" name=\"xp\"><properties><property name=\"dtf.outcome\" "
	    "value=\"xpassed\"/></properties></testcase>"
	    "<testcase classname=\"m\" name=\"uxf\"><properties><property name=\"dtf.outcome\" "
	    "value=\"xfailed\"/></properties><skipped message=\"e\"/></testcase>"
	    "<testcase classname=\"m\" name=\"strict\"><failure message=\"[XPASS(strict)]\"/>"
	    "</testcase>"
	    "<testcase classname=\"m\" name=\"bad\"><properties><property name=\"dtf.outcome\" "
	    "value=\"xpassed\"/></properties><failure message=\"f\"/></testcase>"
	    "<testcase classname=\"m\" name=\"sk\"><skipped type=\"pytest.skip\"/></testcase>"
	    "<testcase classname=\"m\" name=\"odd\"><properties><property name=\"dtf.outcome\" "
	    "value=\"passed\"/></properties></testcase>"
	    "<testcase classname=\"m\" name=\"none\"><skipped type=\"dtf.no_tests\" "
	    "message=\"no tests ran: x\"/></testcase>"
	    "</testsuite></testsuites>";
	static const char *const want[] = {"xfailed", "xpassed", "xfailed", "failed",
					   "failed",  "skipped", "passed",  "skipped"};
	json_t *cases = NULL;
	size_t i;

	(void)state;
	assert_int_equal(dtf_junit_parse(xml, strlen(xml), &cases), 0);
	assert_int_equal(json_array_size(cases), sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(dtf_json_str(json_array_get(cases, i), "status", "?"), want[i]);
	assert_string_equal(dtf_json_str(json_array_get(cases, 0), "message", "?"), "bug");
	assert_string_equal(dtf_json_str(json_array_get(cases, 7), "message", "?"),
			    "no tests ran: x");
	json_decref(cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_discover_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discovered_tasks_are_valid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover_pattern, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover_bad_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover_missing_dir, setup, teardown),
	    cmocka_unit_test(test_header_fields),
	    cmocka_unit_test(test_header_errors),
	    cmocka_unit_test(test_python_runner_detection),
	    cmocka_unit_test_setup_teardown(test_discover_python_runners, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover_python_long_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pytest_group_chunk_count, setup, teardown),
	    cmocka_unit_test(test_pyrun_task_errors),
	    cmocka_unit_test(test_runner_missing_classified),
	    cmocka_unit_test(test_junit_xfail_xpass),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
