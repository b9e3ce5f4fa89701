/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for logger/framer.c. The first two bytes choose the max line size and the
 * read size; the rest is the stream. Whatever the input and however it is cut into reads,
 * the records must rebuild it exactly, never exceed max_line, and P records must be exactly
 * max_line long (no idle flush here).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logger/logger-internal.h"

struct rebuild {
	uint8_t *out;
	size_t len;
	uint32_t max_line;
};

static int check_emit(void *ctx, const struct ctrlog_record *records, size_t n,
			 size_t n_partial)
{
	struct rebuild *rb = ctx;
	size_t partial = 0;

	for (size_t i = 0; i < n; i++)
		partial += records[i].partial;
	if (partial != n_partial)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		const struct ctrlog_record *r = &records[i];

		if (r->len > rb->max_line || (r->partial && r->len != rb->max_line))
			__builtin_trap();
		if (memchr(r->data, '\n', r->len))
			__builtin_trap();
		memcpy(rb->out + rb->len, r->data, r->len);
		rb->len += r->len;
		if (!r->partial)
			rb->out[rb->len++] = '\n';
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctrlog_framer f;
	struct rebuild rb;
	uint32_t max_line;
	size_t step, held = 0;
	char *buf;

	if (size < 2)
		return 0;
	max_line = 1u + data[0];
	step = 1u + data[1];
	data += 2;
	size -= 2;
	rb.out = malloc(size * 2 + 2);
	rb.len = 0;
	rb.max_line = max_line;
	buf = malloc(max_line + step);
	ctrlog_framer_init(&f, CTRLOG_STDOUT, max_line, check_emit, &rb);
	for (size_t off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		memcpy(buf + held, data + off, n);
		if (ctrlog_framer_feed(&f, buf, held + n, &held) < 0 || held > max_line)
			__builtin_trap();
	}
	if (held && ctrlog_framer_emit_rest(&f, buf, held, false) < 0)
		__builtin_trap();
	/* The final F of a stream ending mid-line adds a '\n' the input did not have. */
	if (held)
		rb.len--;
	if (rb.len != size || memcmp(rb.out, data, size) != 0)
		__builtin_trap();
	free(buf);
	free(rb.out);
	return 0;
}
