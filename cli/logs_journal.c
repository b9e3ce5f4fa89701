/* SPDX-License-Identifier: MIT */
/*
 * `ctrlog logs` and `ctrlog follow` for a container that logs to journald only: its entries
 * (CONTAINER_ID_FULL=<id>) read through sd-journal, split lines joined again.
 *
 * A line is an entry without CONTAINER_PARTIAL_MESSAGE=true, or the run of pieces of one stream
 * that share a CONTAINER_PARTIAL_ID and end with a piece without it (journald_writer.c). Pieces
 * of stdout and stderr may interleave, so each stream assembles its own line. A line is printed
 * when its last piece is read, with the time of its first piece, like the k8s-file reader.
 * PRIORITY 3 (stderr) and the PRIORITY 4 marker of a journald outage count as stderr; the rest
 * as stdout.
 *
 * --tail N walks backwards from the end (or from --until) counting line ends, so its cost is
 * proportional to N. --since seeks by realtime.
 *
 * Following waits in poll() on sd-journal's fd (what sd_journal_wait() does inside) and on an
 * inotify watch of the container directory for `exit`: the `exit` file may appear without any
 * further change to the journal. The monitor writes `exit` after its last entry was *sent*, but
 * journald stores datagrams asynchronously; so once `exit` exists we ask journald to store what
 * it has queued (its varlink Synchronize call, what `journalctl --sync` uses; root only), or,
 * when that is not possible, wait until the journal has been quiet for a moment, then drain.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "cli/cli.h"
#include "ctrlog/ctrlog.h"
#include "formats/k8s-file.h"

#define OUT_BUF_SIZE ((size_t)1 << 20)
#define VARLINK_SOCKET "/run/systemd/journal/io.systemd.journal"
#define QUIET_USEC 300000          /* no sync possible: the journal quiet this long = stored */
#define PARTIAL_ID_MAX 128

/* The line being assembled on one stream. */
struct assembly {
	char *buf;
	size_t len, cap;
	bool open;                    /* pieces of an unfinished line are in buf */
	int64_t time_ns;              /* of its first piece */
	char id[PARTIAL_ID_MAX + 1];  /* its CONTAINER_PARTIAL_ID */
};

struct jreader {
	const char *cmd;
	const struct logs_opts *o;
	sd_journal *j;
	struct assembly as[CTRLOG_N_STREAMS];
	struct cli_printer printer;
	uint64_t skip;                /* lines still to skip (--tail counted a few extra) */
	bool done;                    /* --until passed */
};

/* One entry's fields. id points into a buffer of the caller. */
struct entry {
	int stream;
	bool partial;
	unsigned ordinal;
	int64_t time_ns;
	char id[PARTIAL_ID_MAX + 1];
};

/* The value of field in the current entry: 1 and (value, len), 0 when absent, or -errno. */
static int get_field(sd_journal *j, const char *field, const char **value, size_t *len)
{
	const void *data;
	size_t l, klen = strlen(field);
	int r = sd_journal_get_data(j, field, &data, &l);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (l < klen + 1 || memcmp(data, field, klen) != 0 || ((const char *)data)[klen] != '=')
		return 0;
	*value = (const char *)data + klen + 1;
	*len = l - klen - 1;
	return 1;
}

static bool field_is(sd_journal *j, const char *field, const char *expected)
{
	const char *v;
	size_t len;

	return get_field(j, field, &v, &len) > 0 && len == strlen(expected) &&
	       memcmp(v, expected, len) == 0;
}

static int read_entry(sd_journal *j, struct entry *e)
{
	const char *v;
	size_t len;
	uint64_t usec;
	int r = sd_journal_get_realtime_usec(j, &usec);

	if (r < 0)
		return r;
	e->time_ns = (int64_t)(usec > (uint64_t)INT64_MAX / 1000 ? (uint64_t)INT64_MAX / 1000 : usec) *
		     1000;
	e->stream = CTRLOG_STDOUT;
	if (get_field(j, "PRIORITY", &v, &len) > 0 && len == 1 && v[0] >= '0' && v[0] <= '4')
		e->stream = CTRLOG_STDERR;
	e->partial = field_is(j, "CONTAINER_PARTIAL_MESSAGE", "true");
	e->id[0] = '\0';
	if (get_field(j, "CONTAINER_PARTIAL_ID", &v, &len) > 0) {
		if (len > PARTIAL_ID_MAX)
			len = PARTIAL_ID_MAX;
		memcpy(e->id, v, len);
		e->id[len] = '\0';
	}
	e->ordinal = 0;
	if (get_field(j, "CONTAINER_PARTIAL_ORDINAL", &v, &len) > 0) {
		for (size_t i = 0; i < len && i < 9 && v[i] >= '0' && v[i] <= '9'; i++)
			e->ordinal = e->ordinal * 10 + (unsigned)(v[i] - '0');
	}
	return 0;
}

