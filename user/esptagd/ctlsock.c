// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket: one request per connection, decoded (ctl.h), checked
 * against the dispatch table (handler, least item count, privilege) and
 * answered by its handler; MONITOR keeps the connection as a monitor client.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "esptagd.h"

/* Does a daemon answer on the control socket path? */
bool sock_live(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	bool live;
	int probe;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	strcpy(sun.sun_path, path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return false;
	live = !connect(probe, (struct sockaddr *)&sun, sizeof(sun));
	close(probe);
	return live;
}

int ctl_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)];
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = 0;
		if (mkdir(dir, 0755) && errno != EEXIST) {
			log_err("cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	/* A live daemon on this socket? Then refuse rather than steal it. */
	if (sock_live(path)) {
		log_err("another esptagd already serves %s", path);
		return -1;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 64)) {
		umask(old);
		log_err("control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	chmod(path, 0600);
	return fd;
}

/*
 * The read-only socket: mode 0660, group GROUP (root's when it cannot be
 * set). Whoever the file mode lets connect may send the CTL_READ requests
 * of the dispatch table, nothing else.
 */
int ctl_listen_ro(const char *path, const char *group)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct group *g = getgrnam(group);
	mode_t old;
	int fd;

	if (!g) {
		log_err("--ro-group %s: no such group", group);
		return -1;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	old = umask(0177);	/* 0600 until the group is set */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 64)) {
		umask(old);
		log_err("read-only control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chown(path, (uid_t)-1, g->gr_gid) || chmod(path, 0660)) {
		log_err("read-only control socket %s: group %s: %s", path, group, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	log_info("read-only control socket %s (group %s)", path, group);
	return fd;
}

typedef void (*ctl_fn)(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);

/* Handlers that do not read the request's items. */
#define NO_ITEMS(name, call)									\
	static void name(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r)	\
	{											\
		call(d, r);									\
	}
NO_ITEMS(h_state_list, ctl_state_list)
NO_ITEMS(h_state_flush, ctl_state_flush)
NO_ITEMS(h_policy_list, ctl_policy_list)
NO_ITEMS(h_policy_flush, ctl_policy_flush)
NO_ITEMS(h_agent_status, ctl_agent_status)
NO_ITEMS(h_agent_sa, ctl_agent_sa)
NO_ITEMS(h_stats, ctl_stats)

/* OWNER requests need the read-write socket (mode 0600) and root or the
 * daemon's uid. READ requests (no change, no key in the reply) are also
 * answered on the read-only socket (--ro-group) to anyone it lets in. */
enum { CTL_READ, CTL_OWNER };

struct ctl_op {
	ctl_fn fn;		/* NULL: MONITOR (takes the connection) */
	uint32_t min_items;
	uint8_t priv;
};

static const struct ctl_op ctl_ops[ESPTAG_CTL_OP_MAX + 1] = {
	[ESPTAG_CTL_STATE_ADD]		= { ctl_state_add, 1, CTL_OWNER },
	[ESPTAG_CTL_STATE_DEL]		= { ctl_state_del, 1, CTL_OWNER },
	[ESPTAG_CTL_STATE_LIST]		= { h_state_list, 0, CTL_READ },
	[ESPTAG_CTL_STATE_FLUSH]	= { h_state_flush, 0, CTL_OWNER },
	[ESPTAG_CTL_POLICY_ADD]		= { ctl_policy_add, 1, CTL_OWNER },
	[ESPTAG_CTL_POLICY_UPDATE]	= { ctl_policy_update, 1, CTL_OWNER },
	[ESPTAG_CTL_POLICY_DEL]		= { ctl_policy_del, 1, CTL_OWNER },
	[ESPTAG_CTL_POLICY_LIST]	= { h_policy_list, 0, CTL_READ },
	[ESPTAG_CTL_POLICY_FLUSH]	= { h_policy_flush, 0, CTL_OWNER },
	[ESPTAG_CTL_AGENT_STATUS]	= { h_agent_status, 0, CTL_READ },
	[ESPTAG_CTL_AGENT_SA]		= { h_agent_sa, 0, CTL_READ },
	[ESPTAG_CTL_STATS]		= { h_stats, 0, CTL_READ },
	[ESPTAG_CTL_VF_ADD]		= { pf_ctl, 1, CTL_OWNER },
	[ESPTAG_CTL_VF_DEL]		= { pf_ctl, 1, CTL_OWNER },
	[ESPTAG_CTL_VF_LIST]		= { pf_ctl, 0, CTL_READ },
	[ESPTAG_CTL_VF_TRUST]		= { pf_ctl, 1, CTL_OWNER },
	[ESPTAG_CTL_VF_RESET]		= { pf_ctl, 1, CTL_OWNER },
	[ESPTAG_CTL_MONITOR]		= { NULL, 0, CTL_OWNER },
	[ESPTAG_CTL_STATE_ALLOCSPI]	= { ctl_state_allocspi, 1, CTL_OWNER },
	[ESPTAG_CTL_STATE_UPDATE]	= { ctl_state_update, 1, CTL_OWNER },
	[ESPTAG_CTL_STATE_GET]		= { ctl_state_get, 1, CTL_READ },
	[ESPTAG_CTL_POLICY_GET]		= { ctl_policy_get, 1, CTL_READ },
	[ESPTAG_CTL_BYPASS_SOCKET]	= { ctl_bypass_socket, 1, CTL_OWNER },
};

static bool peer_is_owner(int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
		return false;
	if (cred.uid != 0 && cred.uid != geteuid()) {
		log_warn("control socket: refused uid %u", cred.uid);
		return false;
	}
	return true;
}

/* MONITOR: the connection stays open as a monitor client. Returns the fd
 * left to close (-1 when it was taken). */
static int ctl_monitor(struct daemon *d, int fd, int ep, struct reply *r)
{
	struct esptag_ctl_hdr h;

	if (d->nmon == (int)(sizeof(d->monitors) / sizeof(d->monitors[0]))) {
		reply_err(r, ESPTAG_CTL_E_NOSPC, "too many monitors");
		return fd;
	}
	esptag_ctl_hdr_init(&h, ESPTAG_CTL_MONITOR, true, 0, 0, 0);
	if (!esptag_ctl_write(fd, &h, NULL)) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };

		fcntl(fd, F_SETFL, O_NONBLOCK);
		d->monitors[d->nmon++] = fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		return -1;
	}
	return fd;
}

static void reply_send(int fd, uint8_t op, const struct reply *r)
{
	struct esptag_ctl_hdr h;

	if (r->status) {
		esptag_ctl_hdr_init(&h, op, true, r->status, 0, strlen(r->msg));
		h.agent_status = r->status == ESPTAG_CTL_E_AGENT ? r->agent_status : 0;
		h.err_index = r->err_index;
		esptag_ctl_write(fd, &h, r->msg);
	} else {
		esptag_ctl_hdr_init(&h, op, true, 0, r->count, r->count * r->isz);
		esptag_ctl_write(fd, &h, r->items);
	}
}

/* A request the codec refused: an error reply under the request's own op if
 * it names one. */
static void reply_bad_request(int fd, const uint8_t *buf, ssize_t n, struct reply *r,
			      const char *err)
{
	struct esptag_ctl_hdr h;

	log_warn("control socket: rejected request: %s", err);
	reply_err(r, ESPTAG_CTL_E_INVAL, "bad request: %s", err);
	h.op = n >= (ssize_t)sizeof(h) && buf[5] >= 1 && buf[5] <= ESPTAG_CTL_OP_MAX ? buf[5] : 1;
	esptag_ctl_hdr_init(&h, h.op, true, r->status, 0, strlen(r->msg));
	esptag_ctl_write(fd, &h, r->msg);
}

/* Run one decoded request; returns the fd left to close (-1: taken). */
static int ctl_dispatch(struct daemon *d, int fd, int ep, bool owner,
			const struct esptag_ctl_view *v, struct reply *r)
{
	uint8_t op = v->hdr.op;
	const struct ctl_op *o = op <= ESPTAG_CTL_OP_MAX ? &ctl_ops[op] : NULL;

	r->isz = esptag_ctl_item_size(op, true);
	log_debug("control: %s (%u items)", esptag_ctl_op_str(op), v->hdr.count);
	if (!o || (!o->fn && op != ESPTAG_CTL_MONITOR))
		reply_err(r, ESPTAG_CTL_E_INVAL, "operation %u is not a request", op);
	else if (o->priv == CTL_OWNER && !owner) {
		log_warn("control socket: %s refused on the read-only socket",
			 esptag_ctl_op_str(op));
		reply_err(r, ESPTAG_CTL_E_PERM,
			  "%s needs the read-write control socket (this one is read-only)",
			  esptag_ctl_op_str(op));
	}
	else if (v->hdr.count < o->min_items)
		reply_err(r, ESPTAG_CTL_E_INVAL, "%s needs at least %u item(s)",
			  esptag_ctl_op_str(op), o->min_items);
	else if (!o->fn)
		fd = ctl_monitor(d, fd, ep, r);
	else
		o->fn(d, v, r);
	if (fd >= 0 && (op != ESPTAG_CTL_MONITOR || r->status))
		reply_send(fd, op, r);
	return fd;
}

void ctl_serve(struct daemon *d, int lfd, int ep, bool ro)
{
	struct timeval tmo = { .tv_sec = 5 };
	struct esptag_ctl_view v;
	struct reply r = { .err_index = UINT32_MAX };
	char err[256];
	uint8_t *buf = NULL;
	ssize_t n;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	/* Read-write socket: refuse anyone but the owner before reading. The
	 * read-only one: its file mode decides; the table, what it may ask. */
	if (!ro && !peer_is_owner(fd)) {
		close(fd);
		return;
	}
	n = esptag_ctl_read(fd, &buf);
	if (n <= 0) {
		if (n < 0)
			log_warn("control socket: bad request: %s", strerror(errno));
		close(fd);
		return;
	}
	snprintf(err, sizeof(err), "a reply is not a request");
	if (esptag_ctl_decode(buf, n, &v, err, sizeof(err)) || (v.hdr.flags & ESPTAG_CTL_F_REPLY))
		reply_bad_request(fd, buf, n, &r, err);
	else
		fd = ctl_dispatch(d, fd, ep, !ro, &v, &r);
	/* The request may have carried keys. */
	esptag_ctl_free(buf);
	if (r.items)
		explicit_bzero(r.items, r.cap * r.isz);
	free(r.items);
	if (fd >= 0)
		close(fd);
}
