/**
 * A disk that fails on cue, for tests of what `tributary serve` does when its log cannot commit.
 *
 * `faultShim()` writes the LD_PRELOAD shim below to a directory under os.tmpdir() named by the hash of
 * its source, builds it there with the system C compiler the first time (later calls and later test
 * processes reuse the .so), and returns the path of the .so. The knobs are environment variables of
 * the process the shim is preloaded into; they are documented at the top of the C source and built by
 * `shimEnv()`.
 *
 * Why these calls: the LMDB inside node-lmdb writes a commit's pages with pwrite64 (one run of
 * pages) or lseek + writev (several), syncs them with fdatasync on a libuv worker thread, then writes
 * the meta page with pwrite64 through a second descriptor opened O_DSYNC. All of them go through
 * libc's dynamic symbols, so a preloaded library that defines them sees every one.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SHIM_SOURCE = String.raw`/*
 * tributary test fault shim (LD_PRELOAD). Interposes fdatasync, fsync, pwrite, pwrite64 and writev
 * and forwards to libc's (dlsym RTLD_NEXT) unless a knob says to fail or delay the call.
 *
 * Only calls on a descriptor whose path (readlink /proc/self/fd/N) ends in
 * TRIBUTARY_SHIM_PATH_SUFFIX (default "data.mdb"; set it empty for every descriptor) are affected or
 * counted; all others pass straight through.
 *
 * Knobs (environment variables, read once at load):
 *   TRIBUTARY_SHIM_SYNC_FAIL_FROM=N     the Nth affected fdatasync/fsync call (1-based; both functions
 *                                       share one counter, incremented atomically across threads)
 *                                       and every later one return -1, errno EIO, without syncing.
 *   TRIBUTARY_SHIM_SYNC_FAIL_FILE=PATH  while PATH exists, affected fdatasync/fsync calls return -1,
 *                                       errno EIO, without syncing (the test decides when by creating
 *                                       and removing the file).
 *   TRIBUTARY_SHIM_SYNC_DELAY_MS=M      every affected fdatasync/fsync call first sleeps M ms, then
 *                                       syncs for real (a slow SD card).
 *   TRIBUTARY_SHIM_WRITE_ENOSPC_FROM=N  the Nth affected pwrite/pwrite64/writev call (1-based, one shared
 *                                       atomic counter) and every later one return -1, errno ENOSPC,
 *                                       writing nothing.
 *   TRIBUTARY_SHIM_WRITE_ENOSPC_FILE=PATH  while PATH exists, affected pwrite/pwrite64/writev calls
 *                                       return -1, errno ENOSPC, writing nothing.
 *
 * Writes through a descriptor opened O_DSYNC or O_SYNC are never failed or counted: that is LMDB's
 * meta page, which lies at the start of the file in blocks allocated when the file was created, so a
 * full disk cannot fail it (ENOSPC comes from writes that allocate, the data pages). LMDB also treats
 * a failed meta write as fatal to the environment, which is a different fault than a full disk.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);

static sync_fn real_fdatasync, real_fsync;
static pwrite_fn real_pwrite, real_pwrite64;
static writev_fn real_writev;

static const char *path_suffix = "data.mdb";
static long sync_fail_from = 0, sync_delay_ms = 0, write_enospc_from = 0;
static const char *sync_fail_file = NULL, *write_enospc_file = NULL;
static long sync_calls = 0, write_calls = 0;

static long env_long(const char *name) {
  const char *v = getenv(name);
  return v == NULL || *v == '\0' ? 0 : strtol(v, NULL, 10);
}

static const char *env_path(const char *name) {
  const char *v = getenv(name);
  return v == NULL || *v == '\0' ? NULL : v;
}

__attribute__((constructor)) static void shim_init(void) {
  real_fdatasync = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
  real_fsync = (sync_fn)dlsym(RTLD_NEXT, "fsync");
  real_pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
  real_pwrite64 = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
  real_writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
  const char *suffix = getenv("TRIBUTARY_SHIM_PATH_SUFFIX");
  if (suffix != NULL) path_suffix = suffix;
  sync_fail_from = env_long("TRIBUTARY_SHIM_SYNC_FAIL_FROM");
  sync_delay_ms = env_long("TRIBUTARY_SHIM_SYNC_DELAY_MS");
  write_enospc_from = env_long("TRIBUTARY_SHIM_WRITE_ENOSPC_FROM");
  sync_fail_file = env_path("TRIBUTARY_SHIM_SYNC_FAIL_FILE");
  write_enospc_file = env_path("TRIBUTARY_SHIM_WRITE_ENOSPC_FILE");
}

/* Whether fd's path ends in path_suffix. */
static int affected(int fd) {
  size_t want = strlen(path_suffix);
  if (want == 0) return 1;
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0 || (size_t)n < want) return 0;
  target[n] = '\0';
  return strcmp(target + n - want, path_suffix) == 0;
}

