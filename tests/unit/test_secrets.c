/* test_secrets.c: unit tests of what keeps secrets secret: dtf_mask_secret() ("…last4"),
 * dtf_file_private_ok() (a key file others may read is refused), and the loopback test that
 * decides where --insecure is allowed (dtf_http_url_loopback()). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "net/http.h"
#include "unit_main.h"

static void test_mask(void **state)
{
	char out[16], tiny[3];

	(void)state;
	assert_string_equal(dtf_mask_secret("key-one-Zq81v", out, sizeof(out)), "\u2026q81v");
	assert_null(strstr(dtf_mask_secret("key-one-Zq81v", out, sizeof(out)), "key-one"));
	/* Short secrets show nothing of themselves. */
	assert_string_equal(dtf_mask_secret("12345678", out, sizeof(out)), "\u2026");
	assert_string_equal(dtf_mask_secret("ab", out, sizeof(out)), "\u2026");
	assert_string_equal(dtf_mask_secret("", out, sizeof(out)), "");
	assert_string_equal(dtf_mask_secret(NULL, out, sizeof(out)), "");
	/* A URL with a token in its path: only the end shows. */
	assert_string_equal(dtf_mask_secret("https://hooks.slack.com/services/T0/B0/XyZsecretAbCd",
					    out, sizeof(out)),
			    "\u2026AbCd");
	/* A buffer too small is cut, never overrun. */
	dtf_mask_secret("key-one-Zq81v", tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
}

static void test_secret_eq(void **state)
{
	(void)state;
	assert_true(dtf_secret_eq("tok-123456", "tok-123456"));
	assert_false(dtf_secret_eq("tok-123457", "tok-123456"));
	assert_false(dtf_secret_eq("tok-12345", "tok-123456"));
	assert_false(dtf_secret_eq("tok-1234567", "tok-123456"));
	assert_false(dtf_secret_eq("", "tok"));
	assert_false(dtf_secret_eq("tok", ""));
	assert_true(dtf_secret_eq("", ""));
	assert_false(dtf_secret_eq(NULL, "tok"));
	assert_false(dtf_secret_eq("tok", NULL));
}

static void test_private_file(void **state)
{
	char dir[] = "/tmp/dtf-secrets-XXXXXX", path[64], err[256];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	err[0] = '\0';
	assert_false(dtf_file_private_ok(path, err, sizeof(err)));
	assert_non_null(strstr(err, "key.pem"));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("secret\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_false(dtf_file_private_ok(path, err, sizeof(err)));
	assert_non_null(strstr(err, "chmod 600"));
	assert_non_null(strstr(err, "644"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_false(dtf_file_private_ok(path, err, sizeof(err)));
	assert_int_equal(chmod(path, 0602), 0);
	assert_false(dtf_file_private_ok(path, err, sizeof(err)));
	assert_int_equal(chmod(path, 0600), 0);
	assert_true(dtf_file_private_ok(path, err, sizeof(err)));
	assert_int_equal(chmod(path, 0400), 0);
	assert_true(dtf_file_private_ok(path, err, sizeof(err)));
	/* A directory is not a key file. */
	assert_false(dtf_file_private_ok(dir, err, sizeof(err)));
	unlink(path);
	rmdir(dir);
}

static void test_loopback(void **state)
{
	(void)state;
	assert_true(dtf_http_url_loopback("https://127.0.0.1:8080"));
	assert_true(dtf_http_url_loopback("https://127.1.2.3"));
	assert_true(dtf_http_url_loopback("https://localhost:1/x"));
	assert_true(dtf_http_url_loopback("https://LOCALHOST"));
	assert_true(dtf_http_url_loopback("https://[::1]:8080"));
	assert_false(dtf_http_url_loopback("https://127.0.0.1.evil.example:8080"));
	assert_false(dtf_http_url_loopback("https://localhost.evil.example"));
	assert_false(dtf_http_url_loopback("https://128.0.0.1"));
	assert_false(dtf_http_url_loopback("https://10.0.0.1:8080"));
	assert_false(dtf_http_url_loopback("https://dtf.invalid"));
	assert_false(dtf_http_url_loopback("https://[::2]:8080"));
	assert_false(dtf_http_url_loopback("https://user@127.0.0.1"));
	assert_false(dtf_http_url_loopback("https://127.0.0.1:80@evil.example/"));
	assert_false(dtf_http_url_loopback("https://127.0.0.256"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mask),
	    cmocka_unit_test(test_secret_eq),
	    cmocka_unit_test(test_private_file),
	    cmocka_unit_test(test_loopback),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
