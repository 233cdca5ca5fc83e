// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SA mirror (user/lib/sa_mirror.h) on real BPF array maps shaped like
 * esptag_sad, esptag_seq, esptag_replay and esptag_sa_stats: what a write
 * puts in each map, what a clear or a retire leaves, the batched forms, a
 * map left alone (fd -1), and a failed write leaving no state behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../lib/test.h"
#include "sa_mirror.h"

#define SLOTS	16

static struct esptag_sa_maps m = { .sad = -1, .seq = -1, .replay = -1, .sa_stats = -1 };
static int ncpu;

static int mk(enum bpf_map_type type, size_t vsz)
{
	return bpf_map_create(type, NULL, sizeof(uint32_t), vsz, SLOTS, NULL);
}

static struct esptag_sa sa_of(uint8_t dir, uint32_t spi)
{
	struct esptag_sa v = { .spi = htonl(spi), .dir = dir, .family = 4,
			       .flags = ESPTAG_SAF_ALIVE, .icv_len = 16 };

	return v;
}

static bool slot_zero(int fd, uint32_t idx, size_t vsz)
{
	uint8_t buf[4096] = { 0 }, zero[4096] = { 0 };

	if (bpf_map_lookup_elem(fd, &idx, buf))
		return false;
	return !memcmp(buf, zero, vsz);
}

static uint64_t stats_packets(uint32_t idx)
{
	struct esptag_sa_stats st[ncpu];
	uint64_t n = 0;

	if (bpf_map_lookup_elem(m.sa_stats, &idx, st))
		return UINT64_MAX;
	for (int i = 0; i < ncpu; i++)
		n += st[i].packets;
	return n;
}

/* An outbound SA: its counter starts at 1 (base 1), counters zeroed, SAD entry. */
static void write_out(void)
{
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x100), got;
	struct esptag_sa_stats dirty[ncpu];
	struct esptag_seq s;
	uint32_t idx = 3;

	memset(dirty, 0xff, sizeof(dirty));
	T_EQ(bpf_map_update_elem(m.sa_stats, &idx, dirty, BPF_ANY), 0);
	T_EQ(esptag_sa_mirror_write(&m, idx, &v, NULL, NULL), 0);
	T_EQ(bpf_map_lookup_elem(m.seq, &idx, &s), 0);
	T_EQ(s.next, 1);
	T_EQ(s.base, 1);
	T_EQ(bpf_map_lookup_elem(m.sad, &idx, &got), 0);
	T_MEMEQ(&got, sizeof(got), &v, sizeof(v));
	T_EQ(stats_packets(idx), 0);
	T_ASSERT(slot_zero(m.replay, idx, sizeof(struct esptag_replay)));
}

/* An inbound SA keeps the replay window it is given (lock zeroed by the caller). */
static void write_in_kept_state(void)
{
	struct esptag_sa v = sa_of(ESPTAG_DIR_IN, 0x200);
	struct esptag_replay rp = { .top = 77 }, got;
	uint32_t idx = 4;

	T_EQ(esptag_sa_mirror_write(&m, idx, &v, NULL, &rp), 0);
	T_EQ(bpf_map_lookup_elem(m.replay, &idx, &got), 0);
	T_EQ(got.top, 77);
	T_ASSERT(slot_zero(m.seq, idx, sizeof(struct esptag_seq)));
}

/* A window copied while a CPU held it (ESPTAG_REPLAY_BUSY in top) is
 * written free: the SA would otherwise drop every packet (replay busy). */
static void write_in_busy_state(void)
{
	struct esptag_sa v[2] = { sa_of(ESPTAG_DIR_IN, 0x210), sa_of(ESPTAG_DIR_IN, 0x211) };
	struct esptag_replay rp[2] = { { .top = 78 | ESPTAG_REPLAY_BUSY },
				       { .top = 79 | ESPTAG_REPLAY_BUSY } }, got;
	uint32_t idx[2] = { 5, 6 };

	T_EQ(esptag_sa_mirror_write(&m, idx[0], &v[0], NULL, &rp[0]), 0);
	T_EQ(bpf_map_lookup_elem(m.replay, &idx[0], &got), 0);
	T_EQ(got.top, 78);
	T_EQ(esptag_sa_mirror_write_many(&m, idx, v, NULL, rp, 2), 0);
	T_EQ(bpf_map_lookup_elem(m.replay, &idx[1], &got), 0);
	T_EQ(got.top, 79);
	esptag_sa_mirror_clear_many(&m, idx, 2);
}

