/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * systemd readiness (Type=notify units, systemd/): READY=1 once a program
 * serves (esptagd: data path attached and control socket listening;
 * esptag-agent: both packet sockets open), STOPPING=1 when it begins to
 * stop. No-ops without $NOTIFY_SOCKET. Programs using it link -lsystemd.
 */
#ifndef ESPTAG_NOTIFY_H
#define ESPTAG_NOTIFY_H

void esptag_notify_ready(const char *status);
void esptag_notify_stopping(void);

#endif
