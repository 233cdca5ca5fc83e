/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptagd internals: one daemon per host port. See docs/esptagd.8 and the
 * layer graph in docs/architecture.md. A module calls only modules below it
 * (nothing sideways, nothing back up); the agent link reaches the SA layer,
 * the monitor and the PF through the subscriber list it publishes to.
 *
 *   8 main.c                         options (opts.c), start, loop, stop
 *   7 teardown.c                     esptagd --teardown
 *   6 ctlsock.c                      dispatch table -> handlers
 *   5 pf.c pf_ctl.c                  PF life cycle, vf requests
 *   4 pf_vf.c sad_ctl.c conf_sync.c  VF events; state/agent/stats requests; file policies
 *   3 pf_cfg.c sad_sync.c spd_ctl.c  VF config; reconcile/re-install/sweep
 *   2 agent_ops.c link.c monitor.c pf_agent.c spd.c
 *   1 chan.c chan_pkt.c vf.c bpf.c bpf_xdp.c bpf_maps.c sa_table.c sa_conv.c
 *     sa_maps.c spi_res.c key_seen.c keylog.c pf_db.c pf_mbox.c pf_port.c
 *     reply.c opts.c
 *   0 user/lib: log, util, sa_mirror, ctl, esptag_proto, secmem
 *
 * Single-threaded: a control request runs to completion (including its agent
 * round trips) before the next event is handled.
 */
#ifndef ESPTAGD_H
#define ESPTAGD_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <esptag/wire.h>
#include <esptag/maps.h>
#include "conffile.h"
#include "ctl.h"
#include "esptag_proto.h"
#include "log.h"
#include "util.h"

/* ---- BPF side ----------------------------------------------------------- */
enum map_id {
	/* M_SAD: each SA with its sequence, replay window and lifetime; mapped
	 * (sa_maps.c) */
	M_SAD, M_SPD, M_SPD_SRC, M_CFG, M_STATS, M_SA_STATS, M_PORTS,
	/* optional when adopting programs built before them */
	M_BYPASS, M_ACQ_PEND, M_ACQ, M_POL_USE, M_POL_TMPL,
	/* optional: host policies by exact match (spd.c), absent in older builds */
	M_SPD_HOST, M_NR,
};
extern const char *const map_names[M_NR];

struct bpf_state {
	int map_fd[M_NR];
	int ncpus;
	int xdp_mode;			/* enum esptag_ctl_xdp_mode */
	bool adopted;
	/* private to bpf.c */
	void *tx_skel, *rx_skel;
	void *xdp_prog;			/* struct xdp_program * when libxdp attached */
	int xdp_fd, xdp_flags;
	uint32_t xdp_id;
	bool tc_egress, tc_ingress, qdisc_created, hook_done;
	uint32_t tc_prio;
	bool pinned_by_us;
	struct esptag_sa *sad;		/* esptag_sad mapped (sa_maps.c), NULL if not */
	uint32_t sad_n;			/* its entries */
	bool fresh;			/* no pins were there before this daemon */
};

/* ---- agent channel ------------------------------------------------------ */
struct chan;
struct txn;
/* A transport of config requests: the packet socket (chan_pkt.c) or a VF's
 * mailbox to its PF (vf.c). recv returns one reply frame (Ethernet header
 * first), 0 for a message to skip, -1 when nothing more is queued. */
struct chan_ops {
	const char *name;
	void (*send)(struct chan *c, const struct txn *t);
	ssize_t (*recv)(struct chan *c, uint8_t *buf, size_t cap);
	void (*drain)(struct chan *c);
};

struct chan {
	const struct chan_ops *ops;
	int fd;
	int ifindex;
	uint8_t mac[6];
	uint8_t agent_mac[6];
	uint16_t port;			/* this daemon's own agent port */
	uint16_t eth_p;
	uint32_t next_id;
	uint32_t timeout_ms;		/* first timeout, doubled per try */
	int tries;
	int window;			/* requests in flight */
	uint64_t last_reply_ns;
	uint64_t replies, retries, timeouts, bad;
	bool hup;			/* VF mode: the PF closed the mailbox */
	uint8_t version;		/* config version of requests but HELLO (1: none yet) */
	struct txn *ktx;		/* chan_key_txns(): locked, no-dump */
	size_t ktx_n;
};

