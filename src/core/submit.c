/* submit.c: what clients change: submitting tasks (validated all before any is stored, stored
 * in one commit, undone whole if that fails), changing a pending task, cancelling one. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "core/model.h"
#include "core/outbox.h"

/* A task's or a run's name, in bytes: task.c's MAX_STR. */
#define MAX_NAME 4096u

static int store_error(struct core_err *e)
{
	return core_fail(e, DTF_ESTORE, "store_error",
			 "the change could not be committed; nothing was stored");
}

/* Gives task doc its project: the submitter's limit (refusing another, DTF_EDENIED), else its
 * run's (refusing another, DTF_EINVAL: a run's counts, summary and reports are of one project). */
static int stamp_project(struct coord *c, json_t *doc, size_t i, const char *rid, const char *limit,
			 struct core_err *e)
{
	const char *p = dtf_json_str(doc, "project", NULL);
	struct crun *run = rid ? state_run(c, rid) : NULL;
	const char *rp = run ? dtf_json_str(run->doc, "project", NULL) : NULL;

	if (limit && p && strcmp(p, limit) != 0)
		return core_fail(e, DTF_EDENIED, "forbidden",
				 "task %zu: this key may submit to project '%s' only", i, limit);
	if (limit)
		p = limit;
	if (rp && p && strcmp(p, rp) != 0)
		return core_fail(e, DTF_EINVAL, "invalid_task",
				 "task %zu: its project '%s' is not its run's ('%s')", i, p, rp);
	if (!p)
		p = rp;
	if (p && !json_object_get(doc, "project"))
		json_object_set_new(doc, "project", json_string(p));
	return 0;
}

int core_tasks_submit(struct coord *c, json_t *body, const char *project, json_t **reply,
		      struct core_err *e)
{
	json_t *list, *docs = NULL, *ids = NULL, *v;
	const char *run_id = NULL;
	struct crun *run = NULL;
	bool single = false, created_run = false;
	int64_t mark;
	size_t i, j;
	char err[512];
	int rc = 0;

