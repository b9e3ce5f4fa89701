/* SPDX-License-Identifier: MIT */
/*
 * The passthrough sink: the container's bytes, unchanged, on the monitor's own stdout and
 * stderr (which systemd hands to the journal for a monitor it runs). When it is the only sink
 * the core splices straight into these fds.
 */
#include <errno.h>
#include <stdlib.h>

#include "formats/sink.h"

struct passthrough_sink {
	struct ctrlog_sink base;
	int fds[CTRLOG_N_STREAMS];
	bool failing; /* in a write-error episode (counted once, not per write) */
};

static int pt_write_raw(struct ctrlog_sink *base, enum ctrlog_stream stream, const char *data,
			size_t len)
{
	struct passthrough_sink *p = (struct passthrough_sink *)base;
	size_t written = 0;
	int r = ctrlog_write_all(p->fds[stream], data, len, &written);

	base->stats->writes++;
	base->stats->stream[stream].bytes_out += written;
	if (r == 0)
		p->failing = false;
	if (r < 0) {
		base->stats->write_errors += !p->failing;
		p->failing = true;
		base->stats->last_write_error = r;
		base->stats->last_write_error_driver = CTRLOG_DRIVER_PASSTHROUGH;
		base->stats->dropped_bytes += len - written;
	}
	return r;
}

static int pt_splice_fd(struct ctrlog_sink *base, enum ctrlog_stream stream)
{
	return ((struct passthrough_sink *)base)->fds[stream];
}

static int pt_flush(struct ctrlog_sink *base)
{
	(void)base;
	return 0; /* nothing is buffered */
}

static void pt_free(struct ctrlog_sink *base)
{
	free(base); /* the fds are the monitor's */
}

static const struct ctrlog_sink_ops passthrough_ops = {
	.name = "passthrough",
	.write_raw = pt_write_raw,
	.splice_fd = pt_splice_fd,
	.flush = pt_flush,
	.free = pt_free,
};

int ctrlog_passthrough_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
				struct ctrlog_sink **ret)
{
	struct passthrough_sink *p;

	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		if (cfg->passthrough_fds[i] < 0)
			return -EBADF;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base.ops = &passthrough_ops;
	p->base.stats = stats;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		p->fds[i] = cfg->passthrough_fds[i];
	*ret = &p->base;
	return 0;
}
