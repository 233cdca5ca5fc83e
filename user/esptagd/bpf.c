// SPDX-License-Identifier: GPL-2.0-only
/*
 * Loading the data path: the esptag_tx and esptag_rx skeletons share their
 * maps through pins (LIBBPF_PIN_BY_NAME) under a per-instance pin root.
 * XDP is bpf_xdp.c (libxdp; a program that is not esptag's is never
 * replaced). TC programs go through libbpf (cls_bpf, direct action) at
 * handle 0xe5 and --tc-prio (default 0xe5): libbpf 1.1 has no tcx links.
 * --adopt uses what iproute2 attached: only the pinned maps are opened.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_xdp.h"
#include "esptag_tx.skel.h"
#include "esptag_rx.skel.h"

#define TC_HANDLE	0xe5

const char *const map_names[M_NR] = {
	[M_SAD] = "esptag_sad",		[M_SPD] = "esptag_spd",
	[M_SPD_SRC] = "esptag_spd_src",	[M_CFG] = "esptag_cfg",
	[M_STATS] = "esptag_stats",	[M_SA_STATS] = "esptag_sa_stats",
	[M_PORTS] = "esptag_ports",
	[M_BYPASS] = "esptag_bypass",	[M_ACQ_PEND] = "esptag_acq_pend",
	[M_ACQ] = "esptag_acquire",	[M_POL_USE] = "esptag_pol_use",
	[M_POL_TMPL] = "esptag_pol_tmpl",
	[M_SPD_HOST] = "esptag_spd_host",
};

/*
 * What a daemon created besides its pins, remembered for the act that
 * removes everything (--cleanup-on-exit, --teardown), which may run in a
 * later process: empty directories in the pin directory (bpffs holds no
 * plain files).
 */
#define MARK_CLSACT	"esptagd_made_clsact"
#define MARK_XDP_STATE	"esptagd_made_xdp_state"

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	if (level == LIBBPF_DEBUG && log_level < LOG_DEBUG_)
		return 0;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n > 0 && buf[n - 1] == '\n' && n <= (int)sizeof(buf))
		buf[n - 1] = 0;
	logm(level == LIBBPF_WARN && !bpf_quiet_libbpf ? LOG_WARN_ : LOG_DEBUG_, "%s", buf);
	return 0;
}

static int mkdir_p(const char *path)
{
	char tmp[256];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -1;
	return 0;
}

/* The programs esptagd attaches, by name (docs/rx.md, docs/tx.md). */
#define PROG_TX		"esptag_tx"		/* tc egress */
#define PROG_RX		"esptag_rx"		/* xdp */
#define PROG_RX_MARK	"esptag_rx_mark"	/* tc ingress */
/* The multi-buffer twin of esptag_rx (--xdp-frags, jumbo-MTU ports): only
 * the one esptagd attaches is loaded. */
#define PROG_RX_FRAGS	"esptag_rx_frags"

/*
 * Maps of earlier builds that kept an SA's state apart from esptag_sad
 * (this build keeps it in the esptag_sad value): their pins mean a data
 * path of the old layout, which this build cannot take over without losing
 * the SAs' sequence numbers. --teardown removes them with the rest.
 */
static const char *const old_maps[] = { "esptag_seq", "esptag_replay", "esptag_sa_life" };

/*
 * Pins of an older layout (esptag_sad of another value size or not
 * mmapable, or the state maps above): refuse, changing nothing. Taking them
 * over would start every outbound SA's sequence again under the same key.
 */
static int pins_layout_check(const char *pin_dir)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	char path[512];
	bool old = false;
	int fd;

	for (size_t i = 0; i < sizeof(old_maps) / sizeof(old_maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, old_maps[i]);
		old |= !access(path, F_OK);
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, map_names[M_SAD]);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    info.value_size != sizeof(struct esptag_sa) ||
		    !(info.map_flags & BPF_F_MMAPABLE))
			old = true;
		close(fd);
	}
	if (!old)
		return 0;
	log_err("pins in %s are of an older esptag data path (SA state in esptag_seq/esptag_replay/esptag_sa_life; this build keeps it in esptag_sad): not taking them over, nothing changed. Upgrade: stop the old esptagd, run 'esptagd --teardown' with the same device and pin options (the agent's SAs are flushed, protect traffic is dropped, never sent in clear), then start this esptagd; the IKE daemon installs fresh SAs (new keys, so no sequence number is used twice)",
		pin_dir);
	return -1;
}

