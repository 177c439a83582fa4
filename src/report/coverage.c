/* coverage.c: reads lcov tracefiles and Cobertura XML reports and merges their line coverage per
 * source file. Each input is parsed into a merge of its own first and folded into the caller's
 * only when it parsed whole, so a bad file adds nothing. Hostile input is bounded: file size,
 * path length, line records, XML nesting; the XML parser reads no DTD, entity or network. */
#include "report/coverage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "common/err.h"
#include "common/hmap.h"
#include "common/util.h"
#include "common/xml.h"
#include "report/view.h"

#define MAX_XML_DEPTH 64

struct cov_line {
	uint32_t line;
	uint64_t hits;
};

struct cov_file {
	char *path;
	struct cov_line *lines; /* in input order; sorted and folded when written out */
	size_t n, alloc;
	uint64_t lf, lh; /* lcov's own totals, used only for a file without DA records */
	bool has_totals;
};

struct dtf_coverage {
	struct dtf_hmap index; /* path -> struct cov_file * (owned through files) */
	struct cov_file **files;
	size_t nfiles, alloc;
	size_t nlines; /* line records held, checked against DTF_COVERAGE_MAX_LINES */
};

struct dtf_coverage *dtf_coverage_new(void)
{
	struct dtf_coverage *c = calloc(1, sizeof(*c));

	if (c)
		dtf_hmap_init(&c->index);
	return c;
}

void dtf_coverage_free(struct dtf_coverage *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nfiles; i++) {
		free(c->files[i]->path);
		free(c->files[i]->lines);
		free(c->files[i]);
	}
	free(c->files);
	dtf_hmap_release(&c->index);
	free(c);
}

/* The entry of path (len bytes), created when new; NULL when out of memory. */
static struct cov_file *file_get(struct dtf_coverage *c, const char *path, size_t len)
{
	struct cov_file *f;
	char *key = malloc(len + 1);

