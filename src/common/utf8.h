/* utf8.h: UTF-8 decoding shared by the code that reads or writes text from tasks (JUnit reading,
 * the report writers' escaping). */
#ifndef DTF_UTF8_H
#define DTF_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the UTF-8 sequence at s (len >= 1 bytes left) into *cp; returns its length, or 0 when
 * the bytes are not valid UTF-8 (overlong forms and surrogates included), leaving *cp alone. */
size_t dtf_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

#endif
