/* discover.h: turns a test directory into tasks: which files are tests, how each is run, and
 * what it needs (from a `dtf:` header comment). Used by `dtf run` (and later `dtf ci`). */
#ifndef DTF_CI_DISCOVER_H
#define DTF_CI_DISCOVER_H

#include <jansson.h>
#include <stddef.h>

#define DTF_DISCOVER_MAX_FILES 100000

/* Walks dir (recursively, skipping hidden and build directories) for files whose name matches
 * pattern (fnmatch; NULL means test_* and *_test.*), and appends one task per test to tasks:
 *   *.sh → /bin/sh FILE;  *.c → compile with cc into the work directory and run;
 *   *.py → with the runner it needs (ci/pyrun.h): pytest, or unittest when it only uses
 *          unittest and the worker lacks pytest, through the launcher with a JUnit report
 *          (junit "dtf-junit.xml", params.runner "pytest"/"unittest"); `python3 FILE` only for
 *          a plain script (params.runner "python");
 *   other executables → FILE.
 * The task's cwd is the file's directory; its name is the path relative to dir. A header line
 * `# dtf: key=value …` (or `// dtf:`) in the first 30 lines sets hardware=a,b (any of),
 * requires=a,b (all of), timeout=S, priority=N, junit=PATH (relative to $DTF_WORK_DIR),
 * cpu=N, memory=MiB, gpu_memory=MiB, retries=N, type=T, name=N, skip=reason,
 * artifacts=GLOB,GLOB (files the task leaves in $DTF_WORK_DIR to collect), runner=R (a Python
 * file's runner: pytest, unittest or python, instead of the detected one).
 * Returns the number of tests found, or a negative DTF_E* code with err set. */
int dtf_discover(const char *dir, const char *pattern, json_t *tasks, char *err, size_t errlen);

/* Adds the one test file at path (named relative to root) as dtf_discover() would. Returns 1
 * when it was added, 0 when the file is not a runnable test, or a negative DTF_E* code. */
int dtf_discover_file(const char *root, const char *path, json_t *tasks, char *err, size_t errlen);

/* Parses one `dtf:` header line's key=value pairs into task (exposed for tests and fuzzing).
 * Returns 0 or DTF_EPARSE with err naming the bad pair. */
int dtf_discover_header(const char *line, json_t *task, char *err, size_t errlen);

#endif
