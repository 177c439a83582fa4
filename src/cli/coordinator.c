/* coordinator.c: `dtf coordinator`: the server. Flags, a YAML config (--config) and the
 * environment (DTF_API_KEYS) set it up; --daemon returns once it is serving. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/yaml.h"
#include "coordinator/coordinator.h"
#include "core/constraints.h"
#include "plugin/plugin.h"
#include "sched/sched.h"

#define MAX_KEYS 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dtf coordinator [options]\n"
		"  --host H                  address to listen on (default 127.0.0.1)\n"
		"  --port N                  port (default 8080; 0 picks a free one)\n"
		"  --db-path F               SQLite state file (default ./coordinator.db)\n"
		"  --db-url URL              postgresql://… (when built with PostgreSQL)\n"
		"  --config F                YAML configuration (see docs/configuration.md)\n"
		"  --daemon                  run in the background; return once serving\n"
		"  --log-file F              where a daemon logs (default <db-path>.log)\n"
		"  --port-file F             write the bound port to F once serving\n"
		"  --api-key K               require key K from clients and workers (repeatable;\n"
		"                            also DTF_API_KEYS=k1,k2 or api_keys in the config)\n"
		"  --worker-auto-discovery   accept workers not listed in the config\n"
		"  --allow-worker ID         list a worker id that may join (repeatable)\n"
		"  --batch-processing        lease tasks of the same batch_key together\n"
		"  --batch-size-limit N      most tasks in one batch (default 8)\n"
		"  --strategy NAME           scheduling strategy: priority (default), fair-share,\n"
		"                            round-robin, resource-aware, deadline, duration, or a\n"
		"                            scheduler plugin's\n"
		"  --heartbeat-interval S    how often workers report (default 2)\n"
		"  --heartbeat-timeout S     silence after which a worker is lost (default 15)\n"
		"  --default-timeout S       task timeout when a task gives none (default 3600)\n"
		"  --retry-backoff S         delay before a failed task's first retry (default 1;\n"
		"                            doubles per retry up to 60, with jitter)\n"
		"  --max-requeues N          times a task whose worker is lost (or restarted, or\n"
		"                            stopped it) is requeued without spending a retry,\n"
		"                            for tasks that give no max_requeues (default 3;\n"
		"                            0: such a task fails)\n"
		"  --quarantine-threshold N  tasks a worker fails that then pass elsewhere before it\n"
		"                            is quarantined (default 3; 0 never)\n"
		"  --quarantine-time S       how long a quarantine lasts (default 600)\n"
		"  --tls-cert F --tls-key F  serve HTTPS\n"
		"  --constraint EXPR         a constraint every task must meet (repeatable; also\n"
		"                            scheduler.default_constraints in the config)\n"
		"  --no-group-commit         commit each request on its own (for comparison)\n"
		"  --check                   check the configuration and exit\n");
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static const char *cfg_str(json_t *cfg, const char *key)
{
	return dtf_json_str(cfg, key, NULL);
}

/* Reads the config file into the coordinator config; names file, line and key on errors. */
static int apply_config(const char *path, json_t **out, struct coord_config *cc,
			const char **keys, int *nkeys, const char **workers, int *nworkers)
{
	char err[512];
	char *text = NULL;
	size_t len;
	json_t *doc, *sec, *v;
	const char *k;
	int rc = 0;

	if (dtf_read_file(path, DTF_YAML_MAX_BYTES, &text, &len) != 0) {
		fprintf(stderr, "dtf coordinator: cannot read config %s\n", path);
		return 2;
	}
	doc = dtf_yaml_parse(text, len, path, err, sizeof(err));
	if (!doc || !json_is_object(doc)) {
		fprintf(stderr, "dtf coordinator: %s\n", doc ? "the config must be a mapping" : err);
		free(text);
		json_decref(doc);
		return 2;
	}
	*out = doc;
	sec = json_object_get(doc, "coordinator");
	if (!sec)
		sec = doc;
	json_object_foreach(sec, k, v)
	{
		bool ok = true;
		if (strcmp(k, "host") == 0)
			ok = (cc->host = cfg_str(sec, k)) != NULL;
		else if (strcmp(k, "port") == 0)
			ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
			     json_integer_value(v) < 65536 &&
			     (cc->port = (unsigned)json_integer_value(v), true);
		else if (strcmp(k, "db_path") == 0)
			ok = (cc->db_path = cfg_str(sec, k)) != NULL;
		else if (strcmp(k, "worker_auto_discovery") == 0)
			ok = json_is_boolean(v) && (cc->auto_discovery = json_is_true(v), true);
		else if (strcmp(k, "batch_processing") == 0)
			ok = json_is_boolean(v) && (cc->batch_processing = json_is_true(v), true);
		else if (strcmp(k, "batch_size_limit") == 0)
			ok = json_is_integer(v) && json_integer_value(v) > 0 &&
			     (cc->batch_size_limit = (int)json_integer_value(v), true);
		else if (strcmp(k, "heartbeat_interval") == 0)
			ok = json_is_number(v) && json_number_value(v) > 0 &&
			     (cc->heartbeat_interval_s = json_number_value(v), true);
		else if (strcmp(k, "heartbeat_timeout") == 0)
			ok = json_is_number(v) && json_number_value(v) > 0 &&
			     (cc->heartbeat_timeout_s = json_number_value(v), true);
		else if (strcmp(k, "retry_backoff") == 0)
			ok = json_is_number(v) && json_number_value(v) >= 0 &&
			     (cc->retry_backoff_s = json_number_value(v), true);
		else if (strcmp(k, "quarantine_threshold") == 0)
			ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
			     json_integer_value(v) <= 1000000 &&
			     (cc->quarantine_threshold =
				  json_integer_value(v) ? (int)json_integer_value(v) : -1,
			      true);
		else if (strcmp(k, "max_requeues") == 0)
			ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
			     json_integer_value(v) <= 100 &&
			     (cc->max_requeues =
				  json_integer_value(v) ? (int)json_integer_value(v) : -1,
			      true);
		else if (strcmp(k, "quarantine_time") == 0)
			ok = json_is_number(v) && json_number_value(v) > 0 &&
			     (cc->quarantine_s = json_number_value(v), true);
		else if (strcmp(k, "default_timeout") == 0)
			ok = json_is_number(v) && json_number_value(v) > 0 &&
			     (cc->default_timeout_s = json_number_value(v), true);
		else if (strcmp(k, "api_keys") == 0 || strcmp(k, "workers") == 0) {
			size_t i;
			json_t *e;
			bool is_keys = strcmp(k, "api_keys") == 0;
			ok = json_is_array(v);
			json_array_foreach(v, i, e)
			{
				if (!json_is_string(e)) {
					ok = false;
					break;
				}
				if (is_keys && *nkeys < MAX_KEYS)
					keys[(*nkeys)++] = json_string_value(e);
				else if (!is_keys && *nworkers < 1024)
					workers[(*nworkers)++] = json_string_value(e);
			}
		} else if (strcmp(k, "plugins") == 0 || strcmp(k, "scheduler") == 0) {
			/* Read by the plugin and scheduler parts. */
		} else {
			fprintf(stderr, "dtf coordinator: %s:%d: unknown key '%s'\n", path,
				dtf_yaml_key_line(text, len, k), k);
			rc = 2;
			continue;
		}
		if (!ok) {
			fprintf(stderr, "dtf coordinator: %s:%d: key '%s' has a value of the wrong type\n",
				path, dtf_yaml_key_line(text, len, k), k);
			rc = 2;
		}
	}
	free(text);
	return rc;
}

