/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptagd control socket protocol (esptag CLI <-> esptagd).
 *
 * A Unix stream socket (mode 0600). One request per connection: the client
 * writes a message, the daemon answers with one message and closes, except
 * for CTL_OP_MONITOR, after which the daemon keeps writing CTL_OP_EVENT
 * messages until the client goes away.
 *
 * A message is a fixed 24-byte header followed by `len` payload bytes, all
 * in host byte order (the socket never leaves the machine). The payload of
 * a request or of a successful reply is `count` fixed-size items whose type
 * is given by the opcode and the direction (tables in ctl.c); the payload of
 * an error reply (status != 0) is a human-readable message (printable ASCII,
 * at most ESPTAG_CTL_MSG_MAX bytes, no NUL) and count 0.
 *
 * Key material travels only in CTL_OP_STATE_ADD requests; every reply
 * carries key bytes as zero and esptag_ctl_decode() rejects a reply whose
 * key bytes are not all zero.
 */
#ifndef ESPTAG_CTL_H
#define ESPTAG_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <esptag/wire.h>

#define ESPTAG_CTL_MAGIC	0x4c435445u	/* "ETCL" as little-endian bytes */
#define ESPTAG_CTL_VERSION	1
#define ESPTAG_CTL_MAX_ITEMS	(65536 + 1024)	/* items per message: a full SAD + stats */
#define ESPTAG_CTL_MAX_LEN	(ESPTAG_CTL_MAX_ITEMS * 208u)	/* payload bytes */
#define ESPTAG_CTL_MSG_MAX	1024		/* error message bytes */
#define ESPTAG_CTL_DEV_LEN	16		/* IFNAMSIZ */
#define ESPTAG_CTL_SOCK_DIR	"/run/esptag"
#define ESPTAG_CTL_VERSION_LEN	32		/* esptag_ctl_agent.daemon_version */

enum esptag_ctl_op {
	ESPTAG_CTL_STATE_ADD = 1,	/* req: n ctl_sa (with key); rep: n ctl_sa (index, no key) */
	ESPTAG_CTL_STATE_DEL,		/* req: n ctl_sa_id; rep: none */
	ESPTAG_CTL_STATE_LIST,		/* req: none; rep: n ctl_sa */
	ESPTAG_CTL_STATE_FLUSH,		/* req: none; rep: none */
	ESPTAG_CTL_POLICY_ADD,		/* req: 1 ctl_policy; rep: 1 ctl_policy (id) */
	ESPTAG_CTL_POLICY_DEL,		/* req: 1 ctl_policy (selector); rep: none */
	ESPTAG_CTL_POLICY_LIST,		/* req: none; rep: n ctl_policy */
	ESPTAG_CTL_POLICY_FLUSH,	/* req: none; rep: none */
	ESPTAG_CTL_AGENT_STATUS,	/* req: none; rep: 1 ctl_agent */
	ESPTAG_CTL_AGENT_SA,		/* req: none; rep: n ctl_sa (the agent's DUMP_SA) */
	ESPTAG_CTL_STATS,		/* req: none; rep: n ctl_stat */
	ESPTAG_CTL_MONITOR,		/* req: none; rep: none, then events */
	ESPTAG_CTL_EVENT,		/* daemon -> monitor only: 1 ctl_event */
	/* PF mode (esptagd --pf): the VFs behind this port */
	ESPTAG_CTL_VF_ADD,		/* req: 1 ctl_vf; rep: 1 ctl_vf */
	ESPTAG_CTL_VF_DEL,		/* req: 1 ctl_vf (vf); rep: none */
	ESPTAG_CTL_VF_LIST,		/* req: none; rep: n ctl_vf */
	ESPTAG_CTL_VF_TRUST,		/* req: 1 ctl_vf (vf, flags TRUSTED or not); rep: none */
	ESPTAG_CTL_VF_RESET,		/* req: 1 ctl_vf (vf); rep: 1 ctl_vf (sa_count = removed) */
	ESPTAG_CTL_POLICY_UPDATE,	/* req: 1 ctl_policy; rep: 1 ctl_policy (id) */
	/* What an IKE daemon needs (the kernel-esptag charon plugin, ip-xfrm words) */
	ESPTAG_CTL_STATE_ALLOCSPI,	/* req: 1 ctl_spi; rep: 1 ctl_spi (spi reserved) */
	ESPTAG_CTL_STATE_UPDATE,	/* req: 1 ctl_sa (no key: id + new limits); rep: 1 ctl_sa */
	ESPTAG_CTL_STATE_GET,		/* req: 1 ctl_sa_id (dir set); rep: 1 ctl_sa (cur_*) */
	ESPTAG_CTL_POLICY_GET,		/* req: 1 ctl_policy (selector); rep: 1 ctl_policy (use_time) */
	ESPTAG_CTL_BYPASS_SOCKET,	/* req: 1 ctl_bypass; rep: none */
	ESPTAG_CTL_OP_MAX = ESPTAG_CTL_BYPASS_SOCKET,
};

