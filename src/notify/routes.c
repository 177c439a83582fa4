/* routes.c: reading and matching the notifications section (routes.h). */
#include "notify/routes.h"

#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/template.h"
#include "common/util.h"
#include "common/yaml.h"

static const char *const event_names[NE__COUNT] = {
    [NE_TASK_FAILED] = "task_failed",
    [NE_RUN_FAILED] = "run_failed",
    [NE_RUN_COMPLETED] = "run_completed",
    [NE_WORKER_LOST] = "worker_lost",
    [NE_RECOVERY_ESCALATED] = "recovery_escalated",
    [NE_HARDWARE_BLOCKED] = "hardware_blocked",
    [NE_FLAKY_DETECTED] = "flaky_detected",
    [NE_NOTIFICATION_DEAD] = "notification_dead",
    [NE_RUN_STARTED] = "run_started",
    [NE_TEST_PASSED] = "test_passed",
};

static const enum notify_severity event_severity[NE__COUNT] = {
    [NE_TASK_FAILED] = NS_WARNING,	[NE_RUN_FAILED] = NS_ERROR,
    [NE_RUN_COMPLETED] = NS_INFO,	[NE_WORKER_LOST] = NS_WARNING,
    [NE_RECOVERY_ESCALATED] = NS_ERROR, [NE_HARDWARE_BLOCKED] = NS_CRITICAL,
    [NE_FLAKY_DETECTED] = NS_WARNING,	[NE_NOTIFICATION_DEAD] = NS_ERROR,
};

static const char *const severity_names[NS__COUNT] = {"info", "warning", "error", "critical"};

const char *notify_event_name(enum notify_event ev)
{
	return (unsigned)ev < NE__COUNT ? event_names[ev] : "unknown";
}

int notify_event_parse(const char *name)
{
	int i;

	for (i = 0; name && i < NE__COUNT; i++)
		if (strcmp(name, event_names[i]) == 0)
			return i;
	return -1;
}

const char *notify_severity_name(enum notify_severity s)
{
	return (unsigned)s < NS__COUNT ? severity_names[s] : "unknown";
}

int notify_severity_parse(const char *name)
{
	int i;

	for (i = 0; name && i < NS__COUNT; i++)
		if (strcmp(name, severity_names[i]) == 0)
			return i;
	return -1;
}

enum notify_severity notify_event_severity(enum notify_event ev)
{
	return (unsigned)ev < NE__COUNT ? event_severity[ev] : NS_INFO;
}

/* ---- reading ---- */

struct reader {
	const char *text, *path;
	size_t len;
	char *err;
	size_t errlen;
};

/* "path:line: where: reason", the line found from key (the last part of where). */
static int fail(struct reader *rd, const char *key, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct reader *rd, const char *key, const char *where, const char *fmt, ...)
{
	char why[320];
	va_list ap;
	int line = rd->text && key ? dtf_yaml_key_line(rd->text, rd->len, key) : 0;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(rd->err, rd->errlen, "%s:%d: %s: %s", rd->path, line, where, why);
	else
		snprintf(rd->err, rd->errlen, "%s: %s: %s", rd->path, where, why);
	return DTF_EINVAL;
}

/* Fails for a key of obj that is not in allowed (NULL-terminated). */
static int only_keys(struct reader *rd, const json_t *obj, const char *where,
		     const char *const *allowed)
{
	const char *k;
	json_t *v;
	size_t i;
	char w[200];

	json_object_foreach((json_t *)obj, k, v) {
		for (i = 0; allowed[i] && strcmp(allowed[i], k) != 0; i++)
			;
		if (!allowed[i]) {
			snprintf(w, sizeof(w), "%s.%s", where, k);
			return fail(rd, k, w, "unknown key");
		}
	}
	return 0;
}

static int read_number(struct reader *rd, const json_t *obj, const char *key, const char *where,
		       double min, double max, double *out)
{
	const json_t *v = json_object_get(obj, key);
	char w[200];

	if (!v)
		return 0;
	snprintf(w, sizeof(w), "%s.%s", where, key);
	if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max)
		return fail(rd, key, w, "must be a number from %g to %g", min, max);
	*out = json_number_value(v);
	return 0;
}

