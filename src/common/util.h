/* util.h: small helpers shared by every part: clocks, ids, files with size caps, paths. */
#ifndef DTF_UTIL_H
#define DTF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock (for timeouts and durations). */
int64_t dtf_mono_ms(void);
/* Milliseconds since the epoch (for timestamps that are stored or shown). */
int64_t dtf_wall_ms(void);
/* Writes an RFC 3339 UTC timestamp ("2026-11-24T02:00:00.123Z") of ms since the epoch. */
void dtf_rfc3339(int64_t wall_ms, char out[32]);
/* Parses an RFC 3339 timestamp into ms since the epoch; DTF_EPARSE on bad input. */
int dtf_parse_rfc3339(const char *s, int64_t *wall_ms);

/* Writes a new random id of `prefix` and 16 hex digits into out (at least 40 bytes). */
void dtf_id_new(const char *prefix, char *out, size_t outlen);

/* Reads a whole file of at most cap bytes into a NUL-terminated heap buffer the caller frees.
 * DTF_ENOTFOUND, DTF_EIO or DTF_ETOOBIG. */
int dtf_read_file(const char *path, size_t cap, char **out, size_t *len);
/* Reads the first max bytes of a file (all of a shorter one) into a NUL-terminated heap buffer
 * the caller frees; *cut (may be NULL) tells whether the file was longer. DTF_ENOTFOUND or
 * DTF_ENOMEM. */
int dtf_read_head(const char *path, size_t max, char **out, size_t *len, bool *cut);
/* Writes data to path atomically (temp file + fsync + rename). */
int dtf_write_file(const char *path, const void *data, size_t len);
/* Creates a directory and its parents (like mkdir -p). */
int dtf_mkdirs(const char *path, unsigned mode);
/* Removes a directory tree; missing is not an error. */
int dtf_rmtree(const char *path);

/* True if path is a regular file that neither its group nor others may read or write (what
 * `chmod 600` gives): the test for a file holding a secret (a TLS key, API keys) before it is
 * read. Otherwise false with a reason naming the file into err (errlen bytes). */
bool dtf_file_private_ok(const char *path, char *err, size_t errlen);

/* Compares a secret that was sent (got) with the one expected (want) in time that depends only
 * on their lengths, not on where they first differ, so that the comparison cannot be timed to
 * guess a token byte by byte. NULL equals nothing. */
bool dtf_secret_eq(const char *got, const char *want);

/* Writes a secret (an API key, a token, a password, a URL with a token in it) in the form that
 * may be shown or logged: "…" and its last four characters ("…c0de"), "…" alone for one of
 * eight characters or fewer (whose last four would give away half), "" for NULL or "". out gets
 * at most outlen - 1 bytes; 16 are enough. Returns out. */
char *dtf_mask_secret(const char *secret, char *out, size_t outlen);

/* True if s is a valid identifier for tasks, runs and workers: 1..64 of [A-Za-z0-9._-]. */
bool dtf_valid_id(const char *s);

/* Parses a duration like "30", "30s", "5m", "2h" into seconds; DTF_EPARSE on bad input. */
int dtf_parse_seconds(const char *s, double *out);

/* Path of the running executable (for spawning local workers), into a static buffer. */
const char *dtf_self_exe(void);

#endif
