/* SPDX-License-Identifier: MIT */
/*
 * The background compressor. It owns no queue: rotated files are numbered, so "everything from
 * `next` up to `upto`" is the whole to-do list, and files that retention removed meanwhile are
 * simply skipped. The writer thread never waits for it beyond a short critical section.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rotate/fileset-internal.h"
#include "rotate/naming.h"
#include "rotate/zstd_seekable.h"

#define BACKGROUND_NICE 10

/* Back-off between attempts at a file that failed for a reason that may pass (a full disk). */
#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 2000

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * After a fork() the parent's thread may still be compressing the file the child's thread
 * takes up again: the two must never write the same .zst.tmp. A POSIX record lock belongs to
 * the process, not to the fd (which the child may have inherited) and not to a thread, so the
 * child waits here until the parent has finished the file or is gone. Returns 1 when the file
 * is ours to compress, 0 when the other process finished it meanwhile, or a negative errno.
 */
static int claim(struct ctrlog_fileset *fs, const char *plain, int in)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat named, ours;

	if (fcntl(in, F_SETLKW, &lk) < 0 || fstat(in, &ours) < 0)
		return -errno;
	if (fstatat(fs->dirfd, plain, &named, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return named.st_ino == ours.st_ino && named.st_dev == ours.st_dev;
}

/* Compresses <name>.<n> into <name>.<n>.zst through a .zst.tmp file, so a crash never leaves a
 * truncated .zst behind: after a restart the .tmp is removed and the plain file redone. */
static int compress_one(struct ctrlog_fileset *fs, uint64_t n)
{
	char plain[512], tmp[512], done[512];
	struct stat st;
	int in = -1, out = -1, r;

	if (ctrlog_rotated_name(fs->name, n, "", plain, sizeof(plain)) < 0 ||
	    ctrlog_rotated_name(fs->name, n, ".zst.tmp", tmp, sizeof(tmp)) < 0 ||
	    ctrlog_rotated_name(fs->name, n, ".zst", done, sizeof(done)) < 0)
		return -ENAMETOOLONG;
	/* Read-write only for claim()'s write lock. A FIFO planted there is refused (-EINVAL),
	 * never read: that would block the thread, and the monitor's exit with it. */
	in = ctrlog_open_regular(fs->dirfd, plain, O_RDWR, 0, NULL);
	if (in < 0)
		return in == -ENOENT ? 0 : in; /* already done, or removed by retention */
	r = claim(fs, plain, in);
	if (r <= 0) {
		close(in);
		return r;
	}
	/* Whatever is at the work-in-progress name is no log of ours (recovery removes it too):
	 * a FIFO planted there would block open() for writing until someone reads it. */
	(void)unlinkat(fs->dirfd, tmp, 0);
	out = ctrlog_open_regular(fs->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL, 0640, NULL);
	if (out < 0) {
		r = out;
		goto out;
	}
	r = ctrlog_zst_compress_fd(in, out, fs->comp.level, 0);
	pthread_mutex_lock(&fs->lock);
	/* Retention may have claimed the file while it was being compressed. */
	if (r == 0 && n >= fs->oldest) {
		if (renameat(fs->dirfd, tmp, fs->dirfd, done) < 0)
			r = -errno;
		else
			(void)unlinkat(fs->dirfd, plain, 0);
	}
	if (r < 0 || n < fs->oldest)
		(void)unlinkat(fs->dirfd, tmp, 0);
	if (r == 0 && fstat(in, &st) == 0) {
		fs->comp.files++;
		fs->comp.bytes_in += (uint64_t)st.st_size;
		if (fstat(out, &st) == 0)
			fs->comp.bytes_out += (uint64_t)st.st_size;
	}
	pthread_mutex_unlock(&fs->lock);
out:
	if (out >= 0)
		close(out);
	close(in);
	return r;
}

static bool may_pass(int r)
{
	return r == -ENOSPC || r == -EDQUOT || r == -EMFILE || r == -ENFILE || r == -ENOMEM;
}

/* Counts a failed file once, and has one that failed for lack of space (or fds, memory) tried
 * again after a back-off, unless the fileset is being freed (it stays plain; the next monitor
 * compresses it). Call with the lock held. */
static void after_failure(struct ctrlog_fileset *fs, uint64_t n, int r)
{
	struct ctrlog_compressor *c = &fs->comp;
	struct timespec at;

	if (c->retry_n != n) {
		c->errors++;
		c->last_error = r;
	}
	c->retry_n = 0;
	if (!may_pass(r) || c->stop)
		return;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RETRY_MIN_MS;
	if (c->backoff_ms > RETRY_MAX_MS)
		c->backoff_ms = RETRY_MAX_MS;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_sec += c->backoff_ms / 1000;
	at.tv_nsec += (long)(c->backoff_ms % 1000) * 1000000;
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	/* Woken early by a rotation or a stop: a rotation only brings the retry forward. */
	pthread_cond_timedwait(&c->wake, &fs->lock, &at);
	if (c->stop)
		return;
	c->retry_n = n;
	c->next = n;
}

static void *compressor_main(void *arg)
{
	struct ctrlog_fileset *fs = arg;
	struct ctrlog_compressor *c = &fs->comp;

	/* Where the thread has to share a CPU with the hot path, the hot path goes first: files
	 * wait plain a little longer, the container never does. Best effort. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), BACKGROUND_NICE);
	pthread_mutex_lock(&fs->lock);
	for (;;) {
		uint64_t n, before;
		int r;

		while (!c->stop && c->next > c->upto)
			pthread_cond_wait(&c->wake, &fs->lock);
		if (c->next > c->upto)
			break; /* stopping, and nothing is left */
		n = c->next < fs->oldest ? fs->oldest : c->next;
		c->next = n + 1;
		if (n > c->upto)
			continue;
		pthread_mutex_unlock(&fs->lock);
		before = thread_cpu_ns();
		r = compress_one(fs, n);
		pthread_mutex_lock(&fs->lock);
		c->cpu_ns += thread_cpu_ns() - before;
		if (r < 0) {
			after_failure(fs, n, r);
		} else {
			c->retry_n = 0;
			c->backoff_ms = 0;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

int ctrlog_compressor_start(struct ctrlog_fileset *fs)
{
	sigset_t all, saved;
	int r;

	if (fs->comp.started)
		return 0;
	/* The thread must never take the monitor's signals (it reads them from a signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	r = -pthread_create(&fs->comp.thread, NULL, compressor_main, fs);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r < 0) {
		/* Not running, so nothing else touches the counters. Files stay plain. */
		fs->comp.errors++;
		fs->comp.last_error = r;
		return r;
	}
	fs->comp.started = true;
	fs->comp.pid = getpid();
	return 0;
}

/*
 * fork() copies the fileset but not the thread, which stays in the parent; a monitor that
 * detaches after creating its logger must still compress. Checked where work is handed over
 * (rotation, stats, free), never per record.
 */
int ctrlog_compressor_survive_fork(struct ctrlog_fileset *fs)
{
	struct ctrlog_compressor *c = &fs->comp;

	if (!c->started || c->pid == getpid())
		return 0;
	/* The copies may say that the vanished thread holds the lock or waits on the condition
	 * variable (forever, for a join or a destroy): both start afresh. Nothing else can hold
	 * them here, this runs on the writer's thread outside its critical sections. */
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	c->started = false;
	c->stop = false;
	/* The file the thread had taken may not be done: look at it again. A finished one is
	 * skipped (its plain file is gone); one the parent still works on is waited for (see
	 * claim()). */
	if (c->next > fs->oldest)
		c->next--;
	return c->next <= c->upto ? ctrlog_compressor_start(fs) : 0;
}

void ctrlog_compressor_kick(struct ctrlog_fileset *fs, uint64_t upto)
{
	if (upto > fs->comp.upto) {
		fs->comp.upto = upto;
		pthread_cond_signal(&fs->comp.wake);
	}
}

void ctrlog_compressor_stop(struct ctrlog_fileset *fs)
{
	/* In a child, the pending work is done by a thread of its own; a failure to start one is
	 * counted in the errors. */
	(void)ctrlog_compressor_survive_fork(fs);
	if (!fs->comp.started)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->comp.stop = true;
	pthread_cond_signal(&fs->comp.wake);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->comp.thread, NULL);
	fs->comp.started = false;
}
