/* config.c: the engine behind the commands' option tables (config.h): getopt, YAML, environment,
 * defaults, range checks, --help and the doc table, all from one struct dtf_opt array. */
#include "common/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "common/yaml.h"

struct dtf_config_list {
	const char **v; /* owned array; the strings are borrowed */
	size_t n, cap;
};

/* getopt_long values of long flags are 256 + the entry's index, above every short flag. */
#define LONG_BASE 256

static void errf(struct dtf_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one "cmd: reason" line to cfg->err; later lines are cut when it is full. */
static void errf(struct dtf_config *cfg, const char *fmt, ...)
{
	size_t used = strlen(cfg->err);
	va_list ap;
	int n;

	if (used + 1 >= sizeof(cfg->err))
		return;
	n = snprintf(cfg->err + used, sizeof(cfg->err) - used, "%s: ", cfg->cmd);
	if (n < 0 || (size_t)n >= sizeof(cfg->err) - used)
		return;
	used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(cfg->err + used, sizeof(cfg->err) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cfg->err) - used - 1)
		return;
	used += (size_t)n;
	cfg->err[used] = '\n';
	cfg->err[used + 1] = '\0';
}

static void *field(const struct dtf_config *cfg, size_t i)
{
	return (char *)cfg->base + cfg->opts[i].offset;
}

int dtf_config_init(struct dtf_config *cfg, const char *cmd, const struct dtf_opt *opts, size_t n,
		    void *base)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmd = cmd;
	cfg->opts = opts;
	cfg->n = n;
	cfg->base = base;
	cfg->src = calloc(n ? n : 1, sizeof(*cfg->src));
	cfg->lists = calloc(n ? n : 1, sizeof(*cfg->lists));
	return cfg->src && cfg->lists ? 0 : DTF_ENOMEM;
}

void dtf_config_release(struct dtf_config *cfg)
{
	size_t i;

	if (cfg->lists)
		for (i = 0; i < cfg->n; i++)
			free(cfg->lists[i].v);
	for (i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	free(cfg->lists);
	free(cfg->src);
	cfg->owned = NULL;
	cfg->lists = NULL;
	cfg->src = NULL;
	cfg->nowned = cfg->owned_cap = 0;
}

int dtf_config_find(const struct dtf_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n; i++) {
		const struct dtf_opt *o = &cfg->opts[i];
		if ((o->flag && strcmp(o->flag, name) == 0) ||
		    (o->alias && strcmp(o->alias, name) == 0) ||
		    (o->yaml && strcmp(o->yaml, name) == 0))
			return (int)i;
	}
	return -1;
}

enum dtf_opt_src dtf_config_source(const struct dtf_config *cfg, size_t i)
{
	return i < cfg->n ? cfg->src[i] : DTF_SRC_UNSET;
}

/* How messages name an entry set from src: its flag, its variable, or its YAML key. */
static void entry_name(const struct dtf_config *cfg, size_t i, enum dtf_opt_src src, char *out,
		       size_t len)
{
	const struct dtf_opt *o = &cfg->opts[i];

	if (src == DTF_SRC_ENV && o->env)
		snprintf(out, len, "%s", getenv(o->env) && *getenv(o->env) ? o->env : o->env_alt);
	else if (o->flag)
		snprintf(out, len, "%s--%s", src == DTF_SRC_DEFAULT ? "the default of " : "",
			 o->flag);
	else
		snprintf(out, len, "%s", o->yaml ? o->yaml : "?");
}

static int list_add(struct dtf_config *cfg, size_t i, const char *item, const char *name)
{
	struct dtf_config_list *l = &cfg->lists[i];
	const struct dtf_opt *o = &cfg->opts[i];

	if (o->max > 0 && (double)l->n >= o->max) {
		errf(cfg, "%s: at most %g values", name, o->max);
		return DTF_EINVAL;
	}
	/* One spare slot for the NULL that ends the list. */
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		const char **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			errf(cfg, "out of memory");
			return DTF_ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = item;
	l->v[l->n] = NULL;
	return 0;
}

