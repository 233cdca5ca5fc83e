// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Rx mark (bpf/lib/mark.h, run through tests/bpf/progs/mark_test.bpf.c
 * under BPF_PROG_TEST_RUN, the SA index in cb[0]) and the settings check
 * esptagd applies (esptag_mark_check):
 *  - the aliasing settings of the old docs/rx.md example are refused, and
 *    written into esptag_cfg by hand they make the data path drop SA 133
 *    and SA 128 (rx_drop_mark) instead of giving them SA 5's and SA 0's
 *    mark;
 *  - the default settings (esptag_cfg.mark_mask 0) own only the trusted bit
 *    and the SA index bits (0x8000ffff): a mark other software set before
 *    esptag_rx_mark (0x00040000) survives, the SA's mark stays
 *    0x80000000 | index;
 *  - under every accepted setting tried, each SA index below the SAD size
 *    gets a mark of its own, with the trusted bits set and the bits outside
 *    the mask kept.
 */
#include <stdlib.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include "../lib/test.h"
#include "../lib/bpf_test.h"
#include "esptag_proto.h"

static struct bt_obj obj;
static int fd_prog, fd_cfg;
static struct bt_pkt frame;

static int set_mark(uint32_t mask, uint32_t trusted, uint32_t shift)
{
	struct esptag_cfg c = { .mark_mask = mask, .mark_trusted = trusted, .mark_shift = shift };
	uint32_t zero = 0;

	return bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY);
}

/* Runs the program for sa_index on a skb whose mark was in; 0 on success. */
static int run(uint32_t sa_index, uint32_t in, uint32_t *verdict, uint32_t *mark)
{
	static struct bt_result r;
	struct __sk_buff skb = { .mark = in, .cb = { sa_index } };
	int err = bt_run(fd_prog, frame.b, frame.len, &skb, &r);

	*verdict = r.retval;
	*mark = r.skb_out.mark;
	return err;
}

/* The old docs/rx.md example: SAs 5, 133 and 261 shared 0x00850000, SA 128
 * had SA 0's bare trusted mark. */
static void aliasing_settings(void)
{
	struct bt_expect drop = { .retval = TC_ACT_SHOT, .cnt = { { ESPTAG_CNT_RX_DROP_MARK, 1 } } };
	struct bt_expect pass = { .retval = TC_ACT_UNSPEC };
	const uint32_t bad[] = { 133, 261, 128, 0x10000 };
	char why[256];
	uint32_t v, m;

	T_ASSERT(esptag_mark_check(0x00ff0000, 0x00800000, 16, ESPTAG_SAD_MAX, why, sizeof(why)) != 0);
	T_ASSERT(strstr(why, "--mark-mask") != NULL);
	T_ASSERT(esptag_mark_check(0x00ff0000, 0x00800000, 16, 256, why, sizeof(why)) != 0);
	T_ASSERT(strstr(why, "--mark-trusted") != NULL);	/* 8 index bits overlap bit 23 */
	T_ASSERT(esptag_mark_check(0xffffffff, 0x80000000, 16, 65536 * 2, why, sizeof(why)) != 0);

	T_ASSERT(!set_mark(0x00ff0000, 0x00800000, 16));
	T_ASSERT(run(5, 0x12345678, &v, &m) == 0);
	T_EQ((int32_t)v, TC_ACT_UNSPEC);
	T_EQ(m, 0x12850000 | 0x5678);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct __sk_buff skb = { .cb = { bad[i] } };

		if (!BT_CHECK(&obj, fd_prog, frame.b, frame.len, &skb, &drop, NULL))
			printf("# SA index %u\n", bad[i]);
	}
	{
		struct __sk_buff skb = { .cb = { 127 } };

		BT_CHECK(&obj, fd_prog, frame.b, frame.len, &skb, &pass, NULL);
	}
}

