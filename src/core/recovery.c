/* recovery.c: the error classifier, the five recovery levels, the per-(class, strategy) history
 * kept in the store, quarantine of workers that fail what passes elsewhere, and system-wide
 * blocks of a hardware class. See recovery.h and docs/recovery.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/util.h"
#include "core/model.h"
#include "core/outbox.h"
#include "core/recovery.h"

/* How long a retry in place (or after an executor restart) waits for its worker once its backoff
 * has ended, before any worker may take it. */
#define REC_PIN_MS	  5000
#define REC_MAX_TIMEOUT_S 86400.0
#define BLOCKED_KEY	  "blocked_hardware"

static const char *const class_names[RC__COUNT] = {"timeout", "signal",	     "exit",
						   "oom",     "worker_lost", "infrastructure"};
static const char *const strategy_names[REC_LEVELS + 1] = {NULL,
							   "retry_in_place",
							   "retry_elsewhere",
							   "restart_executor",
							   "quarantine_worker",
							   "system_intervention"};

/* ---- pure helpers ---- */

bool recovery_classify(const char *kind, enum rec_class *out)
{
	static const struct {
		const char *kind;
		enum rec_class cls;
	} map[] = {
	    {"timeout", RC_TIMEOUT},
	    {"signal", RC_SIGNAL},
	    {"exit_code", RC_EXIT},
	    {"test_failures", RC_EXIT},
	    {"exit", RC_EXIT},
	    {"oom", RC_OOM},
	    {"worker_lost", RC_WORKER_LOST},
	    {"infrastructure", RC_INFRASTRUCTURE},
	    {"spawn", RC_INFRASTRUCTURE},
	};
	size_t i;

	if (!kind)
		return false;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(kind, map[i].kind) == 0) {
			*out = map[i].cls;
			return true;
		}
	return false;
}

const char *recovery_class_name(enum rec_class c)
{
	return (unsigned)c < RC__COUNT ? class_names[c] : "unknown";
}

bool recovery_class_parse(const char *name, enum rec_class *out)
{
	int i;

	for (i = 0; name && i < RC__COUNT; i++)
		if (strcmp(name, class_names[i]) == 0) {
			*out = (enum rec_class)i;
			return true;
		}
	return false;
}

const char *recovery_strategy_name(int level)
{
	return level >= 1 && level <= REC_LEVELS ? strategy_names[level] : NULL;
}

int recovery_strategy_parse(const char *name)
{
	int i;

	for (i = 1; name && i <= REC_LEVELS; i++)
		if (strcmp(name, strategy_names[i]) == 0)
			return i;
	return 0;
}

int recovery_min_level(enum rec_class c)
{
	return c == RC_WORKER_LOST || c == RC_INFRASTRUCTURE ? 2 : 1;
}

static double score(const struct rec_stat *s)
{
	return ((double)s->successes + 1.0) / ((double)s->attempts + 2.0);
}

int recovery_choose(const struct rec_history *h, enum rec_class c, int floor)
{
	int lo = floor < recovery_min_level(c) ? recovery_min_level(c) : floor;
	int best, l, hi;

	if (lo > REC_LEVELS)
		lo = REC_LEVELS;
	if ((unsigned)c >= RC__COUNT || !h)
		return lo;
	hi = lo < 3 ? lo + 1 : lo;
	best = lo;
	for (l = lo + 1; l <= hi; l++)
		if (score(&h->s[c][l]) > score(&h->s[c][best]) + 1e-12)
			best = l;
	return best;
}

bool recovery_adjust(json_t *doc, enum rec_class c, double max_timeout_s, double max_memory)
{
	if (c == RC_TIMEOUT) {
		double t = dtf_json_num(doc, "timeout_s", 0), n;
		if (t <= 0)
			return false;
		n = t * 2;
		if (max_timeout_s > 0 && n > max_timeout_s)
			n = max_timeout_s;
		if (n <= t)
			return false;
		json_object_set_new(doc, "timeout_s", json_real(n));
		return true;
	}
	if (c == RC_OOM) {
		json_t *req = json_object_get(doc, "requirements");
		double m = dtf_json_num(req, "memory", 0), n;
		if (m <= 0)
			return false;
		n = m * 1.5;
		if (max_memory > 0 && n > max_memory)
			n = max_memory;
		if (n <= m)
			return false;
		json_object_set_new(req, "memory", json_real(n));
		return true;
	}
	return false;
}

