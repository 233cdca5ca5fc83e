/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * esptag wire formats: the configuration packet (EtherType 0x88B5) and the
 * metadata tag (EtherType 0x88B6) exchanged between host and agent.
 *
 * docs/protocol.md is the specification; these structs must match it byte
 * for byte (tests/unit/test_protocol.c checks the worked examples). Every
 * multi-byte field is in network byte order (big endian) unless noted.
 * Shared by BPF programs, esptagd, esptag and esptag-agent.
 */
#ifndef ESPTAG_WIRE_H
#define ESPTAG_WIRE_H

#include <linux/types.h>

#ifndef ESPTAG_STATIC_ASSERT
#define ESPTAG_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif
#define ESPTAG_CHECK_SIZE(t, n) \
	ESPTAG_STATIC_ASSERT(sizeof(struct t) == (n), "sizeof(struct " #t ")")
#define ESPTAG_CHECK_OFF(t, f, n) \
	ESPTAG_STATIC_ASSERT(__builtin_offsetof(struct t, f) == (n), #t "." #f)

/* Default EtherTypes (IEEE 802 local experimental); both are configurable. */
#define ESPTAG_ETH_P_CFG	0x88B5
#define ESPTAG_ETH_P_META	0x88B6

#define ESPTAG_PROTO_VERSION	1	/* config version of HELLO (and the first) */
#define ESPTAG_PROTO_V2		2	/* wrapped keys (docs/protocol.md 1.10) */
#define ESPTAG_PROTO_VERSION_MAX 2	/* highest config version spoken here */
#define ESPTAG_META_VERSION	1	/* metadata tag version */

/*
 * The agent's well-known address: config requests go to it, replies come
 * from it. An agent takes host-side config frames whatever their dst MAC.
 */
#define ESPTAG_AGENT_MAC_INIT	{ 0x02, 0x45, 0x53, 0x50, 0x54, 0x00 }

/* Config request retransmission defaults (host side). */
#define ESPTAG_CFG_TIMEOUT_MS	100	/* first timeout, doubled per retry */
#define ESPTAG_CFG_TRIES	5
#define ESPTAG_CFG_REPLY_CACHE	1024	/* replies an agent remembers */

/* Largest config frame payload (after the Ethernet header) an agent must take. */
#define ESPTAG_CFG_MAX_PAYLOAD	1500
#define ESPTAG_ETH_HLEN		14

/*
 * The VLAN TPID rule, the same everywhere (BPF programs, agent, daemon):
 * an EtherType of 0x8100 (802.1Q C-tag) or 0x88a8 (802.1ad S-tag) starts a
 * VLAN tag. proto in host byte order.
 */
#define ESPTAG_ETH_P_8021Q	0x8100
#define ESPTAG_ETH_P_8021AD	0x88A8
static inline __attribute__((always_inline)) int esptag_eth_p_is_vlan(unsigned int proto)
{
	return proto == ESPTAG_ETH_P_8021Q || proto == ESPTAG_ETH_P_8021AD;
}

/* ------------------------------------------------------------------------ */
/* Configuration packet                                                      */
/* ------------------------------------------------------------------------ */

enum esptag_opcode {
	ESPTAG_OP_HELLO		= 1,	/* capabilities and epoch */
	ESPTAG_OP_ADD_SA	= 2,	/* 1..n SA records, all or nothing */
	ESPTAG_OP_DEL_SA	= 3,	/* 1..n SA_REF records, all or nothing */
	ESPTAG_OP_FLUSH_PORT	= 4,	/* remove every SA (and local) of hdr.port */
	ESPTAG_OP_ADD_LOCAL	= 5,	/* 1..n LOCAL records (hairpin) */
	ESPTAG_OP_DEL_LOCAL	= 6,	/* 1..n LOCAL records */
	ESPTAG_OP_DUMP_SA	= 7,	/* optional CURSOR record; reply: SA records */
	ESPTAG_OP_GET_STATS	= 8,	/* SA_REF records, or none for agent counters */
	ESPTAG_OP_MAX		= 8,
};

/* esptag_cfg_hdr.flags */
#define ESPTAG_CFG_F_REPLY	0x01	/* set by the agent on every reply */
#define ESPTAG_CFG_F_MORE	0x02	/* DUMP_SA reply: more to come (CURSOR) */
#define ESPTAG_CFG_F_RETRY	0x04	/* informational: a retransmission */
#define ESPTAG_CFG_F_KNOWN	0x07

enum esptag_status {
	ESPTAG_ST_OK		= 0,
	ESPTAG_ST_BAD_VERSION	= 1,	/* hdr.version not supported */
	ESPTAG_ST_BAD_OPCODE	= 2,	/* unknown opcode */
	ESPTAG_ST_MALFORMED	= 3,	/* lengths/counts inconsistent */
	ESPTAG_ST_BAD_RECORD	= 4,	/* a record's contents are invalid */
	ESPTAG_ST_NO_SPACE	= 5,	/* agent SAD full */
	ESPTAG_ST_PORT_LIMIT	= 6,	/* the port's SA quota is used up */
	ESPTAG_ST_DUPLICATE	= 7,	/* extended key already in the SAD */
	ESPTAG_ST_UNKNOWN_SA	= 8,	/* no such SA index on this port */
	ESPTAG_ST_BAD_ALG	= 9,	/* unsupported algorithm / key length */
	ESPTAG_ST_NOT_PERMITTED	= 10,	/* e.g. config from the wire side */
	ESPTAG_ST_UNKNOWN_LOCAL	= 11,	/* DEL_LOCAL of an unknown address */
	ESPTAG_ST_BUSY		= 12,	/* transient, retry later */
	ESPTAG_ST_MAX		= 12,
};

/* Fixed header at the start of the config frame payload. 16 bytes. */
struct esptag_cfg_hdr {
	__u8	version;	/* ESPTAG_PROTO_VERSION */
	__u8	opcode;		/* enum esptag_opcode */
	__u8	flags;		/* ESPTAG_CFG_F_* */
	__u8	status;		/* enum esptag_status; 0 in requests */
	__be32	msg_id;		/* request/reply correlation, never 0 */
	__be16	port;		/* agent port (SAD ownership) */
	__be16	count;		/* number of records that follow */
	__be16	length;		/* bytes of records that follow */
	__be16	err_index;	/* reply: index of the record that failed, else 0xffff */
};
ESPTAG_CHECK_SIZE(esptag_cfg_hdr, 16);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, opcode, 1);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, flags, 2);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, status, 3);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, msg_id, 4);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, port, 8);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, count, 10);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, length, 12);
ESPTAG_CHECK_OFF(esptag_cfg_hdr, err_index, 14);

