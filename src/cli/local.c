/* local.c: the embedded coordinator and local workers behind `dtf run` and `dtf ci --embedded`. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/local.h"
#include "cli/options.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "coordinator/coordinator.h"

extern char **environ;

static pid_t spawn_worker(const char *url, int i, const struct dtf_local_opts *o)
{
	char id[32], slots_s[16], workdir[4096], logpath[4096], parent[24];
	char *argv[24];
	int n = 0, fd;
	pid_t pid;
	posix_spawn_file_actions_t fa;

	snprintf(id, sizeof(id), "local-%d", i + 1);
	snprintf(slots_s, sizeof(slots_s), "%d", o->slots);
	snprintf(workdir, sizeof(workdir), "%s/work/%s", o->state_dir, id);
	snprintf(logpath, sizeof(logpath), "%s/logs/%s.log", o->state_dir, id);
	argv[n++] = (char *)"dtf";
	argv[n++] = (char *)"worker";
	argv[n++] = (char *)"--coordinator";
	argv[n++] = (char *)url;
	argv[n++] = (char *)"--worker-id";
	argv[n++] = id;
	if (o->slots > 0) {
		argv[n++] = (char *)"--slots";
		argv[n++] = slots_s;
	}
	argv[n++] = (char *)"--work-dir";
	argv[n++] = workdir;
	argv[n++] = (char *)"--lease-wait";
	argv[n++] = (char *)"5";
	if (o->hardware) {
		argv[n++] = (char *)"--hardware";
		argv[n++] = (char *)o->hardware;
	}
	if (o->keep_work_dirs)
		argv[n++] = (char *)"--keep-work-dirs";
	/* The worker stops when this process dies (see --exit-with-parent in cli/worker.c). */
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	argv[n++] = (char *)"--exit-with-parent";
	argv[n++] = parent;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, fd, 1);
		posix_spawn_file_actions_adddup2(&fa, fd, 2);
	}
	if (posix_spawn(&pid, dtf_self_exe(), &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	if (fd >= 0)
		close(fd);
	return pid;
}

int dtf_local_start(struct dtf_local *l, const struct dtf_local_opts *o, char *err, size_t errlen)
{
	struct coord_config cc;
	char path[4096];
	int i;

	memset(l, 0, sizeof(*l));
	/* 0700: the state directory holds the store (workers' tokens) and the tasks' logs. */
	if (dtf_mkdirs(o->state_dir, 0700) || chmod(o->state_dir, 0700) != 0) {
		snprintf(err, errlen, "cannot create %s", o->state_dir);
		return DTF_EIO;
	}
	snprintf(path, sizeof(path), "%s/logs", o->state_dir);
	if (dtf_mkdirs(path, 0700)) {
		snprintf(err, errlen, "cannot create %s", path);
		return DTF_EIO;
	}
	snprintf(path, sizeof(path), "%s/dtf.db", o->state_dir);
	/* The table's defaults (cli/coordinator.c), as `dtf coordinator` with no flags has them. */
	coord_options_defaults(&cc);
	cc.host = "127.0.0.1";
	cc.port = o->port;
	cc.db_path = path;
	cc.auto_discovery = true;
	cc.heartbeat_timeout_s = 15;
	cc.config_doc = o->config_doc;
	cc.config_path = o->config_path;
	l->coord = coord_start(&cc, err, errlen);
	if (!l->coord)
		return DTF_EIO;
	snprintf(l->url, sizeof(l->url), "http://127.0.0.1:%u", coord_port(l->coord));
	for (i = 0; i < o->workers && i < DTF_LOCAL_MAX_WORKERS; i++) {
		pid_t pid = spawn_worker(l->url, i, o);
		if (pid < 0) {
			snprintf(err, errlen, "cannot start worker %d", i + 1);
			return DTF_ESPAWN;
		}
		l->pids[l->n++] = pid;
	}
	return 0;
}

void dtf_local_wait_workers(struct dtf_local *l, struct dtf_http_client *hc)
{
	int64_t deadline = dtf_mono_ms() + 10000;

	while (dtf_mono_ms() < deadline) {
		json_t *resp = NULL, *w;
		size_t live = 0, j;
		if (dtf_http_call(hc, "GET", "/api/v1/workers", NULL, 5000, &resp) == 0) {
			json_array_foreach(json_object_get(resp, "workers"), j, w) {
				if (strncmp(dtf_json_str(w, "id", ""), "local-", 6) == 0 &&
				    strcmp(dtf_json_str(w, "status", ""), "lost") != 0)
					live++;
			}
		}
		json_decref(resp);
		if ((int)live >= l->n)
			return;
		usleep(50 * 1000);
	}
}

void dtf_local_flush_notifications(struct dtf_local *l, const char *prefix, double timeout_s)
{
	size_t left;

	if (!l->coord)
		return;
	left = coord_flush_notifications(l->coord, timeout_s);
	if (left)
		fprintf(stderr,
			"%s: %zu notification%s not sent yet; they stay in the state directory's "
			"outbox and go out with its next run\n",
			prefix, left, left == 1 ? "" : "s");
}

void dtf_local_stop(struct dtf_local *l, bool interrupt)
{
	int i;

	/* SIGTERM drains a worker; SIGQUIT interrupts its running tasks at once (two SIGTERMs
	 * sent together could be merged into one pending signal). */
	for (i = 0; i < l->n; i++)
		kill(l->pids[i], interrupt ? SIGQUIT : SIGTERM);
	for (i = 0; i < l->n; i++)
		waitpid(l->pids[i], NULL, 0);
	l->n = 0;
	coord_stop(l->coord);
	l->coord = NULL;
}
