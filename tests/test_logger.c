/* SPDX-License-Identifier: MIT */
/* logger/logger.c through the public API: fds and fed bytes in, sinks out, the idle timer,
 * stats, configuration errors, the caller's fds left as they were, and stalled outputs in
 * blocking mode. Watching an fd for EPOLLOUT can be made to fail (epoll_ctl() is wrapped, see
 * tests/meson.build). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrlog/ctrlog.h"
#include "test-util.h"

#define PREFIX 40 /* "<30-char time> stdout F " */

int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);

/* While set, adding an fd to watch for EPOLLOUT fails with this errno. */
static int epoll_add_out_errno;

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (epoll_add_out_errno && op == EPOLL_CTL_ADD && (ev->events & EPOLLOUT)) {
		errno = epoll_add_out_errno;
		return -1;
	}
	return __real_epoll_ctl(epfd, op, fd, ev);
}

/* The log reduced to "<stream> <tag> <content>" lines, after checking each prefix's shape. */
static char *log_without_times(const char *path)
{
	size_t len, o = 0;
	char *raw = test_read_file(path, &len), *out = malloc(len + 1);

	assert_non_null(raw);
	for (size_t i = 0; i < len;) {
		char *nl = memchr(raw + i, '\n', len - i);

		assert_non_null(nl);
		assert_true((size_t)(nl - (raw + i)) >= PREFIX);
		assert_int_equal(raw[i + 29], 'Z');
		assert_int_equal(raw[i + 19], '.');
		memcpy(out + o, raw + i + 31, (size_t)(nl - (raw + i)) - 31 + 1);
		o += (size_t)(nl - (raw + i)) - 31 + 1;
		i = (size_t)(nl - raw) + 1;
	}
	out[o] = '\0';
	free(raw);
	return out;
}

static void assert_log(struct test_logger_fixture *f, const char *want)
{
	char *got = log_without_times(f->log);

	assert_string_equal(got, want);
	free(got);
}

static void new_logger(struct test_logger_fixture *f)
{
	assert_int_equal(ctrlog_logger_new(&f->cfg, &f->logger), 0);
}

static void test_feed_frames_and_ends_with_f(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

	new_logger(f);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "a\nb", 3), 0);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDERR, "err\n", 4), 0);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "c\nd", 3), 0);
	assert_int_equal(ctrlog_logger_feed_eof(f->logger, CTRLOG_STDOUT), 0);
	assert_log(f, "stdout F a\nstderr F err\nstdout F bc\nstdout F d\n");
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.stream[0].bytes_in, 6);
	assert_int_equal(st.stream[0].records, 3);
	assert_int_equal(st.stream[0].partial_records, 0);
	assert_int_equal(st.stream[1].records, 1);
	assert_int_equal(st.stream[0].bytes_out, 3 * (PREFIX + 1) + 4);
}

/* Input larger than the stream buffer is fed in pieces; max_line still governs. */
static void test_feed_large_input_long_line(void **state)
{
	struct test_logger_fixture *f = *state;
	size_t len = 300000;
	char *big = malloc(len + 1);
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

	f->cfg.max_line = 1000;
	new_logger(f);
	memset(big, 'x', len);
	big[len] = '\n';
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, big, len + 1), 0);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.stream[0].records, 300);
	assert_int_equal(st.stream[0].partial_records, 299);
	free(big);
}

static int dispatch_until(ctrlog_logger *l, int open_wanted, int timeout_ms)
{
	struct pollfd p = { .fd = ctrlog_logger_get_fd(l), .events = POLLIN };
	int open = -1;

	for (int waited = 0; waited < timeout_ms; waited += 10) {
		poll(&p, 1, 10);
		open = ctrlog_logger_dispatch(l);
		assert_true(open >= 0);
		if (open == open_wanted)
			break;
	}
	return open;
}

static void test_pipes_until_eof(void **state)
{
	struct test_logger_fixture *f = *state;
	int out[2], err[2];
	char line[64];

	new_logger(f);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, out[0], CTRLOG_STDOUT), 0);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, err[0], CTRLOG_STDERR), 0);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, dup(out[1]), CTRLOG_STDOUT), -EEXIST);
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);

		assert_int_equal(write(out[1], line, (size_t)n), n);
	}
	assert_int_equal(write(err[1], "e1\ne2", 5), 5);
	close(out[1]);
	close(err[1]);
	assert_int_equal(dispatch_until(f->logger, 0, 5000), 0);
	{
		struct ctrlog_stats st = { .struct_size = sizeof(st) };

		assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
		assert_int_equal(st.stream[0].records, 1000);
		assert_int_equal(st.stream[1].records, 2); /* e2 ended by EOF */
		assert_int_equal(st.stream[0].partial_records + st.stream[1].partial_records, 0);
	}
}

