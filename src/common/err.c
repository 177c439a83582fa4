/* err.c: messages for the DTF_E* codes. */
#include "common/err.h"

const char *dtf_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
#define X(name, msg)                                                                               \
	case DTF_E##name:                                                                          \
		return msg;
		DTF_ERRNO_MAP(X)
#undef X
	default:
		return "unknown error";
	}
}