	if (!key)
		return NULL;
	memcpy(key, path, len);
	key[len] = '\0';
	f = dtf_hmap_get(&c->index, key);
	if (f) {
		free(key);
		return f;
	}
	if (c->nfiles == c->alloc) {
		size_t na = c->alloc ? c->alloc * 2 : 16;
		struct cov_file **nf = realloc(c->files, na * sizeof(*nf));

		if (!nf)
			goto fail;
		c->files = nf;
		c->alloc = na;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		goto fail;
	f->path = key;
	if (dtf_hmap_put(&c->index, key, f)) {
		free(f);
		goto fail;
	}
	c->files[c->nfiles++] = f;
	return f;
fail:
	free(key);
	return NULL;
}

static int line_add(struct dtf_coverage *c, struct cov_file *f, uint32_t line, uint64_t hits)
{
	if (c->nlines >= DTF_COVERAGE_MAX_LINES)
		return DTF_ETOOBIG;
	if (f->n == f->alloc) {
		size_t na = f->alloc ? f->alloc * 2 : 64;
		struct cov_line *nl = realloc(f->lines, na * sizeof(*nl));

		if (!nl)
			return DTF_ENOMEM;
		f->lines = nl;
		f->alloc = na;
	}
	f->lines[f->n].line = line;
	f->lines[f->n].hits = hits;
	f->n++;
	c->nlines++;
	return 0;
}

/* Folds src into dst; src is left as it was. */
static int merge_into(struct dtf_coverage *dst, const struct dtf_coverage *src)
{
	size_t i, j;
	int rc;

	if (dst->nlines + src->nlines > DTF_COVERAGE_MAX_LINES)
		return DTF_ETOOBIG;
	for (i = 0; i < src->nfiles; i++) {
		const struct cov_file *s = src->files[i];
		struct cov_file *d = file_get(dst, s->path, strlen(s->path));

		if (!d)
			return DTF_ENOMEM;
		for (j = 0; j < s->n; j++) {
			rc = line_add(dst, d, s->lines[j].line, s->lines[j].hits);
			if (rc)
				return rc;
		}
		if (s->has_totals) {
			/* Without line records, totals can only be combined by keeping the best. */
			if (!d->has_totals || s->lh > d->lh)
				d->lh = s->lh, d->lf = s->lf;
			d->has_totals = true;
		}
	}
	return 0;
}

/* Parses a decimal unsigned integer filling the whole of s[0..len); saturates past UINT64_MAX
 * when saturate is set, else fails. */
static bool parse_u64(const char *s, size_t len, bool saturate, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			if (!saturate)
				return false;
			v = UINT64_MAX;
			continue;
		}
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool parse_line_no(const char *s, size_t len, uint32_t *out)
{
	uint64_t v;

	if (!parse_u64(s, len, false, &v) || v == 0 || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* ---- lcov ---- */

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/* True for "KEY:" records this reader skips (TN, FN, FNDA, BRDA, …). */
static bool other_record(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && ((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'); i++)
		;
	return i > 0 && i < len && s[i] == ':';
}

static int parse_lcov(struct dtf_coverage *c, const char *text, size_t len, char *err,
		      size_t errlen)
{
	struct cov_file *cur = NULL;
	size_t pos = 0, lineno = 0;
	bool any = false;
	int rc = 0;

	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "not an lcov tracefile: it holds NUL bytes");
		return DTF_EPARSE;
	}
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n && s[n - 1] == '\r')
			n--;
		while (n && (s[0] == ' ' || s[0] == '\t'))
			s++, n--;
		if (n == 0)
			continue;
		if (starts(s, n, "SF:")) {
			if (n - 3 == 0 || n - 3 > DTF_COVERAGE_MAX_PATH) {
				snprintf(err, errlen, "line %zu: SF needs a path of 1..%d bytes",
					 lineno, DTF_COVERAGE_MAX_PATH);
				return DTF_EPARSE;
			}
			cur = file_get(c, s + 3, n - 3);
			if (!cur)
				return DTF_ENOMEM;
			any = true;
		} else if (starts(s, n, "DA:")) {
			const char *comma = memchr(s + 3, ',', n - 3), *end;
			uint32_t line;
			uint64_t hits;

			if (!cur) {
				snprintf(err, errlen, "line %zu: DA outside an SF record", lineno);
				return DTF_EPARSE;
			}
			end = comma ? memchr(comma + 1, ',', (size_t)(s + n - comma - 1)) : NULL;
			if (!end)
				end = s + n;
			if (!comma || !parse_line_no(s + 3, (size_t)(comma - s - 3), &line) ||
			    !parse_u64(comma + 1, (size_t)(end - comma - 1), true, &hits)) {
				snprintf(err, errlen,
					 "line %zu: DA wants <line>,<count> with a line >= 1 and a "
					 "count >= 0",
					 lineno);
				return DTF_EPARSE;
			}
			rc = line_add(c, cur, line, hits);
			if (rc) {
				snprintf(err, errlen, "line %zu: %s", lineno,
					 rc == DTF_ETOOBIG ? "too many line records"
							   : "out of memory");
				return rc;
			}
		} else if (starts(s, n, "LF:") || starts(s, n, "LH:")) {
			uint64_t v;

			if (!cur) {
				snprintf(err, errlen, "line %zu: %.2s outside an SF record", lineno,
					 s);
				return DTF_EPARSE;
			}
			if (!parse_u64(s + 3, n - 3, false, &v) || v > UINT32_MAX) {
				snprintf(err, errlen, "line %zu: %.2s wants a count", lineno, s);
				return DTF_EPARSE;
			}
			if (s[1] == 'F')
				cur->lf = v;
			else
				cur->lh = v;
			cur->has_totals = true;
		} else if (n == 13 && memcmp(s, "end_of_record", 13) == 0) {
			cur = NULL;
		} else if (!other_record(s, n)) {
			snprintf(err, errlen, "line %zu: not an lcov record", lineno);
			return DTF_EPARSE;
		}
	}
	if (!any) {
		snprintf(err, errlen, "no SF record: not an lcov tracefile");
		return DTF_EPARSE;
	}
	return 0;
}

/* Parses one input with parse into a merge of its own and folds that into c only when the
 * whole input parsed, so a bad file adds nothing. */
static int add_parsed(struct dtf_coverage *c,
		      int (*parse)(struct dtf_coverage *, const char *, size_t, char *, size_t),
		      const char *text, size_t len, char *err, size_t errlen)
{
	struct dtf_coverage *tmp = dtf_coverage_new();
	int rc;

	if (!tmp)
		return DTF_ENOMEM;
	rc = parse(tmp, text, len, err, errlen);
	if (!rc) {
		rc = merge_into(c, tmp);
		if (rc)
			snprintf(err, errlen, "%s",
				 rc == DTF_ETOOBIG ? "too many line records" : "out of memory");
	}
	dtf_coverage_free(tmp);
	return rc;
}

int dtf_coverage_add_lcov(struct dtf_coverage *c, const char *text, size_t len, char *err,
			  size_t errlen)
{
	if (len > DTF_COVERAGE_MAX_BYTES) {
		snprintf(err, errlen, "lcov file too large (%zu bytes, at most %u)", len,
			 DTF_COVERAGE_MAX_BYTES);
		return DTF_ETOOBIG;
	}
	return add_parsed(c, parse_lcov, text, len, err, errlen);
}

/* ---- Cobertura ---- */

/* Adds the <line> elements of one <class>. */
static int cob_class(struct dtf_coverage *c, xmlNode *cls, char *err, size_t errlen)
{
	xmlChar *file = xmlGetProp(cls, BAD_CAST "filename");
	struct cov_file *f;
	xmlNode *lines, *l;
	size_t flen;
	int rc = 0;

	if (!file) {
		snprintf(err, errlen, "a <class> has no filename");
		rc = DTF_EPARSE;
		goto out;
	}
	flen = strlen((const char *)file);
	if (flen == 0 || flen > DTF_COVERAGE_MAX_PATH) {
		snprintf(err, errlen, "a <class> filename must be 1..%d bytes",
			 DTF_COVERAGE_MAX_PATH);
		rc = DTF_EPARSE;
		goto out;
	}
	f = file_get(c, (const char *)file, flen);
	if (!f) {
		rc = DTF_ENOMEM;
		goto out;
	}
	for (lines = cls->children; lines; lines = lines->next) {
		if (!dtf_xml_is_element(lines, "lines"))
			continue;
		for (l = lines->children; l; l = l->next) {
			xmlChar *num, *hits;
			uint32_t line = 0;
			uint64_t h = 0;
			bool ok;

			if (!dtf_xml_is_element(l, "line"))
				continue;
			num = xmlGetProp(l, BAD_CAST "number");
			hits = xmlGetProp(l, BAD_CAST "hits");
			ok = num && hits &&
			     parse_line_no((const char *)num, strlen((const char *)num), &line) &&
			     parse_u64((const char *)hits, strlen((const char *)hits), true, &h);
			xmlFree(num);
			xmlFree(hits);
			if (!ok) {
				snprintf(err, errlen,
					 "line %ld: <line> wants number >= 1 and hits >= 0",
					 (long)xmlGetLineNo(l));
				rc = DTF_EPARSE;
				goto out;
			}
			rc = line_add(c, f, line, h);
			if (rc) {
				snprintf(err, errlen, "%s",
					 rc == DTF_ETOOBIG ? "too many line records"
							   : "out of memory");
				goto out;
			}
		}
	}
out:
	xmlFree(file);
	return rc;
}

/* Finds the <class> elements under node (packages/package/classes/class in the DTD; anywhere
 * here, since writers differ). */
static int cob_walk(struct dtf_coverage *c, xmlNode *node, int depth, char *err, size_t errlen)
{
	xmlNode *k;
	int rc = 0;

	if (depth > MAX_XML_DEPTH) {
		snprintf(err, errlen, "elements nested deeper than %d", MAX_XML_DEPTH);
		return DTF_EPARSE;
	}
	for (k = node->children; k && !rc; k = k->next) {
		if (dtf_xml_is_element(k, "class"))
			rc = cob_class(c, k, err, errlen);
		else if (k->type == XML_ELEMENT_NODE)
			rc = cob_walk(c, k, depth + 1, err, errlen);
	}
	return rc;
}

static int parse_cobertura(struct dtf_coverage *c, const char *xml, size_t len, char *err,
			   size_t errlen)
{
	bool refused_dtd;
	xmlDocPtr doc = NULL;
	xmlNode *root;
	int rc = DTF_EPARSE;

	if (memchr(xml, '\0', len)) {
		snprintf(err, errlen, "not a Cobertura report: it holds NUL bytes");
		goto out;
	}
	rc = dtf_xml_parse(xml, len, &doc, &refused_dtd);
	if (refused_dtd) {
		snprintf(err, errlen, "Cobertura reports with a DOCTYPE are refused");
		goto out;
	}
	if (rc == DTF_EPARSE) {
		snprintf(err, errlen, "not well-formed XML");
		goto out;
	}
	if (rc)
		goto out;
	rc = DTF_EPARSE;
	root = xmlDocGetRootElement(doc);
	if (!root || !dtf_xml_is_element(root, "coverage")) {
		snprintf(err, errlen, "not a Cobertura report: the root is not <coverage>");
		goto out;
	}
	rc = cob_walk(c, root, 0, err, errlen);
out:
	xmlFreeDoc(doc);
	return rc;
}

int dtf_coverage_add_cobertura(struct dtf_coverage *c, const char *xml, size_t len, char *err,
			       size_t errlen)
{
	if (len > DTF_COVERAGE_MAX_XML_BYTES) {
		snprintf(err, errlen, "Cobertura file too large (%zu bytes, at most %u)", len,
			 DTF_COVERAGE_MAX_XML_BYTES);
		return DTF_ETOOBIG;
	}
	return add_parsed(c, parse_cobertura, xml, len, err, errlen);
}

int dtf_coverage_add_file(struct dtf_coverage *c, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, i = 0;
	int rc = dtf_read_file(path, DTF_COVERAGE_MAX_BYTES, &text, &len);

	if (rc) {
		snprintf(err, errlen, "cannot read %s: %s", path, dtf_strerror(rc));
		return rc;
	}
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	if (i + 3 <= len && memcmp(text + i, "\xef\xbb\xbf", 3) == 0)
		i += 3;
	if (i < len && text[i] == '<')
		rc = dtf_coverage_add_cobertura(c, text, len, err, errlen);
	else
		rc = dtf_coverage_add_lcov(c, text, len, err, errlen);
	free(text);
	return rc;
}

/* ---- output ---- */

static int cmp_line(const void *a, const void *b)
{
	const struct cov_line *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

static int cmp_file(const void *a, const void *b)
{
	const struct cov_file *const *x = a, *const *y = b;

	return strcmp((*x)->path, (*y)->path);
}

json_t *dtf_coverage_json(struct dtf_coverage *c)
{
	json_t *files = json_array(), *out = NULL;
	uint64_t total = 0, covered = 0;
	size_t i, j;

	if (!files)
		return NULL;
	if (c->nfiles)
		qsort(c->files, c->nfiles, sizeof(*c->files), cmp_file);
	for (i = 0; i < c->nfiles; i++) {
		struct cov_file *f = c->files[i];
		uint64_t ft = 0, fc = 0;
		json_t *path, *o;

		if (f->n) {
			qsort(f->lines, f->n, sizeof(*f->lines), cmp_line);
			for (j = 0; j < f->n;) {
				uint32_t line = f->lines[j].line;
				bool hit = false;

				for (; j < f->n && f->lines[j].line == line; j++)
					hit = hit || f->lines[j].hits > 0;
				ft++;
				fc += hit;
			}
		} else if (f->has_totals) {
			ft = f->lf;
			fc = f->lh < f->lf ? f->lh : f->lf;
		}
		total += ft;
		covered += fc;
		path = report_string(f->path);
		o = path ? json_pack("{so sI sI sf}", "path", path, "lines_total", (json_int_t)ft,
				     "lines_covered", (json_int_t)fc, "percent",
				     report_pct((double)fc, (double)ft))
			 : NULL;
		if (!o || json_array_append_new(files, o))
			goto out;
	}
	out = json_pack("{sI sI sf sO}", "lines_total", (json_int_t)total, "lines_covered",
			(json_int_t)covered, "percent", report_pct((double)covered, (double)total),
			"files", files);
out:
	json_decref(files);
	return out;
}
