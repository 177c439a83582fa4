/* prom.h: a writer of the Prometheus text exposition format (version 0.0.4), which /metrics
 * serves. Every metric family is written once: its HELP and TYPE lines, then all its samples
 * together. Names are checked, help text and label values escaped (backslash, double quote,
 * newline), values written exactly (integers in full, NaN and +Inf as Prometheus spells them).
 *
 *	struct dtf_prom pm;
 *	dtf_prom_init(&pm, &out);
 *	dtf_prom_family(&pm, "dtf_tasks", DTF_PROM_GAUGE, "Tasks by status.");
 *	dtf_prom_sample(&pm, NULL, DTF_PROM_LABELS("status", "pending"), 3);
 *	dtf_prom_single(&pm, "dtf_leases_total", DTF_PROM_COUNTER, "Leases.", 10);
 *	rc = dtf_prom_end(&pm);
 *
 * Errors stick: after the first (a bad name, a family written twice, a sample outside its
 * family, a full buffer) nothing more is written and every call returns it. */
#ifndef DTF_PROM_H
#define DTF_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum dtf_prom_type { DTF_PROM_COUNTER, DTF_PROM_GAUGE, DTF_PROM_HISTOGRAM, DTF_PROM_UNTYPED };

#define DTF_PROM_MAX_FAMILIES 256
#define DTF_PROM_NAME_MAX     128

struct dtf_prom {
	struct dtf_buf *out;		      /* borrowed: where the text goes */
	enum dtf_prom_type type;	      /* of the open family */
	char family[DTF_PROM_NAME_MAX];	      /* the open family's name; "" before the first */
	uint64_t seen[DTF_PROM_MAX_FAMILIES]; /* hashes of the families begun, to refuse repeats */
	size_t nseen;
	int rc; /* the first error, 0 while none */
};

/* A label list for dtf_prom_sample: name, value, name, value, ... (a compound literal). */
#define DTF_PROM_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Starts writing to out (which it appends to; the caller owns it). */
void dtf_prom_init(struct dtf_prom *p, struct dtf_buf *out);
/* Begins a family: writes "# HELP name help" and "# TYPE name type". DTF_EINVAL for a name that
 * is not [a-zA-Z_:][a-zA-Z0-9_:]* or a family begun before. */
int dtf_prom_family(struct dtf_prom *p, const char *name, enum dtf_prom_type type,
		    const char *help);
/* Writes a sample of the open family: its name plus suffix (NULL or "" for counters, gauges
 * and untyped; "_bucket" with an "le" label, "_sum" or "_count" for a histogram), the labels
 * (pairs ended by NULL, or NULL for none) and the value. DTF_EINVAL with no family open, a
 * suffix the type does not have, a bad label name or an odd label list. */
int dtf_prom_sample(struct dtf_prom *p, const char *suffix, const char *const *labels,
		    double value);
/* A family of one unlabelled sample. */
int dtf_prom_single(struct dtf_prom *p, const char *name, enum dtf_prom_type type, const char *help,
		    double value);
/* Returns the first error (0 when everything was written). */
int dtf_prom_end(const struct dtf_prom *p);
/* Appends s escaped as a label value (backslash, double quote and newline as \\, \" and \n). */
int dtf_prom_escape_label(struct dtf_buf *b, const char *s);
/* Appends s escaped as HELP text (backslash and newline as \\ and \n). */
int dtf_prom_escape_help(struct dtf_buf *b, const char *s);
/* True for a valid metric name (colons allowed) or, with label true, label name. */
bool dtf_prom_valid_name(const char *s, bool label);

#endif
