/* SPDX-License-Identifier: MIT */
/*
 * The k8s-file sink. Records are formatted into one staging buffer and written with a single
 * write() per dispatch round (or when the buffer fills), so the cost per line is two memcpy()s:
 * the prefix, which is formatted once per batch, and the content.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/k8s-file.h"
#include "formats/k8s-file-reader.h"
#include "formats/sink.h"
#include "rotate/fileset.h"

/* Measured (bench, 100- and 20-byte lines, ext4 and tmpfs): 512 KiB costs the same CPU as
 * 1 or 2 MiB, one write still carries thousands of records, and the monitor's peak RSS drops
 * from ~5.0 to ~4.1 MB. */
#define STAGE_SIZE (512u << 10)

/* Back-off between attempts to write again after a write error (ENOSPC, EIO, EDQUOT), and
 * to rotate again after a failed rotation. */
#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 2000

/* Taking over a live file, its end is searched for a line left open (a P record) by a crash;
 * the search reads this much at a time, and gives up this far back. */
#define SCAN_CHUNK (64u << 10)
#define SCAN_LIMIT (64u << 20)
#define SCAN_HEADER 64 /* a record's time, stream and tag, also of conmon's or containerd's */

struct k8s_sink {
	struct ctrlog_sink base;
	struct ctrlog_fileset *fs;
	char *stage;
	size_t stage_len;
	uint64_t staged_out[CTRLOG_N_STREAMS]; /* bytes of each stream in the stage */
	struct timespec now; /* time of the latest batch */
	struct timespec prefix_time;
	bool prefix_valid;
	char prefix[CTRLOG_N_STREAMS][2][CTRLOG_K8S_PREFIX_LEN];
	/* A write-error episode, and when to try again. */
	int error;
	uint32_t backoff_ms;
	struct timespec retry_at;
	/* What was lost since the last record written, told by a marker record once writing
	 * works again: how much, and the latest cause. */
	uint64_t lost_bytes;
	uint64_t lost_records;
	int loss_error;
	bool lost_to_rotation;
	/* A rotation-failure episode: nothing is written (the live file is full, or missing after
	 * a rename) so that the size limit holds; records are dropped and counted until a retry,
	 * after the back-off, works. */
	bool rotation_blocked;
	int rotation_error;
	uint32_t rotation_backoff_ms;
	struct timespec rotation_retry_at;
	bool finished; /* k8s_finish() ran: free must not flush (and retry a marker) again */
};

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Counts the records in formatted output, on the error path only: per stream into the stats
 * when `written`, else into the episode's losses. The stream is told by the prefix. */
static void account_records(struct k8s_sink *k, const char *out, size_t len, bool written)
{
	const char *end = out + len;

	while (out < end) {
		const char *nl = memchr(out, '\n', (size_t)(end - out));
		size_t rec = (size_t)(nl - out) + 1;

		if (written) {
			int stream = out[CTRLOG_K8S_TIME_LEN + 4] == 'e' ? CTRLOG_STDERR : CTRLOG_STDOUT;

			k->base.stats->stream[stream].bytes_out += rec;
		} else {
			k->lost_records++;
			k->lost_bytes += rec - CTRLOG_K8S_PREFIX_LEN - 1;
			k->base.stats->dropped_bytes += rec - CTRLOG_K8S_PREFIX_LEN - 1;
		}
		out = nl + 1;
	}
}

/* The next attempt: RETRY_MIN_MS after the first failure of an episode, doubling up to
 * RETRY_MAX_MS after each further one. */
static void back_off(const struct timespec *now, bool first, uint32_t *ms, struct timespec *at)
{
	if (first)
		*ms = RETRY_MIN_MS;
	else if (*ms < RETRY_MAX_MS)
		*ms = *ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : *ms * 2;
	*at = *now;
	at->tv_sec += *ms / 1000;
	at->tv_nsec += (long)(*ms % 1000) * 1000000;
	if (at->tv_nsec >= 1000000000) {
		at->tv_sec++;
		at->tv_nsec -= 1000000000;
	}
}

