/* json.c: writes a run as a JSON report: the run document as the API gives it (with what
 * dtf_report_prepare() added, when it was prepared), plus the "summary" object. */
#include "report/report.h"

#include "common/err.h"

/* Where json_dump_callback() sends its output, and the first error it met. */
struct dump_ctx {
	struct dtf_buf *out;
	int rc;
};

static int dump_chunk(const char *data, size_t size, void *arg)
{
	struct dump_ctx *ctx = arg;

	ctx->rc = dtf_buf_add(ctx->out, data, size);
	return ctx->rc ? -1 : 0;
}

int dtf_report_json(json_t *doc, struct dtf_buf *out)
{
	struct dump_ctx ctx = {out, 0};
	size_t start = out->len;
	json_t *copy = NULL, *summary = NULL;
	int rc;

	if (!json_is_object(doc)) {
		rc = DTF_EINVAL;
		goto out;
	}
	/* A shallow copy: the caller's document stays as it was and nothing big is copied. */
	rc = DTF_ENOMEM;
	copy = json_copy(doc);
	/* A document dtf_report_prepare() filled in keeps its richer summary. */
	summary = json_is_string(json_object_get(json_object_get(doc, "summary"), "status"))
		      ? json_incref(json_object_get(doc, "summary"))
		      : dtf_report_summary(doc);
	if (!copy || !summary || json_object_set(copy, "summary", summary))
		goto out;
	/* 15 significant digits: 0.1 stays 0.1 instead of 0.10000000000000001. */
	if (json_dump_callback(copy, dump_chunk, &ctx, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) !=
	    0) {
		rc = ctx.rc ? ctx.rc : DTF_ENOMEM;
		goto out;
	}
	rc = dtf_buf_adds(out, "\n");
out:
	if (rc) /* leave the caller's buffer as it was */
		dtf_buf_truncate(out, start);
	json_decref(summary);
	json_decref(copy);
	return rc;
}
