/* worker.c: `dtf worker`: runs the worker agent (worker/agent.c). Its options are declared once,
 * in worker_opts[], from which flags, the environment, --help and docs/configuration.md's table
 * are derived. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/yaml.h"
#include "plugin/plugin.h"
#include "worker/agent.h"
#include "worker/browser_pool.h"
#include "worker/hw.h"
#include "worker/slurm.h"

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

static int parse_labels(void *field, const char *text, bool one, char *err, size_t errlen)
{
	json_t **labels = field;

	if (!*labels)
		*labels = json_object();
	if (!*labels || !add_labels(*labels, text, one)) {
		snprintf(err, errlen, "wants %s", one ? "k=v" : "k=v,k=v");
		return DTF_EINVAL;
	}
	return 0;
}

static int parse_label_list(void *field, const char *text, char *err, size_t errlen)
{
	return parse_labels(field, text, false, err, errlen);
}

static int parse_one_label(void *field, const char *text, char *err, size_t errlen)
{
	return parse_labels(field, text, true, err, errlen);
}

static int parse_caps(void *field, const char *text, char *err, size_t errlen)
{
	json_t **caps = field;
	char why[256];

	json_decref(*caps);
	*caps = dtf_json_parse(text, strlen(text), why, sizeof(why));
	if (!json_is_object(*caps)) {
		json_decref(*caps);
		*caps = NULL;
		snprintf(err, errlen, "must be a JSON object");
		return DTF_EINVAL;
	}
	return 0;
}

static int parse_worker_id(void *field, const char *text, char *err, size_t errlen)
{
	if (!dtf_valid_id(text)) {
		snprintf(err, errlen, "must be 1-64 of [A-Za-z0-9._-]");
		return DTF_EINVAL;
	}
	*(const char **)field = text;
	return 0;
}

static int parse_cpus(void *field, const char *text, char *err, size_t errlen)
{
	char *end;
	double v = strtod(text, &end);

	if (end == text || *end || !(v > 0) || v > 65536) {
		snprintf(err, errlen, "wants a number of cores above 0 (2, 0.5)");
		return DTF_EINVAL;
	}
	*(double *)field = v;
	return 0;
}

static int parse_memory(void *field, const char *text, char *err, size_t errlen)
{
	char *end;
	long long v = strtoll(text, &end, 10);

	if (end == text || *end || v < 1 || v > (1ll << 40)) {
		snprintf(err, errlen, "wants MiB, a whole number above 0");
		return DTF_EINVAL;
	}
	*(long long *)field = v;
	return 0;
}

#define OFF(f) offsetof(struct worker_options, f)

/* One option per paragraph reads better than clang-format's one field per line. */
/* clang-format off */
static const struct dtf_opt worker_opts[] = {
	{.flag = "coordinator", .alias = "coordinator-url", .env = "DTF_COORDINATOR",
	 .type = DTF_OPT_STRING, .offset = OFF(a.coordinator), .def = "http://localhost:8080",
	 .arg = "URL", .help = "the coordinator's URL, or several coordinators of one database "
				"(URL1,URL2,…: the worker follows the leader)"},
	{.flag = "worker-id", .type = DTF_OPT_CUSTOM, .offset = OFF(a.worker_id),
	 .parse = parse_worker_id, .arg = "ID",
	 .help = "this worker's id, 1-64 of [A-Za-z0-9._-] (default: assigned by the coordinator)"},
	{.flag = "slots", .type = DTF_OPT_INT, .offset = OFF(a.slots), .min = 1, .max = 4096,
	 .def = "1", .arg = "N", .help = "tasks run at once"},
	{.flag = "labels", .type = DTF_OPT_CUSTOM, .offset = OFF(labels), .parse = parse_label_list,
	 .arg = "k=v,…", .help = "labels for constraints (worker.labels.k)"},
	{.flag = "label", .type = DTF_OPT_CUSTOM, .offset = OFF(labels), .parse = parse_one_label,
	 .arg = "k=v", .help = "one label, whose value may hold commas (repeatable)"},
	{.flag = "hardware", .type = DTF_OPT_LIST, .offset = OFF(hardware), .arg = "X,…",
	 .help = "hardware classes to offer beyond the detected ones (repeatable)"},
	{.flag = "capabilities", .type = DTF_OPT_CUSTOM, .offset = OFF(caps), .parse = parse_caps,
	 .arg = "JSON", .help = "capabilities merged over detection (testing)"},
	{.flag = "work-dir", .type = DTF_OPT_STRING, .offset = OFF(a.work_dir), .arg = "D",
	 .help = "per-task directories (default ./.dtf/work/<worker-id>)"},
	{.flag = "output-cap", .type = DTF_OPT_SIZE, .offset = OFF(a.output_cap), .min = 1,
	 .max = 1073741824, .def = "1048576", .arg = "BYTES",
	 .help = "stdout/stderr kept per stream"},
	{.flag = "keep-work-dirs", .type = DTF_OPT_BOOL, .offset = OFF(a.keep_work_dirs),
	 .help = "keep the directories of tasks that passed"},
	{.flag = "lease-wait", .type = DTF_OPT_SECONDS, .offset = OFF(a.lease_wait_s), .min = 0,
	 .max = 3600, .flags = DTF_OPTF_MIN_EXCLUSIVE, .def = "20", .arg = "S",
	 .help = "long-poll length"},
	{.flag = "lease-ahead-below", .type = DTF_OPT_SECONDS, .offset = OFF(a.ahead_below_s),
	 .min = 0, .max = 3600, .flags = DTF_OPTF_MIN_EXCLUSIVE, .def = "0.05", .arg = "S",
	 .help = "a task that ran for less than S s is short: while its results are of short "
		 "tasks, the worker leases one more task per slot ahead"},
	{.flag = "drain-timeout", .type = DTF_OPT_SECONDS, .offset = OFF(a.drain_timeout_s),
	 .min = 0, .max = 1e6, .def = "30", .arg = "S",
	 .help = "after the first SIGTERM/SIGINT, stop running tasks and give up delivery after S "
		 "s (0 = no bound); undelivered results wait in the work directory's spool"},
	{.flag = "api-key", .env = "DTF_API_KEY", .type = DTF_OPT_STRING, .offset = OFF(a.api_key),
	 .arg = "K", .help = "API key"},
	{.flag = "enroll-key", .env = "DTF_ENROLL_KEY", .type = DTF_OPT_STRING,
	 .offset = OFF(enroll_key), .arg = "K",
	 .help = "enrollment key (role worker-enroll) to register with; it is then sent instead of "
		 "--api-key (prefer --enroll-key-file: argv is visible to every user)"},
	{.flag = "enroll-key-file", .env = "DTF_ENROLL_KEY_FILE", .type = DTF_OPT_STRING,
	 .offset = OFF(enroll_key_file), .arg = "F",
	 .help = "read the enrollment key from F (its first line)"},
	{.flag = "ca-cert", .env = "DTF_CA_CERT", .type = DTF_OPT_STRING,
	 .offset = OFF(tls.ca_cert), .arg = "F",
	 .help = "CA (PEM) that signed the coordinator's certificate (default: the system's store)"},
	{.flag = "insecure", .type = DTF_OPT_BOOL, .offset = OFF(tls.insecure),
	 .help = "do not check the coordinator's certificate (loopback URLs only; warns)"},
	{.flag = "insecure-force", .type = DTF_OPT_BOOL, .offset = OFF(tls.insecure_force),
	 .help = "allow --insecure towards a coordinator that is not on loopback"},
	{.flag = "tls-cert", .type = DTF_OPT_STRING, .offset = OFF(tls.cert), .arg = "F",
	 .help = "client certificate for a coordinator with --tls-client-ca (with --tls-key)"},
	{.flag = "tls-key", .type = DTF_OPT_STRING, .offset = OFF(tls.key), .arg = "F",
	 .help = "private key of --tls-cert (mode 600: a key others may read is refused)"},
	{.flag = "auto-register", .type = DTF_OPT_BOOL, .offset = OFF(auto_register),
	 .help = "register with detected hardware (always on)"},
	{.flag = "slurm", .type = DTF_OPT_BOOL, .offset = OFF(a.slurm),
	 .help = "inside a Slurm job: offer the job's CPUs, memory and GPUs, add its labels "
		 "(launcher=slurm, slurm_job_id, slurm_partition, …) and default --worker-id to "
		 "slurm-<cluster>-<job> (docs/deploy.md)"},
	{.flag = "cpus", .type = DTF_OPT_CUSTOM, .offset = OFF(a.cpus), .parse = parse_cpus,
	 .arg = "N", .help = "CPU cores to offer instead of the detected ones (a container's "
			     "limit; 0.5 allowed)"},
	{.flag = "memory", .type = DTF_OPT_CUSTOM, .offset = OFF(a.memory), .parse = parse_memory,
	 .arg = "MIB", .help = "MiB of memory to offer instead of the detected memory"},
	{.flag = "detect", .type = DTF_OPT_BOOL, .offset = OFF(detect),
	 .help = "print the detected capabilities as JSON and exit"},
	{.flag = "config", .type = DTF_OPT_STRING, .offset = OFF(config), .arg = "F",
	 .help = "YAML file whose plugins: section the worker loads"},
	{.flag = "exit-with-parent", .type = DTF_OPT_INT, .offset = OFF(exit_with_parent),
	 .arg = "PID",
	 .help = "stop at once (as on SIGQUIT) when process PID, this worker's parent, dies "
		 "(dtf run's local workers)"},
	{.flag = "browsers", .env = "DTF_BROWSERS", .type = DTF_OPT_STRING, .offset = OFF(browsers),
	 .arg = "chromium[:N]",
	 .help = "run a pool of N headless browsers for `browser` tasks (docs/browsers.md)"},
	{.flag = "browser-flags", .type = DTF_OPT_STRING, .offset = OFF(browser_flags),
	 .arg = "FLAGS", .help = "the browser's launch flags, space-separated, instead of the "
				 "defaults (--headless=new --enable-unsafe-webgpu …)"},
	{.flag = "browser-extra-flags", .type = DTF_OPT_STRING,
	 .offset = OFF(browser_extra_flags), .arg = "FLAGS",
	 .help = "launch flags added to the browser's defaults"},
	{.flag = "browser-recycle", .type = DTF_OPT_INT, .offset = OFF(browser_recycle), .min = 0,
	 .max = 1000000, .def = "50", .arg = "N",
	 .help = "replace a browser instance after N tasks (0 = never)"},
	{.flag = "browser-memory", .type = DTF_OPT_INT, .offset = OFF(browser_memory), .min = 0,
	 .max = 1048576, .def = "4096", .arg = "MIB",
	 .help = "replace a browser instance whose processes use more than MIB (0 = no bound)"},
	{.flag = "browser-driver", .type = DTF_OPT_STRING, .offset = OFF(browser_driver),
	 .def = "chromedriver", .arg = "PATH", .help = "the browser's WebDriver server"},
	{.flag = "browser-binary", .type = DTF_OPT_STRING, .offset = OFF(browser_binary),
	 .def = "/usr/bin/chromium", .arg = "PATH", .help = "the browser"},
	{.flag = "help", .short_flag = 'h', .type = DTF_OPT_BOOL, .offset = OFF(help),
	 .help = "show this help"},
	{.flag = "print-config-doc", .type = DTF_OPT_BOOL, .offset = OFF(print_doc),
	 .flags = DTF_OPTF_HIDDEN, .help = "print docs/configuration.md's table of these options"},
};
/* clang-format on */

