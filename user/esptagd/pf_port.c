// SPDX-License-Identifier: GPL-2.0-only
/*
 * PF mode: esptag_port on the VFs' switch ports (load, attach, detach) and
 * the netlink watch that tells a VF's port vanished (a destroyed VM).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "esptagd.h"
#include "ctl_mbox.h"
#include "esptag_port_bpf.skel.h"

#include "pf.h"

/* ---- esptag_port attach ------------------------------------------------------ */

int port_attach(int ifindex, int fd, enum bpf_tc_attach_point where, const char *name)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PORT_TC_HANDLE, .priority = PORT_TC_PRIO,
			    .prog_fd = fd, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST) {
		log_err("pf: cannot create clsact on %s: %s", name, strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		log_err("pf: cannot attach esptag_port (%s) on %s: %s",
			where == BPF_TC_EGRESS ? "egress" : "ingress", name, strerror(-err));
	return err;
}

void port_detach(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PORT_TC_HANDLE, .priority = PORT_TC_PRIO);

	bpf_tc_detach(&hook, &opts);
}

/* Load esptag_port with the daemon's own maps (the pinned ones). */
int port_load(struct pf *p, const char *pin_dir)
{
	struct bpf_map *m;
	char path[512];
	int err;

	/* pin_root_path: the maps are the daemon's pinned ones, never the
	 * libbpf default /sys/fs/bpf/<name>. */
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);

	p->skel = esptag_port_bpf__open_opts(&oo);
	if (!p->skel) {
		log_err("pf: cannot open esptag_port: %s", strerror(errno));
		return -1;
	}
	bpf_object__for_each_map(m, p->skel->obj) {
		int fd;

		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;	/* a map only esptag_port uses: its own */
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err) {
			log_err("pf: cannot reuse map %s: %s", bpf_map__name(m), strerror(-err));
			return -1;
		}
	}
	err = esptag_port_bpf__load(p->skel);
	if (err) {
		log_err("pf: cannot load esptag_port: %s", strerror(-err));
		return -1;
	}
	return 0;
}

/* ---- netlink: a VF port vanishing is a destroyed VM -------------------------------- */

int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	int rcv = 1 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

