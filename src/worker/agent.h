/* agent.h: the worker agent: registers with detected hardware, heartbeats, long-polls for
 * leases, runs tasks on its slots and reports results, holding them while the coordinator is
 * unreachable. */
#ifndef DTF_WORKER_AGENT_H
#define DTF_WORKER_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct dtf_plugins;
struct dtf_bpool;

struct agent_config {
	const char *coordinator;     /* base URL */
	const char *api_key;	     /* may be NULL */
	const char *worker_id;	     /* NULL: the coordinator assigns one */
	int slots;		     /* tasks at once (default 1) */
	const char *work_dir;	     /* per-task directories go under it */
	json_t *labels;		     /* borrowed object, may be NULL */
	json_t *extra_hardware;	     /* borrowed array of hardware classes added to detection */
	json_t *capabilities;	     /* borrowed object merged over detection (tests, overrides) */
	size_t output_cap;	     /* bytes of stdout/stderr kept per stream */
	bool keep_work_dirs;	     /* keep the directories of tasks that passed */
	double lease_wait_s;	     /* long-poll length (default 20 s) */
	double ahead_below_s;	     /* a task that ran less is short (lease-ahead); 0: 0.05 s */
	double drain_timeout_s;	     /* bound of the drain from the first signal; 0: none */
	struct dtf_plugins *plugins; /* task processors and resource managers, or NULL */
	struct dtf_bpool *browsers;  /* the browser pool of `browser` tasks, or NULL (borrowed) */
	bool slurm;	  /* offer the Slurm job's allocation, not the node's (worker/slurm.h) */
	double cpus;	  /* CPU cores offered instead of the detected ones; 0: detected */
	long long memory; /* MiB offered instead of the detected memory; 0: detected */
};

/* Runs the agent until it is told to stop: the first SIGTERM/SIGINT drains (finishes running
 * tasks, takes no new ones, reports, returns 0); a second one, SIGQUIT, or the end of
 * drain_timeout_s stops running tasks (their process groups are killed) and reports them
 * interrupted so the coordinator requeues them. Delivery is given up a second after that stop
 * (half a second after the end of the drain timeout; at once when the coordinator refuses
 * connections): undelivered results go to the spool in the work directory, which the next start
 * under the same worker id delivers. At start it kills what is left of the tasks its last run was
 * running (and reports them interrupted) before it leases. Returns 0 (also when stopped before
 * it could register), DTF_EEXISTS when another worker with this id uses this work directory,
 * or another DTF_E* code when it could not start. The caller must have blocked SIGTERM, SIGINT
 * and SIGQUIT in every thread. */
int agent_run(const struct agent_config *cfg);

/* Builds the capabilities this worker registers with (detection plus overrides). */
json_t *agent_capabilities(const struct agent_config *cfg);

#endif
