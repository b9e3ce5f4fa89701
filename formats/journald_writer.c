/* SPDX-License-Identifier: MIT */
/*
 * The journald sink: one journal entry per record, with the fields Docker and podman write, so
 * `journalctl CONTAINER_ID=<short id>` finds them. The fixed fields are formatted once; per
 * record only MESSAGE (copied behind its "MESSAGE=" key into a buffer allocated once),
 * PRIORITY and, for split lines, the partial fields change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Without this, sd_journal_sendv() is a macro adding CODE_FILE, CODE_LINE and CODE_FUNC of this
 * file to every container entry: noise (and a source path) that Docker and conmon do not write. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "ctrlog/ctrlog.h"
#include "formats/sink.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define MAX_FIXED 6 /* CONTAINER_ID, _FULL, _NAME, _TAG, SYSLOG_IDENTIFIER, spare */
#define MESSAGE_KEY "MESSAGE="

#define PARTIAL_ID_KEY "CONTAINER_PARTIAL_ID="
#define PARTIAL_ID_HEX 64 /* like Docker's: 64 hex digits */

struct queued {
	uint32_t len;
	uint8_t stream;
	bool partial;
};

struct partial_state {
	bool open;          /* a split line is in progress on this stream */
	unsigned ordinal;   /* of the last piece sent; Docker's count from 1 */
	char id_field[sizeof(PARTIAL_ID_KEY) + PARTIAL_ID_HEX]; /* CONTAINER_PARTIAL_ID=<hex> */
};

struct journald_sink {
	struct ctrlog_sink base;
	char *fixed_text[MAX_FIXED];
	size_t n_fixed;
	char **labels;
	size_t n_labels;
	struct iovec *iov;  /* fixed fields first, then the per-record ones */
	size_t n_iov_fixed;
	char *message;      /* "MESSAGE=" + content */
	size_t message_cap;
	uint64_t partial_seed[3];
	uint64_t partial_counter;
	struct partial_state partial[CTRLOG_N_STREAMS];
	/* Our own datagram socket, not connected: every entry is addressed to the journal socket's
	 * path, so a restarted journald (a new socket at the same path) is reached by the next
	 * entry, as sd-journal does. Sends never wait (MSG_DONTWAIT; sd-journal always blocks
	 * when journald is slow). native has room for each field plus its '\n'. */
	int sock;
	struct iovec *native;
	/* Blocking mode: records a full journald queue did not take yet, in order, sent again
	 * (retry) before anything else; false in non-blocking mode and once waiting stopped.
	 * probe is connected to journald only to learn when its queue has room (see wait_fd());
	 * sndbuf is sock's send buffer. */
	bool blocking;
	int probe;
	int sndbuf;
	struct queue {
		char *buf;          /* struct queued headers, each followed by its bytes */
		size_t head, len, cap;
	} queue;
	/* A write-error episode (journald unreachable): its error, 0 when none, and what it lost. */
	int error;
	uint64_t lost_records;
	uint64_t lost_bytes;
};

static int add_fixed(struct journald_sink *j, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (asprintf(&j->fixed_text[j->n_fixed], "%s=%s", key, value) < 0)
		return -ENOMEM;
	j->n_fixed++;
	return 0;
}

/* Split lines need an ID per line, unique across containers and restarts: 192 random bits drawn
 * once and a counter, so that no syscall happens per line. */
static void new_partial_id(struct journald_sink *j, struct partial_state *p)
{
	snprintf(p->id_field, sizeof(p->id_field), PARTIAL_ID_KEY "%016llx%016llx%016llx%016llx",
		 (unsigned long long)j->partial_seed[0], (unsigned long long)j->partial_seed[1],
		 (unsigned long long)j->partial_seed[2], (unsigned long long)++j->partial_counter);
	p->ordinal = 0;
	p->open = true;
}

static const struct sockaddr_un journal_address = {
	.sun_family = AF_UNIX,
	.sun_path = JOURNAL_SOCKET,
};

