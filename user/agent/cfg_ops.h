/* SPDX-License-Identifier: GPL-2.0-only */
/* Config requests of esptag-agent: the frame and reply cache (ctl.c) and
 * the opcodes (cfg_ops.c). */
#ifndef ESPTAG_AGENT_CFG_OPS_H
#define ESPTAG_AGENT_CFG_OPS_H

#include "agent.h"
#include "esptag_proto.h"

/* The reply under construction. */
struct agent_reply {
	struct esptag_cfg_builder b;
	uint8_t status;
	uint16_t err_index;
	uint8_t flags;
};

/* The agent's CAPS record as seen by port. */
void agent_caps_fill(struct agent *a, struct esptag_rec_caps *c, uint16_t port);
/* Fail the request with status (idx: the offending record). */
void agent_reply_err(struct agent_reply *r, uint8_t status, uint16_t idx);
/* Execute the decoded request v (recs_rw: its records, writable: ADD_SA
 * wipes the key bytes once it has taken them). */
void agent_cfg_exec(struct agent *a, const struct esptag_cfg_view *v, uint8_t *recs_rw,
		    struct agent_reply *r);

#endif
