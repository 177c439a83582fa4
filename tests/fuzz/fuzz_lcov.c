/* fuzz_lcov.c: libFuzzer target for the lcov tracefile reader (src/report/coverage.c), with the
 * checks of coverage_fuzz.h. */
#include <stdint.h>

#include "coverage_fuzz.h"

static const char base[] = "SF:base.c\nDA:1,1\nDA:2,0\nend_of_record\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return coverage_fuzz_one(dtf_coverage_add_lcov, base, data, size);
}
