/* index.c: the pending index (signatures → lanes → heaps), the batch groups, the delayed set of
 * tasks waiting out a retry backoff, and the lease-time choice among lane heads. The strategies'
 * keys and scores are in strategy.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "sched/internal.h"

/* ---- the signature of a task: everything a match depends on ---- */

/* What json_dumps writes for v when it is cheap to know (an empty list or object, a string of
 * plain characters: most tasks' type, hardware and requirements), into buf; NULL otherwise. */
static const char *plain_dump(const json_t *v, char *buf, size_t cap)
{
	const char *s;
	size_t n, i;

	if ((json_is_array(v) && json_array_size(v) == 0))
		return "[]";
	if (json_is_object(v) && json_object_size(v) == 0)
		return "{}";
	/* requirements as most tasks have them. */
	if (json_is_object(v) && json_object_size(v) == 1 &&
	    json_is_array(json_object_get(v, "hardware")) &&
	    json_array_size(json_object_get(v, "hardware")) == 0)
		return "{\"hardware\":[]}";
	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n + 3 > cap)
		return NULL;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return NULL;
	buf[0] = '"';
	memcpy(buf + 1, s, n);
	buf[n + 1] = '"';
	buf[n + 2] = '\0';
	return buf;
}

static void sig_part(struct sx_sigbuf *b, const json_t *v)
{
	char plain[64];
	const char *p = v ? plain_dump(v, plain, sizeof(plain)) : "";
	char *s = p ? NULL : json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	size_t n;

	if (!p)
		p = s ? s : "";
	n = strlen(p);
	if (b->len + n + 2 <= sizeof(b->text)) {
		memcpy(b->text + b->len, p, n);
		b->len += n;
		b->text[b->len++] = '\x1f';
		b->text[b->len] = '\0';
	} else {
		b->overflow = true;
	}
	free(s);
}

/* The task fields a constraint may read that the signature already holds. */
static const char *const sig_fields[] = {"cpu",	 "memory",	 "gpu_memory", "hardware",
					 "type", "requirements", NULL};

void sx_constraint_reads(const json_t *v, unsigned *reads)
{
	size_t i, n = json_is_array(v) ? json_array_size(v) : 1;

	for (i = 0; i < n; i++) {
		const char *src = json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
		const char *p = src;
		while (p && (p = strstr(p, "task.")) != NULL) {
			size_t len = 0, k;
			bool known = false;
			p += 5;
			while (p[len] == '_' || (p[len] >= 'a' && p[len] <= 'z') ||
			       (p[len] >= 'A' && p[len] <= 'Z') || (p[len] >= '0' && p[len] <= '9'))
				len++;
			for (k = 0; sig_fields[k]; k++)
				if (strlen(sig_fields[k]) == len &&
				    strncmp(p, sig_fields[k], len) == 0)
					known = true;
			if (len == 8 && strncmp(p, "priority", 8) == 0)
				*reads |= SX_READS_PRIORITY;
			else if (!known)
				*reads |= SX_READS_DOC;
		}
	}
}

/* Writes the signature into b; tasks with equal signatures fit a worker, or not, together.
 * Constraint expressions may read more of a task: its priority joins the signature then, and a
 * task whose constraints read other parts of its document is a signature of its own. */
static void signature(const struct sx *s, const struct sx_task *t, const json_t *doc,
		      struct sx_sigbuf *b)
{
	const char *id = dtf_json_str(doc, "id", "");

	unsigned reads = s->defaults_read;
	json_t *cons = json_object_get(doc, "constraints"),
	       *con = json_object_get(doc, "constraint");

	if (cons)
		sx_constraint_reads(cons, &reads);
	if (con)
		sx_constraint_reads(con, &reads);
	if (reads & SX_READS_DOC) {
		snprintf(b->text, sizeof(b->text), "\x1e%s", id);
		return;
	}
	b->len = 0;
	b->overflow = false;
	b->text[0] = '\0';
	sig_part(b, json_object_get(doc, "type"));
	sig_part(b, json_object_get(doc, "hardware"));
	sig_part(b, json_object_get(doc, "requirements"));
	sig_part(b, cons);
	sig_part(b, con);
	if (reads & SX_READS_PRIORITY) {
		json_t *p = json_integer(t->priority);
		sig_part(b, p);
		json_decref(p);
	}
	if (b->overflow) /* a task of its own kind: keyed by its id, so it is never merged */
		snprintf(b->text, sizeof(b->text), "\x1e%s", id);
}

