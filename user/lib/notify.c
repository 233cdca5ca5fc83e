// SPDX-License-Identifier: GPL-2.0-only
/* systemd readiness notifications (notify.h). */
#include "notify.h"

#ifndef ESPTAG_FUZZ	/* the fuzzers build every library file without -lsystemd */
#include <systemd/sd-daemon.h>

void esptag_notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void esptag_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
#endif
