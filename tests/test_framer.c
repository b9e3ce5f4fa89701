/* SPDX-License-Identifier: MIT */
/* logger/framer.c: where records are cut, whatever the read boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "logger/logger-internal.h"

#define MAX_RECORDS 4096

/* What the framer emitted, copied out since record data lives only during the call. */
struct capture {
	size_t n;
	struct {
		char *data;
		uint32_t len;
		bool partial;
	} rec[MAX_RECORDS];
};

static int capture_emit(void *ctx, const struct ctrlog_record *records, size_t n,
			 size_t n_partial)
{
	struct capture *c = ctx;
	size_t partial = 0;

	for (size_t i = 0; i < n; i++)
		partial += records[i].partial;
	assert_int_equal(partial, n_partial);
	for (size_t i = 0; i < n; i++) {
		assert_true(c->n < MAX_RECORDS);
		c->rec[c->n].data = malloc(records[i].len + 1);
		memcpy(c->rec[c->n].data, records[i].data, records[i].len);
		c->rec[c->n].len = records[i].len;
		c->rec[c->n].partial = records[i].partial;
		c->n++;
	}
	return 0;
}

static void capture_free(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->rec[i].data);
	free(c);
}

/* Feeds `input` in reads of `step` bytes through a buffer of max_line + step bytes, as the
 * logger does, then ends the stream (a held tail becomes F). */
static struct capture *frame(const char *input, size_t len, size_t step, uint32_t max_line)
{
	struct capture *c = calloc(1, sizeof(*c));
	struct ctrlog_framer *f = calloc(1, sizeof(*f));
	char *buf = malloc(max_line + step);
	size_t held = 0;

	ctrlog_framer_init(f, CTRLOG_STDOUT, max_line, capture_emit, c);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;

		memcpy(buf + held, input + off, n);
		assert_true(ctrlog_framer_feed(f, buf, held + n, &held) >= 0);
		assert_true(held <= max_line);
	}
	if (held)
		assert_int_equal(ctrlog_framer_emit_rest(f, buf, held, false), 0);
	free(buf);
	free(f);
	return c;
}

static void assert_record(const struct capture *c, size_t i, const char *data, size_t len,
			  bool partial)
{
	assert_true(i < c->n);
	assert_int_equal(c->rec[i].len, len);
	assert_memory_equal(c->rec[i].data, data, len);
	assert_int_equal(c->rec[i].partial, partial);
}

static void test_one_byte_reads_give_one_record(void **state)
{
	const char *line = "hello, world: a line read one byte at a time\n";
	struct capture *c = frame(line, strlen(line), 1, 16384);

	(void)state;
	assert_int_equal(c->n, 1);
	assert_record(c, 0, line, strlen(line) - 1, false);
	capture_free(c);
}

/* Every read size from 1 to 97 bytes must give the same records as one big read. */
static void test_any_read_split_same_records(void **state)
{
	char input[4000];
	size_t len = 0;

	(void)state;
	for (int i = 0; len < sizeof(input) - 64; i++)
		len += (size_t)snprintf(input + len, sizeof(input) - len, "line %d %.*s\n", i, i % 50,
					"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	struct capture *whole = frame(input, len, len, 16384);

	for (size_t step = 1; step < 98; step++) {
		struct capture *c = frame(input, len, step, 16384);

		assert_int_equal(c->n, whole->n);
		for (size_t i = 0; i < c->n; i++)
			assert_record(c, i, whole->rec[i].data, whole->rec[i].len, false);
		capture_free(c);
	}
	capture_free(whole);
}

static void test_long_line_split_at_max_line(void **state)
{
	size_t len = 40000;
	char *input = malloc(len + 1);

	(void)state;
	for (size_t i = 0; i < len; i++)
		input[i] = (char)('a' + i % 26);
	input[len] = '\n';
	for (size_t step = 1000; step <= 65536; step *= 4) {
		struct capture *c = frame(input, len + 1, step, 16384);

		assert_int_equal(c->n, 3);
		assert_record(c, 0, input, 16384, true);
		assert_record(c, 1, input + 16384, 16384, true);
		assert_record(c, 2, input + 32768, 7232, false);
		capture_free(c);
	}
	free(input);
}

/* A line of exactly max_line bytes is one F record, not a P and an empty F. */
static void test_line_of_exactly_max_line(void **state)
{
	char input[101];

	(void)state;
	memset(input, 'z', 100);
	input[100] = '\n';
	for (size_t step = 1; step <= 101; step += 20) {
		struct capture *c = frame(input, sizeof(input), step, 100);

		assert_int_equal(c->n, 1);
		assert_record(c, 0, input, 100, false);
		capture_free(c);
	}
}

static void test_eof_mid_line_is_final(void **state)
{
	const char *input = "first\nunfinished";
	struct capture *c = frame(input, strlen(input), 3, 16384);

	(void)state;
	assert_int_equal(c->n, 2);
	assert_record(c, 0, "first", 5, false);
	assert_record(c, 1, "unfinished", 10, false);
	capture_free(c);
}

static void test_empty_lines(void **state)
{
	struct capture *c = frame("\n\na\n\n", 5, 1, 16384);

	(void)state;
	assert_int_equal(c->n, 4);
	assert_record(c, 0, "", 0, false);
	assert_record(c, 1, "", 0, false);
	assert_record(c, 2, "a", 1, false);
	assert_record(c, 3, "", 0, false);
	capture_free(c);
}

static void test_binary_bytes_exact(void **state)
{
	const char input[] = "a\rb\0c\xff\xfe\xc3(\r\n\0\n";
	struct capture *c = frame(input, sizeof(input) - 1, 2, 16384);

	(void)state;
	assert_int_equal(c->n, 2);
	assert_record(c, 0, "a\rb\0c\xff\xfe\xc3(\r", 10, false);
	assert_record(c, 1, "\0", 1, false);
	capture_free(c);
}

/* A stream of nothing but a long run without newline keeps memory bounded: the framer never
 * holds more than max_line bytes and cuts P records as it goes. */
static void test_no_newline_bounded(void **state)
{
	size_t len = 1000000;
	char *input = malloc(len);
	struct capture *c;
	size_t total = 0;

	(void)state;
	memset(input, 'q', len);
	c = frame(input, len, 65536, 16384);
	for (size_t i = 0; i < c->n; i++) {
		assert_true(c->rec[i].len <= 16384);
		assert_int_equal(c->rec[i].partial, i + 1 < c->n);
		total += c->rec[i].len;
	}
	assert_int_equal(total, len);
	capture_free(c);
	free(input);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_byte_reads_give_one_record),
		cmocka_unit_test(test_any_read_split_same_records),
		cmocka_unit_test(test_long_line_split_at_max_line),
		cmocka_unit_test(test_line_of_exactly_max_line),
		cmocka_unit_test(test_eof_mid_line_is_final),
		cmocka_unit_test(test_empty_lines),
		cmocka_unit_test(test_binary_bytes_exact),
		cmocka_unit_test(test_no_newline_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