/* ---- heaps ---- */

static bool key_less(const struct sx_task *a, const struct sx_task *b)
{
	if (a->k1 != b->k1)
		return a->k1 < b->k1;
	if (a->k2 != b->k2)
		return a->k2 < b->k2;
	return a->seq < b->seq;
}

static void heap_set(struct sx_lane *ln, size_t i, struct sx_task *t)
{
	ln->heap[i] = t;
	t->pos = (uint32_t)i;
}

static void sift_up(struct sx_lane *ln, size_t i)
{
	struct sx_task *t = ln->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!key_less(t, ln->heap[p]))
			break;
		heap_set(ln, i, ln->heap[p]);
		i = p;
	}
	heap_set(ln, i, t);
}

static void sift_down(struct sx_lane *ln, size_t i)
{
	struct sx_task *t = ln->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct sx_task *best = t;
		if (l < ln->n && key_less(ln->heap[l], best)) {
			m = l;
			best = ln->heap[l];
		}
		if (r < ln->n && key_less(ln->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(ln, i, ln->heap[m]);
		i = m;
	}
	heap_set(ln, i, t);
}

static int heap_push(struct sx_lane *ln, struct sx_task *t)
{
	if (ln->n == ln->cap) {
		size_t cap = ln->cap ? ln->cap * 2 : 8;
		struct sx_task **h = realloc(ln->heap, cap * sizeof(*h));
		if (!h)
			return DTF_ENOMEM;
		ln->heap = h;
		ln->cap = cap;
	}
	heap_set(ln, ln->n++, t);
	sift_up(ln, ln->n - 1);
	return 0;
}

static void heap_remove(struct sx_lane *ln, struct sx_task *t)
{
	size_t i = t->pos;

	if (i >= ln->n || ln->heap[i] != t)
		return;
	ln->n--;
	if (i < ln->n) {
		struct sx_task *m = ln->heap[ln->n];
		heap_set(ln, i, m);
		sift_down(ln, i);
		if (ln->heap[i] == m)
			sift_up(ln, i);
	}
}

/* ---- classes, lanes and batch groups ---- */

/* The class of a signature, created (unlisted) the first time it is seen. */
static struct sx_class *class_intern(struct sx *s, const char *sig)
{
	struct sx_class *cl = dtf_hmap_get(&s->classes, sig);

	if (cl)
		return cl;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->sig = strdup(sig);
	cl->idx = SX_UNLISTED;
	if (!cl->sig || dtf_hmap_put(&s->classes, sig, cl) != 0) {
		free(cl->sig);
		free(cl);
		return NULL;
	}
	return cl;
}

/* Lists a class among those with indexed tasks (a lease looks at those only). */
static int class_list(struct sx *s, struct sx_class *cl)
{
	if (cl->idx != SX_UNLISTED)
		return 0;
	if (s->ncls == s->capcls) {
		size_t cap = s->capcls ? s->capcls * 2 : 8;
		struct sx_class **v = realloc(s->cls, cap * sizeof(*v));
		if (!v)
			return DTF_ENOMEM;
		s->cls = v;
		s->capcls = cap;
	}
	cl->idx = s->ncls;
	s->cls[s->ncls++] = cl;
	return 0;
}

/* Takes a class without indexed tasks (nor lanes) off the list; its tables go with it. */
static void class_unlist(struct sx *s, struct sx_class *cl)
{
	size_t last = s->ncls - 1;

	if (cl->idx == SX_UNLISTED)
		return;
	if (cl->idx != last) {
		s->cls[cl->idx] = s->cls[last];
		s->cls[cl->idx]->idx = cl->idx;
	}
	s->ncls--;
	cl->idx = SX_UNLISTED;
	dtf_hmap_release(&cl->lane_by_name);
	dtf_hmap_release(&cl->groups);
	free(cl->lanes);
	cl->lanes = NULL;
	cl->nlanes = cl->caplanes = 0;
}

static struct sx_lane *lane_get(struct sx_class *cl, const char *name)
{
	struct sx_lane *ln = dtf_hmap_get(&cl->lane_by_name, name);

	if (ln)
		return ln;
	if (cl->nlanes == cl->caplanes) {
		size_t cap = cl->caplanes ? cl->caplanes * 2 : 4;
		struct sx_lane **v = realloc(cl->lanes, cap * sizeof(*v));
		if (!v)
			return NULL;
		cl->lanes = v;
		cl->caplanes = cap;
	}
	ln = calloc(1, sizeof(*ln));
	if (!ln)
		return NULL;
	ln->name = strdup(name);
	ln->cls = cl;
	if (!ln->name || dtf_hmap_put(&cl->lane_by_name, name, ln) != 0) {
		free(ln->name);
		free(ln);
		return NULL;
	}
	ln->idx = cl->nlanes;
	cl->lanes[cl->nlanes++] = ln;
	return ln;
}

static void lane_drop(struct sx_class *cl, struct sx_lane *ln)
{
	size_t last = cl->nlanes - 1;

	dtf_hmap_del(&cl->lane_by_name, ln->name);
	if (ln->idx != last) {
		cl->lanes[ln->idx] = cl->lanes[last];
		cl->lanes[ln->idx]->idx = ln->idx;
	}
	cl->nlanes--;
	free(ln->heap);
	free(ln->name);
	free(ln);
}

static const char *batch_key(const struct sx_task *t);

static void group_add(struct sx_class *cl, struct sx_task *t)
{
	const char *key = batch_key(t);
	struct sx_group *g;

	if (!key || !*key)
		return;
	g = dtf_hmap_get(&cl->groups, key);
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return;
		g->key = strdup(key);
		if (!g->key || dtf_hmap_put(&cl->groups, key, g) != 0) {
			free(g->key);
			free(g);
			return;
		}
	}
	t->bprev = g->tail;
	t->bnext = NULL;
	if (g->tail)
		g->tail->bnext = t;
	else
		g->head = t;
	g->tail = t;
	g->n++;
	t->group = g;
}

