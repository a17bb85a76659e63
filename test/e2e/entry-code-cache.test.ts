/**
 * Proves the deployed entry point (dist/src/cli/entry.cjs running the one-file build through V8's code
 * cache): a first run compiles from source and writes the cache, whole and private to this user; the next
 * run with the same flags uses it and prints the same; a cache that is garbage is rejected by V8, the
 * command still works and the cache is written anew; other V8 flags get a cache of their own; a rebuilt
 * bundle (another mtime) never gets the old cache, whose file is removed when the new one is written; a
 * cache directory that cannot be used, or the cache turned off, changes nothing but speed; a missing bundle
 * is named, with how to build it; the built bundle is ASCII (the entry reads it as Latin-1) and one that
 * is not still runs, decoded as UTF-8; and `serve` through it accepts MQTT and writes its warm cache
 * while running. The other e2e tests run every command through this same entry (test/helpers/cli.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { CLI, runProgram } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const ROOT = path.resolve(path.dirname(CLI), '..', '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The code-cache states this run reported (TRIBUTARY_CODE_CACHE_DEBUG=1), in order. */
function states(stderr: string): string[] {
  return [...stderr.matchAll(/^tributary code cache: (.*)$/gm)].map((m) => m[1] as string);
}

async function version(entry: string, cacheDir: string, flags: string[] = []) {
  const result = await runProgram(process.execPath, [...flags, entry, '--version'], { TRIBUTARY_CODE_CACHE_DIR: cacheDir, TRIBUTARY_CODE_CACHE_DEBUG: '1' });
  assert.equal(result.code, 0, result.stderr);
  return { stdout: result.stdout.trim(), states: states(result.stderr) };
}

const caches = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.v8cache')).sort();

/** A copy of the built entry and bundle in a package of its own, so a test may touch the bundle. */
function copiedPackage(): string {
  const root = tmpDir('tributary-entry-');
  fs.mkdirSync(path.join(root, 'dist', 'src', 'cli'), { recursive: true });
  for (const file of ['entry.cjs', 'tributary.bundle.cjs']) fs.copyFileSync(path.join(path.dirname(CLI), file), path.join(root, 'dist', 'src', 'cli', file));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  return path.join(root, 'dist', 'src', 'cli', 'entry.cjs');
}

test('first run writes the cache (0600), the next uses it; garbage is rejected and replaced; other flags get their own', async () => {
  const dir = tmpDir('tributary-cache-');
  const first = await version(CLI, dir);
  assert.deepEqual(first, { stdout: VERSION, states: ['none', 'written'] });
  const [file] = caches(dir);
  assert.ok(file !== undefined && caches(dir).length === 1, `one cache file: ${caches(dir).join(', ')}`);
  assert.equal(fs.statSync(path.join(dir, file)).mode & 0o777, 0o600);
  assert.ok(fs.statSync(path.join(dir, file)).size > 100_000, 'the cache holds the compiled bundle');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');

  assert.deepEqual(await version(CLI, dir), { stdout: VERSION, states: ['used'] });

  fs.writeFileSync(path.join(dir, file), Buffer.alloc(4096, 0xa5));
  assert.deepEqual(await version(CLI, dir), { stdout: VERSION, states: ['rejected', 'written'] });
  assert.deepEqual(await version(CLI, dir), { stdout: VERSION, states: ['used'] }, 'the rewritten cache is good');

  // A cache made under other V8 flags is rejected by V8 (its flag hash); each set of flags keeps its own.
  assert.deepEqual(await version(CLI, dir, ['--max-semi-space-size=2']), { stdout: VERSION, states: ['none', 'written'] });
  assert.equal(caches(dir).length, 2);
  assert.deepEqual(await version(CLI, dir), { stdout: VERSION, states: ['used'] }, 'the first cache is still there and used');
});

