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
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/buf.h"
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

/* ---- packed text ----
 *
 * The text is kept packed: the members most task documents have, written as the coordinator
 * writes them, stand for one byte each (0x01 … 0x1d), and the task's own "id" and "run_id"
 * members for one more each (0x1e, 0x1f: their values are in struct ctask). Compact JSON text
 * never holds a byte below 0x20 (the writer escapes them in strings), so packing is a plain
 * substitution that unpacks to the same bytes whatever the context. A no-op task's 307 bytes
 * pack to about 110, a finished one's 640 to about 330. */
static const char *const packs[] = {
    "\"params\":{}",
    "\"name\":\"",
    "\"command\":[",
    "\"type\":\"command\"",
    "\"priority\":",
    "\"max_retries\":",
    "\"timeout_s\":",
    "\"hardware\":[]",
    "\"requirements\":{\"hardware\":[]}",
    "\"created_at\":\"",
    "\"attempt\":",
    "\"seq\":",
    "\"status\":\"pending\"",
    "\"status\":\"completed\"",
    "\"status\":\"failed\"",
    "\"max_requeues\":",
    "\"updated_at\":\"",
    "\"worker_id\":\"",
    "\"assigned_at\":\"",
    "\"started_at\":\"",
    "\"finished_at\":\"",
    "\"result\":{\"exit_code\":",
    "\"duration_s\":",
    "\"history\":[{\"attempt\":",
    "\"outcome\":\"passed\"",
    "\"error\":{",
    "\"kind\":\"",
    "\"message\":\"",
    "\"env\":{",
};
#define PACK_ID	    0x1e
#define PACK_RUN_ID 0x1f

static size_t pack_len[sizeof(packs) / sizeof(packs[0])];
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;

/* Once, on whichever thread packs first (a loading thread packs beside the core's). */
static void pack_init(void)
{
	size_t k;

	for (k = 0; k < sizeof(packs) / sizeof(packs[0]); k++)
		pack_len[k] = strlen(packs[k]);
}

/* Whether "key":"value" is at p (quotes included, the value as it is, unescaped). */
static size_t member_at(const char *p, const char *key, const char *value)
{
	size_t k, v;

	if (p[1] != key[0] || !*value)
		return 0;
	k = strlen(key);
	v = strlen(value);
	if (p[0] != '"' || strncmp(p + 1, key, k) != 0 || p[k + 1] != '"' || p[k + 2] != ':' ||
	    p[k + 3] != '"' || strncmp(p + k + 4, value, v) != 0 || p[k + 4 + v] != '"')
		return 0;
	return k + v + 5;
}

/* text[0..n) of the task with that id and run_id packed into out (room for n + 1 bytes); returns
 * the packed length, or 0 when it cannot be packed (a byte below 0x20). */
static size_t pack(const char *id, const char *run_id, const char *text, size_t n, char *out)
{
	size_t i, j, k, m;

	pthread_once(&pack_once, pack_init);
	for (i = j = 0; i < n;) {
		if ((unsigned char)text[i] < 0x20)
			return 0;
		if (text[i] != '"') {
			out[j++] = text[i++];
			continue;
		}
		if ((m = member_at(text + i, "id", id)) != 0) {
			out[j++] = PACK_ID;
			i += m;
			continue;
		}
		if ((m = member_at(text + i, "run_id", run_id)) != 0) {
			out[j++] = PACK_RUN_ID;
			i += m;
			continue;
		}
		for (k = 0; k < sizeof(packs) / sizeof(packs[0]); k++)
			if (text[i + 1] == packs[k][1] &&
			    strncmp(text + i, packs[k], pack_len[k]) == 0)
				break;
		if (k < sizeof(packs) / sizeof(packs[0])) {
			out[j++] = (char)(k + 1);
			i += pack_len[k];
		} else {
			out[j++] = text[i++];
		}
	}
	out[j] = '\0';
	return j;
}

