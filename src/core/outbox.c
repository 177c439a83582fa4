/* outbox.c: the notifications outbox (outbox.h). Entries live in a list in seq order and in a
 * map by id; each is mirrored in the store as one document. */
#include "core/outbox.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hmap.h"
#include "common/json.h"
#include "common/log.h"
#include "common/testcount.h"
#include "common/util.h"
#include "core/model.h"
#include "plugin/plugin.h"

#define MERGE_LIST  10	 /* entries a merged message lists in full */
#define MAX_RESULTS 5000 /* test results a run message carries (TestRail takes them all) */
#define ERROR_CHARS 2000 /* of a task's error message carried into a message */

enum ob_state { OB_PENDING, OB_SENT, OB_DEAD };
static const char *const state_names[] = {"pending", "sent", "dead"};

struct ob_entry {
	int64_t seq;
	char id[32];
	int channel; /* index into cfg->channels, -1 when the channel is no longer configured */
	int route;   /* index into cfg->routes, -1 when the route is gone */
	enum notify_event event;
	enum notify_severity sev;
	char group[128]; /* "" when not grouped */
	json_t *data;
	enum ob_state state;
	bool inflight;
	/* Stored before a send to a channel that takes no idempotency key (Slack): found set
	 * after a restart, the message may have arrived already. */
	bool sending;
	int tries;
	int64_t created_ms, due_ms, done_ms; /* wall clock */
	char key[64];			     /* the key it was (last) sent with */
	char error[256], answer[256];
	struct ob_entry *prev, *next;
};

struct outbox {
	struct notify_config *cfg;
	char base_url[256]; /* notifications.base_url: links in messages, or "" */
	struct ob_entry *head, *tail;
	struct dtf_hmap by_id;
	/* What a channel returned to keep one object per run current (Slack's message, TestRail's
	 * run), by "channel/run id": stored as "ref:" records so a restart keeps them. */
	struct dtf_hmap refs;
	size_t nrefs;
	/* Names of tasks whose last run failed, while a route wants test_passed: stored as
	 * "failed:" records, so that a pass in a later run (after a restart too) is news. */
	struct dtf_hmap failed;
	size_t nfailed;
	size_t nfinished;
	int64_t next_seq;
	/* The earliest time the next message may go, per route and channel (route -1: the
	 * last row), so a channel never gets more than its rate. */
	int64_t next_ok[NOTIFY_MAX_ROUTES + 1][NOTIFY_MAX_CHANNELS];
	uint64_t sent[NOTIFY_MAX_CHANNELS], retried[NOTIFY_MAX_CHANNELS], dead[NOTIFY_MAX_CHANNELS];
	pthread_cond_t cond;
	bool woken;
	bool flushing; /* untried messages are due now (the coordinator is about to stop) */
	bool held;     /* nothing more is sent: what is pending stays for the next start */
	uint64_t rng;
};

/* ---- entries and the store ---- */

static json_t *entry_doc(const struct ob_entry *e, const struct outbox *ob)
{
	return json_pack("{s:s,s:I,s:s,s:i,s:s,s:s,s:s,s:O,s:s,s:i,s:I,s:I,s:I,s:s,s:s,s:s}", "id",
			 e->id, "seq", (json_int_t)e->seq, "channel",
			 e->channel >= 0 ? notify_channel_name(ob->cfg->channels[e->channel])
					 : dtf_json_str(e->data, "channel_name", ""),
			 "route", e->route, "event", notify_event_name(e->event), "severity",
			 notify_severity_name(e->sev), "group", e->group, "data", e->data, "state",
			 state_names[e->state], "tries", e->tries, "created_ms",
			 (json_int_t)e->created_ms, "due_ms", (json_int_t)e->due_ms, "done_ms",
			 (json_int_t)e->done_ms, "key", e->key, "error", e->error, "answer",
			 e->answer);
}

static int save(struct coord *c, const struct ob_entry *e)
{
	json_t *doc = entry_doc(e, c->outbox);
	int rc;

	if (!doc)
		return DTF_ENOMEM;
	if (e->sending)
		json_object_set_new(doc, "sending", json_true());
	rc = c->store->ops->put_outbox(c->store, e->id, e->seq, doc);
	json_decref(doc);
	if (rc)
		log_error("outbox: cannot store notification %s: %s", e->id, c->store->error);
	return rc;
}

static void link_entry(struct outbox *ob, struct ob_entry *e)
{
	e->prev = ob->tail;
	e->next = NULL;
	if (ob->tail)
		ob->tail->next = e;
	else
		ob->head = e;
	ob->tail = e;
	dtf_hmap_put(&ob->by_id, e->id, e);
	if (e->state != OB_PENDING)
		ob->nfinished++;
}

static void unlink_entry(struct outbox *ob, struct ob_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		ob->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		ob->tail = e->prev;
	dtf_hmap_del(&ob->by_id, e->id);
	if (e->state != OB_PENDING)
		ob->nfinished--;
}

static void free_entry(struct ob_entry *e)
{
	json_decref(e->data);
	free(e);
}

/* Forgets the oldest finished entries past notifications.keep. */
static void prune(struct coord *c)
{
	struct outbox *ob = c->outbox;
	struct ob_entry *e = ob->head, *next;

	while (e && ob->nfinished > (size_t)ob->cfg->keep) {
		next = e->next;
		if (e->state != OB_PENDING) {
			c->store->ops->del_outbox(c->store, e->id);
			unlink_entry(ob, e);
			free_entry(e);
		}
		e = next;
	}
}

#define REF_PREFIX    "ref:"
#define FAILED_PREFIX "failed:"
#define MAX_FAILED    10000 /* failing names remembered for test_passed */
#define MAX_REFS      4096  /* runs whose references are kept; older ones are posted anew */

static void set_ref(struct outbox *ob, const char *key, const char *ref)
{
	char *v = strdup(ref), *old;

	if (!v)
		return;
	old = dtf_hmap_get(&ob->refs, key);
	if (!old && ob->nrefs >= MAX_REFS) {
		free(v);
		return;
	}
	if (dtf_hmap_put(&ob->refs, key, v) != 0) {
		free(v);
		return;
	}
	if (old)
		free(old);
	else
		ob->nrefs++;
}