#define NOPTS (sizeof(worker_opts) / sizeof(worker_opts[0]))

void worker_options_usage(FILE *f)
{
	dtf_config_usage(worker_opts, NOPTS, "dtf worker", f);
}

void worker_options_doc(FILE *f)
{
	dtf_config_doc(worker_opts, NOPTS, f);
}

int worker_options_load(struct worker_options *o, int argc, char **argv)
{
	int first, rc;

	memset(o, 0, sizeof(*o));
	rc = dtf_config_init(&o->table, "dtf worker", worker_opts, NOPTS, o);
	if (rc)
		return rc;
	rc = dtf_config_parse_args(&o->table, argc, argv, &first);
	if (rc)
		return rc;
	if (o->help || o->print_doc)
		return 0;
	if (first < argc) {
		snprintf(o->table.err, sizeof(o->table.err),
			 "dtf worker: unexpected argument '%s'\n", argv[first]);
		return DTF_EINVAL;
	}
	if ((rc = dtf_config_load_env(&o->table)) != 0)
		return rc;
	if ((rc = dtf_config_finish(&o->table)) != 0)
		return rc;
	if (o->enroll_key_file) {
		size_t len;
		if (dtf_read_file(o->enroll_key_file, 4096, &o->enroll_key_read, &len) != 0) {
			snprintf(o->table.err, sizeof(o->table.err),
				 "dtf worker: cannot read --enroll-key-file %s\n",
				 o->enroll_key_file);
			return DTF_EINVAL;
		}
		o->enroll_key_read[strcspn(o->enroll_key_read, "\r\n")] = '\0';
		o->enroll_key = o->enroll_key_read;
	}
	/* The enrollment key is the worker's key towards the coordinator: it registers with it,
	 * and its token (a JWT) says who it is from then on. */
	if (o->enroll_key && *o->enroll_key)
		o->a.api_key = o->enroll_key;
	return 0;
}

