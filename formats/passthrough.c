/* SPDX-License-Identifier: MIT */
/*
 * The passthrough sink: the container's bytes, unchanged, on the monitor's own stdout and
 * stderr (which systemd hands to the journal for a monitor it runs). When it is the only sink
 * in blocking mode the core splices straight into these fds.
 *
 * Writes never wait, in either mode (see private_output()). In blocking mode what a full reader
 * does not take is kept (at most what the core read before it stops reading that stream) and
 * written when the output takes more, so the container waits, not the monitor. In non-blocking
 * mode it is kept in a bounded buffer per stream; when that is full, the rest of the read is
 * dropped and counted, so a reader that stalls never stalls the container. The caller's fds stay
 * as they are: O_NONBLOCK belongs to the open file description, which the shell that started us
 * shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/sink.h"

struct pending {
	char *buf;
	size_t len;
	size_t cap; /* blocking mode: the size of buf, grown as needed */
};

struct passthrough_sink {
	struct ctrlog_sink base;
	int fds[CTRLOG_N_STREAMS];
	bool owned[CTRLOG_N_STREAMS];  /* fds[i] is our private reopening: closed on free */
	bool socket[CTRLOG_N_STREAMS]; /* written with send(MSG_DONTWAIT) */
	bool failing; /* in a write-error episode (counted once, not per write) */
	bool nonblocking; /* also once blocking mode stopped waiting */
	size_t pending_cap;
	struct pending pending[CTRLOG_N_STREAMS];
};

static void note_result(struct passthrough_sink *p, int r, size_t lost)
{
	struct ctrlog_stats *st = p->base.stats;

	if (r == 0 || r == -EAGAIN) {
		p->failing = false;
		return;
	}
	st->write_errors += !p->failing;
	st->last_write_error = r;
	st->last_write_error_driver = CTRLOG_DRIVER_PASSTHROUGH;
	st->dropped_bytes += lost;
	p->failing = true;
}

/* One non-blocking attempt: returns 0 when all went out, -EAGAIN when the reader is full. */
static int write_some(struct passthrough_sink *p, enum ctrlog_stream stream, const char *data,
		      size_t len, size_t *ret_written)
{
	int fd = p->fds[stream];
	size_t done = 0;
	int r = 0;

	while (done < len) {
		ssize_t w = p->socket[stream] ?
			send(fd, data + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL) :
			write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			break;
		}
		done += (size_t)w;
	}
	*ret_written = done;
	return r;
}

static int drain_pending(struct passthrough_sink *p, enum ctrlog_stream stream)
{
	struct pending *q = &p->pending[stream];
	size_t written = 0;
	int r;

	if (q->len == 0)
		return 0;
	r = write_some(p, stream, q->buf, q->len, &written);
	p->base.stats->stream[stream].bytes_out += written;
	memmove(q->buf, q->buf + written, q->len - written);
	q->len -= written;
	if (r < 0 && r != -EAGAIN) {
		note_result(p, r, q->len);
		q->len = 0;
	}
	return r;
}

static int write_nonblocking(struct passthrough_sink *p, enum ctrlog_stream stream,
			     const char *data, size_t len)
{
	struct pending *q = &p->pending[stream];
	size_t written = 0, rest;
	int r = drain_pending(p, stream);

	if (q->len == 0 && r == 0) {
		r = write_some(p, stream, data, len, &written);
		p->base.stats->stream[stream].bytes_out += written;
		data += written;
		len -= written;
	}
	if (len == 0 || (r < 0 && r != -EAGAIN)) {
		note_result(p, r, len);
		return r;
	}
	/* The reader is full: keep what fits, drop the rest of this read. */
	rest = p->pending_cap - q->len < len ? p->pending_cap - q->len : len;
	if (rest > 0)
		memcpy(q->buf + q->len, data, rest);
	q->len += rest;
	p->base.stats->dropped_bytes += len - rest;
	return 0;
}

/* Blocking mode only; memory grows while a reader stalls, by at most a read per stream. */
static int keep(struct pending *q, const char *data, size_t len)
{
	if (q->len + len > q->cap) {
		size_t cap = q->len + len > 2 * q->cap ? q->len + len : 2 * q->cap;
		char *buf = realloc(q->buf, cap);

		if (!buf)
			return -ENOMEM;
		q->buf = buf;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, data, len);
	q->len += len;
	return 0;
}

/* Returns -EAGAIN when the reader is full: the rest is kept until pt_retry() sends it. */
static int write_blocking(struct passthrough_sink *p, enum ctrlog_stream stream, const char *data,
			  size_t len)
{
	struct pending *q = &p->pending[stream];
	size_t written = 0;
	int r = -EAGAIN;

	if (q->len == 0) {
		r = write_some(p, stream, data, len, &written);
		p->base.stats->stream[stream].bytes_out += written;
	}
	if (r == -EAGAIN)
		r = keep(q, data + written, len - written);
	note_result(p, r, r < 0 ? len - written : 0);
	return r < 0 ? r : q->len ? -EAGAIN : 0;
}