static int read_template(struct reader *rd, struct notify_config *cfg, const char *name,
			 const json_t *v)
{
	char where[160], *text = NULL, path[PATH_MAX], dir[PATH_MAX];
	const char *src;
	size_t len;
	struct dtf_tpl_error te;
	int rc;

	snprintf(where, sizeof(where), "notifications.templates.%s", name);
	if (cfg->ntemplates == NOTIFY_MAX_TEMPLATES)
		return fail(rd, name, where, "more than %d templates", NOTIFY_MAX_TEMPLATES);
	if (json_is_string(v)) {
		src = json_string_value(v);
		len = json_string_length(v);
	} else if (json_is_object(v) && json_is_string(json_object_get(v, "file")) &&
		   json_object_size(v) == 1) {
		const char *f = json_string_value(json_object_get(v, "file"));
		if (f[0] != '/' && rd->path && strcmp(rd->path, "-") != 0) {
			snprintf(dir, sizeof(dir), "%s", rd->path);
			snprintf(path, sizeof(path), "%s/%s", dirname(dir), f);
		} else {
			snprintf(path, sizeof(path), "%s", f);
		}
		rc = dtf_read_file(path, DTF_TPL_MAX_SOURCE + 1, &text, &len);
		if (rc)
			return fail(rd, name, where, "cannot read %s: %s", path, dtf_strerror(rc));
		src = text;
	} else {
		return fail(rd, name, where, "must be the template's text or {file: PATH}");
	}
	rc = dtf_tpl_compile(src, len, &cfg->templates[cfg->ntemplates], &te);
	free(text);
	if (rc)
		return fail(rd, name, where, "line %u, column %u of the template: %s", te.line,
			    te.column, te.message);
	cfg->template_names[cfg->ntemplates] = strdup(name);
	if (!cfg->template_names[cfg->ntemplates]) {
		dtf_tpl_free(cfg->templates[cfg->ntemplates]);
		return fail(rd, name, where, "out of memory");
	}
	cfg->ntemplates++;
	return 0;
}

static int find_template(const struct notify_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ntemplates; i++)
		if (strcmp(cfg->template_names[i], name) == 0)
			return (int)i;
	return -1;
}

int notify_config_channel(const struct notify_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; cfg && i < cfg->nchannels; i++)
		if (strcmp(notify_channel_name(cfg->channels[i]), name) == 0)
			return (int)i;
	return -1;
}

/* "warning", ">= warning", ">=warning" */
static int parse_min_severity(const char *s)
{
	if (strncmp(s, ">=", 2) == 0)
		s += 2;
	while (*s == ' ')
		s++;
	return notify_severity_parse(s);
}