static int own(struct dtf_config *cfg, char *s)
{
	if (!s)
		return DTF_ENOMEM;
	if (cfg->nowned == cfg->owned_cap) {
		size_t cap = cfg->owned_cap ? cfg->owned_cap * 2 : 4;
		char **v = realloc(cfg->owned, cap * sizeof(*v));
		if (!v) {
			free(s);
			return DTF_ENOMEM;
		}
		cfg->owned = v;
		cfg->owned_cap = cap;
	}
	cfg->owned[cfg->nowned++] = s;
	return 0;
}

static bool is_integer_type(enum dtf_opt_type t)
{
	return t == DTF_OPT_INT || t == DTF_OPT_UINT || t == DTF_OPT_SIZE;
}

/* Numbers always have a lower end (0 unless the table says otherwise); the upper one is optional
 * (max <= min: none). */
static bool has_range(const struct dtf_opt *o)
{
	return is_integer_type(o->type) || o->type == DTF_OPT_SECONDS;
}

/* Writes the range of a numeric entry as the doc and the messages show it. */
static void range_text(const struct dtf_opt *o, char *out, size_t len)
{
	if (!has_range(o))
		snprintf(out, len, "%s", "");
	else if (o->flags & DTF_OPTF_MIN_EXCLUSIVE)
		snprintf(out, len, o->max > o->min ? "> %.10g, at most %.10g" : "> %.10g", o->min,
			 o->max);
	else if (o->max > o->min)
		snprintf(out, len, "%.10g to %.10g", o->min, o->max);
	else
		snprintf(out, len, "at least %.10g", o->min);
}

/* Checks v against the entry's range and stores it in the field. */
static int store_number(struct dtf_config *cfg, size_t i, double v, const char *name)
{
	const struct dtf_opt *o = &cfg->opts[i];
	void *f = field(cfg, i);
	bool low = (o->flags & DTF_OPTF_MIN_EXCLUSIVE) ? !(v > o->min) : !(v >= o->min);
	bool high = o->max > o->min && v > o->max;

	if (has_range(o) && (low || high)) {
		char r[64];
		range_text(o, r, sizeof(r));
		errf(cfg, "%s: %.10g is out of range (%s)", name, v, r);
		return DTF_EINVAL;
	}
	switch (o->type) {
	case DTF_OPT_INT:
		if (v < INT_MIN || v > INT_MAX)
			goto range;
		*(int *)f = (int)v;
		break;
	case DTF_OPT_UINT:
		if (v < 0 || v > UINT_MAX)
			goto range;
		*(unsigned *)f = (unsigned)v;
		break;
	case DTF_OPT_SIZE:
		if (v < 0 || v > (double)SIZE_MAX)
			goto range;
		*(size_t *)f = (size_t)v;
		break;
	default:
		*(double *)f = v;
		break;
	}
	return 0;
range:
	errf(cfg, "%s: %g is out of range", name, v);
	return DTF_EINVAL;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on", NULL};
	static const char *const no[] = {"0", "false", "no", "off", NULL};
	int k;

	for (k = 0; yes[k]; k++)
		if (strcasecmp(s, yes[k]) == 0)
			return *out = true, 0;
	for (k = 0; no[k]; k++)
		if (strcasecmp(s, no[k]) == 0)
			return *out = false, 0;
	return DTF_EPARSE;
}