static void start_episode(struct k8s_sink *k, int error)
{
	if (!k->error)
		k->base.stats->write_errors++;
	back_off(&k->now, !k->error, &k->backoff_ms, &k->retry_at);
	k->error = error;
	k->loss_error = error;
	k->lost_to_rotation = false;
	k->base.stats->last_write_error = error;
	k->base.stats->last_write_error_driver = CTRLOG_DRIVER_K8S_FILE;
}

/*
 * Writes formatted records. On failure the file is cut back to the last whole record, so a
 * reader never meets a torn one, and what did not make it is counted as lost.
 */
static int write_records(struct k8s_sink *k, const char *out, size_t len,
			 const uint64_t per_stream[CTRLOG_N_STREAMS])
{
	uint64_t size_before = ctrlog_fileset_size(k->fs);
	size_t written = 0, whole;
	int fd = ctrlog_fileset_fd(k->fs);
	int r = ctrlog_write_all(fd, out, len, &written);

	/* A disk full of the set's own history would never recover (the live file could not
	 * grow to its rotation size, so retention would never run): the oldest rotated files go
	 * first, down to the live file alone. */
	while (r < 0 && ctrlog_fileset_free_for(k->fs, r) == 0) {
		size_t more = 0;

		r = ctrlog_write_all(fd, out + written, len - written, &more);
		written += more;
	}
	k->base.stats->writes++;
	if (r == 0) {
		ctrlog_fileset_account(k->fs, len);
		for (int i = 0; i < CTRLOG_N_STREAMS; i++)
			k->base.stats->stream[i].bytes_out += per_stream[i];
		return 0;
	}
	whole = written;
	while (whole > 0 && out[whole - 1] != '\n')
		whole--;
	if (whole < written && ftruncate(fd, (off_t)(size_before + whole)) < 0)
		whole = written; /* cannot cut: keep the torn piece rather than lose track */
	ctrlog_fileset_account(k->fs, whole);
	account_records(k, out, whole, true);
	if (whole < len)
		account_records(k, out + whole, len - whole, false);
	start_episode(k, r);
	return r;
}

/* The one record that ends an episode, before anything else is written. It is ctrlog's own
 * line: when it cannot be written either, nothing of the container's is lost by that, so
 * write_records() must not count it among the losses it reports later. */
static int write_marker(struct k8s_sink *k)
{
	char line[CTRLOG_K8S_PREFIX_LEN + 200];
	uint64_t lost_bytes = k->lost_bytes, lost_records = k->lost_records;
	uint64_t dropped = k->base.stats->dropped_bytes;
	uint64_t per_stream[CTRLOG_N_STREAMS] = { 0 };
	int n, r;

	ctrlog_k8s_format_prefix(&k->now, CTRLOG_STDERR, 0, line);

	n = snprintf(line + CTRLOG_K8S_PREFIX_LEN, sizeof(line) - CTRLOG_K8S_PREFIX_LEN,
		     "[ctrlog] %llu bytes in %llu lines were lost: %s the log failed: %s\n",
		     (unsigned long long)k->lost_bytes, (unsigned long long)k->lost_records,
		     k->lost_to_rotation ? "rotating" : "writing", ctrlog_strerror(k->loss_error));
	per_stream[CTRLOG_STDERR] = CTRLOG_K8S_PREFIX_LEN + (size_t)n;
	r = write_records(k, line, CTRLOG_K8S_PREFIX_LEN + (size_t)n, per_stream);
	if (r < 0) {
		k->lost_bytes = lost_bytes;
		k->lost_records = lost_records;
		k->base.stats->dropped_bytes = dropped;
	}
	return r;
}

static void clear_stage(struct k8s_sink *k)
{
	k->stage_len = 0;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		k->staged_out[i] = 0;
}

static int k8s_flush(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	int r = 0;

	/* Until the back-off has passed, output is dropped (and counted), not kept: memory
	 * stays bounded however long the disk stays full. */
	if (k->error && before(&k->now, &k->retry_at)) {
		account_records(k, k->stage, k->stage_len, false);
		clear_stage(k);
		return k->error;
	}
	/* While rotation is blocked nothing is staged; the marker waits for the new file. */
	if ((k->error || k->lost_records) && !k->rotation_blocked) {
		r = write_marker(k);
		if (r < 0) {
			account_records(k, k->stage, k->stage_len, false);
			clear_stage(k);
			return r;
		}
		k->error = 0;
		k->lost_bytes = k->lost_records = 0;
	}
	if (k->stage_len > 0)
		r = write_records(k, k->stage, k->stage_len, k->staged_out);
	clear_stage(k);
	return r;
}