bool recovery_should_quarantine(int strikes, int threshold)
{
	return threshold > 0 && strikes >= threshold;
}

/* ---- the history in the store ---- */

static void stat_key(char *key, size_t len, enum rec_class c, int level)
{
	snprintf(key, len, "history/%s/%s", class_names[c], strategy_names[level]);
}

static void save_stat(struct coord *c, enum rec_class cls, int level)
{
	const struct rec_stat *s = &c->rhist->s[cls][level];
	char key[96];
	json_t *doc;

	if (!c->store->ops->put_recovery)
		return;
	stat_key(key, sizeof(key), cls, level);
	doc = json_pack("{s:s,s:s,s:I,s:I,s:f}", "class", class_names[cls], "strategy",
			strategy_names[level], "attempts", (json_int_t)s->attempts, "successes",
			(json_int_t)s->successes, "recover_ms_total", s->recover_ms_total);
	c->store->ops->put_recovery(c->store, key, doc);
	json_decref(doc);
}

static void save_blocked(struct coord *c)
{
	if (c->store->ops->put_recovery)
		c->store->ops->put_recovery(c->store, BLOCKED_KEY, c->blocked_hw);
}

static int load_cb(void *arg, const char *key, json_t *doc)
{
	struct coord *c = arg;
	enum rec_class cls;
	int level;

	if (strcmp(key, BLOCKED_KEY) == 0) {
		if (json_is_object(doc))
			json_object_update(c->blocked_hw, doc);
		return 0;
	}
	if (!recovery_class_parse(dtf_json_str(doc, "class", ""), &cls))
		return 0;
	level = recovery_strategy_parse(dtf_json_str(doc, "strategy", ""));
	if (!level)
		return 0;
	c->rhist->s[cls][level].attempts = (uint64_t)dtf_json_int(doc, "attempts", 0);
	c->rhist->s[cls][level].successes = (uint64_t)dtf_json_int(doc, "successes", 0);
	c->rhist->s[cls][level].recover_ms_total = dtf_json_num(doc, "recover_ms_total", 0);
	return 0;
}

int recovery_load(struct coord *c)
{
	if (!c->rhist)
		c->rhist = calloc(1, sizeof(*c->rhist));
	if (!c->blocked_hw)
		c->blocked_hw = json_object();
	if (!c->rhist || !c->blocked_hw)
		return -1;
	if (!c->store->ops->load_recovery)
		return 0;
	return c->store->ops->load_recovery(c->store, load_cb, c);
}

/* ---- events and hooks ---- */

static void announce(struct coord *c, enum dtf_hook hook, json_t *ev)
{
	static const char *const names[] = {"started", "completed", "failed"};
	int i = hook == DTF_HOOK_RECOVERY_STARTED ? 0 : hook == DTF_HOOK_RECOVERY_COMPLETED ? 1 : 2;

	if (c->events) {
		json_t *e = json_copy(ev);
		struct ctask *t = dtf_hmap_get(&c->tasks, dtf_json_str(ev, "task_id", ""));
		json_object_set_new(e, "phase", json_string(names[i]));
		dtf_events_publish(c->events, "recovery", dtf_json_str(ev, "run_id", NULL),
				   t ? t->sx.project : "", e);
		json_decref(e);
	}
	if (dtf_plugins_subscribed(c->plugins, hook))
		dtf_plugins_fire(c->plugins, hook, ev);
}

static json_t *task_event(struct ctask *t, int level, const char *kind, const char *why)
{
	json_t *ev = json_pack("{s:i,s:s,s:s,s:s,s:i,s:i}", "level", level, "strategy",
			       level ? strategy_names[level] : "none", "task_id", t->id, "name",
			       dtf_json_str(task_doc(t), "name", ""), "attempt", t->attempt,
			       "retries_used", t->retries_used);

	if (t->run_id[0])
		json_object_set_new(ev, "run_id", json_string(t->run_id));
	if (t->worker_id[0])
		json_object_set_new(ev, "worker_id", json_string(t->worker_id));
	if (kind || why)
		json_object_set_new(
		    ev, "error",
		    json_pack("{s:s,s:s}", "kind", kind ? kind : "", "message", why ? why : ""));
	return ev;
}

/* ---- quarantine ---- */