static int pt_write_raw(struct ctrlog_sink *base, enum ctrlog_stream stream, const char *data,
			size_t len)
{
	struct passthrough_sink *p = (struct passthrough_sink *)base;

	base->stats->writes++;
	if (p->nonblocking)
		return write_nonblocking(p, stream, data, len);
	return write_blocking(p, stream, data, len);
}

static int pt_retry(struct ctrlog_sink *base, enum ctrlog_stream stream, int *ret_fd)
{
	struct passthrough_sink *p = (struct passthrough_sink *)base;

	if (drain_pending(p, stream) != -EAGAIN)
		return 0; /* all out, or failed (counted, nothing kept) */
	*ret_fd = p->fds[stream];
	return -EAGAIN;
}

static void drop_pending(struct passthrough_sink *p)
{
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		p->base.stats->dropped_bytes += p->pending[i].len;
		p->pending[i].len = 0;
	}
}

static int pt_splice_fd(struct ctrlog_sink *base, enum ctrlog_stream stream)
{
	struct passthrough_sink *p = (struct passthrough_sink *)base;

	/* A socket is the caller's description, maybe blocking: it gets send(MSG_DONTWAIT). */
	return p->nonblocking || p->socket[stream] ? -1 : p->fds[stream];
}

static int pt_flush(struct ctrlog_sink *base)
{
	struct passthrough_sink *p = (struct passthrough_sink *)base;

	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		(void)drain_pending(p, (enum ctrlog_stream)i);
	return 0;
}

/* From now on as non-blocking mode without a buffer: what does not go out at once is dropped. */
static void pt_stop_waiting(struct ctrlog_sink *base)
{
	struct passthrough_sink *p = (struct passthrough_sink *)base;

	pt_flush(base);
	drop_pending(p);
	p->nonblocking = true;
	p->pending_cap = 0;
}

/* The caller's fds stay the caller's; only our reopenings are closed. */
static void free_sink(struct passthrough_sink *p)
{
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		free(p->pending[i].buf);
		if (p->owned[i])
			close(p->fds[i]);
	}
	free(p);
}

/* A last attempt; what a stalled reader still has not taken is counted as dropped, once. */
static void pt_finish(struct ctrlog_sink *base)
{
	struct passthrough_sink *p = (struct passthrough_sink *)base;

	pt_flush(base);
	drop_pending(p);
}

static void pt_free(struct ctrlog_sink *base)
{
	pt_finish(base);
	free_sink((struct passthrough_sink *)base);
}

static const struct ctrlog_sink_ops passthrough_ops = {
	.name = "passthrough",
	.write_raw = pt_write_raw,
	.splice_fd = pt_splice_fd,
	.flush = pt_flush,
	.retry = pt_retry,
	.stop_waiting = pt_stop_waiting,
	.finish = pt_finish,
	.free = pt_free,
};

/*
 * Non-blocking writes to fd without changing its file description, whose flags every process
 * holding it shares (a shell whose stdout went O_NONBLOCK breaks): a socket takes
 * send(MSG_DONTWAIT); a pipe, FIFO or tty is opened again through /proc/self/fd, which gives a
 * description of our own on the same pipe or device, made O_NONBLOCK; a regular file never
 * blocks that way, and reopening it would lose the caller's offset.
 */
static int private_output(struct passthrough_sink *p, int i, int fd)
{
	char path[64];
	struct stat st;
	int own;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISSOCK(st.st_mode)) {
		p->socket[i] = true;
		return 0;
	}
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	own = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (own < 0)
		/* ENXIO: a pipe nobody reads; writing to it fails (EPIPE) without blocking. */
		return errno == ENXIO ? 0 : -errno;
	p->fds[i] = own;
	p->owned[i] = true;
	return 0;
}

/* Blocking mode waits for a full reader in the core's epoll set, never in write(): that too
 * needs an output that does not block. Without one (no /proc) the caller's fd is written as it
 * is, the way it always was, and that is counted. */
static void blocking_output(struct passthrough_sink *p, int i)
{
	int r = private_output(p, i, p->fds[i]);

	if (r < 0) {
		p->base.stats->internal_errors++;
		p->base.stats->last_internal_error = r;
	}
}

int ctrlog_passthrough_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
				struct ctrlog_sink **ret)
{
	struct passthrough_sink *p;
	int r = 0;

	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		if (cfg->passthrough_fds[i] < 0)
			return -EBADF;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base.ops = &passthrough_ops;
	p->base.stats = stats;
	p->nonblocking = cfg->mode == CTRLOG_MODE_NON_BLOCKING;
	p->pending_cap = cfg->buffer_size;
	for (int i = 0; i < CTRLOG_N_STREAMS && r == 0; i++) {
		p->fds[i] = cfg->passthrough_fds[i];
		if (!p->nonblocking) {
			blocking_output(p, i);
			continue;
		}
		p->pending[i].buf = malloc(p->pending_cap ? p->pending_cap : 1);
		r = p->pending[i].buf ? private_output(p, i, p->fds[i]) : -ENOMEM;
	}
	if (r < 0) {
		free_sink(p);
		return r;
	}
	*ret = &p->base;
	return 0;
}
