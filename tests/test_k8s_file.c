/* SPDX-License-Identifier: MIT */
/*
 * formats/k8s_time.c and formats/k8s_file_writer.c: the timestamp at every kind of boundary,
 * and a writer that survives EINTR and short writes (injected by wrapping writev(), see
 * tests/meson.build) without losing or repeating a byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <cmocka.h>

#include "formats/k8s-file.h"
#include "formats/sink.h"
#include "test-util.h"

/* --- writev injection ---------------------------------------------------------------------- */

ssize_t __real_writev(int fd, const struct iovec *iov, int n);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int n);

/* Each entry is what the next writev() does: 0 = pass through, -1 = fail with EINTR,
 * -2 = fail with EIO, k > 0 = write at most k bytes. */
static int inject[64];
static size_t n_inject, next_inject;
static size_t writev_calls;

ssize_t __wrap_writev(int fd, const struct iovec *iov, int n)
{
	int action = next_inject < n_inject ? inject[next_inject++] : 0;

	writev_calls++;
	if (action < 0) {
		errno = action == -1 ? EINTR : EIO;
		return -1;
	}
	if (action > 0) {
		/* A short write: only the first `action` bytes of the first iovec (or less). */
		struct iovec one = iov[0];

		if (one.iov_len > (size_t)action)
			one.iov_len = (size_t)action;
		return __real_writev(fd, &one, 1);
	}
	return __real_writev(fd, iov, n);
}

static void set_injection(const int *actions, size_t n)
{
	if (n)
		memcpy(inject, actions, n * sizeof(*actions));
	n_inject = n;
	next_inject = 0;
	writev_calls = 0;
}

/* --- time ---------------------------------------------------------------------------------- */

static void reference_time(const struct timespec *ts, char *out)
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_int_equal(n, 19);
	snprintf(out + 19, 12, ".%09uZ", (unsigned)(ts->tv_nsec % 1000000000));
}

/* Formats a time, compares with the libc reference, and parses it back to the same value. */
static void check_time(time_t sec, long nsec)
{
	struct timespec ts = { .tv_sec = sec, .tv_nsec = nsec };
	char got[CTRLOG_K8S_TIME_LEN + 1] = "", want[CTRLOG_K8S_TIME_LEN + 1];
	int64_t ns = 0;

	ctrlog_k8s_format_time(&ts, got);
	reference_time(&ts, want);
	assert_string_equal(got, want);
	assert_int_equal(ctrlog_k8s_parse_time(got, CTRLOG_K8S_TIME_LEN, &ns), 0);
	assert_int_equal(ns, (int64_t)sec * 1000000000 + nsec);
}

static void test_time_known_value(void **state)
{
	struct timespec ts = { .tv_sec = 1795772622, .tv_nsec = 123456789 };
	char got[CTRLOG_K8S_TIME_LEN + 1] = "";

	(void)state;
	ctrlog_k8s_format_time(&ts, got);
	assert_string_equal(got, "2026-11-27T09:43:42.123456789Z");
}

static void test_time_second_and_year_boundaries(void **state)
{
	static const time_t years_end[] = {
		946684799,  /* 1999-12-31T23:59:59, before a leap century year */
		951868799,  /* 2000-02-29T23:59:59 */
		1767225599, /* 2025-12-31T23:59:59 */
		1798761599, /* 2026-12-31T23:59:59 */
		1830297599, /* 2027-12-31T23:59:59 */
		4107542399, /* 2100-02-28T23:59:59, not a leap year */
		0,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(years_end) / sizeof(years_end[0]); i++) {
		check_time(years_end[i], 999999999);
		check_time(years_end[i] + 1, 0);
		check_time(years_end[i] + 1, 1);
	}
}

/* Every day from 1970 to 2200, at a pseudo-random second of it. */
static void test_time_every_day(void **state)
{
	uint32_t x = 12345;

	(void)state;
	for (time_t day = 0; day < 230 * 366; day++) {
		x = x * 1103515245u + 12345u;
		check_time(day * 86400 + (time_t)(x % 86400), (long)(x % 1000000000u));
	}
}

static void test_prefix(void **state)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 5 };
	char p[CTRLOG_K8S_PREFIX_LEN + 1] = "";

	(void)state;
	ctrlog_k8s_format_prefix(&ts, CTRLOG_STDERR, 1, p);
	assert_string_equal(p, "1970-01-01T00:00:00.000000005Z stderr P ");
	ctrlog_k8s_format_prefix(&ts, CTRLOG_STDOUT, 0, p);
	assert_string_equal(p, "1970-01-01T00:00:00.000000005Z stdout F ");
}

/* --- the writer ---------------------------------------------------------------------------- */

static time_t batch_sec = 1795772622;

struct fixture {
	char *dir;
	char *log;
	struct ctrlog_stats stats;
	struct ctrlog_sink *sink;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ctrlog_config cfg;

	f->dir = test_tmpdir();
	f->log = test_path(f->dir, "ctr.log");
	ctrlog_config_init(&cfg);
	cfg.log_path = f->log;
	cfg.max_size = 0;
	assert_int_equal(ctrlog_k8s_file_sink_new(&cfg, &f->stats, &f->sink), 0);
	set_injection(NULL, 0);
	batch_sec = 1795772622;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->sink)
		f->sink->ops->free(f->sink);
	test_rmtree(f->dir);
	free(f->log);
	free(f->dir);
	free(f);
	return 0;
}