/* esptag_ctl_hdr.flags */
#define ESPTAG_CTL_F_REPLY	0x01

/* Reply status (0 = OK). Also the basis of the CLI exit codes. */
enum esptag_ctl_status {
	ESPTAG_CTL_OK = 0,
	ESPTAG_CTL_E_INVAL,	/* request malformed or a value out of range */
	ESPTAG_CTL_E_DEV,	/* dev is not the daemon's device */
	ESPTAG_CTL_E_EXIST,	/* already there (daemon state) */
	ESPTAG_CTL_E_NOENT,	/* no such SA / policy */
	ESPTAG_CTL_E_AGENT,	/* the agent refused (message has its status) */
	ESPTAG_CTL_E_TIMEOUT,	/* the agent did not answer */
	ESPTAG_CTL_E_NOSPC,	/* daemon table or map full */
	ESPTAG_CTL_E_BPF,	/* a map operation failed */
	ESPTAG_CTL_E_PERM,	/* caller not allowed */
	ESPTAG_CTL_E_INTERNAL,
	ESPTAG_CTL_E_MAX = ESPTAG_CTL_E_INTERNAL,
};

struct esptag_ctl_hdr {
	uint32_t magic;		/* ESPTAG_CTL_MAGIC */
	uint8_t version;	/* ESPTAG_CTL_VERSION */
	uint8_t op;		/* enum esptag_ctl_op */
	uint8_t flags;		/* ESPTAG_CTL_F_* */
	uint8_t agent_status;	/* E_AGENT: enum esptag_status of the agent; else 0 */
	uint32_t len;		/* payload bytes after the header */
	uint32_t count;		/* items in the payload */
	int32_t status;		/* reply: enum esptag_ctl_status; request: 0 */
	uint32_t err_index;	/* reply: item that failed, else 0xffffffff */
};
_Static_assert(sizeof(struct esptag_ctl_hdr) == 24, "ctl hdr");

/* esptag_ctl_sa.state (replies) */
#define ESPTAG_CTL_SAS_ALIVE	0x01	/* confirmed by the agent, in the maps */
#define ESPTAG_CTL_SAS_NOKEY	0x02	/* adopted after a daemon restart: key unknown */
#define ESPTAG_CTL_SAS_KNOWN	0x03