struct txn {
	uint8_t frame[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD];
	size_t flen;
	uint32_t msg_id;
	uint8_t opcode;
	uint8_t state;			/* TXN_* */
	uint8_t sent;			/* tries used */
	int max_tries;
	uint64_t deadline;
	uint32_t tmo_ms;
	uint8_t reply[ESPTAG_CFG_MAX_PAYLOAD];
	size_t rlen;
	struct esptag_cfg_view v;	/* decoded reply (points into reply) */
	void *user;			/* caller's bookkeeping */
	uint32_t first, n;		/* caller's bookkeeping */
};
enum { TXN_NEW, TXN_SENT, TXN_DONE, TXN_TIMEOUT };

/* The packet transport on dev (chan_pkt.c). */
int chan_open(struct chan *c, const char *dev);
void chan_close(struct chan *c);
/* A fresh msg_id (never 0). */
uint32_t chan_new_id(struct chan *c);
/* Start a request to the agent port `port`: the caller adds records with
 * esptag_cfg_add(b, ...), then chan_finish(). */
void chan_begin(struct chan *c, struct txn *t, struct esptag_cfg_builder *b, uint8_t opcode,
		uint16_t port);
int chan_finish(struct chan *c, struct txn *t, struct esptag_cfg_builder *b);
/* Run n transactions (up to c->window in flight) until each has a reply or
 * ran out of tries. tries 0 = c->tries. Returns the number that timed out. */
int chan_run(struct chan *c, struct txn *t, size_t n, int tries);
/* The same, each request built by prep(c, t, arg) right before it is first
 * sent (so that building, e.g. wrapping keys, overlaps the agent's work on
 * the requests in flight). When prep fails (-1) that request and the ones
 * not yet built are not sent (TXN_TIMEOUT, never sent). */
int chan_run_prep(struct chan *c, struct txn *t, size_t n, int tries,
		  int (*prep)(struct chan *c, struct txn *t, void *arg), void *arg);
/* n zeroed transactions for requests that carry keys (ADD_SA): locked
 * memory left out of core dumps, kept for reuse (grown when needed; NULL if
 * that fails). Give them back with chan_key_txns_wipe(c, n). */
struct txn *chan_key_txns(struct chan *c, size_t n);
void chan_key_txns_wipe(struct chan *c, size_t n);
/* Drain unsolicited frames (late duplicates). */
void chan_drain(struct chan *c);

/* ---- SA database ---------------------------------------------------------- */
struct sa {
	struct esptag_ctl_sa c;		/* key/salt live here (mlocked table); lifetimes,
					 * add_time (CLOCK_REALTIME s) */
	uint64_t expires_ns;		/* CLOCK_MONOTONIC, 0 = never (time-hard) */
	uint64_t added_ns;		/* CLOCK_MONOTONIC at add (soft time) */
	struct esptag_sa_life keep;	/* use carried over a re-install */
	bool soft_done;			/* soft expire raised (once per SA) */
	uint64_t seq_at_ns;		/* non-ESN: when seq was last read (lifetime tick) */
	uint64_t seq;			/* what it was */
	uint32_t hnext, inext;		/* hash chains (slot + 1, 0 = end) */
	bool used;
	bool has_key;
	bool leaving;			/* being deleted: policies move off it first */
	uint64_t gen;			/* order of adding (policies by reqid take the
					 * newest); 0 = adopted, older than any added */
};

struct caps {
	bool valid;
	struct esptag_rec_caps r;	/* network order as received */
	uint64_t epoch;
	uint32_t capacity, used, port_limit, port_used;
	uint16_t alg_mask, features, max_records, max_payload, local_capacity;
	uint8_t version;		/* negotiated (docs/protocol.md 1.9) */
	uint8_t version_min, version_max;	/* the agent's */
	bool has_key;			/* 72-byte CAPS: the agent's X25519 key */
	uint8_t agent_key[ESPTAG_X25519_LEN];
};

/* The outbound SA a protect policy is bound to: the SA's identity (as in
 * the SAD hash), not its index, which changes when the SA is re-installed. */
