// SPDX-License-Identifier: GPL-2.0-only
/*
 * The XDP half of the loader (docs/rx.md "Sharing the port"). esptag_rx goes
 * through libxdp, so it joins a libxdp dispatcher where the kernel has one
 * (freplace), with its run priority (XDP_RUN_CONFIG, --xdp-priority). Where
 * libxdp cannot attach, a single program is attached directly, but only on an
 * empty hook or in place of esptag's own program: a program that is not
 * esptag's is never replaced; esptagd refuses and says what is attached.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "bpf_xdp.h"

bool bpf_quiet_libbpf;
char xdp_state_dir[256];

#define RX_PREFIX	"esptag_rx"	/* esptag_rx, esptag_rx_frags */
#define DISPATCHER	"xdp_dispatcher"

static int libxdp_log(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n > 0 && n <= (int)sizeof(buf) && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	logm(level == LIBXDP_WARN ? LOG_NOTICE_ : LOG_DEBUG_, "%s", buf);
	return 0;
}

void xdp_state_path(char *buf, size_t len)
{
	const char *root = secure_getenv("LIBXDP_BPFFS");

	snprintf(buf, len, "%s/xdp", root ? root : "/sys/fs/bpf");
}

/* The name of program id ("" when it cannot be read). */
static void prog_name(__u32 id, char *name, size_t n)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	name[0] = 0;
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(name, n, "%s", info.name);
	close(fd);
}

static bool is_rx(const char *name)
{
	return !strncmp(name, RX_PREFIX, strlen(RX_PREFIX));
}

/* What the port's XDP hook holds before we attach. */
struct xdp_seen {
	__u32 own_id, own_flags;	/* esptag's own program or all-esptag dispatcher */
	bool shared;			/* a dispatcher that holds other programs too */
	char other[64];			/* the first such program: "name (id N)" */
};

/* The programs of a dispatcher: all esptag's (0), or the first other one. */
static int dispatcher_others(struct daemon *d, struct xdp_seen *s)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(d->ifindex);
	struct xdp_program *p;

	if (libxdp_get_error(mp) || !mp)
		return 0;
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
		if (is_rx(xdp_program__name(p)))
			continue;
		snprintf(s->other, sizeof(s->other), "%s (id %u)", xdp_program__name(p),
			 xdp_program__id(p));
		xdp_multiprog__close(mp);
		return 1;
	}
	xdp_multiprog__close(mp);
	return 0;
}

/* -1 (refused, said why) when a program that is not esptag's is attached. */
static int xdp_look(struct daemon *d, struct xdp_seen *s)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct { __u32 id, flags; const char *mode; } hook[3];
	char name[32];

	memset(s, 0, sizeof(*s));
	if (bpf_xdp_query(d->ifindex, 0, &q))
		return 0; /* the attach itself never replaces (UPDATE_IF_NOEXIST) */
	hook[0].id = q.drv_prog_id, hook[0].flags = XDP_FLAGS_DRV_MODE, hook[0].mode = "native";
	hook[1].id = q.skb_prog_id, hook[1].flags = XDP_FLAGS_SKB_MODE, hook[1].mode = "generic (skb)";
	hook[2].id = q.hw_prog_id, hook[2].flags = XDP_FLAGS_HW_MODE, hook[2].mode = "offload (hw)";
	for (int i = 0; i < 3; i++) {
		if (!hook[i].id)
			continue;
		prog_name(hook[i].id, name, sizeof(name));
		if (!strcmp(name, DISPATCHER) && dispatcher_others(d, s)) {
			s->shared = true;
			continue;
		}
		if (is_rx(name) || !strcmp(name, DISPATCHER)) {
			s->own_id = hook[i].id;
			s->own_flags = hook[i].flags;
			continue;
		}
		log_err("xdp: %s already has XDP program '%s' (id %u, %s mode), which is not esptag's: "
			"esptagd does not replace it. Detach it (ip link set dev %s xdp off), or load it "
			"through libxdp's dispatcher (xdp-loader load %s PROG.o) so that esptag_rx can "
			"join it where the kernel supports the dispatcher",
			d->dev, name[0] ? name : "?", hook[i].id, hook[i].mode, d->dev, d->dev);
		return -1;
	}
	return 0;
}

/*
 * --xdp-priority: libxdp takes a run priority only for a program it has not
 * loaded (xdp_program__set_run_prio refuses a loaded one) and reads it from
 * the program's BTF (XDP_RUN_CONFIG: a struct _<prog> in .xdp_run_config
 * whose member "priority" is a pointer to an array of that many elements).
 * So the number is written there before the object is loaded: the loaded
 * program then carries it, for libxdp here and for xdp-loader status.
 */
