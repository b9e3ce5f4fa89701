/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_LOGGER_INTERNAL_H
#define CTRLOG_LOGGER_INTERNAL_H

/* Types shared by the capture core and the sinks. Nothing here is public API. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ctrlog/ctrlog.h"

/* One framed record: a whole line (F) or a piece of one (P). data points into the stream's
 * buffer and stays valid only for the duration of the sink call that receives it. */
struct ctrlog_record {
	const char *data;
	uint32_t len;
	uint8_t stream;  /* enum ctrlog_stream */
	bool partial;    /* P record */
};

/* Records that share one clock reading: everything framed from one read. */
struct ctrlog_batch {
	struct timespec time; /* CLOCK_REALTIME */
	const struct ctrlog_record *records;
	size_t n;
};

/*
 * The framer splits a stream's bytes at '\n'. It works in place on a buffer whose first `held`
 * bytes are an unfinished line carried over from earlier input (known to hold no '\n'), followed
 * by new bytes. Records are handed to `emit` in chunks; when framing returns, the unfinished tail
 * has been moved to the start of the buffer and its length is returned through *held.
 */
typedef int (*ctrlog_emit_fn)(void *ctx, const struct ctrlog_record *records, size_t n,
			      size_t n_partial);

struct ctrlog_framer {
	uint32_t max_line;
	uint8_t stream;
	ctrlog_emit_fn emit;
	void *emit_ctx;
	struct ctrlog_record chunk[256];
	size_t n_chunk;
	size_t n_partial; /* P records in chunk */
	bool line_open;   /* the last record emitted was a P: its line still needs an F */
};

void ctrlog_framer_init(struct ctrlog_framer *f, uint8_t stream, uint32_t max_line,
			ctrlog_emit_fn emit, void *emit_ctx);

/*
 * Frames buf[0..len) where buf[0..*held) is the carried-over unfinished line. On return the
 * unfinished remainder (at most max_line bytes) sits at buf[0..*held). Returns the number of
 * records emitted or a negative errno from emit.
 */
int ctrlog_framer_feed(struct ctrlog_framer *f, char *buf, size_t len, size_t *held);

/* Emits buf[0..len) as one record (P when partial) and flushes the chunk. */
int ctrlog_framer_emit_rest(struct ctrlog_framer *f, const char *buf, size_t len, bool partial);

/* Hands pending records to emit. */
int ctrlog_framer_flush(struct ctrlog_framer *f);

/* The stream is over: a line left open by P records (idle flush, max_line) gets its closing,
 * empty F record, so that a reader never joins it with whatever comes next. */
int ctrlog_framer_end(struct ctrlog_framer *f);

#endif
