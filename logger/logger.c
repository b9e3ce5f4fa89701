/* SPDX-License-Identifier: MIT */
/*
 * The capture core: streams in an epoll set, large reads, one clock reading per read, framing,
 * and dispatch of each batch to the sinks. See ARCHITECTURE.md for the data flow.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "formats/sink.h"
#include "logger/logger-internal.h"

#define MIN_READ_SIZE (64u * 1024)
#define MAX_READ_SIZE (1u << 20)
/* Reads per stream per dispatch: enough to keep syscalls per byte low, few enough that a
 * chatty stdout cannot starve stderr. */
#define READS_PER_DISPATCH 4
#define TIMER_TAG CTRLOG_N_STREAMS
/* A stalled sink's fd became writable, or the retry timer of stalled sinks expired. */
#define STALL_TAG (CTRLOG_N_STREAMS + 1)
#define MAX_SINKS 4
/* Retries of a stalled sink without an fd to wait on (a journald that cannot be probed, an fd
 * that cannot be watched): 1 ms doubling to 100 ms, so a short stall ends at once and a long
 * one costs 10 wake-ups/s. */
#define STALL_RETRY_MIN_MS 1
#define STALL_RETRY_MAX_MS 100

struct stream {
	int fd;              /* -1 when absent or at EOF */
	bool splice;         /* try splice() to the raw sink before falling back to read() */
	char *buf;
	size_t cap;
	size_t held;         /* unfinished line at buf[0..held) */
	struct timespec held_since;
	struct ctrlog_framer framer;
	/* Blocking mode: a sink could not take all of this stream's output without waiting.
	 * stall: just found out; blocked: the stream is not read (its fd is disabled in the epoll
	 * set, so the pipe fills and the container waits) until every sink has sent what it kept. */
	bool stall;
	bool blocked;
	int wait_fd; /* the fd it waits on for EPOLLOUT while blocked, -1 for timed retries */
};

struct ctrlog_logger {
	uint32_t max_line;
	uint32_t idle_flush_ms;
	int epfd;
	int timerfd;
	bool timer_armed;
	int stall_timerfd;   /* retries for blocked streams whose sink has no fd to wait on */
	uint32_t stall_retry_ms; /* the back-off of the current stall, 0 when none */
	bool stall_timer_armed;
	bool no_watching;    /* watching a stalled sink's fd failed once: timed retries only */
	bool want_records;   /* some sink takes framed records */
	struct timespec now; /* the clock reading of the batch being dispatched */
	struct stream streams[CTRLOG_N_STREAMS];
	struct ctrlog_sink *sinks[MAX_SINKS];
	size_t n_sinks;
	struct ctrlog_sink *raw_sink; /* the one sink taking raw bytes (passthrough), or NULL */
	struct ctrlog_stats stats;
	bool finished;       /* ctrlog_logger_finish() ran: the counters are final */
};

/* A logger the caller may still drive: not NULL, and not finished (ctrlog_logger_finish()). */
static bool drivable(const struct ctrlog_logger *l)
{
	return l && !l->finished;
}