static int load_cb(void *arg, const char *id, int64_t seq, json_t *doc)
{
	struct coord *c = arg;
	struct outbox *ob = c->outbox;
	struct ob_entry *e;

	if (strncmp(id, REF_PREFIX, strlen(REF_PREFIX)) == 0) {
		set_ref(ob, id + strlen(REF_PREFIX), dtf_json_str(doc, "ref", ""));
		return 0;
	}
	if (strncmp(id, FAILED_PREFIX, strlen(FAILED_PREFIX)) == 0) {
		if (ob->nfailed < MAX_FAILED &&
		    dtf_hmap_put(&ob->failed, id + strlen(FAILED_PREFIX), (void *)1) == 0)
			ob->nfailed++;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	const char *st = dtf_json_str(doc, "state", "pending");
	int ev = notify_event_parse(dtf_json_str(doc, "event", ""));
	int sev = notify_severity_parse(dtf_json_str(doc, "severity", ""));

	if (!e)
		return DTF_ENOMEM;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->seq = seq;
	e->channel = notify_config_channel(ob->cfg, dtf_json_str(doc, "channel", ""));
	e->route = (int)dtf_json_int(doc, "route", -1);
	if (e->route < -1 || e->route >= (int)ob->cfg->nroutes)
		e->route = -1;
	e->event = ev < 0 ? NE_NOTIFICATION_DEAD : (enum notify_event)ev;
	e->sev = sev < 0 ? NS_ERROR : (enum notify_severity)sev;
	snprintf(e->group, sizeof(e->group), "%s", dtf_json_str(doc, "group", ""));
	e->data = json_incref(json_object_get(doc, "data"));
	if (!e->data)
		e->data = json_object();
	e->state = strcmp(st, "sent") == 0   ? OB_SENT
		   : strcmp(st, "dead") == 0 ? OB_DEAD
					     : OB_PENDING;
	e->tries = (int)dtf_json_int(doc, "tries", 0);
	e->created_ms = dtf_json_int(doc, "created_ms", 0);
	e->due_ms = dtf_json_int(doc, "due_ms", 0);
	e->done_ms = dtf_json_int(doc, "done_ms", 0);
	snprintf(e->key, sizeof(e->key), "%s", dtf_json_str(doc, "key", ""));
	snprintf(e->error, sizeof(e->error), "%s", dtf_json_str(doc, "error", ""));
	snprintf(e->answer, sizeof(e->answer), "%s", dtf_json_str(doc, "answer", ""));
	if (e->state == OB_PENDING && json_is_true(json_object_get(doc, "sending"))) {
		/* Stopped during the call: sent again, at least once; at most this one message
		 * per channel can be a duplicate (sends to such channels go one at a time). */
		log_warn(
		    "outbox: notification %s to %s was being sent when the coordinator stopped; "
		    "sending it again (the service may show it twice)",
		    id, dtf_json_str(doc, "channel", ""));
		snprintf(e->error, sizeof(e->error),
			 "the coordinator stopped while sending it: sent again, possibly twice");
	}
	if (e->state == OB_PENDING && e->channel < 0) {
		/* Its channel was taken out of the configuration: nothing can send it. */
		json_object_set_new(e->data, "channel_name",
				    json_string(dtf_json_str(doc, "channel", "")));
		e->state = OB_DEAD;
		snprintf(e->error, sizeof(e->error), "channel '%s' is no longer under integrations",
			 dtf_json_str(doc, "channel", ""));
	}
	if (seq >= ob->next_seq)
		ob->next_seq = seq + 1;
	link_entry(ob, e);
	return 0;
}

static const char *ext_provider(void *arg, const char *type)
{
	return dtf_plugins_channel_provider(arg, type);
}

static int ext_open(void *arg, const char *type, const char *name, const char *config_json,
		    char *err, size_t errlen)
{
	return dtf_plugins_channel_open(arg, type, name, config_json, err, errlen);
}

static int ext_send(void *arg, const char *type, const char *name, const char *message_json,
		    unsigned *retry_after_s, char *err, size_t errlen)
{
	return dtf_plugins_channel_send(arg, type, name, message_json, retry_after_s, err, errlen);
}

void outbox_notify_ext(struct dtf_plugins *ps, struct notify_ext *ext)
{
	ext->arg = ps;
	ext->provider = ext_provider;
	ext->open = ext_open;
	ext->send = ext_send;
}

int outbox_open(struct coord *c, char *err, size_t errlen)
{
	struct notify_ext ext;
	struct notify_config *cfg = NULL;
	struct outbox *ob;
	const char *base;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (c->cfg.config_path && strcmp(c->cfg.config_path, "-") != 0)
		dtf_read_file(c->cfg.config_path, 4u << 20, &text, &len);
	outbox_notify_ext(c->plugins, &ext);
	rc = notify_config_load_ext(c->cfg.config_doc, text, len, c->cfg.config_path, &ext, &cfg,
				    err, errlen);
	free(text);
	if (rc || !cfg)
		return rc;
	if (!c->store->ops->put_outbox || !c->store->ops->load_outbox ||
	    !c->store->ops->del_outbox) {
		notify_config_free(cfg);
		snprintf(err, errlen, "notifications: the %s store has no outbox",
			 c->store->ops->name);
		return DTF_EINVAL;
	}
	ob = calloc(1, sizeof(*ob));
	if (!ob) {
		notify_config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	ob->cfg = cfg;
	base = dtf_json_str(json_object_get(c->cfg.config_doc, "notifications"), "base_url", "");
	snprintf(ob->base_url, sizeof(ob->base_url), "%s", base);
	while (strlen(ob->base_url) > 0 && ob->base_url[strlen(ob->base_url) - 1] == '/')
		ob->base_url[strlen(ob->base_url) - 1] = '\0';
	dtf_hmap_init(&ob->by_id);
	dtf_hmap_init(&ob->refs);
	dtf_hmap_init(&ob->failed);
	pthread_cond_init(&ob->cond, NULL);
	ob->next_seq = 1;
	ob->rng = (uint64_t)dtf_wall_ms() ^ 0x9e3779b97f4a7c15ull;
	c->outbox = ob;
	rc = c->store->ops->load_outbox(c->store, load_cb, c);
	if (rc) {
		snprintf(err, errlen, "cannot load the notifications outbox: %s", c->store->error);
		outbox_free(c);
		return DTF_ESTORE;
	}
	return 0;
}

void outbox_free(struct coord *c)
{
	struct outbox *ob = c->outbox;
	struct ob_entry *e, *next;

	if (!ob)
		return;
	for (e = ob->head; e; e = next) {
		next = e->next;
		free_entry(e);
	}
	dtf_hmap_release(&ob->by_id);
	{
		size_t pos = 0;
		const char *k;
		void *v;
		while ((pos = dtf_hmap_next(&ob->refs, pos, &k, &v)) != 0)
			free(v);
		dtf_hmap_release(&ob->refs);
		dtf_hmap_release(&ob->failed);
	}
	pthread_cond_destroy(&ob->cond);
	notify_config_free(ob->cfg);
	free(ob);
	c->outbox = NULL;
}

/* ---- events ---- */

static void set_link(struct outbox *ob, json_t *obj, const char *kind, const char *id)
{
	char url[512];

	if (!ob->base_url[0] || !id || !*id)
		return;
	snprintf(url, sizeof(url), "%s/%s/%s", ob->base_url, kind, id);
	json_object_set_new(obj, "url", json_string(url));
}

/* {id, name, project, labels, url} of a run, or NULL. */
static json_t *run_info(struct coord *c, const char *run_id)
{
	struct crun *r = run_id && *run_id ? state_run(c, run_id) : NULL;
	json_t *out;
	const json_t *meta;

	if (!r)
		return NULL;
	meta = json_object_get(r->doc, "metadata");
	out = json_pack("{s:s,s:s}", "id", r->id, "name", dtf_json_str(r->doc, "name", r->id));
	if (dtf_json_str(meta, "project", NULL))
		json_object_set_new(out, "project",
				    json_string(dtf_json_str(meta, "project", NULL)));
	if (json_is_object(json_object_get(meta, "labels")))
		json_object_set(out, "labels", json_object_get(meta, "labels"));
	set_link(c->outbox, out, "runs", r->id);
	return out;
}

/* A task as a message lists it: {id, name, status, error, error_kind, worker, duration_s,
 * attempt, url}. */
static json_t *task_info(struct coord *c, struct ctask *t)
{
	json_t *doc = task_doc(t), *err = json_object_get(doc, "error");
	json_t *out =
	    json_pack("{s:s,s:s,s:s,s:i}", "id", t->id, "name", dtf_json_str(doc, "name", t->id),
		      "status", dtf_json_str(doc, "status", ""), "attempt", t->attempt);
	const char *msg = dtf_json_str(err, "message", NULL);

	if (msg) {
		size_t n = strlen(msg);
		json_object_set_new(out, "error",
				    n > ERROR_CHARS ? json_stringn(msg, ERROR_CHARS)
						    : json_string(msg));
		if (!json_object_get(out, "error")) /* cut inside a UTF-8 sequence */
			json_object_set_new(out, "error", json_string(""));
	}
	if (dtf_json_str(err, "kind", NULL))
		json_object_set_new(out, "error_kind", json_string(dtf_json_str(err, "kind", "")));
	if (dtf_json_str(doc, "worker_id", NULL))
		json_object_set_new(out, "worker", json_string(dtf_json_str(doc, "worker_id", "")));
	if (json_is_number(json_object_get(json_object_get(doc, "result"), "duration_s")))
		json_object_set_new(out, "duration_s",
				    json_real(json_number_value(json_object_get(
					json_object_get(doc, "result"), "duration_s"))));
	set_link(c->outbox, out, "tasks", t->id);
	return out;
}

/* The group an event of route r joins: "" for none (and for critical events, which never
 * wait for a window). */
static void group_of(const struct notify_route *r, enum notify_event ev, enum notify_severity sev,
		     const json_t *run, char *out, size_t outlen)
{
	out[0] = '\0';
	if (!r || r->group_by == NG_NONE || sev >= NS_CRITICAL)
		return;
	switch (r->group_by) {
	case NG_RUN:
		snprintf(out, outlen, "run:%s", dtf_json_str(run, "id", ""));
		break;
	case NG_EVENT:
		snprintf(out, outlen, "event:%s", notify_event_name(ev));
		break;
	default:
		snprintf(out, outlen, "all");
		break;
	}
}

/* Queues data (stolen) as event ev for every route and channel that take it. */
static void emit(struct coord *c, enum notify_event ev, enum notify_severity sev, json_t *data)
{
	struct outbox *ob = c->outbox;
	const json_t *run = json_object_get(data, "run");
	int64_t now = dtf_wall_ms();
	char ts[32];
	size_t r, k;
	bool queued = false;

	dtf_rfc3339(now, ts);
	json_object_set_new(data, "event", json_string(notify_event_name(ev)));
	json_object_set_new(data, "severity", json_string(notify_severity_name(sev)));
	json_object_set_new(data, "time", json_string(ts));
	for (r = 0; r < ob->cfg->nroutes; r++) {
		const struct notify_route *rt = &ob->cfg->routes[r];
		if (!notify_route_matches(rt, ev, sev, run))
			continue;
		for (k = 0; k < rt->nchannels; k++) {
			struct ob_entry *e = calloc(1, sizeof(*e)), *o;
			if (!e)
				break;
			e->seq = ob->next_seq++;
			snprintf(e->id, sizeof(e->id), "n-%lld", (long long)e->seq);
			e->channel = rt->channels[k];
			e->route = (int)r;
			e->event = ev;
			e->sev = sev;
			e->data = json_incref(data);
			e->created_ms = now;
			e->due_ms = now;
			snprintf(e->key, sizeof(e->key), "dtf-%s", e->id);
			group_of(rt, ev, sev, run, e->group, sizeof(e->group));
			if (e->group[0]) {
				/* Join the group's open window, or open one. */
				e->due_ms = now + (int64_t)(rt->window_s * 1000);
				for (o = ob->tail; o; o = o->prev)
					if (o->state == OB_PENDING && !o->inflight &&
					    o->route == e->route && o->channel == e->channel &&
					    strcmp(o->group, e->group) == 0) {
						e->due_ms = o->due_ms;
						break;
					}
			}
			link_entry(ob, e);
			save(c, e);
			queued = true;
		}
	}
	json_decref(data);
	if (queued)
		outbox_wake(c);
}

int64_t outbox_mark(struct coord *c)
{
	return c->outbox ? c->outbox->next_seq : 0;
}

void outbox_undo(struct coord *c, int64_t mark)
{
	struct outbox *ob = c->outbox;
	struct ob_entry *e, *prev;

	if (!ob)
		return;
	for (e = ob->tail; e && e->seq >= mark; e = prev) {
		prev = e->prev;
		unlink_entry(ob, e);
		free_entry(e);
	}
}

static bool wanted(struct coord *c, enum notify_event ev)
{
	size_t r;

	if (!c->outbox)
		return false;
	for (r = 0; r < c->outbox->cfg->nroutes; r++)
		if (c->outbox->cfg->routes[r].events & (1u << ev))
			return true;
	return false;
}

/* The run's failed tests for a run message: the first MERGE_LIST, and how many more. */
static void add_failed_tests(struct coord *c, struct crun *run, json_t *data)
{
	json_t *list = json_array();
	size_t pos = 0, n = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		struct ctask *t = v;
		if (t->status != TS_FAILED || strcmp(t->run_id, run->id) != 0)
			continue;
		if (n++ < MERGE_LIST)
			json_array_append_new(list, task_info(c, t));
	}
	json_object_set_new(data, "tests", list);
	json_object_set_new(data, "count", json_integer((json_int_t)n));
	json_object_set_new(data, "more",
			    json_integer(n > MERGE_LIST ? (json_int_t)(n - MERGE_LIST) : 0));
}

/* Remembers a failing task's name, and says test_passed when a task of a remembered name
 * passes (in a later run: the name is forgotten once said). */
static void track_failed(struct coord *c, struct ctask *t)
{
	struct outbox *ob = c->outbox;
	const char *name = dtf_json_str(task_doc(t), "name", NULL);
	char id[600], title[600];
	json_t *doc, *ti, *ri;

	if (!name || strlen(name) > 500)
		return;
	snprintf(id, sizeof(id), FAILED_PREFIX "%s", name);
	if (t->status == TS_FAILED) {
		if (dtf_hmap_get(&ob->failed, name) || ob->nfailed >= MAX_FAILED ||
		    dtf_hmap_put(&ob->failed, name, (void *)1) != 0)
			return;
		ob->nfailed++;
		doc = json_pack("{s:s}", "run_id", t->run_id);
		if (doc)
			c->store->ops->put_outbox(c->store, id, 0, doc);
		json_decref(doc);
		return;
	}
	if (t->status != TS_COMPLETED || !dtf_hmap_get(&ob->failed, name))
		return;
	dtf_hmap_del(&ob->failed, name);
	ob->nfailed--;
	c->store->ops->del_outbox(c->store, id);
	ti = task_info(c, t);
	ri = run_info(c, t->run_id);
	snprintf(title, sizeof(title), "%s passes again", name);
	doc = json_pack("{s:s,s:O,s:[O],s:i,s:i}", "title", title, "test", ti, "tests", ti, "count",
			1, "more", 0);
	if (ri)
		json_object_set_new(doc, "run", ri);
	json_decref(ti);
	emit(c, NE_TEST_PASSED, notify_event_severity(NE_TEST_PASSED), doc);
}

struct results_walk {
	json_t *list;
	const json_t *task;
	size_t n;
};

static int add_result(const struct dtf_test_entry *e, void *arg)
{
	struct results_walk *w = arg;
	json_t *r, *params;
	char name[512];

	if (w->n++ >= MAX_RESULTS)
		return 0;
	if (e->classname && *e->classname)
		snprintf(name, sizeof(name), "%s::%s", e->classname, e->name ? e->name : "");
	else
		snprintf(name, sizeof(name), "%s", e->name ? e->name : "");
	r = json_pack("{s:s,s:s,s:f}", "name", name, "status", dtf_test_status_name(e->status),
		      "duration_s", e->duration_s);
	if (!r)
		return 0;
	if (e->message && *e->message) {
		size_t n = strlen(e->message);
		json_object_set_new(r, "error",
				    n > ERROR_CHARS ? json_stringn(e->message, ERROR_CHARS)
						    : json_string(e->message));
	}
	/* What maps a test to a case in a test manager: the task's testrail marker and labels. */
	params = json_object_get(w->task, "params");
	if (json_object_get(params, "testrail"))
		json_object_set_new(
		    r, "params",
		    json_pack("{s:O}", "testrail", json_object_get(params, "testrail")));
	if (json_is_array(json_object_get(w->task, "labels")))
		json_object_set(r, "labels", json_object_get(w->task, "labels"));
	json_array_append_new(w->list, r);
	return 0;
}

/* Every test result of the run (test cases, as the reports count them), at most MAX_RESULTS;
 * "results_more" says how many were left out. */
static void add_results(struct coord *c, struct crun *run, json_t *data)
{
	struct results_walk w = {.list = json_array()};
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		struct ctask *t = v;
		if (strcmp(t->run_id, run->id) != 0)
			continue;
		w.task = task_doc(t);
		dtf_test_entries(w.task, add_result, &w);
	}
	json_object_set_new(data, "results", w.list);
	json_object_set_new(data, "results_more",
			    json_integer(w.n > MAX_RESULTS ? (json_int_t)(w.n - MAX_RESULTS) : 0));
}