struct pol_bind {
	uint8_t family, nvlans;
	uint16_t vid[2];
	uint32_t spi;
	uint8_t daddr[16];
};

struct pol {
	struct esptag_ctl_policy c;
	uint32_t node;			/* index into nodes[] + 1 */
	bool used;
	bool bound;			/* bind names its SA for good */
	bool lost;			/* recovered without a binding: stays unresolved */
	bool recovered;			/* from the maps: bind from c.sa_index once reconciled */
	bool trap_recovered;		/* recovered with ESPTAG_POLF_TRAP: it followed a reqid */
	bool warned;			/* ambiguity logged */
	bool from_conf;			/* the configuration file's (a reload manages it) */
	struct pol_bind bind;
};

struct node {
	uint32_t id;
	uint32_t parent;		/* node id, 0 none */
	uint32_t parent_keylen;
	uint32_t refs;
	uint8_t dir, family, plen;
	uint8_t addr[16];
	bool used;
};

/* ---- agent link (link.c) ----------------------------------------------- */
enum link_state {
	LINK_UNKNOWN,		/* no HELLO answered yet */
	LINK_SYNCING,		/* answers; our SAs not yet reconciled with its SAD */
	LINK_UP,		/* answers, reconciled: the port is up */
	LINK_MISSING,		/* up, but missed HELLO rounds (< down_after) */
	LINK_DOWN,		/* silent: the port is down, protect traffic dropped */
};
enum link_event {
	LINK_EV_SYNC,		/* answered, not reconciled yet: reconcile now */
	LINK_EV_UP,		/* reachable and reconciled (again) */
	LINK_EV_RESTARTED,	/* a new epoch: the agent lost every SA */
	LINK_EV_ALIVE,		/* a HELLO was answered (after the above) */
	LINK_EV_DOWN,		/* no answer for down_after rounds */
};
struct daemon;
typedef void (*link_fn)(struct daemon *d, enum link_event ev, uint64_t old_epoch);
#define LINK_MAX_SUBS	4
struct agent_link {
	enum link_state state;
	link_fn subs[LINK_MAX_SUBS];
	int nsubs;
};

struct daemon {
	char dev[ESPTAG_CTL_DEV_LEN];
	int ifindex;
	uint8_t mac[6];
	struct chan chan;
	struct bpf_state bpf;
	/* SAs */
	struct sa *sas;			/* mlocked, MADV_DONTDUMP */
	size_t sa_cap, sa_count, sa_bytes;
	size_t vlan_sas;		/* SAs with VLAN tags (state del walks then) */
	uint32_t *sa_free;		/* free slot stack */
	size_t nfree;
	uint32_t *hkey, *hidx;		/* hash buckets: slot + 1 */
	size_t hsize;
	/* agent */
	struct caps caps;
	struct agent_link link;
	bool reconciled;
	bool need_sweep;		/* look for orphans at the next HELLO */
	uint32_t hello_ok, hello_fail, reinstalls;
	size_t reinstalled_last;	/* SAs re-installed after the last restart */
	uint32_t hello_tries;
	uint32_t hello_streak;		/* consecutive failed HELLO rounds */
	uint32_t down_after;		/* rounds before the port goes down */
	/* policies */
	struct pol *pols;
	struct node *nodes;
	size_t pol_cap;
	uint32_t next_pol_id, next_node_id;
	uint64_t sa_gen;		/* last struct sa.gen given */
	void *acq_rb;			/* struct ring_buffer * of esptag_acquire */
	uint32_t bypass_count;		/* sockets registered (BYPASS_SOCKET) */
	/* monitor */
	int monitors[16];
	int nmon;
	uint64_t last_cnt[ESPTAG_CNT_MAX];
	bool have_last_cnt;
	/* SPI reservations (spi_res.c), used keys (key_seen.c), key log */
	struct spi_res *res;
	size_t nres, res_cap;
	uint64_t res_ttl_ns;		/* --spi-reserve-time */
	struct key_seen *kseen;		/* locked memory */
	uint64_t seq_start;		/* --seq-start: first outbound number (testing) */
	int keylog_fd;			/* --keylog, -1 = off */
	/* PF mode (pf.c) / VF mode (vf.c) */
	struct pf *pf;
	bool vf_mode;
	uint16_t vf_num;
	uint32_t vf_limit;
	uint8_t vf_mac[6];		/* VF mode: the domain the PF assigned (RESET) */
	uint8_t vf_nvlans;
	uint16_t vf_vid[2];
	/* Config protocol version 2 (wrapped keys) */
	bool allow_v1;			/* --allow-v1: keys in clear if the agent wants */
	bool have_fpr;			/* --agent-key given */
	uint8_t agent_fpr[32];		/* SHA-256 of the agent's public key */
	char agent_refused[512];	/* why the answering agent is not used, "" if it is */
};

