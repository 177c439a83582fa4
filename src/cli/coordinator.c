/* coordinator.c: `dtf coordinator`: the server. Its options are declared once, in coord_opts[]
 * below, from which flags, the YAML config (--config), the environment (DTF_API_KEYS), --help
 * and docs/configuration.md's table are derived; --daemon returns once it is serving. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/yaml.h"
#include "coordinator/coordinator.h"
#include "core/constraints.h"
#include "core/outbox.h"
#include "notify/routes.h"
#include "plugin/plugin.h"
#include "sched/sched.h"
#include "store/store.h"

#define OFF(f) offsetof(struct coord_options, f)

/* The options of `dtf coordinator`, in --help's order. --strategy is a plain string: scheduler
 * plugins add strategies, so the scheduler (sx_config_check) checks it, not the table. Keys that
 * another part reads (DTF_OPTF_YAML_ELSEWHERE) are listed for the doc and --help only. */
/* One option per paragraph reads better than clang-format's one field per line. */
/* clang-format off */
static const struct dtf_opt coord_opts[] = {
	{.flag = "host", .yaml = "coordinator.host", .type = DTF_OPT_STRING, .offset = OFF(cc.host),
	 .def = "127.0.0.1", .arg = "H", .help = "address to listen on"},
	{.flag = "port", .yaml = "coordinator.port", .type = DTF_OPT_UINT, .offset = OFF(cc.port),
	 .min = 0, .max = 65535, .def = "8080", .arg = "N", .help = "port (0 picks a free one)"},
	{.flag = "db-path", .alias = "db-url", .yaml = "coordinator.db_path", .env = "DTF_DB_URL",
	 .type = DTF_OPT_STRING, .offset = OFF(cc.db_path), .def = "./coordinator.db", .arg = "F",
	 .help = "SQLite state file, or a postgresql://… URL (see docs/deploy-postgres.md; the "
		 "password goes in PGPASSFILE, not the URL)"},
	{.flag = "standby", .yaml = "coordinator.standby", .type = DTF_OPT_BOOL,
	 .offset = OFF(cc.standby), .def = "false",
	 .help = "PostgreSQL only: while another coordinator leads the database, wait as its "
		 "standby (redirecting every request to it) and take over when it goes, instead of "
		 "being refused"},
	{.flag = "advertise-url", .yaml = "coordinator.advertise_url", .type = DTF_OPT_STRING,
	 .offset = OFF(cc.advertise_url), .arg = "URL",
	 .help = "the URL clients reach this coordinator at, where standbys redirect them while it "
		 "leads (several coordinators on PostgreSQL)"},
	{.flag = "config", .type = DTF_OPT_STRING, .offset = OFF(config), .arg = "F",
	 .help = "YAML configuration (see docs/configuration.md)"},
	{.flag = "daemon", .type = DTF_OPT_BOOL, .offset = OFF(daemon),
	 .help = "run in the background; return once serving"},
	{.flag = "log-file", .type = DTF_OPT_STRING, .offset = OFF(log_file), .arg = "F",
	 .help = "where a daemon logs (default <db-path>.log)"},
	{.flag = "port-file", .type = DTF_OPT_STRING, .offset = OFF(port_file), .arg = "F",
	 .help = "write the bound port to F once serving"},
	{.flag = "api-key", .yaml = "coordinator.api_keys", .env = "DTF_API_KEYS",
	 .env_alt = "DTF_API_KEY", .type = DTF_OPT_LIST, .offset = OFF(cc.api_keys), .max = 64,
	 .arg = "K", .flags = DTF_OPTF_ENV_SPLIT,
	 .help = "require key K from clients and workers: NAME:ROLE:SECRET (role admin, submit, "
		 "read or worker-enroll; ROLE@PROJECT; limits after it, "
		 "ROLE;worker-pattern=G;labels=k=v;expires=DATE), or a plain SECRET (an admin key); "
		 "repeatable, every source adds keys; the variables hold k1,k2 (docs/auth.md)"},
	{.flag = "keys-file", .yaml = "coordinator.keys_file", .env = "DTF_KEYS_FILE",
	 .type = DTF_OPT_STRING, .offset = OFF(cc.keys_file), .arg = "F",
	 .help = "more keys, one NAME:ROLE:SECRET (or NAME:ROLE:sha256:HEX; limits as for "
		 "--api-key) a line; refused if others may read it; read again on SIGHUP"},
	{.flag = "metrics-open", .yaml = "coordinator.metrics_open", .type = DTF_OPT_BOOL,
	 .offset = OFF(cc.metrics_open), .def = "false",
	 .help = "serve /metrics without a key even when keys are set"},
	{.flag = "worker-token-ttl", .yaml = "coordinator.worker_token_ttl", .type = DTF_OPT_SECONDS,
	 .offset = OFF(cc.worker_token_ttl_s), .min = 1, .max = 86400, .def = "900", .arg = "S",
	 .help = "lifetime of a worker's token (a JWT, when keys are set); heartbeats renew it"},
	{.flag = "token-secret-file", .yaml = "coordinator.token_secret_file",
	 .type = DTF_OPT_STRING, .offset = OFF(cc.token_secret_file), .arg = "F",
	 .help = "HS256 secret of workers' tokens (default: <db-path>.token-secret, made once)"},
	{.flag = "auth-fail-rate", .yaml = "coordinator.auth_fail_rate", .type = DTF_OPT_INT,
	 .offset = OFF(cc.auth_fail_rate), .min = 1, .max = 1000000, .def = "10", .arg = "N",
	 .help = "failed authentications allowed per second and client address (then 429)"},
	{.flag = "auth-fail-burst", .yaml = "coordinator.auth_fail_burst", .type = DTF_OPT_INT,
	 .offset = OFF(cc.auth_fail_burst), .min = 1, .max = 1000000, .def = "20", .arg = "N",
	 .help = "failed authentications an address may make at once before the rate applies"},
	{.flag = "worker-auto-discovery", .yaml = "coordinator.worker_auto_discovery",
	 .type = DTF_OPT_BOOL, .offset = OFF(cc.auto_discovery), .def = "false",
	 .help = "accept workers not listed in the config"},
	{.flag = "allow-worker", .yaml = "coordinator.workers", .type = DTF_OPT_LIST,
	 .offset = OFF(cc.workers), .max = 1024, .arg = "ID",
	 .help = "list a worker id that may join (repeatable; without any, every worker may)"},
	{.flag = "batch-processing", .yaml = "coordinator.batch_processing", .type = DTF_OPT_BOOL,
	 .offset = OFF(cc.batch_processing), .def = "false",
	 .help = "lease tasks of the same batch_key together"},
	{.flag = "batch-size-limit", .yaml = "coordinator.batch_size_limit", .type = DTF_OPT_INT,
	 .offset = OFF(cc.batch_size_limit), .min = 1, .max = 100000, .def = "8", .arg = "N",
	 .help = "most tasks in one batch"},
	{.flag = "strategy", .yaml = "scheduler.strategy", .type = DTF_OPT_STRING,
	 .offset = OFF(cc.strategy), .arg = "NAME", .flags = DTF_OPTF_YAML_ELSEWHERE,
	 .help = "scheduling strategy: priority (the default), fair-share, round-robin, "
		 "resource-aware, deadline, duration, or a scheduler plugin's"},
	{.flag = "heartbeat-interval", .yaml = "coordinator.heartbeat_interval",
	 .type = DTF_OPT_SECONDS, .offset = OFF(cc.heartbeat_interval_s), .min = 0, .max = 86400,
	 .flags = DTF_OPTF_MIN_EXCLUSIVE, .def = "2", .arg = "S",
	 .help = "how often workers report"},
	{.flag = "heartbeat-timeout", .yaml = "coordinator.heartbeat_timeout",
	 .type = DTF_OPT_SECONDS, .offset = OFF(cc.heartbeat_timeout_s), .min = 0,
	 .flags = DTF_OPTF_MIN_EXCLUSIVE, .def = "15", .arg = "S",
	 .help = "silence after which a worker is lost (its tasks are requeued)"},
	{.flag = "default-timeout", .yaml = "coordinator.default_timeout", .type = DTF_OPT_SECONDS,
	 .offset = OFF(cc.default_timeout_s), .min = 0, .flags = DTF_OPTF_MIN_EXCLUSIVE,
	 .def = "3600", .arg = "S", .help = "task timeout when a task gives no timeout_s"},
	{.flag = "retry-backoff", .yaml = "coordinator.retry_backoff", .type = DTF_OPT_SECONDS,
	 .offset = OFF(cc.retry_backoff_s), .min = 0, .def = "1", .arg = "S",
	 .help = "delay before a failed task's first retry; doubles per retry up to 60, with "
		 "jitter; 0 retries at once"},
	{.flag = "max-requeues", .yaml = "coordinator.max_requeues", .type = DTF_OPT_INT,
	 .offset = OFF(cc.max_requeues), .min = 0, .max = 100, .def = "3", .arg = "N",
	 .help = "times a task whose worker is lost (or restarted, or stopped it) is requeued "
		 "without spending a retry, for tasks that give no max_requeues; 0: such a task "
		 "fails"},
	{.flag = "quarantine-threshold", .yaml = "coordinator.quarantine_threshold",
	 .type = DTF_OPT_INT, .offset = OFF(cc.quarantine_threshold), .min = 0, .max = 1000000,
	 .def = "3", .arg = "N",
	 .help = "tasks a worker fails that then pass elsewhere before it is quarantined; 0: "
		 "never"},
	{.flag = "quarantine-time", .yaml = "coordinator.quarantine_time", .type = DTF_OPT_SECONDS,
	 .offset = OFF(cc.quarantine_s), .min = 0, .flags = DTF_OPTF_MIN_EXCLUSIVE, .def = "600",
	 .arg = "S", .help = "how long a quarantine lasts"},
	{.flag = "tls-cert", .type = DTF_OPT_STRING, .offset = OFF(cc.tls_cert), .arg = "F",
	 .help = "certificate to serve HTTPS with (with --tls-key)"},
	{.flag = "tls-key", .type = DTF_OPT_STRING, .offset = OFF(cc.tls_key), .arg = "F",
	 .help = "private key of --tls-cert (mode 600: a key others may read is refused); SIGHUP "
		 "reads both files again"},
	{.flag = "tls-client-ca", .type = DTF_OPT_STRING, .offset = OFF(cc.tls_client_ca),
	 .arg = "F",
	 .help = "CA bundle: every client must present a certificate it signed (mutual TLS)"},
	{.flag = "constraint", .yaml = "scheduler.default_constraints", .type = DTF_OPT_LIST,
	 .offset = OFF(cc.default_constraints), .arg = "EXPR", .flags = DTF_OPTF_YAML_ELSEWHERE,
	 .help = "a constraint every task must meet (repeatable; the YAML list adds more)"},
	{.flag = "no-group-commit", .type = DTF_OPT_BOOL, .offset = OFF(cc.no_group_commit),
	 .help = "commit each request on its own (for comparison)"},
	{.flag = "check", .type = DTF_OPT_BOOL, .offset = OFF(check),
	 .help = "check the configuration (types, ranges, plugins, constraints) and exit"},
	{.flag = "help", .short_flag = 'h', .type = DTF_OPT_BOOL, .offset = OFF(help),
	 .help = "show this help"},
	{.flag = "print-routes", .type = DTF_OPT_BOOL, .offset = OFF(print_routes),
	 .flags = DTF_OPTF_HIDDEN, .help = "print every route with the role it needs, and exit"},
	{.flag = "print-config-doc", .type = DTF_OPT_BOOL, .offset = OFF(print_doc),
	 .flags = DTF_OPTF_HIDDEN, .help = "print docs/configuration.md's table of these options"},
};
/* clang-format on */

