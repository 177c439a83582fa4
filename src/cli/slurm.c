/* slurm.c: `dtf slurm submit-workers|status|stop-workers`: workers as a Slurm job array. Each
 * element's batch script execs `dtf worker --slurm` (worker/slurm.h: the job's allocation as its
 * resources, the job as its labels), which pulls tasks like any worker; Slurm's warning signal
 * before the time limit and stop-workers send it SIGTERM, on which it drains. sbatch, squeue and
 * scancel are run from an argv (fork/exec), never through a shell. docs/deploy.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "net/http.h"

extern char **environ;

#define JOB_NAME_DEFAULT "dtf-worker"
#define MAX_ARGS	 256	     /* sbatch/squeue/scancel argv entries we build */
#define TOOL_OUT_CAP	 (4u << 20)  /* what a Slurm command may print that we read */
#define SCRIPT_CAP	 (32u << 10) /* the batch script (fits a pipe's buffer) */
#define MAX_COUNT	 100000	     /* workers in one array (Slurm's MaxArraySize bounds it too) */
#define WARNING_DEFAULT	 120	     /* s before the time limit that Slurm sends SIGTERM */
#define DRAIN_MARGIN	 15	     /* s between the drain's bound and the job's end */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: dtf slurm submit-workers --count N --coordinator URL [options]\n"
	    "       dtf slurm status [--job-name NAME] [--all-users] [--coordinator URL]\n"
	    "       dtf slurm stop-workers [--now | --force] [--job-name NAME] [JOBID …]\n"
	    "       dtf slurm autoscale --max N --coordinator URL [--min N] [--interval S]\n"
	    "                           [--idle-timeout S] [--once] [submit-workers' options]\n"
	    "\n"
	    "submit-workers: one Slurm job array of N elements, each running `dtf worker --slurm`\n"
	    "(the job's CPUs, memory and GPUs as its resources; labels launcher=slurm,\n"
	    "slurm_job_id, slurm_partition, slurm_node, …). Before the time limit Slurm sends\n"
	    "the worker SIGTERM and it drains: running tasks finish, no new ones start.\n"
	    "  --count N              workers (array elements) to start\n"
	    "  --coordinator URL      the coordinator (default $DTF_COORDINATOR); the nodes must\n"
	    "                         reach it\n"
	    "  --partition P, --time T, --gres G, --cpus C, --mem M, --account A\n"
	    "                         sbatch's --partition, --time, --gres (gpu:1),\n"
	    "                         --cpus-per-task, --mem, --account\n"
	    "  --slots S              tasks each worker runs at once (default 1)\n"
	    "  --labels k=v,…         more labels for the workers\n"
	    "  --enroll-key-file F    the workers' enrollment key (a file the nodes can read)\n"
	    "  --ca-cert F            the CA of the coordinator's certificate (for https)\n"
	    "  --warning S            Slurm signals the worker S s before the time limit\n"
	    "                         (--signal=B:TERM@S; default %d)\n"
	    "  --drain-timeout S      the worker's bound on its drain (default: the warning\n"
	    "                         less %d s)\n"
	    "  --job-name NAME        the array's job name, which status and stop-workers look\n"
	    "                         for (default " JOB_NAME_DEFAULT ")\n"
	    "  --log-dir D            each element's output in D/NAME-<job>_<index>.log\n"
	    "                         (default: Slurm's, slurm-<job>_<index>.out in the cwd)\n"
	    "  --dtf PATH             the dtf binary on the nodes (default: this one's path)\n"
	    "  --sbatch-arg A         one more argument for sbatch (repeatable)\n"
	    "  --worker-arg A         one more argument for dtf worker (repeatable)\n"
	    "  --dry-run              print the sbatch command and the batch script; submit "
	    "nothing\n"
	    "  Prints the array's job id on stdout.\n"
	    "\n"
	    "status: squeue's view of the arrays named NAME, one line per element; with\n"
	    "--coordinator (or $DTF_COORDINATOR) and --api-key, each element's worker and its\n"
	    "state there.\n"
	    "stop-workers: cancels pending elements and sends the running workers SIGTERM\n"
	    "(scancel --batch): each drains and leaves. --now sends SIGQUIT instead: the worker\n"
	    "stops its tasks at once and the coordinator requeues them. --force: Slurm's own\n"
	    "scancel (every process of the job). JOBIDs (12, 12_3) narrow it to those jobs.\n"
	    "\n"
	    "autoscale: every --interval S (10) compares the coordinator's pending tasks with\n"
	    "the pool's workers: while tasks wait, no worker of the pool is idle and none is\n"
	    "queued in Slurm or starting, it submits enough workers for them (--slots each), up\n"
	    "to --max elements in all; a worker idle for --idle-timeout S (300) is stopped (it\n"
	    "drains), down to --min (0). --once: one look, then exit. SIGINT/SIGTERM end it.\n"
	    "\n"
	    "Common: --sbatch PATH, --squeue PATH, --scancel PATH (default: found in PATH);\n"
	    "the cluster is the one of $SLURM_CONF.\n",
	    WARNING_DEFAULT, DRAIN_MARGIN);
}

