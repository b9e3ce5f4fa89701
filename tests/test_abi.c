/* SPDX-License-Identifier: MIT */
/* The ABI: callers built against an older, shorter ctrlog_config or ctrlog_stats keep working. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrlog/ctrlog.h"
#include "test-util.h"

#define CANARY 0xa5
/* A caller whose header ended before max_line: every later field is missing. */
#define OLD_CONFIG_SIZE offsetof(struct ctrlog_config, max_line)
/* A caller whose header ended before the rotation counters were added. */
#define OLD_STATS_SIZE offsetof(struct ctrlog_stats, rotation_errors)

union stats_buf {
	struct ctrlog_stats st;
	unsigned char raw[sizeof(struct ctrlog_stats) + 16];
};

union config_buf {
	struct ctrlog_config cfg;
	unsigned char raw[sizeof(struct ctrlog_config) + 16];
};

static void assert_canary(const unsigned char *raw, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		assert_int_equal(raw[i], CANARY);
}

/* What lies beyond the old caller's struct is its own memory: garbage the library must not
 * read as config (0xa5... is an invalid max_line) nor overwrite. */
static void old_config(union config_buf *b, const char *log)
{
	memset(b->raw, CANARY, sizeof(b->raw));
	ctrlog_config_init_size(&b->cfg, OLD_CONFIG_SIZE);
	assert_int_equal(b->cfg.struct_size, OLD_CONFIG_SIZE);
	assert_canary(b->raw, OLD_CONFIG_SIZE, sizeof(b->raw));
	b->cfg.log_path = log;
}

static void test_old_config_takes_defaults(void **state)
{
	struct test_logger_fixture *f = *state;
	union config_buf b;
	size_t len = CTRLOG_DEFAULT_MAX_LINE + 10;
	char *line = malloc(len + 1);
	struct ctrlog_stats st;

	assert_non_null(line);
	old_config(&b, f->log);
	assert_int_equal(ctrlog_logger_new(&b.cfg, &f->logger), 0);
	memset(line, 'x', len);
	line[len] = '\n';
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, line, len + 1), 0);
	ctrlog_stats_init(&st);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	/* The default max_line split the line once. */
	assert_int_equal(st.stream[0].records, 2);
	assert_int_equal(st.stream[0].partial_records, 1);
	free(line);
}

static void test_config_size_too_small(void **state)
{
	struct test_logger_fixture *f = *state;
	ctrlog_logger *untouched = (ctrlog_logger *)f;

	f->cfg.struct_size = CTRLOG_CONFIG_SIZE_MIN - 1;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &untouched), -EINVAL);
	assert_ptr_equal(untouched, f);
	f->cfg.struct_size = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &untouched), -EINVAL);
	assert_ptr_equal(untouched, f);
}

static void feed_hello(struct test_logger_fixture *f)
{
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "hello\n", 6), 0);
}

static void test_old_stats_get_their_bytes(void **state)
{
	struct test_logger_fixture *f = *state;
	union stats_buf b;

	feed_hello(f);
	memset(b.raw, CANARY, sizeof(b.raw));
	b.st.struct_size = OLD_STATS_SIZE;
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &b.st), 0);
	assert_int_equal(b.st.struct_size, OLD_STATS_SIZE);
	assert_int_equal(b.st.stream[0].bytes_in, 6);
	assert_int_equal(b.st.stream[0].records, 1);
	assert_int_equal(b.st.last_write_error, 0);
	assert_canary(b.raw, OLD_STATS_SIZE, sizeof(b.raw));
}

static void test_stats_whole_struct(void **state)
{
	struct test_logger_fixture *f = *state;
	union stats_buf b;

	feed_hello(f);
	memset(b.raw, CANARY, sizeof(b.raw));
	ctrlog_stats_init(&b.st);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &b.st), 0);
	assert_int_equal(b.st.struct_size, sizeof(struct ctrlog_stats));
	assert_int_equal(b.st.freed_files, 0);
	assert_canary(b.raw, sizeof(struct ctrlog_stats), sizeof(b.raw));
}

/* A newer caller's bigger struct gets what the library has; the rest stays the caller's. */
static void test_stats_bigger_struct(void **state)
{
	struct test_logger_fixture *f = *state;
	union stats_buf b;

	feed_hello(f);
	memset(b.raw, CANARY, sizeof(b.raw));
	b.st.struct_size = sizeof(b.raw);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &b.st), 0);
	assert_int_equal(b.st.struct_size, sizeof(struct ctrlog_stats));
	assert_canary(b.raw, sizeof(struct ctrlog_stats), sizeof(b.raw));
}

static void test_stats_size_too_small(void **state)
{
	struct test_logger_fixture *f = *state;
	union stats_buf b, before;

	feed_hello(f);
	memset(b.raw, CANARY, sizeof(b.raw));
	b.st.struct_size = CTRLOG_STATS_SIZE_MIN - 1;
	before = b;
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &b.st), -EINVAL);
	assert_memory_equal(b.raw, before.raw, sizeof(b.raw));
	b.st.struct_size = 0;
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &b.st), -EINVAL);
}

