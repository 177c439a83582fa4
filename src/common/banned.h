/* banned.h: functions dtf code must not use (see STYLE.md rule 6). The build force-includes it
 * ahead of every C file (-include in CMakeLists.txt), so no file includes it by hand.
 *
 * Because it comes first, the libc headers that declare the banned names are included here,
 * before the macros exist: their prototypes (and glibc's fortified inline wrappers) parse as
 * usual, and their include guards make every later #include of them a no-op. A call that
 * survives is then rewritten to an undeclared identifier, sorry_<name>_is_a_banned_function:
 * a compile error that names the function. */
#ifndef DTF_BANNED_H
#define DTF_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)
#undef localtime
#define localtime(x) BANNED(localtime)
#undef gmtime
#define gmtime(x) BANNED(gmtime)

#endif
