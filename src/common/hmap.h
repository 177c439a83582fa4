/* hmap.h: a string-keyed hash map of pointers (open addressing, linear probing). Keys are
 * copied (or, in a map set up by dtf_hmap_init_borrowed, borrowed); values are borrowed. Not
 * thread-safe. */
#ifndef DTF_HMAP_H
#define DTF_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dtf_hmap_slot {
	char *key;   /* owned copy (or borrowed); NULL for empty, HMAP_TOMB for deleted */
	void *value; /* borrowed */
};

struct dtf_hmap {
	struct dtf_hmap_slot *slots;
	size_t cap;    /* power of two */
	size_t count;  /* live entries */
	size_t used;   /* live + deleted */
	bool borrowed; /* keys are the caller's, not copies */
};

void dtf_hmap_init(struct dtf_hmap *m);
/* A map whose keys are not copied: each key given to dtf_hmap_put must stay valid and unchanged
 * while its entry is in the map (typically, a string inside the value). A million tasks' ids are
 * then no million allocations. */
void dtf_hmap_init_borrowed(struct dtf_hmap *m);
/* Frees the keys and the table, not the values. */
void dtf_hmap_release(struct dtf_hmap *m);
void *dtf_hmap_get(const struct dtf_hmap *m, const char *key);
/* Inserts or replaces; 0 or DTF_ENOMEM. */
int dtf_hmap_put(struct dtf_hmap *m, const char *key, void *value);
/* Inserts a key the caller knows is not in the map (a store's primary keys, at load): no
 * lookup first, and no comparison of keys on the way to a free slot. A key that is there after
 * all would be there twice. 0 or DTF_ENOMEM. */
int dtf_hmap_put_new(struct dtf_hmap *m, const char *key, void *value);
/* The same with the key's dtf_hmap_hash, worked out beforehand (on another thread, say). */
int dtf_hmap_put_new_hashed(struct dtf_hmap *m, const char *key, uint64_t hash, void *value);
uint64_t dtf_hmap_hash(const char *key);
/* Asks the CPU to bring the slot a key of that hash would start at into its cache: a load that
 * inserts many keys does it some keys ahead and waits for memory less. */
void dtf_hmap_prefetch(const struct dtf_hmap *m, uint64_t hash);
/* Makes room for n more entries, so that n puts of new keys do not grow (rehash) the table: a
 * load that knows its count builds the table once. 0 or DTF_ENOMEM. */
int dtf_hmap_reserve(struct dtf_hmap *m, size_t n);
/* Removes and returns the value (NULL if absent). */
void *dtf_hmap_del(struct dtf_hmap *m, const char *key);

/* Iteration: for (i = 0; (i = dtf_hmap_next(m, i, &k, &v)) != 0;) — returns the next position
 * after the entry it wrote, or 0 at the end. */
size_t dtf_hmap_next(const struct dtf_hmap *m, size_t pos, const char **key, void **value);

#endif
