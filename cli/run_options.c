/* SPDX-License-Identifier: MIT */
/* `ctrlog run`'s command line: every bad argument gets one line naming it, and status 125. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cli/cli.h"
#include "cli/run.h"

enum {
	OPT_ID = 256, OPT_NAME, OPT_ROOT, OPT_DRIVER, OPT_PATH, OPT_MAX_SIZE, OPT_MAX_FILES,
	OPT_COMPRESS, OPT_MAX_LINE, OPT_MODE, OPT_BUFFER, OPT_TAG, OPT_LABEL, OPT_TTY, OPT_DETACH,
	OPT_STATS, OPT_CGROUPS, OPT_REPLACE, OPT_PRESERVE_FDS,
};

static const struct option long_opts[] = {
	{ "id", required_argument, NULL, OPT_ID },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "log-driver", required_argument, NULL, OPT_DRIVER },
	{ "log-path", required_argument, NULL, OPT_PATH },
	{ "log-max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "log-max-files", required_argument, NULL, OPT_MAX_FILES },
	{ "log-compress", required_argument, NULL, OPT_COMPRESS },
	{ "log-max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "log-mode", required_argument, NULL, OPT_MODE },
	{ "log-buffer-size", required_argument, NULL, OPT_BUFFER },
	{ "log-tag", required_argument, NULL, OPT_TAG },
	{ "log-label", required_argument, NULL, OPT_LABEL },
	{ "tty", no_argument, NULL, OPT_TTY },
	{ "detach", no_argument, NULL, OPT_DETACH },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "cgroups", required_argument, NULL, OPT_CGROUPS },
	{ "replace", no_argument, NULL, OPT_REPLACE },
	{ "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The defaults the help states. */
_Static_assert(CTRLOG_DEFAULT_MAX_SIZE == 10u << 20, "--log-max-size default in cli_run_help");
_Static_assert(CTRLOG_DEFAULT_MAX_FILES == 5, "--log-max-files default in cli_run_help");
_Static_assert(CTRLOG_DEFAULT_ZSTD_LEVEL == 1, "--log-compress default in cli_run_help");
_Static_assert(CTRLOG_DEFAULT_MAX_LINE == 16u << 10, "--log-max-line default in cli_run_help");
_Static_assert(RUN_DEFAULT_BUFFER_SIZE == 1u << 20, "--log-buffer-size default in cli_run_help");