/* Dispatches (for at most 3 s) until stdout's unfinished line was written as a P record. */
static void wait_for_idle_flush(struct test_logger_fixture *f)
{
	for (int i = 0; i < 300; i++) {
		struct ctrlog_stats st = { .struct_size = sizeof(st) };

		dispatch_until(f->logger, -1, 10);
		ctrlog_logger_get_stats(f->logger, &st);
		if (st.stream[0].partial_records == 1)
			return;
	}
}

/* An unfinished line is written as P once it is older than the idle interval, and the rest of
 * the line follows as its own record. */
static void test_idle_flush_writes_p(void **state)
{
	struct test_logger_fixture *f = *state;
	int p[2];

	f->cfg.idle_flush_ms = 50;
	new_logger(f);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, p[0], CTRLOG_STDOUT), 0);
	assert_int_equal(write(p[1], "prompt> ", 8), 8);
	wait_for_idle_flush(f);
	assert_log(f, "stdout P prompt> \n");
	assert_int_equal(write(p[1], "yes\n", 4), 4);
	close(p[1]);
	assert_int_equal(dispatch_until(f->logger, 0, 5000), 0);
	assert_log(f, "stdout P prompt> \nstdout F yes\n");
}

/* A line cut by an idle flush and never finished still ends with an F record when its stream
 * ends, or a reader would join it with the next line (of the next run of the container). */
static void test_idle_flushed_line_ends_with_f(void **state)
{
	struct test_logger_fixture *f = *state;
	int p[2];

	f->cfg.idle_flush_ms = 50;
	new_logger(f);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, p[0], CTRLOG_STDOUT), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	wait_for_idle_flush(f);
	assert_log(f, "stdout P abc\n");
	close(p[1]);
	assert_int_equal(dispatch_until(f->logger, 0, 5000), 0);
	assert_log(f, "stdout P abc\nstdout F \n");
}

/* A line the stream finished needs no extra record. */
static void test_finished_line_gets_no_extra_f(void **state)
{
	struct test_logger_fixture *f = *state;

	new_logger(f);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "half", 4), 0);
	assert_int_equal(ctrlog_logger_flush(f->logger), 0);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "rest\n", 5), 0);
	assert_int_equal(ctrlog_logger_feed_eof(f->logger, CTRLOG_STDOUT), 0);
	assert_log(f, "stdout P half\nstdout F rest\n");
}

static void test_flush_writes_held_as_p(void **state)
{
	struct test_logger_fixture *f = *state;

	new_logger(f);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "half", 4), 0);
	assert_int_equal(ctrlog_logger_flush(f->logger), 0);
	assert_log(f, "stdout P half\n");
}

/* passthrough with k8s-file: the raw bytes, unframed, next to the formatted log. */
static void test_passthrough_with_k8s(void **state)
{
	struct test_logger_fixture *f = *state;
	char *raw_path = test_path(f->dir, "raw"), *raw;
	int fd = open(raw_path, O_WRONLY | O_CREAT, 0600);
	size_t len;

	f->cfg.drivers = CTRLOG_DRIVER_K8S_FILE | CTRLOG_DRIVER_PASSTHROUGH;
	f->cfg.passthrough_fds[0] = fd;
	f->cfg.passthrough_fds[1] = fd;
	new_logger(f);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "a\nb", 3), 0);
	assert_int_equal(ctrlog_logger_feed_eof(f->logger, CTRLOG_STDOUT), 0);
	raw = test_read_file(raw_path, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(raw, "a\nb", 3);
	assert_log(f, "stdout F a\nstdout F b\n");
	free(raw);
	free(raw_path);
	close(fd);
}

/* passthrough alone splices from the pipe: the bytes arrive unchanged. */
static void test_passthrough_alone_from_pipe(void **state)
{
	struct test_logger_fixture *f = *state;
	char *raw_path = test_path(f->dir, "raw"), *raw;
	int fd = open(raw_path, O_WRONLY | O_CREAT, 0600), p[2];
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	size_t len;

	f->cfg.drivers = CTRLOG_DRIVER_PASSTHROUGH;
	f->cfg.passthrough_fds[0] = fd;
	f->cfg.passthrough_fds[1] = fd;
	new_logger(f);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, p[0], CTRLOG_STDOUT), 0);
	assert_int_equal(write(p[1], "no framing\nat all", 17), 17);
	close(p[1]);
	assert_int_equal(dispatch_until(f->logger, 0, 5000), 0);
	raw = test_read_file(raw_path, &len);
	assert_int_equal(len, 17);
	assert_memory_equal(raw, "no framing\nat all", 17);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.stream[0].bytes_in, 17);
	assert_int_equal(st.stream[0].bytes_out, 17);
	free(raw);
	free(raw_path);
	close(fd);
}