static void write_lines(struct fixture *f, const char *const *lines, size_t n, bool partial_last)
{
	struct ctrlog_record recs[16];
	struct ctrlog_batch b = { .time = { .tv_sec = batch_sec, .tv_nsec = 7 }, .records = recs,
				  .n = n };

	for (size_t i = 0; i < n; i++)
		recs[i] = (struct ctrlog_record){ .data = lines[i], .len = (uint32_t)strlen(lines[i]),
						  .stream = (uint8_t)(i % 2),
						  .partial = partial_last && i + 1 == n };
	assert_int_equal(f->sink->ops->write_batch(f->sink, &b), 0);
}

static const char expected_three[] =
	"2026-11-27T09:43:42.000000007Z stdout F one\n"
	"2026-11-27T09:43:42.000000007Z stderr F two\n"
	"2026-11-27T09:43:42.000000007Z stdout P three\n";

static void assert_log(struct fixture *f, const char *want)
{
	size_t len;
	char *got = test_read_file(f->log, &len);

	assert_non_null(got);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

static void test_writer_format(void **state)
{
	struct fixture *f = *state;
	const char *lines[] = { "one", "two", "three" };

	write_lines(f, lines, 3, true);
	assert_int_equal(f->sink->ops->flush(f->sink), 0);
	assert_log(f, expected_three);
	assert_int_equal(f->stats.writes, 1);
	assert_int_equal(f->stats.write_errors, 0);
	assert_int_equal(f->stats.stream[0].bytes_out + f->stats.stream[1].bytes_out,
			 strlen(expected_three));
}

static void test_writer_eintr_and_short_writes(void **state)
{
	struct fixture *f = *state;
	const char *lines[] = { "one", "two", "three" };
	const int actions[] = { -1, 5, -1, -1, 1, 17, 0 };

	set_injection(actions, sizeof(actions) / sizeof(actions[0]));
	write_lines(f, lines, 3, true);
	assert_int_equal(f->sink->ops->flush(f->sink), 0);
	assert_log(f, expected_three);
	assert_int_equal(f->stats.write_errors, 0);
	assert_int_equal(f->stats.dropped_bytes, 0);
	assert_int_equal(writev_calls, 7);
}

static void open_sink(struct fixture *f)
{
	struct ctrlog_config cfg;

	ctrlog_config_init(&cfg);
	cfg.log_path = f->log;
	cfg.max_size = 0;
	assert_int_equal(ctrlog_k8s_file_sink_new(&cfg, &f->stats, &f->sink), 0);
}

/* Nothing is written before flush (one write per round), and a reopened log is appended to,
 * never truncated. */
static void test_writer_batches_and_appends(void **state)
{
	struct fixture *f = *state;
	const char *lines[] = { "one", "two", "three" };
	char twice[sizeof(expected_three) * 2];

	write_lines(f, lines, 3, true);
	assert_int_equal(writev_calls, 0);
	assert_int_equal(f->sink->ops->flush(f->sink), 0);
	assert_int_equal(writev_calls, 1);
	f->sink->ops->free(f->sink);
	open_sink(f);
	write_lines(f, lines, 3, true);
	f->sink->ops->free(f->sink); /* free flushes */
	f->sink = NULL;
	snprintf(twice, sizeof(twice), "%s%s", expected_three, expected_three);
	assert_log(f, twice);
}

/* A write error starts an episode: what is lost is counted, nothing torn stays in the file,
 * and the first write after the back-off is a marker record saying how much was lost. */
static void test_writer_error_episode(void **state)
{
	struct fixture *f = *state;
	const char *lines[] = { "one", "two", "three" };
	const int actions[] = { 50, -2 }; /* 50 bytes go out (one record and a torn piece), EIO */
	const char *want =
		"2026-11-27T09:43:42.000000007Z stdout F one\n"
		"2026-11-27T09:43:42.000000007Z stdout F one\n"
		"2026-11-27T09:43:43.000000007Z stderr F [ctrlog] 19 bytes in 5 lines were lost: "
		"writing the log failed: Input/output error\n"
		"2026-11-27T09:43:43.000000007Z stdout F one\n"
		"2026-11-27T09:43:43.000000007Z stderr F two\n"
		"2026-11-27T09:43:43.000000007Z stdout P three\n";

	write_lines(f, lines, 1, false);
	assert_int_equal(f->sink->ops->flush(f->sink), 0);
	set_injection(actions, 2);
	write_lines(f, lines, 3, true);
	assert_int_equal(f->sink->ops->flush(f->sink), -EIO);
	assert_int_equal(f->stats.write_errors, 1);
	assert_int_equal(f->stats.last_write_error, -EIO);
	assert_int_equal(f->stats.dropped_bytes, 3 + 5);
	/* Within the back-off, output is dropped and counted, not kept. */
	write_lines(f, lines, 3, true);
	assert_int_equal(f->sink->ops->flush(f->sink), -EIO);
	assert_int_equal(f->stats.dropped_bytes, 3 + 5 + 11);
	/* A second later writing works again. */
	batch_sec++;
	write_lines(f, lines, 3, true);
	assert_int_equal(f->sink->ops->flush(f->sink), 0);
	assert_int_equal(f->stats.write_errors, 1);
	assert_log(f, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_known_value),
		cmocka_unit_test(test_time_second_and_year_boundaries),
		cmocka_unit_test(test_time_every_day),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test_setup_teardown(test_writer_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_eintr_and_short_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_batches_and_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_error_episode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
