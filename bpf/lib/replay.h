/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rx anti-replay window, RFC 4303 section 3.4.3, over full 64-bit sequence
 * numbers (ESN: the agent infers seq_hi per Appendix A2 and reports the whole
 * number in the metadata tag; without ESN seq_hi is 0).
 *
 * State (struct esptag_replay): top = highest authenticated sequence number,
 * bitmap = a ring of ESPTAG_REPLAY_MAX bits where bit (seq % 1024) tells
 * whether seq was seen. Only the last `window` numbers up to top are
 * consulted; bits are cleared as top advances, so a bit always describes the
 * most recent number that maps to it. window 0 accepts strictly increasing
 * numbers only (as Linux xfrm does); more than 1024 is clamped to 1024.
 * Sequence number 0 is never valid (counters start at 1).
 *
 * replay_update() must run with the entry held (ESPTAG_REPLAY_BUSY set in
 * r->top by the caller, esptag_rx.bpf.c rx_replay): it takes top, the
 * value without the bit, and returns the new one in *new_top (the caller
 * stores it, which releases the entry). It calls no helper and has a
 * bounded loop (at most 15 word updates).
 */
#ifndef ESPTAG_BPF_REPLAY_H
#define ESPTAG_BPF_REPLAY_H

#include <linux/types.h>
#include <esptag/maps.h>

enum replay_verdict {
	REPLAY_FRESH	= 0,	/* accepted, window updated */
	REPLAY_DUP	= 1,	/* already seen inside the window */
	REPLAY_OLD	= 2,	/* left of the window (or 0) */
};

#define REPLAY_BITS	ESPTAG_REPLAY_MAX
#define REPLAY_WMASK	(ESPTAG_REPLAY_WORDS - 1)

_Static_assert((REPLAY_BITS & (REPLAY_BITS - 1)) == 0, "ring size power of 2");
_Static_assert(REPLAY_BITS == ESPTAG_REPLAY_WORDS * 64, "ring words");

/* Bits 0 .. k-1 set, for k in 1..64 (2 << 63 is 0 in unsigned arithmetic). */
static __always_inline __u64 replay_low_bits(__u32 k)
{
	return (2ULL << ((k - 1) & 63)) - 1;
}

/* Check seq against r (locked) and record it when fresh. */
static __always_inline int replay_update(struct esptag_replay *r, __u64 top, __u64 seq,
					 __u32 window, __u64 *new_top)
{
	__u64 bt, bs;
	__u32 tb, sb;
	int i;

	*new_top = top;
	if (window > REPLAY_BITS)
		window = REPLAY_BITS;
	if (!seq || (seq & ESPTAG_REPLAY_BUSY))
		return REPLAY_OLD;
	if (seq <= top) {
		if (top - seq >= window)
			return REPLAY_OLD;
		if (r->bitmap[(seq >> 6) & REPLAY_WMASK] & (1ULL << (seq & 63)))
			return REPLAY_DUP;
		r->bitmap[(seq >> 6) & REPLAY_WMASK] |= 1ULL << (seq & 63);
		return REPLAY_FRESH;
	}
	/*
	 * Advance to seq: forget exactly the numbers top+1 .. seq, whose ring
	 * bits still describe the previous lap (top+1-1024 .. seq-1024). Bits
	 * of numbers above seq in its word belong to numbers still inside the
	 * ring and are kept. Word granularity keeps the verifier's work small.
	 */
	bt = top >> 6;
	bs = seq >> 6;
	tb = top & 63;
	sb = seq & 63;
	if (seq - top >= REPLAY_BITS) {
#pragma unroll
		for (i = 0; i < ESPTAG_REPLAY_WORDS; i++)
			r->bitmap[i] = 0;
	} else if (bs == bt) {
		r->bitmap[bt & REPLAY_WMASK] &= ~(replay_low_bits(sb + 1) ^
						  replay_low_bits(tb + 1));
	} else {
		/* Keep 0..tb of top's word, clear the words in between, then
		 * clear 0..sb of seq's word (it may be top's word again when
		 * bs - bt == 16: both steps then apply to it, in this order). */
		r->bitmap[bt & REPLAY_WMASK] &= replay_low_bits(tb + 1);
		for (i = 1; i < ESPTAG_REPLAY_WORDS; i++) {
			if (bt + i >= bs)
				break;
			r->bitmap[(bt + i) & REPLAY_WMASK] = 0;
		}
		r->bitmap[bs & REPLAY_WMASK] &= ~replay_low_bits(sb + 1);
	}
	*new_top = seq;
	r->bitmap[bs & REPLAY_WMASK] |= 1ULL << sb;
	return REPLAY_FRESH;
}

/*
 * segs (2 .. 64) consecutive numbers seq .. seq + segs - 1 in one frame
 * (the agent coalesced their TCP segments): fresh only if all of them are
 * right of the window's top (an in-order run), then all are recorded.
 * Anything else is refused whole (REPLAY_OLD): the host cannot tell which
 * of them it saw. Same locking rule as replay_update().
 */
static __always_inline int replay_update_range(struct esptag_replay *r, __u64 top, __u64 seq,
					       __u32 segs, __u32 window, __u64 *new_top)
{
	__u64 last = seq + segs - 1, ws, wl;
	__u32 sb, lb;

	*new_top = top;
	if (!seq || segs > 64 || last < seq || seq <= top)
		return REPLAY_OLD;
	if (replay_update(r, top, last, window, new_top) != REPLAY_FRESH)
		return REPLAY_OLD;
	/* top is last now and its bit set; set seq .. last - 1 (two words at most). */
	ws = seq >> 6;
	wl = last >> 6;
	sb = seq & 63;
	lb = last & 63;
	if (ws == wl) {
		r->bitmap[ws & REPLAY_WMASK] |= replay_low_bits(lb + 1) & ~((1ULL << sb) - 1);
	} else {
		r->bitmap[ws & REPLAY_WMASK] |= ~((1ULL << sb) - 1);
		r->bitmap[wl & REPLAY_WMASK] |= replay_low_bits(lb + 1);
	}
	return REPLAY_FRESH;
}

#endif /* ESPTAG_BPF_REPLAY_H */