int xdp_run_prio_set(struct bpf_object *obj, const char *prog, unsigned int prio)
{
	struct btf *btf = bpf_object__btf(obj);
	char want[64];
	int n = btf ? (int)btf__type_cnt(btf) : 0;

	snprintf(want, sizeof(want), "_%s", prog);
	for (int id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id), *st, *pt, *at;
		const struct btf_member *m;

		if (!btf_is_var(t) || strcmp(btf__name_by_offset(btf, t->name_off), want))
			continue;
		st = btf__type_by_id(btf, t->type);
		if (!btf_is_struct(st))
			break;
		m = btf_members(st);
		for (int i = 0; i < btf_vlen(st); i++, m++) {
			if (strcmp(btf__name_by_offset(btf, m->name_off), "priority"))
				continue;
			pt = btf__type_by_id(btf, m->type);
			at = btf_is_ptr(pt) ? btf__type_by_id(btf, pt->type) : NULL;
			if (!at || !btf_is_array(at))
				break;
			((struct btf_array *)btf_array(at))->nelems = prio;
			return 0;
		}
		break;
	}
	log_err("xdp: %s has no XDP_RUN_CONFIG priority to set", prog);
	return -1;
}

/*
 * A previous daemon's esptag_rx stays in the dispatcher after a stop or a
 * crash: once ours runs next to it, take the old one out (until then a
 * frame runs through both, which at worst drops it: never clear).
 */
static void drop_older_rx(struct daemon *d, struct xdp_multiprog *mp, enum xdp_attach_mode mode,
			  uint32_t ours)
{
	struct xdp_program *p;

	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
		if (xdp_program__id(p) == ours || !is_rx(xdp_program__name(p)))
			continue;
		if (xdp_program__detach(p, d->ifindex, mode, 0))
			log_warn("xdp: cannot take the previous esptag_rx (id %u) out of the dispatcher on %s",
				 xdp_program__id(p), d->dev);
		else
			log_info("xdp: took the previous esptag_rx (id %u) out of the dispatcher on %s",
				 xdp_program__id(p), d->dev);
		return;
	}
}

/* libxdp's attach: 0, or a negative errno (the caller may fall back). */
static int xdp_attach_libxdp(struct daemon *d, int fd, enum xdp_attach_mode mode,
			     const struct bpf_opts *o)
{
	struct xdp_program *xp = xdp_program__from_fd(fd);
	struct xdp_multiprog *mp;
	int err = libxdp_get_error(xp);

	if (err)
		return err;
	log_info("xdp: %s run priority %u, chain call on XDP_PASS %s", xdp_program__name(xp),
		 xdp_program__run_prio(xp),
		 xdp_program__chain_call_enabled(xp, XDP_PASS) ? "yes" : "no");
	bpf_quiet_libbpf = true;
	err = xdp_program__attach(xp, d->ifindex, mode, 0);
	bpf_quiet_libbpf = false;
	if (err) {
		xdp_program__close(xp);
		return err;
	}
	d->bpf.xdp_prog = xp;
	mp = xdp_multiprog__get_from_ifindex(d->ifindex);
	if (!libxdp_get_error(mp) && mp && xdp_multiprog__is_legacy(mp)) {
		d->bpf.xdp_mode = ESPTAG_XDP_SINGLE;
		log_notice("xdp: libxdp attached a single program on %s (no dispatcher on this kernel; "
			   "the run priority does not apply)", d->dev);
	} else {
		d->bpf.xdp_mode = ESPTAG_XDP_DISPATCHER;
		log_info("xdp: attached through the libxdp dispatcher on %s", d->dev);
		if (!libxdp_get_error(mp) && mp)
			drop_older_rx(d, mp, mode, xdp_program__id(xp));
	}
	if (!libxdp_get_error(mp) && mp)
		xdp_multiprog__close(mp);
	return 0;
}

/* Without libxdp: only on an empty hook, or in place of esptag's own. */
static int xdp_attach_single(struct daemon *d, int fd, const struct xdp_seen *s)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	__u32 flags = d->bpf.xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST;
	int old = -1, err;

	if (s->own_id) {
		old = bpf_prog_get_fd_by_id(s->own_id);
		if (old >= 0) {
			ao.old_prog_fd = old;
			flags = d->bpf.xdp_flags | XDP_FLAGS_REPLACE;
			log_info("xdp: replacing esptag's previous program (id %u) on %s", s->own_id,
				 d->dev);
		}
	}
	err = bpf_xdp_attach(d->ifindex, fd, flags, &ao);
	if (old >= 0)
		close(old);
	if (err)
		log_err("xdp: cannot attach on %s: %s%s", d->dev, strerror(-err),
			err == -EBUSY || err == -EEXIST ? " (another XDP program was attached meanwhile, "
			"or one in another mode: esptagd does not replace it)" :
			d->bpf.xdp_flags & XDP_FLAGS_SKB_MODE ? "" : " (try --xdp-skb)");
	else
		d->bpf.xdp_mode = ESPTAG_XDP_SINGLE;
	return err;
}

