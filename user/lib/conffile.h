/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptagd's configuration file (docs/esptagd.8, CONFIGURATION FILE):
 *
 *   # comment
 *   hello-interval = 500          options: the long options' names
 *   policy add src ... dst ... dir out action protect spi 0x1001
 *
 * Policy lines are the esptag CLI grammar (ctl_cli.h); "dev DEV" may be
 * left out. Keys never live here: a state line, or any line with a key
 * keyword (aead, enc, auth, key ...), is refused. The whole file is read
 * and checked at once; an error names the line ("FILE:LINE: what").
 */
#ifndef ESPTAG_CONFFILE_H
#define ESPTAG_CONFFILE_H

#include <stddef.h>
#include "ctl.h"

struct conf_opt {
	char key[32];
	char val[1024];
	int line;
};

struct conf_pol {
	struct esptag_ctl_policy c;
	int line;
};

struct conf {
	char path[1024];
	struct conf_opt *opts;
	size_t nopts;
	struct conf_pol *pols;
	size_t npols;
};

/*
 * Read path into cf. dev: the daemon's device ("" when only the file names
 * it, with "dev = IF"); a policy line without "dev" gets it, one with
 * another dev is refused. Returns 0, or -1 with "FILE:LINE: what is wrong"
 * (or "FILE: why" when it cannot be read) in err; cf is empty then.
 */
int conf_read(const char *path, const char *dev, struct conf *cf, char *err, size_t errlen);
void conf_free(struct conf *cf);
/* Do two policies have the same selector (dir, src, dst)? */
bool conf_pol_same_sel(const struct esptag_ctl_policy *a, const struct esptag_ctl_policy *b);
/* Same selector, and the same action and SA naming (spi, reqid, template)? */
bool conf_pol_same(const struct esptag_ctl_policy *a, const struct esptag_ctl_policy *b);

#endif
