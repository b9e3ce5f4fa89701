/* SPDX-License-Identifier: MIT */
#ifndef CTRLOG_CTRLOG_H
#define CTRLOG_CTRLOG_H

/*
 * libctrlog: log capture for container monitors.
 *
 * Conventions (the whole API follows them):
 *  - Functions returning int return 0 (or a count, where documented) on success and a negative
 *    errno value on failure; ctrlog_strerror() turns it into text.
 *  - Output parameters are named ret_* and come last; they are left untouched on failure.
 *  - Bad arguments are refused with -EINVAL, never a crash: a NULL logger, config or ret_*
 *    pointer, a stream that is not an enum ctrlog_stream, a negative fd, NULL data with a
 *    length, a logger used after ctrlog_logger_finish() other than by get_stats and free.
 *    Functions returning void accept NULL and do nothing.
 *  - ABI: a program built against an older header keeps working with a newer library. The
 *    structs only grow at the end and carry a struct_size (see ctrlog_config, ctrlog_stats);
 *    CTRLOG_VERSION_* tell the header's version, ctrlog_version() the library's.
 *  - The library never prints, never exits and never installs signal handlers.
 *  - A logger is not thread-safe: drive it from one thread (the monitor's loop).
 *  - The caller's fds: the library never changes a file description it does not own (flags
 *    such as O_NONBLOCK are shared with every process holding it, the caller's shell too).
 *    It takes ownership only of what ctrlog_logger_add_fd() says; passthrough_fds stay the
 *    caller's and are never closed or modified (see ctrlog_config.passthrough_fds).
 *  - fork(): after a fork only one of the two processes may go on using a logger (any call,
 *    ctrlog_logger_free() included); the other leaves it alone and exits or execs. The
 *    background compressor thread, which fork() does not copy, is started again in the child
 *    when it next rotates, reads stats or frees the logger, and takes up the parent's pending
 *    work; a file the parent's thread is still compressing is waited for (a record lock),
 *    never compressed twice at once.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <ctrlog/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CTRLOG_BUILDING_LIBRARY)
#define CTRLOG_API __attribute__((visibility("default")))
#else
#define CTRLOG_API
#endif

/* The streams of a container. A pty is logged as CTRLOG_STDOUT. */
enum ctrlog_stream {
	CTRLOG_STDOUT = 0,
	CTRLOG_STDERR = 1,
};
#define CTRLOG_N_STREAMS 2

/* Sinks, used as bits in ctrlog_config.drivers; several may be combined. */
enum ctrlog_driver {
	CTRLOG_DRIVER_K8S_FILE = 1u << 0,
	CTRLOG_DRIVER_JOURNALD = 1u << 1,
	CTRLOG_DRIVER_PASSTHROUGH = 1u << 2,
	CTRLOG_DRIVER_NONE = 1u << 3,
};

enum ctrlog_log_mode {
	CTRLOG_MODE_BLOCKING = 0,  /* a slow sink slows the container; nothing is dropped */
	CTRLOG_MODE_NON_BLOCKING,  /* bounded buffer; whole records dropped and counted when full */
};

#define CTRLOG_DEFAULT_MAX_LINE (16u * 1024)
#define CTRLOG_DEFAULT_IDLE_FLUSH_MS 1000u
#define CTRLOG_DEFAULT_MAX_SIZE (10u * 1024 * 1024)
#define CTRLOG_DEFAULT_MAX_FILES 5u
#define CTRLOG_DEFAULT_ZSTD_LEVEL 1
#define CTRLOG_COMPRESS_NONE (-1000) /* compress_level value: keep rotated files plain */

/*
 * Logger configuration. Initialise with ctrlog_config_init(), which sets every default, then set
 * what you need. Fields are only ever appended; struct_size (set by ctrlog_config_init() to the
 * size of the struct the caller was compiled with) tells the library which ones the caller
 * knows about: fields beyond it take their defaults, so a program built against an older header
 * keeps working with a newer library. Strings are copied by ctrlog_logger_new(); the caller
 * keeps ownership.
 */
