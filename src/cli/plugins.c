/* plugins.c: `dtf plugins list`: the plugins a configuration loads (loading them here, as the
 * coordinator and the worker would: initialized, configured, then shut down, with no event
 * fired), or the plugins a running coordinator has (GET /api/v1/plugins), with their state. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "common/yaml.h"
#include "net/http.h"
#include "plugin/cli.h"
#include "plugin/plugin.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: dtf plugins list [options]\n"
	    "  --config F           load the plugins of this YAML configuration (as the\n"
	    "                       coordinator and worker would) and list them\n"
	    "  --coordinator URL    list the plugins of a running coordinator instead\n"
	    "  --api-key K          API key for --coordinator (default $DTF_API_KEY)\n" CLI_TLS_HELP
	    "  --json               print the JSON document (as GET /api/v1/plugins)\n"
	    "Without --config or --coordinator: the built-ins and what DTF_PLUGIN_PATH holds.\n"
	    "Exit status: 0, 1 if an enabled plugin is disabled, 2 on a usage or config error.\n");
}

static void print_table(const json_t *doc)
{
	json_t *list = json_object_get(doc, "plugins"), *p, *q = json_object_get(doc, "queue");
	size_t i, wn = 4, wv = 7, wt = 4, ws = 5;

	json_array_foreach(list, i, p) {
		size_t n;
		if ((n = strlen(dtf_json_str(p, "name", ""))) > wn)
			wn = n;
		if ((n = strlen(dtf_json_str(p, "version", ""))) > wv)
			wv = n;
		if ((n = strlen(dtf_json_str(p, "type", ""))) > wt)
			wt = n;
		if ((n = strlen(dtf_json_str(p, "state", ""))) > ws)
			ws = n;
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)wn, "NAME", (int)wv, "VERSION", (int)wt, "TYPE",
	       (int)ws, "STATE", "SOURCE");
	json_array_foreach(list, i, p) {
		json_t *caps = json_object_get(p, "capabilities"),
		       *tt = json_object_get(p, "task_types");
		json_t *hooks = json_object_get(p, "hooks");
		char *s;
		printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)wn, dtf_json_str(p, "name", ""),
		       (int)wv, dtf_json_str(p, "version", ""), (int)wt,
		       dtf_json_str(p, "type", ""), (int)ws, dtf_json_str(p, "state", ""),
		       dtf_json_str(p, "source", ""));
		if (json_object_size(caps)) {
			s = json_dumps(caps, JSON_COMPACT);
			printf("%*s  capabilities: %s\n", (int)wn, "", s ? s : "?");
			free(s);
		}
		if (json_array_size(tt)) {
			s = json_dumps(tt, JSON_COMPACT);
			printf("%*s  task types: %s\n", (int)wn, "", s ? s : "?");
			free(s);
		}
		if (json_array_size(hooks) >= DTF_HOOK__COUNT) {
			printf("%*s  hooks: all\n", (int)wn, "");
		} else if (json_array_size(hooks)) {
			s = json_dumps(hooks, JSON_COMPACT);
			printf("%*s  hooks: %s\n", (int)wn, "", s ? s : "?");
			free(s);
		}
		if (json_is_string(json_object_get(p, "description")) &&
		    strcmp(dtf_json_str(p, "state", ""), "invalid") != 0)
			printf("%*s  %s\n", (int)wn, "", dtf_json_str(p, "description", ""));
		if (json_is_string(json_object_get(p, "reason")))
			printf("%*s  reason: %s\n", (int)wn, "", dtf_json_str(p, "reason", ""));
		if (strcmp(dtf_json_str(p, "state", ""), "enabled") == 0 ||
		    strcmp(dtf_json_str(p, "state", ""), "disabled") == 0) {
			json_t *c = json_object_get(p, "counters");
			if (dtf_json_int(c, "events", 0) || dtf_json_int(c, "tasks", 0))
				printf(
				    "%*s  events %lld, errors %lld, timeouts %lld, max %.1f ms%s\n",
				    (int)wn, "", dtf_json_int(c, "events", 0),
				    dtf_json_int(c, "errors", 0), dtf_json_int(c, "timeouts", 0),
				    dtf_json_num(c, "max_ms", 0),
				    json_object_get(c, "tasks") ? " (task processor)" : "");
		}
	}
	if (dtf_json_int(q, "dropped", 0))
		printf("%lld events were dropped (queue full)\n", dtf_json_int(q, "dropped", 0));
}

static int list_plugins(const char *config, const char *coordinator, const char *key, bool as_json)
{
	json_t *doc = NULL, *cfg = NULL;
	char err[1024];
	int rc = 0;
	size_t i;
	json_t *p;

	if (coordinator) {
		struct dtf_http_client c;
		if (cli_client_init("dtf plugins", &c, cli_coordinator_url(coordinator),
				    cli_api_key(key)) != 0)
			return 2;
		rc = dtf_http_call(&c, "GET", "/api/v1/plugins", NULL, 10000, &doc);
		if (rc) {
			fprintf(stderr, "dtf plugins: %s: %s\n", cli_coordinator_url(coordinator),
				c.error);
			dtf_http_client_release(&c);
			return rc == DTF_ENET ? 1 : 2;
		}
		dtf_http_client_release(&c);
	} else {
		struct dtf_plugins *ps;
		struct dtf_plugin_host_impl host = {.role = "cli"};
		if (config) {
			cfg = dtf_yaml_load(config, err, sizeof(err));
			if (!cfg) {
				fprintf(stderr, "dtf plugins: %s\n", err);
				return 2;
			}
		}
		ps = dtf_plugins_load(cfg, config, &host, err, sizeof(err));
		if (!ps) {
			fprintf(stderr, "dtf plugins: %s\n", err);
			json_decref(cfg);
			return 2;
		}
		doc = dtf_plugins_list(ps);
		dtf_plugins_free(ps);
		json_decref(cfg);
	}
	rc = 0;
	json_array_foreach(json_object_get(doc, "plugins"), i, p)
		if (strcmp(dtf_json_str(p, "state", ""), "disabled") == 0)
			rc = 1;
	if (as_json) {
		char *s = json_dumps(doc, JSON_INDENT(2));
		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		print_table(doc);
	}
	json_decref(doc);
	return rc;
}

int cmd_plugins(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"coordinator", required_argument, NULL, 'u'},
	    {"coordinator-url", required_argument, NULL, 'u'},
	    {"api-key", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_TLS_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *coordinator = NULL, *key = NULL;
	bool as_json = false;
	struct cli_tls tls = {0};
	int opt;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "list") != 0) {
		fprintf(stderr, "dtf plugins: unknown subcommand '%s' (try: dtf plugins list)\n",
			argv[1]);
		return 2;
	}
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'u':
			coordinator = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (cli_tls_flag(&tls, opt, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc - 1) {
		fprintf(stderr, "dtf plugins: unexpected argument '%s'\n", argv[optind + 1]);
		return 2;
	}
	if (config && coordinator) {
		fprintf(stderr, "dtf plugins: give --config or --coordinator, not both\n");
		return 2;
	}
	if (coordinator && cli_tls_apply("dtf plugins", &tls) != 0)
		return 2;
	return list_plugins(config, coordinator, key, as_json);
}
