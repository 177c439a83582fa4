/* dtf: timeout=60 */
/* A C test: compiled and run by dtf. Checks a small string routine. */
#include <stdio.h>
#include <string.h>

static void reverse(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n / 2; i++) {
		char c = s[i];
		s[i] = s[n - 1 - i];
		s[n - 1 - i] = c;
	}
}

int main(void)
{
	char a[] = "worker";
	reverse(a);
	if (strcmp(a, "rekrow") != 0) {
		fprintf(stderr, "reverse gave %s\n", a);
		return 1;
	}
	puts("reverse ok");
	return 0;
}
