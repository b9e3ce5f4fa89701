/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_FILESET_INTERNAL_H
#define CTRLOG_FILESET_INTERNAL_H

/* State shared by the rotating writer (fileset.c) and the background compressor
 * (compressor.c). Everything under `lock` may be touched by both threads. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rotate/fileset.h"

struct ctrlog_compressor {
	pthread_t thread;
	bool started;
	pid_t pid;           /* the process the thread runs in: fork() does not copy it */
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
	int last_error;      /* negative errno of the latest failure, 0 if none */
	/* A file that failed for lack of space (or fds, memory) is tried again after a back-off;
	 * it was counted once, at its first failure. */
	uint64_t retry_n;    /* its N, 0 if none */
	uint32_t backoff_ms;
};

struct ctrlog_fileset {
	int dirfd;
	int lockfd;          /* .<name>.lock, OFD write-locked for the fileset's lifetime */
	int fd;              /* the live file; -1 while live_missing */
	char *name;          /* live file name inside dirfd */
	uint64_t size;
	uint64_t max_size;
	uint32_t max_files;
	pthread_mutex_t lock;
	/* Rotated files are <name>.<N> for N in [oldest, last], under the lock. */
	uint64_t oldest;
	uint64_t last;
	/* The writer's own (only its thread touches them). */
	bool live_missing;   /* renamed, but the new live file could not be opened yet */
	bool rotate_failing; /* in a rotation-failure episode (counted once, not per attempt) */
	uint64_t rotations;
	uint64_t rotation_errors;
	int last_rotation_error;
	uint64_t freed_files; /* rotated files deleted early to make room on a full disk */
	struct ctrlog_compressor comp;
};

/* Starts the thread unless it runs; a failure is also counted in the compressor's errors. */
int ctrlog_compressor_start(struct ctrlog_fileset *fs);
/* Call before the lock is used where a fork() may have happened since the thread started: in a
 * child, the thread is gone; its lock and condition variable are made fresh and it is started
 * again if work is pending. Returns 0 or the (counted) error of starting it. */
int ctrlog_compressor_survive_fork(struct ctrlog_fileset *fs);
/* Lets the compressor know about rotated files up to `upto`; call with the lock held. */
void ctrlog_compressor_kick(struct ctrlog_fileset *fs, uint64_t upto);
/* Finishes pending work and joins the thread. */
void ctrlog_compressor_stop(struct ctrlog_fileset *fs);

#endif