#define NOPTS (sizeof(coord_opts) / sizeof(coord_opts[0]))

/* The config file's sections that other parts read (plugins/loader.c, sched/, notify/). */
static const char *const yaml_others[] = {"plugins", "scheduler", "integrations", "notifications",
					  NULL};

void coord_options_usage(FILE *f)
{
	dtf_config_usage(coord_opts, NOPTS, "dtf coordinator", f);
}

void coord_options_doc(FILE *f)
{
	dtf_config_doc(coord_opts, NOPTS, f);
}

/* Reads and applies the --config file; its document stays in o->doc. */
static int load_file(struct coord_options *o)
{
	char err[512];
	char *text = NULL;
	size_t len;
	int rc;

	if (dtf_read_file(o->config, DTF_YAML_MAX_BYTES, &text, &len) != 0) {
		snprintf(o->table.err, sizeof(o->table.err),
			 "dtf coordinator: cannot read config %s\n", o->config);
		return DTF_EINVAL;
	}
	o->doc = dtf_yaml_parse(text, len, o->config, err, sizeof(err));
	if (!o->doc) {
		snprintf(o->table.err, sizeof(o->table.err), "dtf coordinator: %s\n", err);
		free(text);
		return DTF_EINVAL;
	}
	rc = dtf_config_load_yaml(&o->table, o->doc, "coordinator", yaml_others, o->config, text,
				  len);
	free(text);
	return rc;
}

