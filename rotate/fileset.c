/* SPDX-License-Identifier: MIT */
/*
 * The file set: the live file, rotation by renaming it to <name>.<N> with N never reused,
 * retention of max_files rotated files, and recovery of a directory left by an earlier (maybe
 * killed) monitor. See DESIGN.md "Rotation and compression" for the on-disk contract.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrlog/ctrlog.h"
#include "rotate/fileset-internal.h"

int ctrlog_fileset_rotated_name(const struct ctrlog_fileset *fs, uint64_t n, const char *suffix,
				char *buf, size_t size)
{
	int len = snprintf(buf, size, "%s.%llu%s", fs->name, (unsigned long long)n, suffix);

	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

/* The last N used, kept beside the log so numbering survives even when retention has removed
 * every rotated file. Hidden, so that it never looks like part of the log. */
static int seq_name(const struct ctrlog_fileset *fs, char *buf, size_t size)
{
	int len = snprintf(buf, size, ".%s.last-rotation", fs->name);

	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

static uint64_t read_last_seq(const struct ctrlog_fileset *fs)
{
	char name[512], buf[32] = "";
	int fd;
	ssize_t n;

	if (seq_name(fs, name, sizeof(name)) < 0)
		return 0;
	fd = openat(fs->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoull(buf, NULL, 10) : 0;
}

static int write_last_seq(const struct ctrlog_fileset *fs)
{
	char name[512], tmp[520], buf[32];
	int fd, len, r = 0;

	if (seq_name(fs, name, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)fs->last);
	fd = openat(fs->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, (size_t)len) != len)
		r = -EIO;
	close(fd);
	if (r == 0 && renameat(fs->dirfd, tmp, fs->dirfd, name) < 0)
		r = -errno;
	return r;
}

/* O_NOFOLLOW refuses a symlink planted at the log path instead of writing through it. */
static int open_live(struct ctrlog_fileset *fs)
{
	struct stat st;
	int fd = openat(fs->dirfd, fs->name,
			O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISREG(st.st_mode) ? -errno : -EINVAL;
		close(fd);
		return r;
	}
	if (fs->fd >= 0)
		close(fs->fd);
	fs->fd = fd;
	fs->size = (uint64_t)st.st_size;
	return 0;
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
		if (ctrlog_fileset_rotated_name(fs, n, suffixes[i], name, sizeof(name)) == 0)
			(void)unlinkat(fs->dirfd, name, 0);
}

/* Keeps the newest max_files rotated files; call with the lock held. */
static void enforce_retention(struct ctrlog_fileset *fs)
{
	while (fs->oldest <= fs->last && fs->last - fs->oldest + 1 > fs->max_files)
		unlink_rotated(fs, fs->oldest++);
}

/* Parses "<name>.<N>", "<name>.<N>.zst" or "<name>.<N>.zst.tmp"; returns the suffix kind
 * (0 plain, 1 zst, 2 tmp) or -1 for anything else. */
static int parse_rotated(const struct ctrlog_fileset *fs, const char *entry, uint64_t *ret_n)
{
	size_t len = strlen(fs->name);
	const char *p = entry + len + 1;
	char *end;
	unsigned long long n;

	if (strncmp(entry, fs->name, len) != 0 || entry[len] != '.' || *p < '1' || *p > '9')
		return -1;
	errno = 0;
	n = strtoull(p, &end, 10);
	if (errno)
		return -1;
	*ret_n = n;
	if (*end == '\0')
		return 0;
	if (strcmp(end, ".zst") == 0)
		return 1;
	return strcmp(end, ".zst.tmp") == 0 ? 2 : -1;
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

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	fs->last = read_last_seq(fs);
	while ((de = readdir(d))) {
		int kind = parse_rotated(fs, de->d_name, &n);
		char zst[512];

		if (kind < 0)
			continue;
		if (kind == 2) {
			(void)unlinkat(fs->dirfd, de->d_name, 0);
			continue;
		}
		if (kind == 0 && ctrlog_fileset_rotated_name(fs, n, ".zst", zst, sizeof(zst)) == 0 &&
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

int ctrlog_fileset_rotate(struct ctrlog_fileset *fs)
{
	char rotated[512];
	int r;

	if (fs->fd < 0)
		return -EBADF;
	r = ctrlog_fileset_rotated_name(fs, fs->last + 1, "", rotated, sizeof(rotated));
	if (r < 0)
		return r;
	if (renameat(fs->dirfd, fs->name, fs->dirfd, rotated) < 0)
		return -errno;
	pthread_mutex_lock(&fs->lock);
	fs->last++;
	enforce_retention(fs);
	pthread_mutex_unlock(&fs->lock);
	r = write_last_seq(fs);
	/* Reopen even if the sequence file failed: the log must go on. */
	{
		int q = open_live(fs);

		if (q < 0)
			return q;
	}
	if (compressing(fs) && fs->last >= 2) {
		pthread_mutex_lock(&fs->lock);
		ctrlog_compressor_kick(fs, fs->last - 1);
		pthread_mutex_unlock(&fs->lock);
		if (!fs->comp.started)
			r = ctrlog_compressor_start(fs);
	}
	return r;
}

static int split_path(const char *path, char **ret_dir, char **ret_name)
{
	char *a = strdup(path), *b = strdup(path);
	char *dir = NULL, *name = NULL;
	int r = -ENOMEM;

	if (a && b) {
		dir = strdup(dirname(a));
		name = strdup(basename(b));
	}
	free(a);
	free(b);
	if (dir && name) {
		if (*name && strcmp(name, "/") != 0 && strcmp(name, ".") != 0 &&
		    strcmp(name, "..") != 0 && strlen(name) < 200) {
			*ret_dir = dir;
			*ret_name = name;
			return 0;
		}
		r = -EINVAL;
	}
	free(dir);
	free(name);
	return r;
}

int ctrlog_fileset_open(const struct ctrlog_fileset_config *cfg, struct ctrlog_fileset **ret)
{
	struct ctrlog_fileset *fs;
	char *dir = NULL;
	int r;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->fd = -1;
	fs->dirfd = -1;
	fs->max_size = cfg->max_size;
	fs->max_files = cfg->max_files;
	fs->comp.level = cfg->compress_level;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->comp.wake, NULL);
	r = split_path(cfg->log_path, &dir, &fs->name);
	if (r < 0)
		goto fail;
	fs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->dirfd < 0) {
		r = -errno;
		goto fail;
	}
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
	free(dir);
	*ret = fs;
	return 0;
fail:
	free(dir);
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
	if (fs->dirfd >= 0)
		close(fs->dirfd);
	pthread_cond_destroy(&fs->comp.wake);
	pthread_mutex_destroy(&fs->lock);
	free(fs->name);
	free(fs);
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

	return fs->max_size > 0 && before > 0 && before + n > fs->max_size;
}

uint64_t ctrlog_fileset_room(const struct ctrlog_fileset *fs)
{
	if (fs->max_size == 0)
		return UINT64_MAX;
	return fs->size < fs->max_size ? fs->max_size - fs->size : 0;
}

int ctrlog_fileset_reopen(struct ctrlog_fileset *fs)
{
	return open_live(fs);
}

void ctrlog_fileset_get_stats(struct ctrlog_fileset *fs, struct ctrlog_fileset_stats *ret)
{
	pthread_mutex_lock(&fs->lock);
	ret->compressed_files = fs->comp.files;
	ret->compress_bytes_in = fs->comp.bytes_in;
	ret->compress_bytes_out = fs->comp.bytes_out;
	ret->compress_cpu_ns = fs->comp.cpu_ns;
	ret->compress_errors = fs->comp.errors;
	pthread_mutex_unlock(&fs->lock);
}
