/* tls.c: server credentials that can be replaced while the server runs, and the client
 * certificate check (see tls.h).
 *
 * libmicrohttpd copies MHD_OPTION_HTTPS_MEM_CERT/KEY into GnuTLS credentials once, at start.
 * With MHD_OPTION_HTTPS_CERT_CALLBACK instead, GnuTLS asks us for the certificate during each
 * handshake, so swapping the pointer below changes what new connections get, and connections
 * that are already up (a long-poll, an event stream) are left alone. GnuTLS does not copy what
 * the callback returns, so a replaced set is kept until the server stops. */
#include "net/tls.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"

#define MAX_CHAIN 16

struct creds {
	gnutls_pcert_st chain[MAX_CHAIN];
	unsigned n;
	gnutls_privkey_t key;
	struct creds *older; /* replaced sets, freed at unload */
};

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct creds *current;
static char *cert_file, *key_file;

static void creds_free(struct creds *c)
{
	unsigned i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		gnutls_pcert_deinit(&c->chain[i]);
	if (c->key)
		gnutls_privkey_deinit(c->key);
	free(c);
}

/* True if the key is the certificate's: their public key ids match. */
static bool key_matches(struct creds *c)
{
	unsigned char a[64], b[64];
	size_t la = sizeof(a), lb = sizeof(b);
	gnutls_pubkey_t pub;
	bool ok = false;

	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(pub, c->key, 0, 0) >= 0 &&
	    gnutls_pubkey_get_key_id(pub, 0, a, &la) >= 0 &&
	    gnutls_pubkey_get_key_id(c->chain[0].pubkey, 0, b, &lb) >= 0)
		ok = la == lb && memcmp(a, b, la) == 0;
	gnutls_pubkey_deinit(pub);
	return ok;
}

static struct creds *creds_read(const char *cert_path, const char *key_path, char *err,
				size_t errlen)
{
	struct creds *c = calloc(1, sizeof(*c));
	char *pem = NULL, *kpem = NULL, perr[256];
	gnutls_datum_t d;
	size_t len;
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dtf_read_file(cert_path, 1 << 20, &pem, &len) != 0) {
		snprintf(err, errlen, "cannot read the TLS certificate %s", cert_path);
		goto fail;
	}
	if (!dtf_file_private_ok(key_path, perr, sizeof(perr))) {
		snprintf(err, errlen, "TLS key: %s", perr);
		goto fail;
	}
	if (dtf_read_file(key_path, 1 << 20, &kpem, &len) != 0) {
		snprintf(err, errlen, "cannot read the TLS key %s", key_path);
		goto fail;
	}
	d.data = (unsigned char *)pem;
	d.size = (unsigned)strlen(pem);
	c->n = MAX_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(c->chain, &c->n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || c->n == 0) {
		c->n = 0;
		snprintf(err, errlen, "%s holds no PEM certificate (%s)", cert_path,
			 gnutls_strerror(rc));
		goto fail;
	}
	d.data = (unsigned char *)kpem;
	d.size = (unsigned)strlen(kpem);
	if (gnutls_privkey_init(&c->key) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(c->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, errlen, "%s holds no usable PEM private key", key_path);
		goto fail;
	}
	if (!key_matches(c)) {
		snprintf(err, errlen, "the key %s is not the key of the certificate %s", key_path,
			 cert_path);
		goto fail;
	}
	free(pem);
	explicit_bzero(kpem, len);
	free(kpem);
	return c;
fail:
	free(pem);
	if (kpem) {
		explicit_bzero(kpem, len);
		free(kpem);
	}
	creds_free(c);
	return NULL;
}

int dtf_tls_server_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	char *cf = strdup(cert_path), *kf = strdup(key_path);
	struct creds *c;

	if (!cf || !kf) {
		free(cf);
		free(kf);
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	c = creds_read(cf, kf, err, errlen);
	if (!c) {
		free(cf);
		free(kf);
		return DTF_EINVAL;
	}
	pthread_mutex_lock(&tls_lock);
	c->older = current;
	current = c;
	free(cert_file);
	free(key_file);
	cert_file = cf;
	key_file = kf;
	pthread_mutex_unlock(&tls_lock);
	return 0;
}

int dtf_tls_server_reload(char *err, size_t errlen)
{
	char *cf, *kf;
	struct creds *c;

	pthread_mutex_lock(&tls_lock);
	cf = cert_file ? strdup(cert_file) : NULL;
	kf = key_file ? strdup(key_file) : NULL;
	pthread_mutex_unlock(&tls_lock);
	if (!cf || !kf) {
		free(cf);
		free(kf);
		snprintf(err, errlen, "TLS is not on");
		return DTF_EINVAL;
	}
	c = creds_read(cf, kf, err, errlen);
	free(cf);
	free(kf);
	if (!c)
		return DTF_EINVAL;
	pthread_mutex_lock(&tls_lock);
	c->older = current;
	current = c;
	pthread_mutex_unlock(&tls_lock);
	return 0;
}

void dtf_tls_server_unload(void)
{
	pthread_mutex_lock(&tls_lock);
	while (current) {
		struct creds *c = current;
		current = c->older;
		creds_free(c);
	}
	free(cert_file);
	free(key_file);
	cert_file = key_file = NULL;
	pthread_mutex_unlock(&tls_lock);
}

static int cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
			 const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
			 unsigned *pcert_len, gnutls_privkey_t *key)
{
	int rc = -1;

	(void)session;
	(void)req_ca_dn;
	(void)nreqs;
	(void)algos;
	(void)nalgos;
	pthread_mutex_lock(&tls_lock);
	if (current) {
		*pcert = current->chain;
		*pcert_len = current->n;
		*key = current->key;
		rc = 0;
	}
	pthread_mutex_unlock(&tls_lock);
	return rc;
}

void *dtf_tls_cert_callback(void)
{
	return (void *)&cert_callback;
}

bool dtf_tls_peer_ok(struct MHD_Connection *conn, char *why, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_datum_t out = {0};
	unsigned status = 0;
	int rc;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session) {
		snprintf(why, len, "this connection does not use TLS");
		return false;
	}
	rc = gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status);
	if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND) {
		snprintf(why, len, "a client certificate is required (--tls-cert and --tls-key)");
		return false;
	}
	if (rc < 0) {
		snprintf(why, len, "the client certificate cannot be checked: %s",
			 gnutls_strerror(rc));
		return false;
	}
	if (status == 0)
		return true;
	if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >= 0) {
		snprintf(why, len, "the client certificate is not trusted: %s", (char *)out.data);
		gnutls_free(out.data);
	} else {
		snprintf(why, len, "the client certificate is not trusted");
	}
	return false;
}
