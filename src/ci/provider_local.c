/* provider_local.c: no CI service: the reports, badges and artifacts are the files under
 * --output-dir. Also answers to "generic". */
#include "ci/provider.h"

#include <stdio.h>

static int local_init(struct ci_provider *p)
{
	(void)p;
	return 0;
}

static int local_artifact_url(struct ci_provider *p, const char *name, char *url, size_t len)
{
	(void)p;
	snprintf(url, len, "%s", name);
	return 0;
}

const struct ci_provider_ops ci_provider_local = {
    .name = "local",
    .initialize = local_init,
    .get_artifact_url = local_artifact_url,
};