int cmd_coordinator(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},
		{"db-path", required_argument, NULL, 'd'},
		{"db-url", required_argument, NULL, 'u'},
		{"config", required_argument, NULL, 'c'},
		{"daemon", no_argument, NULL, 'D'},
		{"log-file", required_argument, NULL, 'l'},
		{"port-file", required_argument, NULL, 'P'},
		{"api-key", required_argument, NULL, 'k'},
		{"worker-auto-discovery", no_argument, NULL, 'a'},
		{"allow-worker", required_argument, NULL, 'w'},
		{"batch-processing", no_argument, NULL, 'b'},
		{"batch-size-limit", required_argument, NULL, 'B'},
		{"heartbeat-interval", required_argument, NULL, 'i'},
		{"heartbeat-timeout", required_argument, NULL, 't'},
		{"default-timeout", required_argument, NULL, 'T'},
		{"retry-backoff", required_argument, NULL, 'R'},
		{"max-requeues", required_argument, NULL, 'M'},
		{"quarantine-threshold", required_argument, NULL, 'q'},
		{"quarantine-time", required_argument, NULL, 'Q'},
		{"tls-cert", required_argument, NULL, 'C'},
		{"tls-key", required_argument, NULL, 'K'},
		{"check", no_argument, NULL, 'n'},
		{"constraint", required_argument, NULL, 'X'},
		{"no-group-commit", no_argument, NULL, 'G'},
		{"strategy", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct coord_config cc = {0};
	const char *keys[MAX_KEYS + 1] = {0}, *workers[1025] = {0};
	const char *constraints[DTF_MAX_CONSTRAINTS + 2] = {0};
	int nconstraints = 0;
	int nkeys = 0, nworkers = 0, opt, rc = 0;
	bool daemon_mode = false, check = false, port_set = false;
	const char *config = NULL, *log_file = NULL, *port_file = NULL, *env_keys;
	char *env_copy = NULL, err[512], logbuf[4096];
	json_t *cfgdoc = NULL;
	struct coordinator *c = NULL;
	int ready[2] = {-1, -1};
	double d;
	/* Flags override the config file: remember them and apply after it. */
	struct coord_config flags = {0};
	bool f_auto = false, f_batch = false;

	cc.port = 8080;
	cc.db_path = "./coordinator.db";
	cc.batch_size_limit = 8;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			flags.host = optarg;
			break;
		case 'p': {
			char *end;
			long p = strtol(optarg, &end, 10);
			if (*end || p < 0 || p > 65535) {
				fprintf(stderr, "dtf coordinator: --port must be 0..65535\n");
				return 2;
			}
			flags.port = (unsigned)p;
			port_set = true;
			break;
		}
		case 'd':
		case 'u':
			flags.db_path = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'D':
			daemon_mode = true;
			break;
		case 'l':
			log_file = optarg;
			break;
		case 'P':
			port_file = optarg;
			break;
		case 'k':
			if (nkeys < MAX_KEYS)
				keys[nkeys++] = optarg;
			break;
		case 'a':
			f_auto = true;
			break;
		case 'w':
			if (nworkers < 1024)
				workers[nworkers++] = optarg;
			break;
		case 'b':
			f_batch = true;
			break;
		case 'G':
			cc.no_group_commit = true;
			break;
		case 'B':
			flags.batch_size_limit = atoi(optarg);
			if (flags.batch_size_limit < 1) {
				fprintf(stderr, "dtf coordinator: --batch-size-limit must be >= 1\n");
				return 2;
			}
			break;
		case 'R':
			if (dtf_parse_seconds(optarg, &d)) {
				fprintf(stderr, "dtf coordinator: bad duration '%s'\n", optarg);
				return 2;
			}
			flags.retry_backoff_s = d > 0 ? d : 0.001;
			break;
		case 'i':
		case 't':
		case 'T':
			if (dtf_parse_seconds(optarg, &d) || d <= 0) {
				fprintf(stderr, "dtf coordinator: bad duration '%s'\n", optarg);
				return 2;
			}
			if (opt == 'i')
				flags.heartbeat_interval_s = d;
			else if (opt == 't')
				flags.heartbeat_timeout_s = d;
			else
				flags.default_timeout_s = d;
			break;
		case 'q': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 0 || n > 1000000) {
				fprintf(stderr, "dtf coordinator: bad --quarantine-threshold '%s'\n",
					optarg);
				return 2;
			}
			flags.quarantine_threshold = n ? (int)n : -1;
			break;
		}
		case 'M': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 0 || n > 100) {
				fprintf(stderr,
					"dtf coordinator: bad --max-requeues '%s' (0 to 100)\n",
					optarg);
				return 2;
			}
			flags.max_requeues = n ? (int)n : -1;
			break;
		}
		case 'Q':
			if (dtf_parse_seconds(optarg, &d) || d <= 0) {
				fprintf(stderr, "dtf coordinator: bad duration '%s'\n", optarg);
				return 2;
			}
			flags.quarantine_s = d;
			break;
		case 'C':
			flags.tls_cert = optarg;
			break;
		case 'K':
			flags.tls_key = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'X':
			/* One past the limit, so that the limit's error is reported. */
			if (nconstraints <= DTF_MAX_CONSTRAINTS)
				constraints[nconstraints++] = optarg;
			break;
		case 'S':
			cc.strategy = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dtf coordinator: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (config && (rc = apply_config(config, &cfgdoc, &cc, keys, &nkeys, workers, &nworkers)))
		goto out;
	if (flags.host)
		cc.host = flags.host;
	if (port_set)
		cc.port = flags.port;
	if (flags.db_path)
		cc.db_path = flags.db_path;
	if (flags.batch_size_limit)
		cc.batch_size_limit = flags.batch_size_limit;
	if (flags.heartbeat_interval_s)
		cc.heartbeat_interval_s = flags.heartbeat_interval_s;
	if (flags.heartbeat_timeout_s)
		cc.heartbeat_timeout_s = flags.heartbeat_timeout_s;
	if (flags.default_timeout_s)
		cc.default_timeout_s = flags.default_timeout_s;
	if (flags.retry_backoff_s)
		cc.retry_backoff_s = flags.retry_backoff_s;
	if (flags.quarantine_threshold)
		cc.quarantine_threshold = flags.quarantine_threshold;
	if (flags.quarantine_s)
		cc.quarantine_s = flags.quarantine_s;
	if (flags.max_requeues)
		cc.max_requeues = flags.max_requeues;
	if (flags.tls_cert)
		cc.tls_cert = flags.tls_cert;
	if (flags.tls_key)
		cc.tls_key = flags.tls_key;
	cc.auto_discovery = cc.auto_discovery || f_auto;
	cc.batch_processing = cc.batch_processing || f_batch;
	env_keys = getenv("DTF_API_KEYS");
	if (!env_keys)
		env_keys = getenv("DTF_API_KEY");
	if (env_keys && *env_keys) {
		char *save = NULL, *tok;
		env_copy = strdup(env_keys);
		for (tok = strtok_r(env_copy, ",", &save); tok && nkeys < MAX_KEYS;
		     tok = strtok_r(NULL, ",", &save))
			keys[nkeys++] = tok;
	}
	cc.api_keys = nkeys ? keys : NULL;
	cc.workers = nworkers ? workers : NULL;
	cc.config_doc = cfgdoc;
	cc.config_path = config;
	cc.default_constraints = nconstraints ? constraints : NULL;
	{
		struct dtf_constraints *dc = NULL;
		if (constraints_defaults(cfgdoc, cc.default_constraints, &dc, err, sizeof(err))) {
			fprintf(stderr, "dtf coordinator: %s\n", err);
			rc = 2;
			goto out;
		}
		constraints_free(dc);
	}
	if (check || cfgdoc || cc.strategy) {
		const json_t *sec = json_object_get(cfgdoc, "scheduler");
		if (!sec)
			sec = json_object_get(json_object_get(cfgdoc, "coordinator"), "scheduler");
		if (sx_config_check(sec, cc.strategy, err, sizeof(err)) != 0) {
			fprintf(stderr, "dtf coordinator: %s%s%s\n", config ? config : "",
				config ? ": " : "", err);
			rc = 2;
			goto out;
		}
	}
	if (check) {
		struct dtf_plugin_host_impl hi = {.role = "cli"};
		struct dtf_plugins *ps = dtf_plugins_load(cfgdoc, config, &hi, err, sizeof(err));
		if (!ps) {
			fprintf(stderr, "dtf coordinator: %s\n", err);
			rc = 2;
			goto out;
		}
		dtf_plugins_free(ps);
		printf("configuration ok: port %u, db %s, %d api keys, %d listed workers\n", cc.port,
		       cc.db_path, nkeys, nworkers);
		goto out;
	}
	if (daemon_mode) {
		pid_t pid;
		char ok = 0;
		if (!log_file) {
			snprintf(logbuf, sizeof(logbuf), "%s.log", cc.db_path);
			log_file = logbuf;
		}
		if (pipe(ready) != 0) {
			rc = 1;
			goto out;
		}
		pid = fork();
		if (pid < 0) {
			perror("fork");
			rc = 1;
			goto out;
		}
		if (pid > 0) {
			close(ready[1]);
			if (read(ready[0], &ok, 1) != 1 || ok != '1') {
				fprintf(stderr, "dtf coordinator: the daemon did not start; see %s\n",
					log_file);
				rc = 1;
			} else {
				printf("coordinator started in the background (pid %d), logging to "
				       "%s\n",
				       (int)pid, log_file);
			}
			close(ready[0]);
			goto out;
		}
		close(ready[0]);
		setsid();
		{
			int fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			int nul = open("/dev/null", O_RDONLY);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
			if (nul >= 0) {
				dup2(nul, 0);
				close(nul);
			}
		}
	}
	c = coord_start(&cc, err, sizeof(err));
	if (!c) {
		log_error("%s", err);
		if (!daemon_mode)
			fprintf(stderr, "dtf coordinator: %s\n", err);
		rc = 1;
		goto out;
	}
	log_info("listening on %s:%u (store %s%s)", cc.host ? cc.host : "127.0.0.1", coord_port(c),
		 cc.db_path, nkeys ? ", API keys required" : "");
	if (port_file) {
		char num[16];
		int n = snprintf(num, sizeof(num), "%u\n", coord_port(c));
		dtf_write_file(port_file, num, (size_t)n);
	}
	if (daemon_mode) {
		if (write(ready[1], "1", 1) != 1)
			log_warn("could not tell the parent that the daemon is up");
		close(ready[1]);
		ready[1] = -1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!got_signal)
		pause();
	log_info("shutting down (signal %d)", (int)got_signal);
	coord_stop(c);
out:
	if (ready[1] >= 0)
		close(ready[1]);
	json_decref(cfgdoc);
	free(env_copy);
	return rc;
}