static void group_remove(struct sx_class *cl, struct sx_task *t)
{
	struct sx_group *g = t->group;

	if (!g)
		return;
	if (t->bprev)
		t->bprev->bnext = t->bnext;
	else
		g->head = t->bnext;
	if (t->bnext)
		t->bnext->bprev = t->bprev;
	else
		g->tail = t->bprev;
	t->bprev = t->bnext = NULL;
	t->group = NULL;
	if (--g->n == 0) {
		dtf_hmap_del(&cl->groups, g->key);
		free(g->key);
		free(g);
	}
}

/* ---- the delayed set ---- */

static int delayed_push(struct sx *s, struct sx_task *t)
{
	if (s->ndelayed == s->capdelayed) {
		size_t cap = s->capdelayed ? s->capdelayed * 2 : 16;
		struct sx_task **v = realloc(s->delayed, cap * sizeof(*v));
		if (!v)
			return DTF_ENOMEM;
		s->delayed = v;
		s->capdelayed = cap;
	}
	t->pos = (uint32_t)s->ndelayed;
	s->delayed[s->ndelayed++] = t;
	t->delayed = true;
	return 0;
}

static void delayed_remove(struct sx *s, struct sx_task *t)
{
	size_t i = t->pos;

	if (!t->delayed)
		return;
	t->delayed = false;
	if (i >= s->ndelayed || s->delayed[i] != t)
		return;
	s->delayed[i] = s->delayed[--s->ndelayed];
	s->delayed[i]->pos = (uint32_t)i;
}

/* ---- the task record ---- */