void recovery_worker_sync(struct cworker *w)
{
	char ts[32];

	if (!w->quarantined) {
		json_object_del(w->doc, "quarantined");
		json_object_del(w->doc, "quarantine");
		return;
	}
	json_object_set_new(w->doc, "quarantined", json_true());
	dtf_rfc3339(w->quarantine_until_ms, ts);
	json_object_set_new(w->doc, "quarantine",
			    json_pack("{s:s,s:s,s:I}", "until", ts, "reason", w->quarantine_reason,
				      "until_ms", (json_int_t)w->quarantine_until_ms));
	if (w->status != WS_LOST)
		json_object_set_new(w->doc, "status", json_string("quarantined"));
}

void recovery_worker_load(struct cworker *w)
{
	json_t *q = json_object_get(w->doc, "quarantine");

	if (!json_is_true(json_object_get(w->doc, "quarantined")) || !json_is_object(q))
		return;
	w->quarantined = true;
	w->quarantine_until_ms = dtf_json_int(q, "until_ms", 0);
	snprintf(w->quarantine_reason, sizeof(w->quarantine_reason), "%s",
		 dtf_json_str(q, "reason", ""));
}

static void fire_worker(struct coord *c, struct cworker *w, enum dtf_hook hook)
{
	json_t *wv;

	if (!dtf_plugins_subscribed(c->plugins, hook))
		return;
	wv = state_worker_view(w);
	dtf_plugins_fire(c->plugins, hook, wv);
	json_decref(wv);
}

/* Quarantines w and requeues its work, except skip (the task being recovered, requeued by its
 * caller). */
static void quarantine(struct coord *c, struct cworker *w, const char *reason, double duration_s,
		       struct ctask *skip)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (duration_s <= 0)
		duration_s = c->cfg.quarantine_s > 0 ? c->cfg.quarantine_s : 600;
	w->quarantined = true;
	w->quarantine_until_ms = dtf_wall_ms() + (int64_t)(duration_s * 1000);
	c->quarantine_check_ms = 0;
	snprintf(w->quarantine_reason, sizeof(w->quarantine_reason), "%s", reason);
	c->m_quarantines++;
	log_warn("worker %s quarantined for %.0f s: %s", w->id, duration_s, reason);
	lease_end(c, w, 0, NULL, NULL);
	if (w->active > 0) {
		while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
			struct ctask *t = v;
			if (t != skip && (t->status == TS_ASSIGNED || t->status == TS_RUNNING) &&
			    strcmp(t->worker_id, w->id) == 0) {
				json_array_append_new(w->cancel, json_string(t->id));
				state_requeue(c, t, "quarantined", "its worker was quarantined",
					      RQ_FREE);
			}
		}
	}
	state_save_worker(c, w);
	state_publish_worker(c, w);
	fire_worker(c, w, DTF_HOOK_WORKER_FAILED);
}

void recovery_quarantine(struct coord *c, struct cworker *w, const char *reason, double duration_s)
{
	quarantine(c, w, reason, duration_s, NULL);
}

void recovery_unquarantine(struct coord *c, struct cworker *w, const char *why)
{
	if (!w->quarantined)
		return;
	w->quarantined = false;
	w->strikes = 0;
	log_info("worker %s leaves quarantine: %s", w->id, why);
	json_object_set_new(w->doc, "status", json_string("idle"));
	state_save_worker(c, w);
	state_publish_worker(c, w);
	fire_worker(c, w, DTF_HOOK_WORKER_RECOVERED);
}

void recovery_tick(struct coord *c)
{
	int64_t now = dtf_wall_ms(), next = INT64_MAX;
	size_t pos = 0;
	const char *k;
	void *v;
	bool began = false;

	/* A walk over every worker only when a quarantine can have ended (10,000 workers: half a
	 * millisecond under the core's lock, ten times a second). */
	if (c->quarantine_check_ms && now < c->quarantine_check_ms)
		return;
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		if (!w->quarantined)
			continue;
		if (now < w->quarantine_until_ms) {
			if (w->quarantine_until_ms < next)
				next = w->quarantine_until_ms;
			continue;
		}
		if (!began && txn_begin(c) != 0)
			return;
		began = true;
		recovery_unquarantine(c, w, "its quarantine time is over");
	}
	c->quarantine_check_ms = next;
	if (began) {
		txn_commit(c);
		lease_wake(c);
	}
}

/* ---- scheduling ---- */

static bool has_id(const json_t *list, const char *id)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), id) == 0)
			return true;
	return false;
}