/*
 * An SA. Requests: key/salt set, sa_index 0xffffffff, state 0, seq 0, cur_*
 * 0. Lifetimes as `ip xfrm state ... limit`: 0 = no limit. Hard byte and
 * packet limits are enforced exactly by the data path (a packet that would
 * pass a hard limit is dropped, never sent in clear); soft limits and time
 * limits raise ESPTAG_EV_SA_SOFT_EXPIRED / ESPTAG_EV_SA_EXPIRED events.
 * Bytes count the IP packets before ESP (as XFRM's curlft.bytes).
 * STATE_UPDATE: dev, dir, family, spi, daddr name the SA; the limits and
 * replay_window are the new values; key bytes zero.
 *
 * As esptagd implements it: a STATE_UPDATE replaces every limit and the
 * window (send back what STATE_GET returned, changed where wanted; the CLI
 * does so); dev may be empty (the daemon's own); a new time limit counts
 * from the SA's add. STATE_GET and the replies of STATE_ADD / STATE_UPDATE
 * carry the SA as installed; cur_* and use_time come from the data path's
 * exact per-SA counters (life in the esptag_sad value). A key and salt that this esptagd
 * installed before are refused by STATE_ADD (E_EXIST), for any SA.
 */
struct esptag_ctl_sa {
	char dev[ESPTAG_CTL_DEV_LEN];	/* NUL-terminated */
	uint8_t dir;			/* enum esptag_dir */
	uint8_t family;			/* 4 or 6 */
	uint8_t mode;			/* enum esptag_mode */
	uint8_t alg;			/* enum esptag_alg */
	uint8_t key_len;		/* 16 or 32 */
	uint8_t icv_len;		/* 16 */
	uint8_t sa_flags;		/* ESPTAG_SA_F_ESN */
	uint8_t nvlans;			/* 0..2 */
	uint16_t vid[2];		/* 1..4094, outer first */
	uint32_t spi;			/* host order, >= 256 */
	uint32_t reqid;
	uint32_t replay_window;		/* 0..1024 */
	uint32_t sa_index;		/* agent index (replies) */
	uint32_t state;			/* ESPTAG_CTL_SAS_* (replies) */
	uint32_t lifetime;		/* hard lifetime in seconds, 0 = none */
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint8_t key[ESPTAG_KEY_MAX];
	uint8_t salt[ESPTAG_SALT_LEN];
	uint64_t seq;			/* replies: out: next seq; in: highest seen */
	/* lifetimes (lifetime above is time-hard, seconds after add) */
	uint64_t soft_bytes, hard_bytes;
	uint64_t soft_packets, hard_packets;
	uint32_t soft_time;		/* seconds after add, 0 = none */
	uint32_t reserved1;
	/* replies: current use (XFRM curlft) */
	uint64_t cur_bytes, cur_packets;
	uint64_t add_time;		/* CLOCK_REALTIME seconds */
	uint64_t use_time;		/* CLOCK_REALTIME seconds of the last packet, 0 = none */
	uint64_t reserved2;
};
_Static_assert(sizeof(struct esptag_ctl_sa) == 208, "ctl sa");
#define ESPTAG_CTL_SA_V1_SIZE	128	/* without lifetimes and use */

/* An SA selector for state del. dir 0 = both directions. */
struct esptag_ctl_sa_id {
	char dev[ESPTAG_CTL_DEV_LEN];
	uint8_t dir;
	uint8_t family;
	uint8_t proto;			/* 50 */
	uint8_t reserved;
	uint32_t spi;
	uint8_t daddr[16];
};
_Static_assert(sizeof(struct esptag_ctl_sa_id) == 40, "ctl sa id");

/*
 * An SPI reservation (STATE_ALLOCSPI, `ip xfrm state allocspi`): esptagd
 * picks an SPI in [min, max] (0, 0 = 0xc0000000..0xcfffffff) that no inbound
 * SA or reservation of dev holds for (daddr, proto) and keeps it reserved
 * until an inbound STATE_ADD takes it, a STATE_DEL names it, or 180 s pass
 * (esptagd --spi-reserve-time). While reserved, a STATE_ADD of that SPI
 * toward daddr is refused (E_EXIST) unless it is inbound and, where the
 * reservation set them, has its reqid and its saddr (the peer).
 */
