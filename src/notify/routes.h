/* routes.h: the notifications section of the configuration: which events go to which channels,
 * with which template, grouped and throttled how. Read once at start (and by `dtf coordinator
 * --check`); the outbox (core/outbox.c) asks it, per event, which routes take it.
 *
 *   integrations:                 # the channels, opened by notify.h
 *     slack-team: {type: slack, token_env: SLACK_TOKEN, channel: "#ci"}
 *   notifications:
 *     max_tries: 8                # then the message is a dead letter
 *     templates:
 *       failures: "{{count}} tests failed in {{run.name}}"   # or {file: path}
 *     routes:
 *       - events: [task_failed, run_failed]
 *         severity: ">= warning"
 *         match: {run: "nightly-*", project: ml, labels: {team: vision}}
 *         channels: [slack-team]
 *         template: failures
 *         group: {by: run, window_s: 60}
 *         throttle: {per_minute: 10}
 *
 * See docs/integrations.md ("Routing notifications"). */
#ifndef DTF_NOTIFY_ROUTES_H
#define DTF_NOTIFY_ROUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify/notify.h"

#define NOTIFY_MAX_ROUTES    64
#define NOTIFY_MAX_TEMPLATES 64

/* The events the core emits. */
enum notify_event {
	NE_TASK_FAILED,	       /* a task failed for good (its retries spent) */
	NE_RUN_FAILED,	       /* a run finished with a failed, errored or cancelled test */
	NE_RUN_COMPLETED,      /* a run finished (whatever the outcome) */
	NE_WORKER_LOST,	       /* a worker missed its heartbeats and was declared lost */
	NE_RECOVERY_ESCALATED, /* error recovery gave up on a task or moved to a harder step */
	NE_HARDWARE_BLOCKED,   /* a hardware class was blocked system-wide */
	NE_FLAKY_DETECTED,     /* a task passed only after failing */
	NE_NOTIFICATION_DEAD,  /* a notification was given up on (a dead letter) */
	NE_RUN_STARTED,	       /* a run was created with its tasks */
	NE_TEST_PASSED,	       /* a task that failed in an earlier run passed (JIRA closes) */
	NE__COUNT
};

enum notify_severity { NS_INFO, NS_WARNING, NS_ERROR, NS_CRITICAL, NS__COUNT };

enum notify_group_by { NG_NONE, NG_RUN, NG_EVENT, NG_ALL };

struct notify_route {
	uint32_t events; /* 1 << enum notify_event */
	enum notify_severity min_severity;
	char *match_run;      /* glob on the run's name (or id), or NULL */
	char *match_project;  /* equal to the run's metadata.project, or NULL */
	json_t *match_labels; /* object: each key equal in the run's metadata.labels, or NULL */
	size_t nchannels;
	int channels[NOTIFY_MAX_CHANNELS]; /* indexes into notify_config.channels */
	int tpl;			   /* index into notify_config.templates, or -1 */
	enum notify_group_by group_by;
	double window_s;   /* grouping window (group_by != NG_NONE) */
	double per_minute; /* messages per minute per channel, 0: the channel's documented rate */
};

struct notify_config {
	size_t nchannels;
	struct notify_channel *channels[NOTIFY_MAX_CHANNELS];
	size_t ntemplates;
	char *template_names[NOTIFY_MAX_TEMPLATES];
	struct dtf_tpl *templates[NOTIFY_MAX_TEMPLATES];
	size_t nroutes;
	struct notify_route routes[NOTIFY_MAX_ROUTES];
	int max_tries;		/* sends before a message is a dead letter (default 8) */
	double backoff_s;	/* first retry delay, doubled each time, jittered (default 2) */
	double max_backoff_s;	/* at most (default 300) */
	int keep;		/* sent and dead messages kept for GET /api/v1/notifications */
	double flush_timeout_s; /* how long a `dtf run` waits at its end to send (default 30) */
};

/* Reads integrations and notifications from the configuration document (doc may be NULL or lack
 * them: *out is then NULL and 0 is returned: no notifications). text/len (may be NULL) is the
 * YAML the document came from and path its name, for "path:line: notifications.routes[0].x:
 * reason" errors. Opens every channel (so a missing credential is an error at start, not at
 * the first failure). 0 with *out set, or DTF_EINVAL with err. */
int notify_config_load(const json_t *doc, const char *text, size_t len, const char *path,
		       struct notify_config **out, char *err, size_t errlen);
/* The same, with channel types from plugins (ext may be NULL; see notify_ext). */
int notify_config_load_ext(const json_t *doc, const char *text, size_t len, const char *path,
			   const struct notify_ext *ext, struct notify_config **out, char *err,
			   size_t errlen);
void notify_config_free(struct notify_config *cfg);

/* True when route r takes an event of kind ev and severity sev; run is what a message says of
 * its run ({id, name, project, labels}: the run's metadata.project and metadata.labels), or
 * NULL. */
bool notify_route_matches(const struct notify_route *r, enum notify_event ev,
			  enum notify_severity sev, const json_t *run);

/* The index of a channel by name, or -1. */
int notify_config_channel(const struct notify_config *cfg, const char *name);

const char *notify_event_name(enum notify_event ev);
int notify_event_parse(const char *name); /* -1 for an unknown name */
const char *notify_severity_name(enum notify_severity s);
int notify_severity_parse(const char *name); /* -1 for an unknown name */
/* The severity an event has unless the core says otherwise. */
enum notify_severity notify_event_severity(enum notify_event ev);

#endif