/* Runs argv (argv[0] is looked up in PATH), feeding it input (may be NULL: /dev/null) and, when
 * out is not NULL, keeping its stdout there (to TOOL_OUT_CAP); stderr is the user's. Returns
 * the command's exit status (0..255), or -1 when it could not be started or was killed (said on
 * stderr). */
static int run_tool(char *const argv[], const char *input, struct dtf_buf *out)
{
	int in[2] = {-1, -1}, op[2] = {-1, -1}, status, rc = -1;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	char chunk[4096];
	ssize_t n;

	if (pipe2(in, O_CLOEXEC) != 0 || (out && pipe2(op, O_CLOEXEC) != 0)) {
		fprintf(stderr, "dtf slurm: pipe: %s\n", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	errno = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno) {
		fprintf(stderr, "dtf slurm: cannot run %s: %s\n", argv[0], strerror(errno));
		goto out;
	}
	close(in[0]);
	in[0] = -1;
	if (out) {
		close(op[1]);
		op[1] = -1;
	}
	/* The script fits the pipe's buffer (SCRIPT_CAP), so this cannot wait on our reading. */
	if (input) {
		size_t len = strlen(input), off = 0;
		while (off < len) {
			n = write(in[1], input + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* the command exited early: its status says why */
			off += (size_t)n;
		}
	}
	close(in[1]);
	in[1] = -1;
	while (out && (n = read(op[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* Past the cap the rest is read and dropped, so the command never blocks. */
		dtf_buf_add(out, chunk, (size_t)n);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "dtf slurm: waitpid: %s\n", strerror(errno));
			goto out;
		}
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else
		fprintf(stderr, "dtf slurm: %s was killed by signal %d\n", argv[0],
			WTERMSIG(status));
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (op[i] >= 0)
			close(op[i]);
	}
	return rc;
}

/* An argv under construction; every string is owned. */
struct argv_list {
	char *v[MAX_ARGS + 1];
	int n;
	bool full;
};

static void args_add(struct argv_list *a, const char *s)
{
	if (a->n >= MAX_ARGS) {
		a->full = true;
		return;
	}
	a->v[a->n] = strdup(s);
	if (!a->v[a->n])
		a->full = true;
	else
		a->n++;
}

static void args_addf(struct argv_list *a, const char *fmt, const char *value)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 8192);
	dtf_buf_printf(&b, fmt, value);
	args_add(a, dtf_buf_str(&b));
	dtf_buf_release(&b);
}

static void args_release(struct argv_list *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/* A value that goes into a generated script or a Slurm option: no control characters (a newline
 * would end the script's line). */
static bool clean_value(const char *what, const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "dtf slurm: %s holds a control character\n", what);
			return false;
		}
	return true;
}

/* The user whose jobs status and stop-workers look at (Slurm's --user): the name, or the uid
 * where the password database has none (a container's arbitrary uid), which Slurm accepts too.
 * Never NULL: without it scancel would act on every user's jobs of that name. */
static const char *user_name(void)
{
	static char uid[32];
	struct passwd *pw = getpwuid(getuid());

	if (pw && pw->pw_name && *pw->pw_name)
		return pw->pw_name;
	snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
	return uid;
}

struct submit_opts {
	long count, slots;
	const char *coordinator, *partition, *time, *gres, *cpus, *mem, *account, *labels;
	const char *enroll_key_file, *ca_cert, *job_name, *log_dir, *dtf, *sbatch;
	double warning, drain_timeout;
	const char *sbatch_args[64], *worker_args[64];
	int n_sbatch_args, n_worker_args;
	bool dry_run;
};

/* Writes the batch script each element runs into b. */
static int build_script(const struct submit_opts *o, const char *key_path, const char *ca_path,
			struct dtf_buf *b)
{
	char num[64];
	int rc = 0;

	rc |= dtf_buf_adds(
	    b, "#!/bin/sh\n"
	       "# A dtf worker per element of this job array (dtf slurm "
	       "submit-workers).\n"
	       "# exec: the worker becomes the batch step's process, so that the signal "
	       "before the\n"
	       "# time limit (--signal=B:TERM) and `dtf slurm stop-workers` (scancel "
	       "--batch)\n"
	       "# reach it: it drains (finishes its running tasks, takes no new ones) and "
	       "leaves.\n"
	       "exec ");
	rc |= dtf_buf_add_shquote(b, o->dtf);
	rc |= dtf_buf_adds(b, " worker --slurm --coordinator ");
	rc |= dtf_buf_add_shquote(b, o->coordinator);
	snprintf(num, sizeof(num), " --slots %ld --drain-timeout %g", o->slots, o->drain_timeout);
	rc |= dtf_buf_adds(b, num);
	if (key_path) {
		rc |= dtf_buf_adds(b, " --enroll-key-file ");
		rc |= dtf_buf_add_shquote(b, key_path);
	}
	if (ca_path) {
		rc |= dtf_buf_adds(b, " --ca-cert ");
		rc |= dtf_buf_add_shquote(b, ca_path);
	}
	if (o->labels) {
		rc |= dtf_buf_adds(b, " --labels ");
		rc |= dtf_buf_add_shquote(b, o->labels);
	}
	for (int i = 0; i < o->n_worker_args; i++) {
		rc |= dtf_buf_adds(b, " ");
		rc |= dtf_buf_add_shquote(b, o->worker_args[i]);
	}
	rc |= dtf_buf_adds(b, "\n");
	return rc ? DTF_ETOOBIG : 0;
}

