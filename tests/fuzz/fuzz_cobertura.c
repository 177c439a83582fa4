/* fuzz_cobertura.c: libFuzzer target for the Cobertura XML reader (src/report/coverage.c), with
 * the checks of coverage_fuzz.h. */
#include <stdint.h>

#include "coverage_fuzz.h"

static const char base[] = "<coverage><class filename=\"base.c\"><lines>"
			   "<line number=\"1\" hits=\"1\"/><line number=\"2\" hits=\"0\"/>"
			   "</lines></class></coverage>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return coverage_fuzz_one(dtf_coverage_add_cobertura, base, data, size);
}