static int open_pinned_maps(struct daemon *d, const char *dir)
{
	char path[512];

	if (pins_layout_check(dir))
		return -1;
	for (int i = 0; i < M_NR; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		d->bpf.map_fd[i] = bpf_obj_get(path);
		if (d->bpf.map_fd[i] < 0) {
			if (i == M_PORTS) /* only with the port program */
				continue;
			if (i >= M_BYPASS && i <= M_POL_TMPL) { /* programs of an older build */
				log_warn("map %s not pinned: bypass sockets, acquires, policy use times and inbound templates are unavailable",
					 path);
				continue;
			}
			if (i == M_SPD_HOST) { /* programs of an older build: LPM only */
				log_info("map %s not pinned: host policies are looked up in the LPM only",
					 path);
				continue;
			}
			log_err("map %s not pinned (%s): attach the esptag programs with iproute2 first, or drop --adopt",
				path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int attach_tc(struct daemon *d, int fd, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = d->ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = d->bpf.tc_prio,
			    .prog_fd = fd, .flags = BPF_TC_F_REPLACE);
	int err;

	if (!d->bpf.hook_done) {
		bpf_quiet_libbpf = true; /* "Exclusivity flag on" when clsact exists */
		err = bpf_tc_hook_create(&hook);
		bpf_quiet_libbpf = false;
		if (!err)
			d->bpf.qdisc_created = true;
		else if (err != -EEXIST) {
			log_err("tc: cannot create clsact on %s: %s", d->dev, strerror(-err));
			return err;
		}
		d->bpf.hook_done = true;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		log_err("tc: cannot attach %s program on %s: %s",
			where == BPF_TC_EGRESS ? "egress" : "ingress", d->dev, strerror(-err));
	return err;
}

static void detach_tc(struct daemon *d, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = d->ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = d->bpf.tc_prio);
	int err = bpf_tc_detach(&hook, &opts);

	if (err && err != -ENOENT)
		log_warn("tc: detach from %s: %s", d->dev, strerror(-err));
}

/* Pins already there: a data path a previous daemon left running (stop or
 * crash). It is adopted, and never removed on failure. */
static int pins_check(struct daemon *d, const char *pin_dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, map_names[M_SAD]);
	d->bpf.fresh = access(path, F_OK) != 0;
	if (pins_layout_check(pin_dir))
		return -1;
	if (!d->bpf.fresh)
		log_info("pins found in %s: taking over the data path left running there", pin_dir);
	return 0;
}

/* Attach the loaded programs: XDP, then tc ingress (mark), tc egress. */
static int bpf_attach(struct daemon *d, const struct bpf_opts *o, struct esptag_tx *tx,
		      struct esptag_rx *rx)
{
	struct bpf_program *ptx, *pxdp, *pmark;
	char path[512];

	ptx = bpf_object__find_program_by_name(tx->obj, PROG_TX);
	pxdp = bpf_object__find_program_by_name(rx->obj, o->xdp_frags ? PROG_RX_FRAGS : PROG_RX);
	pmark = bpf_object__find_program_by_name(rx->obj, PROG_RX_MARK);
	if (!ptx || !pxdp) {
		log_err("the BPF objects lack program %s or %s", PROG_TX,
			o->xdp_frags ? PROG_RX_FRAGS : PROG_RX);
		return -1;
	}
	if (xdp_attach(d, bpf_program__fd(pxdp), o))
		return -1;
	if (pmark) {
		if (attach_tc(d, bpf_program__fd(pmark), BPF_TC_INGRESS))
			return -1;
		d->bpf.tc_ingress = true;
	}
	if (attach_tc(d, bpf_program__fd(ptx), BPF_TC_EGRESS))
		return -1;
	d->bpf.tc_egress = true;
	/* What this daemon made (for the teardown): marks in the pin dir. */
	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, MARK_CLSACT);
	if (d->bpf.qdisc_created)
		mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s", o->pin_dir, MARK_XDP_STATE);
	if (xdp_state_dir[0] && !access(xdp_state_dir, F_OK))
		mkdir(path, 0700);
	log_info("attached: xdp %s, tc egress %s, tc ingress %s on %s",
		 bpf_program__name(pxdp), bpf_program__name(ptx),
		 pmark ? bpf_program__name(pmark) : "-", d->dev);
	return 0;
}

int bpf_setup(struct daemon *d, const struct bpf_opts *o)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	struct esptag_tx *tx = NULL;
	struct esptag_rx *rx = NULL;
	struct bpf_program *unused;
	int err;

	libbpf_set_print(libbpf_log);
	d->bpf.ncpus = libbpf_num_possible_cpus();
	d->bpf.tc_prio = o->tc_prio;
	for (int i = 0; i < M_NR; i++)
		d->bpf.map_fd[i] = -1;
	if (o->adopt) {
		d->bpf.adopted = true;
		d->bpf.xdp_mode = ESPTAG_XDP_ADOPTED;
		log_info("adopting the programs attached by iproute2; maps from %s", o->pin_dir);
		return open_pinned_maps(d, o->pin_dir);
	}
	if (mkdir_p(o->pin_dir)) {
		log_err("cannot create pin directory %s: %s (is bpffs mounted? scripts/bpffs)",
			o->pin_dir, strerror(errno));
		return -1;
	}
	if (pins_check(d, o->pin_dir))
		return -1;
	tx = esptag_tx__open_opts(&oo);
	rx = esptag_rx__open_opts(&oo);
	if (!tx || !rx) {
		log_err("cannot open the BPF skeletons: %s", strerror(errno));
		goto fail;
	}
	unused = bpf_object__find_program_by_name(rx->obj, o->xdp_frags ? PROG_RX : PROG_RX_FRAGS);
	if (unused)
		bpf_program__set_autoload(unused, false);
	if (o->xdp_prio >= 0 && !o->no_attach &&
	    xdp_run_prio_set(rx->obj, o->xdp_frags ? PROG_RX_FRAGS : PROG_RX, o->xdp_prio))
		goto fail;
	err = esptag_tx__load(tx);
	if (!err)
		err = esptag_rx__load(rx);
	if (err) {
		log_err("cannot load the BPF programs: %s (see the libbpf messages above)",
			strerror(-err));
		goto fail;
	}
	d->bpf.tx_skel = tx;
	d->bpf.rx_skel = rx;
	d->bpf.pinned_by_us = true;
	for (int i = 0; i < M_NR; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(tx->obj, map_names[i]);

		if (!m)
			m = bpf_object__find_map_by_name(rx->obj, map_names[i]);
		if (m)
			d->bpf.map_fd[i] = dup(bpf_map__fd(m));
		if (d->bpf.map_fd[i] < 0 && i != M_PORTS) {
			log_err("map %s missing from the BPF objects", map_names[i]);
			goto fail;
		}
	}
	log_info("BPF programs loaded; maps pinned in %s", o->pin_dir);
	if (o->no_attach) {
		d->bpf.xdp_mode = ESPTAG_XDP_NONE;
		return 0;
	}
	if (bpf_attach(d, o, tx, rx))
		goto fail;
	return 0;
fail:
	d->bpf.tx_skel = tx;
	d->bpf.rx_skel = rx;
	/* Never remove a data path we did not create (fail closed). */
	bpf_teardown(d, !d->bpf.fresh, o->pin_dir);
	return -1;
}