/* The defaults keep a mark set before esptag_rx_mark outside 0x8000ffff. */
static void default_keeps_others(void)
{
	static const struct { uint32_t sa, in, out; } rows[] = {
		{ 5, 0x00040000, 0x80040005 },
		{ 65535, 0x00040000, 0x8004ffff },
		{ 0, 0x7fff0000, 0xffff0000 },
		{ 7, 0x8000ffff, 0x80000007 },		/* esptag's own bits rewritten */
		{ 7, 0, 0x80000007 },			/* the value tests look for */
	};
	char why[256];
	uint32_t v, m;

	T_ASSERT(esptag_mark_check(ESPTAG_MARK_MASK_DEFAULT, ESPTAG_MARK_TRUSTED_DEFAULT, 0,
				   ESPTAG_SAD_MAX, why, sizeof(why)) == 0);
	T_ASSERT(!set_mark(0, 0, 0));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		T_ASSERT(run(rows[i].sa, rows[i].in, &v, &m) == 0);
		T_EQ((int32_t)v, TC_ACT_UNSPEC);
		T_EQ(m, rows[i].out);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Accepted settings: distinct marks for every index (checked for all of
 * them up to 4096 SAs, for the first and last 2048 above). */
static void accepted_settings_distinct(void)
{
	static const struct { uint32_t mask, trusted, shift, max_sas; } rows[] = {
		{ 0x00ff0000, 0x00800000, 16, 128 },		/* an esptag_sad of 128 slots */
		{ 0xffff8000, 0x80000000, 15, 65536 },		/* docs/rx.md example */
		{ 0x01ffff00, 0x01000000, 8, 65536 },		/* 17 bits of 32 */
		{ 0x0001ffff, 0x00000001, 1, 65536 },
		{ 0xffffffff, 0x80000000, 0, 65536 },		/* the old defaults */
		{ 0x8000ffff, 0x80000000, 0, 65536 },		/* the defaults, explicit */
		{ 0x0000ff00, 0x00008000, 8, 100 },
		{ 0x00000007, 0x00000004, 0, 4 },
		{ 0xf0000000, 0x10000000, 29, 1 << 2 },
		{ 0x00000001, 0x00000001, 31, 1 },		/* one SA, index 0 */
	};
	static uint32_t marks[4096];
	char why[256];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint32_t n = 0, v, m, keep = ~rows[i].mask & 0x5a5a5a5a;

		if (esptag_mark_check(rows[i].mask, rows[i].trusted, rows[i].shift,
				      rows[i].max_sas, why, sizeof(why))) {
			t_fail(__FILE__, __LINE__, "row %zu refused: %s", i, why);
			return;
		}
		T_ASSERT(!set_mark(rows[i].mask, rows[i].trusted, rows[i].shift));
		for (uint32_t idx = 0; idx < rows[i].max_sas; idx++) {
			if (rows[i].max_sas > 4096 && idx == 2048)
				idx = rows[i].max_sas - 2048;
			if (run(idx, 0x5a5a5a5a, &v, &m) || (int32_t)v != TC_ACT_UNSPEC) {
				t_fail(__FILE__, __LINE__, "row %zu: SA %u not marked (verdict %u)",
				       i, idx, v);
				return;
			}
			if ((m & ~rows[i].mask) != keep || (m & rows[i].trusted) != rows[i].trusted) {
				t_fail(__FILE__, __LINE__, "row %zu: SA %u: mark 0x%08x", i, idx, m);
				return;
			}
			marks[n++] = m;
		}
		qsort(marks, n, sizeof(marks[0]), cmp_u32);
		for (uint32_t k = 1; k < n; k++)
			if (marks[k] == marks[k - 1]) {
				t_fail(__FILE__, __LINE__, "row %zu: mark 0x%08x given twice", i,
				       marks[k]);
				return;
			}
	}
	set_mark(0, 0, 0);
}

int main(void)
{
	int err = bt_open(&obj, "tests/progs/mark_test.bpf.o", "mark", NULL, NULL);

	if (err) {
		printf("FAIL load: mark_test.bpf.o: %s\n", strerror(-err));
		return 1;
	}
	fd_prog = bt_prog_fd(&obj, "mark_tc");
	fd_cfg = bt_map_fd(&obj, "esptag_cfg");
	bt_l2(&frame, (uint8_t[6]){ 2, 0, 0x5e, 0, 0x53, 1 }, (uint8_t[6]){ 2, 0, 0x5e, 0, 0x53, 2 },
	      NULL, 0, ETH_P_IP);
	bt_payload(&frame, 46, 0);
	T_RUN(aliasing_settings);
	T_RUN(accepted_settings_distinct);
	T_RUN(default_keeps_others);
	bt_close(&obj);
	return t_done();
}