static int read_route(struct reader *rd, struct notify_config *cfg, size_t idx, const json_t *r)
{
	static const char *const keys[] = {"events",   "severity", "match",    "channels",
					   "template", "group",	   "throttle", NULL};
	static const char *const match_keys[] = {"run", "project", "labels", NULL};
	struct notify_route *rt = &cfg->routes[idx];
	char where[120], w[200];
	const json_t *v, *m;
	size_t i;
	int rc;

	snprintf(where, sizeof(where), "notifications.routes[%zu]", idx);
	rt->tpl = -1;
	if (!json_is_object(r))
		return fail(rd, "routes", where, "must be a mapping");
	rc = only_keys(rd, r, where, keys);
	if (rc)
		return rc;
	/* events: a list of names, or "all" */
	v = json_object_get(r, "events");
	snprintf(w, sizeof(w), "%s.events", where);
	if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0) {
		rt->events = (1u << NE__COUNT) - 1;
	} else if (json_is_array(v) && json_array_size(v) > 0) {
		json_array_foreach(v, i, m) {
			int ev = notify_event_parse(json_string_value(m));
			if (ev < 0)
				return fail(rd, "events", w,
					    "unknown event '%s' (task_failed, run_failed, "
					    "run_completed, run_started, test_passed, worker_lost, "
					    "recovery_escalated, hardware_blocked, flaky_detected, "
					    "notification_dead)",
					    json_is_string(m) ? json_string_value(m) : "?");
			rt->events |= 1u << ev;
		}
	} else {
		return fail(rd, "events", w, "must be a list of event names, or \"all\"");
	}
	v = json_object_get(r, "severity");
	if (v) {
		int s = json_is_string(v) ? parse_min_severity(json_string_value(v)) : -1;
		snprintf(w, sizeof(w), "%s.severity", where);
		if (s < 0)
			return fail(rd, "severity", w,
				    "must be info, warning, error or critical, optionally after "
				    "\">=\"");
		rt->min_severity = (enum notify_severity)s;
	}
	v = json_object_get(r, "match");
	if (v) {
		snprintf(w, sizeof(w), "%s.match", where);
		if (!json_is_object(v))
			return fail(rd, "match", w, "must be a mapping");
		rc = only_keys(rd, v, w, match_keys);
		if (rc)
			return rc;
		if ((m = json_object_get(v, "run"))) {
			if (!json_is_string(m))
				return fail(rd, "run", w, "run must be a name or a glob");
			rt->match_run = strdup(json_string_value(m));
			if (!rt->match_run)
				return fail(rd, NULL, w, "out of memory");
		}
		if ((m = json_object_get(v, "project"))) {
			if (!json_is_string(m))
				return fail(rd, "project", w, "project must be a string");
			rt->match_project = strdup(json_string_value(m));
			if (!rt->match_project)
				return fail(rd, NULL, w, "out of memory");
		}
		if ((m = json_object_get(v, "labels"))) {
			if (!json_is_object(m))
				return fail(rd, "labels", w, "labels must be a mapping");
			rt->match_labels = json_deep_copy(m);
		}
	}
	v = json_object_get(r, "channels");
	snprintf(w, sizeof(w), "%s.channels", where);
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > NOTIFY_MAX_CHANNELS)
		return fail(rd, "channels", w, "must be a list of integrations' names");
	json_array_foreach(v, i, m) {
		int ch = json_is_string(m) ? notify_config_channel(cfg, json_string_value(m)) : -1;
		if (ch < 0)
			return fail(rd, "channels", w, "'%s' is not a channel under integrations",
				    json_is_string(m) ? json_string_value(m) : "?");
		rt->channels[rt->nchannels++] = ch;
	}
	v = json_object_get(r, "template");
	if (v) {
		snprintf(w, sizeof(w), "%s.template", where);
		rt->tpl = json_is_string(v) ? find_template(cfg, json_string_value(v)) : -1;
		if (rt->tpl < 0)
			return fail(rd, "template", w, "'%s' is not under notifications.templates",
				    json_is_string(v) ? json_string_value(v) : "?");
	}
	v = json_object_get(r, "group");
	if (v) {
		static const char *const gkeys[] = {"by", "window_s", NULL};
		const char *by;
		snprintf(w, sizeof(w), "%s.group", where);
		if (!json_is_object(v))
			return fail(rd, "group", w, "must be a mapping {by, window_s}");
		rc = only_keys(rd, v, w, gkeys);
		if (rc)
			return rc;
		by = dtf_json_str(v, "by", "run");
		if (strcmp(by, "run") == 0)
			rt->group_by = NG_RUN;
		else if (strcmp(by, "event") == 0)
			rt->group_by = NG_EVENT;
		else if (strcmp(by, "all") == 0)
			rt->group_by = NG_ALL;
		else if (strcmp(by, "none") == 0)
			rt->group_by = NG_NONE;
		else
			return fail(rd, "by", w, "by must be run, event, all or none");
		rt->window_s = 60;
		rc = read_number(rd, v, "window_s", w, 0, 86400, &rt->window_s);
		if (rc)
			return rc;
	}
	v = json_object_get(r, "throttle");
	if (v) {
		static const char *const tkeys[] = {"per_minute", NULL};
		snprintf(w, sizeof(w), "%s.throttle", where);
		if (!json_is_object(v) || !json_object_get(v, "per_minute"))
			return fail(rd, "throttle", w, "must be a mapping {per_minute}");
		rc = only_keys(rd, v, w, tkeys);
		if (!rc)
			rc = read_number(rd, v, "per_minute", w, 0.01, 100000, &rt->per_minute);
		if (rc)
			return rc;
	}
	return 0;
}

int notify_config_load(const json_t *doc, const char *text, size_t len, const char *path,
		       struct notify_config **out, char *err, size_t errlen)
{
	return notify_config_load_ext(doc, text, len, path, NULL, out, err, errlen);
}