static void test_none_drains(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	int p[2];

	f->cfg.drivers = CTRLOG_DRIVER_NONE;
	f->cfg.log_path = NULL;
	new_logger(f);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, p[0], CTRLOG_STDOUT), 0);
	assert_int_equal(write(p[1], "dropped\n", 8), 8);
	close(p[1]);
	assert_int_equal(dispatch_until(f->logger, 0, 5000), 0);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.stream[0].bytes_in, 8);
	assert_int_equal(access(f->log, F_OK), -1);
}

static void test_bad_config_leaves_output_untouched(void **state)
{
	struct test_logger_fixture *f = *state;
	ctrlog_logger *sentinel = (ctrlog_logger *)0x1;
	ctrlog_logger *l = sentinel;

	f->cfg.drivers = 0;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &l), -EINVAL);
	f->cfg.drivers = 1u << 12;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &l), -EINVAL);
	f->cfg.drivers = CTRLOG_DRIVER_K8S_FILE;
	f->cfg.log_path = NULL;
	assert_int_equal(ctrlog_logger_new(&f->cfg, &l), -EINVAL);
	f->cfg.log_path = f->log;
	f->cfg.container_id = "../x";
	assert_int_equal(ctrlog_logger_new(&f->cfg, &l), -EINVAL);
	assert_ptr_equal(l, sentinel);
}

static void test_symlink_log_refused(void **state)
{
	struct test_logger_fixture *f = *state;
	char *target = test_path(f->dir, "target");
	ctrlog_logger *l = NULL;

	assert_int_equal(symlink(target, f->log), 0);
	assert_int_equal(ctrlog_logger_new(&f->cfg, &l), -ELOOP);
	assert_null(l);
	assert_int_equal(access(target, F_OK), -1);
	free(target);
}

static void test_log_mode_0640(void **state)
{
	struct test_logger_fixture *f = *state;
	struct stat st;
	mode_t old = umask(0);

	new_logger(f);
	umask(old);
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

static void test_rotate_api(void **state)
{
	struct test_logger_fixture *f = *state;
	char *rotated = test_path(f->dir, "ctr.log.1");
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

	f->cfg.compress_level = CTRLOG_COMPRESS_NONE;
	new_logger(f);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "before\n", 7), 0);
	assert_int_equal(ctrlog_logger_rotate(f->logger), 0);
	assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, "after\n", 6), 0);
	assert_int_equal(access(rotated, F_OK), 0);
	assert_log(f, "stdout F after\n");
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.rotations, 1);
	free(rotated);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(ctrlog_strerror(-ENOENT), "No such file or directory");
	assert_string_equal(ctrlog_strerror(-99999), "Unknown error");
	assert_string_equal(ctrlog_strerror(EPIPE), "Broken pipe");
}

static void test_id_validate(void **state)
{
	char long_id[200];

	(void)state;
	assert_int_equal(ctrlog_id_validate("abc-DEF_1.2"), 0);
	assert_int_equal(ctrlog_id_validate(""), -EINVAL);
	assert_int_equal(ctrlog_id_validate(".hidden"), -EINVAL);
	assert_int_equal(ctrlog_id_validate("-x"), -EINVAL);
	assert_int_equal(ctrlog_id_validate("a/b"), -EINVAL);
	assert_int_equal(ctrlog_id_validate(".."), -EINVAL);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[128] = '\0';
	assert_int_equal(ctrlog_id_validate(long_id), 0);
	long_id[128] = 'a';
	long_id[129] = '\0';
	assert_int_equal(ctrlog_id_validate(long_id), -EINVAL);
}

static bool nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	assert_true(flags >= 0);
	return flags & O_NONBLOCK;
}

/* Non-blocking passthrough into the caller's pipe or socket, which nobody reads: the logger
 * never waits, drops and counts what does not fit, and leaves the caller's file description
 * as it was (O_NONBLOCK on it would reach the shell that shares it). */