/* The task's text unpacked into b (its JSON, NUL-terminated). 0 or DTF_ENOMEM. */
static int unpack(const struct ctask *t, struct dtf_buf *b)
{
	const char *p, *run;
	int rc = 0;

	if (!t->packed)
		return dtf_buf_adds(b, t->text);
	for (p = run = t->text; *p && !rc; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch >= 0x20)
			continue;
		rc = dtf_buf_add(b, run, (size_t)(p - run));
		if (rc)
			break;
		if (ch == PACK_ID)
			rc = dtf_buf_printf(b, "\"id\":\"%s\"", t->id);
		else if (ch == PACK_RUN_ID)
			rc = dtf_buf_printf(b, "\"run_id\":\"%s\"", t->run_id);
		else if (ch - 1u < sizeof(packs) / sizeof(packs[0]))
			rc = dtf_buf_adds(b, packs[ch - 1]);
		run = p + 1;
	}
	if (!rc)
		rc = dtf_buf_add(b, run, (size_t)(p - run));
	return rc;
}

/* The task's text parsed (a new document), or NULL (out of memory; e says why when it is not
 * JSON). */
static json_t *parse_text(const struct ctask *t, json_error_t *e)
{
	struct dtf_buf b;
	json_t *doc = NULL;

	e->text[0] = '\0';
	dtf_buf_init(&b, (size_t)1 << 30);
	/* Room for most texts unpacked at once (no regrowth). */
	if (dtf_buf_reserve(&b, 4 * strlen(t->text) + 256) == 0 && unpack(t, &b) == 0 && b.data) {
		doc = dtf_json_load(b.data, b.len, TEXT_MAX_DEPTH);
		if (!doc)
			doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, e);
	}
	dtf_buf_release(&b);
	return doc;
}

/* ---- where kept texts live ----
 *
 * Packed texts are not malloc'd one by one but appended to blocks of their own (TEXT_BLOCK bytes,
 * mapped at a TEXT_BLOCK boundary so that a text finds its block by its address); a block counts
 * its live texts and is unmapped when the last one goes (and it is no longer the block texts are
 * appended to). Measured with malloc'd texts, draining a million tasks left the coordinator at
 * 1.47 GB: each finished task's text was allocated among the small pieces of the documents being
 * parsed and freed around it, and the heap only grew. Texts are appended in submission order and
 * mostly freed in lease order, so blocks empty whole. Shared by every core of the process (under
 * text_lock: tests and `dtf run` may have several). */
#define TEXT_BLOCK ((size_t)1 << 20)

struct text_block {
	size_t used; /* bytes of data[] handed out */
	size_t live; /* texts in it not freed */
	char data[];
};

static pthread_mutex_t text_lock = PTHREAD_MUTEX_INITIALIZER;
static struct text_block *text_cur;

