/* pyrun.h: how dtf runs Python test files. Discovery decides from a file's text which runner it
 * needs (pytest, unittest, or none for a plain script); the task then runs a small launcher (the
 * Python program below, handed over in the task's environment) that picks the runner on the
 * worker itself: pytest when the worker's interpreter can import it, unittest for a
 * unittest-only file when it cannot, and otherwise an infrastructure error naming what is missing
 * (classify.h). Every runner writes a JUnit report with one test case per test, so a file whose
 * tests fail never passes, and one that runs no test is reported as a skipped test case. Used by
 * discovery (discover.c) and pytest chunks (pytest_group.c). */
#ifndef DTF_CI_PYRUN_H
#define DTF_CI_PYRUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DTF_PYRUN_ENV	"DTF_PYRUN"	/* the environment variable that carries the launcher */
#define DTF_PYRUN_JUNIT "dtf-junit.xml" /* its report, in $DTF_WORK_DIR, unless told otherwise */

/* The launcher's Python source. Its arguments: MODE JUNIT ARG…, where MODE is "pytest" or
 * "unittest", JUNIT the report's path relative to $DTF_WORK_DIR, and each ARG a test file or a
 * pytest node id. It exits with pytest's or unittest's status, 0 when no test ran (the report then
 * holds a skipped "(no tests)" case per such file), or DTF_EXIT_RUNNER_MISSING. */
extern const char dtf_pyrun_source[];

/* The runner a Python test file needs, from its text (the first len bytes):
 *   "pytest"   it imports pytest, or defines test functions at module level, or Test* classes
 *              that are not unittest.TestCase classes;
 *   "unittest" it imports unittest (not only unittest.mock) or defines TestCase classes, and
 *              has none of the above: pytest runs it when the worker has pytest, unittest if not;
 *   "python"   a plain script (none of the above): it runs as `python3 FILE`.
 * Comments do not count. Returns a static string. */
const char *dtf_pyrun_detect(const char *text, size_t len);

/* True when runner is one of "pytest", "unittest", "python". */
bool dtf_pyrun_valid(const char *runner);

/* Makes task run the test files or pytest node ids in args (a JSON array of strings) with runner
 * ("pytest" or "unittest") through the launcher: sets its "shell", "env".DTF_PYRUN, "junit" (kept
 * when the task already names a report: the launcher then writes there) and "params".runner,
 * and removes any "command". The interpreter is $DTF_PYTHON on the worker, or python3. Returns 0,
 * DTF_EINVAL for another runner or an empty args, DTF_ENOMEM. */
int dtf_pyrun_task(json_t *task, const char *runner, const json_t *args);

#endif
