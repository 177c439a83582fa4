/* taskdoc.c: a pending task's document kept as compact JSON text.
 *
 * A parsed jansson document costs about 3 KiB for a small task (every member, default or not, is
 * its own allocation in a hash table); its compact JSON text costs a tenth of that. A task that
 * waits in the queue is read only by the scheduler, through the fields copied into struct ctask,
 * so its document is written out as text once it is stored and parsed again the first time
 * anything asks for it (task_doc): when it is leased, changed or saved (shown, it is parsed into
 * a copy: task_doc_copy). The text is the same JSON the store holds, members in the same order,
 * so the document the API shows does not change. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "coordinator/coordinator.h"

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
	doc = json_loads(t->text, JSON_ALLOW_NUL, &e);
	if (!json_is_object(doc)) {
		/* The text is jansson's own output: this cannot happen short of memory corruption. */
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
	v = json_loads(t->text, JSON_ALLOW_NUL, NULL);
	return v ? v : json_copy(task_doc(t));
}

void task_compact(struct ctask *t)
{
	json_t *req;
	const char *type;
	char *s;

	if (!t->jdoc || t->status != TS_PENDING || t->rec)
		return;
	/* Only tasks whose scheduler fields need no borrowed part of the document. */
	type = static_type(t->type);
	req = json_object_get(t->jdoc, "requirements");
	if (!type || json_array_size(t->hw_any) || json_array_size(t->hw_all) ||
	    json_object_get(t->jdoc, "constraints") || json_object_get(t->jdoc, "constraint") ||
	    json_object_get(t->jdoc, "deadline") || (req && json_object_size(req) > 1) ||
	    !empty_list())
		return;
	s = json_dumps(t->jdoc, JSON_COMPACT);
	if (!s)
		return;
	t->type = type;
	t->hw_any = empty_list();
	t->hw_all = empty_list();
	json_decref(t->jdoc);
	t->jdoc = NULL;
	t->text = s;
}

void task_doc_free(struct ctask *t)
{
	json_decref(t->jdoc);
	t->jdoc = NULL;
	free(t->text);
	t->text = NULL;
}