/* A user's or project's name, interned: "" for none (or when out of memory). */
static const char *intern(struct sx *s, const char *v)
{
	char *p;

	if (!s || !v || !*v)
		return "";
	p = dtf_hmap_get(&s->names, v);
	if (p)
		return p;
	p = strdup(v);
	if (!p || dtf_hmap_put(&s->names, v, p) != 0) {
		free(p);
		log_error("scheduler: out of memory keeping the name %s", v);
		return "";
	}
	return p;
}

size_t sx_task_strs_size(const json_t *doc)
{
	const char *name = dtf_json_str(doc, "name", NULL);
	const char *key = dtf_json_str(doc, "batch_key", NULL);
	json_t *hw = json_object_get(doc, "hardware"), *e;
	size_t len = 0, i;

	json_array_foreach(hw, i, e) {
		if (json_is_string(e) && i < UINT16_MAX)
			len += json_string_length(e) + 1;
	}
	return len + (name ? strlen(name) + 1 : 0) + (key && *key ? strlen(key) + 1 : 0);
}

void sx_task_set(struct sx *s, struct sx_task *t, const json_t *doc, char *room, size_t cap)
{
	const char *name = dtf_json_str(doc, "name", NULL);
	const char *key = dtf_json_str(doc, "batch_key", NULL);
	const char *dl = dtf_json_str(doc, "deadline", NULL);
	json_t *hw = json_object_get(doc, "hardware"), *e;
	size_t len = sx_task_strs_size(doc), i, nlen = name ? strlen(name) + 1 : 0;
	size_t klen = key && *key ? strlen(key) + 1 : 0;
	struct sx_sigbuf b;
	char *p = NULL;

	sx_task_release(t);
	t->user = intern(s, dtf_json_str(doc, "user", ""));
	t->project = intern(s, dtf_json_str(doc, "project", ""));
	t->deadline_ms = 0;
	if (dl && dtf_parse_rfc3339(dl, &t->deadline_ms) != 0)
		t->deadline_ms = 0;
	/* The strings one task needs, in one block: the room the caller allocated with the record
	 * when they fit (no allocation of their own per task), else one of their own. */
	if (len && len <= cap) {
		p = t->strs = room;
	} else if (len && (p = t->strs = malloc(len)) != NULL) {
		t->strs_owned = true;
	}
	if (p) {
		if (nlen)
			memcpy(p, name, nlen);
		p += nlen;
		if (klen)
			memcpy(p, key, klen);
		p += klen;
		t->has_name = name != NULL;
		t->has_key = klen > 0;
		json_array_foreach(hw, i, e) {
			if (!json_is_string(e) || i >= UINT16_MAX)
				continue;
			memcpy(p, json_string_value(e), json_string_length(e) + 1);
			p += json_string_length(e) + 1;
			t->nhw++;
		}
	} else if (len) {
		log_error("scheduler: out of memory recording a task's name and hardware");
	}
	t->cls = NULL;
	if (s) {
		signature(s, t, doc, &b);
		t->cls = class_intern(s, b.text);
		if (!t->cls)
			log_error("scheduler: out of memory indexing a task");
	}
}

void sx_task_release(struct sx_task *t)
{
	if (t->strs_owned)
		free(t->strs);
	t->strs = NULL;
	t->strs_owned = false;
	t->has_name = t->has_key = false;
	t->nhw = 0;
}

const char *sx_task_name(const struct sx_task *t)
{
	return t->has_name ? t->strs : NULL;
}

const char *sx_task_hw(const struct sx_task *t)
{
	const char *p = t->strs;

	if (t->has_name)
		p += strlen(p) + 1;
	if (t->has_key)
		p += strlen(p) + 1;
	return p;
}

/* The batch_key, or NULL. */
static const char *batch_key(const struct sx_task *t)
{
	if (!t->has_key)
		return NULL;
	return t->has_name ? t->strs + strlen(t->strs) + 1 : t->strs;
}

/* ---- adding and removing ---- */

