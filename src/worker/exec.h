/* exec.h: runs one task's process: argv (never a shell unless the argv is one), its own process
 * group, its own working directory and environment, a timeout that kills the whole group, and
 * stdout/stderr captured up to a cap. The process is started with PR_SET_PDEATHSIG SIGKILL (on
 * Linux): should the thread that runs dtf_exec_run() end before it (the worker died, even by
 * SIGKILL), the kernel kills it. */
#ifndef DTF_WORKER_EXEC_H
#define DTF_WORKER_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Values of *spec->cancel. */
#define DTF_EXEC_CANCEL 1 /* SIGTERM to the group, SIGKILL kill_grace_s later */
#define DTF_EXEC_CANCEL_NOW                                                                        \
	2 /* the same with a grace of at most DTF_EXEC_NOW_GRACE_MS, and the                       \
	   * output of stray processes read for at most 100 ms after the end */
#define DTF_EXEC_NOW_GRACE_MS 300

struct dtf_exec_spec {
	char *const *argv;   /* NULL-terminated; argv[0] is looked up in PATH when it has no '/' */
	char *const *envp;   /* NULL-terminated full environment for the child */
	const char *cwd;     /* working directory of the child; NULL keeps the caller's */
	double timeout_s;    /* 0 means none */
	double kill_grace_s; /* time between SIGTERM and SIGKILL to the group (default 2 s if 0) */
	size_t output_cap;   /* bytes kept of each of stdout and stderr (head and tail halves) */
	atomic_int *cancel;  /* optional: when it becomes non-zero the group is stopped (a
			      * DTF_EXEC_CANCEL* value; it may rise from 1 to 2 meanwhile) */
	/* Optional: called once the process is started, on the caller's thread, with its pid
	 * (which is also its process group id), before anything is read from it. */
	void (*started)(void *arg, pid_t pid);
	void *started_arg;
};

struct dtf_exec_result {
	int exit_code;	   /* the exit status, or -1 when killed by a signal or not started */
	int signal;	   /* the signal that ended it, 0 if none */
	bool timed_out;	   /* stopped because timeout_s passed */
	bool cancelled;	   /* stopped because *cancel became non-zero */
	bool spawn_failed; /* could not be started; see error */
	double duration_s; /* wall time from start to the end of the process */
	char *out, *err;   /* captured output, NUL-terminated, owned by the result */
	size_t out_len, err_len;
	size_t out_dropped, err_dropped; /* bytes left out in the middle because of the cap */
	char error[256];		 /* a one-line reason when spawn_failed */
};

/* Runs the process and waits for it and for the end of its output. Returns 0 when the process
 * ran (whatever its exit status), DTF_ESPAWN when it could not be started (result->error says
 * why), DTF_EINVAL for a bad spec. The result is always initialized; release it with
 * dtf_exec_result_release(). Safe to call from several threads at once. */
int dtf_exec_run(const struct dtf_exec_spec *spec, struct dtf_exec_result *result);

/* Frees the captured output. Accepts a zeroed result. */
void dtf_exec_result_release(struct dtf_exec_result *result);

#endif
