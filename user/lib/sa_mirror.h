/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The SA mirror: how an SA is written into and cleared from the data path's
 * per-SA maps (esptag_sad, esptag_seq, esptag_replay, esptag_sa_stats,
 * esptag_sa_life),
 * given their fds. Used by esptagd, the benchmarks and the BPF tests, so
 * that every writer follows the same order:
 *
 *  - write: the SA's state first (esptag_seq for an outbound SA,
 *    esptag_replay for an inbound one), then zeroed per-SA counters and its
 *    lifetime (hard limits, zeroed use), then the esptag_sad entry: the data path never finds an SA without state;
 *  - clear: the esptag_sad entry first, so the data path stops using the
 *    SA before its state goes. The maps are arrays: clearing writes a
 *    zeroed slot (an index beyond the array is no SA: nothing to clear).
 *
 * An fd below 0 leaves that map alone. Functions return 0 or -errno; on a
 * failed write the state slots written are cleared again.
 */
#ifndef ESPTAG_SA_MIRROR_H
#define ESPTAG_SA_MIRROR_H

#include <stddef.h>
#include <stdint.h>
#include <esptag/maps.h>

struct esptag_sa_maps {
	int sad, seq, replay, sa_stats;
	int ncpus;		/* possible CPUs (esptag_sa_stats is per-CPU); 0 = ask libbpf */
	int life;		/* esptag_sa_life; 0 or below: left alone (so that an
				 * initialiser written before it existed leaves it alone) */
};

/* seq: the outbound SA's counter (NULL: next = base = 1); rp: the inbound
 * SA's replay window (NULL: fresh). v->dir says which one applies. */
int esptag_sa_mirror_write(const struct esptag_sa_maps *m, uint32_t idx, const struct esptag_sa *v,
			   const struct esptag_seq *seq, const struct esptag_replay *rp);
/* The same with the SA's lifetime: life's hard limits (NULL: none); its
 * counters are written as given (zero for a new SA, the kept use of a
 * re-installed one). */
int esptag_sa_mirror_write_life(const struct esptag_sa_maps *m, uint32_t idx,
				const struct esptag_sa *v, const struct esptag_seq *seq,
				const struct esptag_replay *rp, const struct esptag_sa_life *life);
/* Clear the SA at idx from every map, esptag_sad first. */
int esptag_sa_mirror_clear(const struct esptag_sa_maps *m, uint32_t idx);
/* Clear only the esptag_sad entry: the data path stops using the SA, its
 * state stays readable (to be carried over to a re-installed SA). */
int esptag_sa_mirror_retire(const struct esptag_sa_maps *m, uint32_t idx);

/* n SAs at once (bpf_map_update_batch); seq[i] / rp[i] (either may be NULL)
 * belong to idx[i]. On failure every SA of the set is cleared again. */
int esptag_sa_mirror_write_many(const struct esptag_sa_maps *m, const uint32_t *idx,
				const struct esptag_sa *v, const struct esptag_seq *seq,
				const struct esptag_replay *rp, size_t n);
/* The same with life[i] (NULL: no limits, zeroed use). */
int esptag_sa_mirror_write_many_life(const struct esptag_sa_maps *m, const uint32_t *idx,
				     const struct esptag_sa *v, const struct esptag_seq *seq,
				     const struct esptag_replay *rp,
				     const struct esptag_sa_life *life, size_t n);
int esptag_sa_mirror_clear_many(const struct esptag_sa_maps *m, const uint32_t *idx, size_t n);

#endif
