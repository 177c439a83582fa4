/* test_common.c: unit tests of the shared helpers in src/common/: the hash map (10k keys,
 * deletions and tombstones, iteration), capped buffers, JSON parsing limits and error positions,
 * RFC 3339 times, ids, durations, and the YAML reader (types, errors with name:line, aliases,
 * key lines). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/hmap.h"
#include "common/json.h"
#include "common/util.h"
#include "common/yaml.h"
#include "unit_main.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		print_error("\"%s\" does not contain \"%s\"\n", hay, needle);
	assert_non_null(strstr(hay, needle));
}

/* ---- hmap ---- */

#define NKEYS 10000

static void *val(int i)
{
	return (void *)(intptr_t)(i + 1);
}

/* dtf_json_split keeps the non-empty parts, in order. */
static void test_json_split(void **state)
{
	json_t *l;

	(void)state;
	l = dtf_json_split(",cuda,,rocm,", ",");
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_array_get(l, 0)), "cuda");
	assert_string_equal(json_string_value(json_array_get(l, 1)), "rocm");
	json_decref(l);
	l = dtf_json_split("", ",");
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	l = dtf_json_split("a b\tc", " \t");
	assert_int_equal(json_array_size(l), 3);
	assert_string_equal(json_string_value(json_array_get(l, 2)), "c");
	json_decref(l);
}

/* A reserved map takes that many new keys without growing; put_new's keys, placed past the
 * tombstones of deleted ones, are found, replaced and deleted like put's. */
static void test_hmap_reserve_put_new(void **state)
{
	struct dtf_hmap m;
	char key[32];
	size_t cap;
	int i;

	(void)state;
	dtf_hmap_init(&m);
	assert_int_equal(dtf_hmap_reserve(&m, NKEYS), 0);
	cap = m.cap;
	assert_true(cap * 3 > (size_t)NKEYS * 4);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(dtf_hmap_put_new(&m, key, val(i)), 0);
	}
	assert_int_equal(m.cap, cap);
	assert_int_equal(m.count, NKEYS);
	/* Reserving what is there already changes nothing. */
	assert_int_equal(dtf_hmap_reserve(&m, 0), 0);
	assert_int_equal(m.cap, cap);
	for (i = 0; i < NKEYS; i += 2) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_ptr_equal(dtf_hmap_del(&m, key), val(i));
	}
	for (i = 0; i < NKEYS; i += 2) {
		snprintf(key, sizeof(key), "new-%d", i);
		assert_int_equal(dtf_hmap_put_new(&m, key, val(i)), 0);
	}
	assert_int_equal(m.count, NKEYS);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		if (i % 2)
			assert_ptr_equal(dtf_hmap_get(&m, key), val(i));
		else
			assert_null(dtf_hmap_get(&m, key));
		snprintf(key, sizeof(key), "new-%d", i);
		if (i % 2)
			assert_null(dtf_hmap_get(&m, key));
		else
			assert_ptr_equal(dtf_hmap_get(&m, key), val(i));
	}
	assert_int_equal(dtf_hmap_put(&m, "new-4", val(40)), 0);
	assert_int_equal(m.count, NKEYS);
	assert_ptr_equal(dtf_hmap_get(&m, "new-4"), val(40));
	/* Growth past the reserve still works. */
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "more-%d", i);
		assert_int_equal(dtf_hmap_put_new(&m, key, val(i)), 0);
	}
	assert_int_equal(m.count, 2 * NKEYS);
	assert_ptr_equal(dtf_hmap_get(&m, "more-9999"), val(9999));
	assert_ptr_equal(dtf_hmap_get(&m, "key-9999"), val(9999));
	dtf_hmap_release(&m);
}

/* A map with borrowed keys keeps the caller's pointers (no copies), through growth and
 * replacement, and frees none of them. */
static void test_hmap_borrowed(void **state)
{
	static char keys[64][16];
	char other[16] = "k-5";
	struct dtf_hmap m;
	const char *k;
	void *v;
	size_t pos = 0, seen = 0;
	int i;

	(void)state;
	dtf_hmap_init_borrowed(&m);
	for (i = 0; i < 64; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k-%d", i);
		assert_int_equal(dtf_hmap_put(&m, keys[i], val(i)), 0);
	}
	assert_int_equal(m.count, 64);
	while ((pos = dtf_hmap_next(&m, pos, &k, &v)) != 0) {
		assert_ptr_equal(k, keys[atoi(k + 2)]);
		seen++;
	}
	assert_int_equal(seen, 64);
	/* Replaced by a value that holds its key elsewhere: the entry takes the new key. */
	assert_int_equal(dtf_hmap_put(&m, other, val(99)), 0);
	assert_ptr_equal(dtf_hmap_get(&m, "k-5"), val(99));
	for (pos = 0; (pos = dtf_hmap_next(&m, pos, &k, &v)) != 0;)
		if (v == val(99))
			assert_ptr_equal(k, other);
	assert_ptr_equal(dtf_hmap_del(&m, "k-7"), val(7));
	assert_null(dtf_hmap_get(&m, "k-7"));
	assert_string_equal(keys[7], "k-7");
	dtf_hmap_release(&m);
	assert_true(m.borrowed);
	assert_int_equal(m.count, 0);
}