static void refresh_prefixes(struct k8s_sink *k, const struct timespec *t)
{
	if (k->prefix_valid && k->prefix_time.tv_sec == t->tv_sec &&
	    k->prefix_time.tv_nsec == t->tv_nsec)
		return;
	for (int s = 0; s < CTRLOG_N_STREAMS; s++)
		for (int p = 0; p < 2; p++)
			ctrlog_k8s_format_prefix(t, s, p, k->prefix[s][p]);
	k->prefix_time = *t;
	k->prefix_valid = true;
}

/* Rotates before a record of `need` bytes, or after a failure retries once the back-off has
 * passed. Whether it worked is told by the file set's state, not the result: a rotation that
 * only failed to write its record of the last number did make a fresh live file. Returns
 * false while the record has no room (it is to be dropped). */
static bool rotate_for(struct k8s_sink *k, size_t need)
{
	int r;

	if (k->rotation_blocked && before(&k->now, &k->rotation_retry_at))
		return false;
	r = ctrlog_fileset_rotate(k->fs); /* a failure is counted there, once per episode */
	if (!ctrlog_fileset_must_rotate(k->fs, 0, need)) {
		k->rotation_blocked = false;
		return true;
	}
	back_off(&k->now, !k->rotation_blocked, &k->rotation_backoff_ms, &k->rotation_retry_at);
	k->rotation_blocked = true;
	k->rotation_error = r < 0 ? r : -EIO;
	return false;
}

/* Makes room for a record of `need` bytes: rotation first (always at a record boundary), then
 * space in the staging buffer. Returns false when the record cannot be written now. */
static bool make_room(struct k8s_sink *k, size_t need)
{
	if (k->rotation_blocked || ctrlog_fileset_must_rotate(k->fs, k->stage_len, need)) {
		(void)k8s_flush(&k->base); /* a failure is counted as a write error */
		if ((k->rotation_blocked || ctrlog_fileset_must_rotate(k->fs, 0, need)) &&
		    !rotate_for(k, need))
			return false;
	}
	if (k->stage_len + need > STAGE_SIZE)
		(void)k8s_flush(&k->base);
	return true;
}

static void drop_record(struct k8s_sink *k, const struct ctrlog_record *rec)
{
	k->lost_records++;
	k->lost_bytes += rec->len;
	k->base.stats->dropped_bytes += rec->len;
	k->loss_error = k->rotation_error;
	k->lost_to_rotation = true;
}

/* Bytes that can be staged before make_room() has anything to do: the rest of the stage, or
 * less when the live file would reach its rotation size first. */
static size_t free_room(const struct k8s_sink *k)
{
	uint64_t file_room = ctrlog_fileset_room(k->fs);
	size_t room = STAGE_SIZE - k->stage_len;

	if (k->rotation_blocked)
		return 0; /* every record asks make_room() */
	if (file_room == UINT64_MAX)
		return room;
	file_room = file_room > k->stage_len ? file_room - k->stage_len : 0;
	return file_room < room ? (size_t)file_room : room;
}

/* A record larger than the staging buffer is formatted into a buffer of its own; this happens
 * only with a max line size above the stage size. */
static int write_direct(struct k8s_sink *k, const char *prefix, const struct ctrlog_record *rec)
{
	size_t total = CTRLOG_K8S_PREFIX_LEN + rec->len + 1;
	char *out = malloc(total);
	uint64_t per_stream[CTRLOG_N_STREAMS] = { 0 };
	int r;

	if (!out) {
		k->lost_records++;
		k->lost_bytes += rec->len;
		k->base.stats->dropped_bytes += rec->len;
		k->loss_error = -ENOMEM;
		k->lost_to_rotation = false;
		return -ENOMEM;
	}
	memcpy(out, prefix, CTRLOG_K8S_PREFIX_LEN);
	memcpy(out + CTRLOG_K8S_PREFIX_LEN, rec->data, rec->len);
	out[total - 1] = '\n';
	per_stream[rec->stream] = total;
	r = write_records(k, out, total, per_stream);
	free(out);
	return r;
}