int xdp_attach(struct daemon *d, int fd, const struct bpf_opts *o)
{
	enum xdp_attach_mode mode = o->skb_mode ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct xdp_seen s;
	int err;

	d->bpf.xdp_fd = fd;
	d->bpf.xdp_flags = o->skb_mode ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	libxdp_set_print(libxdp_log);
	if (xdp_look(d, &s))
		return -1;
	/* libxdp keeps its lock state in <bpffs>/xdp and leaves the directory
	 * behind; remove it at exit if it was not there before us. */
	{
		char dir[sizeof(xdp_state_dir)];

		xdp_state_path(dir, sizeof(dir));
		xdp_state_dir[0] = 0;
		if (access(dir, F_OK))
			snprintf(xdp_state_dir, sizeof(xdp_state_dir), "%s", dir);
	}
	err = xdp_attach_libxdp(d, fd, mode, o);
	if (err && s.shared) {
		log_err("xdp: libxdp could not add esptag_rx to the dispatcher on %s (%s), which also "
			"holds %s: esptagd does not replace it", d->dev, strerror(-err), s.other);
		return -1;
	}
	if (err) {
		log_notice("xdp: libxdp could not attach on %s (%s): this kernel lacks the dispatcher "
			   "(freplace); attaching a single program", d->dev, strerror(-err));
		if (xdp_attach_single(d, fd, &s))
			return -1;
	}
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		d->bpf.xdp_id = info.id;
	return 0;
}

void xdp_detach(struct daemon *d)
{
	enum xdp_attach_mode mode =
		d->bpf.xdp_flags & XDP_FLAGS_SKB_MODE ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	__u32 cur = 0;

	if (d->bpf.xdp_prog) {
		int err = xdp_program__detach(d->bpf.xdp_prog, d->ifindex, mode, 0);

		if (err)
			log_warn("xdp: libxdp detach from %s: %s", d->dev, strerror(-err));
		xdp_program__close(d->bpf.xdp_prog);
		d->bpf.xdp_prog = NULL;
		return;
	}
	/* Only remove the program if it is still ours. */
	if (!bpf_xdp_query_id(d->ifindex, d->bpf.xdp_flags, &cur) && cur == d->bpf.xdp_id)
		bpf_xdp_detach(d->ifindex, d->bpf.xdp_flags, NULL);
}

/* Take esptag_rx out of the dispatcher on d->ifindex. */
static void detach_from_dispatcher(struct daemon *d)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(d->ifindex);
	struct xdp_program *p;

	if (libxdp_get_error(mp) || !mp)
		return;
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
		if (!is_rx(xdp_program__name(p)))
			continue;
		if (xdp_program__detach(p, d->ifindex, xdp_multiprog__attach_mode(mp), 0))
			log_warn("xdp: libxdp could not detach esptag_rx from %s", d->dev);
		else
			log_info("xdp: detached esptag_rx from the dispatcher of %s", d->dev);
		break;
	}
	xdp_multiprog__close(mp);
}

void xdp_detach_leftover(struct daemon *d)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_query_opts, q);
	const __u32 flags[2] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE };
	char name[32];
	__u32 ids[2];

	if (bpf_xdp_query(d->ifindex, 0, &q))
		return;
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	libxdp_set_print(libxdp_log);
	for (int i = 0; i < 2; i++) {
		if (!ids[i])
			continue;
		prog_name(ids[i], name, sizeof(name));
		if (is_rx(name)) {
			/* Only if it is still that program (XDP_FLAGS_REPLACE). */
			int fd = bpf_prog_get_fd_by_id(ids[i]);
			DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = fd);

			if (fd >= 0 && !bpf_xdp_detach(d->ifindex, flags[i] | XDP_FLAGS_REPLACE, &ao))
				log_info("xdp: detached %s from %s", name, d->dev);
			else
				log_warn("xdp: cannot detach %s from %s", name, d->dev);
			if (fd >= 0)
				close(fd);
		} else if (!strcmp(name, DISPATCHER)) {
			detach_from_dispatcher(d);
		}
	}
}
