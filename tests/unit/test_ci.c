/* test_ci.c: unit tests of src/ci: the requirement analysis of test files (content, markers,
 * the header winning, limits), secret masking, finding our marked PR comment, task outcomes,
 * provider lookup and environment detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ci/analyze.h"
#include "ci/http.h"
#include "ci/provider.h"
#include "common/json.h"
#include "unit_main.h"

/* The analysis's hardware list as compact JSON (caller frees). */
static char *hw_of_lang(const char *text, enum dtf_lang lang)
{
	json_t *a = dtf_analyze_text(text, strlen(text), lang);
	char *s = dtf_json_dumps(json_object_get(a, "hardware"));

	json_decref(a);
	return s;
}

static void check_hw_lang(const char *text, enum dtf_lang lang, const char *want)
{
	char *got = hw_of_lang(text, lang);

	if (strcmp(got, want) != 0)
		print_error("analysis of \"%s\" (language %d): got %s, want %s\n", text, (int)lang,
			    got, want);
	assert_string_equal(got, want);
	free(got);
}

/* With no language known, nothing is taken for a comment. */
static void check_hw(const char *text, const char *want)
{
	check_hw_lang(text, DTF_LANG_OTHER, want);
}

static void test_analyze_content(void **state)
{
	(void)state;
	check_hw("import torch\nx = torch.ones(1).cuda()\n", "[\"cuda\"]");
	check_hw("from torch import nn\ndevice = 'cuda'\n", "[\"cuda\"]");
	check_hw("# just mentions cuda in a comment\n", "[\"cpu\"]");
	check_hw("import cupy\n", "[\"cuda\"]");
	check_hw("if torch.version.hip: pass\n", "[\"rocm\"]");
	check_hw("relationship = 1\nshipping = 2\n", "[\"cpu\"]");
	check_hw("torch.backends.mps.is_available()", "[\"mps\"]");
	check_hw("import openvino as ov", "[\"openvino\"]");
	check_hw("backend = 'QNN'", "[\"qualcomm\"]");
	check_hw("navigator.gpu // WebGPU\nnavigator.ml // WebNN", "[\"webgpu\",\"webnn\"]");
	check_hw("", "[\"cpu\"]");
}

static void test_analyze_markers(void **state)
{
	const char *t =
	    "@pytest.mark.hardware(\"rocm\", \"cuda\")\n@pytest.mark.min_memory(2048)\n"
	    "@pytest.mark.browser(\"firefox\")\n@pytest.mark.priority(3)\nimport openvino\n";
	json_t *a = dtf_analyze_text(t, strlen(t), DTF_LANG_PYTHON);

	(void)state;
	/* A marker replaces what the content suggests. */
	check_hw(t, "[\"rocm\",\"cuda\"]");
	assert_string_equal(dtf_json_str(a, "hardware_source", ""), "marker");
	assert_int_equal(dtf_json_int(a, "min_memory", 0), 2048);
	assert_string_equal(dtf_json_str(a, "browser", ""), "firefox");
	assert_int_equal(dtf_json_int(a, "priority", 0), 3);
	json_decref(a);
	check_hw("# run me with --hardware webgpu\n", "[\"webgpu\"]");
	check_hw("detect_hardware(x)\n", "[\"cpu\"]"); /* not a marker */
	/* Out-of-range values are ignored. */
	a = dtf_analyze_text("priority=0 min_memory=0", 23, DTF_LANG_OTHER);
	assert_null(json_object_get(a, "priority"));
	assert_null(json_object_get(a, "min_memory"));
	json_decref(a);
}