/* Puts a ready task into its signature's lane. */
static void index_put(struct sx *s, struct sx_task *t)
{
	struct sx_class *cl = t->cls;
	struct sx_lane *ln;
	char lane[SX_LANE_MAX];

	if (!cl || class_list(s, cl) != 0) {
		log_error("scheduler: out of memory indexing a task of run %s", t->run_id);
		return;
	}
	sx_lane_name(s, t, lane, sizeof(lane));
	ln = lane_get(cl, lane);
	if (!ln || (sx_task_key(s, t), heap_push(ln, t)) != 0) {
		log_error("scheduler: out of memory indexing a task of run %s", t->run_id);
		if (ln && ln->n == 0)
			lane_drop(cl, ln);
		if (cl->count == 0 && cl->nlanes == 0)
			class_unlist(s, cl);
		return;
	}
	t->lane = ln;
	cl->count++;
	group_add(cl, t);
}

static void index_take(struct sx *s, struct sx_task *t)
{
	struct sx_lane *ln = t->lane;
	struct sx_class *cl;

	if (!ln)
		return;
	cl = ln->cls;
	heap_remove(ln, t);
	group_remove(cl, t);
	t->lane = NULL;
	cl->count--;
	if (ln->n == 0)
		lane_drop(cl, ln);
	if (cl->count == 0)
		class_unlist(s, cl);
}

void sx_add(struct sx *s, struct sx_task *t)
{
	if (!s || t->lane || t->delayed)
		return;
	if (t->priority >= 1 && t->priority <= SX_PRIORITY_LEVELS)
		s->by_priority[t->priority]++;
	if (t->not_before_ms > sx_now_ms(s)) {
		if (delayed_push(s, t) != 0)
			log_error("scheduler: out of memory delaying a task of run %s", t->run_id);
		return;
	}
	index_put(s, t);
}

void sx_remove(struct sx *s, struct sx_task *t)
{
	if (!s || (!t->lane && !t->delayed))
		return;
	if (t->priority >= 1 && t->priority <= SX_PRIORITY_LEVELS)
		s->by_priority[t->priority]--;
	if (t->delayed)
		delayed_remove(s, t);
	else
		index_take(s, t);
}

void sx_delay(struct sx *s, struct sx_task *t)
{
	if (!s || !t->lane)
		return;
	index_take(s, t);
	if (delayed_push(s, t) != 0)
		index_put(s, t);
}

int64_t sx_expire(struct sx *s, int64_t now_ms)
{
	int64_t next = 0;
	size_t i = 0;

	if (!s)
		return 0;
	while (i < s->ndelayed) {
		struct sx_task *t = s->delayed[i];
		if (t->not_before_ms <= now_ms) {
			delayed_remove(s, t);
			index_put(s, t);
			continue; /* the last one moved into slot i */
		}
		if (!next || t->not_before_ms < next)
			next = t->not_before_ms;
		i++;
	}
	return next;
}

/* Re-keys every indexed task (the strategy changed). The records hold all it reads. */
void sx_rebuild(struct sx *s)
{
	struct sx_task **all = NULL;
	size_t n = 0, cap = 0, i, j, k;

	for (i = 0; i < s->ncls; i++)
		for (j = 0; j < s->cls[i]->nlanes; j++)
			cap += s->cls[i]->lanes[j]->n;
	if (cap && !(all = malloc(cap * sizeof(*all)))) {
		log_error("scheduler: out of memory re-keying the index");
		return;
	}
	for (i = 0; i < s->ncls; i++)
		for (j = 0; j < s->cls[i]->nlanes; j++)
			for (k = 0; k < s->cls[i]->lanes[j]->n; k++)
				all[n++] = s->cls[i]->lanes[j]->heap[k];
	for (i = 0; i < n; i++)
		index_take(s, all[i]);
	for (i = 0; i < n; i++)
		index_put(s, all[i]);
	free(all);
}

static size_t lane_best(struct sx_lane *ln, struct sx_task **out, size_t room);

static bool allows(const struct sx *s, const struct sx_task *t, const struct sx_worker *w)
{
	return !s->ops || !s->ops->allows || s->ops->allows(s->ctx, t, w);
}

static bool fits(const struct sx *s, const struct sx_task *t, const struct sx_worker *w)
{
	return !s->ops || !s->ops->fits || s->ops->fits(s->ctx, t, w);
}

