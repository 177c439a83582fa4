/* cli.h: the subcommand table and what the subcommands share (coordinator URL and API key from
 * flags or the environment, the remembered last run). */
#ifndef DTF_CLI_H
#define DTF_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct dtf_http_client;
struct dtf_isolate_opts;

struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* one line */
};

int cmd_coordinator(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_submit_task(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ci(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_notify(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_slurm(int argc, char **argv);
int cmd_k8s(int argc, char **argv);

/* The TLS flags of every command that talks to a coordinator (getopt_long entries; the codes
 * are outside the range of characters). */
enum {
	CLI_OPT_CA_CERT = 0x7100,
	CLI_OPT_INSECURE,
	CLI_OPT_INSECURE_FORCE,
	CLI_OPT_TLS_CERT,
	CLI_OPT_TLS_KEY,
};
#define CLI_TLS_LONGOPTS                                                                           \
	{"ca-cert", required_argument, NULL, CLI_OPT_CA_CERT},                                     \
	    {"insecure", no_argument, NULL, CLI_OPT_INSECURE},                                     \
	    {"insecure-force", no_argument, NULL, CLI_OPT_INSECURE_FORCE},                         \
	    {"tls-cert", required_argument, NULL, CLI_OPT_TLS_CERT},                               \
	{                                                                                          \
		"tls-key", required_argument, NULL, CLI_OPT_TLS_KEY                                \
	}
/* Their lines of --help. */
#define CLI_TLS_HELP                                                                               \
	"  --ca-cert F            trust the coordinator's certificate if this CA (PEM) signed "    \
	"it\n"                                                                                     \
	"                         (default $DTF_CA_CERT, else the system's store)\n"               \
	"  --insecure             do not check the certificate (loopback URLs only; warns)\n"      \
	"  --insecure-force       allow --insecure towards any host\n"                             \
	"  --tls-cert F, --tls-key F   a client certificate for a coordinator that asks for one\n"
struct cli_tls {
	const char *ca_cert, *cert, *key;
	bool insecure, insecure_force;
};
/* Stores a TLS flag into t: true if opt was one (arg is its optarg). */
bool cli_tls_flag(struct cli_tls *t, int opt, const char *arg);
/* Makes t (with $DTF_CA_CERT when there is no --ca-cert) the settings of the clients this
 * process builds afterwards (dtf_http_client_tls). Prints "<cmd>: reason" and returns
 * DTF_EINVAL on a bad combination. */
int cli_tls_apply(const char *cmd, const struct cli_tls *t);
/* A whole number from min to max for option flag of `dtf cmd`, else false after a message. */
bool cli_parse_long(const char *cmd, const char *flag, const char *s, long min, long max,
		    long *out);
/* dtf_http_client_init() for a command: prints "<cmd>: reason" on failure. */
int cli_client_init(const char *cmd, struct dtf_http_client *c, const char *url, const char *key);

/* The coordinator URL: flag value, else $DTF_COORDINATOR, else http://localhost:8080. */
const char *cli_coordinator_url(const char *flag);
/* The API key: flag value, else $DTF_API_KEY, else NULL. */
const char *cli_api_key(const char *flag);
/* Remembers the last run id in .dtf/last-run (so the seed pipelines need no ids). */
int cli_save_last_run(const char *run_id);
/* Reads it back into out; returns 0 or DTF_ENOTFOUND. */
int cli_load_last_run(char *out, size_t len);
/* Posts tasks (a JSON array of task objects; borrowed) to POST /api/v1/tasks as one new run
 * named run_name (may be NULL: the coordinator names it), with metadata (a JSON object for the
 * run's "metadata"; borrowed; NULL for none). This is the one way the CLI submits a task list
 * (dtf client submit-task, dtf submit-task, dtf run, dtf ci).
 *
 * The list goes in one request and is not split: the coordinator validates and stores a
 * request's tasks and its run in one transaction, all or nothing, and refuses a list of more
 * than DTF_MAX_TASKS_PER_REQUEST tasks (413). So there is no partial failure: on an error no
 * task and no run was created.
 *
 * On success returns 0, writes the new run's id into run_id (run_id_len bytes) and the number
 * of tasks accepted into *count (count may be NULL). On failure returns a DTF_E* code (as
 * dtf_http_call(): DTF_ENET, DTF_EPROTO for a refusal, ...) with the reason in c->error, and
 * leaves run_id and *count alone. Prints nothing: the caller words the message. */
int cli_submit_tasks(struct dtf_http_client *c, const json_t *tasks, const char *run_name,
		     const json_t *metadata, char *run_id, size_t run_id_len, int *count);
/* Submits the tasks of a task file (a list, {"tasks": [...]} or one task object) as one run
 * named run_name (default: the path) through cli_submit_tasks(); writes the run id and the
 * count. Prints errors itself. Returns 0 or a DTF_E* code. */
int cli_submit_file(struct dtf_http_client *c, const char *path, const char *run_name, char *run_id,
		    size_t run_id_len, int *count);
/* Waits until the run is done (or timeout_s passes, 0 = forever), showing progress on stderr
 * (a bar on a TTY). Stores the final summary's counts. Returns 0 when done, DTF_ETIMEOUT, or
 * another DTF_E* code. With cancel_unschedulable, tasks no registered worker can run are
 * cancelled once nothing else is left, so the run can end. With unsched (may be NULL), tasks that
 * stay unschedulable for its timeout are skipped as cli_unsched_check() does. */
struct run_counts {
	int total, completed, failed, cancelled, pending, running, unschedulable;
};
struct cli_unsched;
int cli_wait_run(struct dtf_http_client *c, const char *run_id, double timeout_s,
		 bool cancel_unschedulable, bool quiet, struct run_counts *out,
		 struct cli_unsched *unsched);
/* Waiting for tasks that no registered worker can run (cli/unsched.c). A task's clock starts
 * when a run summary first lists it as blocked and restarts when it is no longer blocked; after
 * timeout_s it is cancelled at the coordinator with reason=unschedulable (reported as skipped,
 * with the reason). */
struct cli_unsched {
	double timeout_s; /* 0: wait for them as long as the run lasts */
	json_t *seen;	  /* task id -> when it was first seen blocked (dtf_mono_ms) */
	json_t *skipped;  /* [{"id", "name", "reason"}] the tasks skipped so far */
};
void cli_unsched_init(struct cli_unsched *u, double timeout_s);
void cli_unsched_release(struct cli_unsched *u);
/* Looks at a run summary (GET /api/v1/runs/<id>/summary: "blocked", "blocked_count") and skips
 * the tasks blocked for timeout_s, saying so on stderr unless quiet. Returns how many it
 * skipped now. */
int cli_unsched_check(struct cli_unsched *u, struct dtf_http_client *c, const char *run_id,
		      const json_t *summary, bool quiet);
/* Seconds until the next task would be skipped, or -1 when none is being timed. */
double cli_unsched_next_s(const struct cli_unsched *u);
/* Prints one line per skipped task ("skipped NAME (ID): REASON") to f. */
void cli_unsched_print(const struct cli_unsched *u, FILE *f);
/* Reads a run summary's counts (GET /api/v1/runs/<id>/summary) into out; running includes
 * assigned tasks. */
void cli_read_counts(const json_t *summary, struct run_counts *out);
/* Downloads a run's report in format (json, junit) to path. */
int cli_export_run(struct dtf_http_client *c, const char *run_id, const char *format,
		   const char *path);
/* What cli_write_reports() writes (cli/reports.c). */
struct cli_report_opts {
	json_t *formats;	  /* names dtf_report_render() knows (borrowed) */
	const char *output_dir;	  /* exists */
	json_t *coverage_files;	  /* lcov / Cobertura paths, may be NULL (borrowed) */
	const char *compare_with; /* an earlier JSON report, or NULL */
	const char *badges_dir;	  /* or NULL */
	bool quiet;
	/* The isolation re-runs of the run's failing chunk tests (ci/isolate.h; borrowed), which
	 * classify them before the reports are written; NULL for none. */
	const json_t *isolation;
	const struct dtf_isolate_opts *isolate_opts; /* with isolation */
};
/* True for a report format name dtf_report_render() knows. */
bool cli_report_format_ok(const char *name);
/* Prints the run's one-line summary on stdout, "<prefix>: 12 tests: 9 passed, 1 failed, 2 skipped
 * (4 tasks) in 3.2 s", from counts: a report's summary or the "tests" object of GET
 * /api/v1/runs/{id}/summary (the same counts, common/testcount.h). k (the run's task counts)
 * gives the number of tasks, and the line when counts is NULL. secs < 0 leaves the time out.
 * Returns true when nothing failed, was cancelled or is unfinished. */
bool cli_print_summary(const char *prefix, const json_t *counts, const struct run_counts *k,
		       double secs);
/* Pushes a finished run's metrics to the Pushgateway at url (or $DTF_PUSHGATEWAY_URL when url
 * is NULL; nothing when neither is set) under job "dtf" and run run_id, and says on stderr
 * whether it worked. summary is the report's test counts. A push that fails is reported, and
 * does not change the exit status: the tests' outcome is not the metrics' delivery. */
void cli_push_run(const char *prefix, const char *url, const char *run_id, const json_t *summary,
		  long long tasks, double secs, int exit_status);
/* Fetches run_id's results, prepares the report model and writes each format into output_dir
 * (and badges). *doc stores the prepared model (a new reference, or NULL when it could not be
 * fetched). Prints errors itself; returns 0 or the last DTF_E* code. */
int cli_write_reports(struct dtf_http_client *c, const char *run_id,
		      const struct cli_report_opts *o, json_t **doc);

#endif
