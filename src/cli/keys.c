/* keys.c: `dtf keys add|revoke|list` and `dtf keys revoke-worker`: API keys and workers'
 * credentials managed through the coordinator's admin endpoints (docs/auth.md), so that a key
 * is rotated without a restart. Needs an admin key (--api-key or $DTF_API_KEY). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "net/http.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dtf keys list\n"
		"       dtf keys add NAME ROLE [--project P] [--secret S]\n"
		"       dtf keys revoke NAME\n"
		"       dtf keys revoke-worker ID\n"
		"options: --coordinator URL (default $DTF_COORDINATOR or http://localhost:8080),\n"
		"  --api-key K (an admin key; default $DTF_API_KEY)\n"
		"ROLE is admin, submit, read or worker-enroll. Without --secret the coordinator\n"
		"makes one and this prints it once: keep it, it is not shown again.\n");
}

int cmd_keys(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"coordinator", required_argument, NULL, 'c'},
	    {"api-key", required_argument, NULL, 'k'},
	    {"project", required_argument, NULL, 'p'},
	    {"secret", required_argument, NULL, 's'},
	    {"expires", required_argument, NULL, 'e'},
	    {"worker-pattern", required_argument, NULL, 'w'},
	    {"labels", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *coord = NULL, *key = NULL, *project = NULL, *secret = NULL, *action;
	const char *pattern = NULL, *labels = NULL;
	double expires = 0;
	struct dtf_http_client c;
	json_t *resp = NULL, *body = NULL, *e;
	char path[256];
	int opt, rc = 0;
	size_t i;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			coord = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'p':
			project = optarg;
			break;
		case 's':
			secret = optarg;
			break;
		case 'e':
			if (dtf_parse_seconds(optarg, &expires) != 0 || expires <= 0) {
				fprintf(stderr,
					"dtf keys: --expires takes seconds (30, 10m, 24h)\n");
				return 2;
			}
			break;
		case 'w':
			pattern = optarg;
			break;
		case 'l':
			labels = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	action = argv[optind];
	if (dtf_http_client_init(&c, cli_coordinator_url(coord), cli_api_key(key)) != 0) {
		fprintf(stderr, "dtf keys: bad coordinator URL\n");
		return 2;
	}
	if (strcmp(action, "list") == 0 && optind + 1 == argc) {
		rc = dtf_http_call(&c, "GET", "/api/v1/keys", NULL, 0, &resp);
		if (!rc) {
			printf("%-24s %-14s %-16s %-7s %s\n", "NAME", "ROLE", "PROJECT", "ORIGIN",
			       "STATE");
			json_array_foreach(json_object_get(resp, "keys"), i, e)
				printf("%-24s %-14s %-16s %-7s %s\n", dtf_json_str(e, "name", ""),
				       dtf_json_str(e, "role", ""), dtf_json_str(e, "project", "-"),
				       dtf_json_str(e, "origin", ""),
				       !dtf_json_bool(e, "revoked", false) ? "live"
				       : dtf_json_str(e, "hint", NULL)
					   ? "revoked (kept across restarts: remove it from the "
					     "configuration)"
					   : "revoked");
		}
	} else if (strcmp(action, "add") == 0 && optind + 3 == argc) {
		body = json_pack("{s:s,s:s,s:s*,s:s*,s:s*}", "name", argv[optind + 1], "role",
				 argv[optind + 2], "project", project, "secret", secret,
				 "worker_pattern", pattern);
		if (expires > 0)
			json_object_set_new(body, "expires_in_s", json_real(expires));
		if (labels) {
			json_t *lo = json_object(), *parts = dtf_json_split(labels, ","), *p;
			json_array_foreach(parts, i, p) {
				const char *kv = json_string_value(p), *eq = strchr(kv, '=');
				char k[128];
				if (!eq || (size_t)(eq - kv) >= sizeof(k))
					continue;
				memcpy(k, kv, (size_t)(eq - kv));
				k[eq - kv] = '\0';
				json_object_set_new(lo, k, json_string(eq + 1));
			}
			json_decref(parts);
			json_object_set_new(body, "labels", lo);
		}
		rc = dtf_http_call(&c, "POST", "/api/v1/keys", body, 0, &resp);
		if (!rc && dtf_json_str(resp, "secret", NULL))
			printf("%s\n", dtf_json_str(resp, "secret", ""));
		else if (!rc)
			printf("added key %s\n", argv[optind + 1]);
	} else if (strcmp(action, "revoke") == 0 && optind + 2 == argc) {
		snprintf(path, sizeof(path), "/api/v1/keys/%s", argv[optind + 1]);
		rc = dtf_http_call(&c, "DELETE", path, NULL, 0, &resp);
		if (!rc)
			printf("revoked key %s\n", argv[optind + 1]);
	} else if (strcmp(action, "revoke-worker") == 0 && optind + 2 == argc) {
		snprintf(path, sizeof(path), "/api/v1/workers/%s/revoke", argv[optind + 1]);
		rc = dtf_http_call(&c, "POST", path, NULL, 0, &resp);
		if (!rc)
			printf("revoked worker %s\n", argv[optind + 1]);
	} else {
		usage(stderr);
		dtf_http_client_release(&c);
		return 2;
	}
	if (rc)
		fprintf(stderr, "dtf keys: %s\n", c.error);
	json_decref(body);
	json_decref(resp);
	dtf_http_client_release(&c);
	return rc ? 1 : 0;
}