void outbox_task_final(struct coord *c, struct ctask *t)
{
	struct crun *run;
	char title[400];
	json_t *data, *ti, *ri;

	if (!c->outbox || !task_is_final(t->status))
		return;
	if (wanted(c, NE_TEST_PASSED))
		track_failed(c, t);
	if (t->status == TS_FAILED && wanted(c, NE_TASK_FAILED)) {
		ti = task_info(c, t);
		ri = run_info(c, t->run_id);
		snprintf(title, sizeof(title), "%s failed%s%s", dtf_json_str(ti, "name", t->id),
			 ri ? " in run " : "", ri ? dtf_json_str(ri, "name", "") : "");
		data = json_pack("{s:s,s:O,s:[O],s:i,s:i}", "title", title, "test", ti, "tests", ti,
				 "count", 1, "more", 0);
		if (ri)
			json_object_set_new(data, "run", ri);
		json_decref(ti);
		emit(c, NE_TASK_FAILED, notify_event_severity(NE_TASK_FAILED), data);
	}
	if (t->status == TS_COMPLETED && t->retries_used > 0 && wanted(c, NE_FLAKY_DETECTED)) {
		ti = task_info(c, t);
		ri = run_info(c, t->run_id);
		snprintf(title, sizeof(title), "%s passed after %d failed attempt%s (flaky)",
			 dtf_json_str(ti, "name", t->id), t->retries_used,
			 t->retries_used == 1 ? "" : "s");
		data = json_pack("{s:s,s:O,s:[O],s:i,s:i}", "title", title, "test", ti, "tests", ti,
				 "count", 1, "more", 0);
		if (ri)
			json_object_set_new(data, "run", ri);
		json_decref(ti);
		emit(c, NE_FLAKY_DETECTED, notify_event_severity(NE_FLAKY_DETECTED), data);
	}
	run = t->run_id[0] ? state_run(c, t->run_id) : NULL;
	/* A run is finished when none of its tasks is pending, assigned or running; it says so
	 * once. Tasks added to it later (a CI job retried into the same run) or a final status
	 * reported again do not finish it a second time: the mark is in the run's document, so a
	 * restart keeps it. */
	if (run && core_run_done(run) && !json_object_get(run->doc, "finish_notified_at") &&
	    (wanted(c, NE_RUN_COMPLETED) || wanted(c, NE_RUN_FAILED))) {
		const char *state = dtf_testcount_state(&run->tests, false);
		bool failed = strcmp(state, "success") != 0 && strcmp(state, "empty") != 0;
		char line[256], ts[32];
		json_t *counts = json_object();
		int i;
		dtf_rfc3339(dtf_wall_ms(), ts);
		json_object_set_new(run->doc, "finish_notified_at", json_string(ts));
		if (state_save_run(c, run))
			log_warn("outbox: run %s: its finish was not marked: %s", run->id,
				 c->store->error);
		for (i = 0; i < DTF_TEST__COUNT; i++)
			if (run->tests.n[i])
				json_object_set_new(counts,
						    dtf_test_status_name((enum dtf_test_status)i),
						    json_integer(run->tests.n[i]));
		json_object_set_new(counts, "total", json_integer(run->tests.total));
		dtf_testcount_line(&run->tests, line, sizeof(line));
		ri = run_info(c, run->id);
		json_object_set_new(ri, "counts", counts);
		json_object_set_new(ri, "state", json_string(state));
		json_object_set_new(ri, "summary", json_string(line));
		snprintf(title, sizeof(title), "Run %s %s: %s", dtf_json_str(ri, "name", run->id),
			 failed ? "failed" : "passed", line);
		data = json_pack("{s:s,s:O}", "title", title, "run", ri);
		add_failed_tests(c, run, data);
		add_results(c, run, data);
		if (failed && wanted(c, NE_RUN_FAILED))
			emit(c, NE_RUN_FAILED, notify_event_severity(NE_RUN_FAILED),
			     json_deep_copy(data));
		if (wanted(c, NE_RUN_COMPLETED))
			emit(c, NE_RUN_COMPLETED,
			     failed ? NS_WARNING : notify_event_severity(NE_RUN_COMPLETED),
			     json_deep_copy(data));
		json_decref(ri);
		json_decref(data);
	}
}

