// SPDX-License-Identifier: GPL-2.0-only
/*
 * tso_inject IFNAME SA_INDEX SEQ ESP_OFF NEXT_HDR MSS < frame
 *
 * Test helper: attaches tso_tag (TC egress) to IFNAME, sends the plain
 * Ethernet/IP/TCP frame read from stdin as one GSO super-packet
 * (PACKET_VNET_HDR, gso_type TCPV4/TCPV6, partial checksum), and detaches.
 * The frame's TCP checksum field must hold the pseudo-header sum, as the
 * stack leaves it for CHECKSUM_PARTIAL. Run it in the host namespace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>
#include "tso_tag.skel.h"

static uint8_t frame[70000];

int main(int argc, char **argv)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	struct virtio_net_hdr vh = {0};
	struct sockaddr_ll sll = {0};
	struct tso_tag_bpf *skel;
	struct iovec iov[2];
	struct msghdr msg = {0};
	size_t len, l3 = 14, tcp;
	int fd, one = 1, rc = 1, ifindex;
	bool v6;

	if (argc != 7) {
		fprintf(stderr,
			"usage: tso_inject IFNAME SA_INDEX SEQ ESP_OFF NEXT_HDR MSS < frame\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	len = fread(frame, 1, sizeof(frame), stdin);
	if (!ifindex || len < 54) {
		fprintf(stderr, "tso_inject: bad interface or frame\n");
		return 2;
	}
	v6 = frame[12] == 0x86 && frame[13] == 0xdd;
	tcp = l3 + (v6 ? 40 : (frame[l3] & 15) * 4);

	skel = tso_tag_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->sa_index = strtoul(argv[2], NULL, 0);
	skel->rodata->seq_lo = strtoul(argv[3], NULL, 0);
	skel->rodata->esp_off = strtoul(argv[4], NULL, 0);
	skel->rodata->next_hdr = strtoul(argv[5], NULL, 0);
	skel->rodata->mss_override = strtoul(argv[6], NULL, 0);
	if (tso_tag_bpf__load(skel)) {
		fprintf(stderr, "tso_inject: load failed\n");
		goto out;
	}
	hook.ifindex = ifindex;
	bpf_tc_hook_create(&hook); /* EEXIST is fine */
	opts.prog_fd = bpf_program__fd(skel->progs.tso_tag);
	if (bpf_tc_attach(&hook, &opts)) {
		fprintf(stderr, "tso_inject: tc attach failed\n");
		goto out_hook;
	}

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one))) {
		perror("tso_inject: socket");
		goto out_detach;
	}
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_protocol = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = strtoul(argv[6], NULL, 0);
	vh.hdr_len = tcp + (frame[tcp + 12] >> 4) * 4;
	vh.csum_start = tcp;
	vh.csum_offset = 16;
	iov[0].iov_base = &vh;
	iov[0].iov_len = sizeof(vh);
	iov[1].iov_base = frame;
	iov[1].iov_len = len;
	msg.msg_name = &sll;
	msg.msg_namelen = sizeof(sll);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (sendmsg(fd, &msg, 0) != (ssize_t)(sizeof(vh) + len)) {
		perror("tso_inject: sendmsg");
	} else {
		rc = 0;
	}
	close(fd);
out_detach:
	opts.flags = opts.prog_fd = opts.prog_id = 0;
	bpf_tc_detach(&hook, &opts);
out_hook:
	hook.attach_point = BPF_TC_EGRESS | BPF_TC_INGRESS;
	bpf_tc_hook_destroy(&hook);
out:
	tso_tag_bpf__destroy(skel);
	return rc;
}
