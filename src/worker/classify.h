/* classify.h: how the worker names a failed attempt's error.kind, so the coordinator's recovery
 * can tell the classes apart (DESIGN.md §7): timeout, signal, exit_code, oom, infrastructure. */
#ifndef DTF_WORKER_CLASSIFY_H
#define DTF_WORKER_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

/* A task tells the worker that the test runner it needs is missing on this machine (pytest not
 * importable, no python3: see ci/pyrun.h) by exiting with this status after writing a line that
 * starts with the mark to stderr. The attempt then fails with error.kind "infrastructure" and
 * reason "runner_missing", its message the rest of that line; it is never a pass. */
#define DTF_EXIT_RUNNER_MISSING 97
#define DTF_RUNNER_MISSING_MARK "dtf: runner missing: "

struct dtf_failure_facts {
	bool timed_out; /* dtf stopped it at its timeout */
	bool cancelled; /* dtf stopped it because it was cancelled */
	int signal;	/* the signal that ended it (0: none) */
	int exit_code;
	long oom_kills_before; /* the cgroup's memory.events oom_kill around the task (-1: unknown)
				*/
	long oom_kills_after;
	bool memory_limited; /* the task has requirements.memory */
	const char *err;     /* its captured stderr (may be NULL) */
	size_t err_len;
	bool disk_full; /* the work directory's file system had no space left afterwards */
};

/* The error.kind of a failed attempt, NULL if it did not fail:
 *  - "timeout" / "cancelled" when dtf stopped it;
 *  - "oom" when it was killed by SIGKILL that dtf did not send while the cgroup's oom_kill count
 *    rose, or when the task has a memory requirement, failed, and its stderr ends with a
 *    well-known out-of-memory message (std::bad_alloc, MemoryError, "Cannot allocate memory",
 *    "out of memory");
 *  - "infrastructure" when it exited with DTF_EXIT_RUNNER_MISSING and said so on stderr (see
 *    dtf_runner_missing()), or when it failed and the work directory's file system is full;
 *  - "signal" / "exit_code" otherwise. */
const char *dtf_failure_kind(const struct dtf_failure_facts *f);

/* True when an attempt that ended with exit_code and stderr err[0..len) reported a missing test
 * runner: DTF_EXIT_RUNNER_MISSING and a line starting with DTF_RUNNER_MISSING_MARK in the last
 * 4 KiB of stderr. Then msg (when not NULL) gets the rest of the last such line. */
bool dtf_runner_missing(int exit_code, const char *err, size_t len, char *msg, size_t msglen);

/* The worker's cgroup (v2) oom_kill count from memory.events, or -1 when unknown. */
long dtf_cgroup_oom_kills(void);

#endif
