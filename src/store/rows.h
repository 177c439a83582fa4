/* rows.h: what the store backends share when they read records back at start-up: rows are read
 * in batches and their JSON parsed on two threads (the parse dominates a restart with many
 * stored tasks), then handed to the load callback in order. */
#ifndef DTF_STORE_ROWS_H
#define DTF_STORE_ROWS_H

#include <stddef.h>

#include "store/store.h"

#define DTF_STORE_LOAD_BATCH 4096

/* One stored record; id and text are malloc'd and owned by the row until flushed. */
struct dtf_store_row {
	char *id, *text;
	size_t len;
	json_t *doc;
};

/* Fills row with copies of id and the first len bytes of text. Returns 0 or DTF_ENOMEM (then the
 * row holds nothing). */
int dtf_store_row_set(struct dtf_store_row *row, const char *id, const char *text, size_t len);
/* Parses rows[0..n), hands each valid one to cb in order (a record that is not JSON is logged
 * and skipped), and frees them all, also past a callback's non-zero return (which it returns).
 * Tasks go unparsed to tcb instead when it is not NULL (st->load_task_text). */
int dtf_store_rows_flush(struct dtf_store_row *rows, size_t n, enum dtf_store_kind kind,
			 dtf_store_load_cb cb, dtf_store_text_cb tcb, void *arg);

#endif