static int check_enum(struct dtf_config *cfg, size_t i, const char *s, const char *name)
{
	const struct dtf_opt *o = &cfg->opts[i];
	char list[256] = "";
	size_t k, used = 0;

	for (k = 0; o->values && o->values[k]; k++)
		if (strcmp(o->values[k], s) == 0)
			return 0;
	for (k = 0; o->values && o->values[k] && used < sizeof(list); k++) {
		int n =
		    snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "", o->values[k]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	errf(cfg, "%s: '%s' is not one of %s", name, s, list);
	return DTF_EINVAL;
}

/* Sets entry i from text; name says where the text came from in messages. */
static int set_text(struct dtf_config *cfg, size_t i, enum dtf_opt_src src, const char *text,
		    const char *name)
{
	const struct dtf_opt *o = &cfg->opts[i];
	void *f = field(cfg, i);
	char *end;
	double v;
	int rc = 0;

	if (o->type != DTF_OPT_LIST && src < cfg->src[i])
		return 0; /* a stronger source has set it */
	switch (o->type) {
	case DTF_OPT_BOOL: {
		bool b = true;
		/* A flag has no argument: it sets the option. */
		if (text && parse_bool(text, &b) != 0) {
			errf(cfg, "%s: '%s' is not a boolean (true or false)", name, text);
			return DTF_EINVAL;
		}
		*(bool *)f = b;
		break;
	}
	case DTF_OPT_INT:
	case DTF_OPT_UINT:
	case DTF_OPT_SIZE: {
		long long n;
		errno = 0;
		n = strtoll(text, &end, 10);
		if (end == text || *end || errno) {
			errf(cfg, "%s: '%s' is not a whole number", name, text);
			return DTF_EINVAL;
		}
		rc = store_number(cfg, i, (double)n, name);
		break;
	}
	case DTF_OPT_SECONDS:
		if (dtf_parse_seconds(text, &v) != 0) {
			/* A plain negative number gets the range's message, anything else this. */
			errno = 0;
			v = strtod(text, &end);
			if (end == text || *end || errno || !(v < 0)) {
				errf(cfg, "%s: '%s' is not a duration (seconds: 1.5, 30s, 2m, 1h)",
				     name, text);
				return DTF_EINVAL;
			}
		}
		rc = store_number(cfg, i, v, name);
		break;
	case DTF_OPT_ENUM:
		if (check_enum(cfg, i, text, name) != 0)
			return DTF_EINVAL;
		/* fall through */
	case DTF_OPT_STRING:
		*(const char **)f = text;
		break;
	case DTF_OPT_LIST:
		rc = list_add(cfg, i, text, name);
		break;
	case DTF_OPT_CUSTOM: {
		char why[512] = "";
		if (!o->parse) {
			errf(cfg, "%s: cannot be set here", name);
			return DTF_EINVAL;
		}
		if (o->parse(f, text, why, sizeof(why)) != 0) {
			errf(cfg, "%s: %s", name, why[0] ? why : "bad value");
			return DTF_EINVAL;
		}
		break;
	}
	}
	if (rc == 0 && src > cfg->src[i])
		cfg->src[i] = src;
	return rc;
}

int dtf_config_set(struct dtf_config *cfg, size_t i, enum dtf_opt_src src, const char *text)
{
	char name[160];

	if (i >= cfg->n)
		return DTF_EINVAL;
	cfg->err[0] = '\0';
	entry_name(cfg, i, src, name, sizeof(name));
	return set_text(cfg, i, src, text, name);
}

int dtf_config_parse_args(struct dtf_config *cfg, int argc, char **argv, int *first_arg)
{
	struct option *lo = calloc(2 * cfg->n + 1, sizeof(*lo));
	char *shorts = calloc(2 * cfg->n + 2, 1);
	size_t i, nlo = 0, ns = 0;
	int opt, rc = 0;

	cfg->err[0] = '\0';
	if (!lo || !shorts) {
		errf(cfg, "out of memory");
		rc = DTF_ENOMEM;
		goto out;
	}
	for (i = 0; i < cfg->n; i++) {
		const struct dtf_opt *o = &cfg->opts[i];
		int has_arg = o->type == DTF_OPT_BOOL ? no_argument : required_argument;
		if (o->flag)
			lo[nlo++] = (struct option){o->flag, has_arg, NULL, LONG_BASE + (int)i};
		if (o->alias)
			lo[nlo++] = (struct option){o->alias, has_arg, NULL, LONG_BASE + (int)i};
		if (o->short_flag) {
			shorts[ns++] = (char)o->short_flag;
			if (has_arg == required_argument)
				shorts[ns++] = ':';
		}
	}
	/* 0, not 1: glibc then also forgets the state of an earlier scan left half-way. */
	optind = 0;
	while ((opt = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		char name[160];
		size_t k = cfg->n;
		if (opt >= LONG_BASE) {
			k = (size_t)(opt - LONG_BASE);
		} else if (opt != '?' && opt != ':') {
			for (k = 0; k < cfg->n && cfg->opts[k].short_flag != opt; k++)
				;
		}
		if (k >= cfg->n) {
			rc = DTF_EINVAL; /* getopt said what it was */
			continue;
		}
		entry_name(cfg, k, DTF_SRC_FLAG, name, sizeof(name));
		if (set_text(cfg, k, DTF_SRC_FLAG,
			     cfg->opts[k].type == DTF_OPT_BOOL ? NULL : optarg, name) != 0)
			rc = DTF_EINVAL;
	}
	if (first_arg)
		*first_arg = optind;
out:
	free(lo);
	free(shorts);
	return rc;
}

/* Sets entry i from a YAML value; label is "file:line: key 'k'". */
static int set_json(struct dtf_config *cfg, size_t i, const json_t *v, const char *label)
{
	const struct dtf_opt *o = &cfg->opts[i];
	const char *want;
	size_t k;
	const json_t *e;

	switch (o->type) {
	case DTF_OPT_BOOL:
		want = "true or false";
		if (!json_is_boolean(v))
			goto wrong;
		if (DTF_SRC_YAML >= cfg->src[i]) {
			*(bool *)field(cfg, i) = json_is_true(v);
			cfg->src[i] = DTF_SRC_YAML;
		}
		return 0;
	case DTF_OPT_INT:
	case DTF_OPT_UINT:
	case DTF_OPT_SIZE:
		want = "a whole number";
		if (!json_is_integer(v))
			goto wrong;
		if (DTF_SRC_YAML < cfg->src[i])
			return 0;
		if (store_number(cfg, i, (double)json_integer_value(v), label) != 0)
			return DTF_EINVAL;
		cfg->src[i] = DTF_SRC_YAML;
		return 0;
	case DTF_OPT_SECONDS:
		want = "a number of seconds";
		if (!json_is_number(v))
			goto wrong;
		if (DTF_SRC_YAML < cfg->src[i])
			return 0;
		if (store_number(cfg, i, json_number_value(v), label) != 0)
			return DTF_EINVAL;
		cfg->src[i] = DTF_SRC_YAML;
		return 0;
	case DTF_OPT_STRING:
	case DTF_OPT_ENUM:
		want = "a string";
		if (!json_is_string(v))
			goto wrong;
		return set_text(cfg, i, DTF_SRC_YAML, json_string_value(v), label);
	case DTF_OPT_LIST:
		want = "a list of strings";
		if (!json_is_array(v))
			goto wrong;
		json_array_foreach(v, k, e) {
			if (!json_is_string(e))
				goto wrong;
		}
		json_array_foreach(v, k, e) {
			if (set_text(cfg, i, DTF_SRC_YAML, json_string_value(e), label) != 0)
				return DTF_EINVAL;
		}
		return 0;
	case DTF_OPT_CUSTOM:
		want = "a command-line flag";
		goto wrong;
	}
	return 0;
wrong:
	/* "has a value of the wrong type" is the wording docs/configuration.md quotes. */
	errf(cfg, "%s has a value of the wrong type (wants %s)", label, want);
	return DTF_EINVAL;
}

int dtf_config_load_yaml(struct dtf_config *cfg, const json_t *doc, const char *section,
			 const char *const *others, const char *path, const char *text, size_t len)
{
	const json_t *sec = section ? json_object_get(doc, section) : NULL;
	const char *k;
	json_t *v;
	size_t plen = section ? strlen(section) : 0;
	int rc = 0;

	cfg->err[0] = '\0';
	if (!json_is_object(doc)) {
		errf(cfg, "%s: the config must be a mapping", path);
		return DTF_EINVAL;
	}
	if (!sec)
		sec = doc;
	if (!json_is_object(sec)) {
		errf(cfg, "%s:%d: key '%s' has a value of the wrong type (wants a mapping)", path,
		     dtf_yaml_key_line(text, len, section), section);
		return DTF_EINVAL;
	}
	json_object_foreach((json_t *)sec, k, v) {
		char label[512];
		size_t i, j;
		bool other = false;

		for (j = 0; others && others[j]; j++)
			if (strcmp(others[j], k) == 0)
				other = true;
		/* The section itself at the top level, beside other parts' keys. */
		if (other || (sec == doc && section && strcmp(k, section) == 0))
			continue;
		for (i = 0; i < cfg->n; i++) {
			const char *y = cfg->opts[i].yaml;
			if (!y || (cfg->opts[i].flags & DTF_OPTF_YAML_ELSEWHERE))
				continue;
			if (section && strncmp(y, section, plen) == 0 && y[plen] == '.')
				y += plen + 1;
			if (strcmp(y, k) == 0)
				break;
		}
		snprintf(label, sizeof(label), "%s:%d: key '%s'", path,
			 dtf_yaml_key_line(text, len, k), k);
		if (i == cfg->n) {
			errf(cfg, "%s:%d: unknown key '%s'", path, dtf_yaml_key_line(text, len, k),
			     k);
			rc = DTF_EINVAL;
			continue;
		}
		if (set_json(cfg, i, v, label) != 0)
			rc = DTF_EINVAL;
	}
	return rc;
}

int dtf_config_load_env(struct dtf_config *cfg)
{
	size_t i;
	int rc = 0;

	cfg->err[0] = '\0';
	for (i = 0; i < cfg->n; i++) {
		const struct dtf_opt *o = &cfg->opts[i];
		const char *name = o->env, *val = o->env ? getenv(o->env) : NULL;
		if (!val || !*val) {
			name = o->env_alt;
			val = o->env_alt ? getenv(o->env_alt) : NULL;
		}
		if (!val || !*val)
			continue;
		if (o->type == DTF_OPT_LIST && (o->flags & DTF_OPTF_ENV_SPLIT)) {
			char *copy = strdup(val), *save = NULL, *tok;
			if (own(cfg, copy) != 0) {
				errf(cfg, "out of memory");
				return DTF_ENOMEM;
			}
			for (tok = strtok_r(copy, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				if (set_text(cfg, i, DTF_SRC_ENV, tok, name) != 0)
					rc = DTF_EINVAL;
		} else if (set_text(cfg, i, DTF_SRC_ENV, val, name) != 0) {
			rc = DTF_EINVAL;
		}
	}
	return rc;
}

int dtf_config_finish(struct dtf_config *cfg)
{
	size_t i;
	int rc = 0;

	cfg->err[0] = '\0';
	for (i = 0; i < cfg->n; i++) {
		const struct dtf_opt *o = &cfg->opts[i];
		if (o->type == DTF_OPT_LIST) {
			*(const char *const **)field(cfg, i) =
			    cfg->lists[i].n ? cfg->lists[i].v : NULL;
			continue;
		}
		if (cfg->src[i] != DTF_SRC_UNSET || !o->def)
			continue;
		if (dtf_config_set(cfg, i, DTF_SRC_DEFAULT, o->def) != 0)
			rc = DTF_EINVAL;
	}
	return rc;
}

/* ---- --help and the doc table ---- */

static const char *type_name(const struct dtf_opt *o)
{
	switch (o->type) {
	case DTF_OPT_BOOL:
		return "bool";
	case DTF_OPT_INT:
	case DTF_OPT_UINT:
		return "integer";
	case DTF_OPT_SIZE:
		return "bytes";
	case DTF_OPT_SECONDS:
		return "seconds";
	case DTF_OPT_STRING:
	case DTF_OPT_CUSTOM:
		return "string";
	case DTF_OPT_ENUM:
		return "enum";
	case DTF_OPT_LIST:
		return "list";
	}
	return "?";
}

/* Writes text wrapped at 100 columns, continuation lines indented by indent. col is the column
 * the first word starts at. */
static void wrap(FILE *f, const char *text, int col, int indent)
{
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");
		int width = 0;
		size_t k;
		/* Count UTF-8 lead bytes only, so "…" takes one column. */
		for (k = 0; k < w; k++)
			width += ((unsigned char)p[k] & 0xC0) != 0x80;
		if (col > indent && col + 1 + width > 100) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, w, f);
		col += width;
		p += w;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

/* Columns that s takes: UTF-8 continuation bytes take none, so "…" counts one. */
static int display_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* The help line with what --help adds to it: the alias, the default and the variables. */
static void help_line(const struct dtf_opt *o, char *out, size_t len)
{
	const char *sep = " (";
	size_t used;

	snprintf(out, len, "%s", o->help);
	used = strlen(out);
#define ADD(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(out + used, len - used, __VA_ARGS__);                            \
		if (n_ > 0 && (size_t)n_ < len - used)                                             \
			used += (size_t)n_;                                                        \
		sep = "; ";                                                                        \
	} while (0)
	if (o->alias)
		ADD("%salso --%s", sep, o->alias);
	if (o->def && o->type != DTF_OPT_BOOL)
		ADD("%sdefault %s", sep, o->def);
	if (o->env)
		ADD("%s$%s", sep, o->env);
	if (o->env_alt)
		ADD(" or $%s", o->env_alt);
	if (sep[0] == ';')
		ADD(")");
#undef ADD
}

void dtf_config_usage(const struct dtf_opt *opts, size_t n, const char *cmd, FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [options]\n", cmd);
	for (i = 0; i < n; i++) {
		const struct dtf_opt *o = &opts[i];
		char left[128], help[1024];
		int len;
		if (!o->flag || (o->flags & DTF_OPTF_HIDDEN))
			continue;
		if (o->short_flag)
			len = snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->short_flag,
				       o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			len = snprintf(left, sizeof(left), "  --%s%s%s", o->flag, o->arg ? " " : "",
				       o->arg ? o->arg : "");
		help_line(o, help, sizeof(help));
		fputs(left, f);
		len = display_width(left);
		if (len > 26) {
			fprintf(f, "\n%28s", "");
			len = 28;
		} else {
			fprintf(f, "%*s", 28 - len, "");
			len = 28;
		}
		/* The first word is written at column 28 by wrap(), which adds no space there. */
		wrap(f, help, len, 28);
	}
}

/* Writes s for a markdown table cell: '|' escaped, '<' and '>' as entities (not HTML tags). */
static void cell(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '|')
			fputs("\\|", f);
		else
			fputc(*s, f);
	}
}

void dtf_config_doc(const struct dtf_opt *opts, size_t n, FILE *f)
{
	size_t i, k;

	fputs("| Flag | YAML key | Environment | Type | Range | Default | Meaning |\n", f);
	fputs("| --- | --- | --- | --- | --- | --- | --- |\n", f);
	for (i = 0; i < n; i++) {
		const struct dtf_opt *o = &opts[i];
		char range[96] = "";
		if (o->flags & DTF_OPTF_HIDDEN)
			continue;
		fputs("| ", f);
		if (o->flag)
			fprintf(f, "`--%s%s%s`", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
		if (o->alias)
			fprintf(f, ", `--%s`", o->alias);
		fputs(" | ", f);
		if (o->yaml)
			fprintf(f, "`%s`", o->yaml);
		fputs(" | ", f);
		if (o->env)
			fprintf(f, "`%s`", o->env);
		if (o->env_alt)
			fprintf(f, ", `%s`", o->env_alt);
		fprintf(f, " | %s | ", type_name(o));
		if (o->type == DTF_OPT_ENUM) {
			for (k = 0; o->values && o->values[k]; k++)
				fprintf(f, "%s`%s`", k ? ", " : "", o->values[k]);
		} else if (o->type == DTF_OPT_LIST) {
			if (o->max > 0)
				fprintf(f, "at most %g", o->max);
		} else if (is_integer_type(o->type) || o->type == DTF_OPT_SECONDS) {
			range_text(o, range, sizeof(range));
			fputs(range, f);
		}
		fputs(" | ", f);
		if (o->def)
			fprintf(f, "`%s`", o->def);
		fputs(" | ", f);
		cell(f, o->help);
		fputs(" |\n", f);
	}
}