/* The per-line cost: two copies and a newline, with the room checked against one counter; only
 * when it runs out are rotation and the stage consulted. */
static int k8s_write_batch(struct ctrlog_sink *base, const struct ctrlog_batch *b)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	size_t room;
	int result = 0;

	k->now = b->time;
	refresh_prefixes(k, &b->time);
	room = free_room(k);
	for (size_t i = 0; i < b->n; i++) {
		const struct ctrlog_record *rec = &b->records[i];
		const char *prefix = k->prefix[rec->stream][rec->partial];
		size_t need = CTRLOG_K8S_PREFIX_LEN + (size_t)rec->len + 1;
		char *out;
		int r = 0;

		if (need > room) {
			if (!make_room(k, need)) {
				drop_record(k, rec);
				r = k->rotation_error;
				goto next;
			}
			if (need > STAGE_SIZE) {
				r = write_direct(k, prefix, rec);
				room = free_room(k);
				goto next;
			}
			room = free_room(k);
			if (need > room)
				room = need; /* alone in a fresh file, it may exceed the limit */
		}
		out = k->stage + k->stage_len;
		memcpy(out, prefix, CTRLOG_K8S_PREFIX_LEN);
		memcpy(out + CTRLOG_K8S_PREFIX_LEN, rec->data, rec->len);
		out[need - 1] = '\n';
		k->stage_len += need;
		k->staged_out[rec->stream] += need;
		room -= need;
next:
		if (r < 0)
			result = r;
	}
	return result;
}

/* A reopen or rotation asked for from outside may have ended a rotation-failure episode. */
static void check_unblocked(struct k8s_sink *k)
{
	if (k->rotation_blocked && !ctrlog_fileset_must_rotate(k->fs, 0, 1))
		k->rotation_blocked = false;
}

static int k8s_reopen(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	int r = k8s_flush(base);
	int q = ctrlog_fileset_reopen(k->fs);

	check_unblocked(k);
	return q < 0 ? q : r;
}

static int k8s_rotate(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	int r = k8s_flush(base);

	if (r < 0)
		return r;
	r = ctrlog_fileset_rotate(k->fs);
	check_unblocked(k);
	return r;
}

static void k8s_collect_stats(struct ctrlog_sink *base, struct ctrlog_stats *stats)
{
	struct ctrlog_fileset_stats fst;

	ctrlog_fileset_get_stats(((struct k8s_sink *)base)->fs, &fst);
	stats->rotations += fst.rotations;
	stats->rotation_errors += fst.rotation_errors;
	if (fst.last_rotation_error)
		stats->last_rotation_error = fst.last_rotation_error;
	if (fst.last_compress_error)
		stats->last_compress_error = fst.last_compress_error;
	stats->compressed_files += fst.compressed_files;
	stats->compress_bytes_in += fst.compress_bytes_in;
	stats->compress_bytes_out += fst.compress_bytes_out;
	stats->compress_cpu_ns += fst.compress_cpu_ns;
	stats->compress_errors += fst.compress_errors;
	stats->freed_files += fst.freed_files;
}

/* After the last flush nothing may write: a retried marker after the final counters were read
 * would make them wrong. */
static void k8s_finish(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;

	if (k->finished)
		return;
	(void)k8s_flush(base);
	ctrlog_fileset_finish(k->fs);
	k->finished = true;
}

static void k8s_free(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;

	k8s_finish(base);
	ctrlog_fileset_free(k->fs);
	free(k->stage);
	free(k);
}

/* The record starting at p (n bytes of it at hand, maybe more than the record): for its stream,
 * if no newer record was seen, whether it leaves the line open (a P). */
static void note_record(const char *p, size_t n, bool seen[], bool open[])
{
	const char *nl = memchr(p, '\n', n);
	struct ctrlog_k8s_record rec;

	if (ctrlog_k8s_parse_record(p, nl ? (size_t)(nl - p) : n, &rec) == 0 && !seen[rec.stream]) {
		seen[rec.stream] = true;
		open[rec.stream] = rec.partial;
	}
}

