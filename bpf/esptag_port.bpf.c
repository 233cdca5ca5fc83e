// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag_port: the emulated NIC switch's guard on its VF ports, attached
 * with TC on the switch (bridge) side, out of the VMs' reach.
 *
 *  esptag_port_in: tc ingress of each VF port (frames the VF sends)
 *   - a port without an esptag_ports entry cannot prove its MAC: dropped
 *     (port_drop_no_port);
 *   - spoof check: source MAC must be the VF's (ESPTAG_PORTF_SPOOFCHK);
 *   - config or metadata EtherType behind VLAN tags (in the frame, or a
 *     tag in skb metadata): dropped, the agent would forward it as plain;
 *   - config EtherType: dropped, a VF never talks to the agent directly;
 *   - untrusted VF: a metadata-tagged frame is dropped (it cannot be
 *     wrapped: docs/protocol.md forbids inner_proto 0x88B6);
 *   - trusted VF: it runs esptag_tx itself, so its frames pass, TX tags with
 *     offload=1 included (the agent checks the SA's domain); any other tag
 *     (RX kind, malformed) is dropped.
 *
 *  esptag_port_out: tc egress of each VF port AND of the uplink port
 *  (toward the agent); it tells them apart by esptag_ports[ifindex]:
 *   - VF port (frames the switch delivers to the VF): config frames dropped;
 *     metadata-tagged frames dropped unless the VF is trusted and it is an
 *     RX tag for it: destination MAC = the VF's and the SA (if any) of the
 *     VF's domain. A VM never sees another port's config or tags;
 *   - uplink: a frame that entered the switch on an untrusted VF port
 *     (esptag_ports[ingress_ifindex]) is wrapped in a TX tag with offload=0,
 *     the talk's port tagging: the agent strips it and forwards the frame
 *     untouched, whatever the VF put inside. Frames from the PF or trusted
 *     VFs pass.
 *
 * Why the wrap happens at the uplink's egress and not at the VF port's
 * ingress: a tag inserted at tc ingress (bpf_skb_change_head) grows the MAC
 * header to 44 bytes (mac_len), cls_bpf pulls those 44 bytes after the
 * program, and the bridge re-pushes only ETH_HLEN when it forwards
 * (br_dev_queue_push_xmit), so the frame would leave mangled. At egress the
 * head change
 * is sound (as in esptag_tx), GSO state included; and untrusted VF-to-VF
 * traffic switched locally (VEB) never meets the agent, so it needs no tag.
 *
 * Trust and MAC are read from esptag_ports for every frame, so the PF
 * flipping the trust bit takes effect with the next frame.
 *
 * iproute2 6.1 selects programs by section name only, and libbpf 1.1 types
 * "tc" and "classifier" (not "tc/ingress") as SCHED_CLS, hence:
 *   tc filter add dev sw-vfN ingress bpf da obj esptag_port.bpf.o sec tc
 *   tc filter add dev sw-vfN egress  bpf da obj esptag_port.bpf.o sec classifier
 *   tc filter add dev sw-up  egress  bpf da obj esptag_port.bpf.o sec classifier
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/cfg.h"

/* EtherType after up to two VLAN tags (host order), or < 0. */
static __always_inline int l2_proto(void *data, void *end, struct ethhdr **eth,
				    struct cursor *c)
{
	struct vlan_info v;
	int proto;

	cursor_init(c, data);
	proto = parse_ethhdr(c, end, eth);
	if (proto < 0)
		return proto;
	return parse_vlans(c, end, proto, &v);
}

/*
 * The config or metadata EtherType behind VLAN tags: in the frame, or after
 * the MACs with a tag in skb metadata (veth and NICs take the outer tag out
 * of the frame on receive; it goes back in front of ours on transmit). The
 * agent takes such a frame as plain and forwards it to the wire.
 */
static __always_inline bool vlan_hidden(const struct __sk_buff *skb, const struct ethhdr *eth,
					int proto, const struct cfg_view *cfg)
{
	if (proto != bpf_ntohs(cfg->eth_p_cfg) && proto != bpf_ntohs(cfg->eth_p_meta))
		return false;
	return skb->vlan_present || bpf_ntohs(eth->h_proto) != proto;
}

#define PORT_MACS_LEN	(2 * ETH_ALEN)	/* destination + source MAC; a tag follows */

/* From a VF: a known port, its own source MAC, none of our EtherTypes but a
 * trusted VF's well-formed TX tag. STAGE_NEXT: the frame passes. */
static __always_inline __u32 from_vf_check(struct __sk_buff *skb, const struct cfg_view *cfg,
					   const struct esptag_port *port)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = NULL;
	struct esptag_meta *m;
	struct cursor c;
	int proto;

	proto = l2_proto(data, end, &eth, &c);
	if (!port)
		return ESPTAG_CNT_PORT_DROP_NO_PORT;
	if (!eth)
		return ESPTAG_CNT_PORT_DROP_SPOOF;	/* no MAC header */
	if ((port->flags & ESPTAG_PORTF_SPOOFCHK) && !mac_eq(eth->h_source, port->mac))
		return ESPTAG_CNT_PORT_DROP_SPOOF;
	if (vlan_hidden(skb, eth, proto, cfg))
		return ESPTAG_CNT_PORT_DROP_VLAN_HIDDEN;
	if (eth->h_proto == cfg->eth_p_cfg)
		return ESPTAG_CNT_PORT_DROP_CONFIG;
	if (eth->h_proto != cfg->eth_p_meta)
		return STAGE_NEXT;
	if (!(port->flags & ESPTAG_PORTF_TRUSTED))
		return ESPTAG_CNT_PORT_DROP_META;
	/* Trusted: only a well-formed TX tag right after the MACs. */
	c.pos = (void *)eth + PORT_MACS_LEN;
	if (parse_meta(&c, end, &m) < 0 || m->kind != ESPTAG_META_TX)
		return ESPTAG_CNT_PORT_DROP_META;
	return STAGE_NEXT;
}