static struct text_block *block_new(void)
{
	char *p =
	    mmap(NULL, 2 * TEXT_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	/* Keep the aligned TEXT_BLOCK inside the mapping, unmap the rest. */
	a = ((uintptr_t)p + TEXT_BLOCK - 1) & ~(uintptr_t)(TEXT_BLOCK - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if ((uintptr_t)p + 2 * TEXT_BLOCK > a + TEXT_BLOCK)
		munmap((char *)(a + TEXT_BLOCK), (uintptr_t)p + 2 * TEXT_BLOCK - a - TEXT_BLOCK);
	return (struct text_block *)a;
}

/* A copy of s[0..n) and its NUL in a block, or NULL (too long for one, out of memory). */
static char *text_copy(const char *s, size_t n)
{
	struct text_block *b;
	char *p = NULL;

	if (n + 1 > TEXT_BLOCK / 16)
		return NULL;
	pthread_mutex_lock(&text_lock);
	b = text_cur;
	if (!b || offsetof(struct text_block, data) + b->used + n + 1 > TEXT_BLOCK) {
		b = block_new();
		if (b) {
			if (text_cur && text_cur->live == 0)
				munmap(text_cur, TEXT_BLOCK);
			text_cur = b;
		}
	}
	if (b) {
		p = b->data + b->used;
		memcpy(p, s, n);
		p[n] = '\0';
		b->used += n + 1;
		b->live++;
	}
	pthread_mutex_unlock(&text_lock);
	return p;
}

/* Gives back a text that text_copy handed out. */
static void text_release(char *p)
{
	struct text_block *b = (struct text_block *)((uintptr_t)p & ~(uintptr_t)(TEXT_BLOCK - 1));

	pthread_mutex_lock(&text_lock);
	if (--b->live == 0 && b != text_cur)
		munmap(b, TEXT_BLOCK);
	pthread_mutex_unlock(&text_lock);
}

static void text_free(struct ctask *t)
{
	if (!t->text)
		return;
	if (!t->in_block)
		free(t->text);
	else
		text_release(t->text);
	t->text = NULL;
	t->in_block = false;
	t->packed = false;
}

json_t *task_doc(struct ctask *t)
{
	json_error_t e;
	json_t *doc;

	if (t->jdoc || !t->text)
		return t->jdoc;
	doc = parse_text(t, &e);
	if (!json_is_object(doc)) {
		/* The text is jansson's own output: this cannot happen short of memory corruption.
		 */
		dtf_log(DTF_LOG_ERROR, "task %s: its stored document does not parse: %s", t->id,
			e.text);
		abort();
	}
	text_free(t);
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
	{
		json_error_t e;
		v = parse_text(t, &e);
	}
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
	size_t n = strlen(s), m = 0;
	char stack[4096], *out = n < sizeof(stack) ? stack : malloc(n + 1), *kept = NULL;

	json_decref(t->jdoc);
	t->jdoc = NULL;
	if (out)
		m = pack(t->id, t->run_id, s, n, out);
	t->packed = m > 0;
	kept = m ? text_copy(out, m) : text_copy(s, n);
	if (out != stack)
		free(out);
	t->in_block = kept != NULL;
	if (kept)
		free(s);
	else if (m) /* no block: keep the text unpacked, as it came */
		t->packed = false;
	t->text = kept ? kept : s;
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
	text_free(t);
}

/* ---- start-up: a task built from its stored text ---- */

/* A JSON string at p (its opening quote) ending before e: returns what follows its closing quote,
 * or NULL; *esc tells whether it holds an escape. */
static const char *scan_string(const char *p, const char *e, bool *esc)
{
	const char *q = p + 1 < e ? memchr(p + 1, '"', (size_t)(e - p - 1)) : NULL;

	/* Most strings hold no escape: the next quote ends them (two vectorized searches rather
	 * than a loop over each byte); the rest are walked. */
	*esc = false;
	if (q && !memchr(p + 1, '\\', (size_t)(q - p - 1)))
		return q + 1;
	for (p++; p < e; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			*esc = true;
			p++;
		}
	}
	return NULL;
}

/* The end of the value at p (compact JSON: no white space), or NULL. */
static const char *scan_value(const char *p, const char *e)
{
	int depth = 0;
	bool esc;

	do {
		if (p >= e)
			return NULL;
		if (*p == '"') {
			p = scan_string(p, e, &esc);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[') {
			if (++depth > TEXT_MAX_DEPTH)
				return NULL;
		} else if (*p == '}' || *p == ']') {
			if (--depth < 0)
				return NULL;
		} else if (depth == 0) {
			/* A number, true, false or null: up to the next separator. */
			while (p < e && *p != ',' && *p != '}' && *p != ']')
				p++;
			return p;
		}
		p++;
	} while (depth > 0);
	return p;
}

static bool span_is(const char *v, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(v, lit, n) == 0;
}

/* A string member's value without its quotes into out (cap bytes with the NUL); false when it
 * is not a plain string (escaped, too long). */
static bool span_str(const char *v, size_t n, char *out, size_t cap)
{
	if (n < 2 || v[0] != '"' || v[n - 1] != '"' || n - 2 >= cap || memchr(v, '\\', n))
		return false;
	memcpy(out, v + 1, n - 2);
	out[n - 2] = '\0';
	return true;
}

static bool span_int(const char *v, size_t n, int64_t *out)
{
	char buf[24], *end;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, v, n);
	buf[n] = '\0';
	*out = strtoll(buf, &end, 10);
	return *end == '\0';
}

bool task_text_scan(const char *text, size_t len, struct task_scan *ts)
{
	const char *p = text, *e = text + len;
	int64_t n;

	memset(ts, 0, sizeof(*ts));
	ts->priority = 5;
	ts->max_requeues = -1;
	if (len < 2 || *p != '{')
		return false;
	for (p++; p < e && *p != '}';) {
		const char *k = p, *v;
		size_t klen, vlen;
		bool esc;
		if (*p != '"' || !(p = scan_string(p, e, &esc)) || esc || p >= e || *p != ':')
			return false;
		klen = (size_t)(p - k) - 2;
		k++;
		v = ++p;
		if (!(p = scan_value(p, e)))
			return false;
		vlen = (size_t)(p - v);
		if (p < e && *p == ',')
			p++;
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(k, s, klen) == 0)
		if (KEY("id")) {
			if (!span_str(v, vlen, ts->id, sizeof(ts->id)))
				return false;
		} else if (KEY("run_id")) {
			if (!span_str(v, vlen, ts->run_id, sizeof(ts->run_id)))
				return false;
		} else if (KEY("status")) {
			if (!span_is(v, vlen, "\"pending\""))
				return false;
			ts->has_status = true;
		} else if (KEY("type")) {
			char type[16];
			if (!span_str(v, vlen, type, sizeof(type)) ||
			    !(ts->type = static_type(type)))
				return false;
		} else if (KEY("name") || KEY("batch_key") || KEY("user") || KEY("project")) {
			const char **dst = KEY("name")	      ? &ts->name
					   : KEY("batch_key") ? &ts->batch_key
					   : KEY("user")      ? &ts->user
							      : &ts->project;
			size_t *dlen = dst == &ts->name	       ? &ts->name_len
				       : dst == &ts->batch_key ? &ts->batch_key_len
				       : dst == &ts->user      ? &ts->user_len
							       : &ts->project_len;
			if (vlen < 2 || *v != '"' || memchr(v, '\\', vlen))
				return false;
			*dst = v + 1;
			*dlen = vlen - 2;
		} else if (KEY("worker_id")) {
			if (!span_str(v, vlen, ts->worker_id, sizeof(ts->worker_id)))
				return false;
		} else if (KEY("hardware")) {
			if (!span_is(v, vlen, "[]"))
				return false;
			ts->has_hardware = true;
		} else if (KEY("requirements")) {
			if (span_is(v, vlen, "{}"))
				ts->requirements = 1;
			else if (span_is(v, vlen, "{\"hardware\":[]}"))
				ts->requirements = 2;
			else
				return false;
		} else if (KEY("constraints") || KEY("constraint") || KEY("deadline") ||
			   KEY("recovery")) {
			return false;
		} else if (KEY("seq") || KEY("priority") || KEY("max_retries") ||
			   KEY("retries_used") || KEY("max_requeues") || KEY("requeues") ||
			   KEY("attempt")) {
			if (!span_int(v, vlen, &n) ||
			    (!KEY("seq") && (n < INT32_MIN || n > INT32_MAX)))
				return false;
			if (KEY("seq"))
				ts->seq = n;
			else if (KEY("priority"))
				ts->priority = (int)n;
			else if (KEY("max_retries"))
				ts->max_retries = (int)n;
			else if (KEY("retries_used"))
				ts->retries_used = (int)n;
			else if (KEY("max_requeues"))
				ts->max_requeues = (int)n;
			else if (KEY("requeues"))
				ts->requeues = (int)n;
			else
				ts->attempt = (int)n;
		}
#undef KEY
	}
	/* What the full path would change in the document (a seq, a max_requeues, the type's
	 * default) sends the task there, so that the text kept is the document as it is. */
	return p < e && *p == '}' && p + 1 == e && ts->id[0] && ts->has_status && ts->type &&
	       ts->seq > 0 && ts->max_requeues >= 0 && ts->priority >= 1 &&
	       ts->priority <= DTF_PRIORITY_LEVELS;
}

void task_keep_text(struct ctask *t, char *text)
{
	keep_text(t, text);
}

char *task_text_prepare(const char *id, const char *run_id, const char *s, size_t n)
{
	char stack[4096], *out = n < sizeof(stack) ? stack : malloc(n + 1), *kept = NULL;
	size_t m = 0;

	if (out)
		m = pack(id, run_id, s, n, out);
	if (m)
		kept = text_copy(out, m);
	if (out != stack)
		free(out);
	return kept;
}

void task_adopt_text(struct ctask *t, char *kept)
{
	t->type = static_type(t->type);
	t->hw_any = empty_list();
	t->hw_all = empty_list();
	json_decref(t->jdoc);
	t->jdoc = NULL;
	t->packed = true;
	t->in_block = true;
	t->text = kept;
}

void task_text_discard(char *kept)
{
	if (kept)
		text_release(kept);
}

bool task_compactable(const struct ctask *t)
{
	return compactable(t);
}
