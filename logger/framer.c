/* SPDX-License-Identifier: MIT */
/*
 * Line framing. Records are cut only at '\n', at max_line for overlong lines, and (by the
 * caller) at an idle flush or EOF; a read that ends mid-line never cuts a record, because the
 * unfinished tail is carried over to the next read.
 */
#include <string.h>

#include "logger/logger-internal.h"

void ctrlog_framer_init(struct ctrlog_framer *f, uint8_t stream, uint32_t max_line,
			ctrlog_emit_fn emit, void *emit_ctx)
{
	f->max_line = max_line;
	f->stream = stream;
	f->emit = emit;
	f->emit_ctx = emit_ctx;
	f->n_chunk = 0;
	f->n_partial = 0;
	f->line_open = false;
}

int ctrlog_framer_flush(struct ctrlog_framer *f)
{
	size_t n = f->n_chunk, partial = f->n_partial;

	if (n == 0)
		return 0;
	f->n_chunk = 0;
	f->n_partial = 0;
	return f->emit(f->emit_ctx, f->chunk, n, partial);
}

static int push(struct ctrlog_framer *f, const char *data, size_t len, bool partial)
{
	struct ctrlog_record *r = &f->chunk[f->n_chunk++];

	r->data = data;
	r->len = (uint32_t)len;
	r->stream = f->stream;
	r->partial = partial;
	f->n_partial += partial;
	f->line_open = partial;
	if (f->n_chunk == sizeof(f->chunk) / sizeof(f->chunk[0]))
		return ctrlog_framer_flush(f);
	return 0;
}

/* A finished line of any length: P pieces of max_line, then the F remainder. */
static int push_line(struct ctrlog_framer *f, const char *line, size_t len, int *count)
{
	int r;

	while (len > f->max_line) {
		r = push(f, line, f->max_line, true);
		if (r < 0)
			return r;
		line += f->max_line;
		len -= f->max_line;
		(*count)++;
	}
	(*count)++;
	return push(f, line, len, false);
}

int ctrlog_framer_emit_rest(struct ctrlog_framer *f, const char *buf, size_t len, bool partial)
{
	int r = push(f, buf, len, partial);

	if (r < 0)
		return r;
	return ctrlog_framer_flush(f);
}

int ctrlog_framer_feed(struct ctrlog_framer *f, char *buf, size_t len, size_t *held)
{
	size_t pos = 0, scan = *held;
	int count = 0, r;

	for (;;) {
		const char *nl = memchr(buf + scan, '\n', len - scan);

		if (!nl)
			break;
		r = push_line(f, buf + pos, (size_t)(nl - (buf + pos)), &count);
		if (r < 0)
			return r;
		pos = scan = (size_t)(nl - buf) + 1;
	}
	/* No newline in the tail: only a run longer than max_line can be cut now. A run of exactly
	 * max_line is held, since the next byte may be the '\n' that makes it an F record. */
	while (len - pos > f->max_line) {
		r = push(f, buf + pos, f->max_line, true);
		if (r < 0)
			return r;
		pos += f->max_line;
		count++;
	}
	r = ctrlog_framer_flush(f);
	if (r < 0)
		return r;
	if (pos > 0 && len > pos)
		memmove(buf, buf + pos, len - pos);
	*held = len - pos;
	return count;
}

int ctrlog_framer_end(struct ctrlog_framer *f)
{
	if (!f->line_open)
		return ctrlog_framer_flush(f);
	return ctrlog_framer_emit_rest(f, "", 0, false);
}
