/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_K8S_FILE_READER_H
#define CTRLOG_K8S_FILE_READER_H

/*
 * Internal: reading k8s-file (CRI) records, `<time> <stream> <tag> <content>`, as written by
 * ctrlog, conmon or containerd. The time may have 1-9 fractional digits and `Z` or `±hh:mm`.
 * The joiner puts the `P` pieces of a line back together, per stream.
 *
 * Every function returns 0 (or a count where documented) or a negative errno value; output
 * parameters are left untouched on failure. Nothing here prints or exits.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One record. content points into the caller's line. */
struct ctrlog_k8s_record {
	int64_t time_ns;     /* nanoseconds since the epoch, UTC */
	int stream;          /* CTRLOG_STDOUT or CTRLOG_STDERR */
	bool partial;        /* a `P` record: the line goes on in the next record of the stream */
	const char *content;
	size_t len;
};

/*
 * Parses one record: line[0, len) without its terminating '\n'. Returns -EINVAL when it is not a
 * valid record (bad time, stream or tag, or a missing separator), -ERANGE when the time is
 * outside int64 nanoseconds.
 */
int ctrlog_k8s_parse_record(const char *line, size_t len, struct ctrlog_k8s_record *ret);

/* A whole line: the content of its pieces joined, and the time of its first piece. */
struct ctrlog_k8s_line {
	int64_t time_ns;
	int stream;
	const char *data;
	size_t len;
};

struct ctrlog_k8s_joiner;

/* Creates a joiner holding nothing. Free it with ctrlog_k8s_joiner_free(). */
int ctrlog_k8s_joiner_new(struct ctrlog_k8s_joiner **ret);
/* Frees the joiner and what it holds; NULL is fine. */
void ctrlog_k8s_joiner_free(struct ctrlog_k8s_joiner *j);

/*
 * Adds a record. Returns 1 and fills *ret_line when the record ends a line (an `F` record), 0
 * when it was held as a piece, -EINVAL for a bad stream or -ENOMEM. ret_line->data points either
 * into rec's content (when no piece was held: no copy) or into the joiner; it stays valid until
 * the next call on this joiner or until the caller's buffer changes, whichever comes first.
 */
int ctrlog_k8s_joiner_add(struct ctrlog_k8s_joiner *j, const struct ctrlog_k8s_record *rec,
			  struct ctrlog_k8s_line *ret_line);

/*
 * Hands out the pieces held for one stream as a line (for a log that ended mid-line) and forgets
 * them. Returns 1 with *ret_line filled (valid until the next call on the joiner), 0 when
 * nothing is held for any stream. Call it until it returns 0.
 */
int ctrlog_k8s_joiner_take_held(struct ctrlog_k8s_joiner *j, struct ctrlog_k8s_line *ret_line);

/* Forgets held pieces (after a gap in the history, they belong to a line that is lost). */
void ctrlog_k8s_joiner_reset(struct ctrlog_k8s_joiner *j);

#endif