static void check_nonblocking_passthrough(struct test_logger_fixture *f, int out, int peer)
{
	static char big[1 << 20];
	struct ctrlog_stats st = { .struct_size = sizeof(st) };

	memset(big, 'x', sizeof(big));
	f->cfg.drivers = CTRLOG_DRIVER_PASSTHROUGH;
	f->cfg.mode = CTRLOG_MODE_NON_BLOCKING;
	f->cfg.buffer_size = 4096;
	f->cfg.passthrough_fds[0] = out;
	f->cfg.passthrough_fds[1] = out;
	new_logger(f);
	assert_false(nonblocking(out));
	for (int i = 0; i < 4; i++)
		assert_int_equal(ctrlog_logger_feed(f->logger, CTRLOG_STDOUT, big, sizeof(big)), 0);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_true(st.dropped_bytes > 0);
	assert_int_equal(st.write_errors, 0);
	ctrlog_logger_free(f->logger);
	f->logger = NULL;
	assert_false(nonblocking(out));
	assert_true(fcntl(out, F_GETFD) >= 0); /* still open: the caller's */
	close(out);
	close(peer);
}

static void test_nonblocking_passthrough_pipe(void **state)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	check_nonblocking_passthrough(*state, p[1], p[0]);
}

static void test_nonblocking_passthrough_socket(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	check_nonblocking_passthrough(*state, sv[0], sv[1]);
}

/* A test's own fd made non-blocking: only the test's pipe ends, never the logger's outputs. */
static void set_nonblocking(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* Writes numbered lines into the logger's input until its passthrough output, which nobody
 * reads, stops taking them and the stream is stalled; returns how many bytes went in. Every
 * dispatch returns at once: a logger that waited for the reader would hang here. */
static size_t fill_until_stalled(ctrlog_logger *l, int in)
{
	static unsigned line;
	size_t total = 0;
	char buf[64];

	for (int round = 0; round < 100000 && ctrlog_logger_stalled(l) == 0; round++) {
		int len = snprintf(buf, sizeof(buf), "line %08u\n", line);
		ssize_t n = write(in, buf, (size_t)len);

		if (n == len) {
			total += (size_t)n;
			line++;
		}
		assert_true(n == len || (n < 0 && errno == EAGAIN));
		assert_true(ctrlog_logger_dispatch(l) >= 0);
	}
	assert_int_equal(ctrlog_logger_stalled(l), 1);
	return total;
}

/* Reads the stalled output until the logger has passed on everything and the input ended. */
static size_t read_until_done(ctrlog_logger *l, int out, int in)
{
	struct pollfd p[2] = { { .fd = ctrlog_logger_get_fd(l), .events = POLLIN },
			       { .fd = out, .events = POLLIN } };
	static char buf[1 << 16];
	size_t got = 0;
	int open = 1;

	close(in);
	for (int round = 0; round < 100000 && open > 0; round++) {
		ssize_t n;

		assert_true(poll(p, 2, 1000) > 0);
		while ((n = read(out, buf, sizeof(buf))) > 0)
			got += (size_t)n;
		open = ctrlog_logger_dispatch(l);
		assert_true(open >= 0);
	}
	assert_int_equal(open, 0);
	return got;
}

/*
 * Blocking mode and a reader that stops reading: the logger never waits inside a call. It
 * stops reading the stream (the container is held back by its full pipe), its fd is quiet
 * meanwhile (no spinning monitor), and everything goes out once the reader reads again; the
 * caller's fd keeps its flags.
 */
static void check_stalled_reader(struct test_logger_fixture *f, unsigned drivers)
{
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	struct pollfd quiet;
	int in[2], out[2];
	size_t sent, got;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	set_nonblocking(in[1]);
	set_nonblocking(out[0]);
	f->cfg.drivers = drivers;
	f->cfg.passthrough_fds[0] = out[1];
	f->cfg.passthrough_fds[1] = out[1];
	new_logger(f);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, in[0], CTRLOG_STDOUT), 0);
	sent = fill_until_stalled(f->logger, in[1]);
	quiet = (struct pollfd){ .fd = ctrlog_logger_get_fd(f->logger), .events = POLLIN };
	assert_int_equal(poll(&quiet, 1, 50), 0);
	assert_false(nonblocking(out[1]));
	got = read_until_done(f->logger, out[0], in[1]);
	assert_int_equal(got, sent);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.stream[0].bytes_in, sent);
	assert_int_equal(st.dropped_bytes, 0);
	assert_int_equal(st.write_errors, 0);
	assert_int_equal(ctrlog_logger_stalled(f->logger), 0);
	ctrlog_logger_free(f->logger);
	f->logger = NULL;
	assert_false(nonblocking(out[1]));
	close(out[0]);
	close(out[1]);
}

/* passthrough alone: spliced; the full output is waited for in the logger's epoll set. */
static void test_stalled_reader_splice(void **state)
{
	check_stalled_reader(*state, CTRLOG_DRIVER_PASSTHROUGH);
}

