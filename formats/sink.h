/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_SINK_H
#define CTRLOG_SINK_H

/*
 * A sink is where records (or raw bytes) go. Adding a format means adding one file in formats/
 * that fills in this table; the core never knows which sinks exist beyond ctrlog_sinks_open().
 */

#include <stddef.h>
#include <sys/uio.h>

#include "logger/logger-internal.h"

struct ctrlog_sink;

struct ctrlog_sink_ops {
	const char *name;
	/* Framed records. May keep copies of the bytes until flush(); must not keep pointers to
	 * record data after it returns. NULL for sinks that take raw bytes. */
	int (*write_batch)(struct ctrlog_sink *s, const struct ctrlog_batch *b);
	/* Raw bytes exactly as read. NULL for sinks that take records. */
	int (*write_raw)(struct ctrlog_sink *s, enum ctrlog_stream stream, const char *data, size_t len);
	/* The fd raw bytes of a stream may be spliced to, or -1. NULL when never. */
	int (*splice_fd)(struct ctrlog_sink *s, enum ctrlog_stream stream);
	int (*flush)(struct ctrlog_sink *s);
	int (*reopen)(struct ctrlog_sink *s);  /* NULL when there is nothing to reopen */
	int (*rotate)(struct ctrlog_sink *s);  /* NULL when the sink does not rotate */
	/*
	 * Blocking mode never waits inside a call: write_batch and write_raw return -EAGAIN when
	 * the sink could not send everything at once. It keeps (copies) the rest, in order, and
	 * the core stops reading that stream, so the container waits on its full pipe while the
	 * monitor's loop goes on. retry() sends what the sink keeps for the stream: 0 once
	 * nothing is left, -EAGAIN while it still cannot, with *ret_fd the fd that reports
	 * EPOLLOUT when it can, or -1 for retries on a timer. NULL for sinks that never wait.
	 */
	int (*retry)(struct ctrlog_sink *s, enum ctrlog_stream stream, int *ret_fd);
	/* Waiting ends for good (a monitor shutting down): what the sink keeps is dropped and
	 * counted, and from now on it sends what goes at once and drops the rest, as in
	 * non-blocking mode. NULL for sinks that never wait. */
	void (*stop_waiting)(struct ctrlog_sink *s);
	/* Adds counters the sink keeps apart from the shared ones (another thread's). NULL if none. */
	void (*collect_stats)(struct ctrlog_sink *s, struct ctrlog_stats *stats);
	/* The sink's last work: writes out what it holds (counting what cannot go as dropped)
	 * and waits for what it runs in the background, so that collect_stats reports final
	 * counters. Idempotent; free does it too. NULL when flush is all it takes. */
	void (*finish)(struct ctrlog_sink *s);
	void (*free)(struct ctrlog_sink *s);
};

struct ctrlog_sink {
	const struct ctrlog_sink_ops *ops;
	struct ctrlog_stats *stats; /* the logger's counters, updated by the sink */
};

/* Constructors; each returns 0 or a negative errno and fills *ret only on success. */
int ctrlog_k8s_file_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
			     struct ctrlog_sink **ret);
int ctrlog_passthrough_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
				struct ctrlog_sink **ret);
int ctrlog_journald_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
			     struct ctrlog_sink **ret);

/*
 * Careful output: writes all of iov[0..n) to fd, retrying on EINTR and short writes and waiting
 * in poll() when fd is non-blocking and full. Returns 0 or a negative errno; *ret_written (may be
 * NULL) receives how many bytes went out, also on failure.
 */
/* Blocking mode's promise, to slow the container rather than drop: waits until a full fd (an
 * inherited non-blocking stdout, a pipe nobody reads yet) takes data again. 0 or -errno. */
int ctrlog_wait_writable(int fd);

int ctrlog_writev_all(int fd, struct iovec *iov, int n, size_t *ret_written);
int ctrlog_write_all(int fd, const void *buf, size_t len, size_t *ret_written);

/* Replaces dirfd/name with content at once: writes name.tmp (never through a symlink), then
 * renames it over name. Returns 0 or a negative errno; no name.tmp is left on failure. */
int ctrlog_write_file_atomic(int dirfd, const char *name, const char *content, size_t len,
			     unsigned mode);

#endif
