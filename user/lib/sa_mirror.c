// SPDX-License-Identifier: GPL-2.0-only
/* The SA mirror in the per-SA maps (sa_mirror.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sa_mirror.h"

_Static_assert(offsetof(struct esptag_sa, seq) == ESPTAG_SA_DESC_SIZE, "description first");

static size_t stats_size(const struct esptag_sa_maps *m)
{
	int ncpu = m->ncpus > 0 ? m->ncpus : libbpf_num_possible_cpus();

	return (size_t)(ncpu > 0 ? ncpu : 1) * sizeof(struct esptag_sa_stats);
}

struct esptag_sa *esptag_sa_mirror_map(int fd, uint32_t *n)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	void *p;

	*n = 0;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return NULL;
	if (info.value_size != sizeof(struct esptag_sa) || !(info.map_flags & BPF_F_MMAPABLE)) {
		errno = EPROTO;	/* an older layout of esptag_sad */
		return NULL;
	}
	p = mmap(NULL, (size_t)info.max_entries * sizeof(struct esptag_sa),
		 PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*n = info.max_entries;
	return p;
}

void esptag_sa_mirror_unmap(struct esptag_sa *map, uint32_t n)
{
	if (map)
		munmap(map, (size_t)n * sizeof(struct esptag_sa));
}

/* esptag_sad's mapping for one call: the caller's, or one of its own. */
struct mapping {
	struct esptag_sa *p;
	uint32_t n;
	bool own;
};

static int mapping_get(const struct esptag_sa_maps *m, struct mapping *mp)
{
	memset(mp, 0, sizeof(*mp));
	if (m->sad < 0)
		return 0;
	if (m->map) {
		mp->p = m->map;
		mp->n = m->map_n;
		return 0;
	}
	mp->p = esptag_sa_mirror_map(m->sad, &mp->n);
	if (!mp->p)
		return -errno;
	mp->own = true;
	return 0;
}

static void mapping_put(struct mapping *mp)
{
	if (mp->own)
		esptag_sa_mirror_unmap(mp->p, mp->n);
	mp->p = NULL;
}

/* The one byte the data path decides on, stored alone. */
static void flags_store(struct mapping *mp, uint32_t idx, uint8_t flags)
{
	if (mp->p && idx < mp->n)
		__atomic_store_n(&mp->p[idx].flags, flags, __ATOMIC_RELEASE);
}

/* Write a zeroed slot; an index beyond the array is no SA (not an error). */
static int clear_slot(int fd, uint32_t idx, size_t vsz)
{
	void *zero;
	int err = 0;

	if (fd < 0)
		return 0;
	zero = calloc(1, vsz);
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &idx, zero, BPF_ANY) && errno != E2BIG && errno != ENOENT)
		err = -errno;
	free(zero);
	return err;
}

static int put(int fd, uint32_t idx, const void *val)
{
	if (fd < 0 || !bpf_map_update_elem(fd, &idx, val, BPF_ANY))
		return 0;
	return -errno;
}

/* The esptag_sad value of SA v with its state, flags 0. */
static void value_of(struct esptag_sa *out, const struct esptag_sa *v,
		     const struct esptag_seq *seq, const struct esptag_replay *rp,
		     const struct esptag_sa_life *life)
{
	memset(out, 0, sizeof(*out));
	memcpy(out, v, ESPTAG_SA_DESC_SIZE);
	out->flags = 0;
	if (v->dir == ESPTAG_DIR_OUT) {
		out->seq.next = seq ? seq->next : 1;
		out->seq.base = seq ? seq->base : 1;
	} else if (rp) {
		out->replay = *rp;
		out->replay.unused = 0;
		/* A window read while a CPU held it: not held in the copy. */
		out->replay.top = ESPTAG_REPLAY_TOP(out->replay.top);
	}
	if (life)
		out->life = *life;
}