const char cli_run_help[] =
	"usage: ctrlog run [OPTIONS] [--] COMMAND [ARG...]\n"
	"\n"
	"Runs COMMAND with its stdout and stderr on pipes (or a pty), logs them, and exits with\n"
	"its status: 128+N when signal N ended it, 125 when ctrlog failed, 126 when COMMAND\n"
	"cannot be executed, 127 when it is not found. SIGTERM and SIGINT are passed on to\n"
	"COMMAND, SIGUSR1 rotates the log now, SIGHUP reopens the live log. COMMAND starts with\n"
	"file descriptors 0, 1 and 2 only (see --preserve-fds).\n"
	"\n"
	"Container:\n"
	"  --id ID              1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -\n"
	"                       (default: 64 random hex digits). The ID of a running container\n"
	"                       is refused; so is that of an exited one, unless --replace. After a\n"
	"                       monitor that died without an exit status the log is continued.\n"
	"  --name NAME          a second name for logs, follow and rotate (same characters)\n"
	"  --replace            a container with this ID exists and is not running: remove its\n"
	"                       log and start a fresh one\n"
	"  --root DIR           the state root (see below)\n"
	"  --tty                COMMAND on a pty (one stream, logged as stdout)\n"
	"  --detach             print the ID and return once COMMAND runs; the monitor lives on\n"
	"  --preserve-fds N     also pass file descriptors 3 to 3+N-1 to COMMAND (default 0)\n"
	"  --cgroups split|disabled  split: the monitor in supervisor/ and COMMAND in container/\n"
	"                       of the current cgroup v2 (under systemd: Delegate=yes)\n"
	"                       (default disabled)\n"
	"  --stats              print counters and CPU use on stderr at the end\n"
	"  -h, --help           this help\n"
	"\n"
	"Log:\n"
	"  --log-driver k8s-file|journald|passthrough|none  where the output goes; repeatable\n"
	"                       (default k8s-file)\n"
	"  --log-path PATH      the live k8s-file log (default ROOT/ID/ctr.log); a relative PATH is\n"
	"                       taken from the current directory\n"
	"  --log-max-size SIZE  rotate before the live file would exceed SIZE; 0: never (default 10m)\n"
	"  --log-max-files N    rotated files kept, 0 to 100000 (default 5)\n"
	"  --log-compress zstd|zstd:LEVEL|none  rotated files but the newest are compressed,\n"
	"                       LEVEL 1 to 22 (default zstd:1)\n"
	"  --log-max-line SIZE  longer lines are split into partial records, 1 to 64m (default 16k)\n"
	"  --log-mode blocking|non-blocking  non-blocking never stalls COMMAND on a slow sink:\n"
	"                       what does not fit the buffer is dropped and counted\n"
	"                       (default blocking)\n"
	"  --log-buffer-size SIZE  the non-blocking buffer (default 1m)\n"
	"  --log-tag TAG        journald SYSLOG_IDENTIFIER and CONTAINER_TAG\n"
	"  --log-label KEY=VALUE  one more journald field; KEY of A-Z 0-9 _; repeatable\n"
	"SIZE is bytes or a number with k, m or g (powers of 1024): 512k, 10m, 1g.\n"
	"\n"
	CLI_ROOT_HELP;

static const struct {
	const char *name;
	unsigned bit;
} drivers[] = {
	{ "k8s-file", CTRLOG_DRIVER_K8S_FILE },
	{ "journald", CTRLOG_DRIVER_JOURNALD },
	{ "passthrough", CTRLOG_DRIVER_PASSTHROUGH },
	{ "none", CTRLOG_DRIVER_NONE },
};

static int parse_driver(const char *arg, unsigned *bits)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (strcmp(arg, drivers[i].name) == 0) {
			*bits |= drivers[i].bit;
			return 0;
		}
	}
	cli_error("run: --log-driver: unknown driver '%s' (expected k8s-file, journald, passthrough or none)",
		  arg);
	return -EINVAL;
}

static int parse_compress(const char *arg, int *level)
{
	uint64_t v;

	if (strcmp(arg, "none") == 0) {
		*level = CTRLOG_COMPRESS_NONE;
		return 0;
	}
	if (strcmp(arg, "zstd") == 0) {
		*level = CTRLOG_DEFAULT_ZSTD_LEVEL;
		return 0;
	}
	if (strncmp(arg, "zstd:", 5) == 0 && cli_parse_uint(arg + 5, 22, &v) == 0 && v >= 1) {
		*level = (int)v;
		return 0;
	}
	cli_error("run: --log-compress: invalid value '%s' (expected zstd, zstd:1..22 or none)", arg);
	return -EINVAL;
}

static int parse_size_opt(const char *opt, const char *arg, uint64_t *ret)
{
	if (cli_parse_size(arg, ret) == 0)
		return 0;
	cli_error("run: %s: invalid size '%s' (expected bytes or a number with k, m or g, e.g. 10m)", opt,
		  arg);
	return -EINVAL;
}

/* "ctrlog: run: OPT: WHAT 'VALUE' (WHY)", VALUE escaped so that the message stays one line
 * whatever it holds. Returns -EINVAL. */
static int refuse(const char *opt, const char *what, const char *value, const char *why)
{
	char *shown = cli_escape(value);

	cli_error("run: %s: %s '%s' (%s)", opt, what, shown ? shown : "?", why);
	free(shown);
	return -EINVAL;
}

