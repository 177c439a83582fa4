/* state.h: what a worker keeps in its work directory so that nothing it started outlives it and
 * nothing it finished is lost when it stops: a lock (one worker per id and directory), one
 * record per slot of the task process group the slot runs (pid, process start time, task id,
 * attempt), a guard process that kills those groups when the worker dies, and the path of the
 * spool of results it could not deliver (agent.c writes and reads that file).
 *
 * The files are <work_dir>/.worker-<name>.{lock,tasks,spool,token}, name being the worker id (or
 * "anonymous" for a worker whose id the coordinator assigns). The token file keeps the worker's
 * current token (its credential towards a coordinator with keys, docs/auth.md), so that the
 * worker started again after a crash registers again at once with it instead of waiting for
 * the coordinator to declare its old self lost. */
#ifndef DTF_WORKER_STATE_H
#define DTF_WORKER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DTF_WSTATE_PATH 4352

struct dtf_wstate {
	int lock_fd;	 /* holds the lock; -1 when no state is kept */
	int tasks_fd;	 /* the records file; -1 when none */
	int guard_fd;	 /* write end of the guard's pipe (close-on-exec); -1 when none */
	pid_t guard_pid; /* the guard, 0 when none */
	int slots;
	char lock_path[DTF_WSTATE_PATH];
	char tasks_path[DTF_WSTATE_PATH];
	char spool_path[DTF_WSTATE_PATH];
	char token_path[DTF_WSTATE_PATH]; /* the worker's current token (mode 0600) */
	char boot_id[40];
};

/* A task the previous run of this worker was running when it ended (its record was left). */
struct dtf_wstate_task {
	char task_id[72];
	long long attempt;
	int pgid;	 /* the leader's pid, which is the group's id */
	int killed;	 /* processes of it the sweep found alive and killed */
	bool other_boot; /* recorded before the machine last booted: nothing can be left */
};

/* Opens the state of worker `name` in work_dir (which must exist) for `slots` slots and takes
 * its lock. Returns 0, DTF_EEXISTS when another process still holds the lock after a second
 * (err says which file), or DTF_EIO. On failure s is left closed (every descriptor -1); release it
 * with dtf_wstate_close() in every case. */
int dtf_wstate_open(struct dtf_wstate *s, const char *work_dir, const char *name, int slots,
		    char *err, size_t errlen);

/* Reads the records the previous run left, kills whatever is still alive of those tasks'
 * process groups (identity checked: see state.c), waits up to a second for them to be gone, and
 * clears the records. *tasks (malloc'ed, the caller frees it) gets one entry per task that was
 * running, *n their count. Returns 0 or DTF_ENOMEM/DTF_EIO (records that could not be read
 * are kept for a later start). */
int dtf_wstate_sweep(struct dtf_wstate *s, struct dtf_wstate_task **tasks, size_t *n);

/* Starts the guard: a small process (a fork of this one, so call it before starting threads if
 * possible) that waits for this process to end, however it ends, then kills what is left of
 * the recorded task groups. Returns 0, or DTF_ESPAWN (the worker runs on without it). */
int dtf_wstate_guard(struct dtf_wstate *s);

/* Records that `slot` runs task_id/attempt whose leader (and process group) is pid; then that it
 * runs nothing. Safe from several threads at once (one slot each). */
void dtf_wstate_task_started(struct dtf_wstate *s, int slot, const char *task_id, long long attempt,
			     pid_t pid);
void dtf_wstate_task_ended(struct dtf_wstate *s, int slot);

/* Keeps token (the worker's current one) in the token file, mode 0600, replaced atomically;
 * nothing when the state is not kept. 0 or DTF_EIO. */
int dtf_wstate_token_save(struct dtf_wstate *s, const char *token);
/* Reads the token the last run kept into out (len bytes; "" when none): only from a file of this
 * user's that no one else may read (else it is ignored, with a warning). 0, or DTF_ENOTFOUND when
 * there is none to use. */
int dtf_wstate_token_load(struct dtf_wstate *s, char *out, size_t len);

/* Releases the lock and closes the files; the guard, seeing its pipe closed, checks the records
 * (all idle after a clean stop) and exits, and is reaped here (waiting up to 2 s). Accepts a
 * state that dtf_wstate_open() left closed. */
void dtf_wstate_close(struct dtf_wstate *s);

#endif
