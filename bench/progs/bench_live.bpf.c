// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live-frames front end for the Rx benchmarks. BPF_F_TEST_XDP_LIVE_FRAMES
 * recycles its pages without copying the original frame back, so a program
 * that rewrites the frame (esptag_rx strips the tag and ESP) would see its own
 * output on the next run. bench_live_rx writes the template frame back and a
 * fresh sequence number (per CPU, increasing: anti-replay accepts it), then
 * tail-calls the program under test (slot 0 of bench_jmp). Both the program
 * and its baseline (a bare XDP_DROP/XDP_PASS behind the same front end) pay
 * for the copy; the bare XDP_DROP run without it is reported too.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define BENCH_LIVE_LEN	160	/* template frame length (bench_bpf.c checks) */
#define OFF_META_SEQ	36	/* esptag_meta.seq_lo: 12 + 24 */
#define OFF_ESP_SEQ	68	/* ESP seq: untagged esp_off 34 + tag 30 + 4 */
#define OFF_ESP_IV	72

struct tmpl {
	__u8 b[BENCH_LIVE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tmpl);
} bench_tmpl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_jmp SEC(".maps");

/* Sequence numbers of CPU c are c + ncpus * k: distinct across CPUs. */
const volatile __u32 ncpus = 1;

SEC("xdp")
int bench_live_rx(struct xdp_md *ctx)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct tmpl *t;
	__u64 *sp, seq;
	__u32 lo;
	__u8 *p;

	if (data + BENCH_LIVE_LEN != end &&
	    bpf_xdp_adjust_tail(ctx, BENCH_LIVE_LEN - (int)(end - data)))
		return XDP_ABORTED;
	t = bpf_map_lookup_elem(&bench_tmpl, &zero);
	sp = bpf_map_lookup_elem(&bench_seq, &zero);
	if (!t || !sp)
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + BENCH_LIVE_LEN > end)
		return XDP_ABORTED;
	p = data;
	__builtin_memcpy(p, t->b, BENCH_LIVE_LEN);
	seq = ++*sp * ncpus + cpu;
	lo = bpf_htonl((__u32)seq);
	__builtin_memcpy(p + OFF_META_SEQ, &lo, 4);
	__builtin_memcpy(p + OFF_ESP_SEQ, &lo, 4);
	seq = __builtin_bswap64(seq);
	__builtin_memcpy(p + OFF_ESP_IV, &seq, 8);
	bpf_tail_call(ctx, &bench_jmp, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