void worker_options_release(struct worker_options *o)
{
	dtf_config_release(&o->table);
	free(o->enroll_key_read);
	o->enroll_key_read = NULL;
	json_decref(o->labels);
	json_decref(o->caps);
	o->labels = o->caps = NULL;
}

int cmd_worker(int argc, char **argv)
{
	struct worker_options o;
	struct agent_config *cfg = &o.a;
	char workdir[4096], slurm_id[80];
	json_t *hw = json_array();
	int rc = 0;
	json_t *cfgdoc = NULL;
	struct dtf_plugins *plugins = NULL;
	struct dtf_bpool *pool = NULL;
	json_t *bcfg = NULL;
	sigset_t set;

	if (worker_options_load(&o, argc, argv) != 0) {
		fputs(o.table.err, stderr);
		if (!o.table.err[0])
			worker_options_usage(stderr);
		rc = 2;
		goto out;
	}
	if (o.help) {
		worker_options_usage(stdout);
		goto out;
	}
	if (o.print_doc) {
		worker_options_doc(stdout);
		goto out;
	}
	if (o.exit_with_parent) {
		/* The local workers of `dtf run` and `dtf ci --embedded`: when the process that
		 * started them dies (even by SIGKILL), they get SIGQUIT and stop at once, killing
		 * their tasks, instead of retrying a coordinator that is gone. The check after
		 * prctl closes the race with a parent that died first. */
		if (o.exit_with_parent <= 1 || prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 ||
		    getppid() != (pid_t)o.exit_with_parent) {
			fprintf(stderr, "dtf worker: parent %d is gone\n", o.exit_with_parent);
			rc = 1;
			goto out;
		}
	}
	for (const char *const *h = o.hardware; h && *h; h++) {
		json_t *parts = dtf_json_split(*h, ",");
		json_array_extend(hw, parts);
		json_decref(parts);
	}
	if (o.config) {
		char perr[1024];
		struct dtf_plugin_host_impl hi = {.role = "worker"};
		cfgdoc = dtf_yaml_load(o.config, perr, sizeof(perr));
		if (!cfgdoc) {
			fprintf(stderr, "dtf worker: %s\n", perr);
			rc = 2;
			goto out;
		}
		plugins = dtf_plugins_load(cfgdoc, o.config, &hi, perr, sizeof(perr));
		bcfg =
		    json_incref(json_object_get(json_object_get(cfgdoc, "browsers"), "chromium"));
		json_decref(cfgdoc);
		if (!plugins) {
			fprintf(stderr, "dtf worker: %s\n", perr);
			rc = 2;
			goto out;
		}
		cfg->plugins = plugins;
	}
	if (cfg->slurm) {
		if (!dtf_slurm_in_job()) {
			fprintf(stderr,
				"dtf worker: --slurm outside a Slurm job (SLURM_JOB_ID is not "
				"set)\n");
			rc = 2;
			goto out;
		}
		if (!o.labels)
			o.labels = json_object();
		if (!o.labels || dtf_slurm_job_labels(o.labels) != 0) {
			fprintf(stderr, "dtf worker: out of memory\n");
			rc = 1;
			goto out;
		}
		if (!cfg->worker_id && dtf_slurm_worker_id(slurm_id, sizeof(slurm_id)) == 0)
			cfg->worker_id = slurm_id;
	}
	cfg->labels = o.labels;
	cfg->extra_hardware = hw;
	cfg->capabilities = o.caps;
	if (!cfg->work_dir) {
		snprintf(workdir, sizeof(workdir), ".dtf/work/%s",
			 cfg->worker_id ? cfg->worker_id : "worker");
		cfg->work_dir = workdir;
	}
	if (o.browsers || json_is_object(bcfg)) {
		/* Flags win over the config file's browsers.chromium section. */
		struct dtf_bpool_config bc = {
		    .browser = "chromium",
		    .size = (int)dtf_json_int(bcfg, "instances", 1),
		    .recycle_after = (int)dtf_json_int(bcfg, "recycle_after", o.browser_recycle),
		    .memory_mb = dtf_json_num(bcfg, "memory_mb", o.browser_memory),
		    .driver = dtf_json_str(bcfg, "driver", o.browser_driver),
		    .binary = dtf_json_str(bcfg, "binary", o.browser_binary),
		    .flags = o.browser_flags ? o.browser_flags : dtf_json_str(bcfg, "flags", NULL),
		    .extra_flags = o.browser_extra_flags ? o.browser_extra_flags
							 : dtf_json_str(bcfg, "extra_flags", NULL),
		    .work_dir = cfg->work_dir,
		    .output_cap = cfg->output_cap};
		char perr[512];
		if (o.browsers && dtf_bpool_parse_spec(o.browsers, &bc.browser, &bc.size) != 0) {
			fprintf(stderr,
				"dtf worker: --browsers wants chromium or chromium:N (1-64)\n");
			rc = 2;
			goto out;
		}
		dtf_mkdirs(cfg->work_dir, 0755);
		pool = dtf_bpool_new(&bc, perr, sizeof(perr));
		if (!pool) {
			fprintf(stderr, "dtf worker: %s\n", perr);
			rc = 1;
			goto out;
		}
		cfg->browsers = pool;
	}
	if (o.detect) {
		json_t *c = agent_capabilities(cfg);
		char *s = json_dumps(c, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(c);
		goto out;
	}
	{
		char terr[512];
		if (o.tls.insecure_force)
			o.tls.insecure = true;
		struct dtf_http_client probe;
		if (dtf_http_client_tls(&o.tls, terr, sizeof(terr)) != 0) {
			fprintf(stderr, "dtf worker: %s\n", terr);
			rc = 2;
			goto out;
		}
		/* A URL the client refuses (--insecure towards a remote host) stops the worker
		 * now, with the reason, rather than in its retry loop. Nothing is connected. */
		rc = cli_client_init("dtf worker", &probe, cfg->coordinator, NULL) ? 2 : 0;
		dtf_http_client_release(&probe);
		if (rc)
			goto out;
	}
	if (cfg->worker_id) {
		char role[96];
		snprintf(role, sizeof(role), "worker %s", cfg->worker_id);
		dtf_log_setup(role, DTF_LOG_INFO);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = agent_run(cfg) ? 1 : 0;
out:
	dtf_bpool_free(pool);
	json_decref(bcfg);
	dtf_plugins_free(plugins);
	json_decref(hw);
	worker_options_release(&o);
	return rc;
}