struct ctrlog_config {
	size_t struct_size;      /* at least CTRLOG_CONFIG_SIZE_MIN, else -EINVAL */
	unsigned drivers;        /* CTRLOG_DRIVER_* bits; default CTRLOG_DRIVER_K8S_FILE */
	const char *log_path;    /* live k8s-file log; required with CTRLOG_DRIVER_K8S_FILE */
	const char *container_id; /* full ID (1-128 of [A-Za-z0-9_.-]); required for journald */
	const char *name;        /* container name, or NULL */
	const char *tag;         /* log tag, or NULL */
	const char *const *labels; /* n_labels "KEY=VALUE" strings added to journald entries */
	size_t n_labels;
	uint32_t max_line;       /* longest record content; longer lines become P records */
	uint32_t idle_flush_ms;  /* an unfinished line older than this is written as P; 0 = never */
	uint64_t max_size;       /* rotate before the live file would exceed this; 0 = never */
	uint32_t max_files;      /* rotated files kept */
	int compress_level;      /* zstd level for rotated files, or CTRLOG_COMPRESS_NONE */
	/* Where passthrough writes; default 1 and 2. In non-blocking mode a pipe, FIFO or tty is
	 * written through a private reopening (/proc/self/fd/N, made O_NONBLOCK, closed on free),
	 * a socket with send(MSG_DONTWAIT), a regular file as it is. */
	int passthrough_fds[CTRLOG_N_STREAMS];
	enum ctrlog_log_mode mode;
	uint64_t buffer_size;    /* non-blocking mode: bytes buffered before dropping */
};

/* Per-stream counters. */
struct ctrlog_stream_stats {
	uint64_t bytes_in;        /* bytes read from the stream (or fed) */
	uint64_t records;         /* records framed (F and P) */
	uint64_t partial_records; /* of which P records */
	uint64_t bytes_out;       /* bytes written to the k8s-file sink (formatted), or passthrough */
};

/*
 * Counters. New ones are only ever appended: set struct_size to the size of your struct
 * (ctrlog_stats_init()) before ctrlog_logger_get_stats(), which fills only that many bytes (or
 * its own size, if smaller) and sets struct_size to what it filled.
 */
struct ctrlog_stats {
	size_t struct_size;       /* in: the caller's sizeof; out: bytes filled */
	struct ctrlog_stream_stats stream[CTRLOG_N_STREAMS];
	uint64_t reads;           /* read/splice calls that returned data */
	uint64_t writes;          /* write/writev calls issued by file sinks */
	uint64_t write_errors;    /* write-error episodes: a failure after a success (EINTR and short
				   * writes are retried, not counted) */
	uint64_t dropped_bytes;   /* content bytes lost: unwritable, or dropped in non-blocking mode */
	uint64_t rotations;       /* live file rotations */
	uint64_t compressed_files;   /* rotated files compressed by the background thread */
	uint64_t compress_bytes_in;  /* their plain size */
	uint64_t compress_bytes_out; /* their compressed size */
	uint64_t compress_cpu_ns;    /* CPU time of the background compressor thread */
	uint64_t compress_errors;    /* rotated files that failed to compress (they stay plain) */
	int32_t last_write_error;    /* negative errno of the latest failed write, 0 if none */
	uint32_t last_write_error_driver; /* the CTRLOG_DRIVER_* sink it happened in */
	/* Rotation-failure episodes: a failure after a success (or the first). Meanwhile the
	 * size limit holds: nothing is written (records are dropped, counted in dropped_bytes, and
	 * a marker record tells the loss once writing works again), and rotation is tried again
	 * after a back-off of 50 ms doubling up to 2 s. Writing resumes in a new live file. */
	uint64_t rotation_errors;
	/* Failures of the logger's own calls that it worked around: a stalled sink's fd that
	 * could not be watched (it is retried on a timer instead); in blocking mode, a passthrough
	 * output that could not be reopened non-blocking (it is written as given, so a reader
	 * that stalls stalls the monitor too). */
	uint64_t internal_errors;
	int32_t last_rotation_error; /* negative errno of the latest failed rotation, 0 if none */
	int32_t last_compress_error; /* of the latest failed compression (that file stays plain) */
	int32_t last_internal_error; /* of the latest internal error counted above */
	/* Rotated files deleted ahead of retention because a write failed for lack of space
	 * (ENOSPC, EDQUOT): the oldest go first, down to the live file alone, until the write
	 * fits. A compression that failed for lack of space is tried again later. */
	uint64_t freed_files;
};