/* An absolute path for a file the nodes will read; prints the reason and returns NULL when it
 * cannot be read here. The caller frees it. */
static char *node_path(const char *flag, const char *path)
{
	char *abs = realpath(path, NULL);

	if (!abs || access(abs, R_OK) != 0) {
		fprintf(stderr, "dtf slurm: cannot read %s %s: %s\n", flag, path, strerror(errno));
		free(abs);
		return NULL;
	}
	return abs;
}

static void print_argv(FILE *f, char *const *argv)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 1 << 20);
	for (int i = 0; argv[i]; i++) {
		if (i)
			dtf_buf_adds(&b, " ");
		dtf_buf_add_shquote(&b, argv[i]);
	}
	fprintf(f, "%s\n", dtf_buf_str(&b));
	dtf_buf_release(&b);
}

static int submit_workers(struct submit_opts *o)
{
	struct argv_list a = {.n = 0};
	struct dtf_buf script, out;
	char *key_path = NULL, *ca_path = NULL, num[64];
	int rc = 1, st;

	dtf_buf_init(&script, SCRIPT_CAP);
	dtf_buf_init(&out, TOOL_OUT_CAP);
	if (o->count < 1 || o->count > MAX_COUNT) {
		fprintf(stderr, "dtf slurm: submit-workers needs --count N (1-%d)\n", MAX_COUNT);
		goto out;
	}
	if (!o->coordinator || !*o->coordinator) {
		fprintf(stderr, "dtf slurm: submit-workers needs --coordinator URL (or "
				"$DTF_COORDINATOR): the URL the nodes reach the coordinator at\n");
		goto out;
	}
	if (o->warning < 1 || o->warning > 65535) {
		fprintf(stderr, "dtf slurm: --warning wants 1-65535 seconds\n");
		goto out;
	}
	if (o->drain_timeout < 0) {
		o->drain_timeout = o->warning - DRAIN_MARGIN;
		if (o->drain_timeout < 1)
			o->drain_timeout = 1;
	}
	if (o->enroll_key_file && !(key_path = node_path("--enroll-key-file", o->enroll_key_file)))
		goto out;
	if (o->ca_cert && !(ca_path = node_path("--ca-cert", o->ca_cert)))
		goto out;
	{
		const char *vals[] = {o->coordinator, o->partition, o->time,	o->gres,
				      o->cpus,	      o->mem,	    o->account, o->labels,
				      o->job_name,    o->log_dir,   o->dtf};
		for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
			if (vals[i] && !clean_value("an option's value", vals[i]))
				goto out;
		for (int i = 0; i < o->n_worker_args; i++)
			if (!clean_value("--worker-arg", o->worker_args[i]))
				goto out;
	}
	if (build_script(o, key_path, ca_path, &script) != 0) {
		fprintf(stderr, "dtf slurm: the batch script would exceed %u bytes\n", SCRIPT_CAP);
		goto out;
	}
	args_add(&a, o->sbatch);
	args_add(&a, "--parsable");
	args_addf(&a, "--job-name=%s", o->job_name);
	args_addf(&a, "--comment=dtf workers for %s", o->coordinator);
	snprintf(num, sizeof(num), "--array=0-%ld", o->count - 1);
	args_add(&a, num);
	snprintf(num, sizeof(num), "--signal=B:TERM@%.0f", o->warning);
	args_add(&a, num);
	if (o->partition)
		args_addf(&a, "--partition=%s", o->partition);
	if (o->time)
		args_addf(&a, "--time=%s", o->time);
	if (o->gres)
		args_addf(&a, "--gres=%s", o->gres);
	if (o->cpus)
		args_addf(&a, "--cpus-per-task=%s", o->cpus);
	if (o->mem)
		args_addf(&a, "--mem=%s", o->mem);
	if (o->account)
		args_addf(&a, "--account=%s", o->account);
	if (o->log_dir) {
		struct dtf_buf p;
		dtf_buf_init(&p, 8192);
		dtf_buf_printf(&p, "--output=%s/%s-%%A_%%a.log", o->log_dir, o->job_name);
		args_add(&a, dtf_buf_str(&p));
		dtf_buf_release(&p);
	}
	for (int i = 0; i < o->n_sbatch_args; i++)
		args_add(&a, o->sbatch_args[i]);
	if (a.full) {
		fprintf(stderr, "dtf slurm: too many arguments for sbatch\n");
		goto out;
	}
	a.v[a.n] = NULL;
	if (o->dry_run) {
		printf("# the script goes to sbatch's standard input\n");
		print_argv(stdout, a.v);
		printf("%s", dtf_buf_str(&script));
		rc = 0;
		goto out;
	}
	st = run_tool(a.v, dtf_buf_str(&script), &out);
	if (st != 0) {
		if (st > 0)
			fprintf(stderr, "dtf slurm: sbatch failed (exit status %d)\n", st);
		goto out;
	}
	{
		/* --parsable: "<job id>[;<cluster>]". */
		const char *s = dtf_buf_str(&out);
		size_t n = strcspn(s, ";\r\n");
		if (n == 0 || n > 64) {
			fprintf(stderr, "dtf slurm: sbatch printed no job id: %.200s\n", s);
			goto out;
		}
		printf("%.*s\n", (int)n, s);
		fprintf(stderr, "dtf slurm: submitted job array %.*s: %ld worker%s for %s\n",
			(int)n, s, o->count, o->count == 1 ? "" : "s", o->coordinator);
	}
	rc = 0;
out:
	args_release(&a);
	dtf_buf_release(&script);
	dtf_buf_release(&out);
	free(key_path);
	free(ca_path);
	return rc;
}