struct esptag_ctl_spi {
	char dev[ESPTAG_CTL_DEV_LEN];
	uint8_t family;			/* 4 or 6 */
	uint8_t proto;			/* 50 */
	uint8_t reserved[2];
	uint32_t spi;			/* reply: the reserved SPI; request 0 */
	uint32_t min, max;
	uint32_t reqid;
	uint32_t reserved2;
	uint8_t saddr[16];
	uint8_t daddr[16];		/* this host: the inbound SA's destination */
};
_Static_assert(sizeof(struct esptag_ctl_spi) == 72, "ctl spi");

/*
 * A socket whose packets pass in clear both ways whatever the policies say
 * (`bypass_socket` of an IKE daemon): named by its socket cookie
 * (SO_COOKIE), which the kernel never reuses. Outbound the data path matches
 * the packet's socket; inbound the socket the packet is delivered to.
 */
struct esptag_ctl_bypass {
	uint64_t cookie;
	uint8_t family;			/* 4 or 6 */
	uint8_t proto;			/* 17 (UDP) */
	uint16_t port;			/* local port, host order (informative) */
	uint32_t reserved;
};
_Static_assert(sizeof(struct esptag_ctl_bypass) == 16, "ctl bypass");

/* esptag_ctl_policy.tmpl_flags: which fields of the template name the SA */
#define ESPTAG_CTL_TMPL_SRC	0x01	/* tmpl_src: the SA's source address */
#define ESPTAG_CTL_TMPL_DST	0x02	/* tmpl_dst: the SA's destination (the peer) */
#define ESPTAG_CTL_TMPL_REQID	0x04	/* reqid: the SA's reqid */
#define ESPTAG_CTL_TMPL_FLAGS	0x07

/*
 * A policy. del: dev, dir, family, src/dst prefixes select it.
 *
 * An outbound protect policy names its SA like the template of
 * `ip xfrm policy ... tmpl src S dst D proto esp spi X reqid N mode M`: by
 * SPI and/or reqid, narrowed by the SA's addresses (tmpl_family, tmpl_src,
 * tmpl_dst, as flagged in tmpl_flags) and mode. The outbound SAs matching
 * every given field must be exactly one once SAs exist (the daemon refuses
 * an ambiguous policy); the policy then stays bound to that SA.
 *
 * A policy named by reqid without an SPI follows its reqid, as XFRM's
 * templates do: it uses the newest outbound SA with that reqid (and the
 * template's addresses), moves to a newer one the moment it is added
 * (make-before-break: the IKE daemon removes the old SA only afterwards)
 * and back to the remaining one if the newest goes first. With no such SA
 * it is a trap policy: matching packets are dropped and raise
 * ESPTAG_EV_ACQUIRE (at most one per policy in flight), never sent in clear.
 *
 * An inbound protect policy may carry a template too (reqid, mode,
 * tmpl_src = the peer, tmpl_dst = this host): decrypted traffic it covers
 * must come through an SA that fits it, as XFRM checks (dropped otherwise).
 * dir has no fwd: inbound policies cover forwarded traffic too.
 */
struct esptag_ctl_policy {
	char dev[ESPTAG_CTL_DEV_LEN];
	uint8_t dir;			/* enum esptag_dir */
	uint8_t family;
	uint8_t action;			/* enum esptag_action */
	uint8_t src_plen;
	uint8_t dst_plen;
	uint8_t tmpl_family;		/* 4 or 6 with TMPL_SRC/TMPL_DST, else 0 */
	uint8_t tmpl_flags;		/* ESPTAG_CTL_TMPL_* */
	uint8_t tmpl_mode;		/* enum esptag_mode, 0 = any */
	uint32_t spi;			/* protect: SPI (out: this or reqid required) */
	uint32_t sa_index;		/* replies: resolved SA, 0xffffffff if none */
	uint32_t id;			/* replies: policy id */
	uint32_t reqid;			/* with TMPL_REQID */
	uint8_t src[16];
	uint8_t dst[16];
	uint8_t tmpl_src[16];		/* with TMPL_SRC */
	uint8_t tmpl_dst[16];		/* with TMPL_DST */
	uint64_t use_time;		/* replies: CLOCK_REALTIME s of the last packet, 0 = none */
};
_Static_assert(sizeof(struct esptag_ctl_policy) == 112, "ctl policy");

