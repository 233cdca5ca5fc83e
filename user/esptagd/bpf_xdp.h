/* SPDX-License-Identifier: GPL-2.0-only */
/* The XDP half of the loader (bpf_xdp.c), private to bpf.c. */
#ifndef ESPTAGD_BPF_XDP_H
#define ESPTAGD_BPF_XDP_H

#include "esptagd.h"

/* Set while libxdp probes the dispatcher, which fails here by design. */
extern bool bpf_quiet_libbpf;
/* libxdp's bpffs state directory, when this daemon made it appear. */
extern char xdp_state_dir[256];

void xdp_state_path(char *buf, size_t len);
struct bpf_object;
/* Before the object is loaded: prog's XDP_RUN_CONFIG priority = prio. */
int xdp_run_prio_set(struct bpf_object *obj, const char *prog, unsigned int prio);
/* Attach fd (esptag_rx or esptag_rx_frags) on d->ifindex; never replaces a
 * program that is not esptag's (ESPTAG_EXIT_FAIL with a message). */
int xdp_attach(struct daemon *d, int fd, const struct bpf_opts *o);
void xdp_detach(struct daemon *d);
/* --teardown: detach an esptag_rx left attached (alone or in a dispatcher). */
void xdp_detach_leftover(struct daemon *d);

#endif
