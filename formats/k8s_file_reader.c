/* SPDX-License-Identifier: MIT */
/*
 * Reading k8s-file records. The writer's own records have a fixed 30-byte time, so that case is
 * recognised first; other writers' times (conmon's `+00:00`, containerd's trimmed fractions) are
 * found by the space that ends them. The time itself is parsed by ctrlog_k8s_parse_time(),
 * which the compressor already uses for its frame metadata, so both agree on every record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctrlog/ctrlog.h"
#include "formats/k8s-file-reader.h"
#include "formats/k8s-file.h"
#include "rotate/zstd_seekable.h"

/* "2026-11-27T09:43:42.1Z" is the shortest time with a fraction, "...+hh:mm" with nine digits
 * the longest; one without a fraction is shorter still. */
#define TIME_MIN_LEN 20
#define TIME_MAX_LEN 35

int ctrlog_k8s_parse_record(const char *line, size_t len, struct ctrlog_k8s_record *ret)
{
	const char *sp, *p;
	size_t tlen, rest;
	int64_t ns;
	int stream, r;

	if (!line || !ret)
		return -EINVAL;
	if (len > CTRLOG_K8S_TIME_LEN && line[CTRLOG_K8S_TIME_LEN] == ' ' &&
	    line[CTRLOG_K8S_TIME_LEN - 1] == 'Z') {
		tlen = CTRLOG_K8S_TIME_LEN;
	} else {
		sp = memchr(line, ' ', len < TIME_MAX_LEN + 1 ? len : TIME_MAX_LEN + 1);
		if (!sp || (size_t)(sp - line) < TIME_MIN_LEN)
			return -EINVAL;
		tlen = (size_t)(sp - line);
	}
	r = ctrlog_k8s_parse_time(line, tlen, &ns);
	if (r < 0)
		return r;
	/* " stdout F " or " stderr P ": the content may be empty, but its separator is not
	 * optional. */
	p = line + tlen;
	rest = len - tlen;
	if (rest < 10 || p[0] != ' ' || p[7] != ' ' || p[9] != ' ')
		return -EINVAL;
	if (memcmp(p + 1, "stdout", 6) == 0)
		stream = CTRLOG_STDOUT;
	else if (memcmp(p + 1, "stderr", 6) == 0)
		stream = CTRLOG_STDERR;
	else
		return -EINVAL;
	if (p[8] != 'F' && p[8] != 'P')
		return -EINVAL;
	ret->time_ns = ns;
	ret->stream = stream;
	ret->partial = p[8] == 'P';
	ret->content = p + 10;
	ret->len = rest - 10;
	return 0;
}

struct held {
	char *data;
	size_t len;
	size_t cap;
	int64_t time_ns;  /* of the first piece */
	bool active;      /* a piece is held (an empty P piece still starts a line) */
};

struct ctrlog_k8s_joiner {
	struct held held[CTRLOG_N_STREAMS];
};

int ctrlog_k8s_joiner_new(struct ctrlog_k8s_joiner **ret)
{
	struct ctrlog_k8s_joiner *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	*ret = j;
	return 0;
}

void ctrlog_k8s_joiner_free(struct ctrlog_k8s_joiner *j)
{
	if (!j)
		return;
	for (int i = 0; i < CTRLOG_N_STREAMS; i++)
		free(j->held[i].data);
	free(j);
}

static int append(struct held *h, const char *data, size_t len)
{
	if (h->len + len > h->cap) {
		size_t cap = h->cap ? h->cap : 4096;
		char *p;

		while (cap < h->len + len)
			cap *= 2;
		p = realloc(h->data, cap);
		if (!p)
			return -ENOMEM;
		h->data = p;
		h->cap = cap;
	}
	if (len)
		memcpy(h->data + h->len, data, len);
	h->len += len;
	return 0;
}

int ctrlog_k8s_joiner_add(struct ctrlog_k8s_joiner *j, const struct ctrlog_k8s_record *rec,
			  struct ctrlog_k8s_line *ret_line)
{
	struct held *h;
	bool first;
	int r;

	if (rec->stream < 0 || rec->stream >= CTRLOG_N_STREAMS)
		return -EINVAL;
	h = &j->held[rec->stream];
	first = !h->active;
	if (!rec->partial && first) {
		/* The common case: a whole line in one record, handed out without a copy. */
		ret_line->time_ns = rec->time_ns;
		ret_line->stream = rec->stream;
		ret_line->data = rec->content;
		ret_line->len = rec->len;
		return 1;
	}
	r = append(h, rec->content, rec->len);
	if (r < 0)
		return r;
	if (first) {
		h->time_ns = rec->time_ns;
		h->active = true;
	}
	if (rec->partial)
		return 0;
	ret_line->time_ns = h->time_ns;
	ret_line->stream = rec->stream;
	ret_line->data = h->data ? h->data : "";
	ret_line->len = h->len;
	h->len = 0;
	h->active = false;
	return 1;
}

int ctrlog_k8s_joiner_take_held(struct ctrlog_k8s_joiner *j, struct ctrlog_k8s_line *ret_line)
{
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		struct held *h = &j->held[i];

		if (!h->active)
			continue;
		ret_line->time_ns = h->time_ns;
		ret_line->stream = i;
		ret_line->data = h->data ? h->data : "";
		ret_line->len = h->len;
		h->len = 0;
		h->active = false;
		return 1;
	}
	return 0;
}

void ctrlog_k8s_joiner_reset(struct ctrlog_k8s_joiner *j)
{
	for (int i = 0; i < CTRLOG_N_STREAMS; i++) {
		j->held[i].len = 0;
		j->held[i].active = false;
	}
}