#define ESPTAG_ERR_INDEX_NONE	0xffff

enum esptag_rec_type {
	ESPTAG_REC_SA		= 1,	/* struct esptag_rec_sa */
	ESPTAG_REC_SA_REF	= 2,	/* struct esptag_rec_sa_ref */
	ESPTAG_REC_LOCAL	= 3,	/* struct esptag_rec_local */
	ESPTAG_REC_CAPS		= 4,	/* struct esptag_rec_caps */
	ESPTAG_REC_SA_STATS	= 5,	/* struct esptag_rec_sa_stats */
	ESPTAG_REC_COUNTER	= 6,	/* struct esptag_rec_counter */
	ESPTAG_REC_CURSOR	= 7,	/* struct esptag_rec_cursor */
	ESPTAG_REC_SA_WRAP	= 8,	/* struct esptag_rec_sa_wrap (version 2) */
	ESPTAG_REC_WRAP_KEY	= 9,	/* struct esptag_rec_wrap_key (version 2) */
	ESPTAG_REC_MAX		= 9,
};

/* Every record starts with this; len covers the whole record. 4 bytes. */
struct esptag_rec_hdr {
	__u8	type;		/* enum esptag_rec_type */
	__u8	flags;		/* 0 in version 1 */
	__be16	len;		/* must equal the type's size in version 1 */
};
ESPTAG_CHECK_SIZE(esptag_rec_hdr, 4);
ESPTAG_CHECK_OFF(esptag_rec_hdr, len, 2);

/* One 802.1Q / 802.1ad tag of an SAD domain. */
struct esptag_vlan {
	__be16	tpid;		/* 0x8100 or 0x88a8; 0 when unused */
	__be16	tci;		/* PCP/DEI are ignored by the agent; VID compared */
};
ESPTAG_CHECK_SIZE(esptag_vlan, 4);

enum esptag_dir {
	ESPTAG_DIR_IN	= 1,
	ESPTAG_DIR_OUT	= 2,
};