static bool task_blocked(struct coord *c, const struct ctask *t)
{
	size_t i, blocked = 0;
	json_t *e;

	json_array_foreach(t->hw_all, i, e)
		if (json_object_get(c->blocked_hw, json_string_value(e)))
			return true;
	json_array_foreach(t->hw_any, i, e)
		if (json_object_get(c->blocked_hw, json_string_value(e)))
			blocked++;
	return blocked > 0 && blocked == json_array_size(t->hw_any);
}

/* True if a live worker other than the excluded ones could run t. */
static bool other_worker(struct coord *c, const struct ctask *t, const json_t *exclude)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		if (w->status != WS_LOST && !w->quarantined && !has_id(exclude, w->id) &&
		    lease_could_run(t, w))
			return true;
	}
	return false;
}

bool recovery_allows(struct coord *c, const struct ctask *t, const struct cworker *w)
{
	const char *pin;
	json_t *exclude;

	if (w->quarantined)
		return false;
	if (json_object_size(c->blocked_hw) && task_blocked(c, t))
		return false;
	if (!t->rec)
		return true;
	pin = dtf_json_str(t->rec, "pin", NULL);
	if (pin && t->pinned && dtf_mono_ms() < t->sx.not_before_ms + REC_PIN_MS &&
	    strcmp(pin, w->id) != 0)
		return false;
	exclude = json_object_get(t->rec, "exclude");
	/* An exclusion is a preference: with no other worker able to run it, the task still runs.
	 */
	if (has_id(exclude, w->id) && other_worker(c, t, exclude))
		return false;
	return true;
}

bool recovery_pending_reason(struct coord *c, const struct ctask *t, char *why, size_t len)
{
	const char *pin, *hw = "?";
	json_t *lists[2] = {t->hw_all, t->hw_any}, *e;
	size_t i;
	int l;

	if (json_object_size(c->blocked_hw) && task_blocked(c, t)) {
		for (l = 1; l >= 0; l--)
			json_array_foreach(lists[l], i, e)
				if (json_object_get(c->blocked_hw, json_string_value(e)))
					hw = json_string_value(e);
		snprintf(
		    why, len,
		    "its hardware class '%s' is blocked system-wide by error recovery (lift it "
		    "with POST /api/v1/recovery/unblock)",
		    hw);
		return true;
	}
	pin = t->rec ? dtf_json_str(t->rec, "pin", NULL) : NULL;
	if (pin && t->pinned && dtf_mono_ms() < t->sx.not_before_ms + REC_PIN_MS) {
		snprintf(why, len, "held for worker '%s' for a retry in place", pin);
		return true;
	}
	{
		size_t pos = 0, capable = 0, quarantined = 0;
		const char *k;
		void *v;
		while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
			struct cworker *w = v;
			if (w->status == WS_LOST || !lease_could_run(t, w))
				continue;
			capable++;
			quarantined += w->quarantined;
		}
		if (capable && quarantined == capable) {
			snprintf(why, len,
				 "every worker that can run it (%zu) is quarantined (DELETE "
				 "/api/v1/workers/{id}/quarantine lifts it)",
				 capable);
			return true;
		}
	}
	return false;
}

/* ---- the levels ---- */

static double max_worker_memory(struct coord *c)
{
	size_t pos = 0;
	const char *k;
	void *v;
	double m = 0;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		if (w->status != WS_LOST && !w->quarantined && w->memory > m)
			m = w->memory;
	}
	return m;
}

static void exclude_worker(json_t *rec, const char *id)
{
	json_t *ex = json_object_get(rec, "exclude");

	if (!id[0])
		return;
	if (!json_is_array(ex)) {
		ex = json_array();
		json_object_set_new(rec, "exclude", ex);
	}
	if (!has_id(ex, id) && json_array_size(ex) < 64)
		json_array_append_new(ex, json_string(id));
}

static void block_hardware(struct coord *c, struct ctask *t, const char *why, json_t *blocked)
{
	json_t *lists[2] = {t->hw_all, t->hw_any}, *e;
	size_t i;
	int l;
	char ts[32];

	dtf_rfc3339(dtf_wall_ms(), ts);
	for (l = 0; l < 2; l++)
		json_array_foreach(lists[l], i, e) {
			const char *hw = json_string_value(e);
			if (!hw || json_object_get(c->blocked_hw, hw))
				continue;
			json_object_set_new(c->blocked_hw, hw,
					    json_pack("{s:s,s:s,s:s}", "since", ts, "task_id",
						      t->id, "reason", why ? why : ""));
			json_array_append_new(blocked, json_string(hw));
			log_error(
			    "system-wide intervention: hardware class '%s' blocked (task %s: %s)",
			    hw, t->id, why ? why : "");
		}
	save_blocked(c);
}

