/* SPDX-License-Identifier: GPL-2.0-only */
/* The policy database's internals shared by spd.c and spd_ctl.c. */
#ifndef ESPTAGD_SPD_H
#define ESPTAGD_SPD_H

#include "esptagd.h"

void node_key(const struct node *n, struct esptag_spd_key *k);
int node_write(struct daemon *d, const struct node *n);
void set_parent(struct daemon *d, struct node *n, const struct node *skip);
void reparent(struct daemon *d, const struct node *skip);
bool too_deep(struct daemon *d, const struct node *n);
struct node *node_find(struct daemon *d, uint8_t dir, uint8_t family, uint8_t plen,
		       const uint8_t *addr);
struct node *node_alloc(struct daemon *d);
void src_key(const struct pol *p, const struct node *n, struct esptag_spd_src_key *k);
int pol_write(struct daemon *d, const struct pol *p);
int pol_unwrite(struct daemon *d, const struct pol *p);
bool pol_is_host(const struct esptag_ctl_policy *c);
void host_key(const struct esptag_ctl_policy *c, struct esptag_spd_host_key *k);
void host_flag_sync(struct daemon *d);
bool pol_is_out_protect(const struct esptag_ctl_policy *c);
size_t tmpl_candidates(struct daemon *d, const struct esptag_ctl_policy *c,
		       const struct sa **two);
uint32_t resolve_sa(struct daemon *d, struct pol *p);
void acq_rearm(struct daemon *d, uint32_t id);
void pol_maps_add(struct daemon *d, const struct pol *p);
void pol_maps_del(struct daemon *d, uint32_t id);
bool pol_has_in_tmpl(const struct esptag_ctl_policy *c);
int tmpl_write(struct daemon *d, const struct esptag_ctl_policy *c);
void in_tmpl_sync(struct daemon *d);

#endif
