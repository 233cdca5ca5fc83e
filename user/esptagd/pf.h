/* SPDX-License-Identifier: GPL-2.0-only */
/* PF mode internals (pf*.c); the rest of the daemon sees only esptagd.h. */
#ifndef ESPTAGD_PF_H
#define ESPTAGD_PF_H

#include "esptagd.h"

#define PORT_TC_HANDLE	0xe6
#define PORT_TC_PRIO	0xe6

struct vf_sa {
	uint32_t idx;
	uint32_t spi;
	uint8_t dir, family;
	uint8_t daddr[16];
};

/* The VF's reply cache: the answers to its last requests, for its retries. */
#define VF_CACHE_SIZE	64

struct vf_cache_ent {
	bool used;
	bool answered;			/* else: the agent did not answer pf_id */
	uint8_t opcode;
	uint32_t msg_id;		/* the VF's */
	uint32_t pf_id;			/* the msg_id the PF used toward the agent */
	uint8_t digest[32];		/* SHA-256 of the VF's request, F_RETRY masked */
	uint16_t len;
	uint8_t reply[ESPTAG_CFG_MAX_PAYLOAD];	/* as sent to the VF (no key bytes) */
};

struct pf_vf {
	bool used;
	struct esptag_ctl_vf c;		/* as added; flags TRUSTED */
	int ifindex;
	int lfd, cfd;			/* mailbox: listening, connected VF */
	char path[108];
	bool local_added;
	struct vf_sa *sas;
	size_t nsa, cap;
	uint32_t refused, bad;
	struct vf_cache_ent *cache;	/* [VF_CACHE_SIZE] ring */
	unsigned int cache_next;
};

struct pf {
	struct pf_vf vf[ESPTAG_CTL_VF_MAX + 1];
	char mbox_dir[1024];
	int ep, nl;
	int mode;			/* ESPTAG_CTL_SW_* */
	uint32_t limit;			/* default per-VF SA limit */
	int uplink_ifindex;
	char uplink[IFNAMSIZ];
	struct esptag_port_bpf *skel;
	uint8_t local_family;		/* the PF's own address (VEPA) */
	uint8_t local_addr[16];
	bool local_added;
};




/* pf_db.c: bottom: the VFs' SAs and reply caches */
void map_domain(struct daemon *d, const struct pf_vf *v, const struct esptag_rec_sa *r);
void db_clear(struct daemon *d, struct pf_vf *v);
int db_add(struct pf_vf *v, const struct esptag_rec_sa *r);
void db_del(struct daemon *d, struct pf_vf *v, uint32_t idx);
int req_digest(const uint8_t *pl, size_t plen, uint8_t out[32]);
struct vf_cache_ent *vf_cache_find(struct pf_vf *v, uint32_t msg_id, uint8_t opcode,
				   const uint8_t *digest);
void vf_cache_put(struct pf_vf *v, struct vf_cache_ent *e, uint32_t msg_id, uint8_t opcode,
		  const uint8_t *digest, uint32_t pf_id, const uint8_t *reply, size_t len);
void vf_cache_clear(struct pf_vf *v);
bool db_has(const struct pf_vf *v, uint32_t idx);

/* pf_mbox.c: mailbox I/O */
void mbox_send(struct pf_vf *v, int type, uint32_t seq, int status, const void *pl,
	       uint32_t plen);
void cfg_refuse(struct pf_vf *v, uint32_t seq, const struct esptag_cfg_hdr *req,
		uint8_t status, uint16_t err_index, const char *why);
void vf_reset_reply(struct pf_vf *v, uint32_t seq, long removed);
void mbox_close_conn(struct pf *p, struct pf_vf *v);
void mbox_accept(struct daemon *d, struct pf_vf *v);
int mbox_listen(struct pf *p, struct pf_vf *v);

/* pf_port.c: esptag_port, netlink */
int port_attach(int ifindex, int fd, enum bpf_tc_attach_point where, const char *name);
void port_detach(int ifindex, enum bpf_tc_attach_point where);
int port_load(struct pf *p, const char *pin_dir);
int nl_open(void);

/* pf_agent.c: the agent on behalf of a VF */
void frame_head(struct daemon *d, struct txn *t);
int agent_req_rec(struct daemon *d, struct txn *t, uint8_t op, uint16_t port,
		  uint8_t type, const void *rec, size_t len);
int vf_local(struct daemon *d, struct pf_vf *v, bool add);
void pf_local(struct daemon *d, bool add);
long vf_cleanup(struct daemon *d, struct pf_vf *v, const char *why);

/* pf_cfg.c: a VF's config request */
void vf_cfg(struct daemon *d, struct pf_vf *v, uint32_t seq, const uint8_t *pl, uint32_t plen);

/* pf_vf.c: a VF's life events */
void vf_forget(struct daemon *d, struct pf_vf *v);
void port_gone(struct daemon *d, int ifindex);
void nl_read(struct daemon *d);
void mbox_read(struct daemon *d, struct pf_vf *v);

/* pf_ctl.c: control requests */

#endif