static void apply_level(struct coord *c, struct ctask *t, int level, enum rec_class cls,
			json_t *rec, const char *why)
{
	struct cworker *w = t->worker_id[0] ? dtf_hmap_get(&c->workers, t->worker_id) : NULL;
	char reason[160];

	/* The pin window runs from the end of the backoff (set later), at the earliest from now. */
	if (t->sx.not_before_ms < dtf_mono_ms())
		t->sx.not_before_ms = dtf_mono_ms();
	/* From a restart of the worker's executors up: a person may want to know. */
	if (level >= 3)
		outbox_recovery_escalated(c, t, level, strategy_names[level], why);
	switch (level) {
	case 1:
		json_object_set_new(rec, "pin", json_string(t->worker_id));
		t->pinned = true;
		break;
	case 2:
		exclude_worker(rec, t->worker_id);
		if (recovery_adjust(task_doc(t), cls, REC_MAX_TIMEOUT_S, max_worker_memory(c))) {
			json_t *req = json_object_get(task_doc(t), "requirements");
			t->sx.memory = dtf_json_num(req, "memory", 0);
			json_object_set_new(rec, "adjusted", json_true());
		}
		break;
	case 3:
		if (w && w->status != WS_LOST) {
			w->restart_executor = true;
			json_object_set_new(rec, "pin", json_string(t->worker_id));
			t->pinned = true;
		} else {
			exclude_worker(rec, t->worker_id);
		}
		break;
	case 4:
		exclude_worker(rec, t->worker_id);
		if (w && !w->quarantined) {
			snprintf(reason, sizeof(reason), "recovery of task %s (%s): %s", t->id,
				 class_names[cls], why ? why : "");
			quarantine(c, w, reason, 0, t);
		}
		break;
	default: {
		json_t *blocked = json_array(), *note;
		exclude_worker(rec, t->worker_id);
		block_hardware(c, t, why, blocked);
		json_object_set(rec, "blocked_hardware", blocked);
		outbox_hardware_blocked(c, t, blocked, why);
		note = json_pack("{s:s,s:s,s:s,s:O,s:s}", "task_id", t->id, "class",
				 class_names[cls], "worker_id", t->worker_id, "blocked_hardware",
				 blocked, "message", why ? why : "");
		dtf_plugins_fire_custom(c->plugins, "system_intervention", note);
		if (c->events)
			dtf_events_publish(c->events, "intervention",
					   t->run_id[0] ? t->run_id : NULL, t->sx.project, note);
		json_decref(note);
		json_decref(blocked);
		break;
	}
	}
}

void recovery_on_failure(struct coord *c, struct ctask *t, const char *kind, const char *why,
			 bool final)
{
	json_t *rec = json_object_get(task_doc(t), "recovery"), *ev, *nrec, *ex;
	enum rec_class cls, prev_cls;
	int floor, level, prev_level = 0;

	if (!c->rhist || !recovery_classify(kind, &cls)) {
		/* Not an error the levels handle: the plain retry, announced at level 1. */
		if (t->max_retries > 0) {
			ev = task_event(t, 1, kind, why);
			json_object_set_new(ev, "strategy", json_string("retry"));
			announce(c, final ? DTF_HOOK_RECOVERY_FAILED : DTF_HOOK_RECOVERY_STARTED,
				 ev);
			json_decref(ev);
		}
		return;
	}
	if (json_is_object(rec)) {
		/* The strategy in progress did not work. */
		prev_level = recovery_strategy_parse(dtf_json_str(rec, "strategy", ""));
		if (prev_level && recovery_class_parse(dtf_json_str(rec, "class", ""), &prev_cls)) {
			c->rhist->s[prev_cls][prev_level].attempts++;
			save_stat(c, prev_cls, prev_level);
		}
	}
	if (final) {
		if (prev_level || t->max_retries > 0) {
			ev = task_event(t, prev_level, kind, why);
			json_object_set_new(ev, "class", json_string(class_names[cls]));
			announce(c, DTF_HOOK_RECOVERY_FAILED, ev);
			json_decref(ev);
			c->m_recoveries_failed++;
		}
		json_object_del(task_doc(t), "recovery");
		t->rec = NULL;
		t->pinned = false;
		return;
	}
	floor = prev_level ? prev_level + 1 : recovery_min_level(cls);
	if (floor > REC_LEVELS)
		floor = REC_LEVELS;
	level = recovery_choose(c->rhist, cls, floor);
	nrec = json_pack(
	    "{s:i,s:s,s:s,s:I,s:s}", "level", level, "strategy", strategy_names[level], "class",
	    class_names[cls], "started_ms",
	    (json_int_t)(json_is_object(rec) ? dtf_json_int(rec, "started_ms", 0) : dtf_wall_ms()),
	    "failed_on", t->worker_id);
	/* Workers excluded by earlier levels stay excluded. */
	ex = json_object_get(rec, "exclude");
	if (json_is_array(ex))
		json_object_set(nrec, "exclude", ex);
	t->pinned = false;
	apply_level(c, t, level, cls, nrec, why);
	json_object_set_new(task_doc(t), "recovery", nrec);
	t->rec = nrec;
	c->m_recoveries_started++;
	ev = task_event(t, level, kind, why);
	json_object_set_new(ev, "class", json_string(class_names[cls]));
	announce(c, DTF_HOOK_RECOVERY_STARTED, ev);
	json_decref(ev);
}

