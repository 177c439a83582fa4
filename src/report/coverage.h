/* coverage.h: line coverage read from lcov tracefiles (.info) and Cobertura XML reports, merged
 * per source file: a line counts as covered when any input saw it run. */
#ifndef DTF_REPORT_COVERAGE_H
#define DTF_REPORT_COVERAGE_H

#include <jansson.h>
#include <stddef.h>

#define DTF_COVERAGE_MAX_BYTES	   (64u << 20) /* a larger coverage file is refused */
#define DTF_COVERAGE_MAX_XML_BYTES (32u << 20) /* a Cobertura file is parsed into a tree */
#define DTF_COVERAGE_MAX_PATH	   4096	       /* a longer source path is refused */
#define DTF_COVERAGE_MAX_LINES	   (16u << 20) /* line records kept in one merge */

struct dtf_coverage;

/* A new, empty merge (free with dtf_coverage_free), or NULL when out of memory. */
struct dtf_coverage *dtf_coverage_new(void);
/* Frees a merge; NULL is fine. */
void dtf_coverage_free(struct dtf_coverage *c);

/* Adds an lcov tracefile (SF, DA, LF, LH, end_of_record; other records are ignored) held in
 * text[0..len). Either the whole file is added or nothing is: on error c is unchanged and err says
 * what and on which line. Returns 0, DTF_EPARSE, DTF_ETOOBIG or DTF_ENOMEM. */
int dtf_coverage_add_lcov(struct dtf_coverage *c, const char *text, size_t len, char *err,
			  size_t errlen);
/* Adds a Cobertura XML report (<class filename> with <lines><line number hits/>); no DTD, no
 * entities, no network. All or nothing, like dtf_coverage_add_lcov. */
int dtf_coverage_add_cobertura(struct dtf_coverage *c, const char *xml, size_t len, char *err,
			       size_t errlen);
/* Reads a file (at most DTF_COVERAGE_MAX_BYTES) and adds it as Cobertura when it starts with '<',
 * as lcov otherwise. Errors as above, plus DTF_ENOTFOUND and DTF_EIO. */
int dtf_coverage_add_file(struct dtf_coverage *c, const char *path, char *err, size_t errlen);

/* The merge as a new JSON object: {"lines_total", "lines_covered", "percent",
 * "files": [{"path", "lines_total", "lines_covered", "percent"}, …] sorted by path}. NULL when
 * out of memory. */
json_t *dtf_coverage_json(struct dtf_coverage *c);

#endif
