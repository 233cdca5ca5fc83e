/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One log format for the esptag programs: a line on stderr, prefixed with a
 * syslog priority for journald ("<3>esptagd: ..."). log_init() names the
 * program; log_level drops what is less important (default LOG_INFO_).
 */
#ifndef ESPTAG_LOG_H
#define ESPTAG_LOG_H

#define LOG_ERR_	3
#define LOG_WARN_	4
#define LOG_NOTICE_	5
#define LOG_INFO_	6
#define LOG_DEBUG_	7

extern int log_level;
void log_init(const char *ident);
void logm(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...)	logm(LOG_ERR_, __VA_ARGS__)
#define log_warn(...)	logm(LOG_WARN_, __VA_ARGS__)
#define log_notice(...)	logm(LOG_NOTICE_, __VA_ARGS__)
#define log_info(...)	logm(LOG_INFO_, __VA_ARGS__)
#define log_debug(...)	logm(LOG_DEBUG_, __VA_ARGS__)

#endif