/* Failure kinds that say something about the worker that ran the attempt. */
static bool worker_fault(const char *kind)
{
	enum rec_class cls;

	return recovery_classify(kind, &cls) && cls != RC_WORKER_LOST;
}

void recovery_on_success(struct coord *c, struct ctask *t)
{
	json_t *rec = json_object_get(task_doc(t), "recovery");
	json_t *hist = json_object_get(task_doc(t), "history"), *a;
	struct cworker *me = t->worker_id[0] ? dtf_hmap_get(&c->workers, t->worker_id) : NULL;
	size_t i, j;

	if (json_is_object(rec) && c->rhist) {
		enum rec_class cls;
		int level = recovery_strategy_parse(dtf_json_str(rec, "strategy", ""));
		if (level && recovery_class_parse(dtf_json_str(rec, "class", ""), &cls)) {
			struct rec_stat *s = &c->rhist->s[cls][level];
			double ms = (double)(dtf_wall_ms() - dtf_json_int(rec, "started_ms", 0));
			json_t *ev = task_event(t, level, NULL, NULL);
			s->attempts++;
			s->successes++;
			s->recover_ms_total += ms > 0 ? ms : 0;
			save_stat(c, cls, level);
			json_object_set_new(ev, "class", json_string(class_names[cls]));
			json_object_set_new(ev, "time_to_recover_s", json_real(ms / 1000.0));
			announce(c, DTF_HOOK_RECOVERY_COMPLETED, ev);
			json_decref(ev);
			c->m_recoveries_completed++;
		}
	} else if (t->retries_used > 0 && t->max_retries > 0) {
		json_t *ev = task_event(t, 1, NULL, NULL);
		json_object_set_new(ev, "strategy", json_string("retry"));
		announce(c, DTF_HOOK_RECOVERY_COMPLETED, ev);
		json_decref(ev);
	}
	json_object_del(task_doc(t), "recovery");
	t->rec = NULL;
	t->pinned = false;

	/* Strikes: each other worker where this task failed by itself (once per worker). */
	if (me)
		me->strikes = 0;
	json_array_foreach(hist, i, a) {
		const char *wid = dtf_json_str(a, "worker_id", "");
		struct cworker *w;
		bool seen = false;
		json_t *b;
		if (strcmp(dtf_json_str(a, "outcome", ""), "requeued") != 0 ||
		    !worker_fault(dtf_json_str(a, "error_kind", NULL)) ||
		    strcmp(wid, t->worker_id) == 0)
			continue;
		json_array_foreach(hist, j, b) {
			if (j >= i)
				break;
			if (strcmp(dtf_json_str(b, "worker_id", ""), wid) == 0 &&
			    strcmp(dtf_json_str(b, "outcome", ""), "requeued") == 0 &&
			    worker_fault(dtf_json_str(b, "error_kind", NULL)))
				seen = true;
		}
		w = seen ? NULL : dtf_hmap_get(&c->workers, wid);
		if (!w || w->quarantined)
			continue;
		w->strikes++;
		json_object_set_new(w->doc, "strikes", json_integer(w->strikes));
		if (recovery_should_quarantine(w->strikes, c->cfg.quarantine_threshold)) {
			char reason[160];
			snprintf(reason, sizeof(reason),
				 "%d tasks failed here and then passed on another worker",
				 w->strikes);
			quarantine(c, w, reason, 0, NULL);
		} else {
			state_save_worker(c, w);
		}
	}
}

