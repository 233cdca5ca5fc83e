/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * BPF_PROG_TEST_RUN helper for esptag's BPF tests.
 *
 *  - bt_open/bt_close: load a BPF object from the build tree with its pinned
 *    maps under a private bpffs directory (/sys/fs/bpf/et-<pid>-<tag>), so
 *    several objects opened with the same tag share their maps exactly as
 *    iproute2 or esptagd would make them share, and nothing is left behind;
 *  - bt_run: run a program once on a packet (optional __sk_buff context),
 *    returning verdict and output bytes;
 *  - bt_counters / bt_sa_stats: per-CPU counters summed over the CPUs;
 *  - BT_CHECK: run and compare verdict, exact output bytes and the delta of
 *    every esptag_stats counter (counters not listed must not move);
 *  - packet builders: packed header structs appended to a struct bt_pkt.
 *
 * Used with tests/lib/test.h (BT_CHECK reports through t_fail).
 */
#ifndef ESPTAG_BPF_TEST_H
#define ESPTAG_BPF_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <esptag/wire.h>
#include <esptag/maps.h>
#include "sa_mirror.h"

#define BT_PKT_MAX	4096

/* Network-order constants usable in static initializers. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BT_BE16(x)	((uint16_t)__builtin_bswap16(x))
#define BT_BE32(x)	((uint32_t)__builtin_bswap32(x))
#else
#define BT_BE16(x)	((uint16_t)(x))
#define BT_BE32(x)	((uint32_t)(x))
#endif

struct bt_obj {
	struct bpf_object *obj;
	char pin_dir[128];
};

/* Path of a build output ("bpf/esptag_tx.bpf.o") relative to the build dir
 * the test binary lives in. Static buffer. */
const char *bt_build_path(const char *rel);

/*
 * Open and load the object at build path rel, pinning its by-name maps in
 * /sys/fs/bpf/et-<pid>-<tag> (created; bpffs mounted if needed). Programs
 * in SEC("tc/...") sections get type SCHED_CLS (libbpf 1.1 leaves them
 * untyped). rodata_init,
 * if set, is called between open and load (set const volatile settings).
 * Returns 0 or a negative errno (and prints why).
 */
int bt_open(struct bt_obj *o, const char *rel, const char *tag,
	    int (*rodata_init)(struct bpf_object *obj, void *arg), void *arg);
/* Unpin the maps, remove the pin directory if empty, close the object. */
void bt_close(struct bt_obj *o);
int bt_prog_fd(const struct bt_obj *o, const char *prog_name);
int bt_map_fd(const struct bt_obj *o, const char *map_name);

struct bt_result {
	uint32_t retval;
	uint32_t out_len;
	uint8_t out[BT_PKT_MAX];
	struct __sk_buff skb_out;	/* context after the run (when skb given) */
};

/* Run prog_fd once on in[0..len) with an optional __sk_buff context.
 * Returns 0 or the negative errno of bpf_prog_test_run_opts. */
int bt_run(int prog_fd, const void *in, size_t len, const struct __sk_buff *skb,
	   struct bt_result *res);

/* Sum of esptag_stats over every possible CPU. */
int bt_counters(const struct bt_obj *o, uint64_t out[ESPTAG_CNT_MAX]);
/* Per-SA counters summed over CPUs; a missing entry reads as zeros (returns 1). */
int bt_sa_stats(const struct bt_obj *o, uint32_t sa_index, struct esptag_sa_stats *sum);
/* Zero every esptag_stats counter on every CPU. */
int bt_counters_reset(const struct bt_obj *o);

struct bt_cnt {
	int idx;			/* enum esptag_counter */
	long long delta;
};
#define BT_CNT_MAXD	6

struct bt_expect {
	uint32_t retval;
	const void *out;		/* expected frame, NULL = don't compare */
	size_t out_len;
	struct bt_cnt cnt[BT_CNT_MAXD];	/* {idx, delta}; delta 0 ends the list */
};

/* Run and compare; reports a failure through t_fail(file, line). On success
 * and when res is non-NULL, the run's result is copied there. */
bool bt_check_at(const char *file, int line, const struct bt_obj *o, int prog_fd,
		 const void *in, size_t len, const struct __sk_buff *skb,
		 const struct bt_expect *e, struct bt_result *res);
#define BT_CHECK(o, fd, in, len, skb, e, res) \
	bt_check_at(__FILE__, __LINE__, o, fd, in, len, skb, e, res)

