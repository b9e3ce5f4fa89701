/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_K8S_FILE_H
#define CTRLOG_K8S_FILE_H

/* The k8s-file (CRI) record format: `<time> <stream> <tag> <content>\n`. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "2026-11-27T09:43:42.123456789Z": fixed width, UTC, nine fractional digits. */
#define CTRLOG_K8S_TIME_LEN 30
/* time, ' ', "stdout" or "stderr", ' ', 'F' or 'P', ' ' */
#define CTRLOG_K8S_PREFIX_LEN (CTRLOG_K8S_TIME_LEN + 1 + 6 + 1 + 1 + 1)

/* Writes exactly CTRLOG_K8S_TIME_LEN bytes (no NUL) for a time between years 0 and 9999. */
void ctrlog_k8s_format_time(const struct timespec *ts, char *out);

/* Writes the CTRLOG_K8S_PREFIX_LEN-byte record prefix (no NUL). */
void ctrlog_k8s_format_prefix(const struct timespec *ts, int stream, int partial, char *out);

/*
 * Parses the time at the start of a k8s-file record (or a bare RFC 3339 time):
 * YYYY-MM-DDTHH:MM:SS[.f], 1-9 fraction digits, then Z or +hh:mm / -hh:mm, then a space or the
 * end of len. Sets *ret_ns to nanoseconds since the epoch (UTC). Returns -EINVAL when malformed,
 * -ERANGE when outside int64 nanoseconds (years before 1678 or after 2262).
 */
int ctrlog_k8s_parse_time(const char *rec, size_t len, int64_t *ret_ns);

#endif
