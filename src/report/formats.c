/* formats.c: placeholder bodies for the issue-6 report interface; replaced by the real writers. */
#include <string.h>

#include <stdio.h>
#include "common/err.h"
#include "report/report.h"

int dtf_report_prepare(json_t *doc, const json_t *previous, char *err, size_t errlen)
{
	(void)previous;
	json_t *s = dtf_report_summary(doc);
	if (!s) {
		snprintf(err, errlen, "cannot summarize the run");
		return DTF_ENOMEM;
	}
	json_object_set_new(doc, "summary", s);
	return 0;
}

int dtf_report_markdown(json_t *doc, struct dtf_buf *out) { (void)doc; (void)out; return DTF_EINVAL; }
int dtf_report_html(json_t *doc, struct dtf_buf *out) { (void)doc; (void)out; return DTF_EINVAL; }
int dtf_report_csv(json_t *doc, struct dtf_buf *out) { (void)doc; (void)out; return DTF_EINVAL; }

int dtf_report_render(const char *format, json_t *doc, struct dtf_buf *out)
{
	if (!strcmp(format, "json"))
		return dtf_report_json(doc, out);
	if (!strcmp(format, "junit") || !strcmp(format, "xml"))
		return dtf_report_junit(doc, out);
	return DTF_EINVAL;
}

const char *dtf_report_file_name(const char *format)
{
	if (!strcmp(format, "json"))
		return "results.json";
	if (!strcmp(format, "junit") || !strcmp(format, "xml"))
		return "results.xml";
	return NULL;
}

int dtf_report_write_badges(json_t *doc, const char *dir, char *err, size_t errlen)
{
	(void)doc;
	(void)dir;
	snprintf(err, errlen, "badges are not written yet");
	return DTF_EINVAL;
}
