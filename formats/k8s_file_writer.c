/* SPDX-License-Identifier: MIT */
/*
 * The k8s-file sink. Records are formatted into one staging buffer and written with a single
 * write() per dispatch round (or when the buffer fills), so the cost per line is two memcpy()s:
 * the prefix, which is formatted once per batch, and the content.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats/k8s-file.h"
#include "formats/sink.h"
#include "rotate/fileset.h"

#define STAGE_SIZE (2u << 20)

struct k8s_sink {
	struct ctrlog_sink base;
	struct ctrlog_fileset *fs;
	char *stage;
	size_t stage_len;
	/* Per-stream byte counts of what is staged, moved to the stats once written. */
	uint64_t staged_per_stream[CTRLOG_N_STREAMS];
	struct timespec prefix_time;
	bool prefix_valid;
	char prefix[CTRLOG_N_STREAMS][2][CTRLOG_K8S_PREFIX_LEN];
};

static int k8s_flush(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	size_t written = 0;
	int r;

	if (k->stage_len == 0)
		return 0;
	r = ctrlog_write_all(ctrlog_fileset_fd(k->fs), k->stage, k->stage_len, &written);
	ctrlog_fileset_account(k->fs, written);
	base->stats->writes++;
	if (r < 0) {
		base->stats->write_errors++;
		base->stats->dropped_bytes += k->stage_len - written;
	}
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		base->stats->stream[i].bytes_out += k->staged_per_stream[i];
		k->staged_per_stream[i] = 0;
	}
	k->stage_len = 0;
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

/* Makes room for a record of `need` bytes: rotation first (always at a record boundary), then
 * space in the staging buffer. */
static int make_room(struct k8s_sink *k, size_t need)
{
	int r = 0;

	if (ctrlog_fileset_must_rotate(k->fs, k->stage_len, need)) {
		r = k8s_flush(&k->base);
		if (ctrlog_fileset_must_rotate(k->fs, 0, need) && ctrlog_fileset_rotate(k->fs) == 0)
			k->base.stats->rotations++;
	}
	if (k->stage_len + need > STAGE_SIZE)
		r = k8s_flush(&k->base);
	return r;
}

/* A record larger than the staging buffer goes out directly, without a copy. */
static int write_direct(struct k8s_sink *k, const char *prefix, const struct ctrlog_record *rec)
{
	struct iovec iov[3] = {
		{ .iov_base = (void *)prefix, .iov_len = CTRLOG_K8S_PREFIX_LEN },
		{ .iov_base = (void *)rec->data, .iov_len = rec->len },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	size_t total = CTRLOG_K8S_PREFIX_LEN + rec->len + 1, written = 0;
	int r = ctrlog_writev_all(ctrlog_fileset_fd(k->fs), iov, 3, &written);

	ctrlog_fileset_account(k->fs, written);
	k->base.stats->writes++;
	if (r < 0) {
		k->base.stats->write_errors++;
		k->base.stats->dropped_bytes += total - written;
	}
	k->base.stats->stream[rec->stream].bytes_out += written;
	return r;
}

static int k8s_write_batch(struct ctrlog_sink *base, const struct ctrlog_batch *b)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	int result = 0;

	refresh_prefixes(k, &b->time);
	for (size_t i = 0; i < b->n; i++) {
		const struct ctrlog_record *rec = &b->records[i];
		const char *prefix = k->prefix[rec->stream][rec->partial];
		size_t need = CTRLOG_K8S_PREFIX_LEN + (size_t)rec->len + 1;
		char *out;
		int r = make_room(k, need);

		if (need > STAGE_SIZE) {
			r = write_direct(k, prefix, rec);
		} else {
			out = k->stage + k->stage_len;
			memcpy(out, prefix, CTRLOG_K8S_PREFIX_LEN);
			memcpy(out + CTRLOG_K8S_PREFIX_LEN, rec->data, rec->len);
			out[need - 1] = '\n';
			k->stage_len += need;
			k->staged_per_stream[rec->stream] += need;
		}
		if (r < 0)
			result = r;
	}
	return result;
}

static int k8s_reopen(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	int r = k8s_flush(base);
	int q = ctrlog_fileset_reopen(k->fs);

	return q < 0 ? q : r;
}

static int k8s_rotate(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;
	int r = k8s_flush(base);

	if (r < 0)
		return r;
	r = ctrlog_fileset_rotate(k->fs);
	if (r == 0)
		base->stats->rotations++;
	return r;
}

static void k8s_collect_stats(struct ctrlog_sink *base, struct ctrlog_stats *stats)
{
	struct ctrlog_fileset_stats fst;

	ctrlog_fileset_get_stats(((struct k8s_sink *)base)->fs, &fst);
	stats->compressed_files += fst.compressed_files;
	stats->compress_bytes_in += fst.compress_bytes_in;
	stats->compress_bytes_out += fst.compress_bytes_out;
	stats->compress_cpu_ns += fst.compress_cpu_ns;
	stats->compress_errors += fst.compress_errors;
}

static void k8s_free(struct ctrlog_sink *base)
{
	struct k8s_sink *k = (struct k8s_sink *)base;

	(void)k8s_flush(base);
	ctrlog_fileset_free(k->fs);
	free(k->stage);
	free(k);
}

static const struct ctrlog_sink_ops k8s_ops = {
	.name = "k8s-file",
	.write_batch = k8s_write_batch,
	.flush = k8s_flush,
	.reopen = k8s_reopen,
	.rotate = k8s_rotate,
	.collect_stats = k8s_collect_stats,
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
	*ret = &k->base;
	return 0;
}