static bool marked(const char *pin_dir, const char *mark)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, mark);
	return !access(path, F_OK);
}

/* Remove the clsact qdisc and libxdp's state directory where we made them. */
static void remove_made(struct daemon *d, const char *pin_dir)
{
	char path[256];

	if (d->bpf.qdisc_created || marked(pin_dir, MARK_CLSACT)) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = d->ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&hook);
	}
	/* Fails harmlessly if another libxdp user has state in it. */
	if (xdp_state_dir[0])
		rmdir(xdp_state_dir);
	else if (marked(pin_dir, MARK_XDP_STATE)) {
		xdp_state_path(path, sizeof(path));
		rmdir(path);
	}
}

/* The pins, the markers, the pin directory and the default parent if empty. */
static void unpin_all(const char *pin_dir)
{
	char path[512];

	for (int i = 0; i < M_NR; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, map_names[i]);
		unlink(path);
	}
	for (size_t i = 0; i < sizeof(old_maps) / sizeof(old_maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, old_maps[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, MARK_CLSACT);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, MARK_XDP_STATE);
	rmdir(path);
	if (rmdir(pin_dir) == 0) {
		/* the default parent, if now empty */
		snprintf(path, sizeof(path), "%s", pin_dir);
		char *slash = strrchr(path, '/');

		if (slash && slash != path) {
			*slash = 0;
			if (!strcmp(path, "/sys/fs/bpf/esptag"))
				rmdir(path);
		}
	}
}