static bool stream_wanted(const struct jreader *jr, int stream)
{
	return !jr->o->streams || (jr->o->streams & (1u << stream));
}

/* ---- output ---- */

/* A finished line: filtered by time, skipped for --tail, or printed. */
static void emit(struct jreader *jr, int stream)
{
	struct assembly *a = &jr->as[stream];

	a->open = false;
	if (jr->done || a->time_ns < jr->o->since_ns)
		return;
	if (a->time_ns > jr->o->until_ns) {
		jr->done = true;
		return;
	}
	if (jr->skip) {
		jr->skip--;
		return;
	}
	cli_print_line(&jr->printer, stream, a->time_ns, a->buf, a->len);
}

static int append(struct assembly *a, const char *data, size_t len)
{
	if (a->len + len > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		char *p;

		while (cap < a->len + len)
			cap *= 2;
		p = realloc(a->buf, cap);
		if (!p)
			return -ENOMEM;
		a->buf = p;
		a->cap = cap;
	}
	if (len)
		memcpy(a->buf + a->len, data, len);
	a->len += len;
	return 0;
}

/* Reads the current entry into its stream's line; prints the line when it is complete. */
static int take_entry(struct jreader *jr)
{
	struct assembly *a;
	struct entry e;
	const char *msg = "";
	size_t len = 0;
	int r = read_entry(jr->j, &e);

	if (r < 0)
		return r;
	if (!stream_wanted(jr, e.stream))
		return 0;
	a = &jr->as[e.stream];
	/* A line whose last piece never came (lost in a journald outage) ends at the next line. */
	if (a->open && (!e.id[0] || strcmp(e.id, a->id) != 0))
		emit(jr, e.stream);
	if (!a->open) {
		a->len = 0;
		a->time_ns = e.time_ns;
		memcpy(a->id, e.id, sizeof(a->id));
	}
	/* Last: the data of one field is valid until the next sd_journal_get_data(). */
	r = get_field(jr->j, "MESSAGE", &msg, &len);
	if (r < 0)
		return r;
	r = append(a, msg, len);
	if (r < 0)
		return r;
	a->open = true;
	if (!e.partial)
		emit(jr, e.stream);
	return 0;
}

/* Lines whose last piece has not come (yet): printed when the reading ends. */
static void take_held(struct jreader *jr)
{
	for (int s = 0; s < CTRLOG_N_STREAMS; s++)
		if (jr->as[s].open)
			emit(jr, s);
}

/* Reads up to the end of the journal. Returns the number of entries or -errno. */
static int64_t drain(struct jreader *jr)
{
	int64_t n = 0;
	int r = 0;

	while (!jr->done && (r = sd_journal_next(jr->j)) > 0) {
		r = take_entry(jr);
		if (r < 0)
			return r;
		n++;
	}
	if (!jr->done && r < 0)
		return r;
	return n;
}

/* ---- positioning ---- */

/*
 * Positions the journal so that sd_journal_next() gives the first entry to read. For --tail
 * N: walks back from the end (or from --until) counting lines by their last entry, then on
 * over the earlier pieces of the lines counted. Lines of the other stream that end while an
 * earlier line is being completed are counted too; jr->skip drops them again when reading.
 */
