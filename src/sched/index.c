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
#include "core/model.h"
#include "sched/internal.h"

#include "common/banned.h"

/* ---- the signature of a task: everything a match depends on ---- */

static void sig_part(struct sx_sigbuf *b, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	size_t n = s ? strlen(s) : 0;

	if (b->len + n + 2 <= sizeof(b->text)) {
		memcpy(b->text + b->len, s ? s : "", n);
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
static void signature(const struct sx *s, const struct ctask *t, struct sx_sigbuf *b)
{
	unsigned reads = s->defaults_read;
	json_t *cons = json_object_get(task_doc((struct ctask *)t), "constraints");

	if (cons)
		sx_constraint_reads(cons, &reads);
	if (json_object_get(task_doc((struct ctask *)t), "constraint"))
		sx_constraint_reads(json_object_get(task_doc((struct ctask *)t), "constraint"), &reads);
	if (reads & SX_READS_DOC) {
		snprintf(b->text, sizeof(b->text), "\x1e%s", t->id);
		return;
	}
	b->len = 0;
	b->overflow = false;
	b->text[0] = '\0';
	sig_part(b, json_object_get(task_doc((struct ctask *)t), "type"));
	sig_part(b, t->hw_any);
	sig_part(b, json_object_get(task_doc((struct ctask *)t), "requirements"));
	sig_part(b, json_object_get(task_doc((struct ctask *)t), "constraints"));
	sig_part(b, json_object_get(task_doc((struct ctask *)t), "constraint"));
	if (reads & SX_READS_PRIORITY) {
		json_t *p = json_integer(t->priority);
		sig_part(b, p);
		json_decref(p);
	}
	if (b->overflow) /* a task of its own kind: keyed by its id, so it is never merged */
		snprintf(b->text, sizeof(b->text), "\x1e%s", t->id);
}

/* ---- heaps ---- */

static bool key_less(const struct ctask *a, const struct ctask *b)
{
	if (a->sx_k1 != b->sx_k1)
		return a->sx_k1 < b->sx_k1;
	if (a->sx_k2 != b->sx_k2)
		return a->sx_k2 < b->sx_k2;
	return a->seq < b->seq;
}

static void heap_set(struct sx_lane *ln, size_t i, struct ctask *t)
{
	ln->heap[i] = t;
	t->sx_pos = i;
}

static void sift_up(struct sx_lane *ln, size_t i)
{
	struct ctask *t = ln->heap[i];

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
	struct ctask *t = ln->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct ctask *best = t;
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

static int heap_push(struct sx_lane *ln, struct ctask *t)
{
	if (ln->n == ln->cap) {
		size_t cap = ln->cap ? ln->cap * 2 : 8;
		struct ctask **h = realloc(ln->heap, cap * sizeof(*h));
		if (!h)
			return DTF_ENOMEM;
		ln->heap = h;
		ln->cap = cap;
	}
	heap_set(ln, ln->n++, t);
	sift_up(ln, ln->n - 1);
	return 0;
}

static void heap_remove(struct sx_lane *ln, struct ctask *t)
{
	size_t i = t->sx_pos;

	if (i >= ln->n || ln->heap[i] != t)
		return;
	ln->n--;
	if (i < ln->n) {
		struct ctask *m = ln->heap[ln->n];
		heap_set(ln, i, m);
		sift_down(ln, i);
		if (ln->heap[i] == m)
			sift_up(ln, i);
	}
}

/* ---- classes, lanes and batch groups ---- */

static struct sx_class *class_get(struct sx *s, const char *sig, bool create)
{
	struct sx_class *cl = dtf_hmap_get(&s->classes, sig);

	if (cl || !create)
		return cl;
	if (s->ncls == s->capcls) {
		size_t cap = s->capcls ? s->capcls * 2 : 8;
		struct sx_class **v = realloc(s->cls, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->cls = v;
		s->capcls = cap;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->sig = strdup(sig);
	dtf_hmap_init(&cl->lane_by_name);
	dtf_hmap_init(&cl->groups);
	if (!cl->sig || dtf_hmap_put(&s->classes, sig, cl) != 0) {
		free(cl->sig);
		free(cl);
		return NULL;
	}
	cl->idx = s->ncls;
	s->cls[s->ncls++] = cl;
	return cl;
}

static void class_drop(struct sx *s, struct sx_class *cl)
{
	size_t last = s->ncls - 1;

	dtf_hmap_del(&s->classes, cl->sig);
	if (cl->idx != last) {
		s->cls[cl->idx] = s->cls[last];
		s->cls[cl->idx]->idx = cl->idx;
	}
	s->ncls--;
	dtf_hmap_release(&cl->lane_by_name);
	dtf_hmap_release(&cl->groups);
	free(cl->lanes);
	free(cl->sig);
	free(cl);
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

static void group_add(struct sx_class *cl, struct ctask *t)
{
	const char *key = dtf_json_str(task_doc(t), "batch_key", NULL);
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
	t->sx_bprev = g->tail;
	t->sx_bnext = NULL;
	if (g->tail)
		g->tail->sx_bnext = t;
	else
		g->head = t;
	g->tail = t;
	g->n++;
	t->sx_group = g;
}

static void group_remove(struct sx_class *cl, struct ctask *t)
{
	struct sx_group *g = t->sx_group;

	if (!g)
		return;
	if (t->sx_bprev)
		t->sx_bprev->sx_bnext = t->sx_bnext;
	else
		g->head = t->sx_bnext;
	if (t->sx_bnext)
		t->sx_bnext->sx_bprev = t->sx_bprev;
	else
		g->tail = t->sx_bprev;
	t->sx_bprev = t->sx_bnext = NULL;
	t->sx_group = NULL;
	if (--g->n == 0) {
		dtf_hmap_del(&cl->groups, g->key);
		free(g->key);
		free(g);
	}
}

/* ---- the delayed set ---- */

static int delayed_push(struct sx *s, struct ctask *t)
{
	if (s->ndelayed == s->capdelayed) {
		size_t cap = s->capdelayed ? s->capdelayed * 2 : 16;
		struct ctask **v = realloc(s->delayed, cap * sizeof(*v));
		if (!v)
			return DTF_ENOMEM;
		s->delayed = v;
		s->capdelayed = cap;
	}
	t->sx_pos = s->ndelayed;
	s->delayed[s->ndelayed++] = t;
	t->sx_delayed = true;
	return 0;
}

static void delayed_remove(struct sx *s, struct ctask *t)
{
	size_t i = t->sx_pos;

	if (!t->sx_delayed)
		return;
	t->sx_delayed = false;
	if (i >= s->ndelayed || s->delayed[i] != t)
		return;
	s->delayed[i] = s->delayed[--s->ndelayed];
	s->delayed[i]->sx_pos = i;
}

/* ---- adding and removing ---- */

/* Puts a ready task into its signature's lane. */
static void index_put(struct coord *c, struct ctask *t)
{
	struct sx *s = c->sx;
	struct sx_sigbuf b;
	struct sx_class *cl;
	struct sx_lane *ln;
	char lane[SX_LANE_MAX];

	signature(s, t, &b);
	cl = class_get(s, b.text, true);
	if (!cl) {
		log_error("scheduler: out of memory indexing task %s", t->id);
		return;
	}
	sx_lane_name(c, t, lane, sizeof(lane));
	ln = lane_get(cl, lane);
	if (!ln || (sx_task_key(c, t), heap_push(ln, t)) != 0) {
		log_error("scheduler: out of memory indexing task %s", t->id);
		if (ln && ln->n == 0)
			lane_drop(cl, ln);
		if (cl->count == 0 && cl->nlanes == 0)
			class_drop(s, cl);
		return;
	}
	t->sx_lane = ln;
	cl->count++;
	group_add(cl, t);
}

static void index_take(struct coord *c, struct ctask *t)
{
	struct sx_lane *ln = t->sx_lane;
	struct sx_class *cl;

	if (!ln)
		return;
	cl = ln->cls;
	heap_remove(ln, t);
	group_remove(cl, t);
	t->sx_lane = NULL;
	cl->count--;
	if (ln->n == 0)
		lane_drop(cl, ln);
	if (cl->count == 0)
		class_drop(c->sx, cl);
}

void sx_add(struct coord *c, struct ctask *t)
{
	if (!c->sx && sx_init(c, NULL, NULL, NULL, 0) != 0)
		return;
	if (t->sx_lane || t->sx_delayed)
		return;
	if (t->priority >= 1 && t->priority <= DTF_PRIORITY_LEVELS)
		c->sx->by_priority[t->priority]++;
	if (json_object_get(task_doc(t), "deadline"))
		sx_deadline_check(c, t);
	if (t->not_before_ms > sx_now_ms(c)) {
		if (delayed_push(c->sx, t) != 0)
			log_error("scheduler: out of memory delaying task %s", t->id);
		return;
	}
	index_put(c, t);
}

void sx_remove(struct coord *c, struct ctask *t)
{
	if (!c->sx || (!t->sx_lane && !t->sx_delayed))
		return;
	if (t->priority >= 1 && t->priority <= DTF_PRIORITY_LEVELS)
		c->sx->by_priority[t->priority]--;
	if (t->sx_delayed)
		delayed_remove(c->sx, t);
	else
		index_take(c, t);
}

void sx_delay(struct coord *c, struct ctask *t)
{
	if (!c->sx || !t->sx_lane)
		return;
	index_take(c, t);
	if (delayed_push(c->sx, t) != 0)
		index_put(c, t);
}

int64_t sx_expire(struct coord *c, int64_t now_ms)
{
	struct sx *s = c->sx;
	int64_t next = 0;
	size_t i = 0;

	if (!s)
		return 0;
	while (i < s->ndelayed) {
		struct ctask *t = s->delayed[i];
		if (t->not_before_ms <= now_ms) {
			delayed_remove(s, t);
			index_put(c, t);
			continue; /* the last one moved into slot i */
		}
		if (!next || t->not_before_ms < next)
			next = t->not_before_ms;
		i++;
	}
	return next;
}

/* Re-keys every indexed task (the strategy changed). */
void sx_rebuild(struct coord *c)
{
	struct sx *s = c->sx;
	struct ctask **all = NULL;
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
		index_take(c, all[i]);
	for (i = 0; i < n; i++)
		index_put(c, all[i]);
	free(all);
}

static size_t lane_best(struct sx_lane *ln, struct ctask **out, size_t room);

/* The best task of a lane, after its head, that recovery lets w run and that is ready; among
 * the first SX_PLUGIN_CANDIDATES only (recovery holds back few tasks). */
static struct ctask *lane_allowed(struct coord *c, struct sx_lane *ln, struct cworker *w,
				  int64_t now_ms)
{
	struct ctask *buf[SX_PLUGIN_CANDIDATES];
	size_t n = lane_best(ln, buf, SX_PLUGIN_CANDIDATES), i;

	for (i = 1; i < n; i++)
		if (buf[i]->not_before_ms <= now_ms && recovery_allows(c, buf[i], w))
			return buf[i];
	return NULL;
}

/* True if (score, task) ranks before (best_score, best). */
static bool better(double score, const struct ctask *t, double best_score, const struct ctask *best)
{
	if (!best)
		return true;
	if (score != best_score)
		return score < best_score;
	return key_less(t, best);
}

struct ctask *sx_pick(struct coord *c, struct cworker *w, int64_t now_ms)
{
	struct sx *s = c->sx;
	struct ctask *best = NULL;
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
			struct ctask *t = ln->n ? ln->heap[0] : NULL;
			double score;
			if (!t)
				continue;
			if (t->not_before_ms > now_ms) {
				/* In backoff but still indexed: move it aside and look again (the
				 * index changed under the loop). */
				sx_delay(c, t);
				best = NULL;
				goto again;
			}
			if (!probed) {
				/* One task answers for its whole signature. */
				if (!lease_fits_now(t, w))
					break;
				probed = true;
			}
			/* Recovery may hold single tasks back from this worker (a retry pinned
			 * to another, an excluded worker): then the lane's next allowed task. */
			if (!recovery_allows(c, t, w) && !(t = lane_allowed(c, ln, w, now_ms)))
				continue;
			score = sx_score(c, ln, t, w);
			if (better(score, t, best_score, best)) {
				best = t;
				best_score = score;
			}
		}
	}
	return best;
}

size_t sx_batch_mates(struct coord *c, struct ctask *t, int64_t now_ms, struct ctask **out,
		      size_t max)
{
	struct ctask *u;
	size_t n = 0;

	(void)c;
	if (!t->sx_group)
		return 0;
	for (u = t->sx_group->head; u && n < max; u = u->sx_bnext)
		if (u != t && u->not_before_ms <= now_ms)
			out[n++] = u;
	return n;
}

/* Appends the lane's best tasks (up to room) to out by walking its heap in order. */
static size_t lane_best(struct sx_lane *ln, struct ctask **out, size_t room)
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
	const struct ctask *x = *(const struct ctask *const *)a,
			   *y = *(const struct ctask *const *)b;

	return key_less(x, y) ? -1 : key_less(y, x) ? 1 : 0;
}

size_t sx_candidates(struct coord *c, struct cworker *w, int64_t now_ms, struct ctask **out,
		     size_t max)
{
	struct sx *s = c->sx;
	struct ctask *buf[SX_PLUGIN_CANDIDATES];
	size_t i, j, k, n = 0;

	if (!s)
		return 0;
	if (max > SX_PLUGIN_CANDIDATES)
		max = SX_PLUGIN_CANDIDATES;
	for (i = 0; i < s->ncls; i++) {
		struct sx_class *cl = s->cls[i];
		for (j = 0; j < cl->nlanes; j++) {
			size_t got = lane_best(cl->lanes[j], buf, max);
			if (got && !lease_fits_now(buf[0], w))
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

void sx_index_stats(struct coord *c, size_t *sigs, size_t *lanes, size_t *delayed)
{
	struct sx *s = c->sx;
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
	size_t pos, i;
	const char *k;
	void *v;

	while (s->ncls) {
		struct sx_class *cl = s->cls[s->ncls - 1];
		for (i = 0; i < cl->nlanes; i++) {
			free(cl->lanes[i]->heap);
			free(cl->lanes[i]->name);
			free(cl->lanes[i]);
		}
		cl->nlanes = 0;
		pos = 0;
		while ((pos = dtf_hmap_next(&cl->groups, pos, &k, &v)) != 0) {
			free(((struct sx_group *)v)->key);
			free(v);
		}
		class_drop(s, cl);
	}
	free(s->cls);
	free(s->delayed);
	free(s->waiting);
	dtf_hmap_release(&s->classes);
}

void sx_waiting_add(struct coord *c, struct cworker *w)
{
	struct sx *s = c->sx;

	if (!s || w->sx_waiting)
		return;
	if (s->nwaiting == s->capwaiting) {
		size_t cap = s->capwaiting ? s->capwaiting * 2 : 16;
		struct cworker **v = realloc(s->waiting, cap * sizeof(*v));
		if (!v) {
			log_error("scheduler: out of memory listing worker %s as waiting", w->id);
			return;
		}
		s->waiting = v;
		s->capwaiting = cap;
	}
	s->waiting[s->nwaiting++] = w;
	w->sx_waiting = true;
}

struct cworker **sx_waiting(struct coord *c, size_t *n)
{
	struct sx *s = c->sx;
	size_t i = 0;

	*n = 0;
	if (!s)
		return NULL;
	/* Drop the workers whose lease was answered, given up or replaced since. */
	while (i < s->nwaiting) {
		if (s->waiting[i]->waiter) {
			i++;
			continue;
		}
		s->waiting[i]->sx_waiting = false;
		s->waiting[i] = s->waiting[--s->nwaiting];
	}
	*n = s->nwaiting;
	return s->waiting;
}

size_t sx_ahead(struct coord *c, int priority)
{
	size_t n = 0;
	int p;

	for (p = 1; c->sx && p < priority && p <= DTF_PRIORITY_LEVELS; p++)
		n += c->sx->by_priority[p];
	return n;
}
