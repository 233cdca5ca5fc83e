// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SA mirror (user/lib/sa_mirror.h) on real BPF array maps shaped like
 * esptag_sad (mmapable, each SA with its sequence, replay window and
 * lifetime) and esptag_sa_stats: what a write puts in the value, what a
 * clear, a retire or a description update leaves, the batched forms, a map
 * left alone (fd -1), a failed write leaving no state behind, and an
 * esptag_sad of the older layout (not mmapable) refused.
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

static struct esptag_sa_maps m = { .sad = -1, .sa_stats = -1 };
static int ncpu;

static int mk(enum bpf_map_type type, size_t vsz, uint32_t flags, uint32_t slots)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);

	return bpf_map_create(type, NULL, sizeof(uint32_t), vsz, slots, &o);
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

static struct esptag_sa get(uint32_t idx)
{
	struct esptag_sa v;

	memset(&v, 0xee, sizeof(v));
	bpf_map_lookup_elem(m.sad, &idx, &v);
	return v;
}

static bool zero(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i])
			return false;
	return true;
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

/* An outbound SA: its counter starts at 1 (base 1), counters zeroed, the
 * description as given, flags set. */
static void write_out(void)
{
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x100), got;
	struct esptag_sa_stats dirty[ncpu];
	uint32_t idx = 3;

	memset(dirty, 0xff, sizeof(dirty));
	T_EQ(bpf_map_update_elem(m.sa_stats, &idx, dirty, BPF_ANY), 0);
	T_EQ(esptag_sa_mirror_write(&m, idx, &v, NULL, NULL), 0);
	got = get(idx);
	T_EQ(got.seq.next, 1);
	T_EQ(got.seq.base, 1);
	T_MEMEQ(&got, ESPTAG_SA_DESC_SIZE, &v, ESPTAG_SA_DESC_SIZE);
	T_EQ(got.flags, ESPTAG_SAF_ALIVE);
	T_EQ(stats_packets(idx), 0);
	T_ASSERT(zero(&got.replay, sizeof(got.replay)));
	T_ASSERT(zero(&got.life, sizeof(got.life)));
}

/* An inbound SA keeps the replay window and the lifetime it is given; the
 * state fields of the description argument are not used. */
static void write_in_kept_state(void)
{
	struct esptag_sa v = sa_of(ESPTAG_DIR_IN, 0x200), got;
	struct esptag_replay rp = { .top = 77, .unused = 5, .bitmap = { 3 } };
	struct esptag_sa_life l = { .hard_packets = 9, .packets = 4 };
	uint32_t idx = 4;

	v.seq.next = 1234;
	T_EQ(esptag_sa_mirror_write_life(&m, idx, &v, NULL, &rp, &l), 0);
	got = get(idx);
	T_EQ(got.replay.top, 77);
	T_EQ(got.replay.unused, 0);
	T_EQ(got.replay.bitmap[0], 3);
	T_EQ(got.life.hard_packets, 9);
	T_EQ(got.life.packets, 4);
	T_ASSERT(zero(&got.seq, sizeof(got.seq)));
}

/* A window copied while a CPU held it (ESPTAG_REPLAY_BUSY in top) is
 * written free: the SA would otherwise drop every packet (replay busy). */
static void write_in_busy_state(void)
{
	struct esptag_sa v[2] = { sa_of(ESPTAG_DIR_IN, 0x210), sa_of(ESPTAG_DIR_IN, 0x211) };
	struct esptag_replay rp[2] = { { .top = 78 | ESPTAG_REPLAY_BUSY },
				       { .top = 79 | ESPTAG_REPLAY_BUSY } };
	uint32_t idx[2] = { 5, 6 };

	T_EQ(esptag_sa_mirror_write(&m, idx[0], &v[0], NULL, &rp[0]), 0);
	T_EQ(get(idx[0]).replay.top, 78);
	T_EQ(esptag_sa_mirror_write_many(&m, idx, v, NULL, rp, 2), 0);
	T_EQ(get(idx[1]).replay.top, 79);
	esptag_sa_mirror_clear_many(&m, idx, 2);
}

/* Retire empties the description only (the slot is ESPTAG_SA_EMPTY), the
 * state stays; clear empties the whole value and the counters. */
static void retire_then_clear(void)
{
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x300), got;
	struct esptag_seq s = { .next = 500, .base = 400 };
	uint32_t idx = 5;

	T_EQ(esptag_sa_mirror_write(&m, idx, &v, &s, NULL), 0);
	T_EQ(esptag_sa_mirror_retire(&m, idx), 0);
	got = get(idx);
	T_ASSERT(zero(&got, ESPTAG_SA_DESC_SIZE));
	T_ASSERT(ESPTAG_SA_EMPTY(&got));
	T_EQ(got.seq.next, 500);
	T_EQ(got.seq.base, 400);
	T_EQ(esptag_sa_mirror_clear(&m, idx), 0);
	T_ASSERT(slot_zero(m.sad, idx, sizeof(struct esptag_sa)));
	/* An index beyond the arrays is no SA: nothing to clear or retire. */
	T_EQ(esptag_sa_mirror_clear(&m, SLOTS + 10), 0);
	T_EQ(esptag_sa_mirror_retire(&m, SLOTS + 10), 0);
}

/*
 * A description update (state update: expiry, window) changes the
 * description and never writes the state back: the sequence the data path
 * advanced after the SA was written stays.
 */
