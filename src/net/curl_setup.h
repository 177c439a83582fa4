/* curl_setup.h: what every libcurl client in dtf does the same way (the coordinator client in
 * net/client.c, the CI providers' client in ci/http.c): one global initialisation, base URLs
 * checked and normalised, response bodies gathered into a capped buffer. */
#ifndef DTF_CURL_SETUP_H
#define DTF_CURL_SETUP_H

#include <stddef.h>

/* Calls curl_global_init() once per process, whichever client comes first. */
void dtf_curl_global_init(void);

/* Copies base_url without its trailing slashes into out (outlen bytes). DTF_EINVAL when it is
 * empty, does not fit, or is not an http:// or https:// URL. */
int dtf_curl_base_url(const char *base_url, char *out, size_t outlen);

/* A CURLOPT_WRITEFUNCTION that appends to the struct dtf_buf given as CURLOPT_WRITEDATA. Past the
 * buffer's cap it takes nothing, which makes libcurl fail the transfer. */
size_t dtf_curl_write_buf(char *data, size_t size, size_t nmemb, void *buf);

#endif