int coord_options_load(struct coord_options *o, int argc, char **argv)
{
	int first, rc;

	memset(o, 0, sizeof(*o));
	rc = dtf_config_init(&o->table, "dtf coordinator", coord_opts, NOPTS, o);
	if (rc)
		return rc;
	rc = dtf_config_parse_args(&o->table, argc, argv, &first);
	if (rc)
		return rc;
	if (o->help || o->print_doc || o->print_routes)
		return 0;
	if (first < argc) {
		snprintf(o->table.err, sizeof(o->table.err),
			 "dtf coordinator: unexpected argument '%s'\n", argv[first]);
		return DTF_EINVAL;
	}
	if (o->config && (rc = load_file(o)) != 0)
		return rc;
	if ((rc = dtf_config_load_env(&o->table)) != 0)
		return rc;
	if ((rc = dtf_config_finish(&o->table)) != 0)
		return rc;
	/* The coordinator core still reads max_requeues 0 as "the default" and a negative value as
	 * none (state_default_max_requeues); the table has filled the default, so a 0 here is the
	 * user's and means none. */
	if (o->cc.max_requeues == 0)
		o->cc.max_requeues = -1;
	o->cc.config_doc = o->doc;
	o->cc.config_path = o->config;
	return 0;
}

void coord_options_release(struct coord_options *o)
{
	dtf_config_release(&o->table);
	json_decref(o->doc);
	o->doc = NULL;
}