/* The coordinator's workers that Slurm started, by their slurm_job_id label: a new object
 * ("<job id>" -> {"id", "status", "running"}), or NULL when it could not be asked (said on
 * stderr). */
static json_t *coordinator_workers(const char *url, const char *key)
{
	struct dtf_http_client c;
	json_t *resp = NULL, *w, *by_job = NULL;
	size_t i;

	if (cli_client_init("dtf slurm", &c, url, key) != 0)
		return NULL;
	if (dtf_http_call(&c, "GET", "/api/v1/workers", NULL, 10000, &resp) != 0) {
		fprintf(stderr, "dtf slurm: cannot list the coordinator's workers: %s\n", c.error);
		goto out;
	}
	by_job = json_object();
	json_array_foreach(json_object_get(resp, "workers"), i, w) {
		json_t *labels = json_object_get(w, "labels");
		const char *job = dtf_json_str(labels, "slurm_job_id", NULL);
		if (!job || strcmp(dtf_json_str(labels, "launcher", ""), "slurm") != 0)
			continue;
		json_object_set_new(by_job, job,
				    json_pack("{s:s,s:s,s:I}", "id", dtf_json_str(w, "id", "?"),
					      "status", dtf_json_str(w, "status", "?"), "running",
					      (json_int_t)dtf_json_int(w, "active_tasks", 0)));
	}
out:
	json_decref(resp);
	dtf_http_client_release(&c);
	return by_job;
}

static int status(const char *squeue, const char *job_name, bool all_users, const char *coord,
		  const char *key)
{
	struct argv_list a = {.n = 0};
	struct dtf_buf out;
	const char *user = user_name(), *line;
	json_t *workers = NULL;
	int rc = 1, st;

	dtf_buf_init(&out, TOOL_OUT_CAP);
	args_add(&a, squeue);
	args_addf(&a, "--name=%s", job_name);
	if (!all_users)
		args_addf(&a, "--user=%s", user);
	/* One line per array element, pending ones too; the element's own job id (%A) is the
	 * worker's slurm_job_id label. '|' separates: no field of these holds one. */
	args_add(&a, "--array");
	args_add(&a, "--noheader");
	args_add(&a, "--format=%i|%A|%T|%M|%L|%P|%N|%r");
	a.v[a.n] = NULL;
	st = a.full ? -1 : run_tool(a.v, NULL, &out);
	if (st != 0) {
		if (st > 0)
			fprintf(stderr, "dtf slurm: squeue failed (exit status %d)\n", st);
		goto out;
	}
	if (coord)
		workers = coordinator_workers(coord, key);
	printf("%-14s %-10s %-11s %-10s %-10s %-10s %-14s %s\n", "ELEMENT", "JOBID", "STATE",
	       "TIME", "LEFT", "PARTITION", "NODE", coord ? "WORKER" : "REASON");
	for (line = dtf_buf_str(&out); *line;) {
		size_t n = strcspn(line, "\n");
		char row[1024], *f[8] = {NULL};
		int nf = 0;
		snprintf(row, sizeof(row), "%.*s", (int)(n < sizeof(row) ? n : sizeof(row) - 1),
			 line);
		line += n + (line[n] == '\n');
		/* strtok_r would merge the empty fields of pending elements (no node). */
		for (char *p = row; nf < 8; nf++) {
			f[nf] = p;
			if (!(p = strchr(p, '|')))
				break;
			*p++ = '\0';
		}
		if (nf < 7)
			continue;
		if (coord) {
			json_t *w = json_object_get(workers, f[1]);
			char desc[256];
			if (w)
				snprintf(desc, sizeof(desc), "%s %s (%lld running)",
					 dtf_json_str(w, "id", "?"), dtf_json_str(w, "status", "?"),
					 (long long)dtf_json_int(w, "running", 0));
			else
				snprintf(desc, sizeof(desc), "-");
			printf("%-14s %-10s %-11s %-10s %-10s %-10s %-14s %s\n", f[0], f[1], f[2],
			       f[3], f[4], f[5], *f[6] ? f[6] : "-", desc);
		} else {
			printf("%-14s %-10s %-11s %-10s %-10s %-10s %-14s %s\n", f[0], f[1], f[2],
			       f[3], f[4], f[5], *f[6] ? f[6] : "-", f[7]);
		}
	}
	rc = 0;
out:
	json_decref(workers);
	args_release(&a);
	dtf_buf_release(&out);
	return rc;
}

