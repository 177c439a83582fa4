/* worker.c: `dtf worker`: runs the worker agent (worker/agent.c). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/yaml.h"
#include "plugin/plugin.h"
#include "worker/agent.h"
#include "worker/hw.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dtf worker [options]\n"
		"  --coordinator URL      coordinator (also --coordinator-url; default\n"
		"                         $DTF_COORDINATOR or http://localhost:8080)\n"
		"  --worker-id ID         this worker's id (default: assigned by the coordinator)\n"
		"  --slots N              tasks run at once (default 1)\n"
		"  --labels k=v,…         labels for constraints (worker.labels.k)\n"
		"  --label k=v            one label (repeatable)\n"
		"  --hardware X,…         hardware classes to offer beyond the detected ones\n"
		"  --capabilities JSON    capabilities merged over detection (testing)\n"
		"  --work-dir D           per-task directories (default ./.dtf/work/<worker-id>)\n"
		"  --output-cap BYTES     stdout/stderr kept per stream (default 1048576)\n"
		"  --keep-work-dirs       keep the directories of tasks that passed\n"
		"  --lease-wait S         long-poll length (default 20)\n"
		"  --drain-timeout S      after the first SIGTERM/SIGINT, stop running tasks and\n"
		"                         give up delivery after S s (default 30; 0 = no bound);\n"
		"                         undelivered results wait in the work directory's spool\n"
		"  --api-key K            API key (default $DTF_API_KEY)\n"
		"  --auto-register        register with detected hardware (always on)\n"
		"  --detect               print the detected capabilities as JSON and exit\n"
		"  --exit-with-parent PID stop at once (as on SIGQUIT) when process PID, this\n"
		"                         worker's parent, dies (dtf run's local workers)\n");
}

/* Adds the labels of "k=v,k=v" (or, with one, a single "k=v" whose value may hold commas) to o.
 * Returns false on a malformed label. */
static bool add_labels(json_t *o, const char *s, bool one)
{
	char *copy = strdup(s), *save = NULL, *tok;
	bool ok = copy != NULL;

	for (tok = one ? copy : strtok_r(copy, ",", &save); ok && tok;
	     tok = one ? NULL : strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		json_t *v;
		if (!eq || eq == tok) {
			ok = false;
			break;
		}
		*eq = '\0';
		v = json_string(eq + 1);
		if (!v || json_object_set_new(o, tok, v) != 0)
			ok = false;
	}
	free(copy);
	return ok;
}