/*
 * Reads fd's records from its end backwards and decides, for each stream not yet `seen` (in a
 * newer file), whether its last record is a P: `open`. Each chunk is read with the next
 * SCAN_HEADER bytes, so that the record after every newline in it shows its header.
 */
static int scan_open_lines(int fd, uint64_t size, char *buf, bool seen[], bool open[])
{
	uint64_t end = size;

	while (end > 0 && !(seen[0] && seen[1]) && size - end < SCAN_LIMIT) {
		size_t n = end < SCAN_CHUNK ? (size_t)end : SCAN_CHUNK;
		uint64_t off = end - n;
		size_t want = size - off < n + SCAN_HEADER ? (size_t)(size - off) : n + SCAN_HEADER;
		ssize_t got = pread(fd, buf, want, (off_t)off);
		const char *nl = buf + n;

		if (got != (ssize_t)want)
			return got < 0 ? -errno : -EIO;
		while ((nl = memrchr(buf, '\n', (size_t)(nl - buf)))) {
			if (off + (size_t)(nl - buf) + 1 < size)
				note_record(nl + 1, want - (size_t)(nl - buf) - 1, seen, open);
		}
		if (off == 0)
			note_record(buf, want, seen, open);
		end = off;
	}
	return 0;
}

/*
 * A monitor that crashed may have left a line open: its stream's last record a P, in the live
 * file or, when the stream wrote nothing since, the newest rotated one. An empty F record
 * closes it before anything else is written, so that the next run's first line does not join
 * it. Older rotated files are not searched (they may be compressed).
 */
static int close_open_lines(struct k8s_sink *k)
{
	struct ctrlog_record recs[CTRLOG_N_STREAMS];
	struct ctrlog_batch b = { .records = recs };
	bool seen[CTRLOG_N_STREAMS] = { false }, open[CTRLOG_N_STREAMS] = { false };
	char *buf = malloc(SCAN_CHUNK + SCAN_HEADER);
	struct stat st;
	int r, fd;

	if (!buf)
		return -ENOMEM;
	r = scan_open_lines(ctrlog_fileset_fd(k->fs), ctrlog_fileset_size(k->fs), buf, seen, open);
	/* Only a look: a newest file that cannot be opened (gone, compressed, not a regular
	 * file) holds no line to close. */
	if (r == 0 && !(seen[0] && seen[1]) && (fd = ctrlog_fileset_open_newest(k->fs)) >= 0) {
		r = fstat(fd, &st) < 0 ? -errno : scan_open_lines(fd, (uint64_t)st.st_size, buf, seen, open);
		close(fd);
	}
	free(buf);
	for (int s = 0; s < CTRLOG_N_STREAMS; s++)
		if (open[s])
			recs[b.n++] = (struct ctrlog_record){ .data = "", .stream = (uint8_t)s };
	if (r < 0 || b.n == 0)
		return r;
	clock_gettime(CLOCK_REALTIME, &b.time);
	(void)k8s_write_batch(&k->base, &b);
	(void)k8s_flush(&k->base); /* a failure is counted as a write error */
	return 0;
}

static const struct ctrlog_sink_ops k8s_ops = {
	.name = "k8s-file",
	.write_batch = k8s_write_batch,
	.flush = k8s_flush,
	.reopen = k8s_reopen,
	.rotate = k8s_rotate,
	.collect_stats = k8s_collect_stats,
	.finish = k8s_finish,
	.free = k8s_free,
};

int ctrlog_k8s_file_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
			     struct ctrlog_sink **ret)
{
	struct ctrlog_fileset_config fcfg = {
		.log_path = cfg->log_path,
		.max_size = cfg->max_size,
		.max_files = cfg->max_files,
		.compress_level = cfg->compress_level,
	};
	struct k8s_sink *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->stage = malloc(STAGE_SIZE);
	if (!k->stage) {
		free(k);
		return -ENOMEM;
	}
	r = ctrlog_fileset_open(&fcfg, &k->fs);
	if (r < 0) {
		free(k->stage);
		free(k);
		return r;
	}
	k->base.ops = &k8s_ops;
	k->base.stats = stats;
	r = close_open_lines(k);
	if (r < 0) {
		k8s_free(&k->base);
		return r;
	}
	*ret = &k->base;
	return 0;
}