enum esptag_mode {
	ESPTAG_MODE_TRANSPORT	= 1,
	ESPTAG_MODE_TUNNEL	= 2,
};

enum esptag_alg {
	ESPTAG_ALG_AES_GCM_128	= 1,	/* RFC 4106, 16-byte key, 4-byte salt, ICV 16 */
	ESPTAG_ALG_AES_GCM_256	= 2,	/* RFC 4106, 32-byte key, 4-byte salt, ICV 16 */
};
#define ESPTAG_ALG_MASK		((1u << ESPTAG_ALG_AES_GCM_128) | (1u << ESPTAG_ALG_AES_GCM_256))

/* esptag_rec_sa.sa_flags */
#define ESPTAG_SA_F_ESN		0x01	/* 64-bit extended sequence numbers */
#define ESPTAG_SA_F_KNOWN	0x01

#define ESPTAG_IPPROTO_ESP	50
#define ESPTAG_ICV_LEN		16
#define ESPTAG_SALT_LEN		4
#define ESPTAG_IV_LEN		8
#define ESPTAG_KEY_MAX		32
#define ESPTAG_REPLAY_MAX	1024
#define ESPTAG_SA_INDEX_NONE	0xffffffffu

/*
 * An SA with its extended key (daddr, proto, spi, local_mac, vlans).
 * IPv4 addresses occupy the first 4 bytes of the 16-byte fields, the rest 0.
 * In tunnel mode saddr/daddr are the tunnel endpoints (outer header).
 * Replies never carry key or salt: those bytes are zero. 108 bytes.
 */
struct esptag_rec_sa {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_SA, len 108 */
	__u8	dir;			/* enum esptag_dir */
	__u8	family;			/* 4 or 6 */
	__u8	proto;			/* 50 (ESP) */
	__u8	mode;			/* enum esptag_mode */
	__be32	spi;			/* non-zero */
	__u8	daddr[16];		/* destination (key) */
	__u8	saddr[16];		/* source; tunnel: outer source */
	__u8	local_mac[6];		/* domain: the port MAC the SA belongs to */
	__u8	nvlans;			/* 0..2 valid entries in vlan[] */
	__u8	alg;			/* enum esptag_alg */
	struct esptag_vlan vlan[2];	/* domain: outer first */
	__u8	key_len;		/* 16 or 32, must match alg */
	__u8	icv_len;		/* 16 */
	__u8	sa_flags;		/* ESPTAG_SA_F_* */
	__u8	reserved;		/* 0 */
	__be16	replay_window;		/* 0..1024 (host enforces; informative) */
	__be16	reserved2;		/* 0 */
	__be32	sa_index;		/* reply: agent handle; request: 0xffffffff */
	__u8	key[ESPTAG_KEY_MAX];	/* key_len bytes used, rest 0 */
	__u8	salt[ESPTAG_SALT_LEN];	/* RFC 4106 nonce salt */
};
ESPTAG_CHECK_SIZE(esptag_rec_sa, 108);
ESPTAG_CHECK_OFF(esptag_rec_sa, dir, 4);
ESPTAG_CHECK_OFF(esptag_rec_sa, family, 5);
ESPTAG_CHECK_OFF(esptag_rec_sa, proto, 6);
ESPTAG_CHECK_OFF(esptag_rec_sa, mode, 7);
ESPTAG_CHECK_OFF(esptag_rec_sa, spi, 8);
ESPTAG_CHECK_OFF(esptag_rec_sa, daddr, 12);
ESPTAG_CHECK_OFF(esptag_rec_sa, saddr, 28);
ESPTAG_CHECK_OFF(esptag_rec_sa, local_mac, 44);
ESPTAG_CHECK_OFF(esptag_rec_sa, nvlans, 50);
ESPTAG_CHECK_OFF(esptag_rec_sa, alg, 51);
ESPTAG_CHECK_OFF(esptag_rec_sa, vlan, 52);
ESPTAG_CHECK_OFF(esptag_rec_sa, key_len, 60);
ESPTAG_CHECK_OFF(esptag_rec_sa, icv_len, 61);
ESPTAG_CHECK_OFF(esptag_rec_sa, sa_flags, 62);
ESPTAG_CHECK_OFF(esptag_rec_sa, reserved, 63);
ESPTAG_CHECK_OFF(esptag_rec_sa, replay_window, 64);
ESPTAG_CHECK_OFF(esptag_rec_sa, reserved2, 66);
ESPTAG_CHECK_OFF(esptag_rec_sa, sa_index, 68);
ESPTAG_CHECK_OFF(esptag_rec_sa, key, 72);
ESPTAG_CHECK_OFF(esptag_rec_sa, salt, 104);