/* esptag_ctl_agent.xdp_mode */
enum esptag_ctl_xdp_mode {
	ESPTAG_XDP_NONE = 0,		/* --no-attach */
	ESPTAG_XDP_DISPATCHER,		/* libxdp multi-program dispatcher */
	ESPTAG_XDP_SINGLE,		/* single program (no freplace support) */
	ESPTAG_XDP_ADOPTED,		/* attached by someone else (--adopt) */
};

struct esptag_ctl_agent {
	char dev[ESPTAG_CTL_DEV_LEN];
	uint8_t reachable;		/* last HELLO answered */
	uint8_t version;		/* agent's highest protocol version */
	uint8_t port_up;		/* ESPTAG_CFGF_AGENT_UP set in esptag_cfg */
	uint8_t xdp_mode;		/* enum esptag_ctl_xdp_mode */
	uint32_t ifindex;
	uint16_t port;			/* agent port (SAD domain owner) */
	uint16_t alg_mask;
	uint16_t features;
	uint16_t max_records;
	uint16_t max_payload;
	uint16_t local_capacity;
	uint32_t reserved0;
	uint64_t epoch;
	uint32_t sad_capacity;
	uint32_t sad_used;
	uint32_t port_limit;
	uint32_t port_used;
	uint32_t daemon_sas;		/* SAs in the daemon's database */
	uint32_t nokey_sas;		/* of which adopted without key */
	uint32_t hello_ok;
	uint32_t hello_fail;
	uint32_t last_reply_ms;		/* ms since the agent last answered, ~0 = never */
	uint32_t reinstalls;		/* agent restarts handled */
	uint8_t mac[6];			/* host port MAC */
	uint8_t agent_mac[6];
	uint32_t reserved;
	/* The daemon's esptag version, "RELEASE (git COMMIT)", NUL-padded.
	 * A reply of the first 104 bytes only (an esptagd before this field)
	 * is still accepted and decodes with the field empty. */
	char daemon_version[ESPTAG_CTL_VERSION_LEN];
};
_Static_assert(sizeof(struct esptag_ctl_agent) == 136, "ctl agent");
#define ESPTAG_CTL_AGENT_V1_SIZE	104	/* without daemon_version */

/* esptag_ctl_vf.flags */
#define ESPTAG_CTL_VF_TRUSTED	0x01	/* may hold SAs; its tags pass esptag_port */
#define ESPTAG_CTL_VF_CONNECTED	0x02	/* reply: a VF-mode esptagd is on the mailbox */
#define ESPTAG_CTL_VF_LOCAL	0x04	/* reply: address registered with the agent (VEPA) */
#define ESPTAG_CTL_VF_FLAGS	0x07

/* esptag_ctl_vf.mode (replies): how the NIC switch treats VF-to-VF frames */
#define ESPTAG_CTL_SW_VEB	1	/* switched locally: bypasses the agent */
#define ESPTAG_CTL_SW_VEPA	2	/* everything through the agent (hairpin) */

/* A VF behind a PF-mode esptagd. add: vf, ifname (its switch port), mac,
 * optional address (family 0 = none), limit (0 = daemon default), flags
 * TRUSTED. del/trust/reset: vf (+ flags for trust). */
