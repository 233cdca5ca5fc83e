// SPDX-License-Identifier: GPL-2.0-only
/* The SA mirror in the per-SA maps (sa_mirror.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sa_mirror.h"

static size_t stats_size(const struct esptag_sa_maps *m)
{
	int ncpu = m->ncpus > 0 ? m->ncpus : libbpf_num_possible_cpus();

	return (size_t)(ncpu > 0 ? ncpu : 1) * sizeof(struct esptag_sa_stats);
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

static int life_fd(const struct esptag_sa_maps *m)
{
	return m->life > 0 ? m->life : -1;
}

static int put(int fd, uint32_t idx, const void *val)
{
	if (fd < 0 || !bpf_map_update_elem(fd, &idx, val, BPF_ANY))
		return 0;
	return -errno;
}

int esptag_sa_mirror_retire(const struct esptag_sa_maps *m, uint32_t idx)
{
	return clear_slot(m->sad, idx, sizeof(struct esptag_sa));
}

int esptag_sa_mirror_clear(const struct esptag_sa_maps *m, uint32_t idx)
{
	int e[5];

	e[0] = clear_slot(m->sad, idx, sizeof(struct esptag_sa));
	e[1] = clear_slot(m->seq, idx, sizeof(struct esptag_seq));
	e[2] = clear_slot(m->replay, idx, sizeof(struct esptag_replay));
	e[3] = clear_slot(m->sa_stats, idx, stats_size(m));
	e[4] = clear_slot(life_fd(m), idx, sizeof(struct esptag_sa_life));
	for (int i = 0; i < 5; i++)
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
	const struct esptag_seq s0 = { .next = 1, .base = 1 };
	struct esptag_replay r0 = {};
	const struct esptag_sa_life l0 = {};
	size_t ssz = stats_size(m);
	void *st = calloc(1, ssz);
	int err;

	if (!st)
		return -ENOMEM;
	if (rp) {
		/* A window read while a CPU held it: not held in the copy. */
		r0 = *rp;
		memset(&r0.lock, 0, sizeof(r0.lock));
		r0.top = ESPTAG_REPLAY_TOP(r0.top);
	}
	if (v->dir == ESPTAG_DIR_OUT)
		err = put(m->seq, idx, seq ? seq : &s0);
	else
		err = put(m->replay, idx, &r0);
	if (!err)
		err = put(m->sa_stats, idx, st);
	if (!err)
		err = put(life_fd(m), idx, life ? life : &l0);
	if (!err)
		err = put(m->sad, idx, v);
	free(st);
	if (err) {
		clear_slot(m->seq, idx, sizeof(struct esptag_seq));
		clear_slot(m->replay, idx, sizeof(struct esptag_replay));
		clear_slot(m->sa_stats, idx, ssz);
		clear_slot(life_fd(m), idx, sizeof(struct esptag_sa_life));
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
	int e[5];

	e[0] = clear_batch(m->sad, idx, n, sizeof(struct esptag_sa));
	e[1] = clear_batch(m->seq, idx, n, sizeof(struct esptag_seq));
	e[2] = clear_batch(m->replay, idx, n, sizeof(struct esptag_replay));
	e[3] = clear_batch(m->sa_stats, idx, n, stats_size(m));
	e[4] = clear_batch(life_fd(m), idx, n, sizeof(struct esptag_sa_life));
	for (int i = 0; i < 5; i++)
		if (e[i])
			return e[i];
	return 0;
}

struct split {
	uint32_t *out, *in;
	struct esptag_seq *sv;
	struct esptag_replay *rv;
	uint32_t nout, nin;
};

/* The outbound and inbound SAs of a set, with their state. */
static int split(struct split *s, const uint32_t *idx, const struct esptag_sa *v,
		 const struct esptag_seq *seq, const struct esptag_replay *rp, size_t n)
{
	size_t k = n ? n : 1;

	memset(s, 0, sizeof(*s));
	s->out = malloc(k * sizeof(*s->out));
	s->in = malloc(k * sizeof(*s->in));
	s->sv = calloc(k, sizeof(*s->sv));
	s->rv = calloc(k, sizeof(*s->rv));
	if (!s->out || !s->in || !s->sv || !s->rv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (v[i].dir == ESPTAG_DIR_OUT) {
			s->sv[s->nout].next = seq ? seq[i].next : 1;
			s->sv[s->nout].base = seq ? seq[i].base : 1;
			s->out[s->nout++] = idx[i];
		} else {
			if (rp)
				s->rv[s->nin] = rp[i];
			memset(&s->rv[s->nin].lock, 0, sizeof(s->rv[s->nin].lock));
			/* A window read while a CPU held it: not held in the copy. */
			s->rv[s->nin].top = ESPTAG_REPLAY_TOP(s->rv[s->nin].top);
			s->in[s->nin++] = idx[i];
		}
	}
	return 0;
}

static void split_free(struct split *s)
{
	free(s->out);
	free(s->in);
	free(s->sv);
	free(s->rv);
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
	struct esptag_sa_life *l0 = life ? NULL : calloc(n ? n : 1, sizeof(*l0));
	struct split s;
	int err;

	err = st ? split(&s, idx, v, seq, rp, n) : -ENOMEM;
	if (!err)
		err = put_batch(m->seq, s.out, s.sv, s.nout);
	if (!err)
		err = put_batch(m->replay, s.in, s.rv, s.nin);
	if (!err)
		err = put_batch(m->sa_stats, idx, st, n);
	if (!err && !life && !l0)
		err = -ENOMEM;
	if (!err)
		err = put_batch(life_fd(m), idx, life ? life : l0, n);
	if (!err)
		err = put_batch(m->sad, idx, v, n);
	if (st)
		split_free(&s);
	free(st);
	free(l0);
	if (err && err != -ENOMEM)
		esptag_sa_mirror_clear_many(m, idx, n);
	return err;
}