static void config_defaults(struct ctrlog_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->struct_size = sizeof(*cfg);
	cfg->drivers = CTRLOG_DRIVER_K8S_FILE;
	cfg->max_line = CTRLOG_DEFAULT_MAX_LINE;
	cfg->idle_flush_ms = CTRLOG_DEFAULT_IDLE_FLUSH_MS;
	cfg->max_size = CTRLOG_DEFAULT_MAX_SIZE;
	cfg->max_files = CTRLOG_DEFAULT_MAX_FILES;
	cfg->compress_level = CTRLOG_DEFAULT_ZSTD_LEVEL;
	cfg->passthrough_fds[CTRLOG_STDOUT] = STDOUT_FILENO;
	cfg->passthrough_fds[CTRLOG_STDERR] = STDERR_FILENO;
	cfg->mode = CTRLOG_MODE_BLOCKING;
	cfg->buffer_size = 1u << 20;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

void ctrlog_config_init_size(struct ctrlog_config *cfg, size_t size)
{
	struct ctrlog_config defaults;

	if (!cfg || size < sizeof(cfg->struct_size))
		return;
	config_defaults(&defaults);
	defaults.struct_size = min_size(size, sizeof(defaults));
	memcpy(cfg, &defaults, defaults.struct_size);
}

/* The caller's config completed with the defaults of the fields its header does not have. */
static int config_complete(const struct ctrlog_config *cfg, struct ctrlog_config *full)
{
	if (!cfg || cfg->struct_size < CTRLOG_CONFIG_SIZE_MIN)
		return -EINVAL;
	config_defaults(full);
	memcpy(full, cfg, min_size(cfg->struct_size, sizeof(*full)));
	full->struct_size = sizeof(*full);
	return 0;
}

/* The framer hands over chunks of one stream's records. */
static int emit_records(void *ctx, const struct ctrlog_record *records, size_t n, size_t n_partial)
{
	struct ctrlog_logger *l = ctx;
	struct ctrlog_batch batch = { .time = l->now, .records = records, .n = n };
	struct ctrlog_stream_stats *ss = &l->stats.stream[records[0].stream];

	ss->records += n;
	ss->partial_records += n_partial;
	/* A failing sink counts its own errors; the others must still get the batch. One that
	 * must wait (-EAGAIN) keeps the records: the stream is not read until it sent them. */
	for (size_t i = 0; i < l->n_sinks; i++)
		if (l->sinks[i]->ops->write_batch &&
		    l->sinks[i]->ops->write_batch(l->sinks[i], &batch) == -EAGAIN)
			l->streams[records[0].stream].stall = true;
	return 0;
}

static void clock_now(struct ctrlog_logger *l)
{
	clock_gettime(CLOCK_REALTIME, &l->now);
}

static int64_t ms_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

static int arm_timer(struct ctrlog_logger *l, int64_t ms)
{
	struct itimerspec its = { 0 };

	if (ms < 1)
		ms = 1;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000;
	if (timerfd_settime(l->timerfd, 0, &its, NULL) < 0)
		return -errno;
	l->timer_armed = true;
	return 0;
}

/* The idle timer runs only while some stream holds an unfinished line, and is set at most once
 * per interval, so a steady stream of reads costs no timer syscalls. */
static int arm_idle_timer_if_needed(struct ctrlog_logger *l)
{
	int64_t soonest = -1;

	if (l->timer_armed || l->idle_flush_ms == 0 || !l->want_records)
		return 0;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		struct stream *s = &l->streams[i];
		int64_t left;

		if (s->held == 0 || s->blocked)
			continue;
		left = (int64_t)l->idle_flush_ms - ms_between(&s->held_since, &l->now);
		if (left > (int64_t)l->idle_flush_ms)
			left = l->idle_flush_ms; /* the clock went back */
		if (soonest < 0 || left < soonest)
			soonest = left;
	}
	return soonest < 0 ? 0 : arm_timer(l, soonest);
}

static int emit_held(struct stream *s, bool partial)
{
	int r;

	if (s->held == 0)
		return 0;
	r = ctrlog_framer_emit_rest(&s->framer, s->buf, s->held, partial);
	s->held = 0;
	return r;
}