void bpf_teardown(struct daemon *d, bool keep, const char *pin_dir)
{
	if (!keep && !d->bpf.adopted) {
		if (d->bpf.tc_egress)
			detach_tc(d, BPF_TC_EGRESS);
		if (d->bpf.tc_ingress)
			detach_tc(d, BPF_TC_INGRESS);
		if (d->bpf.xdp_mode == ESPTAG_XDP_SINGLE || d->bpf.xdp_mode == ESPTAG_XDP_DISPATCHER)
			xdp_detach(d);
		remove_made(d, pin_dir);
	}
	for (int i = 0; i < M_NR; i++) {
		if (d->bpf.map_fd[i] >= 0)
			close(d->bpf.map_fd[i]);
		d->bpf.map_fd[i] = -1;
	}
	if (d->bpf.tx_skel)
		esptag_tx__destroy(d->bpf.tx_skel);
	if (d->bpf.rx_skel)
		esptag_rx__destroy(d->bpf.rx_skel);
	d->bpf.tx_skel = d->bpf.rx_skel = NULL;
	if (!keep && d->bpf.pinned_by_us)
		unpin_all(pin_dir);
}

/* ---- --teardown: what a stopped daemon left running -------------------------- */

/* Is program id an esptag program (its name starts with prefix)? */
static bool prog_named(__u32 id, const char *prefix)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	bool ok;
	int fd;

	if (!id)
		return false;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strncmp(info.name, prefix, strlen(prefix));
	close(fd);
	return ok;
}

void tc_detach_leftover(int ifindex, int where, uint32_t handle, uint32_t prio)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);

	if (bpf_tc_query(&hook, &opts) || !prog_named(opts.prog_id, "esptag_"))
		return;
	opts.prog_id = 0;
	opts.prog_fd = 0;
	opts.flags = 0;
	if (bpf_tc_detach(&hook, &opts))
		log_warn("tc: cannot detach the esptag program from ifindex %d (%s)", ifindex,
			 where == BPF_TC_EGRESS ? "egress" : "ingress");
	else
		log_info("tc: detached the esptag program from ifindex %d (%s)", ifindex,
			 where == BPF_TC_EGRESS ? "egress" : "ingress");
}

void bpf_remove_leftover(struct daemon *d, const char *pin_dir, uint32_t tc_prio)
{
	tc_detach_leftover(d->ifindex, BPF_TC_EGRESS, TC_HANDLE, tc_prio);
	tc_detach_leftover(d->ifindex, BPF_TC_INGRESS, TC_HANDLE, tc_prio);
	xdp_detach_leftover(d);
	remove_made(d, pin_dir);
	for (int i = 0; i < M_NR; i++) {
		if (d->bpf.map_fd[i] >= 0)
			close(d->bpf.map_fd[i]);
		d->bpf.map_fd[i] = -1;
	}
	unpin_all(pin_dir);
}

/* Open whatever maps are pinned in dir (none is an error here). */
int bpf_open_leftover(struct daemon *d, const char *dir)
{
	char path[512];
	int n = 0;

	libbpf_set_print(libbpf_log);
	d->bpf.ncpus = libbpf_num_possible_cpus();
	for (int i = 0; i < M_NR; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		d->bpf.map_fd[i] = bpf_obj_get(path);
		n += d->bpf.map_fd[i] >= 0;
	}
	return n;
}
