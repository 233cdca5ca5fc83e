// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counts calls of the packet-growing helpers made by one process (the
 * bench), to check "at most one adjust_room/change_head per packet" on the
 * running program rather than by reading its code.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_tgid;
__u64 n_adjust_room;
__u64 n_change_head;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("fentry/bpf_skb_adjust_room")
int BPF_PROG(count_adjust_room)
{
	if (mine())
		__sync_fetch_and_add(&n_adjust_room, 1);
	return 0;
}

SEC("fentry/bpf_skb_change_head")
int BPF_PROG(count_change_head)
{
	if (mine())
		__sync_fetch_and_add(&n_change_head, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
