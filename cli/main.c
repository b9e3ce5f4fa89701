/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: ctrlog run [OPTIONS] [--] COMMAND [ARG...]\n"
	"       ctrlog rotate [--root DIR] ID\n"
	"       ctrlog logs [-f] [-n N|all] [--since TIME] [--until TIME] [-t] [--stream S] ID\n"
	"       ctrlog follow ID\n"
	"       ctrlog ps [-a]\n"
	"       ctrlog --help\n"
	"See DESIGN.md for every option.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "rotate") == 0)
		return cmd_rotate(argc - 1, argv + 1);
	if (strcmp(argv[1], "logs") == 0)
		return cmd_logs(argc - 1, argv + 1);
	if (strcmp(argv[1], "follow") == 0)
		return cmd_follow(argc - 1, argv + 1);
	if (strcmp(argv[1], "ps") == 0)
		return cmd_ps(argc - 1, argv + 1);
	cli_error("unknown command '%s' (expected run, rotate, logs, follow or ps)", argv[1]);
	return 1;
}
