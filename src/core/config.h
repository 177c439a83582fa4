/* config.h: the coordinator's configuration as the core reads it. The command line, the YAML file
 * and the defaults are merged into this by src/cli/coordinator.c; the core never parses options. */
#ifndef DTF_CORE_CONFIG_H
#define DTF_CORE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct coord_config {
	const char *host;
	unsigned port;
	const char *db_path;
	const char *const *api_keys; /* NULL-terminated or NULL */
	const char *const *workers;  /* ids allowed without auto-discovery (NULL: any) */
	bool auto_discovery;
	bool batch_processing;
	int batch_size_limit;
	double heartbeat_interval_s;
	double heartbeat_timeout_s;
	double default_timeout_s;
	double retry_backoff_s; /* first retry delay after a failure; doubles, jittered;
				 * 0: at once */
	const char *tls_cert, *tls_key;
	const char *tls_client_ca; /* PEM CA bundle: clients must show a cert it signed */
	const json_t *config_doc;  /* the parsed --config (plugins section), or NULL */
	const char *config_path;
	const char *const *default_constraints; /* --constraint flags, NULL-terminated, or NULL */
	bool no_group_commit;			/* commit every request on its own */
	int quarantine_threshold;		/* strikes that quarantine a worker (0: never) */
	double quarantine_s;			/* how long a quarantine lasts */
	int max_requeues;     /* default of a task's max_requeues (0: DTF_MAX_REQUEUES;
			       * negative: none, a lost worker's task fails) */
	const char *strategy; /* --strategy: overrides scheduler.strategy, or NULL */
	/* Authentication (docs/auth.md): the keys file, /metrics without a key, workers' tokens'
	 * lifetime and secret file, and the failed-authentication limit per address. */
	const char *keys_file;
	bool metrics_open;
	double worker_token_ttl_s;
	const char *token_secret_file;
	int auth_fail_rate, auth_fail_burst;
	/* Several coordinators on one PostgreSQL database (docs/deploy-postgres.md): read by
	 * coordinator.c, which takes the leadership (store/leader.h) before the core opens the
	 * store, and sets leader_epoch, the epoch every commit of the core's store checks (0: a
	 * store with a lock of its own, as SQLite and `dtf run`). */
	bool standby;		   /* wait as a standby while another leads (else refused) */
	const char *advertise_url; /* where clients reach this one, for standbys' redirects */
	volatile int *stop;	   /* set by a signal handler: a standby stops waiting */
	/* Called once a standby serves (its port, for a port file), before it leads. */
	void (*standby_serving)(void *arg, unsigned port);
	void *standby_arg;
	int64_t leader_epoch;
};

#endif
