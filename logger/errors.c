/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "ctrlog/ctrlog.h"

const char *ctrlog_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
	/* strerrordesc_np() returns a static string and is thread-safe, unlike strerror(). */
	s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}

const char *ctrlog_version(void)
{
	return CTRLOG_VERSION_STRING;
}

int ctrlog_id_validate(const char *id)
{
	size_t n;

	if (!id || id[0] == '\0' || id[0] == '.' || id[0] == '-')
		return -EINVAL;
	for (n = 0; id[n]; n++) {
		char c = id[n];

		if (n >= 128)
			return -EINVAL;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return -EINVAL;
	}
	return 0;
}
