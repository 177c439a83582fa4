/* curl_setup.c: libcurl set-up shared by dtf's HTTP clients (see curl_setup.h). */
#include "net/curl_setup.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void dtf_curl_global_init(void)
{
	pthread_once(&curl_once, curl_setup);
}

int dtf_curl_base_url(const char *base_url, char *out, size_t outlen)
{
	size_t n = strlen(base_url);

	while (n > 0 && base_url[n - 1] == '/')
		n--;
	if (n == 0 || n >= outlen)
		return DTF_EINVAL;
	if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
		return DTF_EINVAL;
	memcpy(out, base_url, n);
	out[n] = '\0';
	return 0;
}

size_t dtf_curl_write_buf(char *data, size_t size, size_t nmemb, void *buf)
{
	if (dtf_buf_add(buf, data, size * nmemb) != 0)
		return 0;
	return size * nmemb;
}
