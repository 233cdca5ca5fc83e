/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inbound bypass sockets: is the socket a UDP packet will be delivered to a
 * registered bypass socket (esptag_bypass, keyed by socket cookie)?
 *
 * XDP has bpf_sk_lookup_udp but not bpf_get_socket_cookie, and the cookie
 * is not a field of struct bpf_sock. The socket's struct sock is read
 * through bpf_rdonly_cast (kernel BTF, CO-RE): sk_cookie is set the first
 * time anyone asks for the cookie, which registering it did (SO_COOKIE),
 * and a socket whose cookie was never asked for reads 0, which no entry has.
 */
#ifndef ESPTAG_BPF_BYPASS_H
#define ESPTAG_BPF_BYPASS_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "maps.h"

/* The kernel's types, only the fields read (CO-RE relocates them). */
typedef struct {
	long long counter;
} atomic64_t___esptag;
struct sock_common___esptag {
	atomic64_t___esptag skc_cookie;
} __attribute__((preserve_access_index));
struct sock___esptag {
	struct sock_common___esptag __sk_common;
} __attribute__((preserve_access_index));

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* tuple: the packet's (saddr, daddr, sport, dport); len: its ipv4 or ipv6 size. */
static __always_inline bool bypass_udp_socket(void *ctx, struct bpf_sock_tuple *tuple, __u32 len)
{
	struct bpf_sock *sk = bpf_sk_lookup_udp(ctx, tuple, len, BPF_F_CURRENT_NETNS, 0);
	struct sock___esptag *s;
	__u64 cookie;

	if (!sk)
		return false;
	s = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock___esptag));
	cookie = s->__sk_common.skc_cookie.counter;
	bpf_sk_release(sk);
	return cookie && bpf_map_lookup_elem(&esptag_bypass, &cookie);
}

#endif /* ESPTAG_BPF_BYPASS_H */
