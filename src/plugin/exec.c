/* exec.c: the exec plugin kind, for plugins written in any language. A hook plugin is one
 * long-running program fed one JSON event per line on its stdin (started at the first event,
 * restarted with backoff when it dies, given up after max_restarts quick deaths in a row); a
 * task processor is the program run once per task with the task on stdin and its result read
 * from the last JSON line of its stdout. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "plugin/internal.h"

extern char **environ;

#define DEFAULT_MAX_RESTARTS   5
#define DEFAULT_TASK_TIMEOUT_S 3600.0
#define HEALTHY_MS	       10000 /* a program that ran this long before dying starts a new count */
#define BACKOFF_FIRST_MS       100
#define BACKOFF_MAX_MS	       2000
#define STOP_WAIT_MS	       2000 /* how long a program gets to exit after its stdin closes */

struct exec_plugin {
	char name[PLUGIN_NAME_MAX];
	char **argv; /* resolved program and its arguments */
	char **envp; /* environ plus the configured env; NULL: environ */
	char *cwd;
	double task_timeout_s;
	size_t output_cap;
	int max_restarts;

	/* The running program (only the plugin's thread touches these, and exec_plugin_kill). */
	pthread_mutex_t mu;
	pid_t pid;
	int fd; /* its stdin */
	int64_t started_ms;
	int failures; /* quick deaths in a row */
	int64_t next_start_ms;
	atomic_uint starts;
	bool stopped; /* killed or stopped: never started again */
	char last_death[128];
};

