/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: ctrlog COMMAND [OPTIONS] [ARG...]\n"
	"\n"
	"Commands:\n"
	"  run [OPTIONS] [--] COMMAND [ARG...]  run COMMAND under a monitor that logs its output\n"
	"  logs [OPTIONS] ID|PREFIX|NAME         print a container's log\n"
	"  follow [OPTIONS] ID|PREFIX|NAME       print it until the container exits (logs -f)\n"
	"  ps [-a] [--root DIR]                  list the containers\n"
	"  rotate [--root DIR] ID|PREFIX|NAME    rotate a running container's log now\n"
	"  version                               print ctrlog's version\n"
	"\n"
	"  -h, --help     this help; ctrlog COMMAND --help (or ctrlog help COMMAND): its options\n"
	"      --version  print ctrlog's version\n"
	"\n"
	CLI_ROOT_HELP;

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "run", cmd_run, cli_run_help },
	{ "logs", cmd_logs, cli_logs_help },
	{ "follow", cmd_follow, cli_follow_help },
	{ "ps", cmd_ps, cli_ps_help },
	{ "rotate", cmd_rotate, cli_rotate_help },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

int cli_help(const char *cmd)
{
	for (size_t i = 0; cmd && i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, cmd) == 0) {
			fputs(commands[i].help, stdout);
			return 0;
		}
	}
	fputs(usage, stdout);
	return 0;
}

static int print_version(void)
{
	printf("ctrlog %s\n", CTRLOG_VERSION);
	return 0;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* `ctrlog help [COMMAND]` */
static int help_command(int argc, char **argv)
{
	if (argc > 2) {
		cli_error("help: unexpected argument '%s' (one command)", argv[2]);
		return 1;
	}
	for (size_t i = 0; argc == 2 && i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			return cli_help(argv[1]);
	if (argc == 2 && strcmp(argv[1], "version") != 0 && strcmp(argv[1], "help") != 0) {
		cli_error("help: unknown command '%s'", argv[1]);
		return 1;
	}
	return cli_help(NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 1;
	}
	if (is_help(argv[1]))
		return cli_help(NULL);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		if (argc > 2 && is_help(argv[2]))
			return cli_help(NULL);
		if (argc > 2) {
			cli_error("version: unexpected argument '%s'", argv[2]);
			return 1;
		}
		return print_version();
	}
	if (strcmp(argv[1], "help") == 0)
		return help_command(argc - 1, argv + 1);
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		cli_error("unknown option '%s'", argv[1]);
	else
		cli_error("unknown command '%s' (expected run, logs, follow, ps, rotate or version)",
			  argv[1]);
	return 1;
}