	*reply = NULL;
	if (json_is_array(body)) {
		list = body;
	} else if (json_is_object(body) && json_is_array(json_object_get(body, "tasks"))) {
		list = json_object_get(body, "tasks");
		run_id = dtf_json_str(body, "run_id", NULL);
	} else if (json_is_object(body)) {
		list = NULL;
		single = true;
		run_id = dtf_json_str(body, "run_id", NULL);
	} else {
		rc = core_fail(e, DTF_EINVAL, "invalid_task",
			       "expected a task object, a list of tasks or {\"tasks\": [...]}");
		goto out;
	}
	if (list && json_array_size(list) > DTF_MAX_TASKS_PER_REQUEST) {
		rc = core_fail(e, DTF_ETOOBIG, "too_many_tasks", "at most %d tasks per request",
			       DTF_MAX_TASKS_PER_REQUEST);
		goto out;
	}
	{
		/* The run's name has the limit of a task's (docs/security.md, "Limits"). */
		json_t *rname = json_object_get(json_object_get(body, "run"), "name");
		if (json_is_string(rname) && json_string_length(rname) > MAX_NAME) {
			rc = core_fail(e, DTF_EINVAL, "invalid_run",
				       "field 'run.name' is too long: at most %u bytes (got %zu)",
				       MAX_NAME, json_string_length(rname));
			goto out;
		}
	}
	/* Validate everything before anything is stored. */
	docs = json_array();
	for (i = 0; i < (single ? 1 : json_array_size(list)); i++) {
		json_t *in = single ? body : json_array_get(list, i);
		json_t *doc =
		    task_normalize_ex(in, c->cfg.default_timeout_s,
				      dtf_plugins_task_types(c->plugins), err, sizeof(err));
		if (!doc) {
			const char *code = strncmp(err, DTF_CONSTRAINTS_ERR_PREFIX,
						   strlen(DTF_CONSTRAINTS_ERR_PREFIX)) == 0
					       ? "invalid_constraint"
					       : "invalid_task";
			if (single)
				rc = core_fail(e, DTF_EINVAL, code, "%s", err);
			else
				rc = core_fail(e, DTF_EINVAL, code, "task %zu: %s", i, err);
			goto out;
		}
		json_array_append_new(docs, doc);
	}
	if (!single && json_array_size(docs) == 0) {
		rc = core_fail(e, DTF_EINVAL, "invalid_task", "the task list is empty");
		goto out;
	}
	json_array_foreach(docs, i, v) {
		const char *id = dtf_json_str(v, "id", NULL);
		const char *rid = dtf_json_str(v, "run_id", run_id);
		if (id && dtf_hmap_get(&c->tasks, id)) {
			rc = core_fail(e, DTF_EEXISTS, "task_exists", "a task with id '%s' exists",
				       id);
			goto out;
		}
		for (j = 0; id && j < i; j++) {
			if (strcmp(dtf_json_str(json_array_get(docs, j), "id", ""), id) == 0) {
				rc = core_fail(e, DTF_EINVAL, "duplicate_id",
					       "tasks %zu and %zu have the same id '%s'", j, i, id);
				goto out;
			}
		}
		if (rid && !core_run_find(c, rid, project, e)) {
			rc = e->code;
			goto out;
		}
		rc = stamp_project(c, v, i, rid, project, e);
		if (rc)
			goto out;
	}
	if (txn_begin_alone(c)) {
		rc = store_error(e);
		goto out;
	}
	if (!single && !run_id) {
		json_t *rn = json_object_get(body, "run");
		run = core_run_new(c, dtf_json_str(rn, "name", NULL),
				   json_object_get(rn, "metadata"), project);
		if (!run || state_save_run(c, run)) {
			txn_rollback(c);
			rc = store_error(e);
			goto out;
		}
		created_run = true;
		run_id = run->id;
	}
	ids = json_array();
	json_array_foreach(docs, i, v) {
		char id[48], ts[32];
		struct ctask *t;
		const char *rid = dtf_json_str(v, "run_id", run_id);
		if (!json_object_get(v, "id")) {
			dtf_id_new("t-", id, sizeof(id));
			json_object_set_new(v, "id", json_string(id));
		}
		if (rid)
			json_object_set_new(v, "run_id", json_string(rid));
		dtf_rfc3339(dtf_wall_ms(), ts);
		json_object_set_new(v, "created_at", json_string(ts));
		json_object_set_new(v, "attempt", json_integer(0));
		t = state_add_task(c, json_incref(v), TS_PENDING);
		/* Stored, and kept as text while it waits in the queue (taskdoc.c). */
		if (!t || task_save_compact(c, t)) {
			rc = store_error(e);
			break;
		}
		json_array_append_new(ids, json_string(t->id));
	}
	/* A new run is news (run_started) in the same commit as its tasks. */
	mark = outbox_mark(c);
	if (created_run && json_array_size(ids) == json_array_size(docs))
		outbox_run_started(c, run_id);
	if (json_array_size(ids) != json_array_size(docs) || txn_commit_now(c)) {
		/* Undo the in-memory part too: nothing of this request is kept. */
		txn_rollback(c);
		outbox_undo(c, mark);
		json_array_foreach(ids, i, v) {
			struct ctask *t = dtf_hmap_get(&c->tasks, json_string_value(v));
			if (t)
				state_remove_task(c, t);
		}
		if (created_run) {
			struct crun *rr = dtf_hmap_del(&c->runs, run_id);
			if (rr) {
				json_decref(rr->doc);
				free(rr);
			}
		}
		rc = store_error(e);
		goto out;
	}
	c->m_submitted += json_array_size(ids);
	if (single) {
		struct ctask *t =
		    dtf_hmap_get(&c->tasks, json_string_value(json_array_get(ids, 0)));
		*reply = core_task_view(c, t);
	} else {
		*reply = json_pack("{s:s,s:O,s:i}", "run_id", run_id, "ids", ids, "count",
				   (int)json_array_size(ids));
	}
	lease_wake(c);
out:
	json_decref(ids);
	json_decref(docs);
	return rc;
}