/* ---------------------------------------------------------------------- */
/* Packet builders                                                         */
/* ---------------------------------------------------------------------- */

struct bt_ethhdr {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t proto;			/* network order */
} __attribute__((packed));

struct bt_vlanhdr {			/* follows a TPID */
	uint16_t tci;
	uint16_t proto;			/* network order */
} __attribute__((packed));

struct bt_ipv4hdr {
	uint8_t ver_ihl;
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off;
	uint8_t ttl;
	uint8_t protocol;
	uint16_t check;
	uint8_t saddr[4];
	uint8_t daddr[4];
} __attribute__((packed));

struct bt_ipv6hdr {
	uint32_t ver_tc_flow;		/* network order */
	uint16_t payload_len;
	uint8_t nexthdr;
	uint8_t hop_limit;
	uint8_t saddr[16];
	uint8_t daddr[16];
} __attribute__((packed));

struct bt_ipv6_ext {			/* hop-by-hop / dstopts / routing, 8 bytes */
	uint8_t nexthdr;
	uint8_t hdrlen;			/* 8-octet units beyond the first */
	uint8_t data[6];
} __attribute__((packed));

struct bt_tcphdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t doff_res;		/* doff << 4 */
	uint8_t flags;
	uint16_t window, check, urg;
} __attribute__((packed));

struct bt_udphdr {
	uint16_t sport, dport, len, check;
} __attribute__((packed));

struct bt_esphdr {
	uint32_t spi;
	uint32_t seq;
	uint8_t iv[8];
} __attribute__((packed));

struct bt_pkt {
	size_t len;
	uint8_t b[BT_PKT_MAX];
};

/* Append n bytes (zeros when src is NULL); returns the offset written. */
size_t bt_put(struct bt_pkt *p, const void *src, size_t n);
/* Insert n bytes at off, moving the rest back. */
void bt_insert(struct bt_pkt *p, size_t off, const void *src, size_t n);

/* dst, src, up to two VLAN tags (struct esptag_vlan, network order as on
 * the wire), then EtherType proto (host order). Returns 0. */
size_t bt_l2(struct bt_pkt *p, const uint8_t dst[6], const uint8_t src[6],
	     const struct esptag_vlan *vlans, int nvlans, uint16_t proto);
/* IPv4 header without options; addresses as dotted strings. Returns offset.
 * bt_ipv4_finish sets tot_len to the bytes from off to the end and the
 * header checksum (call after appending the payload). */
size_t bt_ipv4(struct bt_pkt *p, const char *saddr, const char *daddr, uint8_t proto);
void bt_ipv4_finish(struct bt_pkt *p, size_t off);
size_t bt_ipv6(struct bt_pkt *p, const char *saddr, const char *daddr, uint8_t nexthdr);
void bt_ipv6_finish(struct bt_pkt *p, size_t off);
size_t bt_tcp(struct bt_pkt *p, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags);
size_t bt_udp(struct bt_pkt *p, uint16_t sport, uint16_t dport);
void bt_udp_finish(struct bt_pkt *p, size_t off);
/* ESP header + IV = big-endian 64-bit seq (esptag's IV rule). */
size_t bt_esp(struct bt_pkt *p, uint32_t spi, uint64_t seq);
/* n bytes of a recognisable pattern (i + seed). */
size_t bt_payload(struct bt_pkt *p, size_t n, uint8_t seed);
/* Insert a metadata tag after the MAC addresses (the tag's inner_proto is
 * taken from the frame's EtherType). m is given in network order except
 * tpid/inner_proto, which are filled in. */
void bt_meta_insert(struct bt_pkt *p, const struct esptag_meta *m);

/* Internet checksum over a buffer (RFC 1071), network order result. */
uint16_t bt_csum(const void *buf, size_t len, uint32_t init);
/* Parse a dotted IPv4 / IPv6 text address into 16 bytes (v4 in the first 4). */
int bt_addr(const char *txt, uint8_t out[16], int *family);

/* The per-SA maps of o (esptag_sad, _seq, _replay, _sa_stats) for the SA
 * mirror (user/lib/sa_mirror.h); a map o lacks is -1 (left alone). */
struct esptag_sa_maps bt_sa_maps(const struct bt_obj *o);

#endif /* ESPTAG_BPF_TEST_H */