/* The smallest struct_size accepted: for the config, the fields up to drivers (all later ones
 * have defaults); for the stats, their first layout (up to last_write_error_driver). */
#define CTRLOG_CONFIG_SIZE_MIN (offsetof(struct ctrlog_config, drivers) + sizeof(unsigned))
#define CTRLOG_STATS_SIZE_MIN offsetof(struct ctrlog_stats, rotation_errors)

typedef struct ctrlog_logger ctrlog_logger;

/* Sets the first size bytes of *cfg (size = the caller's sizeof, at most the library's is
 * used) to the defaults and struct_size to what was set. Use ctrlog_config_init(). */
CTRLOG_API void ctrlog_config_init_size(struct ctrlog_config *cfg, size_t size);

/* Sets every field of *cfg to its default. Inline so that sizeof is the caller's. */
static inline void ctrlog_config_init(struct ctrlog_config *cfg)
{
	ctrlog_config_init_size(cfg, sizeof(*cfg));
}

/* Zeroes *st and sets struct_size for ctrlog_logger_get_stats(). */
static inline void ctrlog_stats_init(struct ctrlog_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->struct_size = sizeof(*st);
}

/*
 * Creates a logger and opens its sinks. On success *ret_logger owns everything it opened; free it
 * with ctrlog_logger_free(). Returns -EINVAL for a bad configuration, -ENOTSUP for a driver not
 * built in, -ECONNREFUSED when the journald driver finds no journald listening, or the error of
 * opening a sink (for example -ENOENT, -EACCES, -ELOOP for a symlink at the log path, -EINVAL
 * when it is not a regular file: a FIFO or device is never opened for reading or waited on).
 * One logger writes a k8s-file log: while one (in any process) holds it, another on the same
 * path fails with -EBUSY and touches nothing (an OFD lock on .<name>.lock next to the log). A
 * k8s-file log left by an earlier monitor is taken over: a torn last record is cut, a line a
 * crash left open (its stream's last record a P) is closed by an empty F record, numbering
 * continues after the greater of the recorded last number and the greatest on disk,
 * unfinished compression is redone. A record of the last number that cannot be read fails
 * with its errno, one that is not a number with -EBADMSG: guessing could reuse numbers.
 */
CTRLOG_API int ctrlog_logger_new(const struct ctrlog_config *cfg, ctrlog_logger **ret_logger);

/*
 * Ends the logger's work: ends every stream (a held unfinished line is written as F), writes out
 * what the sinks still hold (what cannot be written is counted as dropped) and waits until the
 * background thread has compressed every rotated file. The counters are final from here on:
 * ctrlog_logger_get_stats() after it reports the whole run. Afterwards only get_stats and
 * ctrlog_logger_free() may be called (those that do work return -EINVAL). Idempotent; accepts NULL.
 */
CTRLOG_API void ctrlog_logger_finish(ctrlog_logger *logger);

/* Finishes the logger (ctrlog_logger_finish()) unless that was done, closes sinks and every fd
 * the logger owns, and frees it. Accepts NULL. */
CTRLOG_API void ctrlog_logger_free(ctrlog_logger *logger);

/*
 * Adds a readable fd (pipe or pty master) carrying the given stream. The logger takes ownership
 * of fd: it sets O_NONBLOCK and closes it at EOF or in ctrlog_logger_free(), also on failure.
 * At most one fd per stream. Returns -EEXIST if the stream already has one.
 */
CTRLOG_API int ctrlog_logger_add_fd(ctrlog_logger *logger, int fd, enum ctrlog_stream stream);

/*
 * The one fd a monitor polls (for EPOLLIN/POLLIN): readable when ctrlog_logger_dispatch() has
 * work, including the idle-flush timer. Owned by the logger; do not close it.
 */
