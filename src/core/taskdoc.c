/* taskdoc.c: a pending or finished task's document kept as compact JSON text.
 *
 * A parsed jansson document costs about 3 KiB for a small task (every member, default or not, is
 * its own allocation in a hash table); its compact JSON text costs a tenth of that. A task that
 * waits in the queue is read only by the scheduler, through the fields copied into struct ctask,
 * and a finished one only when it is shown or reported, so their documents are written out as
 * text once they are stored and parsed again the first time anything asks for them (task_doc):
 * when the task is leased, changed or saved (shown, it is parsed into a copy: task_doc_copy).
 * The text is the same JSON the store holds, members in the same order, so the document the API
 * shows does not change. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "core/model.h"

/* Deeper than any document the API accepts (those are parsed no deeper than 32 levels; params are
 * kept as they came). */
#define TEXT_MAX_DEPTH 64

/* The empty hardware lists of compacted tasks point here; never changed. */
static json_t *empty_list(void)
{
	static json_t *empty;

	if (!empty)
		empty = json_array();
	return empty;
}

static const char *const plain_types[] = {"command", "test", "benchmark", "shell", NULL};

static const char *static_type(const char *type)
{
	int i;

	for (i = 0; type && plain_types[i]; i++)
		if (strcmp(plain_types[i], type) == 0)
			return plain_types[i];
	return NULL;
}

json_t *task_doc(struct ctask *t)
{
	json_error_t e;
	json_t *doc;

	if (t->jdoc || !t->text)
		return t->jdoc;
	doc = dtf_json_load(t->text, strlen(t->text), TEXT_MAX_DEPTH);
	if (!doc)
		doc = json_loads(t->text, JSON_ALLOW_NUL, &e);
	if (!json_is_object(doc)) {
		/* The text is jansson's own output: this cannot happen short of memory corruption.
		 */
		dtf_log(DTF_LOG_ERROR, "task %s: its stored document does not parse: %s", t->id,
			e.text);
		abort();
	}
	free(t->text);
	t->text = NULL;
	t->jdoc = doc;
	t->hw_any = json_object_get(doc, "hardware");
	t->hw_all = json_object_get(json_object_get(doc, "requirements"), "hardware");
	return doc;
}

json_t *task_doc_copy(struct ctask *t)
{
	json_t *v;

	if (t->jdoc || !t->text)
		return json_copy(t->jdoc);
	/* Shown, not changed: parse a copy and keep the text, so that listing the queue does not
	 * bring every waiting task's parsed document back. */
	v = dtf_json_load(t->text, strlen(t->text), TEXT_MAX_DEPTH);
	return v ? v : json_copy(task_doc(t));
}

/* Whether the task may be kept as text: pending or finished, and its fields in struct ctask need
 * nothing borrowed from its document (a built-in type, no hardware lists, requirements no more
 * than {hardware: []}, no constraints, deadline or recovery). */
static bool compactable(const struct ctask *t)
{
	json_t *req;

	if (!t->jdoc || !(t->status == TS_PENDING || task_is_final(t->status)) || t->rec ||
	    !static_type(t->type) || json_array_size(t->hw_any) || json_array_size(t->hw_all) ||
	    !empty_list())
		return false;
	req = json_object_get(t->jdoc, "requirements");
	return !json_object_get(t->jdoc, "constraints") &&
	       !json_object_get(t->jdoc, "constraint") && !json_object_get(t->jdoc, "deadline") &&
	       (!req || json_object_size(req) <= 1);
}

/* Replaces the parsed document by its text s (owned). */
static void keep_text(struct ctask *t, char *s)
{
	t->type = static_type(t->type);
	t->hw_any = empty_list();
	t->hw_all = empty_list();
	json_decref(t->jdoc);
	t->jdoc = NULL;
	t->text = s;
}

void task_compact(struct ctask *t)
{
	char *s;

	if (compactable(t) && (s = dtf_json_dumps(t->jdoc)) != NULL)
		keep_text(t, s);
}

int task_save_compact(struct coord *c, struct ctask *t)
{
	char *s;
	int rc;

	if (!c->store->ops->put_task_text || !compactable(t))
		return state_save_task(c, t);
	/* One serialization for both the store and the text kept. */
	s = dtf_json_dumps(t->jdoc);
	if (!s)
		return DTF_ENOMEM;
	rc = c->store->ops->put_task_text(c->store, t->id, t->sx.seq, t->run_id,
					  task_status_name(t->status), s);
	if (rc == 0)
		keep_text(t, s);
	else
		free(s);
	return rc;
}

void task_doc_free(struct ctask *t)
{
	json_decref(t->jdoc);
	t->jdoc = NULL;
	free(t->text);
	t->text = NULL;
}