static int seek_start(struct jreader *jr)
{
	const struct logs_opts *o = jr->o;
	bool open[CTRLOG_N_STREAMS] = { false };
	char cur_id[CTRLOG_N_STREAMS][PARTIAL_ID_MAX + 1] = { "" };
	uint64_t count = 0;
	int r;

	if (!o->tail) {
		if (o->since_ns == INT64_MIN)
			return sd_journal_seek_head(jr->j);
		return sd_journal_seek_realtime_usec(jr->j, o->since_ns <= 0 ? 0 :
							   (uint64_t)o->since_ns / 1000);
	}
	if (o->until_ns != INT64_MAX && o->until_ns >= 0)
		r = sd_journal_seek_realtime_usec(jr->j, (uint64_t)o->until_ns / 1000 + 1);
	else
		r = sd_journal_seek_tail(jr->j);
	if (r < 0)
		return r;
	for (;;) {
		struct entry e;
		bool cont;

		r = sd_journal_previous(jr->j);
		if (r < 0)
			return r;
		if (r == 0) /* reached the first entry: read from the start */
			break;
		r = read_entry(jr->j, &e);
		if (r < 0)
			return r;
		if (e.time_ns > o->until_ns || !stream_wanted(jr, e.stream))
			continue;
		if (e.time_ns < o->since_ns)
			goto stop;
		cont = open[e.stream] && e.id[0] && strcmp(e.id, cur_id[e.stream]) == 0;
		if (!cont) {
			open[e.stream] = false;
			if (count >= o->tail_lines && !open[CTRLOG_STDOUT] && !open[CTRLOG_STDERR])
				goto stop;
			count++;
			memcpy(cur_id[e.stream], e.id, sizeof(cur_id[e.stream]));
		}
		/* The line goes on backwards unless this is its first piece. */
		open[e.stream] = e.id[0] && e.ordinal != 1;
	}
	jr->skip = count > o->tail_lines ? count - o->tail_lines : 0;
	return sd_journal_seek_head(jr->j);
stop:
	/* The current entry is the last one not to read; next() moves past it. */
	jr->skip = count > o->tail_lines ? count - o->tail_lines : 0;
	return 0;
}

/* ---- following ---- */

/*
 * Asks journald to store everything it has received (io.systemd.Journal.Synchronize, as
 * `journalctl --sync` does): journald answers once its socket queue is processed. Returns 0 or
 * -errno (-EACCES for an unprivileged caller).
 */
static int journald_sync(void)
{
	static const char req[] = "{\"method\":\"io.systemd.Journal.Synchronize\",\"parameters\":{}}";
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = VARLINK_SOCKET };
	struct timeval tv = { .tv_sec = 10 };
	char reply[512];
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) { /* with its NUL */
		r = -errno;
		goto out;
	}
	while (got < sizeof(reply) - 1) {
		ssize_t n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ECONNRESET;
			goto out;
		}
		if (memchr(reply + got, '\0', (size_t)n)) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	reply[got] = '\0';
	if (strstr(reply, "\"error\""))
		r = strstr(reply, "PermissionDenied") ? -EACCES : -EIO;
out:
	close(fd);
	return r;
}

