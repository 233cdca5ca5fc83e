// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag-agent's XDP program on an interface it runs with AF_XDP (see
 * user/agent/io.c): every frame received on queue q goes to the agent's
 * AF_XDP socket of queue q, except frames the socket cannot represent,
 * which go up the stack to the agent's AF_PACKET socket on the same
 * interface (PACKET_AUXDATA carries what they need):
 *   - a VLAN tag the device took off (veth keeps it in the skb, not in
 *     the frame: bpf_xdp_metadata_rx_vlan_tag says so);
 *   - a frame in several buffers (xdp.frags: jumbo frames), since the
 *     agent's sockets are bound without XDP_USE_SG.
 * No socket on the queue: the stack too (bpf_redirect_map's default).
 * Loaded bound to the device (the kfunc needs it).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} esptag_xsks SEC(".maps");

extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto,
					__u16 *vlan_tci) __ksym __weak;

SEC("xdp.frags")
int esptag_xsk(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__be16 proto;
	__u16 tci;

	if (bpf_xdp_get_buff_len(ctx) != (__u64)(end - data))
		return XDP_PASS;
	if (bpf_xdp_metadata_rx_vlan_tag && bpf_xdp_metadata_rx_vlan_tag(ctx, &proto, &tci) == 0)
		return XDP_PASS;
	return bpf_redirect_map(&esptag_xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