/* Runs scancel with the given first options, then the job's name, the user and the jobs (all of
 * the user's jobs of that name when none is named); 0 when it succeeded. */
static int scancel_jobs(const char *scancel, const char *const *opts, const char *job_name,
			const char *user, char **jobs, int njobs)
{
	struct argv_list a = {.n = 0};
	int st;

	args_add(&a, scancel);
	for (; *opts; opts++)
		args_add(&a, *opts);
	args_addf(&a, "--name=%s", job_name);
	args_addf(&a, "--user=%s", user);
	for (int i = 0; i < njobs; i++)
		args_add(&a, jobs[i]);
	a.v[a.n] = NULL;
	st = a.full ? -1 : run_tool(a.v, NULL, NULL);
	args_release(&a);
	return st;
}

static int stop_workers(const char *scancel, const char *job_name, int mode, char **jobs, int njobs)
{
	static const char *const force[] = {NULL};
	static const char *const pending[] = {"--state=PENDING", NULL};
	/* The signal goes to the batch step only, which is the worker (its script execs it); its
	 * tasks are not signalled, the worker decides what becomes of them. */
	static const char *const drain[] = {"--state=RUNNING", "--batch", "--signal=TERM", NULL};
	static const char *const now[] = {"--state=RUNNING", "--batch", "--signal=QUIT", NULL};
	const char *user = user_name();
	int rc = 0;

	for (int i = 0; i < njobs; i++)
		if (!clean_value("a job id", jobs[i]))
			return 1;
	/* Slurm's own cancel: every process of the job gets SIGTERM, then SIGKILL. */
	if (mode == 'f')
		return scancel_jobs(scancel, force, job_name, user, jobs, njobs) == 0 ? 0 : 1;
	/* Pending elements have no worker to drain: they are cancelled. */
	if (scancel_jobs(scancel, pending, job_name, user, jobs, njobs) != 0)
		rc = 1;
	/* Running ones: drained (SIGTERM) or stopped now (SIGQUIT). */
	if (scancel_jobs(scancel, mode == 'n' ? now : drain, job_name, user, jobs, njobs) != 0)
		rc = 1;
	return rc;
}

/* --- autoscale --- */

struct autoscale_opts {
	long min, max;
	double interval, idle_timeout;
	bool once;
	const char *api_key, *squeue, *scancel;
};

static volatile sig_atomic_t autoscale_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	autoscale_stop = 1;
}

/* The pool's array elements in Slurm: "<element job id>" -> "PENDING"/"RUNNING"/… (a new
 * object), or NULL when squeue failed (said on stderr). */
static json_t *pool_elements(const char *squeue, const char *job_name)
{
	struct argv_list a = {.n = 0};
	struct dtf_buf out;
	json_t *el = NULL;
	const char *line;
	int st;

	dtf_buf_init(&out, TOOL_OUT_CAP);
	args_add(&a, squeue);
	args_addf(&a, "--name=%s", job_name);
	args_addf(&a, "--user=%s", user_name());
	args_add(&a, "--array");
	args_add(&a, "--noheader");
	args_add(&a, "--format=%A|%T");
	a.v[a.n] = NULL;
	st = a.full ? -1 : run_tool(a.v, NULL, &out);
	args_release(&a);
	if (st != 0) {
		if (st > 0)
			fprintf(stderr, "dtf slurm: squeue failed (exit status %d)\n", st);
		goto out;
	}
	el = json_object();
	for (line = dtf_buf_str(&out); el && *line;) {
		size_t n = strcspn(line, "\n"), k = strcspn(line, "|");
		char id[64], state[64];
		if (k < n && k > 0 && k < sizeof(id) && n - k - 1 < sizeof(state)) {
			snprintf(id, sizeof(id), "%.*s", (int)k, line);
			snprintf(state, sizeof(state), "%.*s", (int)(n - k - 1), line + k + 1);
			json_object_set_new(el, id, json_string(state));
		}
		line += n + (line[n] == '\n');
	}
out:
	dtf_buf_release(&out);
	return el;
}

