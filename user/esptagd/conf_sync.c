// SPDX-License-Identifier: GPL-2.0-only
/*
 * The configuration file's policies (docs/esptagd.8, CONFIGURATION FILE):
 * at start and at each SIGHUP, the policy set becomes the file's through the
 * very requests esptag sends (spd_ctl.c). A changed policy is one in-place
 * update (the data path sees its old or its new action, never none); new
 * ones are added and changed ones updated before those gone are deleted.
 */
#include <stdlib.h>
#include <string.h>
#include "esptagd.h"

typedef void (*pol_op)(struct daemon *d, const struct esptag_ctl_view *v, struct reply *r);

/* One policy request as if from the control socket; 0 or -1 (logged). */
static int request(struct daemon *d, pol_op fn, const struct esptag_ctl_policy *c,
		   const char *path, int line)
{
	struct esptag_ctl_view v = { .payload = (const uint8_t *)c, .item_size = sizeof(*c) };
	struct reply r = { .err_index = UINT32_MAX, .isz = sizeof(*c) };

	v.hdr.count = 1;
	fn(d, &v, &r);
	free(r.items);
	if (!r.status)
		return 0;
	if (line)
		log_err("%s:%d: policy not applied: %s", path, line, r.msg);
	else
		log_err("%s: policy not deleted: %s", path, r.msg);
	return -1;
}

static bool in_file(const struct conf *cf, const struct esptag_ctl_policy *c)
{
	for (size_t i = 0; i < cf->npols; i++)
		if (conf_pol_same_sel(&cf->pols[i].c, c))
			return true;
	return false;
}

/* The file's view of policy p (what it would read back as). */
static bool differs(const struct pol *p, const struct esptag_ctl_policy *c)
{
	return !conf_pol_same(&p->c, c);
}

static int sync_one(struct daemon *d, const struct conf *cf, const struct conf_pol *fp,
		    bool claim)
{
	struct pol *p = pol_find(d, &fp->c);

	if (!p) {
		if (request(d, ctl_policy_add, &fp->c, cf->path, fp->line))
			return -1;
		p = pol_find(d, &fp->c);
		if (p)
			p->from_conf = true;
		return 0;
	}
	if (!p->from_conf && !claim) {
		log_warn("%s:%d: policy %u for this src, dst and dir was added with esptag: left as it is (delete it, then reload, to hand it to the file)",
			 cf->path, fp->line, p->c.id);
		return 0;
	}
	p->from_conf = true;
	if (!differs(p, &fp->c))
		return 0;
	return request(d, ctl_policy_update, &fp->c, cf->path, fp->line);
}

int conf_sync(struct daemon *d, const struct conf *cf, bool claim)
{
	int failed = 0;
	size_t added = 0, gone = 0;

	for (size_t i = 0; i < cf->npols; i++) {
		bool had = pol_find(d, &cf->pols[i].c) != NULL;

		if (sync_one(d, cf, &cf->pols[i], claim))
			failed++;
		else if (!had)
			added++;
	}
	for (size_t i = 0; i < d->pol_cap; i++) {
		struct pol *p = &d->pols[i];
		struct esptag_ctl_policy c;

		if (!p->used || !p->from_conf || in_file(cf, &p->c))
			continue;
		c = p->c;
		if (request(d, ctl_policy_del, &c, cf->path, 0))
			failed++;
		else
			gone++;
	}
	log_info("%s: %zu policies in the file (%zu added, %zu deleted%s)", cf->path, cf->npols,
		 added, gone, failed ? ", some failed" : "");
	return failed;
}