static int synchronous(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & (O_DSYNC | O_SYNC)) != 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Returns 0 to let the sync through (after any delay), or -1 with errno set to fail it. */
static int sync_fault(int fd) {
  if (!affected(fd)) return 0;
  long nth = __atomic_add_fetch(&sync_calls, 1, __ATOMIC_SEQ_CST);
  if (sync_delay_ms > 0) sleep_ms(sync_delay_ms);
  if ((sync_fail_from > 0 && nth >= sync_fail_from) || (sync_fail_file != NULL && access(sync_fail_file, F_OK) == 0)) {
    errno = EIO;
    return -1;
  }
  return 0;
}

static int write_fault(int fd) {
  if (write_enospc_from <= 0 && write_enospc_file == NULL) return 0;
  if (!affected(fd) || synchronous(fd)) return 0;
  long nth = __atomic_add_fetch(&write_calls, 1, __ATOMIC_SEQ_CST);
  if ((write_enospc_from > 0 && nth >= write_enospc_from) || (write_enospc_file != NULL && access(write_enospc_file, F_OK) == 0)) {
    errno = ENOSPC;
    return -1;
  }
  return 0;
}

int fdatasync(int fd) {
  int saved = errno;
  if (sync_fault(fd) != 0) return -1;
  errno = saved;
  return real_fdatasync(fd);
}

int fsync(int fd) {
  int saved = errno;
  if (sync_fault(fd) != 0) return -1;
  errno = saved;
  return real_fsync(fd);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  int saved = errno;
  if (write_fault(fd) != 0) return -1;
  errno = saved;
  return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
  int saved = errno;
  if (write_fault(fd) != 0) return -1;
  errno = saved;
  return real_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  int saved = errno;
  if (write_fault(fd) != 0) return -1;
  errno = saved;
  return real_writev(fd, iov, iovcnt);
}
`;

/** The knobs of the shim; see the top of SHIM_SOURCE. */
export interface ShimKnobs {
  /** Only descriptors whose path ends in this are affected (default "data.mdb"; "" = all). */
  pathSuffix?: string;
  syncFailFrom?: number;
  syncFailFile?: string;
  syncDelayMs?: number;
  writeEnospcFrom?: number;
  writeEnospcFile?: string;
}

let built: string | null = null;

/** Builds the shim (once per content, cached under os.tmpdir()) and returns the path of the .so. */
export function faultShim(): string {
  if (built !== null) return built;
  const hash = createHash('sha256').update(SHIM_SOURCE).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `tributary-fault-shim-${hash}`);
  const so = path.join(dir, 'shim.so');
  if (!fs.existsSync(so)) {
    fs.mkdirSync(dir, { recursive: true });
    const source = path.join(dir, 'shim.c');
    fs.writeFileSync(source, SHIM_SOURCE);
    // Built under a private name and renamed, so a concurrent test process never loads a half-written .so.
    const partial = path.join(dir, `shim.${process.pid}.so`);
    try {
      execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', partial, source, '-ldl'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const detail = (err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message;
      throw new Error(`building the fault shim with cc failed (a C compiler and libc headers are needed: gcc, libc6-dev): ${detail}`, { cause: err });
    }
    fs.renameSync(partial, so);
  }
  built = so;
  return so;
}

/** The environment that preloads the shim with `knobs` into a child process. */
export function shimEnv(knobs: ShimKnobs): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LD_PRELOAD: faultShim() };
  if (knobs.pathSuffix !== undefined) env.TRIBUTARY_SHIM_PATH_SUFFIX = knobs.pathSuffix;
  if (knobs.syncFailFrom !== undefined) env.TRIBUTARY_SHIM_SYNC_FAIL_FROM = String(positive(knobs.syncFailFrom, 'syncFailFrom'));
  if (knobs.syncFailFile !== undefined) env.TRIBUTARY_SHIM_SYNC_FAIL_FILE = knobs.syncFailFile;
  if (knobs.syncDelayMs !== undefined) env.TRIBUTARY_SHIM_SYNC_DELAY_MS = String(positive(knobs.syncDelayMs, 'syncDelayMs'));
  if (knobs.writeEnospcFrom !== undefined) env.TRIBUTARY_SHIM_WRITE_ENOSPC_FROM = String(positive(knobs.writeEnospcFrom, 'writeEnospcFrom'));
  if (knobs.writeEnospcFile !== undefined) env.TRIBUTARY_SHIM_WRITE_ENOSPC_FILE = knobs.writeEnospcFile;
  return env;
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  return n;
}