/*
 * Version 2 ADD_SA (docs/protocol.md 1.10): n SA_WRAP records, then one
 * WRAP_KEY record, last. WRAP_KEY carries the requester's ephemeral X25519
 * key and msg_id for the whole frame; Z = X25519(eph, agent) once per frame.
 * Record i (0-based) of the frame: KEK_i = HKDF-SHA256(Z, salt eph_key ||
 * agent_key, info label || port || domain || msg_id || n || i || dir || spi);
 * wrapped || tag = AES-256-GCM(KEK_i, nonce 0, key[32] || salt[4],
 * AAD = the record's first 108 bytes, its SA part).
 */
#define ESPTAG_X25519_LEN	32	/* X25519 keys (RFC 7748) */
#define ESPTAG_WRAP_CT_LEN	(ESPTAG_KEY_MAX + ESPTAG_SALT_LEN)
#define ESPTAG_WRAP_TAG_LEN	16
#define ESPTAG_WRAP_AAD_LEN	108
struct esptag_rec_sa_wrap {
	struct esptag_rec_sa sa;	/* hdr type SA_WRAP, len 160; key, salt zero */
	__u8	wrapped[ESPTAG_WRAP_CT_LEN];	/* key[32] || salt[4], encrypted */
	__u8	tag[ESPTAG_WRAP_TAG_LEN];	/* AES-GCM tag */
};
ESPTAG_CHECK_SIZE(esptag_rec_sa_wrap, 160);
ESPTAG_CHECK_OFF(esptag_rec_sa_wrap, wrapped, 108);
ESPTAG_CHECK_OFF(esptag_rec_sa_wrap, tag, 144);

/* The last record of a version 2 ADD_SA request: the frame's ephemeral key. 40 bytes. */
struct esptag_rec_wrap_key {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_WRAP_KEY, len 40 */
	__be32	msg_id;			/* the requester's msg_id (bound into every KEK) */
	__u8	eph_key[ESPTAG_X25519_LEN];	/* the requester's ephemeral X25519 key */
};
ESPTAG_CHECK_SIZE(esptag_rec_wrap_key, 40);
ESPTAG_CHECK_OFF(esptag_rec_wrap_key, msg_id, 4);
ESPTAG_CHECK_OFF(esptag_rec_wrap_key, eph_key, 8);

/* SA_WRAP records in one version 2 ADD_SA: (1500 - 16 - 40) / 160. */
#define ESPTAG_CFG_MAX_WRAP	9

/* Reference to an SA by its agent index (DEL_SA, GET_STATS). 8 bytes. */
struct esptag_rec_sa_ref {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_SA_REF, len 8 */
	__be32	sa_index;
};
ESPTAG_CHECK_SIZE(esptag_rec_sa_ref, 8);
ESPTAG_CHECK_OFF(esptag_rec_sa_ref, sa_index, 4);

/* A local (hairpin) destination: address + the MAC/VLANs it lives behind. 36 bytes. */
struct esptag_rec_local {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_LOCAL, len 36 */
	__u8	family;			/* 4 or 6 */
	__u8	nvlans;			/* 0..2 */
	__u8	mac[6];			/* the local port's MAC */
	__u8	addr[16];		/* the local address */
	struct esptag_vlan vlan[2];
};
ESPTAG_CHECK_SIZE(esptag_rec_local, 36);
ESPTAG_CHECK_OFF(esptag_rec_local, family, 4);
ESPTAG_CHECK_OFF(esptag_rec_local, nvlans, 5);
ESPTAG_CHECK_OFF(esptag_rec_local, mac, 6);
ESPTAG_CHECK_OFF(esptag_rec_local, addr, 12);
ESPTAG_CHECK_OFF(esptag_rec_local, vlan, 28);