/* One look at the coordinator and Slurm, and what it calls for. idle_since (owned by the caller)
 * remembers since when each element's worker has been idle (dtf_mono_ms). Returns 0, or 1 when
 * the coordinator or Slurm could not be asked (the next tick tries again). */
static int autoscale_tick(struct submit_opts *so, const struct autoscale_opts *ao,
			  json_t *idle_since)
{
	struct dtf_http_client c;
	json_t *workers = NULL, *pending_doc = NULL, *el = NULL, *w, *v, *seen = json_object();
	long long pending, running = 0, queued = 0, idle = 0, busy = 0, registered = 0, live;
	const char *k;
	size_t i;
	int rc = 1;
	int64_t now = dtf_mono_ms();

	if (cli_client_init("dtf slurm", &c, so->coordinator, ao->api_key) != 0) {
		json_decref(seen);
		return 1;
	}
	if (dtf_http_call(&c, "GET", "/api/v1/tasks?status=pending&limit=0", NULL, 10000,
			  &pending_doc) != 0 ||
	    dtf_http_call(&c, "GET", "/api/v1/workers", NULL, 10000, &workers) != 0) {
		fprintf(stderr, "dtf slurm: autoscale: %s\n", c.error);
		goto out;
	}
	if (!(el = pool_elements(ao->squeue, so->job_name)))
		goto out;
	pending = dtf_json_int(pending_doc, "total", 0);
	json_object_foreach(el, k, v) {
		if (strcmp(json_string_value(v), "PENDING") == 0 ||
		    strcmp(json_string_value(v), "CONFIGURING") == 0)
			queued++;
		else
			running++;
	}
	/* The pool's workers: Slurm started them under this job name, and Slurm still runs them
	 * (a worker that left is still listed by the coordinator for a while). */
	json_array_foreach(json_object_get(workers, "workers"), i, w) {
		json_t *labels = json_object_get(w, "labels");
		const char *job = dtf_json_str(labels, "slurm_job_id", NULL);
		const char *st = dtf_json_str(w, "status", "");
		if (!job || strcmp(dtf_json_str(labels, "launcher", ""), "slurm") != 0 ||
		    strcmp(dtf_json_str(labels, "slurm_job_name", ""), so->job_name) != 0 ||
		    !json_object_get(el, job))
			continue;
		registered++;
		if (strcmp(st, "idle") == 0 && dtf_json_int(w, "active_tasks", 0) == 0) {
			json_t *since = json_object_get(idle_since, job);
			idle++;
			json_object_set_new(seen, job,
					    json_integer(since ? json_integer_value(since) : now));
		} else if (strcmp(st, "busy") == 0 || dtf_json_int(w, "active_tasks", 0) > 0) {
			busy++;
		}
	}
	/* Only the elements idle now keep their clocks. */
	json_object_clear(idle_since);
	json_object_update(idle_since, seen);
	live = running + queued;
	printf("autoscale: %lld pending tasks; pool %s: %lld running (%lld registered: %lld busy, "
	       "%lld idle), %lld queued in Slurm\n",
	       pending, so->job_name, running, registered, busy, idle, queued);
	{
		long long want = 0;
		/* Up: tasks wait, no worker of the pool is idle (an idle one would have taken what
		 * it can run), and none is still queued in Slurm or starting (running in Slurm, not
		 * registered yet): those are the answer already. */
		if (pending > 0 && idle == 0 && queued == 0 && registered >= running)
			want = (pending + so->slots - 1) / so->slots;
		if (live + want < ao->min)
			want = ao->min - live;
		if (want > ao->max - live)
			want = ao->max - live;
		if (want > 0) {
			so->count = (long)want;
			printf("autoscale: submitting %lld worker%s\n", want, want == 1 ? "" : "s");
			fflush(stdout);
			if (submit_workers(so) != 0)
				goto out;
		}
	}
	/* Down: a worker idle for idle_timeout leaves (it drains, which for an idle worker is at
	 * once), down to min. */
	json_object_foreach(idle_since, k, v) {
		struct argv_list a = {.n = 0};
		if (live <= ao->min)
			break;
		if ((double)(now - json_integer_value(v)) < ao->idle_timeout * 1000)
			continue;
		if (!clean_value("a job id", k))
			continue;
		printf("autoscale: stopping the idle worker of job %s\n", k);
		fflush(stdout);
		args_add(&a, ao->scancel);
		args_add(&a, "--batch");
		args_add(&a, "--signal=TERM");
		args_add(&a, k);
		a.v[a.n] = NULL;
		if (!a.full && run_tool(a.v, NULL, NULL) == 0)
			live--;
		args_release(&a);
	}
	rc = 0;
out:
	fflush(stdout);
	json_decref(el);
	json_decref(seen);
	json_decref(workers);
	json_decref(pending_doc);
	dtf_http_client_release(&c);
	return rc;
}

