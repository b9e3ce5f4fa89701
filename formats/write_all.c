/* SPDX-License-Identifier: MIT */
/* Careful output shared by the file and passthrough sinks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "formats/sink.h"

int ctrlog_wait_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int ctrlog_writev_all(int fd, struct iovec *iov, int n, size_t *ret_written)
{
	size_t total = 0;
	int r = 0;

	while (n > 0) {
		ssize_t w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && (r = ctrlog_wait_writable(fd)) == 0)
				continue;
			r = r ? r : -errno;
			break;
		}
		total += (size_t)w;
		/* Skip what went out, then adjust the first iovec left for a short write. */
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	if (ret_written)
		*ret_written = total;
	return r;
}

int ctrlog_write_all(int fd, const void *buf, size_t len, size_t *ret_written)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return ctrlog_writev_all(fd, &iov, 1, ret_written);
}

int ctrlog_write_file_atomic(int dirfd, const char *name, const char *content, size_t len,
			     unsigned mode)
{
	char tmp[512];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = ctrlog_write_all(fd, content, len, NULL);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}
