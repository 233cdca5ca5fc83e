/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * esptag BPF map keys and values, and the data-path counter enum.
 * Shared by the BPF programs (bpf/), esptagd, the esptag CLI and tests.
 * Host byte order unless a field says __be. No key material, ever.
 *
 * Maps (all pinned by name, LIBBPF_PIN_BY_NAME, in one bpffs directory):
 *   esptag_sad      ARRAY (mmapable) __u32 agent SA index -> struct esptag_sa
 *                   (the SA, its Tx sequence, Rx replay window and lifetime)
 *   esptag_spd      LPM_TRIE    struct esptag_spd_key -> struct esptag_spd_node
 *   esptag_spd_src  LPM_TRIE    struct esptag_spd_src_key -> struct esptag_policy
 *   esptag_cfg      ARRAY[1]    -> struct esptag_cfg (runtime settings)
 *   esptag_ports    HASH        __u32 ifindex -> struct esptag_port (port prog)
 *   esptag_stats    PERCPU_ARRAY enum esptag_counter -> __u64
 *   esptag_sa_stats PERCPU_ARRAY __u32 agent SA index -> struct esptag_sa_stats
 *   esptag_bypass   HASH        __u64 socket cookie -> struct esptag_bypass
 *   esptag_acq_pend HASH        __u32 policy id -> __u64 acquire pending until (ns)
 *   esptag_acquire  RINGBUF     struct esptag_acquire records (data path -> esptagd)
 *   esptag_pol_use  PERCPU_HASH __u32 policy id -> struct esptag_pol_use
 *   esptag_pol_tmpl HASH        __u32 policy id -> struct esptag_pol_tmpl (dir in)
 *   esptag_spd_host HASH       struct esptag_spd_host_key -> struct esptag_policy
 *
 * The two per-SA maps (esptag_sad, shared, and the per-CPU esptag_sa_stats)
 * are arrays indexed by the agent's SA index (below the agent's capacity,
 * reused after a delete): the lookup is inlined and costs the same with 1 or
 * 1M SAs. Every slot exists; an unused one is all zero (ESPTAG_SA_EMPTY),
 * and removing an SA writes zeroes, never deletes. A packet reads and
 * writes its SA's shared state in the one esptag_sad value (one lookup, one
 * page per hot SA; earlier builds had it in four maps: esptag_sad,
 * esptag_seq, esptag_replay, esptag_sa_life, whose pins this build refuses,
 * see ESPTAG_SA_DESC_SIZE).
 */
#ifndef ESPTAG_MAPS_H
#define ESPTAG_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>	/* struct bpf_spin_lock */
#include <esptag/wire.h>

#define ESPTAG_SAD_MAX		65536	/* default; esptagd may resize at load */
#define ESPTAG_SPD_MAX		4096
#define ESPTAG_PORTS_MAX	256

/*
 * The Rx mark defaults (esptag_cfg.mark_mask 0, docs/rx.md): the trusted bit
 * and the 16 bits of an SA index below ESPTAG_SAD_MAX, at shift 0
 * (mark 0x80000000 | index); esptag_rx_mark keeps the other 15 bits.
 */
#define ESPTAG_MARK_MASK_DEFAULT	0x8000ffffu
#define ESPTAG_MARK_TRUSTED_DEFAULT	0x80000000u

/* esptag_sa.flags */
#define ESPTAG_SAF_ALIVE	0x01	/* agent confirmed, usable */
#define ESPTAG_SAF_ESN		0x02
#define ESPTAG_SAF_TUNNEL	0x04	/* == mode tunnel, for the fast path */

/*
 * Tx sequence counter (esptag_sa.seq, in esptag_sad), advanced with atomic add.
 * base is where next started when esptagd last gave the SA to the agent:
 * the agent can have used wire sequence numbers (IVs) up to about
 * 2 * next - base under this key, so a re-install after an agent restart
 * starts above that (docs/protocol.md 2.5). The data path never reads it;
 * it lives here so that it survives a daemon restart.
 */
struct esptag_seq {
	__u64	next;			/* next 64-bit sequence number to use (starts at 1;
					 * 0 in an unused slot: the data path skips 0) */
	__u64	base;			/* next when the SA was (re)installed (0 = 1) */
};
ESPTAG_CHECK_SIZE(esptag_seq, 16);
ESPTAG_CHECK_OFF(esptag_seq, base, 8);