/* HELLO: capabilities; the host sends its own, the agent replies with its. 40 bytes. */
struct esptag_rec_caps {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_CAPS, len 40 */
	__u8	version_min;		/* lowest config protocol version spoken */
	__u8	version_max;		/* highest */
	__be16	alg_mask;		/* bit (1 << enum esptag_alg) per algorithm */
	__be32	epoch_hi;		/* agent epoch (boot id), changes on every start */
	__be32	epoch_lo;
	__be32	sad_capacity;		/* total SAs the agent can hold */
	__be32	sad_used;
	__be32	port_limit;		/* SAs per port */
	__be32	port_used;		/* SAs held by hdr.port */
	__be16	max_records;		/* records per config packet */
	__be16	max_payload;		/* bytes of config payload per frame */
	__be16	local_capacity;		/* hairpin addresses */
	__be16	features;		/* ESPTAG_FEAT_* */
};
ESPTAG_CHECK_SIZE(esptag_rec_caps, 40);
ESPTAG_CHECK_OFF(esptag_rec_caps, alg_mask, 6);
ESPTAG_CHECK_OFF(esptag_rec_caps, epoch_hi, 8);
ESPTAG_CHECK_OFF(esptag_rec_caps, epoch_lo, 12);
ESPTAG_CHECK_OFF(esptag_rec_caps, sad_capacity, 16);
ESPTAG_CHECK_OFF(esptag_rec_caps, sad_used, 20);
ESPTAG_CHECK_OFF(esptag_rec_caps, port_limit, 24);
ESPTAG_CHECK_OFF(esptag_rec_caps, port_used, 28);
ESPTAG_CHECK_OFF(esptag_rec_caps, max_records, 32);
ESPTAG_CHECK_OFF(esptag_rec_caps, max_payload, 34);
ESPTAG_CHECK_OFF(esptag_rec_caps, local_capacity, 36);
ESPTAG_CHECK_OFF(esptag_rec_caps, features, 38);

/*
 * Version 2: the CAPS of a HELLO reply to a host whose version_max is 2 or
 * more carry the agent's X25519 identity (public) key. 72 bytes.
 */
struct esptag_rec_caps2 {
	struct esptag_rec_caps caps;	/* hdr.len 72 */
	__u8	agent_key[ESPTAG_X25519_LEN];	/* X25519 public key (RFC 7748) */
};
ESPTAG_CHECK_SIZE(esptag_rec_caps2, 72);
ESPTAG_CHECK_OFF(esptag_rec_caps2, agent_key, 40);

#define ESPTAG_FEAT_TSO		0x0001	/* segments GSO super-packets */
#define ESPTAG_FEAT_HAIRPIN	0x0002	/* ADD_LOCAL / hairpin */
#define ESPTAG_FEAT_ESN		0x0004
#define ESPTAG_FEAT_TUNNEL	0x0008
#define ESPTAG_FEAT_IPV6	0x0010

/* Per-SA counters (GET_STATS reply). 40 bytes. */
struct esptag_rec_sa_stats {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_SA_STATS, len 40 */
	__be32	sa_index;
	__be32	packets_hi, packets_lo;	/* encrypted or decrypted OK */
	__be32	bytes_hi, bytes_lo;
	__be32	auth_fail;		/* Rx ICV failures */
	__be32	domain_reject;		/* Tx frames from another domain using this index */
	__be32	seq_hi, seq_lo;		/* Tx: next sequence (IVDB); Rx: highest seen */
};
ESPTAG_CHECK_SIZE(esptag_rec_sa_stats, 40);
ESPTAG_CHECK_OFF(esptag_rec_sa_stats, sa_index, 4);
ESPTAG_CHECK_OFF(esptag_rec_sa_stats, packets_hi, 8);
ESPTAG_CHECK_OFF(esptag_rec_sa_stats, bytes_hi, 16);
ESPTAG_CHECK_OFF(esptag_rec_sa_stats, auth_fail, 24);
ESPTAG_CHECK_OFF(esptag_rec_sa_stats, domain_reject, 28);
ESPTAG_CHECK_OFF(esptag_rec_sa_stats, seq_hi, 32);

/* One agent-wide counter (GET_STATS without records). 16 bytes. */
struct esptag_rec_counter {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_COUNTER, len 16 */
	__be16	id;			/* enum esptag_agent_counter */
	__be16	reserved;
	__be32	value_hi, value_lo;
};
ESPTAG_CHECK_SIZE(esptag_rec_counter, 16);
ESPTAG_CHECK_OFF(esptag_rec_counter, id, 4);
ESPTAG_CHECK_OFF(esptag_rec_counter, value_hi, 8);

