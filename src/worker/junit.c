/* junit.c: reads the JUnit XML reports that test runners write (pytest, CTest, Maven Surefire,
 * go-junit-report, …) into dtf's test-case JSON (see junit.h for the shape).
 *
 * The input comes from whatever a task left on a worker's disk, so it is treated as hostile: it is
 * capped at DTF_JUNIT_MAX_BYTES, parsed without network access, without libxml2's "huge" mode and
 * without entity substitution, and a document that carries a DOCTYPE is refused as soon as the
 * parser sees it, before any entity of its internal subset is even declared. Parse errors go to a
 * silent handler owned by the parser context, so nothing is printed and no global state of
 * libxml2 is changed. */
#include "worker/junit.h"

#include <libxml/tree.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "common/xml.h"

#define TEXT_CAP	(64u << 10) /* system-out, system-err and details keep their last 64 KiB */
#define ATTR_CAP	4096	    /* message and type keep their first 4 KiB */
#define MAX_SUITE_DEPTH 64	    /* deeper <testsuite> nesting is refused */

/* What one dtf_junit_parse() call keeps while it walks the tree. */
struct junit_state {
	size_t ncases; /* test cases stored so far, checked against DTF_JUNIT_MAX_CASES */
	json_t *cases;
};

/* True when the document starts like UTF-16 or UTF-32 (a byte order mark, or a NUL next to the
 * first '<'), where NUL bytes are part of the text. */
static bool is_wide(const unsigned char *s, size_t len)
{
	return len >= 2 && (s[0] == 0 || s[1] == 0 || (s[0] == 0xfe && s[1] == 0xff) ||
			    (s[0] == 0xff && s[1] == 0xfe));
}

/* Returns a new JSON string of s[0..len). libxml2 hands out UTF-8, but should a byte sequence ever
 * be invalid, it is replaced with U+FFFD rather than losing the whole string. NULL on no memory. */
static json_t *json_text(const char *s, size_t len)
{
	struct dtf_buf b;
	json_t *str;
	size_t i, n;
	uint32_t cp;

	str = json_stringn(s, len);
	if (str)
		return str;
	dtf_buf_init(&b, len * 3 + 1);
	for (i = 0; i < len; i += n) {
		n = dtf_utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (n == 0) {
			n = 1;
			if (dtf_buf_add(&b, "\xef\xbf\xbd", 3))
				goto out;
		} else if (dtf_buf_add(&b, s + i, n)) {
			goto out;
		}
	}
	str = json_stringn(dtf_buf_str(&b), b.len);
out:
	dtf_buf_release(&b);
	return str;
}

/* Stores s under key, cut to cap bytes on a UTF-8 boundary: the tail when keep_tail (the end of a
 * log or a stack trace says most), the head otherwise. Empty strings are left out. */
static int set_text(json_t *obj, const char *key, const char *s, size_t len, size_t cap,
		    bool keep_tail)
{
	json_t *str;

	if (!s || len == 0)
		return 0;
	if (len > cap) {
		if (keep_tail) {
			s += len - cap;
			len = cap;
			while (len > 0 && ((unsigned char)*s & 0xc0) == 0x80)
				s++, len--;
		} else {
			len = cap;
			while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
				len--;
		}
	}
	str = json_text(s, len);
	if (!str || json_object_set_new(obj, key, str))
		return DTF_ENOMEM;
	return 0;
}

/* Stores attribute attr of node under key when it is present and not empty. */
static int set_attr(json_t *obj, const char *key, xmlNode *node, const char *attr)
{
	xmlChar *v = xmlGetProp(node, BAD_CAST attr);
	int rc;

	if (!v)
		return 0;
	rc = set_text(obj, key, (const char *)v, strlen((const char *)v), ATTR_CAP, false);
	xmlFree(v);
	return rc;
}

/* Parses a time attribute: seconds, possibly with thousands separators as old Surefire versions
 * wrote them ("1,234.5"). Anything unreadable, negative or not finite counts as 0. */
static double parse_time(xmlNode *node)
{
	xmlChar *v = xmlGetProp(node, BAD_CAST "time");
	char digits[64];
	size_t i, n = 0;
	double t = 0;
	char *end;

	if (!v)
		return 0;
	for (i = 0; v[i] && n < sizeof(digits) - 1; i++) {
		if (v[i] != ',')
			digits[n++] = (char)v[i];
	}
	digits[n] = '\0';
	xmlFree(v);
	t = strtod(digits, &end);
	if (end == digits || !isfinite(t) || t < 0)
		t = 0;
	return t;
}