#define ESPTAG_REPLAY_WORDS	(ESPTAG_REPLAY_MAX / 64)

/*
 * Rx anti-replay state (esptag_sa.replay, in esptag_sad). RFC 4303 3.4.3. CPUs on
 * the same SA are serialised by ESPTAG_REPLAY_BUSY in top: a CPU sets it
 * with an atomic compare-and-swap and clears it with the atomic exchange
 * that stores the new top (inlined by the JIT; the bpf_spin_lock/unlock
 * helper pair cost ~50 ns a packet). No sequence number reaches bit 63.
 * Readers mask the bit (ESPTAG_REPLAY_TOP); the SA mirror writes top
 * without it. The first word is unused (it held a bpf_spin_lock once; a
 * map value with one cannot be mmapped, esptag_sad is).
 */
#define ESPTAG_REPLAY_BUSY	(1ull << 63)
#define ESPTAG_REPLAY_TOP(t)	((t) & ~ESPTAG_REPLAY_BUSY)
struct esptag_replay {
	__u32	unused;			/* 0 */
	__u32	reserved;
	__u64	top;			/* highest authenticated 64-bit sequence number,
					 * | ESPTAG_REPLAY_BUSY while a CPU updates */
	__u64	bitmap[ESPTAG_REPLAY_WORDS];	/* bit (seq % 1024) set = seen */
};
ESPTAG_CHECK_SIZE(esptag_replay, 16 + 8 * ESPTAG_REPLAY_WORDS);
ESPTAG_CHECK_OFF(esptag_replay, top, 8);
ESPTAG_CHECK_OFF(esptag_replay, bitmap, 16);

/*
 * Lifetime of one SA (esptag_sa.life, in esptag_sad; shared, not per CPU,
 * so that a hard limit holds exactly). esptagd writes the hard limits
 * (0 = none) and zeroes the rest when it installs the SA;
 * the data path adds every packet it passes under the SA with atomic
 * fetch-and-add, counted as XFRM counts curlft: packets and bytes of the IP
 * packets before ESP (transport: the IP packet as the stack handed it over /
 * as delivered; tunnel: the inner packet), a GSO super-packet as the
 * segments the agent makes of it (each with its own IP and TCP header), so
 * the numbers are what the peer counts. A packet whose bytes or packets
 * would pass a hard limit is not counted and dropped (TX_DROP_LIMIT,
 * RX_DROP_LIMIT) and counted in refused, which tells esptagd the SA is
 * spent. last_ns is bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC to a tick)
 * of the last packet, written at most every ESPTAG_LIFE_USE_NS (XFRM's use
 * time has one-second resolution). esptag_sad is BPF_F_MMAPABLE: esptagd
 * changes the limits of a running SA (state update) with plain stores into
 * the mapping, never overwriting the counters.
 */
struct esptag_sa_life {
	__u64	hard_bytes;		/* esptagd: 0 = no limit */
	__u64	hard_packets;		/* esptagd: 0 = no limit */
	__u64	bytes;			/* data path: IP bytes before ESP */
	__u64	packets;		/* data path: packets (GSO: segments) */
	__u64	last_ns;		/* data path: CLOCK_MONOTONIC of the last packet, 0 = none */
	__u64	refused;		/* data path: packets dropped at a hard limit */
};
ESPTAG_CHECK_SIZE(esptag_sa_life, 48);
ESPTAG_CHECK_OFF(esptag_sa_life, bytes, 16);
ESPTAG_CHECK_OFF(esptag_sa_life, last_ns, 32);
#define ESPTAG_LIFE_USE_NS	1000000000ull	/* last_ns resolution: 1 s */

/*
 * One SA in the data path (value of esptag_sad), 288 bytes: the host mirror
 * of the agent's SA (the first ESPTAG_SA_DESC_SIZE bytes, esptagd writes
 * them) followed by the shared state the data path keeps for it (the Tx
 * sequence, the Rx replay window, the lifetime), so that a packet looks one
 * value up. esptagd never writes a whole value over a usable SA: an install
 * writes the value with flags 0 and then sets flags, a change or a retire
 * stores the description alone through the mapping (user/lib/sa_mirror.c),
 * so the data path's atomics on the state are never overwritten.
 */