SEC("tc")
int esptag_port_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex, cnt;
	struct esptag_port *port;
	struct cfg_view cfg;

	cfg_load(&cfg);
	port = bpf_map_lookup_elem(&esptag_ports, &ifindex);
	cnt = from_vf_check(skb, &cfg, port);
	if (cnt == STAGE_NEXT) {
		/* Untrusted frames are counted when the uplink wraps them. */
		if (!(port && (port->flags & ESPTAG_PORTF_TRUSTED)))
			return TC_ACT_OK;
		cnt = ESPTAG_CNT_PORT_PASS;
	}
	stat_inc(cnt);
	return cnt == ESPTAG_CNT_PORT_PASS ? TC_ACT_OK : TC_ACT_SHOT;
}

/* Uplink egress: wrap a frame of an untrusted VF in an offload=0 tag. */
static __always_inline __u32 port_wrap(struct __sk_buff *skb, const struct cfg_view *cfg)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct esptag_meta_ethhdr *h;
	__u8 macs[PORT_MACS_LEN];

	if (data + PORT_MACS_LEN > end)
		return ESPTAG_CNT_PORT_DROP_ROOM;
	__builtin_memcpy(macs, data, sizeof(macs));
	if (bpf_skb_change_head(skb, ESPTAG_META_LEN, 0))
		return ESPTAG_CNT_PORT_DROP_ROOM;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	h = data;
	if ((void *)(h + 1) > end)
		return ESPTAG_CNT_PORT_DROP_ROOM;
	__builtin_memcpy(h, macs, sizeof(macs));
	/* Every field 0 but tpid, version, kind, sa_index (none) and
	 * inner_proto, which is the frame's EtherType already in place. */
	__builtin_memset(&h->meta, 0, ESPTAG_META_LEN);
	h->meta.tpid = cfg->eth_p_meta;
	h->meta.version = ESPTAG_META_VERSION;
	h->meta.kind = ESPTAG_META_TX;
	h->meta.sa_index = bpf_htonl(ESPTAG_SA_INDEX_NONE);
	return ESPTAG_CNT_PORT_WRAP;
}

/* Toward a VF: no config frame, no tag but an RX tag of a trusted VF's own
 * domain. STAGE_NEXT: the frame passes uncounted (the lean path). */
static __always_inline __u32 to_vf_check(struct __sk_buff *skb, const struct cfg_view *cfg,
					 const struct esptag_port *port)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = NULL;
	struct esptag_meta *m;
	struct esptag_sa *sa;
	struct cursor c;
	__u32 sa_index;
	int proto;

	proto = l2_proto(data, end, &eth, &c);
	if (!eth)
		return STAGE_NEXT;	/* no Ethernet header: nothing of ours */
	if (eth->h_proto == cfg->eth_p_cfg)
		return ESPTAG_CNT_PORT_DROP_CONFIG;
	if (eth->h_proto != cfg->eth_p_meta) {
		/* Config or tag behind VLAN tags in the frame. (A tag in skb
		 * metadata is left alone here: an RX tag for this VF may
		 * carry one.) */
		if (proto == bpf_ntohs(cfg->eth_p_cfg) || proto == bpf_ntohs(cfg->eth_p_meta))
			return ESPTAG_CNT_PORT_DROP_VLAN_HIDDEN;
		return STAGE_NEXT;
	}
	if (!(port->flags & ESPTAG_PORTF_TRUSTED) || !mac_eq(eth->h_dest, port->mac))
		return ESPTAG_CNT_PORT_DROP_META;
	c.pos = (void *)eth + PORT_MACS_LEN;
	if (parse_meta(&c, end, &m) < 0 || m->kind != ESPTAG_META_RX)
		return ESPTAG_CNT_PORT_DROP_META;
	sa_index = bpf_ntohl(m->sa_index);
	if (sa_index == ESPTAG_SA_INDEX_NONE)
		return STAGE_NEXT;
	sa = bpf_map_lookup_elem(&esptag_sad, &sa_index);
	if (!sa || ESPTAG_SA_EMPTY(sa) || !mac_eq(sa->local_mac, port->mac))
		return ESPTAG_CNT_PORT_DROP_META;
	return STAGE_NEXT;
}

SEC("classifier")
int esptag_port_out(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex, in = skb->ingress_ifindex, cnt;
	struct esptag_port *port;
	struct cfg_view cfg;

	cfg_load(&cfg);
	port = bpf_map_lookup_elem(&esptag_ports, &ifindex);
	if (port) {
		cnt = to_vf_check(skb, &cfg, port);
	} else {
		/* Not a VF port: the uplink. Frames from the PF or a trusted
		 * VF pass unwrapped, uncounted. */
		port = in ? bpf_map_lookup_elem(&esptag_ports, &in) : NULL;
		if (!port || (port->flags & ESPTAG_PORTF_TRUSTED))
			cnt = STAGE_NEXT;
		else
			cnt = port_wrap(skb, &cfg);
	}
	if (cnt == STAGE_NEXT)
		return TC_ACT_OK;
	stat_inc(cnt);
	return cnt == ESPTAG_CNT_PORT_WRAP ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
