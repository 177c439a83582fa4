/* dtf: timeout=60 */
/* A failing C test: it checks that a sum fits in a byte, which it does not. */
#include <stdint.h>
#include <stdio.h>

int main(void)
{
	unsigned total = 0;
	for (unsigned i = 1; i <= 30; i++)
		total += i;
	uint8_t packed = (uint8_t)total;
	if (packed != total) {
		fprintf(stderr, "sum %u does not fit in a byte (got %u)\n", total, packed);
		return 1;
	}
	return 0;
}