int core_task_update(struct coord *c, const char *id, json_t *body, const char *project,
		     json_t **reply, struct core_err *e)
{
	json_t *v;
	struct ctask *t;
	const char *key;
	int rc = 0;

	*reply = NULL;
	/* Another project's task is unknown to a project-limited caller, before anything else. */
	if (project && !core_task_find(c, id, project, e))
		return e->code;
	if (!json_is_object(body))
		return core_fail(e, DTF_EINVAL, "invalid_update", "the update must be an object");
	json_object_foreach(body, key, v) {
		bool ok;
		if (strcmp(key, "name") == 0 && json_is_string(v) &&
		    json_string_length(v) > MAX_NAME)
			return core_fail(e, DTF_EINVAL, "invalid_update",
					 "field 'name' is too long: at most %u bytes (got %zu)",
					 MAX_NAME, json_string_length(v));
		ok = (strcmp(key, "priority") == 0 && json_is_integer(v) &&
		      json_integer_value(v) >= 1 && json_integer_value(v) <= 10) ||
		     (strcmp(key, "timeout_s") == 0 && json_is_number(v) &&
		      json_number_value(v) > 0) ||
		     ((strcmp(key, "max_retries") == 0 || strcmp(key, "max_requeues") == 0) &&
		      json_is_integer(v) && json_integer_value(v) >= 0 &&
		      json_integer_value(v) <= 100) ||
		     (strcmp(key, "params") == 0 && json_is_object(v)) ||
		     (strcmp(key, "name") == 0 && json_is_string(v));
		if (!ok)
			return core_fail(e, DTF_EINVAL, "invalid_update",
					 "field '%s' cannot be set to that (priority 1-10, "
					 "timeout_s > 0, max_retries and max_requeues 0-100, "
					 "params, name)",
					 key);
	}
	t = dtf_hmap_get(&c->tasks, id);
	if (!t) {
		rc = core_fail(e, DTF_ENOTFOUND, "task_not_found", "no task with id '%s'", id);
	} else if (t->status != TS_PENDING) {
		rc = core_fail(e, DTF_ESTATE, "not_pending",
			       "task '%s' is %s; only pending tasks change", t->id,
			       task_status_name(t->status));
	} else {
		json_t *old = json_deep_copy(task_doc(t));
		bool queued = t->queued;
		if (queued)
			state_unqueue(c, t);
		json_object_update(task_doc(t), body);
		t->sx.priority = (int)dtf_json_int(task_doc(t), "priority", 5);
		t->max_retries = (int)dtf_json_int(task_doc(t), "max_retries", 0);
		t->max_requeues = (int)dtf_json_int(task_doc(t), "max_requeues", t->max_requeues);
		lease_index_task(c, t); /* its priority or name may have changed */
		if (queued)
			state_queue(c, t);
		if (txn_begin(c) || state_save_task(c, t) || txn_commit(c)) {
			if (queued)
				state_unqueue(c, t);
			json_object_update(task_doc(t), old);
			t->sx.priority = (int)dtf_json_int(task_doc(t), "priority", 5);
			t->max_retries = (int)dtf_json_int(task_doc(t), "max_retries", 0);
			t->max_requeues =
			    (int)dtf_json_int(task_doc(t), "max_requeues", t->max_requeues);
			lease_index_task(c, t);
			if (queued)
				state_queue(c, t);
			rc = store_error(e);
		} else {
			*reply = core_task_view(c, t);
			lease_wake(c);
		}
		json_decref(old);
	}
	return rc;
}

int core_task_cancel(struct coord *c, const char *id, const char *kind, const char *project,
		     json_t **reply, struct core_err *e)
{
	struct ctask *t = id ? dtf_hmap_get(&c->tasks, id) : NULL;
	int rc = 0;

	*reply = NULL;
	if (strcmp(kind, "unschedulable") != 0)
		kind = "cancelled";
	if (t && !core_task_in(t, project))
		t = NULL; /* another project's task is unknown to a project-limited caller */
	if (!t) {
		rc = core_fail(e, DTF_ENOTFOUND, "task_not_found", "no task with id '%s'",
			       id ? id : "");
	} else if (task_is_final(t->status)) {
		rc = core_fail(e, DTF_ESTATE, "already_finished", "task '%s' already %s", t->id,
			       task_status_name(t->status));
	} else {
		char why[512];
		struct cworker *holder = NULL;
		if (strcmp(kind, "unschedulable") == 0 &&
		    !(t->status == TS_PENDING && lease_pending_reason(c, t, why, sizeof(why)))) {
			rc = core_fail(e, DTF_ESTATE, "schedulable",
				       "task '%s' can still run somewhere", t->id);
			goto out;
		}
		if (strcmp(kind, "unschedulable") != 0)
			snprintf(why, sizeof(why), "cancelled by request");
		if (t->status == TS_ASSIGNED || t->status == TS_RUNNING) {
			struct cworker *w = dtf_hmap_get(&c->workers, t->worker_id);
			if (w)
				json_array_append_new(w->cancel, json_string(t->id));
			holder = w;
			state_record_attempt(c, t, "cancelled", "cancelled", why);
			state_release(c, t);
		}
		json_object_set_new(task_doc(t), "error",
				    json_pack("{s:s,s:s}", "kind", kind, "message", why));
		state_set_status(c, t, TS_CANCELLED);
		if (txn_begin(c) || state_save_task(c, t) || txn_commit(c)) {
			rc = store_error(e);
		} else {
			c->m_results[TS_CANCELLED]++;
			*reply = core_task_view(c, t);
			/* A parked long-poll carries the cancellation at once. */
			if (holder && holder->waiter && json_array_size(holder->cancel))
				lease_end(c, holder, 0, NULL, NULL);
			lease_wake(c);
		}
	}
out:
	return rc;
}