void outbox_run_started(struct coord *c, const char *run_id)
{
	struct crun *run;
	char title[400];
	json_t *data, *ri;

	if (!wanted(c, NE_RUN_STARTED) || !(run = state_run(c, run_id)))
		return;
	ri = run_info(c, run_id);
	snprintf(title, sizeof(title), "Run %s started: %d task%s",
		 dtf_json_str(ri, "name", run_id), run->total, run->total == 1 ? "" : "s");
	json_object_set_new(ri, "tasks", json_integer(run->total));
	data = json_pack("{s:s,s:o}", "title", title, "run", ri);
	add_results(c, run, data); /* the tests it will run, pending */
	emit(c, NE_RUN_STARTED, notify_event_severity(NE_RUN_STARTED), data);
}

void outbox_worker_lost(struct coord *c, struct cworker *w, const char *why)
{
	char title[300];
	json_t *wv;

	if (!wanted(c, NE_WORKER_LOST))
		return;
	wv = json_pack("{s:s,s:O*}", "id", w->id, "hardware", w->hardware);
	snprintf(title, sizeof(title), "Worker %s lost: %s", w->id, why ? why : "");
	emit(c, NE_WORKER_LOST, notify_event_severity(NE_WORKER_LOST),
	     json_pack("{s:s,s:o,s:s}", "title", title, "worker", wv, "reason", why ? why : ""));
}