/* Appends the text content of node (CDATA included) to b. */
static int add_content(struct dtf_buf *b, xmlNode *node)
{
	xmlChar *v = xmlNodeGetContent(node);
	int rc;

	if (!v)
		return 0;
	rc = dtf_buf_adds(b, (const char *)v);
	xmlFree(v);
	return rc;
}

/* The status that CTest and a few other writers put in a status attribute, for test cases that
 * carry no <failure>/<error>/<skipped> child. */
static const char *status_from_attr(xmlNode *node)
{
	xmlChar *v = xmlGetProp(node, BAD_CAST "status");
	const char *status = "passed";

	if (!v)
		return status;
	if (xmlStrEqual(v, BAD_CAST "fail") || xmlStrEqual(v, BAD_CAST "failed") ||
	    xmlStrEqual(v, BAD_CAST "failure"))
		status = "failed";
	else if (xmlStrEqual(v, BAD_CAST "error"))
		status = "error";
	else if (xmlStrEqual(v, BAD_CAST "notrun") || xmlStrEqual(v, BAD_CAST "disabled") ||
		 xmlStrEqual(v, BAD_CAST "skipped"))
		status = "skipped";
	xmlFree(v);
	return status;
}

/* The outcome a <properties> child names in a "dtf.outcome" property ("xfailed" or "xpassed", the
 * results pytest's and unittest's JUnit writers cannot express; dtf's Python launcher adds it),
 * or NULL. */
static const char *property_outcome(xmlNode *props)
{
	const char *found = NULL;
	xmlNode *p;

	for (p = props->children; p; p = p->next) {
		xmlChar *name, *value;
		if (!dtf_xml_is_element(p, "property"))
			continue;
		name = xmlGetProp(p, BAD_CAST "name");
		value = xmlGetProp(p, BAD_CAST "value");
		if (name && value && xmlStrEqual(name, BAD_CAST "dtf.outcome")) {
			if (xmlStrEqual(value, BAD_CAST "xfailed"))
				found = "xfailed";
			else if (xmlStrEqual(value, BAD_CAST "xpassed"))
				found = "xpassed";
		}
		xmlFree(name);
		xmlFree(value);
	}
	return found;
}

/* True when a <skipped> element is pytest's record of an expected failure. */
static bool is_pytest_xfail(xmlNode *skipped)
{
	xmlChar *v = xmlGetProp(skipped, BAD_CAST "type");
	bool yes = v && xmlStrEqual(v, BAD_CAST "pytest.xfail");

	xmlFree(v);
	return yes;
}

