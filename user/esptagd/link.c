// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent link: one state machine fed by the periodic HELLO.
 *
 *   UNKNOWN --answer--> SYNCING --SAs reconciled--> UP
 *   UP --missed round--> MISSING --answer--> UP
 *   MISSING --down_after rounds missed--> DOWN --answer--> SYNCING or UP
 *   UNKNOWN/SYNCING --no answer--> DOWN
 *
 * link_tick() sends one HELLO and makes one transition (link_step());
 * what happened is published to the subscribers (link_subscribe), in the
 * order they subscribed: the SA layer (reconcile, re-install, sweep), the
 * monitor, the PF (VF resync, LOCAL records). The link owns the AGENT_UP
 * flag of the data path: set while UP, cleared on DOWN.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "esptagd.h"

static const char *const state_names[] = {
	[LINK_UNKNOWN] = "unknown", [LINK_SYNCING] = "syncing", [LINK_UP] = "up",
	[LINK_MISSING] = "missing", [LINK_DOWN] = "down",
};

static const char *link_state_str(enum link_state s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

int link_subscribe(struct daemon *d, link_fn fn)
{
	if (d->link.nsubs == LINK_MAX_SUBS)
		return -1;
	d->link.subs[d->link.nsubs++] = fn;
	return 0;
}

static void publish(struct daemon *d, enum link_event ev, uint64_t old_epoch)
{
	for (int i = 0; i < d->link.nsubs; i++)
		d->link.subs[i](d, ev, old_epoch);
}

static void caps_parse(struct caps *c, const void *data)
{
	memcpy(&c->r, data, sizeof(c->r));
	c->epoch = get64(c->r.epoch_hi, c->r.epoch_lo);
	c->capacity = ntohl(c->r.sad_capacity);
	c->used = ntohl(c->r.sad_used);
	c->port_limit = ntohl(c->r.port_limit);
	c->port_used = ntohl(c->r.port_used);
	c->alg_mask = ntohs(c->r.alg_mask);
	c->features = ntohs(c->r.features);
	c->max_records = ntohs(c->r.max_records);
	c->max_payload = ntohs(c->r.max_payload);
	c->local_capacity = ntohs(c->r.local_capacity);
	c->version = c->r.version_max;
	c->valid = true;
}

/* One HELLO of our port: 0 (d->caps updated), -1 no answer, -2 refused. */
static int agent_hello(struct daemon *d, int tries)
{
	struct esptag_cfg_builder b;
	struct esptag_rec_caps caps = {};
	struct esptag_rec_view rv;
	struct txn *t = calloc(1, sizeof(*t));
	size_t off = 0;
	int rc = -1;

	if (!t)
		return -1;
	esptag_rec_init(&caps, ESPTAG_REC_CAPS, sizeof(caps));
	caps.version_min = ESPTAG_PROTO_VERSION;
	caps.version_max = ESPTAG_PROTO_VERSION;
	chan_begin(&d->chan, t, &b, ESPTAG_OP_HELLO, d->chan.port);
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &caps, sizeof(caps));
	chan_finish(&d->chan, t, &b);
	chan_run(&d->chan, t, 1, tries);
	if (t->state != TXN_DONE)
		goto out;
	rc = -2;
	if (t->v.status != ESPTAG_ST_OK) {
		log_err("agent: HELLO answered %s", esptag_status_str(t->v.status));
		goto out;
	}
	while (esptag_cfg_next(&t->v, &off, &rv) == 1) {
		if (rv.type != ESPTAG_REC_CAPS)
			continue;
		caps_parse(&d->caps, rv.data);
		bpf_sad_slots_check(d, d->caps.capacity);
		rc = 0;
	}
out:
	free(t);
	return rc;
}

/* GSO super-packets only to an agent that segments them (before the port goes up). */
static void tso_update(struct daemon *d, bool had, bool had_tso)
{
	bool tso = d->caps.features & ESPTAG_FEAT_TSO;

	if (!cfg_set_flag(d, ESPTAG_CFGF_NO_TSO, !tso) && !tso && (!had || had_tso))
		log_warn("the agent on %s does not segment GSO super-packets (no TSO feature): protected ones are dropped (tx_drop_no_tso); turn segmentation offload off: ethtool -K %s tso off gso off",
			 d->dev, d->dev);
}

/* The HELLO was answered. */
static void step_answer(struct daemon *d, uint64_t old_epoch, bool had)
{
	bool came_up = !link_reachable(d), was_reconciled = d->reconciled;

	d->hello_ok++;
	d->hello_streak = 0;
	if (came_up)
		log_notice("agent reachable on %s (epoch %016llx, SAD %u/%u)", d->dev,
			   (unsigned long long)d->caps.epoch, d->caps.used, d->caps.capacity);
	d->link.state = was_reconciled ? LINK_UP : LINK_SYNCING;
	if (!was_reconciled)
		publish(d, LINK_EV_SYNC, old_epoch);	/* the SA layer reconciles */
	d->link.state = d->reconciled ? LINK_UP : LINK_SYNCING;
	if ((came_up && was_reconciled) || (!was_reconciled && d->reconciled))
		publish(d, LINK_EV_UP, old_epoch);
	if (was_reconciled && had && d->caps.epoch != old_epoch)
		publish(d, LINK_EV_RESTARTED, old_epoch);
	publish(d, LINK_EV_ALIVE, old_epoch);
	if (d->reconciled && !cfg_agent_up(d)) {
		cfg_set_agent_up(d, true);
		log_info("data path: agent up, protect traffic flows");
	}
}

/* The HELLO went unanswered (or was refused). */
static void step_silence(struct daemon *d)
{
	bool reachable = link_reachable(d);

	d->hello_fail++;
	/* A busy agent may miss one round; a silent one is down after down_after. */
	if (reachable && ++d->hello_streak < d->down_after) {
		d->link.state = LINK_MISSING;
		log_info("agent on %s missed a HELLO round (%u of %u before the port goes down)",
			 d->dev, d->hello_streak, d->down_after);
		return;
	}
	if (reachable || cfg_agent_up(d) || !d->hello_ok) {
		if (reachable || d->hello_fail == 1)
			log_warn("agent on %s does not answer HELLO: port marked down, protect traffic is dropped",
				 d->dev);
		d->link.state = LINK_DOWN;
		if (reachable)
			publish(d, LINK_EV_DOWN, d->caps.epoch);
		cfg_set_agent_up(d, false);
	}
}

/* The transition function: the HELLO's outcome moves the link. */
static void link_step(struct daemon *d, int hello_rc, uint64_t old_epoch, bool had, bool had_tso)
{
	enum link_state from = d->link.state;

	if (hello_rc == 0) {
		tso_update(d, had, had_tso);
		step_answer(d, old_epoch, had);
	} else {
		step_silence(d);
	}
	if (d->link.state != from)
		log_debug("agent link: %s -> %s", link_state_str(from), link_state_str(d->link.state));
}

void link_tick(struct daemon *d)
{
	uint64_t old_epoch = d->caps.epoch;
	bool had = d->caps.valid;
	bool had_tso = d->caps.features & ESPTAG_FEAT_TSO;
	int rc = agent_hello(d, d->hello_tries);

	link_step(d, rc, old_epoch, had, had_tso);
}
