/**
 * The fault shim (fault-shim.ts) does what each knob says, in a real child process that has it
 * preloaded: with no knob every call goes through; SYNC_FAIL_FROM=N fails the Nth fdatasync/fsync
 * (one counter for both) and every later one with EIO; SYNC_FAIL_FILE fails them only while the file
 * exists; SYNC_DELAY_MS delays them and still syncs; WRITE_ENOSPC_FROM / WRITE_ENOSPC_FILE fail
 * pwrite64 and writev with ENOSPC. Calls on files not named data.mdb, and writes through an O_DSYNC
 * descriptor (LMDB's meta page), are never touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { shimEnv, type ShimKnobs } from './fault-shim.js';
import { tmpDir } from './tmp.js';

/** Runs in the child: each step is one call; prints what each returned ("ok" or the error code) and took. */
const CHILD = `
import fs from 'node:fs';
const [dir, flag, ...steps] = process.argv.slice(2);
const data = fs.openSync(dir + '/data.mdb', 'w');
const meta = fs.openSync(dir + '/data.mdb', fs.constants.O_WRONLY | fs.constants.O_DSYNC);
const other = fs.openSync(dir + '/other.bin', 'w');
const calls = {
  fdatasync: () => fs.fdatasyncSync(data),
  fsync: () => fs.fsyncSync(data),
  pwrite: () => fs.writeSync(data, Buffer.from('page'), 0, 4, 4096),
  writev: () => fs.writevSync(data, [Buffer.from('a'), Buffer.from('b')]),
  metaPwrite: () => fs.writeSync(meta, Buffer.from('meta'), 0, 4, 0),
  otherSync: () => fs.fdatasyncSync(other),
  otherPwrite: () => fs.writeSync(other, Buffer.from('x'), 0, 1, 0),
  flagOn: () => fs.writeFileSync(flag, ''),
  flagOff: () => fs.rmSync(flag),
};
const out = steps.map((step) => {
  const started = Date.now();
  let result = 'ok';
  try { calls[step](); } catch (err) { result = err.code; }
  return [step, result, Date.now() - started];
});
process.stdout.write(JSON.stringify(out));
`;

function runWithShim(knobs: ShimKnobs, steps: string[], flag = '/nonexistent'): Array<[string, string, number]> {
  const dir = tmpDir('tributary-shim-');
  const script = path.join(dir, 'child.mjs');
  fs.writeFileSync(script, CHILD);
  const stdout = execFileSync(process.execPath, [script, dir, flag, ...steps], { env: { ...process.env, ...shimEnv(knobs) }, encoding: 'utf8' });
  return JSON.parse(stdout) as Array<[string, string, number]>;
}

const results = (out: Array<[string, string, number]>) => out.map(([step, result]) => `${step}:${result}`);

test('without knobs every call goes through', () => {
  const steps = ['fdatasync', 'fsync', 'pwrite', 'writev', 'metaPwrite'];
  assert.deepEqual(results(runWithShim({}, steps)), steps.map((s) => `${s}:ok`));
});

test('SYNC_FAIL_FROM=2: the 2nd sync of data.mdb (fdatasync and fsync counted together) and every later one fail with EIO', () => {
  const out = runWithShim({ syncFailFrom: 2 }, ['fdatasync', 'otherSync', 'fsync', 'fdatasync', 'otherSync', 'pwrite']);
  assert.deepEqual(results(out), ['fdatasync:ok', 'otherSync:ok', 'fsync:EIO', 'fdatasync:EIO', 'otherSync:ok', 'pwrite:ok']);
});

test('SYNC_FAIL_FILE: syncs fail with EIO exactly while the file exists', () => {
  const flag = path.join(tmpDir('tributary-shim-flag-'), 'fail');
  const out = runWithShim({ syncFailFile: flag }, ['fdatasync', 'flagOn', 'fdatasync', 'fsync', 'otherSync', 'flagOff', 'fdatasync'], flag);
  assert.deepEqual(results(out), ['fdatasync:ok', 'flagOn:ok', 'fdatasync:EIO', 'fsync:EIO', 'otherSync:ok', 'flagOff:ok', 'fdatasync:ok']);
});

test('SYNC_DELAY_MS: every sync of data.mdb waits, then succeeds', () => {
  const out = runWithShim({ syncDelayMs: 150 }, ['fdatasync', 'fsync', 'otherSync']);
  assert.deepEqual(results(out), ['fdatasync:ok', 'fsync:ok', 'otherSync:ok']);
  assert.ok((out[0]?.[2] ?? 0) >= 140 && (out[1]?.[2] ?? 0) >= 140, `syncs took ${out.map((o) => o[2]).join(', ')} ms`);
  assert.ok((out[2]?.[2] ?? 0) < 100, 'a sync of another file is not delayed');
});

test('WRITE_ENOSPC_FROM=2: the 2nd page write and every later one fail with ENOSPC; the O_DSYNC meta descriptor is spared', () => {
  const out = runWithShim({ writeEnospcFrom: 2 }, ['pwrite', 'metaPwrite', 'writev', 'pwrite', 'metaPwrite', 'otherPwrite', 'fdatasync']);
  assert.deepEqual(results(out), ['pwrite:ok', 'metaPwrite:ok', 'writev:ENOSPC', 'pwrite:ENOSPC', 'metaPwrite:ok', 'otherPwrite:ok', 'fdatasync:ok']);
});

test('WRITE_ENOSPC_FILE: page writes fail with ENOSPC exactly while the file exists', () => {
  const flag = path.join(tmpDir('tributary-shim-flag-'), 'full');
  const out = runWithShim({ writeEnospcFile: flag }, ['pwrite', 'flagOn', 'pwrite', 'writev', 'metaPwrite', 'flagOff', 'writev'], flag);
  assert.deepEqual(results(out), ['pwrite:ok', 'flagOn:ok', 'pwrite:ENOSPC', 'writev:ENOSPC', 'metaPwrite:ok', 'flagOff:ok', 'writev:ok']);
});
