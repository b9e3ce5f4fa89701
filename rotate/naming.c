/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rotate/naming.h"

/* Longest log file name accepted, so that every derived name fits in NAME_MAX. */
#define MAX_LOG_NAME 200

int ctrlog_log_dir_open(const char *log_path, int *ret_dirfd, char **ret_name)
{
	char *a = strdup(log_path), *b = strdup(log_path), *name = NULL;
	int fd = -1, r = -ENOMEM;

	if (!a || !b)
		goto out;
	name = strdup(basename(b));
	if (!name)
		goto out;
	if (!*name || strcmp(name, "/") == 0 || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strlen(name) > MAX_LOG_NAME) {
		r = -EINVAL;
		goto out;
	}
	fd = open(dirname(a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	*ret_dirfd = fd;
	*ret_name = name;
	name = NULL;
	r = 0;
out:
	free(name);
	free(a);
	free(b);
	return r;
}

int ctrlog_open_regular(int dirfd, const char *name, int flags, mode_t mode, struct stat *ret_st)
{
	struct stat st;
	int fd = openat(dirfd, name, flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	else if (fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) /* F_SETFL ignores O_CREAT & co. */
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	if (ret_st)
		*ret_st = st;
	return fd;
}

/* Whether fd is still the file at name (see ctrlog_lock_file()). */
static bool still_named(int dirfd, const char *name, const struct stat *st)
{
	struct stat now;

	return fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == st->st_ino &&
	       now.st_dev == st->st_dev;
}

#define LOCK_ATTEMPTS 10

int ctrlog_lock_file(int dirfd, const char *name, mode_t mode)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st = { 0 }; /* filled by ctrlog_open_regular() whenever it returns an fd */

	for (int tries = 0; tries < LOCK_ATTEMPTS; tries++) {
		int fd = ctrlog_open_regular(dirfd, name, O_RDWR | O_CREAT, mode, &st);

		if (fd < 0)
			return fd;
		if (fcntl(fd, F_OFD_SETLK, &lk) < 0) {
			int r = errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;

			close(fd);
			return r;
		}
		if (still_named(dirfd, name, &st))
			return fd;
		close(fd);
	}
	return -EBUSY; /* others keep taking and leaving it */
}

int ctrlog_rotated_name(const char *name, uint64_t n, const char *suffix, char *buf, size_t size)
{
	int len = snprintf(buf, size, "%s.%llu%s", name, (unsigned long long)n, suffix);

	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

int ctrlog_rotated_parse(const char *name, const char *entry, uint64_t *ret_n)
{
	size_t len = strlen(name);
	const char *p = entry + len + 1;
	unsigned long long n;
	char *end;
	int kind;

	if (strncmp(entry, name, len) != 0 || entry[len] != '.' || *p < '1' || *p > '9')
		return -1;
	errno = 0;
	n = strtoull(p, &end, 10);
	if (errno)
		return -1;
	if (*end == '\0')
		kind = CTRLOG_ROTATED_PLAIN;
	else if (strcmp(end, ".zst") == 0)
		kind = CTRLOG_ROTATED_ZST;
	else if (strcmp(end, ".zst.tmp") == 0)
		kind = CTRLOG_ROTATED_TMP;
	else
		return -1;
	*ret_n = n;
	return kind;
}

int ctrlog_last_rotation_name(const char *name, char *buf, size_t size)
{
	int len = snprintf(buf, size, ".%s.last-rotation", name);

	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

int ctrlog_lock_name(const char *name, char *buf, size_t size)
{
	int len = snprintf(buf, size, ".%s.lock", name);

	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

/* "<digits>\n" as write_last_seq() writes it, nothing else. */
static int parse_last_rotation(const char *buf, uint64_t *ret_last)
{
	unsigned long long v;
	char *end;

	if (*buf < '0' || *buf > '9')
		return -EBADMSG;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || (*end != '\n' && *end != '\0') || (*end == '\n' && end[1] != '\0'))
		return -EBADMSG;
	*ret_last = v;
	return 0;
}

int ctrlog_last_rotation_load(int dirfd, const char *name, uint64_t *ret_last)
{
	char path[512], buf[32] = "";
	ssize_t n;
	int fd, r;

	if (ctrlog_last_rotation_name(name, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	/* Never blocks on a FIFO put in its place; what is not a regular file is a bad record. */
	fd = ctrlog_open_regular(dirfd, path, O_RDONLY, 0, NULL);
	if (fd == -ENOENT) {
		*ret_last = 0;
		return 0;
	}
	if (fd == -EINVAL || fd == -EISDIR)
		return -EBADMSG;
	if (fd < 0)
		return fd;
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : parse_last_rotation(buf, ret_last);
	close(fd);
	return r;
}

uint64_t ctrlog_last_rotation_read(int dirfd, const char *name)
{
	uint64_t last;

	return ctrlog_last_rotation_load(dirfd, name, &last) == 0 ? last : 0;
}