CTRLOG_API int ctrlog_logger_get_fd(const ctrlog_logger *logger);

/*
 * Does all the work that is ready without waiting: reads the streams, frames lines, writes
 * sinks, fires idle flushes. Returns the number of streams still open (0 once every added fd
 * has reached EOF and the sinks have taken its output), or a negative errno on a failure of the
 * logger itself. Sink write errors are counted in the stats, not returned.
 * In blocking mode a sink that cannot take more (a stdout nobody reads, a frozen journald) is
 * not waited for here either: the stream is no longer read, so the container waits on its full
 * pipe, and the logger's fd reports when the sink takes more again.
 */
CTRLOG_API int ctrlog_logger_dispatch(ctrlog_logger *logger);

/*
 * Reads every stream until it would block, even if the monitor is about to stop (for example
 * after the container exited): nothing already written by the container is left in the pipes.
 * Returns as ctrlog_logger_dispatch().
 */
CTRLOG_API int ctrlog_logger_drain(ctrlog_logger *logger);

/* Blocking mode: the number of streams not read for now because a sink cannot take their
 * output yet (the container is held back). */
CTRLOG_API int ctrlog_logger_stalled(const ctrlog_logger *logger);

/*
 * Stops waiting for stalled sinks, for good (a monitor that gives up on them at shutdown):
 * what they keep is dropped, and from now on what they cannot take at once is dropped too, as
 * in non-blocking mode; all of it is counted in dropped_bytes. Stalled streams are read again.
 */
CTRLOG_API int ctrlog_logger_stop_waiting(ctrlog_logger *logger);

/*
 * Logs bytes the monitor read itself, as if they came from the stream's fd. The logger copies
 * what it needs; buf stays the caller's. ctrlog_logger_feed_eof() ends the stream (a held
 * unfinished line is written as F). Having no fd to stop reading, both wait for a stalled sink
 * in blocking mode.
 */
CTRLOG_API int ctrlog_logger_feed(ctrlog_logger *logger, enum ctrlog_stream stream,
				  const void *buf, size_t len);
CTRLOG_API int ctrlog_logger_feed_eof(ctrlog_logger *logger, enum ctrlog_stream stream);

/* Writes held unfinished lines as P records and flushes every sink's buffers. */
CTRLOG_API int ctrlog_logger_flush(ctrlog_logger *logger);

/* Reopens the live log path, for an external rotator that renamed it (SIGHUP). */
CTRLOG_API int ctrlog_logger_reopen(ctrlog_logger *logger);

/* Rotates the live file now (SIGUSR1). An empty live file is not rotated: 0, nothing to do.
 * -ENOTSUP when no sink rotates. A failure is returned and counted in
 * ctrlog_stats.rotation_errors, as are those of automatic rotations. */
CTRLOG_API int ctrlog_logger_rotate(ctrlog_logger *logger);

/* Copies the counters into *ret_stats, whose struct_size the caller has set (ctrlog_stats_init()):
 * min(struct_size, the library's size) bytes are written and struct_size is set to that.
 * -EINVAL for a struct_size below CTRLOG_STATS_SIZE_MIN. The counters are final only after
 * ctrlog_logger_finish(): until then the compressor may still be at work and the sinks may hold
 * output. */
CTRLOG_API int ctrlog_logger_get_stats(const ctrlog_logger *logger, struct ctrlog_stats *ret_stats);

/* The library's version, "MAJOR.MINOR.PATCH", as CTRLOG_VERSION_STRING was when it was built
 * (compare with the CTRLOG_VERSION_* macros of the header a program was compiled with). */
CTRLOG_API const char *ctrlog_version(void);

/* A static, human-readable message for a negative (or positive) errno value. Never NULL. */
CTRLOG_API const char *ctrlog_strerror(int err);

/*
 * Validates a container ID: 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'.
 * Returns 0 or -EINVAL.
 */
CTRLOG_API int ctrlog_id_validate(const char *id);

#ifdef __cplusplus
}
#endif
#endif