int notify_config_load_ext(const json_t *doc, const char *text, size_t len, const char *path,
			   const struct notify_ext *ext, struct notify_config **out, char *err,
			   size_t errlen)
{
	static const char *const nkeys[] = {"max_tries", "backoff_s",	    "max_backoff_s",
					    "keep",	 "templates",	    "routes",
					    "base_url",	 "flush_timeout_s", NULL};
	struct reader rd = {
	    .text = text, .len = len, .path = path ? path : "config", .err = err, .errlen = errlen};
	const json_t *integ = json_object_get(doc, "integrations");
	const json_t *notif = json_object_get(doc, "notifications");
	struct notify_config *cfg;
	const char *k;
	json_t *v, *tv;
	double d;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!integ && !notif)
		return 0;
	if (integ && !json_is_object(integ))
		return fail(&rd, "integrations", "integrations", "must be a mapping of channels");
	if (notif && !json_is_object(notif))
		return fail(&rd, "notifications", "notifications", "must be a mapping");
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return fail(&rd, NULL, "notifications", "out of memory");
	cfg->max_tries = 8;
	cfg->backoff_s = 2;
	cfg->max_backoff_s = 300;
	cfg->keep = 1000;
	cfg->flush_timeout_s = 30;
	json_object_foreach((json_t *)integ, k, v) {
		char cerr[512];
		if (cfg->nchannels == NOTIFY_MAX_CHANNELS) {
			rc = fail(&rd, k, "integrations", "more than %d channels",
				  NOTIFY_MAX_CHANNELS);
			goto out;
		}
		if (strlen(k) >= NOTIFY_NAME_MAX) {
			rc = fail(&rd, k, "integrations", "the name '%.40s…' is too long", k);
			goto out;
		}
		rc = notify_channel_open_ext(k, v, ext, &cfg->channels[cfg->nchannels], cerr,
					     sizeof(cerr));
		if (rc) {
			int line = text ? dtf_yaml_key_line(text, len, k) : 0;
			if (line > 0)
				snprintf(err, errlen, "%s:%d: %s", rd.path, line, cerr);
			else
				snprintf(err, errlen, "%s: %s", rd.path, cerr);
			rc = DTF_EINVAL;
			goto out;
		}
		cfg->nchannels++;
	}
	if (notif) {
		const json_t *routes;
		rc = only_keys(&rd, notif, "notifications", nkeys);
		if (rc)
			goto out;
		d = cfg->max_tries;
		rc = read_number(&rd, notif, "max_tries", "notifications", 1, 1000, &d);
		cfg->max_tries = (int)d;
		if (!rc)
			rc = read_number(&rd, notif, "backoff_s", "notifications", 0, 3600,
					 &cfg->backoff_s);
		if (!rc)
			rc = read_number(&rd, notif, "max_backoff_s", "notifications", 0, 86400,
					 &cfg->max_backoff_s);
		if (!rc)
			rc = read_number(&rd, notif, "flush_timeout_s", "notifications", 0, 3600,
					 &cfg->flush_timeout_s);
		d = cfg->keep;
		if (!rc)
			rc = read_number(&rd, notif, "keep", "notifications", 0, 1000000, &d);
		cfg->keep = (int)d;
		if (rc)
			goto out;
		v = json_object_get(notif, "base_url");
		if (v && !json_is_string(v)) {
			rc = fail(&rd, "base_url", "notifications.base_url",
				  "must be the coordinator's public URL (links in messages)");
			goto out;
		}
		v = json_object_get(notif, "templates");
		if (v && !json_is_object(v)) {
			rc = fail(&rd, "templates", "notifications.templates", "must be a mapping");
			goto out;
		}
		json_object_foreach(v, k, tv) {
			rc = read_template(&rd, cfg, k, tv);
			if (rc)
				goto out;
		}
		routes = json_object_get(notif, "routes");
		if (routes &&
		    (!json_is_array(routes) || json_array_size(routes) > NOTIFY_MAX_ROUTES)) {
			rc = fail(&rd, "routes", "notifications.routes",
				  "must be a list of at most %d routes", NOTIFY_MAX_ROUTES);
			goto out;
		}
		json_array_foreach(routes, i, v) {
			rc = read_route(&rd, cfg, i, v);
			cfg->nroutes = i + 1;
			if (rc)
				goto out;
		}
	}
out:
	if (rc) {
		notify_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

void notify_config_free(struct notify_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nchannels; i++)
		notify_channel_close(cfg->channels[i]);
	for (i = 0; i < cfg->ntemplates; i++) {
		free(cfg->template_names[i]);
		dtf_tpl_free(cfg->templates[i]);
	}
	for (i = 0; i < cfg->nroutes; i++) {
		free(cfg->routes[i].match_run);
		free(cfg->routes[i].match_project);
		json_decref(cfg->routes[i].match_labels);
	}
	free(cfg);
}

/* ---- matching ---- */

bool notify_route_matches(const struct notify_route *r, enum notify_event ev,
			  enum notify_severity sev, const json_t *run)
{
	const char *k;
	json_t *v;

	if (!(r->events & (1u << ev)) || sev < r->min_severity)
		return false;
	if (r->match_run) {
		const char *name = dtf_json_str(run, "name", NULL);
		const char *id = dtf_json_str(run, "id", NULL);
		if ((!name || fnmatch(r->match_run, name, 0) != 0) &&
		    (!id || fnmatch(r->match_run, id, 0) != 0))
			return false;
	}
	if (r->match_project) {
		const char *p = dtf_json_str(run, "project", NULL);
		if (!p || strcmp(p, r->match_project) != 0)
			return false;
	}
	json_object_foreach(r->match_labels, k, v) {
		const json_t *have = json_object_get(json_object_get(run, "labels"), k);
		if (!have || !json_equal((json_t *)have, v))
			return false;
	}
	return true;
}