/* ---- API and metrics ---- */

bool recovery_unblock(struct coord *c, const char *hw)
{
	if (!json_object_get(c->blocked_hw, hw))
		return false;
	json_object_del(c->blocked_hw, hw);
	save_blocked(c);
	log_info("hardware class '%s' unblocked", hw);
	return true;
}

json_t *recovery_history_json(struct coord *c)
{
	json_t *list = json_array(), *q = json_array();
	size_t pos = 0;
	const char *k;
	void *v;
	int cls, l;

	for (cls = 0; cls < RC__COUNT; cls++)
		for (l = 1; l <= REC_LEVELS; l++) {
			const struct rec_stat *s = &c->rhist->s[cls][l];
			json_t *e;
			if (!s->attempts)
				continue;
			e = json_pack("{s:s,s:s,s:i,s:I,s:I,s:f}", "class", class_names[cls],
				      "strategy", strategy_names[l], "level", l, "attempts",
				      (json_int_t)s->attempts, "successes",
				      (json_int_t)s->successes, "success_rate",
				      (double)s->successes / (double)s->attempts);
			json_object_set_new(e, "mean_time_to_recover_s",
					    s->successes ? json_real(s->recover_ms_total /
								     (double)s->successes / 1000.0)
							 : json_null());
			json_array_append_new(list, e);
		}
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		char ts[32];
		if (!w->quarantined)
			continue;
		dtf_rfc3339(w->quarantine_until_ms, ts);
		json_array_append_new(q, json_pack("{s:s,s:s,s:s}", "id", w->id, "until", ts,
						   "reason", w->quarantine_reason));
	}
	return json_pack("{s:o,s:O,s:o}", "history", list, "blocked_hardware", c->blocked_hw,
			 "quarantined_workers", q);
}

int recovery_metrics(struct coord *c, struct dtf_prom *pm)
{
	static const char *const phases[] = {"started", "completed", "failed"};
	uint64_t by_phase[3] = {c->m_recoveries_started, c->m_recoveries_completed,
				c->m_recoveries_failed};
	size_t pos = 0, nq = 0;
	const char *k;
	void *v;
	int cls, l, i, which;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
		if (((struct cworker *)v)->quarantined)
			nq++;
	dtf_prom_single(pm, "dtf_workers_quarantined", DTF_PROM_GAUGE, "Workers in quarantine.",
			(double)nq);
	dtf_prom_single(pm, "dtf_quarantines_total", DTF_PROM_COUNTER, "Quarantines started.",
			(double)c->m_quarantines);
	dtf_prom_single(pm, "dtf_hardware_blocked", DTF_PROM_GAUGE,
			"Hardware classes blocked system-wide.",
			(double)json_object_size(c->blocked_hw));
	dtf_prom_family(pm, "dtf_recoveries_total", DTF_PROM_COUNTER, "Recoveries by phase.");
	for (i = 0; i < 3; i++)
		dtf_prom_sample(pm, NULL, DTF_PROM_LABELS("phase", phases[i]), (double)by_phase[i]);
	/* One family, then the other: each family's samples together. */
	for (which = 0; which < 2; which++) {
		if (which == 0)
			dtf_prom_family(pm, "dtf_recovery_attempts_total", DTF_PROM_COUNTER,
					"Recovery attempts by error class and strategy.");
		else
			dtf_prom_family(pm, "dtf_recovery_successes_total", DTF_PROM_COUNTER,
					"Recovery attempts that succeeded, by error class and "
					"strategy.");
		for (cls = 0; cls < RC__COUNT; cls++)
			for (l = 1; l <= REC_LEVELS; l++) {
				const struct rec_stat *s = &c->rhist->s[cls][l];
				if (!s->attempts)
					continue;
				dtf_prom_sample(pm, NULL,
						DTF_PROM_LABELS("class", class_names[cls],
								"strategy", strategy_names[l]),
						(double)(which ? s->successes : s->attempts));
			}
	}
	return dtf_prom_end(pm);
}
