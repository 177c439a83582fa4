/* fuzz_expr.c: libFuzzer target for the constraint expression language (src/sched/expr.c): the
 * input is compiled as an expression and, when it compiles, evaluated against a fixed task and
 * worker and against an empty context. Whatever the input, nothing may crash, leak or recurse
 * without bound; a rejected expression must say why, starting with its position; an accepted
 * one must keep its source, compile again from it, and evaluate the same way every time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/json.h"
#include "sched/expr.h"

#define MAX_INPUT (DTF_EXPR_MAX_LEN + 64)

static json_t *task_doc, *worker_doc;
static struct dtf_expr_ctx ctx, empty;

static void init(void)
{
	static const char task_json[] =
	    "{\"name\": \"bert\", \"hardware\": [\"cuda\", \"rocm\"], \"priority\": 2, "
	    "\"requirements\": {\"cpu\": 2, \"memory\": 4096, \"gpu_memory\": 8192, "
	    "\"hardware\": [\"cuda\"]}, \"params\": {\"model\": \"bert\", \"sizes\": [1, [2, "
	    "3]], \"deep\": {\"a\": {\"b\": [true, null]}}}, \"labels\": {\"team\": \"ml\"}}";
	static const char worker_json[] =
	    "{\"id\": \"w1\", \"labels\": {\"os\": \"linux\", \"zone\": \"a\", \"n\": 3}, "
	    "\"capabilities\": {\"hardware\": [\"cpu\", \"cuda\"], \"docker\": true, "
	    "\"gpus\": [{\"name\": \"A100\", \"memory\": 40960}]}}";
	char err[128];
	int i;

	task_doc = dtf_json_parse(task_json, strlen(task_json), err, sizeof(err));
	worker_doc = dtf_json_parse(worker_json, strlen(worker_json), err, sizeof(err));
	if (!task_doc || !worker_doc)
		abort();
	dtf_expr_ctx_init(&empty);
	dtf_expr_ctx_init(&ctx);
	ctx.task = task_doc;
	ctx.worker = worker_doc;
	ctx.task_hardware = json_object_get(task_doc, "hardware");
	ctx.worker_hardware =
	    json_object_get(json_object_get(worker_doc, "capabilities"), "hardware");
	for (i = 0; i < DTF_EXPR_NUM__COUNT; i++)
		ctx.num[i] = i * 512.0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	char *src, err[256];
	struct dtf_expr *e = NULL, *again = NULL;
	int rc;

	if (!ready) {
		init();
		ready = true;
	}
	if (size > MAX_INPUT)
		return 0;
	src = malloc(size + 1);
	if (!src)
		return 0;
	memcpy(src, data, size);
	src[size] = '\0';
	err[0] = '\0';
	rc = dtf_expr_compile(src, &e, err, sizeof(err));
	if (rc != 0) {
		if (e || strncmp(err, "position ", 9) != 0)
			abort();
	} else {
		bool a = dtf_expr_eval(e, &ctx), b;
		if (!e || strcmp(dtf_expr_source(e), src) != 0)
			abort();
		b = dtf_expr_eval(e, &ctx);
		if (a != b)
			abort();
		(void)dtf_expr_eval(e, &empty);
		if (dtf_expr_compile(dtf_expr_source(e), &again, err, sizeof(err)) != 0 ||
		    dtf_expr_eval(again, &ctx) != a ||
		    dtf_expr_uses_available(again) != dtf_expr_uses_available(e))
			abort();
	}
	dtf_expr_free(again);
	dtf_expr_free(e);
	free(src);
	return 0;
}
