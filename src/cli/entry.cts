#!/usr/bin/env node
/**
 * The deployed `tributary` entry point: runs the one-file build of the whole CLI (`tributary.bundle.cjs`,
 * made by scripts/bundle.ts from the compiled ES modules) through V8's code cache.
 *
 * Why: on a gateway most of a start is spent before any of tributary's own work runs, resolving and
 * reading ~700 module files and compiling them (profiled in issue 13: of ~1 s to accepting MQTT, ~0.5 s in
 * Node's module loader and the compiler). One file removes the resolution; the code cache removes most of
 * the compiling: the bytecode V8 made for every function the last run had compiled by the time it was
 * written. Node 20 caches neither ES modules nor, by itself, CommonJS, so this file compiles the bundle
 * with `vm.Script` and `cachedData`, as Node's own CommonJS loader would compile it otherwise.
 *
 * Invariants:
 * - The cache can only make a start faster, never change what runs: V8 checks it against the source, its
 *   own version and the flags, and compiles from source when it does not match (`cachedDataRejected`).
 *   V8's check of the source is only its length, so the file name is keyed on the bundle's size, mtime and
 *   inode as well as on the Node version and the V8 flags: processes started with other flags keep their
 *   own cache instead of replacing each other's, and a rebuilt bundle never gets an old one.
 * - A cache that is missing, unreadable, rejected or unwritable is never an error: the bundle runs
 *   compiled from source, and the cache is written (again) when it was not used.
 * - A cache is written whole or not at all (a temporary file in the same directory, then rename), at most
 *   once per process: by a process still running `WRITE_AFTER_MS` after it started (serve, whose hot paths
 *   are compiled by then; ~1-3 MB per start), or at exit by a short command that had no cache to use.
 * - It lives in `$TRIBUTARY_CODE_CACHE_DIR`, else systemd's `$CACHE_DIRECTORY` (the unit's
 *   `CacheDirectory=tributary`), else `<tmpdir>/tributary-code-cache-<uid>`; a directory that is not
 *   this user's own (or a symlink) is not used. `TRIBUTARY_CODE_CACHE_DIR=` (empty) turns the cache off.
 *   Whoever can write the cache directory can run code as this user: it is the service user's own.
 */
'use strict';
import fs = require('node:fs');
import os = require('node:os');
import path = require('node:path');
import vm = require('node:vm');
import crypto = require('node:crypto');
import buffer = require('node:buffer');
import Module = require('node:module');

const WRITE_AFTER_MS = 10_000;
const BUNDLE = path.join(__dirname, 'tributary.bundle.cjs');

/** Stated for tests (TRIBUTARY_CODE_CACHE_DEBUG=1): what became of the cache in this process. */
function report(state: string): void {
  if (process.env.TRIBUTARY_CODE_CACHE_DEBUG === '1') process.stderr.write(`tributary code cache: ${state}\n`);
}

function cacheDir(): string | null {
  const configured = process.env.TRIBUTARY_CODE_CACHE_DIR;
  if (configured === '') return null;
  const dir = configured ?? process.env.CACHE_DIRECTORY?.split(':')[0] ?? path.join(os.tmpdir(), `tributary-code-cache-${process.getuid?.() ?? 'user'}`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = fs.lstatSync(dir);
    if (!stat.isDirectory() || (process.getuid !== undefined && stat.uid !== process.getuid())) return null;
    return dir;
  } catch {
    return null;
  }
}

/**
 * `tributary-<flags key>-<bundle key>.v8cache`. The bundle is keyed by size, mtime and inode because V8's
 * own check of the source is only its length: a rebuilt bundle of the same length must not get old bytecode.
 */
function cacheFile(dir: string, bundle: fs.Stats): string {
  const key = (parts: unknown[]): string => crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
  return path.join(dir, `tributary-${key([process.version, process.arch, process.execArgv])}-${key([bundle.size, bundle.mtimeMs, bundle.ino])}.v8cache`);
}

/** Removes the caches of earlier builds run with the same flags (the part of the name before the bundle key). */
function pruneOthers(file: string): void {
  const dir = path.dirname(file);
  const flagsPrefix = path.basename(file).slice(0, path.basename(file).lastIndexOf('-') + 1);
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(flagsPrefix) && name.endsWith('.v8cache') && name !== path.basename(file)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function readCache(file: string | null): Buffer | undefined {
  if (file === null) return undefined;
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(script: vm.Script, file: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
    fs.renameSync(temporary, file);
    pruneOthers(file);
    report('written');
  } catch (err) {
    fs.rmSync(temporary, { force: true });
    report(`not written (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

function run(): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(BUNDLE);
  } catch (err) {
    process.stderr.write(`tributary: cannot read ${BUNDLE} (${(err as NodeJS.ErrnoException).code ?? String(err)}); run 'npm run build', which makes it\n`);
    process.exit(1);
  }
  const dir = cacheDir();
  const file = dir === null ? null : cacheFile(dir, stat);
  const cachedData = readCache(file);
  // The build makes the bundle ASCII (scripts/bundle.ts): read as Latin-1 it is the same text, copied into a
  // one-byte string, where UTF-8 decoding took ~12 ms and made a two-byte one. Any other bundle is decoded.
  const bytes = fs.readFileSync(BUNDLE);
  // The bundle keeps the entry's `#!` line, which is not JavaScript inside a function wrapper.
  const source = bytes.toString(buffer.isAscii(bytes) ? 'latin1' : 'utf8').replace(/^#!.*/, '');
  // No `importModuleDynamically`: code compiled from a cache loses it (Node 20), so the bundle may hold no
  // `import()` of a module outside it; scripts/bundle.ts refuses to build one that does.
  const script = new vm.Script(Module.wrap(source), { filename: BUNDLE, cachedData });
  const used = cachedData !== undefined && !script.cachedDataRejected;
  report(file === null ? 'off' : cachedData === undefined ? 'none' : used ? 'used' : 'rejected');
  if (file !== null) {
    let written = false;
    const writeOnce = (): void => {
      if (written) return;
      written = true;
      writeCache(script, file);
    };
    // A process still running after start-up (serve) writes once, whether or not a cache was used: one
    // written by a short command (--help, status) lacks serve's functions. A short one writes at exit, and
    // only when it had no cache to use. Serialising takes ~30 ms of the main thread (measured here), once
    // per start: one late PUBACK, against ~0.3 s saved at every start.
    setTimeout(writeOnce, WRITE_AFTER_MS).unref();
    if (!used) process.once('exit', writeOnce);
  }
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
  const bundleModule = { exports: {}, filename: BUNDLE, id: BUNDLE, loaded: false };
  wrapper.call(bundleModule.exports, bundleModule.exports, Module.createRequire(BUNDLE), bundleModule, BUNDLE, path.dirname(BUNDLE));
}

run();