struct esptag_sa {
	__be32	spi;			/* as on the wire */
	__u8	dir;			/* enum esptag_dir */
	__u8	family;			/* 4 or 6 */
	__u8	mode;			/* enum esptag_mode */
	__u8	flags;			/* ESPTAG_SAF_* */
	__u32	ifindex;		/* host port the SA lives on */
	__u8	local_mac[6];		/* domain MAC */
	__u8	nvlans;			/* 0..2 */
	__u8	icv_len;		/* 16 */
	struct esptag_vlan vlan[2];	/* domain VLANs, outer first */
	__u8	saddr[16];		/* tunnel: outer source */
	__u8	daddr[16];		/* tunnel: outer destination */
	__u16	replay_window;		/* Rx: 0..1024 */
	__u16	reserved;
	__u32	reqid;
	__u64	expires_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0 = never */
	/* state: the data path's (esptagd writes it on install only) */
	struct esptag_seq seq;		/* Tx */
	struct esptag_sa_life life;
	struct esptag_replay replay;	/* Rx */
};
#define ESPTAG_SA_DESC_SIZE	80	/* the description: spi .. expires_ns */
ESPTAG_CHECK_SIZE(esptag_sa, 288);
ESPTAG_CHECK_OFF(esptag_sa, seq, ESPTAG_SA_DESC_SIZE);
ESPTAG_CHECK_OFF(esptag_sa, life, 96);
ESPTAG_CHECK_OFF(esptag_sa, replay, 144);
ESPTAG_CHECK_OFF(esptag_sa, dir, 4);
ESPTAG_CHECK_OFF(esptag_sa, ifindex, 8);
ESPTAG_CHECK_OFF(esptag_sa, local_mac, 12);
ESPTAG_CHECK_OFF(esptag_sa, nvlans, 18);
ESPTAG_CHECK_OFF(esptag_sa, vlan, 20);
ESPTAG_CHECK_OFF(esptag_sa, saddr, 28);
ESPTAG_CHECK_OFF(esptag_sa, daddr, 44);
ESPTAG_CHECK_OFF(esptag_sa, replay_window, 60);
ESPTAG_CHECK_OFF(esptag_sa, reqid, 64);
ESPTAG_CHECK_OFF(esptag_sa, expires_ns, 72);

/*
 * An unused esptag_sad slot (all zero): no SA at this index. A real SA, even
 * a PF domain entry, has a non-zero SPI (SPI 0 is reserved, RFC 4303 2.1).
 */
#define ESPTAG_SA_EMPTY(sa)	((sa)->spi == 0 && (sa)->flags == 0)

enum esptag_action {
	ESPTAG_ACT_BYPASS	= 1,	/* send / accept in clear */
	ESPTAG_ACT_PROTECT	= 2,	/* out: ESP with sa_index; in: must arrive decrypted */
	ESPTAG_ACT_DISCARD	= 3,	/* drop */
};

/*
 * Security policy: two LPM levels so that the most specific destination
 * wins first, then the most specific source within it. esptag_spd maps a
 * destination prefix to a node; esptag_spd_src maps (node, source prefix)
 * to the policy. A node lists its parent (next shorter destination prefix
 * with rules) so a source miss falls back to the less specific destination.
 */
struct esptag_spd_key {
	__u32	prefixlen;		/* 32 + destination prefix length */
	__u8	dir;			/* enum esptag_dir; part of the prefix */
	__u8	family;			/* 4 or 6; part of the prefix */
	__u8	reserved[2];		/* 0; part of the prefix */
	__u8	daddr[16];
};
ESPTAG_CHECK_SIZE(esptag_spd_key, 24);
ESPTAG_CHECK_OFF(esptag_spd_key, dir, 4);
ESPTAG_CHECK_OFF(esptag_spd_key, daddr, 8);

#define ESPTAG_SPD_NODE_NONE	0
#define ESPTAG_SPD_DEPTH	8	/* parents walked at most */

/*
 * The data path finds the parent node again by looking esptag_spd up with
 * the same address and parent_prefixlen (an LPM trie has no lookup by id),
 * and checks that the node found has the id parent.
 */
struct esptag_spd_node {
	__u32	id;			/* non-zero node id */
	__u32	parent;			/* node of the next shorter prefix, or 0 */
	__u32	parent_prefixlen;	/* the parent's esptag_spd_key.prefixlen */
	__u32	reserved;		/* 0 */
};
ESPTAG_CHECK_SIZE(esptag_spd_node, 16);
ESPTAG_CHECK_OFF(esptag_spd_node, parent, 4);
ESPTAG_CHECK_OFF(esptag_spd_node, parent_prefixlen, 8);

