// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag_port: the emulated NIC switch's guard on a VF port. Attached with
 * TC on the switch-side end of the VF's veth, out of the VM's reach:
 *
 *  esptag_port_from_vf (tc ingress: frames the VF sends toward the switch)
 *   - spoof check: source MAC must be the VF's (ESPTAG_PORTF_SPOOFCHK);
 *   - config EtherType: dropped, a VF never talks to the agent directly;
 *   - untrusted VF (no ESPTAG_PORTF_TRUSTED, or no esptag_ports entry): every
 *     frame is wrapped in a TX metadata tag with offload=0, so the agent
 *     strips it and forwards whatever the VF put inside untouched. A frame
 *     that is itself metadata-tagged cannot be wrapped (the protocol forbids
 *     inner_proto 0x88B6) and is dropped;
 *   - trusted VF: it runs esptag_tx itself, so its frames pass as they are,
 *     TX tags with offload=1 included (the agent checks that the SA belongs
 *     to the sender's domain); any other tag (RX kind, malformed) is dropped.
 *
 *  esptag_port_to_vf (tc egress: frames the switch delivers to the VF)
 *   - config EtherType: dropped (a VM never sees config traffic);
 *   - metadata EtherType: dropped unless the VF is trusted and it is an RX
 *     tag for this VF: destination MAC = the VF's, and the SA (if any) is one
 *     whose domain MAC is the VF's. A VM never sees another port's tags.
 *
 * Trust and MAC come from esptag_ports[ifindex] for every frame, so the PF
 * flipping the trust bit takes effect with the next frame.
 *
 * Two programs, two ELF sections: iproute2 6.1 selects a program only by
 * section name (tc filter ... obj esptag_port.bpf.o sec tc/ingress). libbpf
 * 1.1 does not know these section names, so loaders set the program type
 * themselves (iproute2 does; see docs/operations.md for libbpf).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/cfg.h"

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b &&
	       *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

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

SEC("tc/ingress")
int esptag_port_from_vf(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 ifindex = skb->ifindex, cnt;
	struct esptag_port *port;
	struct cfg_view cfg;
	struct ethhdr *eth;
	struct cursor c;
	__u8 macs[2 * ETH_ALEN];
	int proto, verdict = TC_ACT_SHOT;

	cfg_load(&cfg);
	port = bpf_map_lookup_elem(&esptag_ports, &ifindex);
	cursor_init(&c, data);
	if (parse_ethhdr(&c, end, &eth) < 0) {
		cnt = ESPTAG_CNT_PORT_DROP_SPOOF;	/* not even a MAC header */
		goto out;
	}
	if (port && (port->flags & ESPTAG_PORTF_SPOOFCHK) &&
	    !mac_eq(eth->h_source, port->mac)) {
		cnt = ESPTAG_CNT_PORT_DROP_SPOOF;
		goto out;
	}
	proto = l2_proto(data, end, &eth, &c);
	if (eth->h_proto == cfg.eth_p_cfg || proto == bpf_ntohs(cfg.eth_p_cfg)) {
		cnt = ESPTAG_CNT_PORT_DROP_CONFIG;
		goto out;
	}

	if (port && (port->flags & ESPTAG_PORTF_TRUSTED)) {
		if (eth->h_proto == cfg.eth_p_meta) {
			struct esptag_meta *m;

			/* Only a well-formed TX tag right after the MACs. */
			c.pos = (void *)eth + 2 * ETH_ALEN;
			if (parse_meta(&c, end, &m) < 0 || m->kind != ESPTAG_META_TX) {
				cnt = ESPTAG_CNT_PORT_DROP_META;
				goto out;
			}
		} else if (proto == bpf_ntohs(cfg.eth_p_meta)) {
			cnt = ESPTAG_CNT_PORT_DROP_META;	/* tag behind VLANs */
			goto out;
		}
		cnt = ESPTAG_CNT_PORT_PASS;
		verdict = TC_ACT_OK;
		goto out;
	}

	/* Untrusted: wrap, unless the frame is a tag itself. */
	if (eth->h_proto == cfg.eth_p_meta) {
		cnt = ESPTAG_CNT_PORT_DROP_META;
		goto out;
	}
	__builtin_memcpy(macs, eth, sizeof(macs));
	if (bpf_skb_change_head(skb, ESPTAG_META_LEN, 0)) {
		cnt = ESPTAG_CNT_PORT_DROP_ROOM;
		goto out;
	}
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	{
		struct esptag_meta_ethhdr *h = data;

		if ((void *)(h + 1) > end) {
			cnt = ESPTAG_CNT_PORT_DROP_ROOM;
			goto out;
		}
		__builtin_memcpy(h, macs, sizeof(macs));
		/* Every field 0 but tpid, version, kind, sa_index (none) and
		 * inner_proto, which is the frame's EtherType already there. */
		__builtin_memset(&h->meta, 0, ESPTAG_META_LEN);
		h->meta.tpid = cfg.eth_p_meta;
		h->meta.version = ESPTAG_META_VERSION;
		h->meta.kind = ESPTAG_META_TX;
		h->meta.sa_index = bpf_htonl(ESPTAG_SA_INDEX_NONE);
	}
	cnt = ESPTAG_CNT_PORT_WRAP;
	verdict = TC_ACT_OK;
out:
	stat_inc(cnt);
	return verdict;
}

SEC("tc/egress")
int esptag_port_to_vf(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 ifindex = skb->ifindex, cnt, sa_index;
	struct esptag_port *port;
	struct esptag_meta *m;
	struct esptag_sa *sa;
	struct cfg_view cfg;
	struct ethhdr *eth = NULL;
	struct cursor c;
	int proto;

	cfg_load(&cfg);
	proto = l2_proto(data, end, &eth, &c);
	if (!eth)
		return TC_ACT_OK;	/* no Ethernet header: nothing of ours */
	if (eth->h_proto == cfg.eth_p_cfg || proto == bpf_ntohs(cfg.eth_p_cfg)) {
		cnt = ESPTAG_CNT_PORT_DROP_CONFIG;
		goto drop;
	}
	if (eth->h_proto != cfg.eth_p_meta) {
		if (proto == bpf_ntohs(cfg.eth_p_meta)) {
			cnt = ESPTAG_CNT_PORT_DROP_META;	/* tag behind VLANs */
			goto drop;
		}
		return TC_ACT_OK;	/* ordinary traffic: not counted, lean path */
	}

	cnt = ESPTAG_CNT_PORT_DROP_META;
	port = bpf_map_lookup_elem(&esptag_ports, &ifindex);
	if (!port || !(port->flags & ESPTAG_PORTF_TRUSTED) ||
	    !mac_eq(eth->h_dest, port->mac))
		goto drop;
	c.pos = (void *)eth + 2 * ETH_ALEN;
	if (parse_meta(&c, end, &m) < 0 || m->kind != ESPTAG_META_RX)
		goto drop;
	sa_index = bpf_ntohl(m->sa_index);
	if (sa_index != ESPTAG_SA_INDEX_NONE) {
		sa = bpf_map_lookup_elem(&esptag_sad, &sa_index);
		if (!sa || !mac_eq(sa->local_mac, port->mac))
			goto drop;
	}
	return TC_ACT_OK;
drop:
	stat_inc(cnt);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
