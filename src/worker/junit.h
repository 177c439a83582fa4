/* junit.h: reads the JUnit XML reports that test runners write (pytest, CTest, go-junit-report,
 * Maven Surefire, …) into dtf's test-case JSON. */
#ifndef DTF_WORKER_JUNIT_H
#define DTF_WORKER_JUNIT_H

#include <jansson.h>
#include <stddef.h>

#define DTF_JUNIT_MAX_BYTES (16u << 20) /* larger reports are refused */
#define DTF_JUNIT_MAX_CASES 100000

/* Parses a JUnit report (<testsuites> or a lone <testsuite>, nested suites too) and stores a new
 * array in *cases, one object per <testcase>:
 *   {"name": "…", "classname": "…", "suite": "…", "time": 0.25,
 *    "status": "passed" | "failed" | "error" | "skipped" | "xfailed" | "xpassed",
 *    "message": "…", "type": "…", "details": "…",    (for failed/error/skipped, when present)
 *    "stdout": "…", "stderr": "…"}                     (system-out/-err, capped at 64 KiB each)
 * An expected failure (a <skipped type="pytest.xfail">, or a case whose <properties> hold
 * dtf.outcome=xfailed) is "xfailed"; a passed case marked dtf.outcome=xpassed (a non-strict
 * XPASS, which pytest's own report shows as a pass) is "xpassed"; a strict XPASS is a failure.
 * Returns 0, DTF_EPARSE for input that is not a JUnit report (cases stays NULL), DTF_ETOOBIG past
 * the limits. Never crashes on hostile input (no entity expansion, no network, no DTD). */
int dtf_junit_parse(const char *xml, size_t len, json_t **cases);

#endif