static void free_strv(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* environ, with the names set in env (an object of strings) replaced or added. */
static char **merge_env(const json_t *env, const json_t *extra)
{
	size_t n = 0, i = 0;
	char **out;
	const char *k;
	json_t *v;
	const json_t *sets[2] = {env, extra};

	while (environ[n])
		n++;
	out = calloc(n + json_object_size(env) + json_object_size(extra) + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		const char *eq = strchr(environ[j], '=');
		size_t klen = eq ? (size_t)(eq - environ[j]) : strlen(environ[j]);
		if (json_object_getn(env, environ[j], klen) ||
		    json_object_getn(extra, environ[j], klen))
			continue;
		out[i++] = strdup(environ[j]);
	}
	for (int s = 0; s < 2; s++) {
		json_object_foreach((json_t *)sets[s], k, v) {
			char *e = NULL;
			if (s == 0 && json_object_get(extra, k))
				continue;
			if (json_is_string(v) && asprintf(&e, "%s=%s", k, json_string_value(v)) > 0)
				out[i++] = e;
		}
	}
	out[i] = NULL;
	return out;
}

struct exec_plugin *exec_plugin_new(const char *name, const json_t *block, const char *base_dir,
				    char *err, size_t errlen)
{
	struct exec_plugin *ex = calloc(1, sizeof(*ex));
	json_t *prog = json_object_get(block, "exec"), *e;
	size_t i, n;
	const char *cwd = dtf_json_str(block, "cwd", NULL);

	if (!ex) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(ex->name, sizeof(ex->name), "%s", name);
	pthread_mutex_init(&ex->mu, NULL);
	ex->pid = -1;
	ex->fd = -1;
	n = json_is_array(prog) ? json_array_size(prog) : 1;
	ex->argv = calloc(n + 1, sizeof(*ex->argv));
	if (!ex->argv)
		goto nomem;
	if (json_is_string(prog)) {
		ex->argv[0] = strdup(json_string_value(prog));
	} else {
		json_array_foreach(prog, i, e)
			ex->argv[i] = strdup(json_string_value(e));
	}
	if (!ex->argv[0] || !ex->argv[0][0]) {
		snprintf(err, errlen, "exec: no program given");
		goto fail;
	}
	{
		char *found = plugin_find_program(ex->argv[0], base_dir);
		if (!found) {
			const char *a0 = ex->argv[0];
			if (!strchr(a0, '/'))
				snprintf(err, errlen,
					 "exec: program '%s' not found in PATH (or not executable)",
					 a0);
			else if (a0[0] != '/')
				snprintf(
				    err, errlen,
				    "exec: program '%s' not found or not executable (relative to "
				    "%s, the config file's directory)",
				    a0, base_dir ? base_dir : ".");
			else
				snprintf(err, errlen,
					 "exec: program '%s' not found or not executable", a0);
			goto fail;
		}
		free(ex->argv[0]);
		ex->argv[0] = found;
	}
	if (json_object_size(json_object_get(block, "env")) > 0) {
		ex->envp = merge_env(json_object_get(block, "env"), NULL);
		if (!ex->envp)
			goto nomem;
	}
	if (cwd) {
		if (cwd[0] != '/' && base_dir) {
			if (asprintf(&ex->cwd, "%s/%s", base_dir, cwd) < 0)
				ex->cwd = NULL;
		} else {
			ex->cwd = strdup(cwd);
		}
	}
	ex->task_timeout_s = DEFAULT_TASK_TIMEOUT_S;
	if (json_object_get(block, "timeout")) {
		json_t *t = json_object_get(block, "timeout");
		double d = json_number_value(t);
		if (json_is_string(t))
			dtf_parse_seconds(json_string_value(t), &d);
		if (d > 0)
			ex->task_timeout_s = d;
	}
	ex->output_cap = (size_t)dtf_json_int(block, "output_cap", 1 << 20);
	ex->max_restarts = (int)dtf_json_int(block, "max_restarts", DEFAULT_MAX_RESTARTS);
	return ex;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	exec_plugin_free(ex);
	return NULL;
}

void exec_plugin_free(struct exec_plugin *ex)
{
	if (!ex)
		return;
	exec_plugin_stop(ex);
	free_strv(ex->argv);
	free_strv(ex->envp);
	free(ex->cwd);
	pthread_mutex_destroy(&ex->mu);
	free(ex);
}

const char *exec_plugin_program(const struct exec_plugin *ex)
{
	return ex->argv[0];
}

unsigned exec_plugin_starts(struct exec_plugin *ex)
{
	return atomic_load(&ex->starts); /* without mu: it is held across backoffs */
}

/* Notes the death of the program (exited with status). Called with mu held. */
static void note_death(struct exec_plugin *ex, int status)
{
	int64_t lived = dtf_mono_ms() - ex->started_ms;
	int64_t backoff;

	plugin_proc_describe(status, ex->last_death, sizeof(ex->last_death));
	if (ex->fd >= 0)
		close(ex->fd);
	ex->fd = -1;
	ex->pid = -1;
	ex->failures = lived >= HEALTHY_MS ? 1 : ex->failures + 1;
	backoff = BACKOFF_FIRST_MS << (ex->failures - 1 > 5 ? 5 : ex->failures - 1);
	if (backoff > BACKOFF_MAX_MS)
		backoff = BACKOFF_MAX_MS;
	ex->next_start_ms = dtf_mono_ms() + backoff;
	log_warn("plugin %s: the program exited (%s) after %.1f s", ex->name, ex->last_death,
		 (double)lived / 1000.0);
}

/* Starts the program if it is not running. Called with mu held. */
static int ensure_running(struct exec_plugin *ex, double budget_s, char *err, size_t errlen)
{
	int status, rc;

	if (ex->pid > 0 && plugin_proc_exited(ex->pid, &status))
		note_death(ex, status);
	if (ex->pid > 0)
		return 0;
	if (ex->stopped) {
		snprintf(err, errlen, "the program was stopped");
		return DTF_ESTATE;
	}
	if (ex->failures >= ex->max_restarts) {
		snprintf(err, errlen,
			 "the program died %d times in a row (last: %s); not restarted",
			 ex->failures, ex->last_death);
		return DTF_ESPAWN;
	}
	if (ex->failures > 0) {
		int64_t wait = ex->next_start_ms - dtf_mono_ms();
		/* Back off, but within the hook's budget so the event still gets through. */
		if (wait > (int64_t)(budget_s * 400))
			wait = (int64_t)(budget_s * 400);
		if (wait > 0)
			sleep_ms((long)wait);
	}
	rc = plugin_proc_spawn((const char *const *)ex->argv, (const char *const *)ex->envp,
			       ex->cwd, &ex->pid, &ex->fd, err, errlen);
	if (rc) {
		ex->pid = -1;
		ex->failures++;
		snprintf(ex->last_death, sizeof(ex->last_death), "%s", err);
		return rc;
	}
	ex->started_ms = dtf_mono_ms();
	if (atomic_fetch_add(&ex->starts, 1) > 0)
		log_info("plugin %s: restarted %s (start %u)", ex->name, ex->argv[0],
			 atomic_load(&ex->starts));
	return 0;
}

int exec_plugin_deliver(struct exec_plugin *ex, const char *line, size_t len, double budget_s,
			char *err, size_t errlen)
{
	int rc = 0, attempt;

	pthread_mutex_lock(&ex->mu);
	for (attempt = 0; attempt < 2; attempt++) {
		int fd;
		rc = ensure_running(ex, budget_s, err, errlen);
		if (rc)
			break;
		fd = ex->fd;
		/* The write may block on a program that does not read: the budget then disables
		 * the plugin, and exec_plugin_kill() frees this thread. Do not hold mu across it.
		 */
		pthread_mutex_unlock(&ex->mu);
		rc = plugin_write_all(fd, line, len);
		pthread_mutex_lock(&ex->mu);
		if (rc == 0)
			break;
		/* It died: note it (reaping it) and try once more with a new one. */
		if (ex->pid > 0) {
			int status = 0;
			int64_t until = dtf_mono_ms() + 500;
			while (!plugin_proc_exited(ex->pid, &status) && dtf_mono_ms() < until)
				sleep_ms(5);
			if (dtf_mono_ms() >= until) {
				plugin_proc_stop(ex->pid, 0.2);
				status = SIGKILL;
			}
			note_death(ex, status);
		}
		snprintf(err, errlen, "cannot write to the program: %s", strerror(EPIPE));
	}
	/* However its death was seen (at the write or at the next start), say the same thing. */
	if (rc && ex->pid <= 0 && !ex->stopped && ex->failures >= ex->max_restarts)
		snprintf(err, errlen,
			 "the program died %d times in a row (last: %s); not restarted",
			 ex->failures, ex->last_death);
	pthread_mutex_unlock(&ex->mu);
	return rc;
}

void exec_plugin_kill(struct exec_plugin *ex)
{
	pid_t pid;

	pthread_mutex_lock(&ex->mu);
	pid = ex->pid;
	ex->stopped = true;
	pthread_mutex_unlock(&ex->mu);
	if (pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
}

void exec_plugin_stop(struct exec_plugin *ex)
{
	int64_t until;

	pthread_mutex_lock(&ex->mu);
	ex->stopped = true;
	if (ex->fd >= 0)
		close(ex->fd); /* EOF: the program's cue to finish */
	ex->fd = -1;
	if (ex->pid > 0) {
		until = dtf_mono_ms() + STOP_WAIT_MS;
		while (!plugin_proc_exited(ex->pid, NULL)) {
			if (dtf_mono_ms() >= until) {
				plugin_proc_stop(ex->pid, 1.0);
				break;
			}
			sleep_ms(10);
		}
		kill(-ex->pid, SIGKILL); /* whatever it left running */
		ex->pid = -1;
	}
	pthread_mutex_unlock(&ex->mu);
}

/* The last line of out that is a JSON object, or NULL. */
static json_t *last_json_line(const char *out, size_t len)
{
	const char *end = out + len;

	while (end > out) {
		const char *e = end, *line;
		while (e > out && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		line = e;
		while (line > out && line[-1] != '\n')
			line--;
		while (line < e && (*line == ' ' || *line == '\t'))
			line++;
		if (e > line && *line == '{') {
			char perr[64];
			json_t *m = dtf_json_parse(line, (size_t)(e - line), perr, sizeof(perr));
			if (json_is_object(m))
				return m;
			json_decref(m);
		}
		end = line;
		while (end > out && end[-1] != '\n')
			end--;
		if (end > out)
			end--;
	}
	return NULL;
}

json_t *exec_plugin_run_task(struct exec_plugin *ex, const json_t *task, atomic_int *cancel)
{
	struct plugin_proc_spec spec = {0};
	struct dtf_process_result res;
	char *input = dtf_json_dumps(task), err[512] = "";
	json_t *extra, *obj = NULL, *result;
	char **envp;
	double timeout = dtf_json_num(task, "timeout_s", 0);
	const char *work_dir = dtf_json_str(task, "work_dir", NULL);
	int rc;

	extra = json_pack("{s:s,s:s,s:s}", "DTF_TASK_ID", dtf_json_str(task, "id", ""),
			  "DTF_TASK_TYPE", dtf_json_str(task, "type", ""), "DTF_PLUGIN", ex->name);
	if (work_dir)
		json_object_set_new(extra, "DTF_WORK_DIR", json_string(work_dir));
	envp = merge_env(json_object_get(task, "env"), extra);
	json_decref(extra);
	if (!input || !envp) {
		free(input);
		free_strv(envp);
		return plugin_task_result(NULL, NULL, "out of memory");
	}
	spec.argv = (const char *const *)ex->argv;
	spec.envp = (const char *const *)envp;
	spec.cwd = ex->cwd ? ex->cwd : work_dir;
	spec.input = input;
	spec.input_len = strlen(input);
	spec.timeout_s = timeout > 0 ? timeout : ex->task_timeout_s;
	spec.output_cap = ex->output_cap;
	spec.cancel = cancel;
	rc = plugin_proc_run(&spec, &res, err, sizeof(err));
	if (rc == 0)
		obj = last_json_line(res.out ? res.out : "", res.out_len);
	result = plugin_task_result(obj, &res, rc ? err : NULL);
	json_decref(obj);
	plugin_proc_result_release(&res);
	free(input);
	free_strv(envp);
	return result;
}
