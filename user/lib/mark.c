// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rx mark settings (docs/rx.md): the mark of a decrypted frame is
 * (trusted | sa_index << shift) & mask. Settings are refused unless every SA
 * index below slots (the size of esptag_sad) gets a mark of its own: the
 * index bits must not be shifted out of 32 bits, must lie inside the mask
 * and must not overlap the trusted bits (else, with 8 bits for 16, SA 133
 * looks like SA 5 and SA 128 like SA 0).
 */
#include <stdio.h>
#include "esptag_proto.h"

int esptag_mark_check(uint32_t mask, uint32_t trusted, uint32_t shift, uint32_t slots,
		      char *why, size_t n)
{
	uint64_t field = 0;
	unsigned int bits = 0;

	if (!slots)
		slots = 1;
	if (!mask) {
		snprintf(why, n, "--mark-mask must be non-zero");
		return -1;
	}
	if (!trusted || (trusted & ~mask)) {
		snprintf(why, n, "--mark-trusted 0x%08x must be non-zero and inside --mark-mask 0x%08x",
			 trusted, mask);
		return -1;
	}
	if (shift > 31) {
		snprintf(why, n, "--mark-shift %u must be 0..31", shift);
		return -1;
	}
	while (slots > 1 && bits < 32 && (1ull << bits) < slots)
		bits++;
	field = ((1ull << bits) - 1) << shift;
	if (field > 0xffffffffull || (field & ~(uint64_t)mask)) {
		snprintf(why, n,
			 "--mark-mask 0x%08x with --mark-shift %u cannot hold SA indices 0..%u (%u bits at bit %u): widen the mask or lower the shift",
			 mask, shift, slots - 1, bits, shift);
		return -1;
	}
	if (field & trusted) {
		snprintf(why, n,
			 "--mark-trusted 0x%08x overlaps the SA index bits 0x%08llx (indices 0..%u at --mark-shift %u)",
			 trusted, (unsigned long long)field, slots - 1, shift);
		return -1;
	}
	return 0;
}
