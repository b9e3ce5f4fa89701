/* SPDX-License-Identifier: MIT */
/*
 * formats/k8s_time.c and formats/k8s_file_writer.c: the timestamp at every kind of boundary,
 * and a writer that survives EINTR and short writes (injected by wrapping writev(), see
 * tests/meson.build) without losing or repeating a byte, frees history on a full disk, and
 * retries failed rotations (renameat() wrapped) with a back-off without passing the limit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/k8s-file.h"
#include "formats/sink.h"
#include "test-util.h"

/* --- writev injection ---------------------------------------------------------------------- */

ssize_t __real_writev(int fd, const struct iovec *iov, int n);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int n);

/* Each entry is what the next writev() does: 0 = pass through, -1 = fail with EINTR,
 * -2 = fail with EIO, -3 = fail with ENOSPC, k > 0 = write at most k bytes. */
static int inject[64];
static size_t n_inject, next_inject;
static size_t writev_calls;

ssize_t __wrap_writev(int fd, const struct iovec *iov, int n)
{
	int action = next_inject < n_inject ? inject[next_inject++] : 0;

	writev_calls++;
	if (action < 0) {
		errno = action == -1 ? EINTR : action == -2 ? EIO : ENOSPC;
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

int __real_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/* While set, renaming fails with this errno; every call is counted. */
static int rename_errno;
static int rename_calls;

int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	rename_calls++;
	if (rename_errno) {
		errno = rename_errno;
		return -1;
	}
	return __real_renameat(olddirfd, oldpath, newdirfd, newpath);
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
	rename_errno = rename_calls = 0;
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

static void open_sink_sized(struct fixture *f, uint64_t max_size)
{
	struct ctrlog_config cfg;

	ctrlog_config_init(&cfg);
	cfg.log_path = f->log;
	cfg.max_size = max_size;
	cfg.compress_level = CTRLOG_COMPRESS_NONE;
	assert_int_equal(ctrlog_k8s_file_sink_new(&cfg, &f->stats, &f->sink), 0);
}

static void open_sink(struct fixture *f)
{
	open_sink_sized(f, 0);
}

/* Nothing is written before flush (one write per round), and a reopened log is appended to,
 * never truncated. */
static void test_writer_batches_and_appends(void **state)
{
	struct fixture *f = *state;
	const char *lines[] = { "one", "two", "three" };
	static const char full[] =
		"2026-11-27T09:43:42.000000007Z stdout F one\n"
		"2026-11-27T09:43:42.000000007Z stderr F two\n"
		"2026-11-27T09:43:42.000000007Z stdout F three\n";
	char twice[sizeof(full) * 2];

	write_lines(f, lines, 3, false);
	assert_int_equal(writev_calls, 0);
	assert_int_equal(f->sink->ops->flush(f->sink), 0);
	assert_int_equal(writev_calls, 1);
	f->sink->ops->free(f->sink);
	open_sink(f);
	write_lines(f, lines, 3, false);
	f->sink->ops->free(f->sink); /* free flushes */
	f->sink = NULL;
	snprintf(twice, sizeof(twice), "%s%s", full, full);
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

static off_t size_of(struct fixture *f, const char *name)
{
	char *p = test_path(f->dir, name);
	struct stat st;
	off_t r = stat(p, &st) == 0 ? st.st_size : -1;

	free(p);
	return r;
}

/* A batch at batch_sec + ms milliseconds, of n records "r" of 44 bytes each. */
static void write_at(struct fixture *f, long ms, size_t n)
{
	struct ctrlog_record recs[16];
	struct ctrlog_batch b = { .time = { .tv_sec = batch_sec + ms / 1000,
					    .tv_nsec = (ms % 1000) * 1000000 + 7 },
				  .records = recs, .n = n };

	for (size_t i = 0; i < n; i++)
		recs[i] = (struct ctrlog_record){ .data = "rec", .len = 3 };
	(void)f->sink->ops->write_batch(f->sink, &b);
	(void)f->sink->ops->flush(f->sink);
}

#define REC 44 /* prefix (40) + "rec" + "\n" */

/*
 * While rotation fails the limit holds: records are dropped and counted, not written past
 * max_size, rotation is retried after 50 ms, then 100 ms, 200 ms (not per record or batch),
 * the failure counts as one episode, and once a retry works writing resumes in a new live
 * file that starts with the loss marker. Before the fix every batch retried and the file grew.
 */
static void test_writer_rotation_backoff(void **state)
{
	struct fixture *f = *state;
	static const long tries[] = { 0, 50, 150, 350 }; /* back-off: 50, 100, 200 ms */
	char *marker;
	size_t len;

	f->sink->ops->free(f->sink);
	open_sink_sized(f, 4 * REC);
	write_at(f, 0, 4);
	rename_errno = EPERM;
	for (long ms = 0, t = 0; ms < 400; ms += 10) {
		int before = rename_calls;

		write_at(f, ms, 3);
		assert_int_equal(rename_calls - before, t < 4 && tries[t] == ms ? 1 : 0);
		if (t < 4 && tries[t] == ms)
			t++;
	}
	assert_int_equal(size_of(f, "ctr.log"), 4 * REC);
	assert_int_equal(size_of(f, "ctr.log.1"), -1);
	assert_int_equal(f->stats.dropped_bytes, 40 * 3 * 3);
	rename_errno = 0;
	write_at(f, 749, 1); /* the back-off is 400 ms now */
	assert_int_equal(size_of(f, "ctr.log.1"), -1);
	write_at(f, 750, 1);
	assert_int_equal(size_of(f, "ctr.log.1"), 4 * REC);
	marker = test_read_file(f->log, &len);
	assert_non_null(marker);
	assert_non_null(strstr(marker, "stderr F [ctrlog] 363 bytes in 121 lines were lost: "
				       "rotating the log failed: Operation not permitted\n"));
	assert_int_equal(len, strlen(marker));
	assert_memory_equal(marker + len - REC + 30, " stdout F rec\n", 14);
	free(marker);
	assert_int_equal(f->stats.write_errors, 0);
}

/* A write that fails for lack of space frees the oldest rotated files until it fits: nothing
 * is lost, nothing counted as a write error. Before the fix the write failed and every later
 * one too, since the live file never reached its rotation size. */
static void test_writer_full_disk_frees_history(void **state)
{
	struct fixture *f = *state;
	const int actions[] = { -3, -3 };
	struct ctrlog_stats st = { 0 };

	f->sink->ops->free(f->sink);
	open_sink_sized(f, 4 * REC);
	for (int i = 0; i < 3; i++)
		write_at(f, i, 4); /* ctr.log.1 and .2 */
	assert_int_equal(size_of(f, "ctr.log.2"), 4 * REC);
	set_injection(actions, 2);
	write_at(f, 10, 2); /* rotates to ctr.log.3, then frees .1 and .2 */
	assert_int_equal(size_of(f, "ctr.log.1"), -1);
	assert_int_equal(size_of(f, "ctr.log.2"), -1);
	assert_int_equal(size_of(f, "ctr.log.3"), 4 * REC);
	assert_int_equal(size_of(f, "ctr.log"), 2 * REC);
	assert_int_equal(f->stats.write_errors, 0);
	assert_int_equal(f->stats.dropped_bytes, 0);
	f->sink->ops->collect_stats(f->sink, &st);
	assert_int_equal(st.freed_files, 2);
	/* Down to the live file alone, the failure is a write error. */
	set_injection(actions, 2);
	write_at(f, 20, 1);
	assert_int_equal(size_of(f, "ctr.log.3"), -1);
	assert_int_equal(f->stats.write_errors, 1);
	assert_int_equal(size_of(f, "ctr.log"), 2 * REC);
}

/* A line left open by a crashed writer (its stream's last record a P, in the live file or the
 * newest rotated one) is closed by an empty F before anything else; a stream whose last
 * record is an F gets nothing. */
static void test_writer_closes_open_lines(void **state)
{
	struct fixture *f = *state;
	const char *lines[] = { "one", "two", "three" }; /* stdout F, stderr F, stdout P */
	char *got;
	size_t len;

	write_lines(f, lines, 3, true);
	f->sink->ops->free(f->sink); /* as after a crash: no framer ended the line */
	open_sink(f);
	got = test_read_file(f->log, &len);
	assert_non_null(got);
	assert_int_equal(len, strlen(expected_three) + 41);
	assert_memory_equal(got, expected_three, strlen(expected_three));
	assert_memory_equal(got + len - 11, " stdout F \n", 11);
	free(got);
	/* Reopened once more, the line is closed: nothing is added. */
	f->sink->ops->free(f->sink);
	open_sink(f);
	assert_int_equal(size_of(f, "ctr.log"), (off_t)strlen(expected_three) + 41);
	/* The P in the newest rotated file, the live file empty. */
	f->sink->ops->free(f->sink);
	open_sink_sized(f, 1000);
	write_lines(f, lines + 1, 2, true); /* stdout F "two", stderr P "three" */
	assert_int_equal(f->sink->ops->rotate(f->sink), 0);
	f->sink->ops->free(f->sink);
	open_sink_sized(f, 1000);
	assert_int_equal(size_of(f, "ctr.log"), 41);
	got = test_read_file(f->log, &len);
	assert_memory_equal(got + 30, " stderr F \n", 11);
	free(got);
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
		cmocka_unit_test_setup_teardown(test_writer_rotation_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_full_disk_frees_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_closes_open_lines, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
