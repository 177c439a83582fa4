/* hmap.c: open-addressing string hash map. */
#include "common/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static char hmap_tomb_key;
#define HMAP_TOMB (&hmap_tomb_key)

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

void dtf_hmap_init(struct dtf_hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void dtf_hmap_init_borrowed(struct dtf_hmap *m)
{
	memset(m, 0, sizeof(*m));
	m->borrowed = true;
}

void dtf_hmap_release(struct dtf_hmap *m)
{
	bool borrowed = m->borrowed;
	size_t i;

	for (i = 0; i < m->cap && !borrowed; i++)
		if (m->slots[i].key && m->slots[i].key != HMAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
	m->borrowed = borrowed;
}

static struct dtf_hmap_slot *find(const struct dtf_hmap *m, const char *key)
{
	size_t i, mask;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	for (i = hash_str(key) & mask;; i = (i + 1) & mask) {
		struct dtf_hmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != HMAP_TOMB && strcmp(s->key, key) == 0)
			return s;
	}
}

void *dtf_hmap_get(const struct dtf_hmap *m, const char *key)
{
	struct dtf_hmap_slot *s = find(m, key);

	return s ? s->value : NULL;
}

static int rehash(struct dtf_hmap *m, size_t cap)
{
	struct dtf_hmap_slot *old = m->slots;
	size_t oldcap = m->cap, i;

	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return DTF_ENOMEM;
	}
	m->cap = cap;
	m->used = m->count;
	for (i = 0; i < oldcap; i++) {
		size_t j, mask = cap - 1;
		if (!old[i].key || old[i].key == HMAP_TOMB)
			continue;
		for (j = hash_str(old[i].key) & mask; m->slots[j].key; j = (j + 1) & mask)
			;
		m->slots[j] = old[i];
	}
	free(old);
	return 0;
}

int dtf_hmap_reserve(struct dtf_hmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;

	/* The smallest power of two that holds used + n under the 3/4 load that put keeps. */
	while ((m->used + n + 1) * 4 >= cap * 3)
		cap *= 2;
	return cap > m->cap ? rehash(m, cap) : 0;
}

int dtf_hmap_put(struct dtf_hmap *m, const char *key, void *value)
{
	struct dtf_hmap_slot *s = find(m, key);

	if (s) {
		if (m->borrowed)
			s->key = (char *)(uintptr_t)key; /* the new value's, if it holds its key */
		s->value = value;
		return 0;
	}
	return dtf_hmap_put_new_hashed(m, key, hash_str(key), value);
}

uint64_t dtf_hmap_hash(const char *key)
{
	return hash_str(key);
}

void dtf_hmap_prefetch(const struct dtf_hmap *m, uint64_t hash)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[hash & (m->cap - 1)], 1);
}

int dtf_hmap_put_new(struct dtf_hmap *m, const char *key, void *value)
{
	return dtf_hmap_put_new_hashed(m, key, hash_str(key), value);
}

int dtf_hmap_put_new_hashed(struct dtf_hmap *m, const char *key, uint64_t hash, void *value)
{
	size_t i, mask;
	char *k;

	if ((m->used + 1) * 4 >= m->cap * 3) {
		int rc = rehash(m, m->cap ? (m->count * 2 >= m->cap ? m->cap * 2 : m->cap) : 16);
		if (rc)
			return rc;
	}
	k = m->borrowed ? (char *)(uintptr_t)key : strdup(key);
	if (!k)
		return DTF_ENOMEM;
	/* No key to compare: the first free slot on the key's probe path is its place. */
	mask = m->cap - 1;
	for (i = hash & mask; m->slots[i].key && m->slots[i].key != HMAP_TOMB; i = (i + 1) & mask)
		;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = k;
	m->slots[i].value = value;
	m->count++;
	return 0;
}

void *dtf_hmap_del(struct dtf_hmap *m, const char *key)
{
	struct dtf_hmap_slot *s = find(m, key);
	void *v;

	if (!s)
		return NULL;
	v = s->value;
	if (!m->borrowed)
		free(s->key);
	s->key = HMAP_TOMB;
	s->value = NULL;
	m->count--;
	return v;
}

size_t dtf_hmap_next(const struct dtf_hmap *m, size_t pos, const char **key, void **value)
{
	for (; pos < m->cap; pos++) {
		struct dtf_hmap_slot *s = &m->slots[pos];
		if (s->key && s->key != HMAP_TOMB) {
			*key = s->key;
			*value = s->value;
			return pos + 1;
		}
	}
	return 0;
}
