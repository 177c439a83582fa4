/* template.h: a small logic-less template language for messages (notifications to chat, email,
 * issue trackers), a subset of Mustache (https://mustache.github.io/mustache.5.html):
 *
 *   {{name}}        the value of name, escaped for the target (see enum dtf_tpl_escape)
 *   {{{name}}}      the value, not escaped; {{& name}} is the same
 *   {{a.b.c}}       a dotted name: b inside a, c inside that
 *   {{.}}           the current item (inside a section over a list of strings, say)
 *   {{#name}}...{{/name}}   a section: skipped when name is missing, null, false, 0, "" or an
 *                   empty list;
 *                   repeated once per item of a list (the item is the current context); once
 *                   with an object as the current context; once otherwise
 *   {{^name}}...{{/name}}   an inverted section: rendered only when the section would be skipped
 *   {{! comment }}  nothing
 *
 * Names are looked up from the innermost context outwards, as Mustache does. Strings render as
 * they are, integers in decimal, reals in the shortest form that reads back the same, true and
 * false as words, null and missing names as nothing, objects and lists as compact JSON. A line
 * that holds only a section, inverted-section, closing or comment tag (and blanks) is left out
 * whole, so templates can put tags on lines of their own. Partials ({{> x}}) and changing the
 * delimiters ({{=<% %>=}}) are not supported: they are errors, not silently literal text.
 *
 * Input is bounded: DTF_TPL_MAX_SOURCE bytes of template, DTF_TPL_MAX_DEPTH nested sections,
 * DTF_TPL_MAX_NAME bytes per name; rendering stops at the output buffer's cap and after
 * DTF_TPL_MAX_STEPS steps (nested sections over long lists multiply), so no template and no data
 * can make a render slow or unbounded. */
#ifndef DTF_TEMPLATE_H
#define DTF_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"

#define DTF_TPL_MAX_SOURCE (64 * 1024)
#define DTF_TPL_MAX_DEPTH  16
#define DTF_TPL_MAX_NAME   128
#define DTF_TPL_MAX_STEPS  1000000

/* How {{name}} escapes what it inserts. */
enum dtf_tpl_escape {
	DTF_TPL_TEXT,	/* nothing escaped: plain-text email, log lines */
	DTF_TPL_HTML,	/* & < > " ' as entities: HTML email, Teams' HTML fields */
	DTF_TPL_JSON,	/* the inside of a JSON string: Adaptive Cards, JIRA ADF, Slack blocks */
	DTF_TPL_MRKDWN, /* Slack's control characters & < > as &amp; &lt; &gt; */
};

struct dtf_tpl;

/* Why a template did not compile or render; line and column (1-based, in bytes) point into the
 * template (0 and 0 when the failure has no place, as for output over its cap). */
struct dtf_tpl_error {
	char message[200];
	unsigned line, column;
};

/* Compiles the len bytes at src. 0 and *out set (free with dtf_tpl_free), or DTF_EPARSE (an
 * unclosed tag or section, a mismatched closing tag, an unsupported tag, a bad name),
 * DTF_ETOOBIG (past a limit), DTF_ENOMEM or DTF_EINVAL, with *out NULL and err filled. */
int dtf_tpl_compile(const char *src, size_t len, struct dtf_tpl **out, struct dtf_tpl_error *err);

/* Appends the template rendered with data (usually an object; NULL is an empty context) to out.
 * 0, or DTF_ETOOBIG (out's cap or DTF_TPL_MAX_STEPS reached) or DTF_ENOMEM with err filled and
 * out as it was before the call. */
int dtf_tpl_render(const struct dtf_tpl *t, const json_t *data, enum dtf_tpl_escape esc,
		   struct dtf_buf *out, struct dtf_tpl_error *err);

/* Appends s escaped as esc would escape it. 0, DTF_ETOOBIG or DTF_ENOMEM. */
int dtf_tpl_escape(struct dtf_buf *out, const char *s, size_t len, enum dtf_tpl_escape esc);

void dtf_tpl_free(struct dtf_tpl *t);

#endif