/* The best task of a lane, after its head, that recovery lets w run and that is ready; among
 * the first SX_PLUGIN_CANDIDATES only (recovery holds back few tasks). */
static struct sx_task *lane_allowed(struct sx *s, struct sx_lane *ln, struct sx_worker *w,
				    int64_t now_ms)
{
	struct sx_task *buf[SX_PLUGIN_CANDIDATES];
	size_t n = lane_best(ln, buf, SX_PLUGIN_CANDIDATES), i;

	for (i = 1; i < n; i++)
		if (buf[i]->not_before_ms <= now_ms && allows(s, buf[i], w))
			return buf[i];
	return NULL;
}

/* True if (score, task) ranks before (best_score, best). */
static bool better(double score, const struct sx_task *t, double best_score,
		   const struct sx_task *best)
{
	if (!best)
		return true;
	if (score != best_score)
		return score < best_score;
	return key_less(t, best);
}

struct sx_task *sx_pick(struct sx *s, struct sx_worker *w, int64_t now_ms)
{
	struct sx_task *best = NULL;
	double best_score = 0;
	size_t i, j;

	if (!s)
		return NULL;
again:
	for (i = 0; i < s->ncls; i++) {
		struct sx_class *cl = s->cls[i];
		bool probed = false;
		for (j = 0; j < cl->nlanes; j++) {
			struct sx_lane *ln = cl->lanes[j];
			struct sx_task *t = ln->n ? ln->heap[0] : NULL;
			double score;
			if (!t)
				continue;
			if (t->not_before_ms > now_ms) {
				/* In backoff but still indexed: move it aside and look again (the
				 * index changed under the loop). */
				sx_delay(s, t);
				best = NULL;
				goto again;
			}
			if (!probed) {
				/* One task answers for its whole signature. */
				if (!fits(s, t, w))
					break;
				probed = true;
			}
			/* Recovery may hold single tasks back from this worker (a retry pinned
			 * to another, an excluded worker): then the lane's next allowed task. */
			if (!allows(s, t, w) && !(t = lane_allowed(s, ln, w, now_ms)))
				continue;
			score = sx_score(s, ln, t, w);
			if (better(score, t, best_score, best)) {
				best = t;
				best_score = score;
			}
		}
	}
	return best;
}

size_t sx_batch_mates(struct sx *s, struct sx_task *t, int64_t now_ms, struct sx_task **out,
		      size_t max)
{
	struct sx_task *u;
	size_t n = 0;

	(void)s;
	if (!t->group)
		return 0;
	for (u = t->group->head; u && n < max; u = u->bnext)
		if (u != t && u->not_before_ms <= now_ms)
			out[n++] = u;
	return n;
}

/* Appends the lane's best tasks (up to room) to out by walking its heap in order. */
static size_t lane_best(struct sx_lane *ln, struct sx_task **out, size_t room)
{
	/* A small frontier search over the heap: the k smallest of a heap in O(k log k). */
	size_t front[SX_PLUGIN_CANDIDATES * 2 + 2], nf = 0, n = 0;

	if (!ln->n || !room)
		return 0;
	front[nf++] = 0;
	while (nf && n < room) {
		size_t bi = 0, k, top;
		for (k = 1; k < nf; k++)
			if (key_less(ln->heap[front[k]], ln->heap[front[bi]]))
				bi = k;
		top = front[bi];
		front[bi] = front[--nf];
		out[n++] = ln->heap[top];
		if (2 * top + 1 < ln->n && nf < sizeof(front) / sizeof(front[0]))
			front[nf++] = 2 * top + 1;
		if (2 * top + 2 < ln->n && nf < sizeof(front) / sizeof(front[0]))
			front[nf++] = 2 * top + 2;
	}
	return n;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct sx_task *x = *(const struct sx_task *const *)a,
			     *y = *(const struct sx_task *const *)b;

	return key_less(x, y) ? -1 : key_less(y, x) ? 1 : 0;
}

