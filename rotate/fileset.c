/* SPDX-License-Identifier: MIT */
/*
 * The file set: the live file, rotation by renaming it to <name>.<N> with N never reused,
 * retention of max_files rotated files, and recovery of a directory left by an earlier (maybe
 * killed) monitor. See DESIGN.md "Rotation and compression" for the on-disk contract.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrlog/ctrlog.h"
#include "rotate/fileset-internal.h"
#include "rotate/naming.h"
#include "formats/sink.h"

static int write_last_seq(const struct ctrlog_fileset *fs)
{
	char name[512], buf[32];
	int len;

	if (ctrlog_last_rotation_name(fs->name, name, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)fs->last);
	return ctrlog_write_file_atomic(fs->dirfd, name, buf, (size_t)len, 0640);
}

/* O_NOFOLLOW refuses a symlink planted at the log path instead of writing through it, and
 * ctrlog_open_regular() a FIFO or device (never waiting in open() for it). */
static int open_live(struct ctrlog_fileset *fs)
{
	struct stat st;
	int fd = ctrlog_open_regular(fs->dirfd, fs->name, O_RDWR | O_APPEND | O_CREAT, 0640, &st);

	if (fd < 0)
		return fd;
	if (fs->fd >= 0)
		close(fs->fd);
	fs->fd = fd;
	fs->size = (uint64_t)st.st_size;
	fs->live_missing = false;
	return 0;
}

/* One writer per set: an OFD lock (it holds across a fork; the fd is CLOEXEC) on a lock file
 * of its own, not the live file, because the live file changes with every rotation. */
static int lock_set(struct ctrlog_fileset *fs)
{
	char name[512];
	int fd;

	if (ctrlog_lock_name(fs->name, name, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	fd = ctrlog_lock_file(fs->dirfd, name, 0640);
	if (fd < 0)
		return fd;
	fs->lockfd = fd;
	return 0;
}

/* Removed while still held (see ctrlog_lock_file()), so that a stopped log leaves no lock file. */
static void unlock_set(struct ctrlog_fileset *fs)
{
	char name[512];

	if (fs->lockfd < 0)
		return;
	if (ctrlog_lock_name(fs->name, name, sizeof(name)) == 0)
		(void)unlinkat(fs->dirfd, name, 0);
	close(fs->lockfd);
}

/*
 * A monitor killed in the middle of a write() can leave a torn record at the end of the live
 * file. Its missing bytes died with that monitor; cutting the piece off keeps every record in
 * the file whole for readers and for the records appended after it.
 */
static int cut_torn_tail(struct ctrlog_fileset *fs)
{
	char buf[4096];
	uint64_t end = fs->size;

	while (end > 0) {
		size_t n = end < sizeof(buf) ? (size_t)end : sizeof(buf);
		ssize_t got = pread(fs->fd, buf, n, (off_t)(end - n));

		if (got != (ssize_t)n)
			return got < 0 ? -errno : -EIO;
		if (end == fs->size && buf[n - 1] == '\n')
			return 0;
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] == '\n') {
				end = end - n + i;
				goto cut;
			}
		}
		end -= n;
	}
cut:
	if (ftruncate(fs->fd, (off_t)end) < 0)
		return -errno;
	fs->size = end;
	return 0;
}

static void unlink_rotated(struct ctrlog_fileset *fs, uint64_t n)
{
	static const char *const suffixes[] = { "", ".zst" };
	char name[512];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ctrlog_rotated_name(fs->name, n, suffixes[i], name, sizeof(name)) == 0)
			(void)unlinkat(fs->dirfd, name, 0);
}

/*
 * Keeps the newest max_files rotated files; call with the lock held. Deleting here, not in the
 * background thread, keeps disk use within the bound whatever that thread's scheduling (a
 * starved thread would let deleted-to-be files pile up). It costs the writer the freeing of a
 * plain file's pages (measured ~0.06 s/GiB of 10 MiB files with --log-compress none); with
 * compression the oldest file is a small .zst.
 */
static void enforce_retention(struct ctrlog_fileset *fs)
{
	while (fs->oldest <= fs->last && fs->last - fs->oldest + 1 > fs->max_files)
		unlink_rotated(fs, fs->oldest++);
}

/*
 * Picks up what an earlier monitor left: removes unfinished .zst.tmp files, drops a plain file
 * whose .zst was completed (the crash came between rename and unlink), and continues numbering
 * after the greatest N seen or recorded.
 */