static void test_hmap_many_keys(void **state)
{
	struct dtf_hmap m;
	char key[32];
	const char *k;
	void *v;
	size_t pos = 0, seen = 0;
	long long sum = 0, want = 0;
	int i;

	(void)state;
	dtf_hmap_init(&m);
	assert_null(dtf_hmap_get(&m, "absent"));
	assert_null(dtf_hmap_del(&m, "absent"));
	assert_int_equal(dtf_hmap_next(&m, 0, &k, &v), 0);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(dtf_hmap_put(&m, key, val(i)), 0);
	}
	assert_int_equal(m.count, NKEYS);
	assert_true(m.cap >= NKEYS);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_ptr_equal(dtf_hmap_get(&m, key), val(i));
	}
	/* Replacing keeps the count. */
	assert_int_equal(dtf_hmap_put(&m, "key-7", val(70)), 0);
	assert_int_equal(m.count, NKEYS);
	assert_ptr_equal(dtf_hmap_get(&m, "key-7"), val(70));
	assert_int_equal(dtf_hmap_put(&m, "key-7", val(7)), 0);

	/* Delete the even keys: the odd ones stay reachable past the tombstones. */
	for (i = 0; i < NKEYS; i += 2) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_ptr_equal(dtf_hmap_del(&m, key), val(i));
		assert_null(dtf_hmap_del(&m, key));
	}
	assert_int_equal(m.count, NKEYS / 2);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		if (i % 2)
			assert_ptr_equal(dtf_hmap_get(&m, key), val(i));
		else
			assert_null(dtf_hmap_get(&m, key));
		if (i % 2)
			want += i + 1;
	}
	while ((pos = dtf_hmap_next(&m, pos, &k, &v)) != 0) {
		int n = atoi(k + 4);
		assert_true(n % 2 == 1);
		assert_ptr_equal(v, val(n));
		sum += (intptr_t)v;
		seen++;
	}
	assert_int_equal(seen, NKEYS / 2);
	assert_int_equal(sum, want);

	/* Put the even keys back (reusing tombstones). */
	for (i = 0; i < NKEYS; i += 2) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_int_equal(dtf_hmap_put(&m, key, val(i)), 0);
	}
	assert_int_equal(m.count, NKEYS);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_ptr_equal(dtf_hmap_get(&m, key), val(i));
	}
	dtf_hmap_release(&m);
	assert_int_equal(m.count, 0);
	assert_null(dtf_hmap_get(&m, "key-1"));
}

static void test_hmap_churn(void **state)
{
	struct dtf_hmap m;
	char key[32];
	int i;

	(void)state;
	dtf_hmap_init(&m);
	assert_int_equal(dtf_hmap_put(&m, "anchor", val(1)), 0);
	/* Insert and delete distinct keys: tombstones pile up and must be swept, not grown on. */
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "churn-%d", i);
		assert_int_equal(dtf_hmap_put(&m, key, val(i)), 0);
		assert_ptr_equal(dtf_hmap_del(&m, key), val(i));
	}
	assert_int_equal(m.count, 1);
	assert_true(m.cap <= 64);
	assert_true(m.used * 4 < m.cap * 3);
	assert_ptr_equal(dtf_hmap_get(&m, "anchor"), val(1));
	assert_null(dtf_hmap_get(&m, "churn-5"));
	/* The empty key is a key like any other. */
	assert_int_equal(dtf_hmap_put(&m, "", val(2)), 0);
	assert_ptr_equal(dtf_hmap_get(&m, ""), val(2));
	dtf_hmap_release(&m);
	dtf_hmap_release(&m);
}

/* ---- buf ---- */

