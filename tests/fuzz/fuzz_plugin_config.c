/* fuzz_plugin_config.c: libFuzzer target for the plugins section of the configuration
 * (src/plugin/loader.c, dtf_plugins_config_check): whatever YAML comes in, the check must not
 * crash, leak or read past the text, and an error must name the file. Nothing is loaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/yaml.h"
#include "plugin/plugin.h"

#define NAME "fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char err[1024];
	json_t *doc;
	int rc;

	err[0] = '\0';
	doc = dtf_yaml_parse(text, size, NAME, err, sizeof(err));
	if (!doc)
		return 0;
	rc = dtf_plugins_config_check(doc, text, size, NAME, err, sizeof(err));
	if (rc != 0 && (rc != DTF_EINVAL || strncmp(err, NAME ":", strlen(NAME) + 1) != 0))
		abort();
	/* Without the text, errors still name the file (no line). */
	rc = dtf_plugins_config_check(doc, NULL, 0, NAME, err, sizeof(err));
	if (rc != 0 && strncmp(err, NAME ":", strlen(NAME) + 1) != 0)
		abort();
	json_decref(doc);
	return 0;
}