struct esptag_ctl_vf {
	char ifname[ESPTAG_CTL_DEV_LEN];	/* switch-side port, NUL-terminated */
	uint16_t vf;				/* VF number, 0..ESPTAG_CTL_VF_MAX */
	uint16_t port;				/* replies: agent port = vf + 1 */
	uint32_t flags;				/* ESPTAG_CTL_VF_* */
	uint8_t mac[6];
	uint8_t nvlans;				/* 0..2 */
	uint8_t mode;				/* replies: ESPTAG_CTL_SW_* */
	uint16_t vid[2];
	uint32_t limit;				/* SA limit */
	uint32_t sa_count;			/* replies */
	uint32_t ifindex;			/* replies */
	uint8_t family;				/* 0, 4 or 6 */
	uint8_t reserved[3];
	uint8_t addr[16];
	uint32_t reserved2;
};
_Static_assert(sizeof(struct esptag_ctl_vf) == 72, "ctl vf");
#define ESPTAG_CTL_VF_MAX	254		/* port vf + 1 fits esptag_ports */

enum esptag_ctl_stat_kind {
	ESPTAG_STAT_DP = 1,		/* id = enum esptag_counter, value */
	ESPTAG_STAT_AGENT,		/* id = enum esptag_agent_counter, value */
	ESPTAG_STAT_SA,			/* per SA: data path + agent counters */
};

struct esptag_ctl_stat {
	uint16_t kind;			/* enum esptag_ctl_stat_kind */
	uint16_t id;
	uint32_t sa_index;
	uint32_t spi;
	uint8_t dir;
	uint8_t agent_ok;		/* SA: agent counters present */
	uint8_t reserved[2];
	uint64_t value;			/* DP / AGENT */
	uint64_t packets, bytes, drops;	/* SA: data path (all CPUs) */
	uint64_t agent_packets, agent_bytes;
	uint64_t auth_fail, domain_reject;
	uint64_t agent_seq;		/* Tx: next (IVDB); Rx: highest seen */
};
_Static_assert(sizeof(struct esptag_ctl_stat) == 88, "ctl stat");

enum esptag_ctl_event_type {
	ESPTAG_EV_SA_ADDED = 1,
	ESPTAG_EV_SA_REMOVED,
	ESPTAG_EV_SA_EXPIRED,
	ESPTAG_EV_AGENT_RESTARTED,	/* epoch changed; value = SAs re-installed */
	ESPTAG_EV_AGENT_DOWN,
	ESPTAG_EV_AGENT_UP,
	ESPTAG_EV_DROP,			/* id = counter, value = total, delta */
	ESPTAG_EV_POLICY_ADDED,
	ESPTAG_EV_POLICY_REMOVED,
	ESPTAG_EV_POLICY_UPDATED,	/* action or SA of a policy replaced */
	ESPTAG_EV_SA_SOFT_EXPIRED,	/* id = enum esptag_ctl_limit; the SA stays */
	ESPTAG_EV_ACQUIRE,		/* a protect policy without an SA was hit:
					 * reqid, policy_id, saddr/daddr/id(proto)
					 * of the (dropped) packet */
	ESPTAG_EV_MAX = ESPTAG_EV_ACQUIRE,
};

/* esptag_ctl_event.id of SA_SOFT_EXPIRED and SA_EXPIRED (hard: the SA is
 * removed, SA_REMOVED follows). SA_SOFT_EXPIRED comes at most once per SA
 * (again after a STATE_UPDATE changed a soft limit); its value is the use
 * that reached the limit (bytes, packets, seconds since the add, or the
 * sequence number). */
enum esptag_ctl_limit {
	ESPTAG_LIMIT_NONE = 0,		/* removed for another reason (re-install rule) */
	ESPTAG_LIMIT_TIME,
	ESPTAG_LIMIT_BYTES,
	ESPTAG_LIMIT_PACKETS,
	ESPTAG_LIMIT_SEQ,		/* a 32-bit sequence number space nearly spent */
};