static int autoscale(struct submit_opts *so, const struct autoscale_opts *ao)
{
	json_t *idle_since = json_object();
	struct sigaction sa;
	int rc = 0;

	if (!so->coordinator || !*so->coordinator) {
		fprintf(stderr,
			"dtf slurm: autoscale needs --coordinator URL (or $DTF_COORDINATOR)\n");
		json_decref(idle_since);
		return 2;
	}
	if (ao->max < ao->min || ao->max < 1) {
		fprintf(stderr, "dtf slurm: autoscale needs --max N, at least 1 and --min\n");
		json_decref(idle_since);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!autoscale_stop) {
		rc = autoscale_tick(so, ao, idle_since);
		if (ao->once)
			break;
		/* Signals interrupt the sleep: the loop ends at once. */
		for (int64_t end = dtf_mono_ms() + (int64_t)(ao->interval * 1000);
		     !autoscale_stop && dtf_mono_ms() < end;)
			usleep(100 * 1000);
	}
	json_decref(idle_since);
	/* A loop ended by a signal ended as asked; --once says how its one look went. */
	return ao->once ? rc : 0;
}

enum {
	OPT_COUNT = 0x7300,
	OPT_COORD,
	OPT_PARTITION,
	OPT_TIME,
	OPT_GRES,
	OPT_CPUS,
	OPT_MEM,
	OPT_ACCOUNT,
	OPT_SLOTS,
	OPT_LABELS,
	OPT_KEYFILE,
	OPT_CACERT,
	OPT_WARNING,
	OPT_DRAIN,
	OPT_JOBNAME,
	OPT_LOGDIR,
	OPT_DTF,
	OPT_SBATCH,
	OPT_SQUEUE,
	OPT_SCANCEL,
	OPT_SBATCH_ARG,
	OPT_WORKER_ARG,
	OPT_DRY_RUN,
	OPT_NOW,
	OPT_FORCE,
	OPT_ALL_USERS,
	OPT_API_KEY,
	OPT_MIN,
	OPT_MAX,
	OPT_INTERVAL,
	OPT_IDLE,
	OPT_ONCE,
};