int cmd_worker(int argc, char **argv)
{
	static const struct option opts[] = {
		{"coordinator", required_argument, NULL, 'c'},
		{"coordinator-url", required_argument, NULL, 'c'},
		{"worker-id", required_argument, NULL, 'i'},
		{"slots", required_argument, NULL, 's'},
		{"labels", required_argument, NULL, 'l'},
		{"label", required_argument, NULL, 'L'},
		{"hardware", required_argument, NULL, 'H'},
		{"capabilities", required_argument, NULL, 'C'},
		{"work-dir", required_argument, NULL, 'w'},
		{"output-cap", required_argument, NULL, 'o'},
		{"keep-work-dirs", no_argument, NULL, 'K'},
		{"lease-wait", required_argument, NULL, 'W'},
		{"drain-timeout", required_argument, NULL, 'D'},
		{"api-key", required_argument, NULL, 'k'},
		{"auto-register", no_argument, NULL, 'a'},
		{"detect", no_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'F'},
		{"exit-with-parent", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct agent_config cfg = {0};
	const char *coord = NULL, *key = NULL;
	char workdir[4096], err[256];
	json_t *labels = NULL, *hw = json_array(), *caps = NULL;
	bool detect = false;
	int opt, rc;
	const char *config = NULL;
	json_t *cfgdoc = NULL;
	struct dtf_plugins *plugins = NULL;
	sigset_t set;

	cfg.slots = 1;
	cfg.drain_timeout_s = 30;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			coord = optarg;
			break;
		case 'i':
			if (!dtf_valid_id(optarg)) {
				fprintf(stderr, "dtf worker: --worker-id must be 1-64 of [A-Za-z0-9._-]\n");
				return 2;
			}
			cfg.worker_id = optarg;
			break;
		case 's':
			cfg.slots = atoi(optarg);
			if (cfg.slots < 1 || cfg.slots > 4096) {
				fprintf(stderr, "dtf worker: --slots must be 1..4096\n");
				return 2;
			}
			break;
		case 'l':
		case 'L':
			if (!labels)
				labels = json_object();
			if (!add_labels(labels, optarg, opt == 'L')) {
				fprintf(stderr, "dtf worker: --%s wants %s\n",
					opt == 'L' ? "label" : "labels",
					opt == 'L' ? "k=v" : "k=v,k=v");
				json_decref(labels);
				return 2;
			}
			break;
		case 'H': {
			json_t *parts = dtf_json_split(optarg, ",");
			json_array_extend(hw, parts);
			json_decref(parts);
			break;
		}
		case 'C':
			json_decref(caps);
			caps = dtf_json_parse(optarg, strlen(optarg), err, sizeof(err));
			if (!json_is_object(caps)) {
				fprintf(stderr, "dtf worker: --capabilities must be a JSON object\n");
				return 2;
			}
			break;
		case 'w':
			cfg.work_dir = optarg;
			break;
		case 'o':
			cfg.output_cap = (size_t)strtoull(optarg, NULL, 10);
			break;
		case 'K':
			cfg.keep_work_dirs = true;
			break;
		case 'W':
			cfg.lease_wait_s = atof(optarg);
			break;
		case 'D': {
			char *end;
			cfg.drain_timeout_s = strtod(optarg, &end);
			if (end == optarg || *end || !(cfg.drain_timeout_s >= 0) ||
			    cfg.drain_timeout_s > 1e6) {
				fprintf(stderr, "dtf worker: --drain-timeout wants seconds, 0 or more\n");
				return 2;
			}
			break;
		}
		case 'k':
			key = optarg;
			break;
		case 'a':
			break;
		case 'd':
			detect = true;
			break;
		case 'F':
			config = optarg;
			break;
		case 'P': {
			/* The local workers of `dtf run` and `dtf ci --embedded`: when the process
			 * that started them dies (even by SIGKILL), they get SIGQUIT and stop at
			 * once, killing their tasks, instead of retrying a coordinator that is gone.
			 * The check after prctl closes the race with a parent that died first. */
			long ppid = strtol(optarg, NULL, 10);
			if (ppid <= 1 || prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 ||
			    getppid() != (pid_t)ppid) {
				fprintf(stderr, "dtf worker: parent %s is gone\n", optarg);
				return 1;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dtf worker: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (config) {
		char perr[1024];
		struct dtf_plugin_host_impl hi = {.role = "worker"};
		cfgdoc = dtf_yaml_load(config, perr, sizeof(perr));
		if (!cfgdoc) {
			fprintf(stderr, "dtf worker: %s\n", perr);
			return 2;
		}
		plugins = dtf_plugins_load(cfgdoc, config, &hi, perr, sizeof(perr));
		json_decref(cfgdoc);
		if (!plugins) {
			fprintf(stderr, "dtf worker: %s\n", perr);
			return 2;
		}
		cfg.plugins = plugins;
	}
	cfg.coordinator = cli_coordinator_url(coord);
	cfg.api_key = cli_api_key(key);
	cfg.labels = labels;
	cfg.extra_hardware = hw;
	cfg.capabilities = caps;
	if (detect) {
		json_t *c = agent_capabilities(&cfg);
		char *s = json_dumps(c, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(c);
		json_decref(labels);
		json_decref(hw);
		json_decref(caps);
		dtf_plugins_free(plugins);
		return 0;
	}
	if (!cfg.work_dir) {
		snprintf(workdir, sizeof(workdir), ".dtf/work/%s",
			 cfg.worker_id ? cfg.worker_id : "worker");
		cfg.work_dir = workdir;
	}
	if (cfg.worker_id) {
		char role[96];
		snprintf(role, sizeof(role), "worker %s", cfg.worker_id);
		dtf_log_setup(role, DTF_LOG_INFO);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = agent_run(&cfg);
	dtf_plugins_free(plugins);
	json_decref(labels);
	json_decref(hw);
	json_decref(caps);
	return rc ? 1 : 0;
}
