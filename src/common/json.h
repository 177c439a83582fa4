/* json.h: helpers over jansson for reading documents from outside: size-capped parsing with an
 * error message that names the position, and typed getters. */
#ifndef DTF_JSON_H
#define DTF_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define DTF_JSON_MAX_DEPTH 32

/* Parses len bytes into a new value (the caller owns it). On failure returns NULL and writes
 * "line L column C: reason" to err. Rejects nesting deeper than DTF_JSON_MAX_DEPTH. */
json_t *dtf_json_parse(const char *data, size_t len, char *err, size_t errlen);

/* The parser alone: a new value for len bytes holding a JSON object or array nested at most
 * max_depth deep, or NULL for anything else, without a reason (dtf_json_parse adds one). Accepts
 * what jansson accepts with JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, and builds the same value. */
json_t *dtf_json_load(const char *data, size_t len, int max_depth);

/* Getters that return a default when the member is missing or null. */
const char *dtf_json_str(const json_t *obj, const char *key, const char *dflt);
double dtf_json_num(const json_t *obj, const char *key, double dflt);
long long dtf_json_int(const json_t *obj, const char *key, long long dflt);
bool dtf_json_bool(const json_t *obj, const char *key, bool dflt);

/* Splits s at any of the characters of seps into a new array of its non-empty parts
 * ("cuda,rocm" -> ["cuda", "rocm"]). */
json_t *dtf_json_split(const char *s, const char *seps);

/* Appends s as a JSON string (quoted and escaped as dtf_json_dump writes strings). */
int dtf_json_write_string(struct dtf_buf *out, const char *s);
/* Appends the compact serialization of v to out. */
int dtf_json_dump(const json_t *v, struct dtf_buf *out);
/* Returns a malloc'd compact serialization (the caller frees), or NULL. */
char *dtf_json_dumps(const json_t *v);

#endif
