/* SPDX-License-Identifier: MIT */
/* Built instead of the journald writer when meson's journald feature is disabled. */
#include <errno.h>

#include "formats/sink.h"

int ctrlog_journald_sink_new(const struct ctrlog_config *cfg, struct ctrlog_stats *stats,
			     struct ctrlog_sink **ret)
{
	(void)cfg;
	(void)stats;
	(void)ret;
	return -ENOTSUP;
}