size_t sx_candidates(struct sx *s, struct sx_worker *w, int64_t now_ms, struct sx_task **out,
		     size_t max)
{
	struct sx_task *buf[SX_PLUGIN_CANDIDATES];
	size_t i, j, k, n = 0;

	if (!s)
		return 0;
	if (max > SX_PLUGIN_CANDIDATES)
		max = SX_PLUGIN_CANDIDATES;
	for (i = 0; i < s->ncls; i++) {
		struct sx_class *cl = s->cls[i];
		for (j = 0; j < cl->nlanes; j++) {
			size_t got = lane_best(cl->lanes[j], buf, max);
			if (got && !fits(s, buf[0], w))
				break;
			for (k = 0; k < got; k++) {
				if (buf[k]->not_before_ms > now_ms)
					continue;
				if (n < max) {
					out[n++] = buf[k];
				} else {
					/* Keep the best max overall: replace the worst. */
					size_t worst = 0, m;
					for (m = 1; m < n; m++)
						if (key_less(out[worst], out[m]))
							worst = m;
					if (key_less(buf[k], out[worst]))
						out[worst] = buf[k];
				}
			}
		}
	}
	qsort(out, n, sizeof(*out), cand_cmp);
	return n;
}

void sx_index_stats(const struct sx *s, size_t *sigs, size_t *lanes, size_t *delayed)
{
	size_t i;

	*sigs = *lanes = *delayed = 0;
	if (!s)
		return;
	*sigs = s->ncls;
	for (i = 0; i < s->ncls; i++)
		*lanes += s->cls[i]->nlanes;
	*delayed = s->ndelayed;
}

void sx_index_release(struct sx *s)
{
	size_t pos = 0, gpos, i;
	const char *k, *gk;
	void *v, *g;

	while ((pos = dtf_hmap_next(&s->classes, pos, &k, &v)) != 0) {
		struct sx_class *cl = v;
		for (i = 0; i < cl->nlanes; i++) {
			free(cl->lanes[i]->heap);
			free(cl->lanes[i]->name);
			free(cl->lanes[i]);
		}
		gpos = 0;
		while ((gpos = dtf_hmap_next(&cl->groups, gpos, &gk, &g)) != 0) {
			free(((struct sx_group *)g)->key);
			free(g);
		}
		dtf_hmap_release(&cl->lane_by_name);
		dtf_hmap_release(&cl->groups);
		free(cl->lanes);
		free(cl->sig);
		free(cl);
	}
	dtf_hmap_release(&s->classes);
	pos = 0;
	while ((pos = dtf_hmap_next(&s->names, pos, &k, &v)) != 0)
		free(v);
	dtf_hmap_release(&s->names);
	free(s->cls);
	free(s->delayed);
	free(s->waiting);
}

void sx_waiting_add(struct sx *s, struct sx_worker *w)
{
	if (!s || w->waiting)
		return;
	if (s->nwaiting == s->capwaiting) {
		size_t cap = s->capwaiting ? s->capwaiting * 2 : 16;
		struct sx_worker **v = realloc(s->waiting, cap * sizeof(*v));
		if (!v) {
			log_error("scheduler: out of memory listing worker %s as waiting", w->id);
			return;
		}
		s->waiting = v;
		s->capwaiting = cap;
	}
	s->waiting[s->nwaiting++] = w;
	w->waiting = true;
}

struct sx_worker **sx_waiting(struct sx *s, size_t *n)
{
	size_t i = 0;

	*n = 0;
	if (!s)
		return NULL;
	/* Drop the workers whose lease was answered, given up or replaced since. */
	while (i < s->nwaiting) {
		if (s->ops && s->ops->waiting && s->ops->waiting(s->ctx, s->waiting[i])) {
			i++;
			continue;
		}
		s->waiting[i]->waiting = false;
		s->waiting[i] = s->waiting[--s->nwaiting];
	}
	*n = s->nwaiting;
	return s->waiting;
}

size_t sx_ahead(const struct sx *s, int priority)
{
	size_t n = 0;
	int p;

	for (p = 1; s && p < priority && p <= SX_PRIORITY_LEVELS; p++)
		n += s->by_priority[p];
	return n;
}