void outbox_hardware_blocked(struct coord *c, struct ctask *t, const json_t *blocked,
			     const char *why)
{
	char title[400], list[200] = "";
	size_t i;
	json_t *h;

	if (!wanted(c, NE_HARDWARE_BLOCKED) || json_array_size(blocked) == 0)
		return;
	json_array_foreach(blocked, i, h)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 json_string_value(h));
	snprintf(title, sizeof(title), "Hardware class %s blocked system-wide", list);
	emit(c, NE_HARDWARE_BLOCKED, notify_event_severity(NE_HARDWARE_BLOCKED),
	     json_pack("{s:s,s:O,s:o,s:s}", "title", title, "hardware", blocked, "test",
		       task_info(c, t), "reason", why ? why : ""));
}

void outbox_recovery_escalated(struct coord *c, struct ctask *t, int level, const char *strategy,
			       const char *why)
{
	char title[400];
	json_t *ti, *data, *ri;

	if (!wanted(c, NE_RECOVERY_ESCALATED))
		return;
	ti = task_info(c, t);
	snprintf(title, sizeof(title), "Recovery of %s escalated to %s (level %d)",
		 dtf_json_str(ti, "name", t->id), strategy, level);
	data = json_pack("{s:s,s:o,s:{s:i,s:s,s:s}}", "title", title, "test", ti, "recovery",
			 "level", level, "strategy", strategy, "reason", why ? why : "");
	ri = run_info(c, t->run_id);
	if (ri)
		json_object_set_new(data, "run", ri);
	emit(c, NE_RECOVERY_ESCALATED, notify_event_severity(NE_RECOVERY_ESCALATED), data);
}