/* Fields the journald sink sets itself; a label must not give them a second value. */
static bool reserved_field(const char *key, size_t len)
{
	static const char *const reserved[] = { "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER" };

	if (len >= 10 && strncmp(key, "CONTAINER_", 10) == 0)
		return true;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == len && strncmp(key, reserved[i], len) == 0)
			return true;
	return false;
}

/* journald field names: upper-case letters, digits and '_', starting with a letter, at most
 * 64 characters; journald silently drops any other field. */
static int validate_label(const char *label)
{
	const char *eq = strchr(label, '=');
	const char *p = label;

	if (eq && eq - label <= 64 && label[0] >= 'A' && label[0] <= 'Z') {
		while (p < eq && ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			p++;
		if (p == eq && !reserved_field(label, (size_t)(eq - label)))
			return 0;
		if (p == eq) {
			cli_error("run: --log-label: '%.*s' is set by ctrlog itself and cannot be a label",
				  (int)(eq - label), label);
			return -EINVAL;
		}
	}
	return refuse("--log-label", "invalid label", label,
		      "expected KEY=VALUE, KEY of A-Z, 0-9 and _, starting with a letter, at most 64 characters");
}

/* A label's value may hold any byte but a newline, which journald's protocol would take as
 * the start of another field. */
static int validate_label_value(const char *label)
{
	return strchr(label, '\n') ? refuse("--log-label", "invalid label", label,
					     "its value holds a newline") : 0;
}

/* A tag (journald's SYSLOG_IDENTIFIER) or a log path: a name, so not empty and without a
 * newline or another control character (a mistake or an attack, never a name). */
static int parse_name(const char *opt, const char *noun, const char *arg, const char **ret)
{
	char what[32];

	if (!*arg) {
		cli_error("run: %s: empty %s", opt, noun);
		return -EINVAL;
	}
	if (cli_has_control(arg)) {
		snprintf(what, sizeof(what), "invalid %s", noun);
		return refuse(opt, what, arg, "no newline or other control character");
	}
	*ret = arg;
	return 0;
}

/* Bounded so that 3 + N stays a valid descriptor number. */
#define MAX_PRESERVE_FDS 1000000

static int parse_preserve_fds(const char *arg, unsigned *ret)
{
	uint64_t v;

	if (cli_parse_uint(arg, MAX_PRESERVE_FDS, &v) == 0) {
		*ret = (unsigned)v;
		return 0;
	}
	cli_error("run: --preserve-fds: invalid count '%s' (expected 0 to %d: how many descriptors from 3 on to pass)",
		  arg, MAX_PRESERVE_FDS);
	return -EINVAL;
}

static int parse_option(struct run_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_ID:
		if (o->id) {
			cli_error("run: --id: given twice ('%s', then '%s'); a container has one ID",
				  o->id, arg);
			return -EINVAL;
		}
		if (ctrlog_id_validate(arg) < 0)
			return refuse("--id", "invalid container ID", arg,
				      "1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -");
		o->id = strdup(arg);
		return o->id ? 0 : -ENOMEM;
	case OPT_NAME:
		if (o->name) {
			cli_error("run: --name: given twice ('%s', then '%s'); a container has one name",
				  o->name, arg);
			return -EINVAL;
		}
		if (ctrlog_id_validate(arg) < 0)
			return refuse("--name", "invalid name", arg,
				      "1-128 characters of A-Z a-z 0-9 _ . -, not starting with . or -");
		o->name = arg;
		return 0;
	case OPT_ROOT: return cli_root_option("run", arg, &o->root);
	case OPT_DRIVER: return parse_driver(arg, &o->drivers);
	case OPT_PATH: return parse_name("--log-path", "path", arg, &o->log_path);
	case OPT_MAX_SIZE: return parse_size_opt("--log-max-size", arg, &o->max_size);
	case OPT_MAX_FILES:
		if (cli_parse_uint(arg, 100000, &o->max_files) == 0)
			return 0;
		cli_error("run: --log-max-files: invalid count '%s' (expected 0 to 100000)", arg);
		return -EINVAL;
	case OPT_COMPRESS: return parse_compress(arg, &o->compress_level);
	case OPT_MAX_LINE:
		if (parse_size_opt("--log-max-line", arg, &o->max_line) < 0)
			return -EINVAL;
		if (o->max_line >= 1 && o->max_line <= (64u << 20))
			return 0;
		cli_error("run: --log-max-line: '%s' out of range (1 to 64m)", arg);
		return -EINVAL;
	case OPT_MODE:
		if (strcmp(arg, "blocking") == 0 || strcmp(arg, "non-blocking") == 0) {
			o->mode = arg[0] == 'b' ? CTRLOG_MODE_BLOCKING : CTRLOG_MODE_NON_BLOCKING;
			return 0;
		}
		cli_error("run: --log-mode: invalid mode '%s' (expected blocking or non-blocking)", arg);
		return -EINVAL;
	case OPT_BUFFER: return parse_size_opt("--log-buffer-size", arg, &o->buffer_size);
	case OPT_TAG: return parse_name("--log-tag", "tag", arg, &o->tag);
	case OPT_LABEL: {
		const char **l;

		if (validate_label(arg) < 0 || validate_label_value(arg) < 0)
			return -EINVAL;
		l = realloc(o->labels, (o->n_labels + 1) * sizeof(*l));
		if (!l)
			return -ENOMEM;
		o->labels = l;
		o->labels[o->n_labels++] = arg;
		return 0;
	}
	case OPT_TTY: o->tty = true; return 0;
	case OPT_DETACH: o->detach = true; return 0;
	case OPT_STATS: o->stats = true; return 0;
	case OPT_REPLACE: o->replace = true; return 0;
	case OPT_PRESERVE_FDS: return parse_preserve_fds(arg, &o->preserve_fds);
	case OPT_CGROUPS:
		if (strcmp(arg, "split") == 0 || strcmp(arg, "disabled") == 0) {
			o->cgroups_split = arg[0] == 's';
			return 0;
		}
		cli_error("run: --cgroups: invalid value '%s' (expected split or disabled)", arg);
		return -EINVAL;
	default:
		return -EINVAL; /* cli_getopt() already named the option */
	}
}