/* DUMP_SA paging: request from this index; reply: where to continue. 8 bytes. */
struct esptag_rec_cursor {
	struct esptag_rec_hdr hdr;	/* type ESPTAG_REC_CURSOR, len 8 */
	__be32	next;			/* first SA index to return */
};
ESPTAG_CHECK_SIZE(esptag_rec_cursor, 8);
ESPTAG_CHECK_OFF(esptag_rec_cursor, next, 4);

/* Agent-wide counters, reported by GET_STATS and on SIGUSR1. */
enum esptag_agent_counter {
	ESPTAG_AC_TX_ENCRYPTED = 0,	/* ESP built and sent to the wire */
	ESPTAG_AC_TX_SEGMENTS,		/* TSO segments produced */
	ESPTAG_AC_TX_BYPASS,		/* offload=0: tag stripped, forwarded */
	ESPTAG_AC_TX_UNTAGGED,		/* forwarded untouched */
	ESPTAG_AC_TX_HAIRPIN,		/* turned around to the host side */
	ESPTAG_AC_TX_DROP_NO_SA,	/* index unknown */
	ESPTAG_AC_TX_DROP_DOMAIN,	/* index of another domain */
	ESPTAG_AC_TX_DROP_MALFORMED,	/* bad tag, offsets or headers */
	ESPTAG_AC_RX_DECRYPTED,		/* OK, tagged to the host */
	ESPTAG_AC_RX_AUTH_FAIL,
	ESPTAG_AC_RX_NO_SA,
	ESPTAG_AC_RX_MALFORMED,
	ESPTAG_AC_RX_PLAIN,		/* not ESP: forwarded untouched */
	ESPTAG_AC_RX_DROP_TAGGED,	/* wire frame carrying our tags: spoof */
	ESPTAG_AC_CFG_RX,		/* config requests handled */
	ESPTAG_AC_CFG_DUP,		/* answered from the reply cache */
	ESPTAG_AC_CFG_ERR,		/* requests answered with an error */
	ESPTAG_AC_CFG_DROPPED,		/* test-only loss injection */
	ESPTAG_AC_TX_DROP_VLAN_HIDDEN,	/* untagged host frame with 0x88B5/0x88B6 behind VLANs */
	ESPTAG_AC_TX_DROP_GSO_LIMIT,	/* GSO mss below the minimum or too many segments */
	ESPTAG_AC_RX_COALESCED,		/* decrypted TCP segments appended to the frame before */
	ESPTAG_AC_MAX,
};

/* ------------------------------------------------------------------------ */
/* Metadata tag                                                              */
/* ------------------------------------------------------------------------ */

enum esptag_meta_kind {
	ESPTAG_META_TX = 1,	/* host -> agent */
	ESPTAG_META_RX = 2,	/* agent -> host */
};

/* esptag_meta.flags */
#define ESPTAG_META_F_OFFLOAD	0x01	/* TX: do IPsec; clear: strip and bypass */
#define ESPTAG_META_F_GSO	0x02	/* TX: super-packet, agent frames ESP per segment */
#define ESPTAG_META_F_ESN	0x04	/* seq_hi is meaningful */
#define ESPTAG_META_F_HAIRPIN	0x08	/* RX: turned around by the agent */
#define ESPTAG_META_F_KNOWN	0x0f

/* Rx result codes (agent -> host). */
enum esptag_result {
	ESPTAG_RES_OK		= 0,	/* decrypted, ICV verified */
	ESPTAG_RES_AUTH_FAIL	= 1,	/* ICV mismatch: payload left encrypted */
	ESPTAG_RES_NO_SA	= 2,	/* no SA for (dst, spi, domain) */
	ESPTAG_RES_MALFORMED	= 3,	/* truncated or inconsistent ESP */
	ESPTAG_RES_UNSUPPORTED	= 4,	/* e.g. fragment, unknown mode */
	ESPTAG_RES_MAX		= 4,
};

/*
 * The metadata tag, inserted after the MAC addresses: it starts with the
 * EtherType 0x88B6 and ends with the EtherType of the frame it wraps, like
 * an 802.1Q tag. 32 bytes long, 30 of them inserted. Offsets are counted from the first
 * byte of the frame with the tag removed (the destination MAC).
 */
