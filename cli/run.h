/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_CLI_RUN_H
#define CTRLOG_CLI_RUN_H

/* `ctrlog run`'s options (run_options.c) as the monitor (run.c) uses them. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrlog/ctrlog.h"

struct run_opts {
	char *id;
	const char *name;
	const char *root;
	const char *log_path;
	const char *tag;
	const char **labels;
	size_t n_labels;
	unsigned drivers;
	uint64_t max_size;
	uint64_t max_files;
	int compress_level;
	uint64_t max_line;
	enum ctrlog_log_mode mode;
	uint64_t buffer_size;
	bool tty;
	bool detach;
	bool stats;
	bool cgroups_split;
	bool replace;            /* an exited container with this ID: start a fresh log set */
	unsigned preserve_fds;   /* fds 3 .. 3 + preserve_fds - 1 are passed to the command */
	char **command;
};

#define RUN_DEFAULT_BUFFER_SIZE (1u << 20)

/* Parses argv (argv[0] is "run") into o, with the defaults of DESIGN.md and a generated 64-hex
 * ID when none is given. Prints one line naming a bad argument; returns 0, 1 when the help was
 * asked for and printed, or -EINVAL. */
int run_parse_args(struct run_opts *o, int argc, char **argv);

/* "k8s-file,journald" for the driver bits. */
void run_drivers_string(unsigned bits, char *out, size_t size);

#endif