/* ---- sending ---- */

static double rate_of(const struct outbox *ob, const struct ob_entry *e)
{
	double r = e->route >= 0 ? ob->cfg->routes[e->route].per_minute : 0;

	return r > 0 ? r : notify_channel_rate(ob->cfg->channels[e->channel]);
}

static int64_t *next_ok(struct outbox *ob, const struct ob_entry *e)
{
	return &ob->next_ok[e->route >= 0 ? e->route : NOTIFY_MAX_ROUTES][e->channel];
}

static bool same_stream(const struct ob_entry *a, const struct ob_entry *b)
{
	return a->route == b->route && a->channel == b->channel;
}

/* The context of a message that merges n entries (first is the oldest). */
static json_t *merged_data(struct outbox *ob, struct ob_entry **es, size_t n)
{
	json_t *data = json_object(), *items = json_array(), *tests = json_array(),
	       *ids = json_array(), *events = json_object();
	const json_t *run = json_object_get(es[0]->data, "run");
	enum notify_severity sev = NS_INFO;
	size_t i, ntests = 0;
	char title[400], ts[32];
	bool one_run = run != NULL, all_failed = true;

	for (i = 0; i < n; i++) {
		const json_t *r = json_object_get(es[i]->data, "run");
		const json_t *t = json_object_get(es[i]->data, "tests");
		const char *evn = notify_event_name(es[i]->event);
		size_t j;
		json_t *tv;
		if (es[i]->sev > sev)
			sev = es[i]->sev;
		if (!r || !run ||
		    !json_equal((json_t *)json_object_get(r, "id"),
				(json_t *)json_object_get(run, "id")))
			one_run = false;
		if (es[i]->event != NE_TASK_FAILED)
			all_failed = false;
		json_object_set_new(events, evn, json_integer(dtf_json_int(events, evn, 0) + 1));
		if (i < MERGE_LIST)
			json_array_append(items, es[i]->data);
		json_array_foreach(t, j, tv) {
			if (ntests++ < MERGE_LIST)
				json_array_append(tests, tv);
		}
		json_array_append_new(ids, json_string(es[i]->id));
	}
	if (all_failed)
		snprintf(title, sizeof(title), "%zu tests failed%s%s", n, one_run ? " in run " : "",
			 one_run ? dtf_json_str(run, "name", "") : "");
	else
		snprintf(title, sizeof(title), "%zu notifications%s%s", n,
			 one_run ? " for run " : "", one_run ? dtf_json_str(run, "name", "") : "");
	dtf_rfc3339(dtf_wall_ms(), ts);
	json_object_set_new(data, "event", json_string("grouped"));
	json_object_set_new(data, "severity", json_string(notify_severity_name(sev)));
	json_object_set_new(data, "title", json_string(title));
	json_object_set_new(data, "time", json_string(ts));
	json_object_set_new(data, "count", json_integer((json_int_t)n));
	json_object_set_new(data, "events", events);
	json_object_set_new(data, "items", items);
	json_object_set_new(data, "tests", tests);
	json_object_set_new(
	    data, "more",
	    json_integer(ntests > MERGE_LIST ? (json_int_t)(ntests - MERGE_LIST) : 0));
	json_object_set_new(data, "ids", ids);
	if (one_run)
		json_object_set(data, "run", (json_t *)run);
	(void)ob;
	return data;
}

void outbox_take(struct coord *c, int64_t now, struct outbox_batch *b, int64_t *next_ms)
{
	struct outbox *ob = c->outbox;
	struct ob_entry *e, *o, **es = NULL;
	int64_t next = 0;
	bool one_only = false;

	memset(b, 0, sizeof(*b));
	*next_ms = 0;
	if (!ob || ob->held)
		return;
	es = malloc(OUTBOX_MAX_GROUP * sizeof(*es));
	if (!es)
		return;
	for (e = ob->head; e && b->n < OUTBOX_BATCH; e = e->next) {
		struct outbox_send *s;
		int64_t *ok;
		size_t n = 0, backlog = 0;
		double rate;
		if (e->state != OB_PENDING || e->inflight)
			continue;
		if (e->due_ms > now && !(ob->flushing && e->tries == 0)) {
			if (!next || e->due_ms < next)
				next = e->due_ms;
			continue;
		}
		ok = next_ok(ob, e);
		if (*ok > now) {
			if (!next || *ok < next)
				next = *ok;
			continue;
		}
		if (notify_channel_no_dedupe(ob->cfg->channels[e->channel])) {
			/* No idempotency key: sent alone, its outcome stored before the next. */
			if (b->n > 0) {
				next = now;
				continue;
			}
			one_only = true;
		}
		rate = rate_of(ob, e);
		es[n++] = e;
		if (e->group[0]) {
			/* The whole group goes in one message. */
			for (o = e->next; o && n < OUTBOX_MAX_GROUP; o = o->next)
				if (o->state == OB_PENDING && !o->inflight && same_stream(o, e) &&
				    strcmp(o->group, e->group) == 0)
					es[n++] = o;
		} else {
			/* Ungrouped messages go one by one while the rate allows; a backlog of
			 * more than ten seconds' worth is merged instead of queued behind it. */
			for (o = e->next; o; o = o->next)
				if (o->state == OB_PENDING && !o->inflight && same_stream(o, e) &&
				    !o->group[0] && o->due_ms <= now)
					backlog++;
			if ((double)backlog > rate / 6)
				for (o = e->next; o && n < OUTBOX_MAX_GROUP; o = o->next)
					if (o->state == OB_PENDING && !o->inflight &&
					    same_stream(o, e) && !o->group[0] && o->due_ms <= now)
						es[n++] = o;
		}
		*ok = now + (int64_t)(60000.0 / (rate > 0 ? rate : 60));
		s = &b->items[b->n++];
		memset(s, 0, sizeof(*s));
		s->channel = e->channel;
		s->ch = ob->cfg->channels[e->channel];
		s->seqs = malloc(n * sizeof(*s->seqs));
		if (!s->seqs) {
			b->n--;
			break;
		}
		for (s->nseqs = 0; s->nseqs < n; s->nseqs++) {
			s->seqs[s->nseqs] = es[s->nseqs]->seq;
			es[s->nseqs]->inflight = true;
		}
		if (n == 1) {
			s->data = json_incref(e->data);
			snprintf(s->event, sizeof(s->event), "%s", notify_event_name(e->event));
			snprintf(s->severity, sizeof(s->severity), "%s",
				 notify_severity_name(e->sev));
		} else {
			s->data = merged_data(ob, es, n);
			snprintf(s->event, sizeof(s->event), "grouped");
			snprintf(s->severity, sizeof(s->severity), "%s",
				 dtf_json_str(s->data, "severity", "info"));
		}
		/* The oldest entry's id: the same message after a restart has the same key. */
		snprintf(s->key, sizeof(s->key), "dtf-%s", e->id);
		s->tpl = e->route >= 0 && ob->cfg->routes[e->route].tpl >= 0
			     ? ob->cfg->templates[ob->cfg->routes[e->route].tpl]
			     : NULL;
		snprintf(s->run_id, sizeof(s->run_id), "%s",
			 dtf_json_str(json_object_get(s->data, "run"), "id", ""));
		if (s->run_id[0]) {
			char rk[200];
			const char *ref;
			snprintf(rk, sizeof(rk), "%s/%s", notify_channel_name(s->ch), s->run_id);
			ref = dtf_hmap_get(&ob->refs, rk);
			snprintf(s->ref, sizeof(s->ref), "%s", ref ? ref : "");
		}
		if (one_only) {
			/* Recorded as being sent before the call: a crash during it sends this
			 * message again after the restart, and no other. */
			bool began = txn_begin(c) == 0;
			for (size_t k = 0; k < s->nseqs; k++) {
				es[k]->sending = true;
				save(c, es[k]);
			}
			if (began && txn_commit_now(c))
				log_error("outbox: cannot store that %s is being sent: %s", s->key,
					  c->store->error);
			next = now;
			break;
		}
	}
	/* Entries not looked at (the batch filled up) are due now. */
	if (e && b->n == OUTBOX_BATCH)
		next = now;
	free(es);
	*next_ms = next;
}