struct esptag_spd_src_key {
	__u32	prefixlen;		/* 32 + source prefix length */
	__u32	node;			/* esptag_spd_node.id; part of the prefix */
	__u8	saddr[16];
};
ESPTAG_CHECK_SIZE(esptag_spd_src_key, 24);
ESPTAG_CHECK_OFF(esptag_spd_src_key, node, 4);
ESPTAG_CHECK_OFF(esptag_spd_src_key, saddr, 8);

/*
 * Host policies (source and destination full length, /32 or /128: what an
 * IKE daemon installs for transport mode) also sit in esptag_spd_host, an
 * exact-match hash keyed by (dir, family, src, dst) with the same value as
 * their esptag_spd_src element. An exact host pair is the most specific
 * selector there is, so a hit is what the two-level LPM would answer; the
 * data path looks there first and walks the LPM only on a miss, and the
 * cost of a host policy does not grow with the number of policies. The
 * LPM stays complete (every policy is in it): a missing hash entry costs
 * time, never a decision. esptagd writes the LPM element first and the hash
 * entry after it, and deletes in the reverse order. The hash is consulted
 * only while esptag_cfg has ESPTAG_CFGF_SPD_HOST (esptagd sets it while any
 * host policy exists), so prefix-only policy sets pay no hash miss.
 */
struct esptag_spd_host_key {
	__u8	dir;			/* enum esptag_dir */
	__u8	family;			/* 4 or 6 */
	__u8	reserved[2];		/* 0 */
	__u8	saddr[16];		/* IPv4 in the first 4, rest 0 */
	__u8	daddr[16];
};
ESPTAG_CHECK_SIZE(esptag_spd_host_key, 36);
ESPTAG_CHECK_OFF(esptag_spd_host_key, saddr, 4);
ESPTAG_CHECK_OFF(esptag_spd_host_key, daddr, 20);

/* esptag_policy.flags */
#define ESPTAG_POLF_TRAP	0x01	/* protect, named by reqid: with no usable SA
					 * a packet is dropped (tx_drop_trap) and
					 * raises an acquire (esptag_acquire) */
#define ESPTAG_POLF_TMPL	0x02	/* dir in protect: a decrypted packet it covers
					 * must come through an SA that fits its
					 * template (esptag_pol_tmpl[id]) */

struct esptag_policy {
	__u8	action;			/* enum esptag_action */
	__u8	flags;			/* ESPTAG_POLF_* */
	__u8	reserved[2];
	__be32	spi;			/* protect: SPI (informative) */
	__u32	sa_index;		/* protect, out: agent SA index in esptag_sad */
	__u32	id;			/* policy id (daemon) */
};
ESPTAG_CHECK_SIZE(esptag_policy, 16);
ESPTAG_CHECK_OFF(esptag_policy, spi, 4);
ESPTAG_CHECK_OFF(esptag_policy, sa_index, 8);

/*
 * Sockets whose packets pass in clear both ways (an IKE daemon's own, the
 * value of esptag_bypass, keyed by the socket cookie, SO_COOKIE). Bounded:
 * ESPTAG_BYPASS_MAX entries.
 */
#define ESPTAG_BYPASS_MAX	64
struct esptag_bypass {
	__u8	family;			/* 4 or 6 */
	__u8	proto;			/* 17 */
	__u16	port;			/* local port, host order (informative) */
	__u32	reserved;
};
ESPTAG_CHECK_SIZE(esptag_bypass, 8);

/*
 * An acquire (esptag_acquire ring buffer record): a packet hit a trap
 * policy (ESPTAG_POLF_TRAP without a usable SA) and was dropped. At most
 * one per policy until esptagd re-arms it or ESPTAG_ACQ_EXPIRES_NS pass
 * (esptag_acq_pend holds the time until which it is pending).
 */
#define ESPTAG_ACQ_EXPIRES_NS	(30ull * 1000000000ull)	/* XFRM's xfrm_acq_expires */
#define ESPTAG_RINGBUF_SIZE	(16 * 1024)
struct esptag_acquire {
	__u32	policy_id;
	__u8	family;			/* 4 or 6 */
	__u8	proto;			/* IP protocol of the packet */
	__u16	reserved;
	__u8	saddr[16];
	__u8	daddr[16];
};
ESPTAG_CHECK_SIZE(esptag_acquire, 40);