static int generate_id(struct run_opts *o)
{
	unsigned char raw[32];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	o->id = malloc(2 * sizeof(raw) + 1);
	if (!o->id)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(o->id + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int run_parse_args(struct run_opts *o, int argc, char **argv)
{
	int c;

	o->max_size = CTRLOG_DEFAULT_MAX_SIZE;
	o->max_files = CTRLOG_DEFAULT_MAX_FILES;
	o->compress_level = CTRLOG_DEFAULT_ZSTD_LEVEL;
	o->max_line = CTRLOG_DEFAULT_MAX_LINE;
	o->buffer_size = RUN_DEFAULT_BUFFER_SIZE;
	/* '+': options stop at the command, whose own options are its business. */
	while ((c = cli_getopt("run", argc, argv, "+:h", long_opts)) != -1) {
		if (c == '?')
			return -EINVAL;
		if (c == 'h') {
			cli_help("run");
			return 1;
		}
		if (parse_option(o, c, optarg) < 0)
			return -EINVAL;
	}
	if (optind >= argc) {
		cli_error("run: missing COMMAND (usage: ctrlog run [OPTIONS] [--] COMMAND [ARG...])");
		return -EINVAL;
	}
	o->command = argv + optind;
	if (o->drivers == 0)
		o->drivers = CTRLOG_DRIVER_K8S_FILE;
	return o->id ? 0 : generate_id(o);
}

void run_drivers_string(unsigned bits, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		if (!(bits & drivers[i].bit))
			continue;
		if (out[0])
			strncat(out, ",", size - strlen(out) - 1);
		strncat(out, drivers[i].name, size - strlen(out) - 1);
	}
}

/* config: what a reader (ctrlog logs, ps, rotate) needs to find and read this container. */
