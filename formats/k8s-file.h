/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_K8S_FILE_H
#define CTRLOG_K8S_FILE_H

/* The k8s-file (CRI) record format: `<time> <stream> <tag> <content>\n`. */

#include <stddef.h>
#include <time.h>

/* "2026-11-27T09:43:42.123456789Z": fixed width, UTC, nine fractional digits. */
#define CTRLOG_K8S_TIME_LEN 30
/* time, ' ', "stdout" or "stderr", ' ', 'F' or 'P', ' ' */
#define CTRLOG_K8S_PREFIX_LEN (CTRLOG_K8S_TIME_LEN + 1 + 6 + 1 + 1 + 1)

/* Writes exactly CTRLOG_K8S_TIME_LEN bytes (no NUL) for a time between years 0 and 9999. */
void ctrlog_k8s_format_time(const struct timespec *ts, char *out);

/* Writes the CTRLOG_K8S_PREFIX_LEN-byte record prefix (no NUL). */
void ctrlog_k8s_format_prefix(const struct timespec *ts, int stream, int partial, char *out);

#endif