static bool exit_exists(int ctr_dirfd)
{
	return faccessat(ctr_dirfd, "exit", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The container has exited: everything it sent to journald, then done. */
static int final_drain(struct jreader *jr)
{
	int64_t n;
	int r;

	if (journald_sync() == 0) {
		r = sd_journal_process(jr->j);
		if (r < 0)
			return r;
		n = drain(jr);
		return n < 0 ? (int)n : 0;
	}
	/* No sync: read until nothing of ours has arrived for QUIET_USEC. */
	for (;;) {
		r = sd_journal_wait(jr->j, QUIET_USEC);
		if (r < 0)
			return r;
		n = drain(jr);
		if (n < 0)
			return (int)n;
		if (r == SD_JOURNAL_NOP && n == 0)
			return 0;
	}
}

/* Waits for a change of the journal or the container directory. 1: something changed, 0: a
 * quiet second, -errno. */
static int wait_change(struct jreader *jr, int jfd, int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd[2] = {
		{ .fd = jfd, .events = (short)sd_journal_get_events(jr->j) },
		{ .fd = ifd, .events = POLLIN },
	};
	uint64_t until;
	int timeout_ms = 1000, r;

	/* Where inotify cannot watch the journal files, sd-journal asks to be woken regularly. */
	if (sd_journal_get_timeout(jr->j, &until) >= 0 && until != UINT64_MAX) {
		struct timespec now;
		uint64_t now_us;

		clock_gettime(CLOCK_MONOTONIC, &now);
		now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
		if (until <= now_us)
			timeout_ms = 0;
		else if ((until - now_us + 999) / 1000 < (uint64_t)timeout_ms)
			timeout_ms = (int)((until - now_us + 999) / 1000);
	}
	if (pfd[0].events <= 0)
		pfd[0].events = POLLIN;
	r = poll(pfd, 2, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 1 : -errno;
	while (read(ifd, buf, sizeof(buf)) > 0)
		;
	r = sd_journal_process(jr->j);
	if (r < 0)
		return r;
	return r != SD_JOURNAL_NOP || (pfd[1].revents & POLLIN);
}

static int follow(struct jreader *jr, const char *id, int ctr_dirfd)
{
	char path[64];
	int jfd, ifd, r, idle = 0;
	int64_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", ctr_dirfd);
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0 || inotify_add_watch(ifd, path, IN_CREATE | IN_MOVED_TO) < 0) {
		r = -errno;
		cli_error("%s: cannot watch the container directory: %s", jr->cmd, ctrlog_strerror(r));
		if (ifd >= 0)
			close(ifd);
		return r;
	}
	/* The journal's own watches are in place from here on: nothing written later is missed. */
	jfd = sd_journal_get_fd(jr->j);
	if (jfd < 0) {
		cli_error("%s: cannot watch the journal: %s", jr->cmd, ctrlog_strerror(jfd));
		close(ifd);
		return jfd;
	}
	for (;;) {
		/* Seen before the drain: the monitor writes it after its last entry was sent. */
		bool exited = exit_exists(ctr_dirfd);

		n = drain(jr);
		if (n < 0) {
			r = (int)n;
			break;
		}
		if (jr->done) {
			r = 0;
			break;
		}
		if (exited) {
			r = final_drain(jr);
			break;
		}
		cli_printer_flush(&jr->printer);
		r = wait_change(jr, jfd, ifd);
		if (r < 0)
			break;
		if (r > 0 || n > 0) {
			idle = 0;
			continue;
		}
		/* A quiet second: make sure the monitor is still there to write `exit`. */
		if (!exit_exists(ctr_dirfd) && cli_monitor_pid(ctr_dirfd) == 0 && ++idle >= 2) {
			(void)drain(jr);
			cli_printer_flush(&jr->printer);
			cli_error("%s: the monitor of '%s' is gone without recording an exit status",
				  jr->cmd, id);
			close(ifd);
			return 1;
		}
	}
	close(ifd);
	if (r < 0)
		cli_error("%s: reading the journal: %s", jr->cmd, ctrlog_strerror(r));
	return r;
}

int cli_logs_journal(const char *cmd, const struct logs_opts *o, const char *full_id,
		     int ctr_dirfd)
{
	struct jreader jr = { .cmd = cmd, .o = o, .printer = CLI_PRINTER_INIT(o->timestamps) };
	char *match = NULL;
	int r, status = 1;

	r = sd_journal_open(&jr.j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		cli_error("%s: cannot open the journal: %s", cmd, ctrlog_strerror(r));
		return 1;
	}
	/* Whole MESSAGE fields, however long (the default cuts them at 64 KiB). */
	r = sd_journal_set_data_threshold(jr.j, 0);
	if (r >= 0) {
		r = asprintf(&match, "CONTAINER_ID_FULL=%s", full_id) < 0 ? -ENOMEM : 0;
		if (r == 0)
			r = sd_journal_add_match(jr.j, match, 0);
	}
	if (r < 0) {
		cli_error("%s: cannot read the journal: %s", cmd, ctrlog_strerror(r));
		goto out;
	}
	/* sd_journal_open() skips the files it may not read; none at all would look like an
	 * empty log. */
	if (sd_journal_has_runtime_files(jr.j) <= 0 && sd_journal_has_persistent_files(jr.j) <= 0) {
		cli_error("%s: no journal file could be opened (%s)", cmd,
			  geteuid() ? "reading the journal needs root or the systemd-journal group"
				    : "is systemd-journald running?");
		goto out;
	}
	if (!o->follow)
		(void)journald_sync(); /* what was sent before now is there, where we may ask */
	r = seek_start(&jr);
	if (r < 0) {
		cli_error("%s: cannot seek in the journal: %s", cmd, ctrlog_strerror(r));
		goto out;
	}
	setvbuf(stdout, NULL, _IOFBF, OUT_BUF_SIZE);
	setvbuf(stderr, NULL, _IOFBF, OUT_BUF_SIZE);
	if (o->follow) {
		r = follow(&jr, full_id, ctr_dirfd);
		if (r != 0)
			goto out;
	} else {
		int64_t n = drain(&jr);

		if (n < 0) {
			cli_error("%s: reading the journal: %s", cmd, ctrlog_strerror((int)n));
			goto out;
		}
	}
	take_held(&jr);
	status = 0;
out:
	fflush(stdout);
	fflush(stderr);
	for (int s = 0; s < CTRLOG_N_STREAMS; s++)
		free(jr.as[s].buf);
	free(match);
	sd_journal_close(jr.j);
	return status;
}