/* add_fd owns the fd even when it refuses it: closed, not leaked. */
static void assert_add_fd_refused(ctrlog_logger *l, enum ctrlog_stream stream)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(ctrlog_logger_add_fd(l, p[0], stream), -EINVAL);
	assert_int_equal(fcntl(p[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	close(p[1]);
}

static void test_null_logger(void **state)
{
	struct ctrlog_stats st;

	(void)state;
	assert_int_equal(ctrlog_logger_get_fd(NULL), -EINVAL);
	assert_int_equal(ctrlog_logger_dispatch(NULL), -EINVAL);
	assert_int_equal(ctrlog_logger_drain(NULL), -EINVAL);
	assert_int_equal(ctrlog_logger_stalled(NULL), -EINVAL);
	assert_int_equal(ctrlog_logger_stop_waiting(NULL), -EINVAL);
	assert_add_fd_refused(NULL, CTRLOG_STDOUT);
	assert_int_equal(ctrlog_logger_feed(NULL, CTRLOG_STDOUT, "x\n", 2), -EINVAL);
	assert_int_equal(ctrlog_logger_feed_eof(NULL, CTRLOG_STDOUT), -EINVAL);
	assert_int_equal(ctrlog_logger_flush(NULL), -EINVAL);
	assert_int_equal(ctrlog_logger_reopen(NULL), -EINVAL);
	assert_int_equal(ctrlog_logger_rotate(NULL), -EINVAL);
	ctrlog_stats_init(&st);
	assert_int_equal(ctrlog_logger_get_stats(NULL, &st), -EINVAL);
	ctrlog_logger_finish(NULL);
	ctrlog_logger_free(NULL);
	ctrlog_config_init_size(NULL, sizeof(struct ctrlog_config));
	assert_int_equal(ctrlog_id_validate(NULL), -EINVAL);
	assert_non_null(ctrlog_strerror(-123456));
}

static void test_bad_arguments(void **state)
{
	struct test_logger_fixture *f = *state;
	const enum ctrlog_stream bad[] = { (enum ctrlog_stream)-1, (enum ctrlog_stream)2,
					   (enum ctrlog_stream)99 };
	ctrlog_logger *untouched = (ctrlog_logger *)f;

	assert_int_equal(ctrlog_logger_new(NULL, &untouched), -EINVAL);
	assert_ptr_equal(untouched, f);
	assert_int_equal(ctrlog_logger_new(&f->cfg, NULL), -EINVAL);
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_add_fd_refused(f->logger, bad[i]);
		assert_int_equal(ctrlog_logger_feed(f->logger, bad[i], "x\n", 2), -EINVAL);
		assert_int_equal(ctrlog_logger_feed_eof(f->logger, bad[i]), -EINVAL);
	}
	assert_int_equal(ctrlog_logger_add_fd(f->logger, -1, CTRLOG_STDOUT), -EINVAL);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, NULL, 1), -EINVAL);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, NULL, 0), 0);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, NULL), -EINVAL);
	/* The logger still works after all that. */
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "x\n", 2), 0);
}

/* After ctrlog_logger_finish() only get_stats and free are allowed; the rest refuse. */
static void test_calls_after_finish(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st;

	feed_hello(f);
	ctrlog_logger_finish(f->logger);
	assert_int_equal(ctrlog_logger_dispatch(f->logger), -EINVAL);
	assert_int_equal(ctrlog_logger_drain(f->logger), -EINVAL);
	assert_int_equal(ctrlog_logger_stop_waiting(f->logger), -EINVAL);
	assert_add_fd_refused(f->logger, CTRLOG_STDOUT);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "x\n", 2), -EINVAL);
	assert_int_equal(ctrlog_logger_feed_eof(f->logger, CTRLOG_STDOUT), -EINVAL);
	assert_int_equal(ctrlog_logger_flush(f->logger), -EINVAL);
	assert_int_equal(ctrlog_logger_reopen(f->logger), -EINVAL);
	assert_int_equal(ctrlog_logger_rotate(f->logger), -EINVAL);
	ctrlog_stats_init(&st);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.stream[0].records, 1);
}

#if !(CTRLOG_VERSION_MAJOR >= 0 && CTRLOG_VERSION_MINOR >= 0 && CTRLOG_VERSION_PATCH >= 0)
#error "the CTRLOG_VERSION_* macros are not numbers the preprocessor can compare"
#endif

/* The library this test runs with is the one built with the header it was compiled against. */
static void test_version(void **state)
{
	char want[64];

	(void)state;
	snprintf(want, sizeof(want), "%d.%d.%d", CTRLOG_VERSION_MAJOR, CTRLOG_VERSION_MINOR,
		 CTRLOG_VERSION_PATCH);
	assert_string_equal(ctrlog_version(), want);
	assert_string_equal(CTRLOG_VERSION_STRING, want);
	assert_string_equal(ctrlog_version(), CTRLOG_MESON_VERSION);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, test_logger_setup, test_logger_teardown)
	const struct CMUnitTest tests[] = {
		T(test_old_config_takes_defaults),
		T(test_config_size_too_small),
		T(test_old_stats_get_their_bytes),
		T(test_stats_whole_struct),
		T(test_stats_bigger_struct),
		T(test_stats_size_too_small),
		T(test_bad_arguments),
		T(test_calls_after_finish),
		cmocka_unit_test(test_null_logger),
		cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