/* Retire empties the SAD slot only; clear empties every map's slot. */
static void retire_then_clear(void)
{
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x300);
	struct esptag_seq s = { .next = 500, .base = 400 }, got;
	uint32_t idx = 5;

	T_EQ(esptag_sa_mirror_write(&m, idx, &v, &s, NULL), 0);
	T_EQ(esptag_sa_mirror_retire(&m, idx), 0);
	T_ASSERT(slot_zero(m.sad, idx, sizeof(struct esptag_sa)));
	T_EQ(bpf_map_lookup_elem(m.seq, &idx, &got), 0);
	T_EQ(got.next, 500);
	T_EQ(got.base, 400);
	T_EQ(esptag_sa_mirror_clear(&m, idx), 0);
	T_ASSERT(slot_zero(m.seq, idx, sizeof(struct esptag_seq)));
	T_ASSERT(slot_zero(m.sad, idx, sizeof(struct esptag_sa)));
	/* An index beyond the arrays is no SA: nothing to clear. */
	T_EQ(esptag_sa_mirror_clear(&m, SLOTS + 10), 0);
}

/* The SAD entry cannot be written (an esptag_sad smaller than the state
 * maps): the write fails and the state written first is cleared again. */
static void write_fails_clean(void)
{
	struct esptag_sa_maps small = m;
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x400);
	uint32_t idx = 6;

	small.sad = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(uint32_t),
				   sizeof(struct esptag_sa), 4, NULL);
	T_ASSERT(small.sad >= 0);
	T_ASSERT(esptag_sa_mirror_write(&small, idx, &v, NULL, NULL) < 0);
	T_ASSERT(slot_zero(m.seq, idx, sizeof(struct esptag_seq)));
	T_EQ(stats_packets(idx), 0);
	close(small.sad);
}

/* Batched: mixed directions, each with its own state; then cleared. */
static void many(void)
{
	uint32_t idx[3] = { 8, 9, 10 };
	struct esptag_sa v[3] = { sa_of(ESPTAG_DIR_OUT, 0x801), sa_of(ESPTAG_DIR_IN, 0x802),
				  sa_of(ESPTAG_DIR_OUT, 0x803) };
	struct esptag_seq seq[3] = { { .next = 10, .base = 5 }, {}, { .next = 30, .base = 20 } };
	struct esptag_replay rp[3] = { {}, { .top = 42 }, {} };
	struct esptag_seq s;
	struct esptag_replay r;
	struct esptag_sa got;

	T_EQ(esptag_sa_mirror_write_many(&m, idx, v, seq, rp, 3), 0);
	T_EQ(bpf_map_lookup_elem(m.seq, &idx[0], &s), 0);
	T_EQ(s.next, 10);
	T_EQ(s.base, 5);
	T_EQ(bpf_map_lookup_elem(m.seq, &idx[2], &s), 0);
	T_EQ(s.next, 30);
	T_EQ(bpf_map_lookup_elem(m.replay, &idx[1], &r), 0);
	T_EQ(r.top, 42);
	T_EQ(bpf_map_lookup_elem(m.sad, &idx[1], &got), 0);
	T_EQ(got.spi, htonl(0x802));
	T_EQ(esptag_sa_mirror_clear_many(&m, idx, 3), 0);
	for (int i = 0; i < 3; i++) {
		T_ASSERT(slot_zero(m.sad, idx[i], sizeof(struct esptag_sa)));
		T_ASSERT(slot_zero(m.seq, idx[i], sizeof(struct esptag_seq)));
		T_ASSERT(slot_zero(m.replay, idx[i], sizeof(struct esptag_replay)));
	}
}

/* A map given as -1 is left alone. */
static void map_left_alone(void)
{
	struct esptag_sa_maps only_sad = m;
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x900);
	uint32_t idx = 12;

	only_sad.seq = only_sad.replay = only_sad.sa_stats = -1;
	T_EQ(esptag_sa_mirror_write(&only_sad, idx, &v, NULL, NULL), 0);
	T_ASSERT(!slot_zero(m.sad, idx, sizeof(struct esptag_sa)));
	T_ASSERT(slot_zero(m.seq, idx, sizeof(struct esptag_seq)));
}

int main(void)
{
	ncpu = libbpf_num_possible_cpus();
	m.ncpus = ncpu;
	m.sad = mk(BPF_MAP_TYPE_ARRAY, sizeof(struct esptag_sa));
	m.seq = mk(BPF_MAP_TYPE_ARRAY, sizeof(struct esptag_seq));
	m.replay = mk(BPF_MAP_TYPE_ARRAY, sizeof(struct esptag_replay));
	m.sa_stats = mk(BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(struct esptag_sa_stats));
	if (ncpu <= 0 || m.sad < 0 || m.seq < 0 || m.replay < 0 || m.sa_stats < 0) {
		t_skip("cannot create BPF maps: %s", strerror(errno));
		return t_done();
	}
	T_RUN(write_out);
	T_RUN(write_in_kept_state);
	T_RUN(write_in_busy_state);
	T_RUN(retire_then_clear);
	T_RUN(write_fails_clean);
	T_RUN(many);
	T_RUN(map_left_alone);
	return t_done();
}
