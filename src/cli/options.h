/* options.h: the options of `dtf coordinator` and `dtf worker`, each declared once in a table
 * (cli/coordinator.c's coord_opts[], cli/worker.c's worker_opts[]) that common/config.c turns
 * into getopt, YAML, environment, defaults, --help and docs/configuration.md's tables. */
#ifndef DTF_CLI_OPTIONS_H
#define DTF_CLI_OPTIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/config.h"
#include "coordinator/coordinator.h"
#include "net/http.h"
#include "worker/agent.h"

/* Everything `dtf coordinator` reads: the coordinator's config and the command's own switches. */
struct coord_options {
	struct coord_config cc;
	const char *config;    /* --config path, or NULL */
	const char *log_file;  /* --log-file, or NULL (<db-path>.log for a daemon) */
	const char *port_file; /* --port-file, or NULL */
	bool daemon, check, help, print_doc, print_routes;
	json_t *doc;		 /* the parsed --config (owned); cc's strings may point into it */
	struct dtf_config table; /* owns cc's lists and records where each value came from */
};

/* Fills o from argv (argv[0] is the command's name), the --config file, the environment and the
 * table's defaults, in that order of precedence. Returns 0, or DTF_EINVAL with every reason in
 * o->table.err (empty when getopt printed its own). o->help / o->print_doc: nothing else was
 * read. Release o with coord_options_release() whatever this returns. */
int coord_options_load(struct coord_options *o, int argc, char **argv);
void coord_options_release(struct coord_options *o);
/* The table's defaults, for coordinators started from code (`dtf run`'s embedded one). */
void coord_options_defaults(struct coord_config *cc);
/* Prints `dtf coordinator`'s --help, or its table in markdown for docs/configuration.md. */
void coord_options_usage(FILE *f);
void coord_options_doc(FILE *f);

/* Everything `dtf worker` reads. */
struct worker_options {
	struct agent_config a;
	const char *config;	     /* --config path (plugins), or NULL */
	json_t *labels;		     /* --labels / --label (owned object), or NULL */
	json_t *caps;		     /* --capabilities (owned object), or NULL */
	const char *const *hardware; /* --hardware values, each "X,Y,…", or NULL */
	int exit_with_parent;	     /* --exit-with-parent PID, or 0 */
	struct dtf_tls_client tls;   /* --ca-cert, --insecure, --tls-cert/--tls-key (mTLS) */
	const char *browsers;	     /* --browsers chromium[:N], or NULL: no browser pool */
	const char *browser_flags, *browser_extra_flags, *browser_driver, *browser_binary;
	int browser_recycle; /* tasks per browser instance (0: never recycled) */
	int browser_memory;  /* MiB per browser instance (0: no bound) */
	bool detect, help, print_doc, auto_register;
	const char *enroll_key, *enroll_key_file; /* --enroll-key, --enroll-key-file */
	char *enroll_key_read;			  /* the file's key (owned) */
	struct dtf_config table;
};

/* As coord_options_load() for the worker (flags, the environment, defaults). */
int worker_options_load(struct worker_options *o, int argc, char **argv);
void worker_options_release(struct worker_options *o);
void worker_options_usage(FILE *f);
void worker_options_doc(FILE *f);

#endif
