/* unit_main.h: how every unit test binary runs its cases, so that one case can be run alone.
 *
 * DTF_TEST_FILTER=GLOB (cmocka's pattern: '*' any run of characters, '?' one character) runs only
 * the cases whose names match, e.g. DTF_TEST_FILTER=test_lease_assigns build/tests/test_state.
 * Unset or empty, every case runs. Each test file's main() ends in dtf_unit_run() instead of
 * cmocka_run_group_tests(); tests/CMakeLists.txt refuses a test file that calls the latter. */
#ifndef DTF_TEST_UNIT_MAIN_H
#define DTF_TEST_UNIT_MAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

/* Hands $DTF_TEST_FILTER to cmocka; called by dtf_unit_run() before the group runs. */
static inline void dtf_unit_filter_from_env(void)
{
	const char *glob = getenv("DTF_TEST_FILTER");

	if (glob && *glob)
		cmocka_set_test_filter(glob);
}

/* cmocka_run_group_tests() with the environment's filter applied. A macro, as cmocka's is: the
 * group's name and size come from the array itself. */
#define dtf_unit_run(tests, setup, teardown)                                                       \
	(dtf_unit_filter_from_env(), cmocka_run_group_tests(tests, setup, teardown))

#endif