/*
 * journald's native protocol, which sd_journal_sendv() speaks too: one datagram per entry,
 * each field "KEY=VALUE\n". Values here never hold a '\n' (records are cut at newlines, and
 * labels, tags and names are checked), so the simple form serves. Never waits: a full queue
 * returns -EAGAIN at once; a journald that is gone, -ECONNREFUSED or -ENOENT.
 */

static int send_native(struct journald_sink *j, const struct iovec *iov, size_t n)
{
	struct msghdr msg = {
		.msg_name = (void *)&journal_address,
		.msg_namelen = sizeof(journal_address),
		.msg_iov = j->native,
		.msg_iovlen = 2 * n,
	};

	for (size_t i = 0; i < n; i++) {
		j->native[2 * i] = iov[i];
		j->native[2 * i + 1] = (struct iovec){ "\n", 1 };
	}
	if (sendmsg(j->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
		return 0;
	return -errno;
}

/* One entry, never waiting: -EAGAIN when journald's queue is full. An entry too large for a
 * datagram goes through sd-journal, which passes it in a memfd (and may wait). */
static int send_entry(struct journald_sink *j, struct iovec *iov, size_t n)
{
	int r;

	j->base.stats->writes++;
	r = send_native(j, iov, n);
	return r == -EMSGSIZE ? sd_journal_sendv(iov, (int)n) : r;
}

/*
 * A failed send starts (or continues) a write-error episode: counted once in write_errors, the
 * record counted as lost. sd_journal_sendv() fails fast when journald is gone (ECONNREFUSED on
 * its socket), so every later record is a retry and the first one that goes through ends the
 * episode; nothing is buffered meanwhile, so memory stays bounded however long journald is away.
 */
static void note_failure(struct journald_sink *j, int r, size_t len)
{
	struct ctrlog_stats *st = j->base.stats;

	if (!j->error)
		st->write_errors++;
	j->error = r;
	st->last_write_error = r;
	st->last_write_error_driver = CTRLOG_DRIVER_JOURNALD;
	st->dropped_bytes += len;
	j->lost_records++;
	j->lost_bytes += len;
}

/* The entry that ends an episode, before anything else is sent, like k8s-file's marker record:
 * the container's fields, PRIORITY=4, and what was lost. Returns 0 once it went through. */
static int send_marker(struct journald_sink *j)
{
	struct iovec *iov = j->iov;
	size_t n = j->n_iov_fixed;
	char text[200];
	int len, r;

	len = snprintf(text, sizeof(text),
		       MESSAGE_KEY "[ctrlog] %llu bytes in %llu lines were lost: sending to journald failed: %s",
		       (unsigned long long)j->lost_bytes, (unsigned long long)j->lost_records,
		       ctrlog_strerror(j->error));
	iov[n++] = (struct iovec){ text, (size_t)len < sizeof(text) ? (size_t)len : sizeof(text) - 1 };
	iov[n++] = (struct iovec){ "PRIORITY=4", 10 };
	r = send_entry(j, iov, n);
	if (r < 0)
		return r;
	j->error = 0;
	j->lost_records = j->lost_bytes = 0;
	return 0;
}

/* The record's line goes on: the next piece of a split line gets the next ordinal, whether
 * this one was sent or lost. */
static void advance_partial(struct partial_state *p, const struct ctrlog_record *rec)
{
	if (p->open) {
		p->ordinal++;
		p->open = rec->partial;
	}
}

/* The record's fields after the fixed ones, in j->iov; returns how many fields there are. */
static size_t record_fields(struct journald_sink *j, const struct ctrlog_record *rec,
			    char *ordinal, size_t ordinal_size)
{
	struct partial_state *p = &j->partial[rec->stream];
	struct iovec *iov = j->iov;
	size_t n = j->n_iov_fixed;

	memcpy(j->message + strlen(MESSAGE_KEY), rec->data, rec->len);
	iov[n++] = (struct iovec){ j->message, strlen(MESSAGE_KEY) + rec->len };
	iov[n++] = rec->stream == CTRLOG_STDERR ? (struct iovec){ "PRIORITY=3", 10 }
						: (struct iovec){ "PRIORITY=6", 10 };
	if (p->open) {
		if (rec->partial)
			iov[n++] = (struct iovec){ "CONTAINER_PARTIAL_MESSAGE=true", 30 };
		iov[n++] = (struct iovec){ p->id_field, sizeof(p->id_field) - 1 };
		iov[n].iov_base = ordinal;
		iov[n++].iov_len = (size_t)snprintf(ordinal, ordinal_size,
						    "CONTAINER_PARTIAL_ORDINAL=%u", p->ordinal + 1);
		iov[n++] = rec->partial ? (struct iovec){ "CONTAINER_PARTIAL_LAST=false", 28 }
					: (struct iovec){ "CONTAINER_PARTIAL_LAST=true", 27 };
	}
	return n;
}

/* Sends one record (after the marker of an outage, if one is owed). Returns -EAGAIN, with
 * nothing changed, when blocking mode is to send it again; any other failure loses it. */
static int send_record(struct journald_sink *j, const struct ctrlog_record *rec)
{
	struct partial_state *p = &j->partial[rec->stream];
	char ordinal[48];
	int r = 0;

	if (rec->partial && !p->open)
		new_partial_id(j, p);
	if (j->error)
		r = send_marker(j); /* still unreachable: the record is lost */
	if (r == 0)
		r = send_entry(j, j->iov, record_fields(j, rec, ordinal, sizeof(ordinal)));
	if (r == -EAGAIN && j->blocking)
		return r;
	advance_partial(p, rec);
	if (r < 0)
		note_failure(j, r, rec->len);
	return r;
}

static bool queue_empty(const struct journald_sink *j)
{
	return j->queue.head == j->queue.len;
}

/* Keeps a copy of rec, behind those kept already; -ENOMEM loses it (counted). */
static int enqueue(struct journald_sink *j, const struct ctrlog_record *rec)
{
	struct queue *q = &j->queue;
	struct queued h = { .len = rec->len, .stream = rec->stream, .partial = rec->partial };
	size_t need = q->len + sizeof(h) + rec->len;

	if (need > q->cap) {
		size_t cap = need > 2 * q->cap ? need : 2 * q->cap;
		char *buf = realloc(q->buf, cap);

		if (!buf) {
			advance_partial(&j->partial[rec->stream], rec);
			note_failure(j, -ENOMEM, rec->len);
			return -ENOMEM;
		}
		q->buf = buf;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, &h, sizeof(h));
	memcpy(q->buf + q->len + sizeof(h), rec->data, rec->len);
	q->len = need;
	return 0;
}

/* The oldest kept record; its data points into the queue. */
static struct ctrlog_record queue_front(const struct journald_sink *j)
{
	struct queued h;

	memcpy(&h, j->queue.buf + j->queue.head, sizeof(h));
	return (struct ctrlog_record){ .data = j->queue.buf + j->queue.head + sizeof(h),
				       .len = h.len, .stream = h.stream, .partial = h.partial };
}

static void queue_pop(struct journald_sink *j, const struct ctrlog_record *rec)
{
	j->queue.head += sizeof(struct queued) + rec->len;
	if (queue_empty(j))
		j->queue.head = j->queue.len = 0;
}

/* (Re)connects the probe to journald's socket: -ECONNREFUSED when nothing listens there (no
 * socket file, or a stale one). */
static int connect_probe(struct journald_sink *j)
{
	if (j->probe < 0)
		j->probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (j->probe < 0)
		return -errno;
	if (connect(j->probe, (const struct sockaddr *)&journal_address, sizeof(journal_address)) < 0)
		return errno == ENOENT || errno == ECONNREFUSED ? -ECONNREFUSED : -errno;
	return 0;
}

/*
 * What says when a send can go on. A send waits for one of two things: room in our own send
 * buffer (our datagrams count against it until journald reads them), reported by EPOLLOUT on
 * our socket; or room in journald's queue (net.unix.max_dgram_qlen), which only a socket
 * connected to journald's reports, so the probe is connected, afresh each time (a restarted
 * journald has a new socket). -1 when neither can be had: the core retries on a timer.
 */
static int wait_fd(struct journald_sink *j)
{
	int outq = 0;

	if (ioctl(j->sock, SIOCOUTQ, &outq) == 0 && outq >= j->sndbuf)
		return j->sock;
	/* Failing here means journald is gone: the retry then fails, and counts, at once. */
	return connect_probe(j) == 0 ? j->probe : -1;
}

/* Blocking mode: sends what a full queue did not take, oldest first. */
static int jd_retry(struct ctrlog_sink *base, enum ctrlog_stream stream, int *ret_fd)
{
	struct journald_sink *j = (struct journald_sink *)base;

	(void)stream; /* one queue for both streams, in the order the records came */
	while (!queue_empty(j)) {
		struct ctrlog_record rec = queue_front(j);

		if (send_record(j, &rec) == -EAGAIN) {
			*ret_fd = wait_fd(j);
			return -EAGAIN;
		}
		queue_pop(j, &rec);
	}
	return 0;
}

/* What is still kept is lost, counted as in an outage (a marker follows if journald takes
 * entries again); from now on a full queue drops, as in non-blocking mode. */
static void jd_stop_waiting(struct ctrlog_sink *base)
{
	struct journald_sink *j = (struct journald_sink *)base;

	j->blocking = false;
	while (!queue_empty(j)) {
		struct ctrlog_record rec = queue_front(j);

		advance_partial(&j->partial[rec.stream], &rec);
		note_failure(j, -EAGAIN, rec.len);
		queue_pop(j, &rec);
	}
}

/* Returns -EAGAIN when any record was kept for later (blocking mode): nothing overtakes it. */
static int jd_write_batch(struct ctrlog_sink *base, const struct ctrlog_batch *b)
{
	struct journald_sink *j = (struct journald_sink *)base;
	int result = 0;

	for (size_t i = 0; i < b->n; i++) {
		int r;

		if (b->records[i].len > j->message_cap) {
			/* cannot happen: records never exceed max_line */
			j->base.stats->write_errors++;
			j->base.stats->dropped_bytes += b->records[i].len;
			result = -EMSGSIZE;
			continue;
		}
		r = queue_empty(j) ? send_record(j, &b->records[i]) : -EAGAIN;
		if (r == -EAGAIN && j->blocking && enqueue(j, &b->records[i]) < 0)
			r = -ENOMEM;
		if (r < 0 && result != -EAGAIN)
			result = r;
	}
	return result;
}

static int jd_flush(struct ctrlog_sink *base)
{
	(void)base;
	return 0; /* every entry is sent as it comes */
}

static void jd_free(struct ctrlog_sink *base)
{
	struct journald_sink *j = (struct journald_sink *)base;

	if (!j)
		return;
	jd_stop_waiting(base);
	free(j->queue.buf);
	for (size_t i = 0; i < j->n_fixed; i++)
		free(j->fixed_text[i]);
	for (size_t i = 0; i < j->n_labels; i++)
		free(j->labels[i]);
	free(j->labels);
	free(j->iov);
	free(j->native);
	free(j->message);
	if (j->sock >= 0)
		close(j->sock);
	if (j->probe >= 0)
		close(j->probe);
	free(j);
}

static const struct ctrlog_sink_ops journald_ops = {
	.name = "journald",
	.write_batch = jd_write_batch,
	.flush = jd_flush,
	.retry = jd_retry,
	.stop_waiting = jd_stop_waiting,
	.finish = jd_stop_waiting, /* the last work: what journald never took is lost, counted */
	.free = jd_free,
};

/* Field values must not hold a newline: journald would take the rest as another field. */
static bool has_newline(const char *s)
{
	return s && strchr(s, '\n');
}

static int build_fixed_fields(struct journald_sink *j, const struct ctrlog_config *cfg)
{
	char short_id[13];
	const char *ident;
	int r;

	snprintf(short_id, sizeof(short_id), "%.12s", cfg->container_id);
	ident = cfg->tag ? cfg->tag : cfg->name ? cfg->name : short_id;
	r = add_fixed(j, "CONTAINER_ID", short_id);
	if (r == 0)
		r = add_fixed(j, "CONTAINER_ID_FULL", cfg->container_id);
	if (r == 0)
		r = add_fixed(j, "CONTAINER_NAME", cfg->name);
	if (r == 0)
		r = add_fixed(j, "CONTAINER_TAG", ident);
	if (r == 0)
		r = add_fixed(j, "SYSLOG_IDENTIFIER", ident);
	return r;
}

int ctrlog_journald_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
			     struct ctrlog_sink **ret)
{
	struct journald_sink *j;
	size_t n = 0;
	int r;

	if (!cfg->container_id || has_newline(cfg->name) || has_newline(cfg->tag))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_labels; i++)
		if (has_newline(cfg->labels[i]))
			return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->base.ops = &journald_ops;
	j->base.stats = stats;
	j->sock = -1;
	j->probe = -1;
	j->blocking = cfg->mode == CTRLOG_MODE_BLOCKING;
	/* Fails early and clearly when nothing listens on the journal socket, before the
	 * container starts, rather than dropping its first lines. */
	r = connect_probe(j);
	if (r < 0)
		goto fail;
	j->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (j->sock < 0) {
		r = -errno;
		goto fail;
	}
	if (getsockopt(j->sock, SOL_SOCKET, SO_SNDBUF, &j->sndbuf, &(socklen_t){ sizeof(j->sndbuf) }) < 0) {
		r = -errno;
		goto fail;
	}
	r = build_fixed_fields(j, cfg);
	if (r < 0)
		goto fail;
	/* fixed + labels + MESSAGE, PRIORITY and four partial fields */
	j->iov = calloc(j->n_fixed + cfg->n_labels + 6, sizeof(*j->iov));
	j->native = calloc(2 * (j->n_fixed + cfg->n_labels + 6), sizeof(*j->native));
	j->message_cap = cfg->max_line;
	j->message = malloc(strlen(MESSAGE_KEY) + j->message_cap);
	if (!j->iov || !j->native || !j->message) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(j->message, MESSAGE_KEY, strlen(MESSAGE_KEY));
	for (size_t i = 0; i < j->n_fixed; i++)
		j->iov[n++] = (struct iovec){ j->fixed_text[i], strlen(j->fixed_text[i]) };
	j->labels = calloc(cfg->n_labels + 1, sizeof(*j->labels));
	if (!j->labels) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_labels; i++) {
		j->labels[i] = strdup(cfg->labels[i]);
		if (!j->labels[i]) {
			r = -ENOMEM;
			goto fail;
		}
		j->n_labels++;
		j->iov[n++] = (struct iovec){ j->labels[i], strlen(j->labels[i]) };
	}
	j->n_iov_fixed = n;
	if (getrandom(j->partial_seed, sizeof(j->partial_seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(j->partial_seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		j->partial_seed[0] = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)j;
		j->partial_seed[1] = (uint64_t)ts.tv_sec << 30 ^ (uint64_t)ts.tv_nsec;
		j->partial_seed[2] = ~j->partial_seed[0] * 0x9e3779b97f4a7c15ull ^ j->partial_seed[1];
	}
	*ret = &j->base;
	return 0;
fail:
	jd_free(&j->base);
	return r;
}