/* Per-policy use (value of esptag_pol_use, per CPU): frames the policy
 * decided and the last one's time (bpf_ktime_get_coarse_ns: CLOCK_MONOTONIC,
 * to a tick). */
struct esptag_pol_use {
	__u64	packets;
	__u64	last_ns;
};
ESPTAG_CHECK_SIZE(esptag_pol_use, 16);

/* esptag_pol_tmpl.flags: which fields the decrypting SA must match */
#define ESPTAG_TMPLF_REQID	0x01
#define ESPTAG_TMPLF_SRC	0x02	/* the SA's source (the peer) */
#define ESPTAG_TMPLF_DST	0x04	/* the SA's destination (this host) */

/*
 * The template of an inbound protect policy (value of esptag_pol_tmpl), as
 * XFRM checks it: the SA that decrypted a packet the policy covers must
 * have this reqid, mode (0 = any) and addresses, as flagged.
 */
struct esptag_pol_tmpl {
	__u32	reqid;
	__u8	flags;			/* ESPTAG_TMPLF_* */
	__u8	mode;			/* enum esptag_mode, 0 = any */
	__u8	family;			/* of saddr/daddr, with SRC/DST */
	__u8	reserved;
	__u8	saddr[16];
	__u8	daddr[16];
};
ESPTAG_CHECK_SIZE(esptag_pol_tmpl, 40);
ESPTAG_CHECK_OFF(esptag_pol_tmpl, saddr, 8);

/* esptag_cfg.flags */
#define ESPTAG_CFGF_AGENT_UP	0x01	/* clear: protect traffic fails closed */
#define ESPTAG_CFGF_NO_TSO	0x02	/* the agent does not segment: GSO
					 * super-packets are dropped (TX_DROP_NO_TSO) */
#define ESPTAG_CFGF_IN_TMPL	0x04	/* some inbound policy has a template:
					 * decrypted packets are looked up (Rx) */
#define ESPTAG_CFGF_SPD_HOST	0x08	/* esptag_spd_host has entries: policy
					 * lookups try it before the LPM (clear:
					 * the LPM only, which holds them all) */
#define ESPTAG_CFGF_BYPASS	0x10	/* esptag_bypass may have entries: UDP
					 * packets' sockets are looked up (clear:
					 * no socket lookup, policy decides) */

/* Runtime settings (esptag_cfg[0]), written by esptagd or by hand. The
 * field clock_s was reserved (0) before: a value written by hand with 0
 * there keeps its meaning. */
struct esptag_cfg {
	__u32	flags;			/* ESPTAG_CFGF_* */
	__u32	mark_mask;		/* skb->mark bits esptag owns (0 = default) */
	__u32	mark_trusted;		/* bits set on decrypted+verified traffic */
	__u32	mark_shift;		/* SA index shifted by this into the mask */
	__u16	eth_p_cfg;		/* config EtherType (0 = 0x88B5) */
	__u16	eth_p_meta;		/* metadata EtherType (0 = 0x88B6) */
	__u32	clock_s;		/* CLOCK_MONOTONIC seconds, esptagd writes it as
					 * it moves on: the use times (esptag_sa_life,
					 * esptag_pol_use) take it instead of a clock
					 * helper call per packet; 0 = read the clock */
};
ESPTAG_CHECK_SIZE(esptag_cfg, 24);
ESPTAG_CHECK_OFF(esptag_cfg, mark_mask, 4);
ESPTAG_CHECK_OFF(esptag_cfg, eth_p_cfg, 16);

/* esptag_port.flags */
#define ESPTAG_PORTF_TRUSTED	0x01	/* trusted VF: frames pass unwrapped */
#define ESPTAG_PORTF_SPOOFCHK	0x02	/* drop frames whose source MAC != mac */

/* A VF port on the emulated NIC switch (value of esptag_ports). 16 bytes. */
struct esptag_port {
	__u32	flags;			/* ESPTAG_PORTF_* */
	__u8	mac[6];			/* the VF's MAC */
	__u16	vf;			/* VF number */
	__u32	reserved;
};
ESPTAG_CHECK_SIZE(esptag_port, 16);
ESPTAG_CHECK_OFF(esptag_port, mac, 4);
ESPTAG_CHECK_OFF(esptag_port, vf, 10);

