/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_FILESET_INTERNAL_H
#define CTRLOG_FILESET_INTERNAL_H

/* State shared by the rotating writer (fileset.c) and the background compressor
 * (compressor.c). Everything under `lock` may be touched by both threads. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rotate/fileset.h"

struct ctrlog_compressor {
	pthread_t thread;
	bool started;
	int level;
	/* Under the fileset's lock: */
	bool stop;
	uint64_t next;       /* the oldest N not yet looked at */
	uint64_t upto;       /* compress rotated files up to this N (the newest stays plain) */
	pthread_cond_t wake;
	/* Counters (under the lock). */
	uint64_t files;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t cpu_ns;
	uint64_t errors;
	int last_error;
};

struct ctrlog_fileset {
	int dirfd;
	int fd;
	char *name;          /* live file name inside dirfd */
	uint64_t size;
	uint64_t max_size;
	uint32_t max_files;
	pthread_mutex_t lock;
	/* Rotated files are <name>.<N> for N in [oldest, last], under the lock. */
	uint64_t oldest;
	uint64_t last;
	struct ctrlog_compressor comp;
};

int ctrlog_compressor_start(struct ctrlog_fileset *fs);
/* Lets the compressor know about rotated files up to `upto`; call with the lock held. */
void ctrlog_compressor_kick(struct ctrlog_fileset *fs, uint64_t upto);
/* Finishes pending work and joins the thread. */
void ctrlog_compressor_stop(struct ctrlog_fileset *fs);

#endif