static int recover(struct ctrlog_fileset *fs)
{
	int fd = openat(fs->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t lowest = UINT64_MAX, n;
	struct dirent *de;
	DIR *d;
	int r;

	if (fd < 0)
		return -errno;
	/* An unreadable record must not restart numbering below what retention deleted. */
	r = ctrlog_last_rotation_load(fs->dirfd, fs->name, &fs->last);
	if (r < 0) {
		close(fd);
		return r;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		int kind = ctrlog_rotated_parse(fs->name, de->d_name, &n);
		char zst[512];

		if (kind < 0)
			continue;
		if (kind == CTRLOG_ROTATED_TMP) {
			(void)unlinkat(fs->dirfd, de->d_name, 0);
			continue;
		}
		if (kind == CTRLOG_ROTATED_PLAIN &&
		    ctrlog_rotated_name(fs->name, n, ".zst", zst, sizeof(zst)) == 0 &&
		    faccessat(fs->dirfd, zst, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			(void)unlinkat(fs->dirfd, de->d_name, 0);
		if (n < lowest)
			lowest = n;
		if (n > fs->last)
			fs->last = n;
	}
	closedir(d);
	fs->oldest = lowest == UINT64_MAX ? fs->last + 1 : lowest;
	fs->comp.next = fs->oldest;
	enforce_retention(fs);
	return 0;
}

static bool compressing(const struct ctrlog_fileset *fs)
{
	return fs->comp.level != CTRLOG_COMPRESS_NONE;
}

/* Leftover plain files, except the newest, get compressed as after a rotation. */
static int resume_compression(struct ctrlog_fileset *fs)
{
	if (!compressing(fs) || fs->last <= 1 || fs->oldest >= fs->last)
		return 0;
	ctrlog_compressor_kick(fs, fs->last - 1);
	return ctrlog_compressor_start(fs);
}

/* The record of the last number on a full disk: history goes first (the record keeps the
 * numbering of what is left right). */
static int write_last_seq_making_room(struct ctrlog_fileset *fs)
{
	int r = write_last_seq(fs);

	while (r < 0 && ctrlog_fileset_free_for(fs, r) == 0)
		r = write_last_seq(fs);
	return r;
}

/* Counts a failure once per episode: a disk that stays full must not count per record. */
static int rotation_result(struct ctrlog_fileset *fs, int r)
{
	if (r == 0) {
		fs->rotate_failing = false;
		return 0;
	}
	fs->rotation_errors += !fs->rotate_failing;
	fs->rotate_failing = true;
	fs->last_rotation_error = r;
	return r;
}

/* The live file becomes <name>.<last + 1>; retention and the compressor learn of it. */
static int rename_live(struct ctrlog_fileset *fs)
{
	char rotated[512];
	int r = ctrlog_rotated_name(fs->name, fs->last + 1, "", rotated, sizeof(rotated));

	if (r < 0)
		return r;
	if (renameat(fs->dirfd, fs->name, fs->dirfd, rotated) < 0)
		return -errno;
	pthread_mutex_lock(&fs->lock);
	fs->last++;
	enforce_retention(fs);
	if (compressing(fs) && fs->last >= 2)
		ctrlog_compressor_kick(fs, fs->last - 1);
	pthread_mutex_unlock(&fs->lock);
	fs->rotations++;
	/* Until the new live file exists nothing may go into the renamed one: it is history now,
	 * and a reader counts it as such. */
	close(fs->fd);
	fs->fd = -1;
	fs->size = 0;
	fs->live_missing = true;
	return 0;
}

int ctrlog_fileset_rotate(struct ctrlog_fileset *fs)
{
	int r = 0, q;

	/* A failure to start the thread is counted as a compression error; rotation goes on. */
	(void)ctrlog_compressor_survive_fork(fs);
	if (!fs->live_missing) {
		if (fs->size == 0)
			return rotation_result(fs, 0); /* an empty file is no history (notifempty) */
		r = rename_live(fs);
		if (r < 0)
			return rotation_result(fs, r);
		r = write_last_seq_making_room(fs);
	}
	/* Reopen even if the sequence file failed: the log must go on. */
	q = open_live(fs);
	if (!fs->comp.started && fs->comp.next <= fs->comp.upto)
		(void)ctrlog_compressor_start(fs); /* a failure is counted as a compression error */
	return rotation_result(fs, r < 0 ? r : q);
}

int ctrlog_fileset_open(const struct ctrlog_fileset_config *cfg, struct ctrlog_fileset **ret)
{
	struct ctrlog_fileset *fs;
	int r;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->fd = -1;
	fs->dirfd = -1;
	fs->lockfd = -1;
	fs->max_size = cfg->max_size;
	fs->max_files = cfg->max_files;
	fs->comp.level = cfg->compress_level;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->comp.wake, NULL);
	r = ctrlog_log_dir_open(cfg->log_path, &fs->dirfd, &fs->name);
	if (r == 0)
		r = lock_set(fs); /* before anything in the set is touched */
	if (r < 0)
		goto fail;
	r = open_live(fs);
	if (r == 0)
		r = cut_torn_tail(fs);
	if (r < 0)
		goto fail;
	r = recover(fs);
	if (r < 0)
		goto fail;
	r = resume_compression(fs);
	if (r < 0)
		goto fail;
	*ret = fs;
	return 0;
fail:
	ctrlog_fileset_free(fs);
	return r;
}

void ctrlog_fileset_free(struct ctrlog_fileset *fs)
{
	if (!fs)
		return;
	ctrlog_compressor_stop(fs);
	if (fs->fd >= 0)
		close(fs->fd);
	unlock_set(fs); /* the last: the set is ours until everything is done */
	if (fs->dirfd >= 0)
		close(fs->dirfd);
	pthread_cond_destroy(&fs->comp.wake);
	pthread_mutex_destroy(&fs->lock);
	free(fs->name);
	free(fs);
}

void ctrlog_fileset_finish(struct ctrlog_fileset *fs)
{
	ctrlog_compressor_stop(fs);
}

int ctrlog_fileset_fd(const struct ctrlog_fileset *fs)
{
	return fs->fd;
}

uint64_t ctrlog_fileset_size(const struct ctrlog_fileset *fs)
{
	return fs->size;
}

void ctrlog_fileset_account(struct ctrlog_fileset *fs, uint64_t written)
{
	fs->size += written;
}

bool ctrlog_fileset_must_rotate(const struct ctrlog_fileset *fs, uint64_t pending, uint64_t n)
{
	uint64_t before = fs->size + pending;

	if (fs->live_missing)
		return true;
	return fs->max_size > 0 && before > 0 && before + n > fs->max_size;
}

uint64_t ctrlog_fileset_room(const struct ctrlog_fileset *fs)
{
	if (fs->live_missing)
		return 0;
	if (fs->max_size == 0)
		return UINT64_MAX;
	return fs->size < fs->max_size ? fs->max_size - fs->size : 0;
}

int ctrlog_fileset_reopen(struct ctrlog_fileset *fs)
{
	return open_live(fs);
}

int ctrlog_fileset_free_for(struct ctrlog_fileset *fs, int err)
{
	int r = -ENOENT;

	if (err != -ENOSPC && err != -EDQUOT)
		return -ENOENT;
	(void)ctrlog_compressor_survive_fork(fs); /* the lock must be usable */
	pthread_mutex_lock(&fs->lock);
	if (fs->oldest <= fs->last) {
		unlink_rotated(fs, fs->oldest++);
		fs->freed_files++;
		r = 0;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

int ctrlog_fileset_open_newest(const struct ctrlog_fileset *fs)
{
	char name[512];

	if (fs->last == 0 || fs->oldest > fs->last)
		return -ENOENT;
	if (ctrlog_rotated_name(fs->name, fs->last, "", name, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	return ctrlog_open_regular(fs->dirfd, name, O_RDONLY, 0, NULL);
}

void ctrlog_fileset_get_stats(struct ctrlog_fileset *fs, struct ctrlog_fileset_stats *ret)
{
	(void)ctrlog_compressor_survive_fork(fs); /* a failure is counted, see below */
	ret->rotations = fs->rotations;
	ret->rotation_errors = fs->rotation_errors;
	ret->last_rotation_error = fs->last_rotation_error;
	pthread_mutex_lock(&fs->lock);
	ret->last_compress_error = fs->comp.last_error;
	ret->compressed_files = fs->comp.files;
	ret->compress_bytes_in = fs->comp.bytes_in;
	ret->compress_bytes_out = fs->comp.bytes_out;
	ret->compress_cpu_ns = fs->comp.cpu_ns;
	ret->compress_errors = fs->comp.errors;
	ret->freed_files = fs->freed_files;
	pthread_mutex_unlock(&fs->lock);
}