struct esptag_meta {
	__be16	tpid;		/* ESPTAG_ETH_P_META */
	__u8	version;	/* ESPTAG_META_VERSION */
	__u8	kind;		/* enum esptag_meta_kind */
	__u8	flags;		/* ESPTAG_META_F_* */
	__u8	next_hdr;	/* TX: ESP next header; RX: recovered next header */
	__u8	result;		/* RX: enum esptag_result; TX: 0 */
	__u8	reserved;	/* 0 */
	__be16	esp_off;	/* ESP header offset (GSO: where it is to be inserted) */
	__be16	payload_off;	/* TX: first byte to encrypt; RX: first plaintext byte */
	__be16	trailer_len;	/* RX: pad + pad len + next hdr + ICV; TX: 0 */
	__be16	mss;		/* TX GSO: TCP payload per segment; RX: ESP packets
				 * coalesced into this frame, seq .. seq + mss - 1
				 * (0: one); else 0 */
	__be32	sa_index;	/* agent SA index */
	__be32	seq_hi;		/* ESN high 32 bits (0 without ESN) */
	__be32	seq_lo;		/* sequence number (GSO: of the first segment) */
	__be16	reserved2;	/* 0 */
	__be16	inner_proto;	/* EtherType of the wrapped frame */
};
ESPTAG_CHECK_SIZE(esptag_meta, 32);
ESPTAG_CHECK_OFF(esptag_meta, version, 2);
ESPTAG_CHECK_OFF(esptag_meta, kind, 3);
ESPTAG_CHECK_OFF(esptag_meta, flags, 4);
ESPTAG_CHECK_OFF(esptag_meta, next_hdr, 5);
ESPTAG_CHECK_OFF(esptag_meta, result, 6);
ESPTAG_CHECK_OFF(esptag_meta, reserved, 7);
ESPTAG_CHECK_OFF(esptag_meta, esp_off, 8);
ESPTAG_CHECK_OFF(esptag_meta, payload_off, 10);
ESPTAG_CHECK_OFF(esptag_meta, trailer_len, 12);
ESPTAG_CHECK_OFF(esptag_meta, mss, 14);
ESPTAG_CHECK_OFF(esptag_meta, sa_index, 16);
ESPTAG_CHECK_OFF(esptag_meta, seq_hi, 20);
ESPTAG_CHECK_OFF(esptag_meta, seq_lo, 24);
ESPTAG_CHECK_OFF(esptag_meta, reserved2, 28);
ESPTAG_CHECK_OFF(esptag_meta, inner_proto, 30);

/* Bytes the tag adds to a frame: all of it but the EtherType it displaces. */
#define ESPTAG_META_LEN		30

/*
 * GSO limits (docs/protocol.md 2.3): a TX GSO tag (host) or skb (gso_size)
 * with mss below ESPTAG_GSO_MIN_MSS, or worth more than ESPTAG_GSO_MAX_SEGS
 * segments, is dropped and counted, never framed. 88 is Linux's TCP_MIN_MSS
 * (the smallest TCP_MAXSEG it accepts); 745 = ceil(65515 / 88), the segments
 * of the largest 64 KB TCP super-packet (IPv6 payload 65535 - TCP header 20)
 * at that mss.
 */
#define ESPTAG_GSO_MIN_MSS	88
/* RX: at most this many ESP packets coalesced into one frame (tag mss). */
#define ESPTAG_RX_MAX_SEGS	64
#define ESPTAG_GSO_MAX_SEGS	745

/* Ethernet header with the metadata tag: dst, src, tag. 44 bytes. */
struct esptag_meta_ethhdr {
	__u8	h_dest[6];
	__u8	h_source[6];
	struct esptag_meta meta;
};
ESPTAG_CHECK_SIZE(esptag_meta_ethhdr, 44);
ESPTAG_STATIC_ASSERT(ESPTAG_META_LEN == sizeof(struct esptag_meta) - 2, "tag length");
ESPTAG_CHECK_OFF(esptag_meta_ethhdr, meta, 12);

/* ESP header (RFC 4303) followed by the RFC 4106 explicit IV. 16 bytes. */
struct esptag_esp_hdr {
	__be32	spi;
	__be32	seq;		/* low 32 bits of the sequence number */
	__u8	iv[ESPTAG_IV_LEN];	/* esptag: the 64-bit sequence number */
};
ESPTAG_CHECK_SIZE(esptag_esp_hdr, 16);
ESPTAG_CHECK_OFF(esptag_esp_hdr, seq, 4);
ESPTAG_CHECK_OFF(esptag_esp_hdr, iv, 8);

#endif /* ESPTAG_WIRE_H */