void outbox_send(struct outbox_send *s)
{
	struct notify_message m = {.event = s->event,
				   .severity = s->severity,
				   .key = s->key,
				   .data = s->data,
				   .tpl = s->tpl,
				   .ref = s->ref[0] ? s->ref : NULL};

	memset(&s->res, 0, sizeof(s->res));
	s->rc = notify_send(s->ch, &m, &s->res);
	if (s->rc && !s->res.error[0])
		snprintf(s->res.error, sizeof(s->res.error), "%s: %s", notify_channel_name(s->ch),
			 dtf_strerror(s->rc));
}

static double jitter(struct outbox *ob)
{
	ob->rng ^= ob->rng << 13;
	ob->rng ^= ob->rng >> 7;
	ob->rng ^= ob->rng << 17;
	return 0.75 + 0.5 * (double)(ob->rng >> 11) / (double)(1ull << 53);
}

void outbox_done(struct coord *c, int64_t now, struct outbox_batch *b)
{
	struct outbox *ob = c->outbox;
	size_t i, j;
	bool began;

	if (!ob)
		return;
	began = txn_begin(c) == 0;
	for (i = 0; i < b->n; i++) {
		struct outbox_send *s = &b->items[i];
		int tries = 0;
		bool dead = false, was_dead_letter = false;
		for (j = 0; j < s->nseqs; j++) {
			char id[32];
			struct ob_entry *e;
			snprintf(id, sizeof(id), "n-%lld", (long long)s->seqs[j]);
			e = dtf_hmap_get(&ob->by_id, id);
			if (e && e->tries + 1 > tries)
				tries = e->tries + 1;
		}
		if (s->rc) {
			dead = !s->res.retry || tries >= ob->cfg->max_tries;
			if (dead)
				ob->dead[s->channel]++;
			else
				ob->retried[s->channel]++;
		} else {
			ob->sent[s->channel]++;
			if (s->run_id[0] && s->res.ref[0] && strcmp(s->res.ref, s->ref) != 0) {
				char rk[200], id[240];
				json_t *doc = json_pack("{s:s}", "ref", s->res.ref);
				snprintf(rk, sizeof(rk), "%s/%s", notify_channel_name(s->ch),
					 s->run_id);
				snprintf(id, sizeof(id), REF_PREFIX "%s", rk);
				set_ref(ob, rk, s->res.ref);
				if (doc && dtf_hmap_get(&ob->refs, rk))
					c->store->ops->put_outbox(c->store, id, 0, doc);
				json_decref(doc);
			}
		}
		for (j = 0; j < s->nseqs; j++) {
			char id[32];
			struct ob_entry *e;
			snprintf(id, sizeof(id), "n-%lld", (long long)s->seqs[j]);
			e = dtf_hmap_get(&ob->by_id, id);
			if (!e)
				continue;
			e->inflight = false;
			e->sending = false;
			e->tries = tries;
			snprintf(e->key, sizeof(e->key), "%s", s->key);
			if (!s->rc) {
				e->state = OB_SENT;
				e->done_ms = now;
				e->error[0] = '\0';
				snprintf(e->answer, sizeof(e->answer), "%s", s->res.answer);
				ob->nfinished++;
			} else if (dead) {
				e->state = OB_DEAD;
				e->done_ms = now;
				snprintf(e->error, sizeof(e->error), "%s", s->res.error);
				ob->nfinished++;
				if (e->event == NE_NOTIFICATION_DEAD)
					was_dead_letter = true;
			} else {
				double d = ob->cfg->backoff_s * pow(2, tries - 1) * jitter(ob);
				if (d > ob->cfg->max_backoff_s)
					d = ob->cfg->max_backoff_s;
				if ((double)s->res.retry_after_ms / 1000.0 > d)
					d = (double)s->res.retry_after_ms / 1000.0;
				if (d > 3600)
					d = 3600;
				e->due_ms = now + (int64_t)(d * 1000);
				snprintf(e->error, sizeof(e->error), "%s", s->res.error);
			}
			save(c, e);
		}
		if (s->rc)
			log_warn("notification %s to %s %s: %s", s->key, notify_channel_name(s->ch),
				 dead ? "given up (dead letter)" : "failed, will retry",
				 s->res.error);
		/* A dead letter is an event too, unless it is itself one (no loops). */
		if (dead && !was_dead_letter && wanted(c, NE_NOTIFICATION_DEAD)) {
			char title[400];
			snprintf(title, sizeof(title), "A notification to %s was given up on: %s",
				 notify_channel_name(s->ch), s->res.error);
			emit(c, NE_NOTIFICATION_DEAD, notify_event_severity(NE_NOTIFICATION_DEAD),
			     json_pack("{s:s,s:s,s:s,s:s,s:i,s:{s:s,s:O*}}", "title", title,
				       "channel", notify_channel_name(s->ch), "error", s->res.error,
				       "key", s->key, "tries", tries, "original", "event", s->event,
				       "title", json_object_get(s->data, "title")));
		}
		json_decref(s->data);
		free(s->seqs);
	}
	prune(c);
	if (began && txn_commit_now(c))
		log_error("outbox: the outcome of %zu sends was not stored: %s", b->n,
			  c->store->error);
	b->n = 0;
}

