/* local.h: an embedded coordinator with N local worker processes, as `dtf run` and
 * `dtf ci --embedded` use them. */
#ifndef DTF_CLI_LOCAL_H
#define DTF_CLI_LOCAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "net/http.h"

#define DTF_LOCAL_MAX_WORKERS 256

struct dtf_local_opts {
	const char *state_dir; /* dtf.db, logs/ and work/ go here */
	int workers;	       /* 1..DTF_LOCAL_MAX_WORKERS */
	int slots;	       /* tasks per worker at once (0: the worker's default) */
	const char *hardware;  /* --hardware for the workers, or NULL */
	bool keep_work_dirs;   /* keep passed tasks' directories (artifact collection) */
	unsigned port;	       /* the coordinator's loopback port; 0: one the system picks */
	/* --config: the YAML document (plugins, scheduler, integrations, notifications) and its
	 * path, or NULL */
	const json_t *config_doc;
	const char *config_path;
};

struct dtf_local {
	struct coordinator *coord;
	pid_t pids[DTF_LOCAL_MAX_WORKERS];
	int n;
	char url[64]; /* the coordinator's base URL */
};

/* Starts the coordinator on a loopback port chosen by the system and the workers (named local-1
 * … local-N, output in state_dir/logs/). On failure what was started stays in l for
 * dtf_local_stop(); returns a DTF_E* code with err set. */
int dtf_local_start(struct dtf_local *l, const struct dtf_local_opts *o, char *err, size_t errlen);
/* Waits (at most 10 s) until every local worker has registered, so placement reasons are
 * meaningful from the first task. */
void dtf_local_wait_workers(struct dtf_local *l, struct dtf_http_client *hc);
/* Stops the workers (drained; with interrupt, running tasks are interrupted at once), waits for
 * them and stops the coordinator. Safe on a partly started or zeroed l. */
void dtf_local_stop(struct dtf_local *l, bool interrupt);
/* Sends what the embedded coordinator's notifications outbox holds (at most timeout_s; negative:
 * notifications.flush_timeout_s of its configuration), saying
 * so on stderr under prefix when there is anything to send or something is left. */
void dtf_local_flush_notifications(struct dtf_local *l, const char *prefix, double timeout_s);

#endif
