// SPDX-License-Identifier: GPL-2.0-only
/*
 * The cheapest sink for benchmark 5: attached (ip link ... xdp) to the far
 * end of the agent's wire link while site B's agent is stopped, so that
 * frames the agent sends cost as little as possible on the CPU that sends
 * them (a veth delivers in the sender's context). xdp.frags: the wire
 * link has a jumbo MTU.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp.frags")
int bench_sink(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