static void update_keeps_state(void)
{
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x310), got;
	uint32_t idx = 7;

	T_EQ(esptag_sa_mirror_write(&m, idx, &v, NULL, NULL), 0);
	/* The data path's work: 41 numbers used, a lifetime counted. */
	got = get(idx);
	got.seq.next = 42;
	got.life.packets = 41;
	T_EQ(bpf_map_update_elem(m.sad, &idx, &got, BPF_ANY), 0);
	v.expires_ns = 123456789;
	v.replay_window = 64;
	v.seq.next = 1;		/* a stale copy's state: not written */
	T_EQ(esptag_sa_mirror_update(&m, idx, &v), 0);
	got = get(idx);
	T_EQ(got.expires_ns, 123456789);
	T_EQ(got.replay_window, 64);
	T_EQ(got.flags, ESPTAG_SAF_ALIVE);
	T_EQ(got.seq.next, 42);
	T_EQ(got.life.packets, 41);
	T_ASSERT(esptag_sa_mirror_update(&m, SLOTS + 10, &v) < 0);
	T_EQ(esptag_sa_mirror_clear(&m, idx), 0);
}

/* The value cannot be written (an esptag_sad smaller than the index): the
 * write fails and the counters written first are cleared again. */
static void write_fails_clean(void)
{
	struct esptag_sa_maps small = m;
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x400);
	uint32_t idx = 6;

	small.sad = mk(BPF_MAP_TYPE_ARRAY, sizeof(struct esptag_sa), BPF_F_MMAPABLE, 4);
	T_ASSERT(small.sad >= 0);
	T_ASSERT(esptag_sa_mirror_write(&small, idx, &v, NULL, NULL) < 0);
	T_EQ(stats_packets(idx), 0);
	close(small.sad);
}

/* An esptag_sad that cannot be mapped (the older layout) is refused: no SA
 * is left usable in it. */
static void not_mmapable_refused(void)
{
	struct esptag_sa_maps old = m;
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x410), got;
	uint32_t idx = 2, n;

	old.sad = mk(BPF_MAP_TYPE_ARRAY, sizeof(struct esptag_sa), 0, SLOTS);
	T_ASSERT(old.sad >= 0);
	T_ASSERT(esptag_sa_mirror_map(old.sad, &n) == NULL);
	T_EQ(errno, EPROTO);
	T_ASSERT(esptag_sa_mirror_write(&old, idx, &v, NULL, NULL) < 0);
	T_EQ(bpf_map_lookup_elem(old.sad, &idx, &got), 0);
	T_EQ(got.flags, 0);
	close(old.sad);
}

/* Batched: mixed directions, each with its own state; then cleared. */
static void many(void)
{
	uint32_t idx[3] = { 8, 9, 10 };
	struct esptag_sa v[3] = { sa_of(ESPTAG_DIR_OUT, 0x801), sa_of(ESPTAG_DIR_IN, 0x802),
				  sa_of(ESPTAG_DIR_OUT, 0x803) };
	struct esptag_seq seq[3] = { { .next = 10, .base = 5 }, {}, { .next = 30, .base = 20 } };
	struct esptag_replay rp[3] = { {}, { .top = 42 }, {} };
	struct esptag_sa got;

	T_EQ(esptag_sa_mirror_write_many(&m, idx, v, seq, rp, 3), 0);
	got = get(idx[0]);
	T_EQ(got.seq.next, 10);
	T_EQ(got.seq.base, 5);
	T_EQ(got.flags, ESPTAG_SAF_ALIVE);
	T_EQ(get(idx[2]).seq.next, 30);
	got = get(idx[1]);
	T_EQ(got.replay.top, 42);
	T_EQ(got.spi, htonl(0x802));
	T_EQ(got.flags, ESPTAG_SAF_ALIVE);
	T_EQ(esptag_sa_mirror_clear_many(&m, idx, 3), 0);
	for (int i = 0; i < 3; i++)
		T_ASSERT(slot_zero(m.sad, idx[i], sizeof(struct esptag_sa)));
}

/* A map given as -1 is left alone; a caller's own mapping is used. */
static void map_left_alone(void)
{
	struct esptag_sa_maps only_sad = m;
	struct esptag_sa v = sa_of(ESPTAG_DIR_OUT, 0x900);
	uint32_t idx = 12;
	struct esptag_sa_stats dirty[ncpu];

	memset(dirty, 0xff, sizeof(dirty));
	T_EQ(bpf_map_update_elem(m.sa_stats, &idx, dirty, BPF_ANY), 0);
	only_sad.sa_stats = -1;
	only_sad.map = esptag_sa_mirror_map(m.sad, &only_sad.map_n);
	T_ASSERT(only_sad.map != NULL);
	T_EQ(only_sad.map_n, SLOTS);
	T_EQ(esptag_sa_mirror_write(&only_sad, idx, &v, NULL, NULL), 0);
	T_EQ(only_sad.map[idx].flags, ESPTAG_SAF_ALIVE);
	T_EQ(only_sad.map[idx].seq.next, 1);
	T_ASSERT(stats_packets(idx) != 0);
	esptag_sa_mirror_unmap(only_sad.map, only_sad.map_n);
}

int main(void)
{
	ncpu = libbpf_num_possible_cpus();
	m.ncpus = ncpu;
	m.sad = mk(BPF_MAP_TYPE_ARRAY, sizeof(struct esptag_sa), BPF_F_MMAPABLE, SLOTS);
	m.sa_stats = mk(BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(struct esptag_sa_stats), 0, SLOTS);
	if (ncpu <= 0 || m.sad < 0 || m.sa_stats < 0) {
		t_skip("cannot create BPF maps: %s", strerror(errno));
		return t_done();
	}
	T_RUN(write_out);
	T_RUN(write_in_kept_state);
	T_RUN(write_in_busy_state);
	T_RUN(retire_then_clear);
	T_RUN(update_keeps_state);
	T_RUN(write_fails_clean);
	T_RUN(not_mmapable_refused);
	T_RUN(many);
	T_RUN(map_left_alone);
	return t_done();
}