static void test_analyze_apply(void **state)
{
	const char *t = "import torch\nx.cuda()\n@pytest.mark.priority(2)\nmin_memory=512\n";
	json_t *a = dtf_analyze_text(t, strlen(t), DTF_LANG_PYTHON);
	json_t *task = json_pack("{s:s}", "name", "x");
	json_t *hdr = json_pack("{s:[s],s:i}", "hardware", "cpu", "priority", 9);

	(void)state;
	dtf_analyze_apply(task, a);
	assert_string_equal(json_string_value(json_array_get(json_object_get(task, "hardware"), 0)),
			    "cuda");
	assert_int_equal(dtf_json_int(task, "priority", 0), 2);
	assert_int_equal(dtf_json_int(json_object_get(task, "requirements"), "memory", 0), 512);
	/* A `dtf:` header's values win. */
	dtf_analyze_apply(hdr, a);
	assert_string_equal(json_string_value(json_array_get(json_object_get(hdr, "hardware"), 0)),
			    "cpu");
	assert_int_equal(dtf_json_int(hdr, "priority", 0), 9);
	assert_string_equal(dtf_json_str(json_object_get(hdr, "params"), "hardware_source", ""),
			    "dtf: header");
	json_decref(hdr);
	json_decref(task);
	json_decref(a);
}

static void test_analyze_limits(void **state)
{
	size_t n = DTF_ANALYZE_MAX_BYTES + 100;
	char *big = malloc(n);
	json_t *a;

	(void)state;
	memset(big, 'x', n);
	/* Past the limit nothing is read: "cupy" at the very end is not seen. */
	memcpy(big + n - 5, " cupy", 5);
	a = dtf_analyze_text(big, n, DTF_LANG_OTHER);
	assert_string_equal(json_string_value(json_array_get(json_object_get(a, "hardware"), 0)),
			    "cpu");
	json_decref(a);
	/* NUL bytes do not end the text. */
	a = dtf_analyze_text("\0\0 import cupy", 14, DTF_LANG_PYTHON);
	assert_string_equal(json_string_value(json_array_get(json_object_get(a, "hardware"), 0)),
			    "cuda");
	json_decref(a);
	free(big);
}

/* What a comment or a docstring says is not evidence; code, strings and markers are. */
static void test_analyze_comments(void **state)
{
	(void)state;
	/* Python: # comments and docstrings. */
	check_hw_lang("# TODO: port these to WebGPU\ndef test_add():\n    assert 1 + 1 == 2\n",
		      DTF_LANG_PYTHON, "[\"cpu\"]");
	check_hw_lang("\"\"\"Tests that will run on WebGPU one day.\"\"\"\nimport math\n",
		      DTF_LANG_PYTHON, "[\"cpu\"]");
	check_hw_lang("def test_x():\n    '''needs webnn later'''\n    pass\n", DTF_LANG_PYTHON,
		      "[\"cpu\"]");
	check_hw_lang("class T:  r\"\"\"rocm someday\"\"\"\n", DTF_LANG_PYTHON, "[\"cpu\"]");
	check_hw_lang("backend = 'webgpu'  # the browser backend\n", DTF_LANG_PYTHON,
		      "[\"webgpu\"]");
	check_hw_lang("s = \"# not a comment: webgpu\"\n", DTF_LANG_PYTHON, "[\"webgpu\"]");
	/* A triple-quoted string that is a value, not a statement, is code. */
	check_hw_lang("SHADER = \"\"\"webgpu shader\"\"\"\n", DTF_LANG_PYTHON, "[\"webgpu\"]");
	check_hw_lang("run(\n    \"\"\"webgpu\"\"\")\n", DTF_LANG_PYTHON, "[\"webgpu\"]");
	check_hw_lang("import torch\n# uses cuda when present\nx = torch.ones(1)\n",
		      DTF_LANG_PYTHON, "[\"cpu\"]");
	check_hw_lang("import torch\nx = torch.ones(1).to('cuda')  # on the GPU\n", DTF_LANG_PYTHON,
		      "[\"cuda\"]");
	check_hw_lang("# @pytest.mark.hardware('rocm')\n@pytest.mark.hardware('cuda')\n",
		      DTF_LANG_PYTHON, "[\"cuda\"]");
	/* A comment may say how to run the file with a command-line marker, but a commented-out
	 * decorator is not one. */
	check_hw_lang("# run me with --hardware webgpu\nimport os\n", DTF_LANG_PYTHON,
		      "[\"webgpu\"]");
	check_hw_lang("# @pytest.mark.hardware('rocm')\ndef test_x(): pass\n", DTF_LANG_PYTHON,
		      "[\"cpu\"]");
	check_hw_lang("# hardware=rocm when we have one\n", DTF_LANG_PYTHON, "[\"cpu\"]");
	/* Shell: # at the start of a word; $# and quoted # are not comments. */
	check_hw_lang("#!/bin/sh\n# needs webgpu, someday\necho $# ok\n", DTF_LANG_HASH,
		      "[\"cpu\"]");
	check_hw_lang("#!/bin/sh\nrunner --hardware webgpu\n", DTF_LANG_HASH, "[\"webgpu\"]");
	check_hw_lang("echo '# quoted' webgpu\n", DTF_LANG_HASH, "[\"webgpu\"]");
	check_hw_lang("echo x# webgpu\n", DTF_LANG_HASH, "[\"webgpu\"]");
	check_hw_lang("echo ok; # webgpu\n", DTF_LANG_HASH, "[\"cpu\"]");
	/* C and JavaScript: line and block comments; strings and template literals stay. */
	check_hw_lang("/* WebGPU\n port */ int main(void) { return 0; } // webnn\n", DTF_LANG_C,
		      "[\"cpu\"]");
	check_hw_lang("const a = await navigator.gpu.requestAdapter(); // WebGPU\n", DTF_LANG_C,
		      "[\"webgpu\"]");
	check_hw_lang("const url = \"http://x/webgpu\";\n", DTF_LANG_C, "[\"webgpu\"]");
	check_hw_lang("const s = `// not a comment: webnn`;\n", DTF_LANG_C, "[\"webnn\"]");
	check_hw_lang("/* unterminated webgpu", DTF_LANG_C, "[\"cpu\"]");
	check_hw_lang("'''unterminated webgpu", DTF_LANG_PYTHON, "[\"cpu\"]");
}