void coord_options_defaults(struct coord_config *cc)
{
	struct coord_options o;

	memset(&o, 0, sizeof(o));
	/* The defaults are all numbers and literal strings: nothing here outlives o's table. */
	if (dtf_config_init(&o.table, "dtf coordinator", coord_opts, NOPTS, &o) == 0 &&
	    dtf_config_finish(&o.table) == 0)
		*cc = o.cc;
	dtf_config_release(&o.table);
	cc->api_keys = cc->workers = cc->default_constraints = NULL;
}

static size_t count(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Once serving (a standby before it leads, else the coordinator): the port file, and the
 * daemon's parent told that it is up. */
struct announce {
	const char *port_file;
	int *ready_fd;
	bool done;
};

static void announce(void *arg, unsigned port)
{
	struct announce *an = arg;

	if (an->done)
		return;
	an->done = true;
	if (an->port_file) {
		char num[16];
		int n = snprintf(num, sizeof(num), "%u\n", port);
		dtf_write_file(an->port_file, num, (size_t)n);
	}
	if (*an->ready_fd >= 0) {
		if (write(*an->ready_fd, "1", 1) != 1)
			log_warn("could not tell the parent that the daemon is up");
		close(*an->ready_fd);
		*an->ready_fd = -1;
	}
}

int cmd_coordinator(int argc, char **argv)
{
	struct coord_options o;
	struct coord_config *cc = &o.cc;
	int rc = 0;
	bool daemon_mode;
	const char *log_file, *port_file;
	char err[512], logbuf[4096], dbname[1024];
	struct coordinator *c = NULL;
	int ready[2] = {-1, -1};
	size_t nkeys, nworkers;
	struct announce an = {0};

	if (coord_options_load(&o, argc, argv) != 0) {
		fputs(o.table.err, stderr);
		/* An unknown flag (getopt said which) gets the usage, as before. */
		if (!o.table.err[0])
			coord_options_usage(stderr);
		rc = 2;
		goto out;
	}
	if (o.help) {
		coord_options_usage(stdout);
		goto out;
	}
	if (o.print_doc) {
		coord_options_doc(stdout);
		goto out;
	}
	if (o.print_routes) {
		coord_print_routes(stdout);
		goto out;
	}
	daemon_mode = o.daemon;
	log_file = o.log_file;
	port_file = o.port_file;
	nkeys = count(cc->api_keys);
	nworkers = count(cc->workers);
	{
		struct dtf_constraints *dc = NULL;
		if (constraints_defaults(o.doc, cc->default_constraints, &dc, err, sizeof(err))) {
			fprintf(stderr, "dtf coordinator: %s\n", err);
			rc = 2;
			goto out;
		}
		constraints_free(dc);
	}
	if (o.check || o.doc || cc->strategy) {
		const json_t *sec = json_object_get(o.doc, "scheduler");
		if (!sec)
			sec = json_object_get(json_object_get(o.doc, "coordinator"), "scheduler");
		if (sx_config_check(sec, cc->strategy, err, sizeof(err)) != 0) {
			fprintf(stderr, "dtf coordinator: %s%s%s\n", o.config ? o.config : "",
				o.config ? ": " : "", err);
			rc = 2;
			goto out;
		}
	}
	if (o.check) {
		struct dtf_plugin_host_impl hi = {.role = "cli"};
		struct dtf_plugins *ps = dtf_plugins_load(o.doc, o.config, &hi, err, sizeof(err));
		if (!ps) {
			fprintf(stderr, "dtf coordinator: %s\n", err);
			rc = 2;
			goto out;
		}
		{
			struct notify_config *nc = NULL;
			struct notify_ext ext;
			char *text = NULL;
			size_t len = 0;
			if (o.config)
				dtf_read_file(o.config, DTF_YAML_MAX_BYTES, &text, &len);
			/* With the plugins still loaded: their channels' open() checks their
			 * blocks. */
			outbox_notify_ext(ps, &ext);
			rc = notify_config_load_ext(o.doc, text, len, o.config, &ext, &nc, err,
						    sizeof(err));
			free(text);
			if (rc) {
				dtf_plugins_free(ps);
				fprintf(stderr, "dtf coordinator: %s\n", err);
				rc = 2;
				goto out;
			}
			if (nc)
				printf("notifications: %zu channel%s, %zu route%s\n", nc->nchannels,
				       nc->nchannels == 1 ? "" : "s", nc->nroutes,
				       nc->nroutes == 1 ? "" : "s");
			notify_config_free(nc);
		}
		dtf_plugins_free(ps);
		dtf_store_redact(cc->db_path, dbname, sizeof(dbname));
		printf("configuration ok: port %u, db %s, %zu api keys, %zu listed workers\n",
		       cc->port, dbname, nkeys, nworkers);
		goto out;
	}
	if (daemon_mode) {
		pid_t pid;
		char ok = 0;
		if (!log_file) {
			/* Next to the SQLite file; a database URL has no place of its own. */
			if (dtf_store_is_url(cc->db_path))
				snprintf(logbuf, sizeof(logbuf), "./coordinator.log");
			else
				snprintf(logbuf, sizeof(logbuf), "%s.log", cc->db_path);
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
				fprintf(stderr,
					"dtf coordinator: the daemon did not start; see %s\n",
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
	/* Before start-up: a standby waits in coord_start until it leads, and a signal ends that.
	 */
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, SIG_IGN); /* not a reason to stop waiting; handled once started */
	an.port_file = port_file;
	an.ready_fd = &ready[1];
	cc->stop = &got_signal;
	cc->standby_serving = announce;
	cc->standby_arg = &an;
	if (cc->standby && !dtf_store_is_url(cc->db_path))
		log_warn("--standby needs a PostgreSQL database (--db-url postgresql://…); "
			 "ignored");
	c = coord_start(cc, err, sizeof(err));
	if (!c && cc->standby && got_signal) {
		/* Stopped while standing by: an ordinary stop. */
		log_info("shutting down (signal %d) before leading", (int)got_signal);
		goto out;
	}
	if (!c) {
		log_error("%s", err);
		if (!daemon_mode)
			fprintf(stderr, "dtf coordinator: %s\n", err);
		rc = 1;
		goto out;
	}
	dtf_store_redact(cc->db_path, dbname, sizeof(dbname));
	log_info("listening on %s%s:%u (store %s%s)", cc->tls_cert ? "https://" : "",
		 cc->host ? cc->host : "127.0.0.1", coord_port(c), dbname,
		 nkeys ? ", API keys required" : "");
	/* Which keys are in force, as an operator can tell them apart: never the keys. */
	for (size_t k = 0; k < nkeys; k++) {
		char m[16];
		log_info("API key %zu: %s", k + 1, dtf_mask_secret(cc->api_keys[k], m, sizeof(m)));
	}
	announce(&an, coord_port(c));
	signal(SIGHUP, on_signal);
	for (;;) {
		/* Polled: a leader superseded by another coordinator stops too (coord_lost). */
		while (!got_signal && !coord_lost(c))
			usleep(50 * 1000);
		if (coord_lost(c)) {
			log_error("another coordinator leads the database now: stepping down "
				  "(exit status 3; restart this one with --standby)");
			rc = 3;
			break;
		}
		if (got_signal != SIGHUP)
			break;
		got_signal = 0;
		/* SIGHUP: the configured API keys (keys added through the API stay) and the TLS
		 * certificate are read again. */
		coord_reload_keys(c);
		if (cc->tls_cert) {
			char rerr[512];
			if (coord_reload_tls(c, rerr, sizeof(rerr)) == 0)
				log_info("SIGHUP: reloaded the TLS certificate %s", cc->tls_cert);
			else
				log_error("SIGHUP: kept the old TLS certificate: %s", rerr);
		}
	}
	if (!rc)
		log_info("shutting down (signal %d)", (int)got_signal);
	coord_stop(c);
out:
	if (ready[1] >= 0)
		close(ready[1]);
	coord_options_release(&o);
	return rc;
}