/* XDP metadata handed from esptag_rx (xdp) to esptag_rx_mark (tc ingress). */
#define ESPTAG_XDP_META_MAGIC	0x45535054u	/* "ESPT" */
struct esptag_xdp_meta {
	__u32	magic;
	__u32	sa_index;
};
ESPTAG_CHECK_SIZE(esptag_xdp_meta, 8);

/* Per-SA data-path counters (value of esptag_sa_stats, per CPU). */
struct esptag_sa_stats {
	__u64	packets;
	__u64	bytes;
	__u64	drops;			/* replay, domain, dead SA ... */
};
ESPTAG_CHECK_SIZE(esptag_sa_stats, 24);


/*
 * Data-path counters (index of esptag_stats): the one table of them.
 * X(ID, name, drop) gives ESPTAG_CNT_<ID>, its name (CLI, JSON, metrics,
 * build/esptag_counters.json for scripts) and whether it counts frames
 * the data path dropped (1) or passed / handled (0). New counters go at
 * the end: the index is the map key, pinned maps outlive a build.
 */
#define ESPTAG_COUNTERS(X) \
	X(TX_PROTECT,		tx_protect, 0)		/* ESP header + tag inserted */ \
	X(TX_PROTECT_GSO,	tx_protect_gso, 0)	/* super-packet tagged for agent framing */ \
	X(TX_BYPASS,		tx_bypass, 0)		/* policy bypass or no policy */ \
	X(TX_PASS_OTHER,	tx_pass_other, 0)	/* not IP (ARP, ...) */ \
	X(TX_CONFIG,		tx_config, 0)		/* config frame from the daemon, passed */ \
	X(TX_DROP_DISCARD,	tx_drop_discard, 1)	/* policy discard */ \
	X(TX_DROP_NO_SA,	tx_drop_no_sa, 1)	/* protect without a usable SA */ \
	X(TX_DROP_EXPIRED,	tx_drop_expired, 1)	/* protect with an expired SA */ \
	X(TX_DROP_AGENT_DOWN,	tx_drop_agent_down, 1)	/* protect while the agent is down */ \
	X(TX_DROP_TAGGED,	tx_drop_tagged, 1)	/* already carries a metadata tag */ \
	X(TX_DROP_MALFORMED,	tx_drop_malformed, 1)	/* truncated / unsupported headers */ \
	X(TX_DROP_ROOM,		tx_drop_room, 1)	/* could not grow the packet */ \
	X(RX_OK,		rx_ok, 0)		/* decrypted, verified, accepted */ \
	X(RX_PLAIN,		rx_plain, 0)		/* untagged traffic passed */ \
	X(RX_CONFIG,		rx_config, 0)		/* agent reply passed to the daemon */ \
	X(RX_DROP_AUTH,		rx_drop_auth, 1)	/* agent: ICV failed */ \
	X(RX_DROP_NO_SA,	rx_drop_no_sa, 1)	/* agent: no SA */ \
	X(RX_DROP_AGENT_MALFORMED, rx_drop_agent_malformed, 1) /* agent: malformed ESP */ \
	X(RX_DROP_UNSUPPORTED,	rx_drop_unsupported, 1)	/* agent: unsupported / unknown result */ \
	X(RX_DROP_UNKNOWN_SA,	rx_drop_unknown_sa, 1)	/* index out of esptag_sad or its slot empty */ \
	X(RX_DROP_DIR,		rx_drop_dir, 1)		/* index of an outbound SA */ \
	X(RX_DROP_DEAD,		rx_drop_dead, 1)	/* SA not alive or expired */ \
	X(RX_DROP_DOMAIN,	rx_drop_domain, 1)	/* SA of another MAC/VLAN domain */ \
	X(RX_DROP_REPLAY,	rx_drop_replay, 1)	/* duplicate within the window */ \
	X(RX_DROP_OLD,		rx_drop_old, 1)		/* left of the window */ \
	X(RX_DROP_POLICY,	rx_drop_policy, 1)	/* plaintext where policy says protect */ \
	X(RX_DROP_DISCARD,	rx_drop_discard, 1)	/* inbound policy discard */ \
	X(RX_DROP_MALFORMED,	rx_drop_malformed, 1)	/* truncated / unparsable frame, strip failed */ \
	X(PORT_PASS,		port_pass, 0)		/* trusted VF frame passed */ \
	X(PORT_WRAP,		port_wrap, 0)		/* untrusted VF frame wrapped (offload=0) */ \
	X(PORT_DROP_SPOOF,	port_drop_spoof, 1)	/* source MAC is not the VF's */ \
	X(PORT_DROP_CONFIG,	port_drop_config, 1)	/* config EtherType from a VF */ \
	X(PORT_DROP_META,	port_drop_meta, 1)	/* metadata EtherType toward a VF / from a trusted VF */ \
	X(PORT_DROP_ROOM,	port_drop_room, 1)	/* could not grow the packet */ \
	X(TX_DROP_NO_TSO,	tx_drop_no_tso, 1)	/* GSO super-packet, the agent cannot segment */ \
	X(TX_DROP_VLAN_HIDDEN,	tx_drop_vlan_hidden, 1)	/* 0x88B5/0x88B6 behind VLAN tags (in the frame or skb metadata) */ \
	X(TX_DROP_GSO_LIMIT,	tx_drop_gso_limit, 1)	/* GSO mss below ESPTAG_GSO_MIN_MSS or too many segments */ \
	X(PORT_DROP_VLAN_HIDDEN, port_drop_vlan_hidden, 1) /* 0x88B5/0x88B6 behind VLAN tags, to or from a VF */ \
	X(RX_DROP_MARK,		rx_drop_mark, 1)	/* SA index the configured mark cannot hold */ \
	X(RX_DROP_TAG,		rx_drop_tag, 1)		/* Rx tag invalid or its offsets/lengths not this packet's */ \
	X(RX_DROP_OUTER,	rx_drop_outer, 1)	/* outer IP not ESP of the SA's family to the SA's address */ \
	X(RX_DROP_SPI_SEQ,	rx_drop_spi_seq, 1)	/* ESP SPI or sequence number differs from the SA / tag */ \
	X(RX_DROP_TRAILER,	rx_drop_trailer, 1)	/* decrypted ESP trailer disagrees with the tag */ \
	X(RX_DROP_INNER,	rx_drop_inner, 1)	/* tunnel: inner packet not IPv4/IPv6 filling the payload */ \
	X(RX_DUMMY,		rx_dummy, 0)		/* ESP dummy packet (next header 59): verified, discarded */ \
	X(TX_DROP_GSO_PROTO,	tx_drop_gso_proto, 1)	/* GSO super-packet not TCP, or its segments unknown */ \
	X(PORT_DROP_NO_PORT,	port_drop_no_port, 1)	/* frame from a port without an esptag_ports entry */ \
	X(TX_DROP_TRAP,		tx_drop_trap, 1)	/* trap policy (by reqid) without an SA: acquire */ \
	X(TX_BYPASS_SOCKET,	tx_bypass_socket, 0)	/* sent in clear: a registered bypass socket's */ \
	X(RX_BYPASS_SOCKET,	rx_bypass_socket, 0)	/* plaintext a protect policy covers, for a bypass socket */ \
	X(RX_DROP_TMPL,		rx_drop_tmpl, 1)	/* decrypted by an SA the inbound policy's template does not name */ \
	X(TX_DROP_LIMIT,	tx_drop_limit, 1)	/* the SA's hard byte or packet limit would be passed */ \
	X(RX_DROP_LIMIT,	rx_drop_limit, 1)	/* the SA's hard byte or packet limit would be passed */ \
	X(RX_DROP_REPLAY_BUSY,	rx_drop_replay_busy, 1)	/* the SA's replay window stayed busy (other CPUs) */

enum esptag_counter {
#define ESPTAG_CNT_ENUM_(id, name, drop) ESPTAG_CNT_##id,
	ESPTAG_COUNTERS(ESPTAG_CNT_ENUM_)
#undef ESPTAG_CNT_ENUM_
	ESPTAG_CNT_MAX,
};

/*
 * Slots of esptag_stats: fixed, above the number of counters, so that a
 * build with more counters reuses the pinned map of an older one (libbpf
 * refuses a pin whose max_entries differs) and an upgrade replaces the
 * programs over a running data path instead of failing to start.
 */
#define ESPTAG_STATS_SLOTS	256
ESPTAG_STATIC_ASSERT(ESPTAG_CNT_MAX <= ESPTAG_STATS_SLOTS, "counters fit esptag_stats");

#endif /* ESPTAG_MAPS_H */
