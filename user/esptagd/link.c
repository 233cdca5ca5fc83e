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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include "esptagd.h"
#include "wrap.h"

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

static void caps_parse(struct caps *c, const void *data, uint16_t len)
{
	memcpy(&c->r, data, sizeof(c->r));
	c->has_key = len == sizeof(struct esptag_rec_caps2);
	if (c->has_key)
		memcpy(c->agent_key, (const uint8_t *)data + sizeof(c->r), sizeof(c->agent_key));
	else
		memset(c->agent_key, 0, sizeof(c->agent_key));
	c->version_min = c->r.version_min;
	c->version_max = c->r.version_max;
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

/* Why the agent that answered cannot be used (d->agent_refused), logged
 * when it changes; "" clears it. */
__attribute__((format(printf, 2, 3)))
static void refuse(struct daemon *d, const char *fmt, ...)
{
	char why[sizeof(d->agent_refused)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (strcmp(why, d->agent_refused) && why[0])
		log_err("agent on %s: %s", d->dev, why);
	snprintf(d->agent_refused, sizeof(d->agent_refused), "%s", why);
}

/*
 * The version both speak (docs/protocol.md 1.9) and, for version 2, the
 * agent's key checked against --agent-key. 0: d->chan.version set; -1:
 * the agent is not used (d->agent_refused says why).
 */
static int negotiate(struct daemon *d, struct caps *c)
{
	uint8_t hmin = d->allow_v1 ? ESPTAG_PROTO_VERSION : ESPTAG_PROTO_V2;
	uint8_t v = c->version_max < ESPTAG_PROTO_VERSION_MAX ? c->version_max : ESPTAG_PROTO_VERSION_MAX;
	uint8_t fpr[ESPTAG_FPR_LEN];
	char got[ESPTAG_FPR_STRLEN], want[ESPTAG_FPR_STRLEN];

	if (v < hmin || v < c->version_min) {
		if (c->version_max < ESPTAG_PROTO_V2)
			refuse(d, "the agent speaks only config protocol version 1 (SA keys in clear on the host port); not used (esptagd --allow-v1 accepts it)");
		else
			refuse(d, "no config protocol version in common (agent %u..%u, esptagd %u..%u); not used",
			       c->version_min, c->version_max, hmin, ESPTAG_PROTO_VERSION_MAX);
		return -1;
	}
	if (v >= ESPTAG_PROTO_V2) {
		if (!c->has_key || esptag_key_fingerprint(c->agent_key, fpr)) {
			refuse(d, "the agent announced version 2 without its key; not used");
			return -1;
		}
		esptag_fpr_str(fpr, got);
		if (d->have_fpr && CRYPTO_memcmp(fpr, d->agent_fpr, sizeof(fpr))) {
			esptag_fpr_str(d->agent_fpr, want);
			refuse(d, "agent key %s is not the configured agent key %s (--agent-key): refused, no SA key is sent to it%s",
			       got, want, d->vf_mode ? " (the PF relaying this VF's requests may have substituted its own key)" : "");
			return -1;
		}
		if (!d->have_fpr && d->vf_mode) {
			refuse(d, "VF mode trusts only the agent key it was given: set --agent-key (agent-key in the configuration file) to the fingerprint esptag-agent --show-key prints on the agent; this agent's key is %s",
			       got);
			return -1;
		}
		if (d->agent_refused[0] || !d->caps.valid || d->chan.version != v ||
		    memcmp(d->caps.agent_key, c->agent_key, sizeof(c->agent_key)))
			log_info("agent on %s: config protocol version %u, agent key %s%s", d->dev, v, got,
				 d->have_fpr ? " (as configured)" : "");
	} else if (d->chan.version != v || d->agent_refused[0]) {
		log_warn("agent on %s: config protocol version 1: SA keys travel in clear on the host port (--allow-v1)",
			 d->dev);
	}
	refuse(d, "%s", "");
	c->version = v;
	d->chan.version = v;
	return 0;
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
	caps.version_min = d->allow_v1 ? ESPTAG_PROTO_VERSION : ESPTAG_PROTO_V2;
	caps.version_max = ESPTAG_PROTO_VERSION_MAX;
	chan_begin(&d->chan, t, &b, ESPTAG_OP_HELLO, d->chan.port);
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &caps, sizeof(caps));
	chan_finish(&d->chan, t, &b);
	chan_run(&d->chan, t, 1, tries);
	if (t->state != TXN_DONE) {
		d->agent_refused[0] = 0;	/* silent now: "not reachable" says it */
		goto out;
	}
	rc = -2;
	if (t->v.status != ESPTAG_ST_OK) {
		log_err("agent: HELLO answered %s", esptag_status_str(t->v.status));
		goto out;
	}
	while (esptag_cfg_next(&t->v, &off, &rv) == 1) {
		struct caps c = d->caps;

		if (rv.type != ESPTAG_REC_CAPS)
			continue;
		caps_parse(&c, rv.data, rv.len);
		/* A refused agent leaves d->caps as they were: nothing is sent. */
		if (negotiate(d, &c)) {
			rc = -2;
			break;
		}
		d->caps = c;
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
		if ((reachable || d->hello_fail == 1) && d->agent_refused[0])
			log_warn("agent on %s not used: port marked down, protect traffic is dropped",
				 d->dev);
		else if (reachable || d->hello_fail == 1)
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
