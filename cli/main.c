/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: ctrlog run [OPTIONS] [--] COMMAND [ARG...]\n"
	"       ctrlog logs [-f] [-n N|all] [--since TIME] [--until TIME] [-t] [--stream S]\n"
	"                   [--root DIR] ID|PREFIX|NAME\n"
	"       ctrlog follow [--root DIR] ID|PREFIX|NAME\n"
	"       ctrlog rotate [--root DIR] ID\n"
	"       ctrlog ps [-a] [--root DIR]\n"
	"run options:\n"
	"  --id ID --name NAME --root DIR --tty --detach --stats --cgroups split|disabled\n"
	"  --log-driver k8s-file|journald|passthrough|none (repeatable)  --log-path PATH\n"
	"  --log-max-size SIZE (10m)  --log-max-files N (5)  --log-compress zstd[:L]|none (zstd:1)\n"
	"  --log-max-line SIZE (16k)  --log-mode blocking|non-blocking  --log-buffer-size SIZE (1m)\n"
	"  --log-tag TAG  --log-label KEY=VALUE\n"
	"More in README.md.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0))) {
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
