/* prom.c: the Prometheus text format writer (see prom.h). */
#include "common/prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

static const char *const type_names[] = {"counter", "gauge", "histogram", "untyped"};

bool dtf_prom_valid_name(const char *s, bool label)
{
	size_t i;

	if (!s || !*s || strlen(s) >= DTF_PROM_NAME_MAX)
		return false;
	/* Label names starting with __ are reserved for Prometheus itself. */
	if (label && s[0] == '_' && s[1] == '_')
		return false;
	for (i = 0; s[i]; i++) {
		char ch = s[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
			  (!label && ch == ':') || (i > 0 && ch >= '0' && ch <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static int escape(struct dtf_buf *b, const char *s, bool quote)
{
	const char *run = s;
	int rc = 0;

	for (; *s && !rc; s++) {
		const char *rep = *s == '\\'	       ? "\\\\"
				  : *s == '\n'	       ? "\\n"
				  : quote && *s == '"' ? "\\\""
						       : NULL;
		if (!rep)
			continue;
		rc = dtf_buf_add(b, run, (size_t)(s - run)) || dtf_buf_adds(b, rep);
		run = s + 1;
	}
	if (!rc)
		rc = dtf_buf_adds(b, run);
	return rc ? DTF_ETOOBIG : 0;
}

int dtf_prom_escape_label(struct dtf_buf *b, const char *s)
{
	return escape(b, s ? s : "", true);
}

int dtf_prom_escape_help(struct dtf_buf *b, const char *s)
{
	return escape(b, s ? s : "", false);
}

void dtf_prom_init(struct dtf_prom *p, struct dtf_buf *out)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int fail(struct dtf_prom *p, int rc)
{
	if (!p->rc)
		p->rc = rc;
	return p->rc;
}

int dtf_prom_family(struct dtf_prom *p, const char *name, enum dtf_prom_type type, const char *help)
{
	uint64_t h;
	size_t i, start = p->out->len;

	if (p->rc)
		return p->rc;
	if (!dtf_prom_valid_name(name, false) || (unsigned)type > DTF_PROM_UNTYPED)
		return fail(p, DTF_EINVAL);
	h = hash(name);
	for (i = 0; i < p->nseen; i++)
		if (p->seen[i] == h)
			return fail(p, DTF_EINVAL);
	if (p->nseen == DTF_PROM_MAX_FAMILIES)
		return fail(p, DTF_ETOOBIG);
	p->seen[p->nseen++] = h;
	snprintf(p->family, sizeof(p->family), "%s", name);
	p->type = type;
	if (dtf_buf_printf(p->out, "# HELP %s ", name) || dtf_prom_escape_help(p->out, help) ||
	    dtf_buf_printf(p->out, "\n# TYPE %s %s\n", name, type_names[type])) {
		dtf_buf_truncate(p->out, start);
		return fail(p, DTF_ETOOBIG);
	}
	return 0;
}

/* Appends v as Prometheus reads it: integers in full, NaN, +Inf, -Inf, else 17 digits. */
static int value(struct dtf_buf *b, double v)
{
	if (isnan(v))
		return dtf_buf_adds(b, "NaN");
	if (isinf(v))
		return dtf_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 1e18)
		return dtf_buf_printf(b, "%.0f", v);
	return dtf_buf_printf(b, "%.17g", v);
}

static bool suffix_ok(enum dtf_prom_type type, const char *suffix, const char *const *labels)
{
	size_t i;

	if (type != DTF_PROM_HISTOGRAM)
		return !*suffix;
	if (strcmp(suffix, "_sum") == 0 || strcmp(suffix, "_count") == 0)
		return true;
	if (strcmp(suffix, "_bucket") != 0)
		return false;
	for (i = 0; labels && labels[i] && labels[i + 1]; i += 2)
		if (strcmp(labels[i], "le") == 0)
			return true;
	return false;
}

int dtf_prom_sample(struct dtf_prom *p, const char *suffix, const char *const *labels, double v)
{
	size_t i, start;
	int rc;

	if (p->rc)
		return p->rc;
	if (!suffix)
		suffix = "";
	if (!p->family[0] || !suffix_ok(p->type, suffix, labels))
		return fail(p, DTF_EINVAL);
	for (i = 0; labels && labels[i]; i += 2)
		if (!labels[i + 1] || !dtf_prom_valid_name(labels[i], true))
			return fail(p, DTF_EINVAL);
	start = p->out->len;
	rc = dtf_buf_adds(p->out, p->family) || dtf_buf_adds(p->out, suffix);
	for (i = 0; !rc && labels && labels[i]; i += 2)
		rc = dtf_buf_adds(p->out, i ? "," : "{") || dtf_buf_adds(p->out, labels[i]) ||
		     dtf_buf_adds(p->out, "=\"") || dtf_prom_escape_label(p->out, labels[i + 1]) ||
		     dtf_buf_adds(p->out, "\"");
	if (!rc && labels && labels[0])
		rc = dtf_buf_adds(p->out, "}");
	if (!rc)
		rc = dtf_buf_adds(p->out, " ") || value(p->out, v) || dtf_buf_adds(p->out, "\n");
	if (rc) {
		dtf_buf_truncate(p->out, start);
		return fail(p, DTF_ETOOBIG);
	}
	return 0;
}

int dtf_prom_single(struct dtf_prom *p, const char *name, enum dtf_prom_type type, const char *help,
		    double v)
{
	int rc = dtf_prom_family(p, name, type, help);

	return rc ? rc : dtf_prom_sample(p, NULL, NULL, v);
}

int dtf_prom_end(const struct dtf_prom *p)
{
	return p->rc;
}
