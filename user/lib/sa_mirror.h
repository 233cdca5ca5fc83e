/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The SA mirror: how an SA is written into and cleared from the data path's
 * per-SA maps (esptag_sad, which holds each SA with its shared state: Tx
 * sequence, Rx replay window, lifetime; and the per-CPU esptag_sa_stats),
 * given their fds. Used by esptagd, the benchmarks and the BPF tests, so
 * that every writer follows the same order:
 *
 *  - write: zeroed per-SA counters, then the esptag_sad value with its
 *    state (the sequence for an outbound SA, the replay window for an
 *    inbound one, the lifetime) and flags 0, then the SA's flags alone
 *    through the mapping: the data path never finds a usable SA without
 *    its state, and never reads a value half written;
 *  - clear: the SA's flags first (through the mapping), so the data path
 *    stops using the SA, then the zeroed value. The maps are arrays:
 *    clearing writes a zeroed slot (an index beyond the array is no SA:
 *    nothing to clear);
 *  - retire, change: the description (ESPTAG_SA_DESC_SIZE bytes) alone,
 *    through the mapping: the state the data path advances with atomics is
 *    never written back from a copy.
 *
 * esptag_sad must be BPF_F_MMAPABLE. An fd below 0 leaves that map alone.
 * Functions return 0 or -errno; on a failed write the slots written are
 * cleared again.
 */
#ifndef ESPTAG_SA_MIRROR_H
#define ESPTAG_SA_MIRROR_H

#include <stddef.h>
#include <stdint.h>
#include <esptag/maps.h>

struct esptag_sa_maps {
	int sad, sa_stats;
	int ncpus;		/* possible CPUs (esptag_sa_stats is per-CPU); 0 = ask libbpf */
	struct esptag_sa *map;	/* esptag_sad mapped (esptag_sa_mirror_map), or NULL:
				 * each call maps it for itself */
	uint32_t map_n;		/* its entries */
};

/* Map esptag_sad (fd) shared, read-write: *n gets its entries. NULL with
 * errno set if it cannot (not mmapable: an older layout). */
struct esptag_sa *esptag_sa_mirror_map(int fd, uint32_t *n);
void esptag_sa_mirror_unmap(struct esptag_sa *map, uint32_t n);

/* seq: the outbound SA's counter (NULL: next = base = 1); rp: the inbound
 * SA's replay window (NULL: fresh). v->dir says which one applies; the
 * state fields of v itself are not used. */
int esptag_sa_mirror_write(const struct esptag_sa_maps *m, uint32_t idx, const struct esptag_sa *v,
			   const struct esptag_seq *seq, const struct esptag_replay *rp);
/* The same with the SA's lifetime: life's hard limits (NULL: none); its
 * counters are written as given (zero for a new SA, the kept use of a
 * re-installed one). */
int esptag_sa_mirror_write_life(const struct esptag_sa_maps *m, uint32_t idx,
				const struct esptag_sa *v, const struct esptag_seq *seq,
				const struct esptag_replay *rp, const struct esptag_sa_life *life);
/* Clear the SA at idx: its flags first, then the whole value and counters. */
int esptag_sa_mirror_clear(const struct esptag_sa_maps *m, uint32_t idx);
/* Clear only the SA's description: the data path stops using the SA, its
 * state stays readable (to be carried over to a re-installed SA). */
int esptag_sa_mirror_retire(const struct esptag_sa_maps *m, uint32_t idx);
/* Change the description of the SA at idx (v's first ESPTAG_SA_DESC_SIZE
 * bytes), its state left as the data path has it. */
int esptag_sa_mirror_update(const struct esptag_sa_maps *m, uint32_t idx, const struct esptag_sa *v);

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
