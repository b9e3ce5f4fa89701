/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for formats/k8s_file_reader.c: any bytes, cut into lines, go through the
 * record parser and the per-stream joiner. Parsed fields must stay inside the line, joined
 * lines must be as long as their pieces, and nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrlog/ctrlog.h"
#include "formats/k8s-file-reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	size_t pending[CTRLOG_N_STREAMS] = { 0 };
	struct ctrlog_k8s_joiner *j;
	struct ctrlog_k8s_line line;

	if (ctrlog_k8s_joiner_new(&j) < 0)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct ctrlog_k8s_record rec;

		if (ctrlog_k8s_parse_record(p, len, &rec) == 0) {
			if (rec.content < p || rec.content + rec.len > p + len)
				__builtin_trap();
			if (rec.stream != CTRLOG_STDOUT && rec.stream != CTRLOG_STDERR)
				__builtin_trap();
			pending[rec.stream] += rec.len;
			int r = ctrlog_k8s_joiner_add(j, &rec, &line);

			if (r == 1) {
				if (line.len != pending[line.stream])
					__builtin_trap();
				pending[line.stream] = 0;
			}
		}
		p += len + (nl != NULL);
	}
	while (ctrlog_k8s_joiner_take_held(j, &line) == 1)
		if (line.len != pending[line.stream])
			__builtin_trap();
		else
			pending[line.stream] = 0;
	ctrlog_k8s_joiner_free(j);
	return 0;
}