test('a rebuilt bundle does not get the old cache, and the old file is removed', async () => {
  const entry = copiedPackage();
  const bundle = path.join(path.dirname(entry), 'tributary.bundle.cjs');
  const dir = tmpDir('tributary-cache-');
  assert.deepEqual(await version(entry, dir), { stdout: VERSION, states: ['none', 'written'] });
  const before = caches(dir);
  assert.deepEqual(await version(entry, dir), { stdout: VERSION, states: ['used'] });
  // Same length (V8's only check of the source), other content: without the key it would run old bytecode.
  const source = fs.readFileSync(bundle, 'utf8');
  fs.writeFileSync(bundle, source.replace('Edge IoT stream broker: MQTT in', 'Edge IoT stream BROKER: MQTT in'));
  assert.equal(fs.statSync(bundle).size, Buffer.byteLength(source));
  const help = await runProgram(process.execPath, [entry, '--help'], { TRIBUTARY_CODE_CACHE_DIR: dir, TRIBUTARY_CODE_CACHE_DEBUG: '1' });
  assert.match(help.stdout, /Edge IoT stream BROKER/, 'the new bundle runs, not the old bytecode');
  assert.deepEqual(states(help.stderr), ['none', 'written']);
  const after = caches(dir);
  assert.equal(after.length, 1, `the old build's cache is removed: ${after.join(', ')}`);
  assert.notDeepEqual(after, before);
});

test('the built bundle is ASCII (read as Latin-1); a bundle that is not is still decoded as UTF-8', async () => {
  const built = fs.readFileSync(path.join(path.dirname(CLI), 'tributary.bundle.cjs'));
  const outside = built.findIndex((byte) => byte > 0x7f);
  assert.equal(outside, -1, `a non-ASCII byte at ${outside}: ${built.subarray(Math.max(0, outside - 40), outside + 40).toString('utf8')}`);
  // A bundle with text beyond ASCII in a string: Latin-1 would turn "→ µ" into mojibake.
  const entry = copiedPackage();
  const bundle = path.join(path.dirname(entry), 'tributary.bundle.cjs');
  fs.writeFileSync(bundle, built.toString('latin1').replace('Edge IoT stream broker: MQTT in', 'Edge IoT stream broker \u2192 \u00b5: MQTT in'));
  const help = await runProgram(process.execPath, [entry, '--help'], { TRIBUTARY_CODE_CACHE_DIR: '' });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Edge IoT stream broker \u2192 \u00b5: MQTT in/);
});

test('a cache directory that cannot be used, or the cache turned off, changes nothing but speed', async () => {
  const notADir = path.join(tmpDir(), 'file');
  fs.writeFileSync(notADir, 'x');
  assert.deepEqual(await version(CLI, path.join(notADir, 'cache')), { stdout: VERSION, states: ['off'] });
  assert.deepEqual(await version(CLI, ''), { stdout: VERSION, states: ['off'] });
  const elsewhere = tmpDir();
  fs.symlinkSync(tmpDir(), path.join(elsewhere, 'link'));
  assert.deepEqual(await version(CLI, path.join(elsewhere, 'link')), { stdout: VERSION, states: ['off'] }, 'a symlink is not followed');
});

test('without the bundle the entry says what is missing and how to make it, exit 1', async () => {
  const entry = copiedPackage();
  fs.rmSync(path.join(path.dirname(entry), 'tributary.bundle.cjs'));
  const result = await runProgram(process.execPath, [entry, '--version'], { TRIBUTARY_CODE_CACHE_DIR: tmpDir() });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^tributary: cannot read .*tributary\.bundle\.cjs \(ENOENT\); run 'npm run build', which makes it\n$/);
});

test('serve through the entry accepts MQTT, and writes its warm cache while it runs', async (t) => {
  const dir = tmpDir('tributary-cache-');
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', tmpDir(), '--mqtt-port', '0', '--http-port', '0'], {
    env: { ...process.env, TRIBUTARY_CODE_CACHE_DIR: dir, TRIBUTARY_CODE_CACHE_DEBUG: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await until('serve listening', () => /"msg":"listening"/.test(stdout), 30_000);
  const listening = JSON.parse(stdout.split('\n').find((l) => l.includes('"msg":"listening"')) as string) as { mqtt: Array<{ port: number }> };
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${listening.mqtt[0]?.port}`, { clientId: 'entry-test', reconnectPeriod: 0 });
  // Resolves on the PUBACK, which serve sends once the record is synced.
  await client.publishAsync('sensors/entry/t', 'hello', { qos: 1 });
  await client.endAsync();
  await until('the cache written after start-up', () => states(stderr).includes('written'), 30_000);
  assert.deepEqual(states(stderr), ['none', 'written']);
  assert.equal(caches(dir).length, 1);
});