int cmd_slurm(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"count", required_argument, NULL, OPT_COUNT},
	    {"coordinator", required_argument, NULL, OPT_COORD},
	    {"partition", required_argument, NULL, OPT_PARTITION},
	    {"time", required_argument, NULL, OPT_TIME},
	    {"gres", required_argument, NULL, OPT_GRES},
	    {"cpus", required_argument, NULL, OPT_CPUS},
	    {"mem", required_argument, NULL, OPT_MEM},
	    {"account", required_argument, NULL, OPT_ACCOUNT},
	    {"slots", required_argument, NULL, OPT_SLOTS},
	    {"labels", required_argument, NULL, OPT_LABELS},
	    {"enroll-key-file", required_argument, NULL, OPT_KEYFILE},
	    {"ca-cert", required_argument, NULL, OPT_CACERT},
	    {"warning", required_argument, NULL, OPT_WARNING},
	    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
	    {"job-name", required_argument, NULL, OPT_JOBNAME},
	    {"log-dir", required_argument, NULL, OPT_LOGDIR},
	    {"dtf", required_argument, NULL, OPT_DTF},
	    {"sbatch", required_argument, NULL, OPT_SBATCH},
	    {"squeue", required_argument, NULL, OPT_SQUEUE},
	    {"scancel", required_argument, NULL, OPT_SCANCEL},
	    {"sbatch-arg", required_argument, NULL, OPT_SBATCH_ARG},
	    {"worker-arg", required_argument, NULL, OPT_WORKER_ARG},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"now", no_argument, NULL, OPT_NOW},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"all-users", no_argument, NULL, OPT_ALL_USERS},
	    {"api-key", required_argument, NULL, OPT_API_KEY},
	    {"min", required_argument, NULL, OPT_MIN},
	    {"max", required_argument, NULL, OPT_MAX},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE},
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct submit_opts o = {.count = 0,
				.slots = 1,
				.job_name = JOB_NAME_DEFAULT,
				.warning = WARNING_DEFAULT,
				.drain_timeout = -1,
				.sbatch = "sbatch"};
	const char *squeue = "squeue", *scancel = "scancel", *action, *api_key = NULL;
	int opt, stop_mode = 't';
	bool all_users = false;
	struct autoscale_opts ao = {.min = 0, .max = 0, .interval = 10, .idle_timeout = 300};
	long v;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	action = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_COUNT:
			if (!cli_parse_long("slurm", "--count", optarg, 1, MAX_COUNT, &o.count))
				return 2;
			break;
		case OPT_SLOTS:
			if (!cli_parse_long("slurm", "--slots", optarg, 1, 4096, &o.slots))
				return 2;
			break;
		case OPT_WARNING:
			if (!cli_parse_long("slurm", "--warning", optarg, 1, 65535, &v))
				return 2;
			o.warning = (double)v;
			break;
		case OPT_DRAIN:
			if (dtf_parse_seconds(optarg, &o.drain_timeout) != 0 ||
			    o.drain_timeout < 0) {
				fprintf(stderr,
					"dtf slurm: --drain-timeout wants seconds (30, 2m)\n");
				return 2;
			}
			break;
		case OPT_COORD:
			o.coordinator = optarg;
			break;
		case OPT_PARTITION:
			o.partition = optarg;
			break;
		case OPT_TIME:
			o.time = optarg;
			break;
		case OPT_GRES:
			o.gres = optarg;
			break;
		case OPT_CPUS:
			o.cpus = optarg;
			break;
		case OPT_MEM:
			o.mem = optarg;
			break;
		case OPT_ACCOUNT:
			o.account = optarg;
			break;
		case OPT_LABELS:
			o.labels = optarg;
			break;
		case OPT_KEYFILE:
			o.enroll_key_file = optarg;
			break;
		case OPT_CACERT:
			o.ca_cert = optarg;
			break;
		case OPT_JOBNAME:
			if (!*optarg || strchr(optarg, ',')) {
				fprintf(stderr,
					"dtf slurm: --job-name wants a name without commas\n");
				return 2;
			}
			o.job_name = optarg;
			break;
		case OPT_LOGDIR:
			o.log_dir = optarg;
			break;
		case OPT_DTF:
			o.dtf = optarg;
			break;
		case OPT_SBATCH:
			o.sbatch = optarg;
			break;
		case OPT_SQUEUE:
			squeue = optarg;
			break;
		case OPT_SCANCEL:
			scancel = optarg;
			break;
		case OPT_SBATCH_ARG:
		case OPT_WORKER_ARG: {
			bool sb = opt == OPT_SBATCH_ARG;
			int *n = sb ? &o.n_sbatch_args : &o.n_worker_args;
			if (*n >= 64) {
				fprintf(stderr, "dtf slurm: at most 64 of --%s\n",
					sb ? "sbatch-arg" : "worker-arg");
				return 2;
			}
			(sb ? o.sbatch_args : o.worker_args)[(*n)++] = optarg;
			break;
		}
		case OPT_DRY_RUN:
			o.dry_run = true;
			break;
		case OPT_NOW:
			stop_mode = 'n';
			break;
		case OPT_FORCE:
			stop_mode = 'f';
			break;
		case OPT_ALL_USERS:
			all_users = true;
			break;
		case OPT_API_KEY:
			api_key = optarg;
			break;
		case OPT_MIN:
			if (!cli_parse_long("slurm", "--min", optarg, 0, MAX_COUNT, &ao.min))
				return 2;
			break;
		case OPT_MAX:
			if (!cli_parse_long("slurm", "--max", optarg, 1, MAX_COUNT, &ao.max))
				return 2;
			break;
		case OPT_INTERVAL:
		case OPT_IDLE: {
			double *d = opt == OPT_INTERVAL ? &ao.interval : &ao.idle_timeout;
			if (dtf_parse_seconds(optarg, d) != 0 || *d < 0 ||
			    (opt == OPT_INTERVAL && *d < 1)) {
				fprintf(stderr, "dtf slurm: --%s wants seconds (30, 2m)%s\n",
					opt == OPT_INTERVAL ? "interval" : "idle-timeout",
					opt == OPT_INTERVAL ? ", at least 1" : "");
				return 2;
			}
			break;
		}
		case OPT_ONCE:
			ao.once = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(action, "submit-workers") == 0) {
		if (optind < argc) {
			fprintf(stderr, "dtf slurm: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		if (!o.coordinator)
			o.coordinator = getenv("DTF_COORDINATOR");
		if (!o.dtf)
			o.dtf = dtf_self_exe();
		return submit_workers(&o);
	}
	if (strcmp(action, "status") == 0) {
		if (optind < argc) {
			fprintf(stderr, "dtf slurm: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		return status(squeue, o.job_name, all_users,
			      o.coordinator ? o.coordinator : getenv("DTF_COORDINATOR"),
			      cli_api_key(api_key));
	}
	if (strcmp(action, "autoscale") == 0) {
		if (optind < argc) {
			fprintf(stderr, "dtf slurm: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		if (!o.coordinator)
			o.coordinator = getenv("DTF_COORDINATOR");
		if (!o.dtf)
			o.dtf = dtf_self_exe();
		ao.api_key = cli_api_key(api_key);
		ao.squeue = squeue;
		ao.scancel = scancel;
		return autoscale(&o, &ao);
	}
	if (strcmp(action, "stop-workers") == 0)
		return stop_workers(scancel, o.job_name, stop_mode, argv + optind, argc - optind);
	fprintf(
	    stderr,
	    "dtf slurm: unknown action '%s' (submit-workers, status, stop-workers, autoscale)\n",
	    action);
	return 2;
}