/* A control-request answer under construction. */
struct reply {
	int status;
	uint8_t agent_status;
	uint32_t err_index;
	char msg[ESPTAG_CTL_MSG_MAX];
	uint8_t *items;
	uint32_t count;
	size_t isz, cap;
};
void reply_err(struct reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int reply_add(struct reply *r, const void *item);

/* link.c */
int link_subscribe(struct daemon *d, link_fn fn);
void link_tick(struct daemon *d);	/* one HELLO, one transition */
static inline bool link_reachable(const struct daemon *d)
{
	return d->link.state == LINK_SYNCING || d->link.state == LINK_UP ||
	       d->link.state == LINK_MISSING;
}

/* bpf.c */
/* The default tc filter priority (and handle) of esptag_tx and esptag_rx_mark. */
#define ESPTAGD_TC_PRIO	0xe5
struct bpf_opts {
	const char *pin_dir;
	bool adopt, no_attach, skb_mode;
	bool xdp_frags;			/* attach esptag_rx_frags, not esptag_rx */
	int xdp_prio;			/* libxdp run priority; -1: XDP_RUN_CONFIG's */
	uint32_t tc_prio;		/* tc filter priority of both clsact filters */
};
int bpf_setup(struct daemon *d, const struct bpf_opts *o);
struct cfg_opts {
	bool set_eth, set_mark;
	uint16_t eth_p_cfg, eth_p_meta;
	uint32_t mark_mask, mark_trusted, mark_shift;
};
int cfg_apply(struct daemon *d, const struct cfg_opts *o);
void bpf_teardown(struct daemon *d, bool keep, const char *pin_dir);
/* --teardown: open what is pinned (count), then detach what esptag left
 * attached on d->ifindex and remove the pins. */
int bpf_open_leftover(struct daemon *d, const char *dir);
void bpf_remove_leftover(struct daemon *d, const char *pin_dir, uint32_t tc_prio);
void tc_detach_leftover(int ifindex, int where, uint32_t handle, uint32_t prio); /* bpf_tc_attach_point */
int cfg_set_agent_up(struct daemon *d, bool up);
/* esptag_cfg.clock_s: now (CLOCK_MONOTONIC seconds), or 0 with stop. */
void cfg_clock_tick(struct daemon *d, bool stop);
/* Set or clear one ESPTAG_CFGF_* bit (written only when it changes). */
int cfg_set_flag(struct daemon *d, uint32_t flag, bool on);
bool cfg_agent_up(struct daemon *d);
/* Warn when the agent's SAD is larger than esptag_sad has slots. */
void bpf_sad_slots_check(struct daemon *d, uint32_t capacity);
int percpu_sum_u64(struct daemon *d, int map, uint32_t key, uint64_t *out);
int sa_stats_sum(struct daemon *d, uint32_t idx, struct esptag_sa_stats *out);

/* sa_table.c: the SA table (no other module below it) */
int sad_init(struct daemon *d, size_t cap);
void sad_free(struct daemon *d);
struct sa *sad_by_index(struct daemon *d, uint32_t idx);
/* The SA with c's key (family, dir, spi, daddr, VLANs), or NULL. */
struct sa *sad_find(struct daemon *d, const struct esptag_ctl_sa *c);
/* A new entry (not yet in the index chain unless c->sa_index is set); NULL if full. */
struct sa *sa_new(struct daemon *d, const struct esptag_ctl_sa *c, bool has_key);
void sa_release(struct daemon *d, struct sa *sa);	/* zeroes it, key included */
void link_idx(struct daemon *d, struct sa *sa);		/* after sa_index was set */
void unlink_idx(struct daemon *d, struct sa *sa);

/* sa_conv.c: conversions and descriptions */
void sa_to_rec(const struct daemon *d, const struct esptag_ctl_sa *s, struct esptag_rec_sa *r,
	       bool with_key);
void rec_to_sa(const struct daemon *d, const struct esptag_rec_sa *r, struct esptag_ctl_sa *s);
const char *sa_desc(const struct esptag_ctl_sa *s, char *buf, size_t len);
const char *agent_hint(int st);			/* what to do about an agent status */
uint16_t sa_features(const struct esptag_ctl_sa *c);	/* ESPTAG_FEAT_* the SA needs */
const char *feat_str(uint16_t f, char *buf, size_t len);
uint64_t expiry(uint32_t lifetime);		/* now + lifetime s, 0 = never */

/* sa_maps.c: the SAs in the per-SA maps (through user/lib/sa_mirror.h) */
int map_install(struct daemon *d, const struct sa *sa, const struct esptag_seq *seq,
		const struct esptag_replay *rp);
/* Rewrite a running SA's esptag_sad entry (state update: expiry, window). */
int map_update_sa(struct daemon *d, const struct sa *sa);
void map_remove(struct daemon *d, uint32_t idx);
void map_retire(struct daemon *d, uint32_t idx);	/* esptag_sad entry only */
int map_install_many(struct daemon *d, struct sa **v, size_t n, const struct esptag_seq *seq,
		     const struct esptag_replay *rp);
void map_remove_many(struct daemon *d, struct sa **v, size_t n);
uint64_t map_seq(struct daemon *d, const struct sa *sa);	/* next Tx seq / Rx top */

/* sa_maps.c: esptag_sad through its mapping (the SAs' limits, use) */
int life_map_open(struct daemon *d);
void life_map_close(struct daemon *d);
/* The SA's lifetime entry (limits and use), false if the map is not there. */
bool life_read(struct daemon *d, uint32_t idx, struct esptag_sa_life *out);
/* New hard limits of a running SA: plain stores, the counters untouched. */
void life_set_limits(struct daemon *d, uint32_t idx, uint64_t hard_bytes, uint64_t hard_packets);
/* cur_bytes, cur_packets, use_time of a reply from the SA's entry. */
void life_fill(struct daemon *d, const struct sa *sa, struct esptag_ctl_sa *out);
/* The SA as a reply item: no key; state, seq, current use. */
void sa_reply_item(struct daemon *d, const struct sa *sa, struct esptag_ctl_sa *out);

/* spi_res.c: SPI reservations (state allocspi) */
struct spi_res {
	uint8_t family;
	uint8_t daddr[16], saddr[16];
	uint32_t spi, reqid;
	uint64_t expires_ns;		/* CLOCK_MONOTONIC */
};
#define ESPTAG_SPI_RESERVE_S	180	/* default --spi-reserve-time */
struct spi_res *spi_res_find(struct daemon *d, uint8_t family, const uint8_t daddr[16],
			     uint32_t spi);
int spi_res_add(struct daemon *d, const struct spi_res *r);
void spi_res_del(struct daemon *d, struct spi_res *r);
size_t spi_res_expire(struct daemon *d, uint64_t now);

/* key_seen.c: keyed digests of the (key, salt) pairs this process added */
int key_seen_init(struct daemon *d);
void key_seen_free(struct daemon *d);
/* Has c's (key, salt) been added before? */
bool key_seen(struct daemon *d, const struct esptag_ctl_sa *c);
int key_seen_add(struct daemon *d, const struct esptag_ctl_sa *c);

/* keylog.c: --keylog FILE, Wireshark esp_sa lines */
int keylog_open(struct daemon *d, const char *path);
void keylog_sa(struct daemon *d, const struct esptag_ctl_sa *c);
void keylog_close(struct daemon *d);

/* agent_ops.c: requests to one agent port (the port is an argument) */
/* ADD_SA for n SAs: each SA the agent took gets its sa_index. 0 if all were
 * taken, else a ctl status with *err_i (index into v) and *ast. */
int agent_add(struct daemon *d, uint16_t port, struct sa **v, size_t n, uint32_t *err_i,
	      uint8_t *ast);
/* DEL_SA by index; gone[i]: SA i is no longer in the agent. */
int agent_del_idx(struct daemon *d, uint16_t port, const uint32_t *idx, size_t n, bool *gone);
int agent_del(struct daemon *d, uint16_t port, struct sa **v, size_t n, bool *gone);
/* A request without records (FLUSH_PORT, GET_STATS); the reply is in t. */
int agent_simple(struct daemon *d, uint16_t port, uint8_t op, int tries, struct txn *t);
/* DUMP_SA of an agent port, every page. Returns the count or -1; *out malloc'ed. */
int agent_dump(struct daemon *d, uint16_t port, struct esptag_rec_sa **out);
/* GET_STATS of n SAs (one frame): 0 when answered OK (records in t). */
int agent_sa_stats(struct daemon *d, uint16_t port, struct sa **v, size_t n, struct txn *t);

/* sad_sync.c: the SA database's life with the agent */
void ev_sa(struct daemon *d, int type, const struct sa *sa);
/* Remove SAs everywhere after the agent confirmed (gone[i]); returns how many. */
size_t drop_confirmed(struct daemon *d, struct sa **v, size_t n, const bool *gone, int ev);
int flush_all(struct daemon *d, int ev);
int sad_flush_agent(struct daemon *d);	/* at exit */
void sad_link_event(struct daemon *d, enum link_event ev, uint64_t old_epoch);
/* Lifetimes (every ESPTAGD_LIFE_TICK_MS): soft limits raise SA_SOFT_EXPIRED
 * once, hard ones SA_EXPIRED and remove the SA; reservations expire. */
#define ESPTAGD_LIFE_TICK_MS	200
/* A non-ESN SA's 32-bit space: soft expire with this many numbers left,
 * hard expire (removed) with this many. */
#define ESPTAG_SEQ32_SOFT_LEFT	(1ull << 28)
#define ESPTAG_SEQ32_HARD_LEFT	(1ull << 16)
void sad_life_tick(struct daemon *d);

/* sad_ctl.c: control requests on SAs */
void ctl_state_add(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
void ctl_state_del(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
void ctl_state_list(struct daemon *d, struct reply *r);
void ctl_state_flush(struct daemon *d, struct reply *r);
void ctl_agent_status(struct daemon *d, struct reply *r);
void ctl_agent_sa(struct daemon *d, struct reply *r);
void ctl_stats(struct daemon *d, struct reply *r);
void ctl_state_allocspi(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
void ctl_state_get(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
void ctl_state_update(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);

/* spd.c */
int spd_init(struct daemon *d);
void spd_free(struct daemon *d);
int spd_recover(struct daemon *d);	/* rebuild from pinned maps */
void spd_refresh(struct daemon *d);	/* re-resolve outbound SA indices */
void ctl_policy_add(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
void ctl_policy_update(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
void ctl_policy_del(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
void ctl_policy_list(struct daemon *d, struct reply *r);
void ctl_policy_flush(struct daemon *d, struct reply *r);
void ctl_policy_get(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
/* Does a policy follow its reqid (outbound protect, reqid, no SPI)? */
bool pol_follows_reqid(const struct esptag_ctl_policy *c);
/* Last use of a policy (CLOCK_REALTIME s, 0 = never) from esptag_pol_use. */
uint64_t pol_use_time(struct daemon *d, uint32_t id);
/* The policy with c's selector with c's selector (dir, src, dst), or NULL. */
struct pol *pol_find(struct daemon *d, const struct esptag_ctl_policy *c);

/* conf_sync.c: make the file's policies the daemon's. Policies only in the
 * file are added, changed ones updated in place (policy update), those gone
 * from the file deleted; policies added with esptag are left alone.
 * claim: at start, policies recovered from the pins that the file names
 * become the file's. Returns the number of policies that failed. */
int conf_sync(struct daemon *d, const struct conf *cf, bool claim);

/* pf.c */
struct pf_opts {
	const char *mbox_dir, *uplink, *pin_dir;
	bool vepa;
	uint32_t vf_limit;
	uint8_t local_family;
	uint8_t local_addr[16];
};
int pf_init(struct daemon *d, const struct pf_opts *o, int ep);
void pf_ctl(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
bool pf_event(struct daemon *d, int fd);
void pf_link_event(struct daemon *d, enum link_event ev, uint64_t old_epoch);
/* cleanup: flush the VFs' SAs and detach esptag_port (--cleanup-on-exit);
 * otherwise leave the VF ports' programs, entries and SAs running. */
void pf_exit(struct daemon *d, bool cleanup);
/* --teardown --pf: detach esptag_port from the ports in esptag_ports and the
 * uplink; fills vfs[] with their VF numbers (up to max), returns the count. */
int pf_remove_leftover(struct daemon *d, const char *uplink, uint16_t *vfs, int max);

/* opts.c: the command line */
struct opts {
	char dev[ESPTAG_CTL_DEV_LEN];
	struct bpf_opts bo;
	struct cfg_opts co;
	struct pf_opts po;
	const char *sock, *mailbox;
	const char *ro_group;		/* --ro-group: read-only socket <sock>.ro */
	const char *keylog;		/* --keylog FILE */
	unsigned long spi_reserve_s;	/* --spi-reserve-time */
	unsigned long long seq_start;	/* --seq-start (testing) */
	unsigned long audit_s, hello_ms, max_sas, port, tmo, tries, down_after;
	bool keep, cleanup, teardown, pf_mode, vf_mode, set_tc_prio;
	int log_level;
	const char *config;		/* --config FILE */
	bool allow_v1;			/* --allow-v1 */
	bool have_fpr;			/* --agent-key FINGERPRINT */
	uint8_t agent_fpr[32];
	struct conf conf;		/* the file read (path "" when none) */
	bool given[64];			/* lopts[i] was on the command line */
	bool reload;			/* errors to the log, not stderr */
	char pin_buf[1024], sock_buf[1024], mbox_buf[1024];
};
#define ESPTAG_CONF_DIR "/etc/esptag"
/*
 * The command line, then the configuration file (--config FILE, or
 * ESPTAG_CONF_DIR/esptagd-DEV.conf when present) for what the command line
 * did not give. -1: run; else the exit code (help shown, or a usage error
 * reported: "FILE:LINE: ..." for the file). reload: errors go to the log.
 */
int opts_parse(struct opts *o, int argc, char **argv, bool reload);
/* Warn about options of n that differ from o but need a restart. */
void opts_restart_warn(const struct opts *o, const struct opts *n);

/* teardown.c: esptagd --teardown */
int run_teardown(struct daemon *d, const struct opts *o);

/* vf.c */
int vf_open(struct daemon *d, const char *mailbox);
int vf_reset(struct daemon *d);

/* ctlsock.c */
bool sock_live(const char *path);	/* does a daemon answer there? */
int ctl_listen(const char *path);
/* The read-only socket path (sock + ".ro"), mode 0660, group group. */
int ctl_listen_ro(const char *path, const char *group);
/* One connection; ro: the read-only socket (only CTL_READ requests). */
void ctl_serve(struct daemon *d, int lfd, int ep, bool ro);

/* monitor.c */
void monitor_drop(struct daemon *d, int i);	/* close client i */
void monitor_link_event(struct daemon *d, enum link_event ev, uint64_t old_epoch);
void monitor_event(struct daemon *d, int type, const struct esptag_ctl_sa *sa, uint64_t value,
		   uint64_t delta, uint16_t id);
void monitor_counters(struct daemon *d);
void monitor_send(struct daemon *d, struct esptag_ctl_event *e);	/* time_ms set here */

/* acquire.c: the data path's acquires (esptag_acquire ring buffer) to the
 * monitor clients */
int acquire_open(struct daemon *d);	/* epoll fd, or -1 (none) */
void acquire_poll(struct daemon *d);
void acquire_close(struct daemon *d);

/* bypass.c: BYPASS_SOCKET requests */
void ctl_bypass_socket(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);
/* Start-up: esptag_cfg's BYPASS flag set exactly when esptag_bypass has entries. */
void bypass_flag_sync(struct daemon *d);

#endif