struct esptag_ctl_event {
	uint16_t type;			/* enum esptag_ctl_event_type */
	uint16_t id;			/* DROP: counter */
	uint32_t sa_index;
	uint32_t spi;
	uint8_t dir;
	uint8_t family;
	uint8_t reserved[2];
	uint64_t value;
	uint64_t delta;
	uint64_t time_ms;		/* CLOCK_REALTIME */
	uint8_t daddr[16];
	uint8_t saddr[16];
	uint32_t reqid;
	uint32_t policy_id;
};
_Static_assert(sizeof(struct esptag_ctl_event) == 80, "ctl event");

/* A decoded, validated message. */
struct esptag_ctl_view {
	struct esptag_ctl_hdr hdr;
	const uint8_t *payload;		/* items or the error message */
	size_t item_size;		/* 0 when the payload is a message or empty */
};

/*
 * Validate a complete message (header + payload) of len bytes: magic,
 * version, known op and flags, len matches, items of the right type and
 * count for the op and direction, each item's contents (ctl_sa_check ...),
 * error messages printable. Returns 0, or -1 with a reason in err.
 */
int esptag_ctl_decode(const void *buf, size_t len, struct esptag_ctl_view *v,
		      char *err, size_t errlen);
/* Item size for op in a request (reply=false) or successful reply; 0 = no items. */
size_t esptag_ctl_item_size(int op, bool reply);
/* Copy item i (items are not aligned in a byte buffer). A shorter item (an
 * agent status reply of an older esptagd) leaves the rest of *out as it was. */
void esptag_ctl_item(const struct esptag_ctl_view *v, size_t i, void *out);

/* Per-item checks; is_request: an SA must carry a key (request) or none (reply). */
int esptag_ctl_sa_check(const struct esptag_ctl_sa *sa, bool is_request, char *err, size_t errlen);
int esptag_ctl_sa_id_check(const struct esptag_ctl_sa_id *id, char *err, size_t errlen);
int esptag_ctl_policy_check(const struct esptag_ctl_policy *p, bool is_request, char *err,
			    size_t errlen);
int esptag_ctl_vf_check(const struct esptag_ctl_vf *vf, int op, bool is_request, char *err,
			size_t errlen);

/* Fill a header. */
void esptag_ctl_hdr_init(struct esptag_ctl_hdr *h, int op, bool reply, int status,
			 uint32_t count, uint32_t len);

/* Whole-message I/O on a stream socket: read one message (header, then
 * payload up to ESPTAG_CTL_MAX_LEN) into a malloc'ed buffer (release it
 * with esptag_ctl_free(); a failed read wipes what it got). Returns the
 * length, 0 on EOF before a header, -1 on error (errno set; EPROTO when the
 * header announces an impossible length). */
ssize_t esptag_ctl_read(int fd, uint8_t **buf);
/* Wipe (a request may carry keys) and free a buffer of esptag_ctl_read().
 * NULL is ok. */
void esptag_ctl_free(uint8_t *buf);
/* Write header + payload (MSG_NOSIGNAL). Returns 0 or -1. */
int esptag_ctl_write(int fd, const struct esptag_ctl_hdr *h, const void *payload);

const char *esptag_ctl_op_str(int op);
const char *esptag_ctl_status_str(int status);
const char *esptag_ctl_event_str(int type);
const char *esptag_alg_str(int alg);		/* "rfc4106(gcm(aes))-128" */
const char *esptag_action_str(int action);

/* Default control socket of a device: /run/esptag/<dev>.sock. */
int esptag_ctl_sock_path(char *out, size_t outlen, const char *dev);

/* Address helpers: family 4/6, 16-byte buffers, IPv4 in the first 4 bytes. */
int esptag_addr_parse(const char *s, uint8_t *family, uint8_t addr[16]);
/* "ADDR[/LEN]": host bits must be zero; LEN defaults to the full length. */
int esptag_prefix_parse(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen,
			char *err, size_t errlen);
const char *esptag_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len);

#endif
