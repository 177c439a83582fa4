/* rows.c: the batched, two-thread parse of stored records that both backends' load() use. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "store/rows.h"

struct parse_job {
	struct dtf_store_row *rows;
	size_t from, to;
};

int dtf_store_row_set(struct dtf_store_row *row, const char *id, const char *text, size_t len)
{
	row->id = strdup(id ? id : "");
	row->text = malloc(len + 1);
	row->doc = NULL;
	if (!row->id || !row->text) {
		free(row->id);
		free(row->text);
		row->id = row->text = NULL;
		return DTF_ENOMEM;
	}
	memcpy(row->text, text ? text : "", len);
	row->text[len] = '\0';
	row->len = len;
	return 0;
}

static void parse_rows(struct dtf_store_row *rows, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++) {
		json_error_t je;
		/* The store holds what the coordinator wrote (already bounded when it came in): the
		 * fast reader with a generous depth, and jansson (with its reason) if it refuses.
		 */
		rows[i].doc = dtf_json_load(rows[i].text, rows[i].len, 256);
		if (!rows[i].doc)
			rows[i].doc = json_loadb(rows[i].text, rows[i].len, JSON_ALLOW_NUL, &je);
		if (!rows[i].doc)
			log_error("store: record %s is not valid JSON (%s); skipped", rows[i].id,
				  je.text);
	}
}

static void *parse_main(void *arg)
{
	struct parse_job *j = arg;

	parse_rows(j->rows, j->from, j->to);
	return NULL;
}

int dtf_store_rows_flush(struct dtf_store_row *rows, size_t n, enum dtf_store_kind kind,
			 dtf_store_load_cb cb, dtf_store_text_cb tcb, void *arg)
{
	struct parse_job job = {rows, n / 2, n};
	pthread_t th;
	bool threaded;
	size_t i;
	int rc = 0;

	if (tcb && kind == DTF_STORE_TASK) {
		for (i = 0; i < n; i++) {
			if (!rc)
				rc = tcb(arg, rows[i].id, &rows[i].text, rows[i].len);
			free(rows[i].id);
			free(rows[i].text);
		}
		return rc;
	}
	threaded = n >= 64 && pthread_create(&th, NULL, parse_main, &job) == 0;
	parse_rows(rows, 0, threaded ? n / 2 : n);
	if (threaded)
		pthread_join(th, NULL);
	for (i = 0; i < n; i++) {
		if (!rc && rows[i].doc)
			rc = cb(arg, kind, rows[i].id, rows[i].doc);
		json_decref(rows[i].doc);
		free(rows[i].id);
		free(rows[i].text);
	}
	return rc;
}
