/* Unit tests of src/common.c helpers used on the request path. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "veer/common.h"

Test(common, hex64_matches_printf)
{
	static const uint64_t fixed[] = { 0, 1, 9, 10, 15, 16, 0xff, 0x100, 0x9a9a9a9a9a9a9a9aull,
					  0xa0a0a0a0a0a0a0a0ull, 0x0123456789abcdefull,
					  0xfedcba9876543210ull, UINT64_MAX };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char want[17], got[17];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 100000; i++) {
		uint64_t v = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : (x = x * 6364136223846793005ull + 1442695040888963407ull);
		snprintf(want, sizeof(want), "%016llx", (unsigned long long)v);
		veer_hex64(got, v);
		got[16] = '\0';
		cr_assert_str_eq(got, want, "value %016llx", (unsigned long long)v);
	}
}