/* Adds one object for a <testcase> element to st->cases. */
static int add_case(struct junit_state *st, xmlNode *tc, const xmlChar *suite)
{
	struct dtf_buf out, err, details;
	const char *status = NULL, *marked = NULL;
	xmlNode *outcome = NULL, *c;
	json_t *obj = NULL;
	int rc;

	dtf_buf_init(&out, DTF_JUNIT_MAX_BYTES);
	dtf_buf_init(&err, DTF_JUNIT_MAX_BYTES);
	dtf_buf_init(&details, DTF_JUNIT_MAX_BYTES);
	if (st->ncases >= DTF_JUNIT_MAX_CASES) {
		rc = DTF_ETOOBIG;
		goto out;
	}
	rc = DTF_ENOMEM;
	obj = json_object();
	if (!obj)
		goto out;
	rc = 0;

	/* The first <failure> or <error> decides; <skipped> only counts when there is neither. */
	for (c = tc->children; c; c = c->next) {
		if (dtf_xml_is_element(c, "failure") || dtf_xml_is_element(c, "error")) {
			if (!outcome || dtf_xml_is_element(outcome, "skipped")) {
				outcome = c;
				status = dtf_xml_is_element(c, "failure") ? "failed" : "error";
			}
		} else if (dtf_xml_is_element(c, "skipped")) {
			if (!outcome) {
				outcome = c;
				status = "skipped";
			}
		} else if (dtf_xml_is_element(c, "system-out")) {
			rc = add_content(&out, c);
		} else if (dtf_xml_is_element(c, "system-err")) {
			rc = add_content(&err, c);
		} else if (dtf_xml_is_element(c, "properties")) {
			marked = property_outcome(c);
		}
		if (rc)
			goto out;
	}
	if (!status)
		status = status_from_attr(tc);
	/* An expected failure is not a skip, and an unexpected pass not a plain pass: a
	 * failure or error child always wins over a property. */
	if (strcmp(status, "skipped") == 0 &&
	    ((outcome && is_pytest_xfail(outcome)) || (marked && strcmp(marked, "xfailed") == 0)))
		status = "xfailed";
	else if (strcmp(status, "passed") == 0 && marked && strcmp(marked, "xpassed") == 0)
		status = "xpassed";

	rc = set_attr(obj, "name", tc, "name");
	if (!rc && !json_object_get(obj, "name"))
		rc = json_object_set_new(obj, "name", json_string("")) ? DTF_ENOMEM : 0;
	if (!rc)
		rc = set_attr(obj, "classname", tc, "classname");
	if (!rc && suite)
		rc = set_text(obj, "suite", (const char *)suite, strlen((const char *)suite),
			      ATTR_CAP, false);
	if (!rc && json_object_set_new(obj, "time", json_real(parse_time(tc))))
		rc = DTF_ENOMEM;
	if (!rc && json_object_set_new(obj, "status", json_string(status)))
		rc = DTF_ENOMEM;
	if (!rc && outcome) {
		rc = set_attr(obj, "message", outcome, "message");
		if (!rc)
			rc = set_attr(obj, "type", outcome, "type");
		if (!rc)
			rc = add_content(&details, outcome);
		if (!rc)
			rc = set_text(obj, "details", details.data, details.len, TEXT_CAP, true);
	}
	if (!rc)
		rc = set_text(obj, "stdout", out.data, out.len, TEXT_CAP, true);
	if (!rc)
		rc = set_text(obj, "stderr", err.data, err.len, TEXT_CAP, true);
	if (rc)
		goto out;
	if (json_array_append_new(st->cases, obj)) {
		obj = NULL;
		rc = DTF_ENOMEM;
		goto out;
	}
	obj = NULL;
	st->ncases++;
	rc = 0;
out:
	json_decref(obj);
	dtf_buf_release(&out);
	dtf_buf_release(&err);
	dtf_buf_release(&details);
	return rc;
}

/* Walks a <testsuite> (or the <testsuites> root): its test cases, then nested suites, in document
 * order. A suite without a name of its own is reported under its parent's. */
static int walk_suite(struct junit_state *st, xmlNode *suite, const xmlChar *parent_name, int depth)
{
	xmlChar *name = NULL;
	const xmlChar *label;
	xmlNode *c;
	int rc = 0;

	if (depth > MAX_SUITE_DEPTH) {
		rc = DTF_ETOOBIG;
		goto out;
	}
	name = xmlGetProp(suite, BAD_CAST "name");
	label = name && name[0] ? name : parent_name;
	for (c = suite->children; c; c = c->next) {
		if (dtf_xml_is_element(c, "testcase"))
			rc = add_case(st, c, label);
		else if (dtf_xml_is_element(c, "testsuite"))
			rc = walk_suite(st, c, label, depth + 1);
		if (rc)
			goto out;
	}
out:
	xmlFree(name);
	return rc;
}

int dtf_junit_parse(const char *xml, size_t len, json_t **cases)
{
	struct junit_state st = {0};
	bool refused_dtd;
	xmlDocPtr doc = NULL;
	xmlNode *root;
	int rc;

	*cases = NULL;
	if (!xml) {
		rc = DTF_EINVAL;
		goto out;
	}
	if (len > DTF_JUNIT_MAX_BYTES) {
		rc = DTF_ETOOBIG;
		goto out;
	}
	/* libxml2 takes a NUL byte for the end of the input and would ignore whatever follows. */
	if (!is_wide((const unsigned char *)xml, len) && memchr(xml, '\0', len)) {
		rc = DTF_EPARSE;
		goto out;
	}
	rc = dtf_xml_parse(xml, len, &doc, &refused_dtd);
	if (rc)
		goto out;
	rc = DTF_EPARSE;
	root = xmlDocGetRootElement(doc);
	if (!root ||
	    !(dtf_xml_is_element(root, "testsuites") || dtf_xml_is_element(root, "testsuite")))
		goto out;

	rc = DTF_ENOMEM;
	st.cases = json_array();
	if (!st.cases)
		goto out;
	/* A <testsuites> root is walked like a suite whose name labels stray test cases. */
	rc = walk_suite(&st, root, NULL, 0);
	if (rc)
		goto out;
	*cases = st.cases;
	st.cases = NULL;
out:
	json_decref(st.cases);
	xmlFreeDoc(doc);
	return rc;
}
