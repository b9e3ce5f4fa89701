/* SPDX-License-Identifier: MIT */
/*
 * splice-copy: moves stdin (a pipe) into a file with splice(2), 1 MiB at a
 * time, until EOF.
 *
 * This is the floor of the benchmarks: the least CPU any logger can spend
 * to get bytes from a container's pipe into a file, since the data is
 * never copied to user space.  A logger that frames lines must read them,
 * so it is compared against `cat` as well as against this.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1024 * 1024)

int main(int argc, char **argv)
{
	int out;

	if (argc != 2) {
		fputs("usage: splice-copy FILE < pipe\n", stderr);
		return 2;
	}
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		fprintf(stderr, "splice-copy: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/*
	 * The pipe keeps the capacity the shell gave it, as for cat: both
	 * floors then see the same pipe, and raising it to 1 MiB measured no
	 * better here, only noisier.
	 */
	for (;;) {
		ssize_t n = splice(STDIN_FILENO, NULL, out, NULL, CHUNK,
				   SPLICE_F_MOVE | SPLICE_F_MORE);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "splice-copy: splice to %s: %s\n",
				argv[1], strerror(errno));
			return 1;
		}
	}
	if (close(out) < 0) {
		fprintf(stderr, "splice-copy: close %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	return 0;
}