static void test_analyze_lang(void **state)
{
	(void)state;
	assert_int_equal(dtf_analyze_lang("tests/test_a.py", NULL, 0), DTF_LANG_PYTHON);
	assert_int_equal(dtf_analyze_lang("test_a.sh", NULL, 0), DTF_LANG_HASH);
	assert_int_equal(dtf_analyze_lang("dir.x/test_a.c", NULL, 0), DTF_LANG_C);
	assert_int_equal(dtf_analyze_lang("test_a.JS", NULL, 0), DTF_LANG_C);
	assert_int_equal(dtf_analyze_lang("test_a", "#!/usr/bin/env python3\n", 23),
			 DTF_LANG_PYTHON);
	assert_int_equal(dtf_analyze_lang("test_a", "#!/bin/bash\n", 12), DTF_LANG_HASH);
	assert_int_equal(dtf_analyze_lang("test_a", "#!/usr/bin/env node\n", 20), DTF_LANG_C);
	assert_int_equal(dtf_analyze_lang("test_a",
					  "\x7f"
					  "ELF",
					  4),
			 DTF_LANG_OTHER);
	assert_int_equal(dtf_analyze_lang(".hidden", NULL, 0), DTF_LANG_OTHER);
	assert_int_equal(dtf_analyze_lang(NULL, NULL, 0), DTF_LANG_OTHER);
}

static void test_mask(void **state)
{
	char s[128];

	(void)state;
	snprintf(s, sizeof(s), "Bearer s3cr3tTok and again s3cr3tTok.");
	ci_mask("s3cr3tTok", s, sizeof(s));
	assert_string_equal(s, "Bearer *** and again ***.");
	snprintf(s, sizeof(s), "short");
	ci_mask("sh", s, sizeof(s)); /* too short to mask */
	assert_string_equal(s, "short");
	ci_mask(NULL, s, sizeof(s));
	assert_string_equal(s, "short");
}

static void test_find_marked(void **state)
{
	json_t *c = json_pack("[{s:i,s:s},{s:i,s:s},{s:s,s:{s:s}}]", "id", 1, "body", "hello", "id",
			      2, "body", "x\n" CI_COMMENT_MARKER "\ny", "id", "abc", "content",
			      "raw", CI_COMMENT_MARKER);
	char id[32];

	(void)state;
	assert_true(ci_find_marked(c, "body", "id", id, sizeof(id)));
	assert_string_equal(id, "2");
	assert_true(ci_find_marked(c, "content.raw", "id", id, sizeof(id)));
	assert_string_equal(id, "abc");
	assert_false(ci_find_marked(c, "nope", "id", id, sizeof(id)));
	json_decref(c);
}

