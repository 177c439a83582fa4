/* analyze.h: what `dtf ci` infers about a test from its file: the runner (pytest files,
 * CTest directories, go test packages) and the requirements (hardware from the libraries and
 * device names its code uses, not its comments; `--hardware X` or
 * `@pytest.mark.hardware("X")`-style markers, min_memory, browser, priority). An explicit `dtf:`
 * header always wins. */
#ifndef DTF_CI_ANALYZE_H
#define DTF_CI_ANALYZE_H

#include <jansson.h>
#include <stddef.h>

#define DTF_ANALYZE_MAX_BYTES (256u << 10) /* only the first 256 KiB of a file is read */

/* The comment syntax of a test file, so that what a comment says is not taken as evidence. */
enum dtf_lang {
	DTF_LANG_OTHER,	 /* unknown (or a binary): nothing is taken for a comment */
	DTF_LANG_PYTHON, /* `#` comments and docstrings */
	DTF_LANG_HASH,	 /* shell, Ruby, Perl, …: `#` comments (the #! line too) */
	DTF_LANG_C,	 /* C, C++, JS, TS, Go, Rust, Java, …: `//` and block comments */
};

/* The language of a file, from its name's extension, else its #! line (text: its first len
 * bytes; may be NULL). */
enum dtf_lang dtf_analyze_lang(const char *path, const char *text, size_t len);

/* Infers requirements from a file's text (len bytes, any content) written in lang; comments
 * (and Python docstrings) are left out first: hardware is inferred from code and markers only.
 * Returns a new object:
 *   {"hardware": ["cuda", …] (never empty; ["cpu"] when nothing else is found),
 *    "hardware_source": "content" | "marker",
 *    "min_memory": MiB, "browser": "chrome", "priority": 1..10,   (each only when found)
 *    "evidence": ["import torch + cuda", …]}.
 * NULL only when out of memory. */
json_t *dtf_analyze_text(const char *text, size_t len, enum dtf_lang lang);

/* Applies an analysis to a discovered task: sets hardware (any-of), requirements.memory,
 * params.browser and priority unless the task's `dtf:` header already set them. */
void dtf_analyze_apply(json_t *task, const json_t *analysis);

/* Discovers the tests of `dtf ci`: under dir, files matching pattern (default "test_*.py")
 * as dtf_discover() runs them, except that Python files written for pytest run under pytest
 * (with a JUnit report) when the worker has it and plain python3 otherwise; directories with
 * a CTestTestfile.cmake run `ctest --test-dir`; directories with *_test.go files run
 * `go test`. Each task gets params.file (its path as given on the command line) and
 * params.inferred (the analysis). files, when not NULL, is an explicit list of test files
 * (dir is ignored then). Returns the count or a negative DTF_E* code with err set. */
int dtf_ci_discover(const char *dir, const char *pattern, const json_t *files, json_t *tasks,
		    char *err, size_t errlen);

#endif