void outbox_wait(struct coord *c, int64_t deadline_ms)
{
	struct outbox *ob = c->outbox;
	struct timespec ts;
	int64_t now = dtf_wall_ms();

	if (!ob || ob->woken) {
		if (ob)
			ob->woken = false;
		return;
	}
	if (deadline_ms <= now)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (deadline_ms - now) / 1000;
	ts.tv_nsec += ((deadline_ms - now) % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&ob->cond, &c->lock, &ts);
	ob->woken = false;
}

void outbox_wake(struct coord *c)
{
	if (!c->outbox)
		return;
	c->outbox->woken = true;
	pthread_cond_signal(&c->outbox->cond);
}

void outbox_set_flushing(struct coord *c, bool on)
{
	if (!c->outbox)
		return;
	c->outbox->flushing = on;
	outbox_wake(c);
}

double outbox_flush_timeout(struct coord *c)
{
	return c->outbox ? c->outbox->cfg->flush_timeout_s : 0;
}

void outbox_hold(struct coord *c)
{
	if (c->outbox)
		c->outbox->held = true;
}

size_t outbox_inflight(struct coord *c)
{
	struct ob_entry *e;
	size_t n = 0;

	if (!c->outbox)
		return 0;
	for (e = c->outbox->head; e; e = e->next)
		n += e->inflight;
	return n;
}

size_t outbox_pending(struct coord *c)
{
	struct ob_entry *e;
	size_t n = 0;

	if (!c->outbox)
		return 0;
	for (e = c->outbox->head; e; e = e->next)
		n += e->state == OB_PENDING;
	return n;
}

/* ---- reading ---- */

json_t *outbox_list(struct coord *c, const char *state, size_t limit)
{
	struct outbox *ob = c->outbox;
	json_t *list, *out;
	struct ob_entry *e;
	size_t counts[3] = {0, 0, 0};

	if (!ob)
		return NULL;
	list = json_array();
	for (e = ob->tail; e; e = e->prev) {
		char ts[32];
		json_t *v;
		counts[e->state]++;
		if (state && strcmp(state, state_names[e->state]) != 0)
			continue;
		if (json_array_size(list) >= limit)
			continue;
		v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s}", "id", e->id, "event",
			      notify_event_name(e->event), "severity", notify_severity_name(e->sev),
			      "channel",
			      e->channel >= 0 ? notify_channel_name(ob->cfg->channels[e->channel])
					      : dtf_json_str(e->data, "channel_name", ""),
			      "state", state_names[e->state], "tries", e->tries, "title",
			      dtf_json_str(e->data, "title", ""));
		dtf_rfc3339(e->created_ms, ts);
		json_object_set_new(v, "created_at", json_string(ts));
		if (e->state == OB_PENDING) {
			dtf_rfc3339(e->due_ms, ts);
			json_object_set_new(v, "due_at", json_string(ts));
		} else {
			dtf_rfc3339(e->done_ms, ts);
			json_object_set_new(v, e->state == OB_SENT ? "sent_at" : "dead_at",
					    json_string(ts));
		}
		if (e->group[0])
			json_object_set_new(v, "group", json_string(e->group));
		if (e->key[0] && e->state != OB_PENDING)
			json_object_set_new(v, "key", json_string(e->key));
		if (e->error[0])
			json_object_set_new(v, "last_error", json_string(e->error));
		if (e->answer[0])
			json_object_set_new(v, "answer", json_string(e->answer));
		if (json_object_get(e->data, "run"))
			json_object_set_new(
			    v, "run_id",
			    json_string(dtf_json_str(json_object_get(e->data, "run"), "id", "")));
		json_array_append_new(list, v);
	}
	out = json_pack("{s:o,s:{s:I,s:I,s:I}}", "notifications", list, "counts", "pending",
			(json_int_t)counts[0], "sent", (json_int_t)counts[1], "dead",
			(json_int_t)counts[2]);
	return out;
}

void outbox_metrics(struct coord *c,
		    void (*fn)(void *arg, const char *channel, const char *type, uint64_t sent,
			       uint64_t retried, uint64_t dead, uint64_t pending),
		    void *arg)
{
	struct outbox *ob = c->outbox;
	uint64_t pending[NOTIFY_MAX_CHANNELS] = {0};
	struct ob_entry *e;
	size_t i;

	if (!ob)
		return;
	for (e = ob->head; e; e = e->next)
		if (e->state == OB_PENDING && e->channel >= 0)
			pending[e->channel]++;
	for (i = 0; i < ob->cfg->nchannels; i++)
		fn(arg, notify_channel_name(ob->cfg->channels[i]),
		   notify_channel_type(ob->cfg->channels[i]), ob->sent[i], ob->retried[i],
		   ob->dead[i], pending[i]);
}