static int on_idle_timer(struct ctrlog_logger *l)
{
	uint64_t expirations;

	if (read(l->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return -errno;
	l->timer_armed = false;
	clock_now(l);
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		struct stream *s = &l->streams[i];

		/* A blocked stream's line may well go on in the pipe we do not read. */
		if (s->held > 0 && !s->blocked &&
		    ms_between(&s->held_since, &l->now) >= (int64_t)l->idle_flush_ms) {
			int r = emit_held(s, true);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Everything that follows n new bytes at s->buf[s->held]: counters, raw sinks, framing. */
static int consume(struct ctrlog_logger *l, struct stream *s, enum ctrlog_stream id, size_t n)
{
	size_t held_before = s->held;
	int emitted;

	l->stats.reads++;
	l->stats.stream[id].bytes_in += n;
	clock_now(l);
	if (l->raw_sink && l->raw_sink->ops->write_raw(l->raw_sink, id, s->buf + s->held, n) == -EAGAIN)
		s->stall = true;
	if (!l->want_records)
		return 0;
	emitted = ctrlog_framer_feed(&s->framer, s->buf, s->held + n, &s->held);
	if (emitted < 0)
		return emitted;
	/* After any record the held tail is made only of bytes from this read; otherwise the
	 * unfinished line is as old as it was. */
	if (s->held > 0 && (emitted > 0 || held_before == 0))
		s->held_since = l->now;
	return 0;
}

static void close_stream(struct ctrlog_logger *l, struct stream *s)
{
	int unread = 0;

	/* Write errors are counted by the sinks; the stream ends either way. */
	(void)emit_held(s, false);
	(void)ctrlog_framer_end(&s->framer);
	if (s->fd >= 0) {
		/* Only a logger freed while a sink still stalls closes a stream unread: what
		 * the container wrote is lost, and counted. */
		if (s->blocked && ioctl(s->fd, FIONREAD, &unread) == 0 && unread > 0)
			l->stats.dropped_bytes += (uint64_t)unread;
		close(s->fd); /* also leaves the epoll set */
		s->fd = -1;
	}
}

/* --- stalled sinks (blocking mode) ------------------------------------------------------- */

static int watch(struct ctrlog_logger *l, int op, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(l->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int arm_stall_timer(struct ctrlog_logger *l)
{
	struct itimerspec its = { 0 };
	uint32_t ms;

	if (l->stall_timer_armed)
		return 0;
	ms = l->stall_retry_ms ? 2 * l->stall_retry_ms : STALL_RETRY_MIN_MS;
	l->stall_retry_ms = ms < STALL_RETRY_MAX_MS ? ms : STALL_RETRY_MAX_MS;
	its.it_value.tv_sec = l->stall_retry_ms / 1000;
	its.it_value.tv_nsec = (long)(l->stall_retry_ms % 1000) * 1000000;
	if (timerfd_settime(l->stall_timerfd, 0, &its, NULL) < 0)
		return -errno;
	l->stall_timer_armed = true;
	return 0;
}

/* stdout and stderr may wait on the same fd: one epoll entry serves both. */
static bool wait_shared(const struct ctrlog_logger *l, const struct stream *s, int fd)
{
	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		if (&l->streams[i] != s && l->streams[i].blocked && l->streams[i].wait_fd == fd)
			return true;
	return false;
}

static void unwatch_wait(struct ctrlog_logger *l, struct stream *s)
{
	/* Cannot fail for an fd in the set; an fd closed meanwhile has left it already. */
	if (s->wait_fd >= 0 && !wait_shared(l, s, s->wait_fd))
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->wait_fd, NULL);
	s->wait_fd = -1;
}

/* Waits for fd to take more (EPOLLOUT); for the retry timer when fd is -1 (the sink has no
 * fd that says so) or cannot be watched: counted once, and timed retries from then on, which
 * work as well, only later. */
static int set_wait(struct ctrlog_logger *l, struct stream *s, int fd)
{
	int r;

	if (fd >= 0 && fd == s->wait_fd)
		return 0;
	unwatch_wait(l, s);
	if (fd >= 0 && !l->no_watching) {
		r = watch(l, EPOLL_CTL_ADD, fd, EPOLLOUT, STALL_TAG);
		if (r == 0 || (r == -EEXIST && wait_shared(l, s, fd))) {
			s->wait_fd = fd;
			return 0;
		}
		l->no_watching = true;
		l->stats.internal_errors++;
		l->stats.last_internal_error = r;
	}
	return arm_stall_timer(l);
}

/* Asks the sinks to send what they keep for stream id: 0 once all did, else -EAGAIN and in
 * *ret_fd what to wait for (-1: a timed retry). */
static int retry_sinks(struct ctrlog_logger *l, enum ctrlog_stream id, int *ret_fd)
{
	for (size_t i = 0; i < l->n_sinks; i++) {
		struct ctrlog_sink *k = l->sinks[i];

		/* Other errors are the sink's to count; it keeps nothing after one. */
		if (k->ops->retry && k->ops->retry(k, id, ret_fd) == -EAGAIN)
			return -EAGAIN;
	}
	return 0;
}

static int unblock_stream(struct ctrlog_logger *l, struct stream *s, enum ctrlog_stream id)
{
	unwatch_wait(l, s);
	s->blocked = false;
	/* The time it was not read is not the container's idleness: its unfinished line ages
	 * for the idle flush from now on. */
	clock_now(l);
	s->held_since = l->now;
	return s->fd >= 0 ? watch(l, EPOLL_CTL_MOD, s->fd, EPOLLIN, id) : 0;
}

/*
 * A sink could not take all of stream id's output without waiting (out >= 0: the splice
 * output is full). The stream is not read until it can, so the container is held back by its
 * full pipe, while dispatch returns at once: the monitor's own loop and its signals go on.
 */
static int block_stream(struct ctrlog_logger *l, struct stream *s, enum ctrlog_stream id, int out)
{
	int fd = out;

	s->stall = false;
	if (out < 0 && retry_sinks(l, id, &fd) == 0)
		return s->blocked ? unblock_stream(l, s, id) : 0;
	/* Disabled, not removed, so that reading again cannot fail: a one-shot entry without
	 * events reports at most a hang-up once, then nothing, until it is re-armed. */
	if (!s->blocked && s->fd >= 0) {
		int r = watch(l, EPOLL_CTL_MOD, s->fd, EPOLLONESHOT, id);

		if (r < 0)
			return r;
	}
	s->blocked = true;
	return set_wait(l, s, fd);
}

/* Records made outside a read (idle flush, end of stream, flush) may have stalled a sink. */
static int block_stalled_streams(struct ctrlog_logger *l)
{
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		struct stream *s = &l->streams[i];

		if (s->stall) {
			int r = block_stream(l, s, (enum ctrlog_stream)i, -1);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* A stalled sink's fd takes more, or the retry timer expired: blocked streams whose sinks
 * have sent everything are read again. */
static int on_stall_event(struct ctrlog_logger *l)
{
	uint64_t expirations;
	bool still_blocked = false;

	if (read(l->stall_timerfd, &expirations, sizeof(expirations)) == (ssize_t)sizeof(expirations))
		l->stall_timer_armed = false;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		struct stream *s = &l->streams[i];
		int fd = -1, r;

		if (!s->blocked)
			continue;
		r = retry_sinks(l, (enum ctrlog_stream)i, &fd) == 0 ?
			unblock_stream(l, s, (enum ctrlog_stream)i) : set_wait(l, s, fd);
		if (r < 0)
			return r;
		still_blocked |= s->blocked;
	}
	if (!still_blocked)
		l->stall_retry_ms = 0; /* the next stall starts with a short retry again */
	return 0;
}

/* ctrlog_logger_feed() has no fd to stop reading: the caller waits for the sink instead. */
static int wait_unblocked(struct ctrlog_logger *l, struct stream *s)
{
	while (s->blocked) {
		struct pollfd p = { .fd = s->wait_fd, .events = POLLOUT };
		int r;

		if (s->wait_fd < 0)
			p = (struct pollfd){ .fd = l->stall_timerfd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -errno;
		r = on_stall_event(l);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- reading ----------------------------------------------------------------------------- */

/* Our pipe's O_NONBLOCK makes splice() non-blocking on both ends, so EAGAIN means either
 * "nothing to read" or "the output is full"; bytes waiting in the pipe tell which. */
static bool output_full(int in)
{
	int pending = 0;

	return ioctl(in, FIONREAD, &pending) == 0 && pending > 0;
}

/* splice() moves pipe pages to the passthrough output without copying them through user
 * space; it is used only when no sink needs the bytes framed. */
static int splice_once(struct ctrlog_logger *l, struct stream *s, enum ctrlog_stream id,
		       bool *ret_eof)
{
	int out = l->raw_sink->ops->splice_fd(l->raw_sink, id);
	ssize_t n;

	if (out < 0) {
		s->splice = false;
		return -EAGAIN;
	}
	n = splice(s->fd, NULL, out, NULL, s->cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		l->stats.reads++;
		l->stats.stream[id].bytes_in += (uint64_t)n;
		l->stats.stream[id].bytes_out += (uint64_t)n;
		return (int)(n == (ssize_t)s->cap);
	}
	if (n == 0) {
		*ret_eof = true;
		return 0;
	}
	if (errno == EINTR)
		return -EAGAIN;
	if (errno == EAGAIN && output_full(s->fd)) {
		/* Blocking mode: a full output holds the container back; splice again once it
		 * takes more. */
		int r = block_stream(l, s, id, out);

		return r < 0 ? r : 0;
	}
	if (errno == EAGAIN)
		return -EAGAIN;
	/* EINVAL: one side cannot splice (a pty, an O_APPEND file); read() from now on. */
	s->splice = false;
	return -EAGAIN;
}

/*
 * Reads one stream. Returns 1 if the last read filled the buffer (more is probably waiting),
 * 0 if the stream is drained for now, blocked by a sink, or ended.
 */
static int read_once(struct ctrlog_logger *l, struct stream *s, enum ctrlog_stream id)
{
	size_t space = s->cap - s->held;
	bool eof = false;
	ssize_t n;

	if (s->splice) {
		int r = splice_once(l, s, id, &eof);

		if (eof) {
			close_stream(l, s);
			return 0;
		}
		if (r != -EAGAIN)
			return r;
		return !s->splice; /* fell back: read at once */
	}
	n = read(s->fd, s->buf + s->held, space);
	if (n > 0) {
		int r = consume(l, s, id, (size_t)n);

		if (r == 0 && s->stall)
			r = block_stream(l, s, id, -1);
		if (r < 0)
			return r;
		return !s->blocked && (size_t)n == space;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* EOF, or EIO from a pty master whose other side closed, or an error: the stream is
	 * over either way. */
	close_stream(l, s);
	return 0;
}

static int service_stream(struct ctrlog_logger *l, enum ctrlog_stream id, int max_reads)
{
	struct stream *s = &l->streams[id];

	for (int i = 0; (max_reads < 0 || i < max_reads) && s->fd >= 0 && !s->blocked; i++) {
		int r = read_once(l, s, id);

		if (r <= 0)
			return r;
	}
	return 0;
}

/* Streams not over yet: those with an fd, and those whose output a sink still keeps. */
static int open_streams(const struct ctrlog_logger *l)
{
	int n = 0;

	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		n += l->streams[i].fd >= 0 || l->streams[i].blocked;
	return n;
}

static void flush_sinks(struct ctrlog_logger *l)
{
	for (size_t i = 0; i < l->n_sinks; i++)
		(void)l->sinks[i]->ops->flush(l->sinks[i]);
}

static int finish_round(struct ctrlog_logger *l)
{
	int r;

	flush_sinks(l);
	r = block_stalled_streams(l);
	return r < 0 ? r : arm_idle_timer_if_needed(l);
}

/* Handles what the epoll set reports; streams get up to max_reads reads (none: 0). */
static int handle_events(struct ctrlog_logger *l, int max_reads)
{
	struct epoll_event ev[CTRLOG_N_STREAMS + 4];
	int n = epoll_wait(l->epfd, ev, sizeof(ev) / sizeof(ev[0]), 0);

	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		uint32_t tag = ev[i].data.u32;
		int r;

		if (tag == TIMER_TAG)
			r = on_idle_timer(l);
		else if (tag == STALL_TAG)
			r = on_stall_event(l);
		else
			r = service_stream(l, tag, max_reads);
		if (r < 0)
			return r;
	}
	return 0;
}

int ctrlog_logger_dispatch(ctrlog_logger *l)
{
	int r;

	if (!drivable(l))
		return -EINVAL;
	r = handle_events(l, READS_PER_DISPATCH);
	if (r == 0)
		r = finish_round(l);
	return r < 0 ? r : open_streams(l);
}

int ctrlog_logger_drain(ctrlog_logger *l)
{
	int r;

	if (!drivable(l))
		return -EINVAL;
	r = handle_events(l, 0); /* timers, stalled sinks; the streams are read below */
	for (int i = 0; i < CTRLOG_N_STREAMS && r == 0; i++)
		r = service_stream(l, (enum ctrlog_stream)i, -1);
	if (r == 0)
		r = finish_round(l);
	return r < 0 ? r : open_streams(l);
}

int ctrlog_logger_stalled(const ctrlog_logger *l)
{
	int n = 0;

	if (!l)
		return -EINVAL;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		n += l->streams[i].blocked;
	return n;
}

int ctrlog_logger_stop_waiting(ctrlog_logger *l)
{
	int result = 0;

	if (!drivable(l))
		return -EINVAL;
	for (size_t i = 0; i < l->n_sinks; i++)
		if (l->sinks[i]->ops->stop_waiting)
			l->sinks[i]->ops->stop_waiting(l->sinks[i]);
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		struct stream *s = &l->streams[i];

		/* A full output would stall splice() again: read, and let the sink drop. */
		s->splice = false;
		s->stall = false;
		if (s->blocked) {
			int r = unblock_stream(l, s, (enum ctrlog_stream)i);

			if (r < 0 && result == 0)
				result = r;
		}
	}
	l->stall_retry_ms = 0;
	return result;
}

static int stream_alloc(struct ctrlog_logger *l, struct stream *s, size_t read_size)
{
	if (s->buf)
		return 0;
	s->cap = l->max_line + read_size;
	s->buf = malloc(s->cap);
	return s->buf ? 0 : -ENOMEM;
}

static size_t read_size_for(int fd)
{
	int pipe_size = fcntl(fd, F_GETPIPE_SZ);

	if (pipe_size < (int)MIN_READ_SIZE)
		return MIN_READ_SIZE;
	return pipe_size > (int)MAX_READ_SIZE ? MAX_READ_SIZE : (size_t)pipe_size;
}

int ctrlog_logger_add_fd(ctrlog_logger *l, int fd, enum ctrlog_stream id)
{
	struct stream *s;
	struct epoll_event ev = { .events = EPOLLIN };
	int flags, r;

	if (!drivable(l) || (unsigned)id >= CTRLOG_N_STREAMS || fd < 0) {
		r = -EINVAL;
		goto fail;
	}
	s = &l->streams[id];
	if (s->fd >= 0) {
		r = -EEXIST;
		goto fail;
	}
	r = stream_alloc(l, s, read_size_for(fd));
	if (r < 0)
		goto fail;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	ev.data.u32 = id;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	s->fd = fd;
	s->splice = l->raw_sink && !l->want_records && l->raw_sink->ops->splice_fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return r;
}

int ctrlog_logger_feed(ctrlog_logger *l, enum ctrlog_stream id, const void *buf, size_t len)
{
	const char *p = buf;
	struct stream *s;
	int r;

	if (!drivable(l) || (unsigned)id >= CTRLOG_N_STREAMS || (!buf && len))
		return -EINVAL;
	s = &l->streams[id];
	r = stream_alloc(l, s, MIN_READ_SIZE);
	if (r < 0)
		return r;
	while (len > 0) {
		size_t n = s->cap - s->held < len ? s->cap - s->held : len;

		memcpy(s->buf + s->held, p, n);
		r = consume(l, s, id, n);
		if (r == 0 && s->stall)
			r = block_stream(l, s, id, -1);
		if (r == 0)
			r = wait_unblocked(l, s);
		if (r < 0)
			return r;
		p += n;
		len -= n;
	}
	return finish_round(l);
}

int ctrlog_logger_feed_eof(ctrlog_logger *l, enum ctrlog_stream id)
{
	int r;

	if (!drivable(l) || (unsigned)id >= CTRLOG_N_STREAMS)
		return -EINVAL;
	clock_now(l);
	close_stream(l, &l->streams[id]);
	r = finish_round(l);
	return r < 0 ? r : wait_unblocked(l, &l->streams[id]);
}

int ctrlog_logger_flush(ctrlog_logger *l)
{
	if (!drivable(l))
		return -EINVAL;
	clock_now(l);
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		int r = emit_held(&l->streams[i], true);

		if (r < 0)
			return r;
	}
	flush_sinks(l);
	return block_stalled_streams(l);
}

enum sink_op { SINK_REOPEN, SINK_ROTATE };

/* Runs reopen or rotate on every sink that has it. Returns the first error, 0 if any sink did
 * it, or -ENOTSUP when none can. */
static int for_each_sink(ctrlog_logger *l, enum sink_op which)
{
	int result = -ENOTSUP;

	if (!drivable(l))
		return -EINVAL;
	flush_sinks(l);
	for (size_t i = 0; i < l->n_sinks; i++) {
		const struct ctrlog_sink_ops *ops = l->sinks[i]->ops;
		int (*op)(struct ctrlog_sink *) = which == SINK_REOPEN ? ops->reopen : ops->rotate;
		int r;

		if (!op)
			continue;
		r = op(l->sinks[i]);
		if (result == -ENOTSUP || (r < 0 && result >= 0))
			result = r;
	}
	return result;
}

int ctrlog_logger_reopen(ctrlog_logger *l)
{
	return for_each_sink(l, SINK_REOPEN);
}

int ctrlog_logger_rotate(ctrlog_logger *l)
{
	return for_each_sink(l, SINK_ROTATE);
}

int ctrlog_logger_get_stats(const ctrlog_logger *l, struct ctrlog_stats *ret_stats)
{
	struct ctrlog_stats st;

	if (!l || !ret_stats || ret_stats->struct_size < CTRLOG_STATS_SIZE_MIN)
		return -EINVAL;
	st = l->stats;
	for (size_t i = 0; i < l->n_sinks; i++)
		if (l->sinks[i]->ops->collect_stats)
			l->sinks[i]->ops->collect_stats(l->sinks[i], &st);
	/* An older caller's struct ends early: write only what it has room for. */
	st.struct_size = min_size(ret_stats->struct_size, sizeof(st));
	memcpy(ret_stats, &st, st.struct_size);
	return 0;
}

int ctrlog_logger_get_fd(const ctrlog_logger *l)
{
	return l ? l->epfd : -EINVAL;
}

static int add_sink(struct ctrlog_logger *l, struct ctrlog_sink *s)
{
	l->sinks[l->n_sinks++] = s;
	if (s->ops->write_batch)
		l->want_records = true;
	if (s->ops->write_raw)
		l->raw_sink = s;
	return 0;
}

static int open_sinks(struct ctrlog_logger *l, const struct ctrlog_config *cfg)
{
	static const struct {
		unsigned driver;
		int (*open)(const struct ctrlog_config *, struct ctrlog_stats *, struct ctrlog_sink **);
	} table[] = {
		{ CTRLOG_DRIVER_K8S_FILE, ctrlog_k8s_file_sink_new },
		{ CTRLOG_DRIVER_JOURNALD, ctrlog_journald_sink_new },
		{ CTRLOG_DRIVER_PASSTHROUGH, ctrlog_passthrough_sink_new },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct ctrlog_sink *s;
		int r;

		if (!(cfg->drivers & table[i].driver))
			continue;
		r = table[i].open(cfg, &l->stats, &s);
		if (r < 0)
			return r;
		add_sink(l, s);
	}
	return 0;
}

static int validate_config(const struct ctrlog_config *cfg)
{
	const unsigned known = CTRLOG_DRIVER_K8S_FILE | CTRLOG_DRIVER_JOURNALD |
			       CTRLOG_DRIVER_PASSTHROUGH | CTRLOG_DRIVER_NONE;

	if (cfg->drivers == 0 || (cfg->drivers & ~known))
		return -EINVAL;
	if (cfg->max_line == 0 || cfg->max_line > (64u << 20))
		return -EINVAL;
	if ((cfg->drivers & CTRLOG_DRIVER_K8S_FILE) && (!cfg->log_path || !*cfg->log_path))
		return -EINVAL;
	if (cfg->container_id && ctrlog_id_validate(cfg->container_id) < 0)
		return -EINVAL;
	return 0;
}

int ctrlog_logger_new(const struct ctrlog_config *caller_cfg, ctrlog_logger **ret_logger)
{
	struct ctrlog_config full;
	const struct ctrlog_config *cfg = &full;
	struct ctrlog_logger *l;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TIMER_TAG };
	struct epoll_event stall_ev = { .events = EPOLLIN, .data.u32 = STALL_TAG };
	int r;

	r = config_complete(caller_cfg, &full);
	if (r == 0)
		r = validate_config(cfg);
	if (r < 0 || !ret_logger)
		return r < 0 ? r : -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->max_line = cfg->max_line;
	l->idle_flush_ms = cfg->idle_flush_ms;
	l->timerfd = -1;
	l->stall_timerfd = -1;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		l->streams[i].fd = -1;
		l->streams[i].wait_fd = -1;
		ctrlog_framer_init(&l->streams[i].framer, (uint8_t)i, cfg->max_line, emit_records, l);
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->stall_timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->epfd < 0 || l->timerfd < 0 || l->stall_timerfd < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->timerfd, &ev) < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stall_timerfd, &stall_ev) < 0) {
		r = -errno;
		goto fail;
	}
	r = open_sinks(l, cfg);
	if (r < 0)
		goto fail;
	*ret_logger = l;
	return 0;
fail:
	ctrlog_logger_free(l);
	return r;
}

void ctrlog_logger_finish(ctrlog_logger *l)
{
	if (!l || l->finished)
		return;
	clock_now(l);
	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		close_stream(l, &l->streams[i]);
	flush_sinks(l);
	for (size_t i = 0; i < l->n_sinks; i++)
		if (l->sinks[i]->ops->finish)
			l->sinks[i]->ops->finish(l->sinks[i]);
	l->finished = true;
}

void ctrlog_logger_free(ctrlog_logger *l)
{
	if (!l)
		return;
	ctrlog_logger_finish(l);
	for (size_t i = 0; i < l->n_sinks; i++)
		l->sinks[i]->ops->free(l->sinks[i]);
	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		free(l->streams[i].buf);
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->stall_timerfd >= 0)
		close(l->stall_timerfd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}