/* With k8s-file: read and written; the passthrough sink keeps what did not go out. */
static void test_stalled_reader_write(void **state)
{
	struct test_logger_fixture *f = *state;
	size_t len;
	char *log;

	check_stalled_reader(f, CTRLOG_DRIVER_PASSTHROUGH | CTRLOG_DRIVER_K8S_FILE);
	log = test_read_file(f->log, &len);
	assert_non_null(log);
	assert_int_equal(len % (PREFIX + 14), 0); /* every line, each "line NNNNNNNN" */
	free(log);
}

/* Giving up on a stalled reader: what the sink kept and what it cannot take from then on is
 * dropped and counted, and the stream is read to its end without waiting. */
static void test_stop_waiting_drops_and_counts(void **state)
{
	struct test_logger_fixture *f = *state;
	static char buf[1 << 16];
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	int in[2], out[2];
	size_t sent, got = 0;
	ssize_t n;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	set_nonblocking(in[1]);
	f->cfg.drivers = CTRLOG_DRIVER_PASSTHROUGH | CTRLOG_DRIVER_K8S_FILE;
	f->cfg.passthrough_fds[0] = out[1];
	f->cfg.passthrough_fds[1] = out[1];
	new_logger(f);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, in[0], CTRLOG_STDOUT), 0);
	sent = fill_until_stalled(f->logger, in[1]);
	assert_int_equal(ctrlog_logger_stop_waiting(f->logger), 0);
	assert_int_equal(ctrlog_logger_stalled(f->logger), 0);
	assert_int_equal(write(in[1], "more\n", 5), 5);
	close(in[1]);
	assert_int_equal(dispatch_until(f->logger, 0, 5000), 0);
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.stream[0].bytes_in, sent + 5);
	/* passthrough: what is in the output plus what was dropped; k8s-file: every line */
	set_nonblocking(out[0]);
	while ((n = read(out[0], buf, sizeof(buf))) > 0)
		got += (size_t)n;
	assert_true(st.dropped_bytes > 0);
	assert_int_equal(got + st.dropped_bytes, sent + 5);
	assert_int_equal(st.stream[0].records, sent / 14 + 1);
	assert_int_equal(st.write_errors, 0);
	ctrlog_logger_free(f->logger);
	f->logger = NULL;
	close(out[0]);
	close(out[1]);
}

/* A stalled output that cannot be watched (epoll_ctl fails): counted, and retried on a timer
 * instead, so nothing is lost and nothing hangs. */
static void test_unwatchable_output_counted(void **state)
{
	struct test_logger_fixture *f = *state;
	struct ctrlog_stats st = { .struct_size = sizeof(st) };
	int in[2], out[2];
	size_t sent;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	set_nonblocking(in[1]);
	set_nonblocking(out[0]);
	f->cfg.drivers = CTRLOG_DRIVER_PASSTHROUGH;
	f->cfg.passthrough_fds[0] = out[1];
	f->cfg.passthrough_fds[1] = out[1];
	new_logger(f);
	assert_int_equal(ctrlog_logger_add_fd(f->logger, in[0], CTRLOG_STDOUT), 0);
	epoll_add_out_errno = ENOSPC;
	sent = fill_until_stalled(f->logger, in[1]);
	assert_int_equal(read_until_done(f->logger, out[0], in[1]), sent);
	epoll_add_out_errno = 0;
	assert_int_equal(ctrlog_logger_get_stats(f->logger, &st), 0);
	assert_int_equal(st.internal_errors, 1);
	assert_int_equal(st.last_internal_error, -ENOSPC);
	assert_int_equal(st.dropped_bytes, 0);
	ctrlog_logger_free(f->logger);
	f->logger = NULL;
	close(out[0]);
	close(out[1]);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, test_logger_setup, test_logger_teardown)
	const struct CMUnitTest tests[] = {
		T(test_feed_frames_and_ends_with_f),
		T(test_feed_large_input_long_line),
		T(test_pipes_until_eof),
		T(test_idle_flush_writes_p),
		T(test_flush_writes_held_as_p),
		T(test_idle_flushed_line_ends_with_f),
		T(test_finished_line_gets_no_extra_f),
		T(test_passthrough_with_k8s),
		T(test_passthrough_alone_from_pipe),
		T(test_none_drains),
		T(test_bad_config_leaves_output_untouched),
		T(test_symlink_log_refused),
		T(test_log_mode_0640),
		T(test_rotate_api),
		T(test_nonblocking_passthrough_pipe),
		T(test_nonblocking_passthrough_socket),
		T(test_stalled_reader_splice),
		T(test_stalled_reader_write),
		T(test_stop_waiting_drops_and_counts),
		T(test_unwatchable_output_counted),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_id_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