int esptag_sa_mirror_retire(const struct esptag_sa_maps *m, uint32_t idx)
{
	struct mapping mp;
	int err = mapping_get(m, &mp);

	if (err || !mp.p || idx >= mp.n) {
		mapping_put(&mp);
		return err;
	}
	flags_store(&mp, idx, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memset(&mp.p[idx], 0, ESPTAG_SA_DESC_SIZE);
	mapping_put(&mp);
	return 0;
}

int esptag_sa_mirror_update(const struct esptag_sa_maps *m, uint32_t idx, const struct esptag_sa *v)
{
	struct mapping mp;
	int err = mapping_get(m, &mp);

	if (!err && (!mp.p || idx >= mp.n))
		err = -ENOENT;
	if (!err) {
		/* Every byte but flags, then flags. */
		memcpy(&mp.p[idx], v, offsetof(struct esptag_sa, flags));
		memcpy((char *)&mp.p[idx] + offsetof(struct esptag_sa, flags) + 1,
		       (const char *)v + offsetof(struct esptag_sa, flags) + 1,
		       ESPTAG_SA_DESC_SIZE - offsetof(struct esptag_sa, flags) - 1);
		flags_store(&mp, idx, v->flags);
	}
	mapping_put(&mp);
	return err;
}

int esptag_sa_mirror_clear(const struct esptag_sa_maps *m, uint32_t idx)
{
	struct mapping mp;
	int e[3];

	e[0] = mapping_get(m, &mp);
	flags_store(&mp, idx, 0);
	mapping_put(&mp);
	e[1] = clear_slot(m->sad, idx, sizeof(struct esptag_sa));
	e[2] = clear_slot(m->sa_stats, idx, stats_size(m));
	for (int i = 0; i < 3; i++)
		if (e[i])
			return e[i];
	return 0;
}

int esptag_sa_mirror_write(const struct esptag_sa_maps *m, uint32_t idx, const struct esptag_sa *v,
			   const struct esptag_seq *seq, const struct esptag_replay *rp)
{
	return esptag_sa_mirror_write_life(m, idx, v, seq, rp, NULL);
}

int esptag_sa_mirror_write_life(const struct esptag_sa_maps *m, uint32_t idx,
				const struct esptag_sa *v, const struct esptag_seq *seq,
				const struct esptag_replay *rp, const struct esptag_sa_life *life)
{
	size_t ssz = stats_size(m);
	void *st = calloc(1, ssz);
	struct esptag_sa val;
	struct mapping mp = {};
	int err;

	if (!st)
		return -ENOMEM;
	value_of(&val, v, seq, rp, life);
	err = put(m->sa_stats, idx, st);
	if (!err)
		err = put(m->sad, idx, &val);
	if (!err)
		err = mapping_get(m, &mp);
	if (!err)
		flags_store(&mp, idx, v->flags);
	mapping_put(&mp);
	free(st);
	if (err) {
		clear_slot(m->sad, idx, sizeof(struct esptag_sa));
		clear_slot(m->sa_stats, idx, ssz);
	}
	return err;
}

static int put_batch(int fd, const uint32_t *keys, const void *vals, uint32_t n)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	uint32_t cnt = n;

	if (fd < 0 || !n || !bpf_map_update_batch(fd, keys, vals, &cnt, &o))
		return 0;
	return -errno;
}

/* Zeroed slots for n keys of one map, batched; slot by slot if that fails. */
static int clear_batch(int fd, const uint32_t *keys, size_t n, size_t vsz)
{
	void *zero;
	int err = 0;

	if (fd < 0 || !n)
		return 0;
	zero = calloc(n, vsz);
	if (zero && !put_batch(fd, keys, zero, n)) {
		free(zero);
		return 0;
	}
	free(zero);
	for (size_t i = 0; i < n; i++) {
		int e = clear_slot(fd, keys[i], vsz);

		if (e && !err)
			err = e;
	}
	return err;
}

int esptag_sa_mirror_clear_many(const struct esptag_sa_maps *m, const uint32_t *idx, size_t n)
{
	struct mapping mp;
	int e[3];

	e[0] = mapping_get(m, &mp);
	for (size_t i = 0; i < n; i++)
		flags_store(&mp, idx[i], 0);
	mapping_put(&mp);
	e[1] = clear_batch(m->sad, idx, n, sizeof(struct esptag_sa));
	e[2] = clear_batch(m->sa_stats, idx, n, stats_size(m));
	for (int i = 0; i < 3; i++)
		if (e[i])
			return e[i];
	return 0;
}

int esptag_sa_mirror_write_many(const struct esptag_sa_maps *m, const uint32_t *idx,
				const struct esptag_sa *v, const struct esptag_seq *seq,
				const struct esptag_replay *rp, size_t n)
{
	return esptag_sa_mirror_write_many_life(m, idx, v, seq, rp, NULL, n);
}

int esptag_sa_mirror_write_many_life(const struct esptag_sa_maps *m, const uint32_t *idx,
				     const struct esptag_sa *v, const struct esptag_seq *seq,
				     const struct esptag_replay *rp,
				     const struct esptag_sa_life *life, size_t n)
{
	void *st = calloc(n ? n : 1, stats_size(m));
	struct esptag_sa *vals = calloc(n ? n : 1, sizeof(*vals));
	struct mapping mp = {};
	int err = 0;

	if (!st || !vals)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < n; i++)
		value_of(&vals[i], &v[i], seq ? &seq[i] : NULL, rp ? &rp[i] : NULL,
			 life ? &life[i] : NULL);
	if (!err)
		err = put_batch(m->sa_stats, idx, st, n);
	if (!err)
		err = put_batch(m->sad, idx, vals, n);
	if (!err && n)
		err = mapping_get(m, &mp);
	for (size_t i = 0; !err && i < n; i++)
		flags_store(&mp, idx[i], v[i].flags);
	mapping_put(&mp);
	free(st);
	free(vals);
	if (err && err != -ENOMEM)
		esptag_sa_mirror_clear_many(m, idx, n);
	return err;
}