static void test_buf_cap(void **state)
{
	struct dtf_buf b;
	char *p;
	size_t len;

	(void)state;
	dtf_buf_init(&b, 10);
	assert_string_equal(dtf_buf_str(&b), "");
	assert_int_equal(dtf_buf_adds(&b, "12345"), 0);
	assert_int_equal(dtf_buf_adds(&b, "678901"), DTF_ETOOBIG);
	assert_int_equal(b.len, 5);
	assert_string_equal(dtf_buf_str(&b), "12345");
	assert_int_equal(dtf_buf_printf(&b, "%s", "abcdef"), DTF_ETOOBIG);
	assert_string_equal(dtf_buf_str(&b), "12345");
	assert_int_equal(dtf_buf_printf(&b, "%d%c", 678, '9'), 0);
	assert_int_equal(dtf_buf_add(&b, "0", 1), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(dtf_buf_str(&b), "1234567890");
	assert_int_equal(dtf_buf_add(&b, "", 0), 0);
	assert_int_equal(dtf_buf_add(&b, "x", 1), DTF_ETOOBIG);
	assert_int_equal(dtf_buf_add(&b, "x", SIZE_MAX), DTF_ETOOBIG);
	assert_string_equal(dtf_buf_str(&b), "1234567890");
	dtf_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(dtf_buf_str(&b), "");
	assert_int_equal(dtf_buf_adds(&b, "again"), 0);
	/* Truncating cuts back to an earlier length and ignores a longer one. */
	dtf_buf_truncate(&b, 2);
	assert_int_equal(b.len, 2);
	assert_string_equal(dtf_buf_str(&b), "ag");
	dtf_buf_truncate(&b, 9);
	assert_int_equal(b.len, 2);
	assert_int_equal(dtf_buf_adds(&b, "ain"), 0);
	p = dtf_buf_detach(&b, &len);
	assert_string_equal(p, "again");
	assert_int_equal(len, 5);
	free(p);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	/* Detaching an empty buffer gives an empty string, never NULL. */
	p = dtf_buf_detach(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	dtf_buf_release(&b);
}

static void test_buf_shquote(void **state)
{
	struct dtf_buf b;

	(void)state;
	dtf_buf_init(&b, 1024);
	assert_int_equal(dtf_buf_add_shquote(&b, "it's a $file"), 0);
	assert_string_equal(dtf_buf_str(&b), "'it'\\''s a $file'");
	dtf_buf_release(&b);
}

static void test_buf_grows(void **state)
{
	struct dtf_buf b;
	int i;

	(void)state;
	dtf_buf_init(&b, 1 << 20);
	for (i = 0; i < 10000; i++)
		assert_int_equal(dtf_buf_printf(&b, "%04d,", i % 10000), 0);
	assert_int_equal(b.len, 50000);
	assert_int_equal(strncmp(dtf_buf_str(&b) + 49995, "9999,", 5), 0);
	assert_int_equal(strlen(dtf_buf_str(&b)), 50000);
	dtf_buf_release(&b);
	dtf_buf_release(&b);
}

/* ---- json ---- */

/* depth nested arrays around a string that itself holds brackets. */
static char *nested(int depth)
{
	struct dtf_buf b;
	int i;

	dtf_buf_init(&b, 1 << 16);
	for (i = 0; i < depth; i++)
		assert_int_equal(dtf_buf_adds(&b, "["), 0);
	assert_int_equal(dtf_buf_adds(&b, "\"[[{\\\"\""), 0);
	for (i = 0; i < depth; i++)
		assert_int_equal(dtf_buf_adds(&b, "]"), 0);
	return dtf_buf_detach(&b, NULL);
}

static void test_json_depth(void **state)
{
	char err[160];
	char *text;
	json_t *v;

	(void)state;
	text = nested(DTF_JSON_MAX_DEPTH);
	v = dtf_json_parse(text, strlen(text), err, sizeof(err));
	if (!v)
		print_error("%s\n", err);
	assert_non_null(v);
	json_decref(v);
	free(text);

	text = nested(DTF_JSON_MAX_DEPTH + 1);
	err[0] = '\0';
	assert_null(dtf_json_parse(text, strlen(text), err, sizeof(err)));
	assert_string_equal(err, "document nested deeper than 32 levels");
	free(text);

	/* Brackets in strings do not count. */
	text = nested(1);
	v = dtf_json_parse(text, strlen(text), err, sizeof(err));
	assert_non_null(v);
	assert_string_equal(json_string_value(json_array_get(v, 0)), "[[{\"");
	json_decref(v);
	free(text);
}

/* The compact writer gives jansson's bytes for v, both ways (into a buffer with something
 * already in it, and as a new string). */
static void same_as_jansson(json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *got = dtf_json_dumps(v);
	struct dtf_buf b;

	assert_non_null(want);
	assert_non_null(got);
	if (strcmp(want, got) != 0)
		print_error("jansson: %s\nours:    %s\n", want, got);
	assert_string_equal(got, want);
	dtf_buf_init(&b, 1 << 20);
	assert_int_equal(dtf_buf_adds(&b, "x"), 0);
	assert_int_equal(dtf_json_dump(v, &b), 0);
	assert_string_equal(dtf_buf_str(&b) + 1, want);
	assert_int_equal(b.len, strlen(want) + 1);
	dtf_buf_release(&b);
	free(want);
	free(got);
	json_decref(v);
}

static void test_json_writer(void **state)
{
	static const double reals[] = {0.0,
				       -0.0,
				       1.0,
				       -1.5,
				       0.1,
				       1e300,
				       -2.5e-300,
				       1e21,
				       1e22,
				       123456789012345678.0,
				       3.14159265358979,
				       5e-324,
				       1e-7,
				       100.0};
	static const char tail[] = "\\/\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80";
	char ctl[64], big[10000];
	json_t *o, *a;
	size_t i;
	struct dtf_buf b;

	(void)state;
	for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		same_as_jansson(json_real(reals[i]));
	same_as_jansson(json_integer(0));
	same_as_jansson(json_integer(-1));
	same_as_jansson(json_integer(INT64_MAX));
	same_as_jansson(json_integer(INT64_MIN));
	same_as_jansson(json_true());
	same_as_jansson(json_false());
	same_as_jansson(json_null());
	same_as_jansson(json_object());
	same_as_jansson(json_array());
	/* Every control character, the two that are always escaped, DEL, '/' and UTF-8. */
	for (i = 0; i < 32; i++)
		ctl[i] = (char)(i + 1 < 32 ? i + 1 : '"');
	memcpy(ctl + 31, tail, sizeof(tail) - 1);
	same_as_jansson(json_stringn(ctl, 31 + sizeof(tail) - 1));
	same_as_jansson(json_stringn("a\0b", 3));
	same_as_jansson(json_string(""));
	memset(big, 'x', sizeof(big));
	big[5000] = '\n';
	same_as_jansson(json_stringn(big, sizeof(big)));
	/* Members in insertion order, keys escaped (one with a NUL), nesting, a replaced member
	 * keeping its place. */
	o = json_pack("{s:i,s:s,s:[i,f,{}],s:{s:n,s:b}}", "zeta", 1, "a\"b", "v\t", "list", 2, 0.5,
		      "nested", "k", "t", 1);
	json_object_setn_new(o, "nul\0key", 7, json_string("x"));
	json_object_set_new(o, "zeta", json_integer(2));
	same_as_jansson(o);
	/* Deep nesting: 1,000 arrays, written as jansson writes them. */
	a = json_array();
	for (i = 0; i < 1000; i++)
		a = json_pack("[o]", a);
	same_as_jansson(a);
	/* A cap that is too small fails without leaving half a document. */
	dtf_buf_init(&b, 8);
	assert_int_equal(dtf_buf_adds(&b, "ab"), 0);
	o = json_pack("{s:s}", "key", "a long enough value");
	assert_int_not_equal(dtf_json_dump(o, &b), 0);
	assert_string_equal(dtf_buf_str(&b), "ab");
	assert_int_equal(b.len, 2);
	json_decref(o);
	dtf_buf_release(&b);
}

/* dtf_json_load accepts what jansson accepts (with the flags dtf_json_parse uses) and builds the
 * same value: compared through the writer, which shows types, order and every digit. */
static void load_like_jansson(const char *text, size_t len)
{
	json_error_t e;
	json_t *theirs = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	json_t *ours = dtf_json_load(text, len, 2048);
	char *a, *b;

	if (!theirs != !ours)
		print_error("%.*s: jansson %s, ours %s\n", (int)len, text,
			    theirs ? "accepts" : e.text, ours ? "accepts" : "rejects");
	assert_true(!theirs == !ours);
	if (theirs) {
		a = dtf_json_dumps(theirs);
		b = dtf_json_dumps(ours);
		assert_string_equal(b, a);
		free(a);
		free(b);
	}
	json_decref(theirs);
	json_decref(ours);
}

static void test_json_reader(void **state)
{
	static const char *const texts[] = {
	    "{}",
	    "[]",
	    " [ ] ",
	    "[true,false,null]",
	    "{\"a\":1,\"b\":[1,2,{\"c\":\"d\"}]}",
	    "[0]",
	    "[-0]",
	    "[01]",
	    "[-]",
	    "[1.]",
	    "[.5]",
	    "[1e+5]",
	    "[1E-5]",
	    "[1e]",
	    "[-1.5e3]",
	    "[1E400]",
	    "[-1e400]",
	    "[1e-400]",
	    "[9223372036854775807]",
	    "[9223372036854775808]",
	    "[-9223372036854775808]",
	    "[-9223372036854775809]",
	    "[99999999999999999999999]",
	    "[0.1,0.2,3.14159265358979323846]",
	    "[123456789012345678901234567890.5]",
	    "[\"\\u00e9\\u00E9\\/\\b\\f\\n\\r\\t\\\\\\\"\"]",
	    "[\"\\ud83d\\ude00\"]",
	    "[\"\\ud800\"]",
	    "[\"\\udc00\"]",
	    "[\"\\ud800\\u0041\"]",
	    "[\"\\ud800x\"]",
	    "[\"\\u12\"]",
	    "[\"\\x\"]",
	    "[\"a\\u0000b\"]",
	    "{\"a\\u0000b\":1}",
	    "{\"a\":1,\"a\":2}",
	    "{\"a\\u0062\":1,\"ab\":2}",
	    "{\"k\\n\":\"v\\n\",\"k\":\"v\"}",
	    "1",
	    "\"s\"",
	    "null",
	    "[1]x",
	    "[1] ",
	    "[1,]",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{1:2}",
	    "[tru]",
	    "[nulll]",
	    "[",
	    "{",
	    "{\"a\":",
	    "[\"abc",
	    "[\"\t\"]",
	    "[\"\xc3\xa9\"]",
	    "[\"\xc3\"]",
	    "[\"\xc0\x80\"]",
	    "[\"\xed\xa0\x80\"]",
	    "[\"\xf4\x90\x80\x80\"]",
	    "[\"\xf0\x9f\x98\x80\"]",
	    "[\xc3\xa9]",
	    "\xef\xbb\xbf[]",
	    "[1 2]",
	    "[-a]",
	    "[+1]",
	    "[0x10]",
	    "[1.5.5]",
	    "[\"\x7f\"]",
	    "",
	    "  ",
	    "[]]",
	    "{}{}",
	};
	char deep[80];
	size_t i;
	json_t *v;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		load_like_jansson(texts[i], strlen(texts[i]));
	/* A NUL byte in the text, in and out of a string; a length short of the text. */
	load_like_jansson("[\"a\0b\"]", 7);
	load_like_jansson("[1,\0]", 5);
	load_like_jansson("[800\0,1]", 8);
	load_like_jansson("[0\0]", 4);
	load_like_jansson("[true\0]", 7);
	load_like_jansson("{\"a\":null\0}", 11);
	load_like_jansson("[1\0\0]", 5);
	load_like_jansson("[\"a\"\0]", 6);
	load_like_jansson("[1]\0", 4);
	load_like_jansson("[-\0]", 4);
	load_like_jansson("[12]", 3);
	load_like_jansson("[12]xyz", 4);
	/* The depth limit. */
	for (i = 0; i < 32; i++)
		deep[i] = '[';
	for (i = 32; i < 64; i++)
		deep[i] = ']';
	v = dtf_json_load(deep, 64, 32);
	assert_non_null(v);
	json_decref(v);
	assert_null(dtf_json_load(deep, 64, 31));
}

static void test_json_errors(void **state)
{
	char err[160];
	json_t *v;

	(void)state;
	assert_null(dtf_json_parse("{\"a\": }", 7, err, sizeof(err)));
	assert_string_equal(err, "line 1 column 7: unexpected token near '}'");
	assert_null(dtf_json_parse("[1,\n 2,,]", 9, err, sizeof(err)));
	assert_contains(err, "line 2 column 4: ");
	assert_null(dtf_json_parse("{\"a\": 1, \"a\": 2}", 16, err, sizeof(err)));
	assert_contains(err, "duplicate");
	assert_null(dtf_json_parse("", 0, err, sizeof(err)));
	assert_contains(err, "line 1");
	/* The length is honoured: what follows is not read. */
	v = dtf_json_parse("[1]garbage", 3, err, sizeof(err));
	assert_non_null(v);
	json_decref(v);
	/* NUL inside strings is kept (and checked by whoever uses the string). */
	v = dtf_json_parse("[\"a\\u0000b\"]", 12, err, sizeof(err));
	assert_non_null(v);
	assert_int_equal(json_string_length(json_array_get(v, 0)), 3);
	json_decref(v);
}

static void test_json_getters(void **state)
{
	json_t *o = json_pack("{ss si sf sb sn}", "s", "str", "i", 42, "f", 2.75, "b", 1, "n");
	char *text;

	(void)state;
	assert_string_equal(dtf_json_str(o, "s", "d"), "str");
	assert_string_equal(dtf_json_str(o, "i", "d"), "d");
	assert_string_equal(dtf_json_str(o, "missing", "d"), "d");
	assert_null(dtf_json_str(NULL, "s", NULL));
	assert_int_equal(dtf_json_int(o, "i", 0), 42);
	assert_int_equal(dtf_json_int(o, "f", 0), 2);
	assert_int_equal(dtf_json_int(o, "s", -1), -1);
	assert_true(dtf_json_num(o, "f", 0) == 2.75);
	assert_true(dtf_json_num(o, "i", 0) == 42);
	assert_true(dtf_json_num(o, "n", -1) == -1);
	assert_true(dtf_json_bool(o, "b", false));
	assert_false(dtf_json_bool(o, "i", false));
	text = dtf_json_dumps(o);
	assert_string_equal(text, "{\"s\":\"str\",\"i\":42,\"f\":2.75,\"b\":true,\"n\":null}");
	free(text);
	json_decref(o);
}

/* ---- util ---- */

static void test_rfc3339(void **state)
{
	/* 2026-01-31T12:00:00Z. */
	const int64_t base = 1769860800LL * 1000;
	int64_t ms = -1;
	char out[32];
	static const char *const bad[] = {
	    "",
	    "tomorrow",
	    "2026-01-31",
	    "2026-01-31T12:00:00",
	    "2026-01-31 12:00:00Z",
	    "2026-01-31T12:00:00Zjunk",
	    "2026-01-31T12:00:00+0200",
	    "2026-01-31T12:00:00+02:00x",
	    "2026-01-31T12:00:00+aa:bb",
	    "2026-01-31T12:00:00Y",
	    "2026-13-31T12:00:00Z",
	    "2026-01-31T25:00:00Z",
	    NULL,
	};
	int i;

	(void)state;
	assert_int_equal(dtf_parse_rfc3339("2026-01-31T12:00:00Z", &ms), 0);
	assert_int_equal(ms, base);
	assert_int_equal(dtf_parse_rfc3339("2026-01-31T12:00:00.5Z", &ms), 0);
	assert_int_equal(ms, base + 500);
	assert_int_equal(dtf_parse_rfc3339("2026-01-31T12:00:00.123456789Z", &ms), 0);
	assert_int_equal(ms, base + 123);
	assert_int_equal(dtf_parse_rfc3339("2026-01-31T14:30:00+02:30", &ms), 0);
	assert_int_equal(ms, base);
	assert_int_equal(dtf_parse_rfc3339("2026-01-31T07:00:00.250-05:00", &ms), 0);
	assert_int_equal(ms, base + 250);
	assert_int_equal(dtf_parse_rfc3339("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	for (i = 0; bad[i]; i++) {
		ms = 77;
		if (dtf_parse_rfc3339(bad[i], &ms) != DTF_EPARSE)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(dtf_parse_rfc3339(bad[i], &ms), DTF_EPARSE);
		assert_int_equal(ms, 77);
	}
	/* What dtf_rfc3339 writes parses back to the same instant. */
	dtf_rfc3339(base + 42, out);
	assert_string_equal(out, "2026-01-31T12:00:00.042Z");
	assert_int_equal(dtf_parse_rfc3339(out, &ms), 0);
	assert_int_equal(ms, base + 42);
}

static void test_valid_id(void **state)
{
	char id[80];

	(void)state;
	assert_true(dtf_valid_id("a"));
	assert_true(dtf_valid_id("Task_1.2-x"));
	memset(id, 'a', 64);
	id[64] = '\0';
	assert_true(dtf_valid_id(id));
	id[64] = 'a';
	id[65] = '\0';
	assert_false(dtf_valid_id(id));
	assert_false(dtf_valid_id(""));
	assert_false(dtf_valid_id(NULL));
	assert_false(dtf_valid_id("a b"));
	assert_false(dtf_valid_id("a/b"));
	assert_false(dtf_valid_id("../x"));
	assert_false(dtf_valid_id("caf\xc3\xa9"));
	assert_false(dtf_valid_id("x\n"));
}

static void test_parse_seconds(void **state)
{
	static const char *const bad[] = {"", "abc", "-1", "5x", "5mm", "5 m", "m", "1e400", NULL};
	double d = -1;
	int i;

	(void)state;
	assert_int_equal(dtf_parse_seconds("30", &d), 0);
	assert_true(d == 30);
	assert_int_equal(dtf_parse_seconds("30s", &d), 0);
	assert_true(d == 30);
	assert_int_equal(dtf_parse_seconds("5m", &d), 0);
	assert_true(d == 300);
	assert_int_equal(dtf_parse_seconds("2h", &d), 0);
	assert_true(d == 7200);
	assert_int_equal(dtf_parse_seconds("1.5m", &d), 0);
	assert_true(d == 90);
	assert_int_equal(dtf_parse_seconds("0", &d), 0);
	assert_true(d == 0);
	for (i = 0; bad[i]; i++) {
		d = 77;
		if (dtf_parse_seconds(bad[i], &d) != DTF_EPARSE)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(dtf_parse_seconds(bad[i], &d), DTF_EPARSE);
		assert_true(d == 77);
	}
}

/* ---- yaml ---- */

static json_t *yaml(const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return dtf_yaml_parse(text, strlen(text), "conf.yaml", err, errlen);
}

static void test_yaml_types(void **state)
{
	static const char text[] = "# dtf configuration\n"
				   "name: dtf\n"
				   "port: 8080\n"
				   "ratio: 0.5\n"
				   "neg: -3\n"
				   "on: true\n"
				   "off: no\n"
				   "nothing: ~\n"
				   "empty:\n"
				   "quoted: \"42\"\n"
				   "single: 'true'\n"
				   "list:\n"
				   "  - a\n"
				   "  - 2\n"
				   "  - {x: [1, {y: z}]}\n"
				   "nested:\n"
				   "  deeper:\n"
				   "    key: value\n";
	char err[256];
	json_t *v = yaml(text, err, sizeof(err)), *list;

	(void)state;
	if (!v)
		print_error("%s\n", err);
	assert_non_null(v);
	assert_true(json_is_object(v));
	assert_string_equal(dtf_json_str(v, "name", "?"), "dtf");
	assert_true(json_is_integer(json_object_get(v, "port")));
	assert_int_equal(dtf_json_int(v, "port", 0), 8080);
	assert_true(json_is_real(json_object_get(v, "ratio")));
	assert_true(dtf_json_num(v, "ratio", 0) == 0.5);
	assert_int_equal(dtf_json_int(v, "neg", 0), -3);
	assert_true(json_is_true(json_object_get(v, "on")));
	assert_true(json_is_false(json_object_get(v, "off")));
	assert_true(json_is_null(json_object_get(v, "nothing")));
	assert_true(json_is_null(json_object_get(v, "empty")));
	assert_string_equal(dtf_json_str(v, "quoted", "?"), "42");
	assert_string_equal(dtf_json_str(v, "single", "?"), "true");
	list = json_object_get(v, "list");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_array_get(list, 0)), "a");
	assert_int_equal(json_integer_value(json_array_get(list, 1)), 2);
	assert_string_equal(
	    dtf_json_str(json_array_get(json_object_get(json_array_get(list, 2), "x"), 1), "y",
			 "?"),
	    "z");
	assert_string_equal(
	    dtf_json_str(json_object_get(json_object_get(v, "nested"), "deeper"), "key", "?"),
	    "value");
	json_decref(v);

	/* Top-level sequences and scalars are values too; an empty text is an empty mapping. */
	v = yaml("- 1\n- two\n", err, sizeof(err));
	assert_true(json_is_array(v));
	assert_int_equal(json_array_size(v), 2);
	json_decref(v);
	v = yaml("", err, sizeof(err));
	assert_true(json_is_object(v));
	assert_int_equal(json_object_size(v), 0);
	json_decref(v);
	v = yaml("# only a comment\n", err, sizeof(err));
	assert_true(json_is_object(v));
	json_decref(v);
	/* An explicit but empty document is one null node, not an empty mapping. */
	v = yaml("---\n# only a comment\n", err, sizeof(err));
	assert_non_null(v);
	assert_true(json_is_null(v));
	json_decref(v);
}

static void test_yaml_errors(void **state)
{
	char err[256], *deep;
	struct dtf_buf b;
	int i;

	(void)state;
	assert_null(yaml("a: 1\nb: [1, 2\nc: 3\n", err, sizeof(err)));
	assert_contains(err, "conf.yaml:");
	assert_null(yaml("a: 1\n  b: 2\n", err, sizeof(err)));
	assert_contains(err, "conf.yaml:2: ");
	assert_null(yaml("a: 1\nb:\n\t- tab\n", err, sizeof(err)));
	assert_contains(err, "conf.yaml:3: ");
	/* Aliases are refused, wherever they appear. */
	assert_null(yaml("base: &b {x: 1}\nother: *b\n", err, sizeof(err)));
	assert_string_equal(err, "conf.yaml:2: aliases are not supported");
	assert_null(yaml("list:\n  - &a 1\n  - *a\n", err, sizeof(err)));
	assert_string_equal(err, "conf.yaml:3: aliases are not supported");
	assert_null(yaml("a: 1\n---\nb: 2\n", err, sizeof(err)));
	assert_string_equal(err, "conf.yaml:3: only one document is allowed");
	assert_null(yaml("? [1, 2]\n: x\n", err, sizeof(err)));
	assert_contains(err, "mapping keys must be plain strings");
	/* Nesting is bounded. */
	dtf_buf_init(&b, 1 << 16);
	for (i = 0; i < 40; i++)
		assert_int_equal(dtf_buf_adds(&b, "["), 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(dtf_buf_adds(&b, "]"), 0);
	deep = dtf_buf_detach(&b, NULL);
	assert_null(yaml(deep, err, sizeof(err)));
	assert_string_equal(err, "conf.yaml:1: nested too deeply");
	free(deep);
	/* Too large for a configuration file. */
	err[0] = '\0';
	assert_null(dtf_yaml_parse("a: 1", DTF_YAML_MAX_BYTES + 1, "big.yaml", err, sizeof(err)));
	assert_contains(err, "big.yaml: larger than");
}

static void test_yaml_load(void **state)
{
	char dir[] = "/tmp/dtf-test-common-XXXXXX", path[128], err[256];
	json_t *v;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dtf.yaml", dir);
	assert_int_equal(dtf_write_file(path, "port: 9\nbad: [\n", 16), 0);
	err[0] = '\0';
	assert_null(dtf_yaml_load(path, err, sizeof(err)));
	/* The file's own path names the error. */
	assert_contains(err, path);
	assert_int_equal(dtf_write_file(path, "port: 9\n", 8), 0);
	v = dtf_yaml_load(path, err, sizeof(err));
	assert_non_null(v);
	assert_int_equal(dtf_json_int(v, "port", 0), 9);
	json_decref(v);
	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	assert_null(dtf_yaml_load(path, err, sizeof(err)));
	assert_contains(err, "cannot read");
	assert_int_equal(dtf_rmtree(dir), 0);
}

static void test_yaml_key_line(void **state)
{
	static const char text[] = "coordinator:\n"
				   "  host: 0.0.0.0\n"
				   "  port: 8080\n"
				   "workers:\n"
				   "  - id: w1\n"
				   "    portable: yes\n";
	size_t len = strlen(text);

	(void)state;
	assert_int_equal(dtf_yaml_key_line(text, len, "coordinator"), 1);
	assert_int_equal(dtf_yaml_key_line(text, len, "port"), 3);
	assert_int_equal(dtf_yaml_key_line(text, len, "id"), 5);
	assert_int_equal(dtf_yaml_key_line(text, len, "portable"), 6);
	assert_int_equal(dtf_yaml_key_line(text, len, "missing"), 0);
	/* Only the first len bytes are looked at. */
	assert_int_equal(dtf_yaml_key_line(text, 20, "port"), 0);
	assert_int_equal(dtf_yaml_key_line("", 0, "port"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_split),
	    cmocka_unit_test(test_hmap_many_keys),
	    cmocka_unit_test(test_hmap_reserve_put_new),
	    cmocka_unit_test(test_hmap_borrowed),
	    cmocka_unit_test(test_hmap_churn),
	    cmocka_unit_test(test_buf_cap),
	    cmocka_unit_test(test_buf_grows),
	    cmocka_unit_test(test_buf_shquote),
	    cmocka_unit_test(test_json_depth),
	    cmocka_unit_test(test_json_writer),
	    cmocka_unit_test(test_json_reader),
	    cmocka_unit_test(test_json_errors),
	    cmocka_unit_test(test_json_getters),
	    cmocka_unit_test(test_rfc3339),
	    cmocka_unit_test(test_valid_id),
	    cmocka_unit_test(test_parse_seconds),
	    cmocka_unit_test(test_yaml_types),
	    cmocka_unit_test(test_yaml_errors),
	    cmocka_unit_test(test_yaml_load),
	    cmocka_unit_test(test_yaml_key_line),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
