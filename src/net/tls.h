/* tls.h: the coordinator's TLS credentials (GnuTLS, served to libmicrohttpd through its
 * certificate callback so that a reload takes effect at the next handshake without restarting
 * the daemon) and the check of a client's certificate for mutual TLS. */
#ifndef DTF_NET_TLS_H
#define DTF_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;

/* Loads the PEM certificate chain cert_path and the private key key_path (which must not be
 * readable by group or others) as the credentials every later handshake gets. One set per
 * process: the last call wins. Returns 0, or DTF_EINVAL/DTF_EIO with a reason in err. */
int dtf_tls_server_load(const char *cert_path, const char *key_path, char *err, size_t errlen);
/* Reads the same files again and, if they hold a valid pair, serves them from the next
 * handshake on; connections already up keep theirs. On failure the old pair stays. */
int dtf_tls_server_reload(char *err, size_t errlen);
/* Frees every set loaded (call only after the daemon is stopped). */
void dtf_tls_server_unload(void);
/* The gnutls_certificate_retrieve_function2 for MHD_OPTION_HTTPS_CERT_CALLBACK (a void * so
 * that this header needs no GnuTLS include). */
void *dtf_tls_cert_callback(void);
/* True if the connection's peer sent a certificate that the daemon's trust list (its
 * MHD_OPTION_HTTPS_MEM_TRUST) verifies; otherwise false with the reason in why. */
bool dtf_tls_peer_ok(struct MHD_Connection *conn, char *why, size_t len);

#endif