static void test_comment_body(void **state)
{
	size_t n = CI_COMMENT_MAX + 10, i;
	char *md = malloc(n + 1), *body;

	(void)state;
	body = ci_comment_body("# ok");
	assert_string_equal(body, CI_COMMENT_MARKER "\n# ok");
	free(body);
	/* Two-byte characters: the cut never splits one. */
	for (i = 0; i + 1 < n; i += 2) {
		md[i] = (char)0xC3;
		md[i + 1] = (char)0xA9;
	}
	md[i] = '\0';
	body = ci_comment_body(md);
	assert_true(strlen(body) < CI_COMMENT_MAX + 200);
	assert_non_null(strstr(body, "full report in the build's artifacts"));
	for (i = strlen(CI_COMMENT_MARKER) + 1; (unsigned char)body[i] >= 0x80; i += 2)
		assert_int_equal((unsigned char)body[i], 0xC3);
	free(body);
	free(md);
}

static void test_outcomes(void **state)
{
	json_t *t =
	    json_pack("{s:s,s:{s:s}}", "status", "cancelled", "error", "kind", "unschedulable");
	/* The counts are disjoint, as every summary gives them (common/testcount.h): a test no
	 * worker could run is skipped, not also cancelled. */
	json_t *s =
	    json_pack("{s:i,s:i,s:i,s:i}", "total", 3, "passed", 1, "failed", 1, "skipped", 1);
	char line[128];

	(void)state;
	assert_string_equal(ci_task_outcome(t), "skipped");
	json_object_set_new(t, "status", json_string("completed"));
	assert_string_equal(ci_task_outcome(t), "passed");
	assert_string_equal(ci_summary_state(s), "failure");
	ci_summary_line(s, line, sizeof(line));
	assert_string_equal(line, "3 tests: 1 passed, 1 failed, 1 skipped");
	json_object_set_new(s, "failed", json_integer(0));
	assert_string_equal(ci_summary_state(s), "success");
	json_decref(s);
	json_decref(t);
}

static void test_providers(void **state)
{
	static const char *const names[] = {"github", "gitlab",	  "jenkins",   "azure", "circleci",
					    "travis", "teamcity", "bitbucket", "local", NULL};
	int i;

	(void)state;
	for (i = 0; names[i]; i++) {
		const struct ci_provider_ops *o = ci_provider_find(names[i]);
		assert_non_null(o);
		assert_string_equal(o->name, names[i]);
		assert_non_null(o->initialize);
	}
	assert_ptr_equal(ci_provider_find("generic"), ci_provider_find("local"));
	assert_null(ci_provider_find("hudson"));
	unsetenv("GITHUB_ACTIONS");
	unsetenv("GITLAB_CI");
	unsetenv("TF_BUILD");
	unsetenv("CIRCLECI");
	unsetenv("TRAVIS");
	unsetenv("TEAMCITY_VERSION");
	unsetenv("BITBUCKET_BUILD_NUMBER");
	unsetenv("JENKINS_URL");
	assert_null(ci_provider_detect());
	setenv("JENKINS_URL", "http://j/", 1);
	setenv("BUILD_NUMBER", "3", 1);
	assert_string_equal(ci_provider_detect()->name, "jenkins");
	/* A specific CI wins over Jenkins variables. */
	setenv("GITLAB_CI", "true", 1);
	assert_string_equal(ci_provider_detect()->name, "gitlab");
	unsetenv("GITLAB_CI");
	unsetenv("JENKINS_URL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_analyze_content),
	    cmocka_unit_test(test_analyze_markers),
	    cmocka_unit_test(test_analyze_apply),
	    cmocka_unit_test(test_analyze_limits),
	    cmocka_unit_test(test_analyze_comments),
	    cmocka_unit_test(test_analyze_lang),
	    cmocka_unit_test(test_mask),
	    cmocka_unit_test(test_find_marked),
	    cmocka_unit_test(test_outcomes),
	    cmocka_unit_test(test_providers),
	    cmocka_unit_test(test_comment_body),
	};
	return dtf_unit_run(tests, NULL, NULL);
}
