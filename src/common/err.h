/* err.h: the one table of dtf error codes. Actions return 0 or a negative DTF_E* code;
 * dtf_strerror() gives the message. */
#ifndef DTF_ERR_H
#define DTF_ERR_H

#define DTF_ERRNO_MAP(X)                                                                           \
	X(NOMEM, "out of memory")                                                                  \
	X(INVAL, "invalid argument")                                                               \
	X(IO, "input/output error")                                                                \
	X(NOTFOUND, "not found")                                                                   \
	X(EXISTS, "already exists")                                                                \
	X(TOOBIG, "too large")                                                                     \
	X(PARSE, "parse error")                                                                    \
	X(STATE, "invalid state transition")                                                       \
	X(STORE, "store error")                                                                    \
	X(NET, "network error")                                                                    \
	X(TIMEOUT, "timed out")                                                                    \
	X(AUTH, "unauthorized")                                                                    \
	X(PROTO, "protocol mismatch")                                                              \
	X(SPAWN, "cannot start process")                                                           \
	X(STALE, "stale request")                                                                  \
	X(SHUTDOWN, "shutting down")                                                               \
	X(DENIED, "not allowed")

enum {
	DTF_OK = 0,
#define X(name, msg) DTF_E##name,
	DTF_E__FIRST = -1000,
	DTF_ERRNO_MAP(X)
#undef X
};

/* Returns a static string for a DTF_E* code (or "ok" for 0, "unknown error" otherwise). */
const char *dtf_strerror(int err);

#endif
