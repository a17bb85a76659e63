/**
 * The command line's usage contract through the deployed entry: `serve --help` shows serve's own options
 * and exits 0; an unknown option is named, exit 2, with a pointer to --help; a config error found once
 * serve's handler has started is printed as the error alone (what was wrong, where), exit 2, without a
 * help text. main.ts turns off yargs' rendering of a command's help when its handler starts (issue 13:
 * ~20 ms of serve's start-up); these pin that help and failures still read as they should.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

test('serve --help lists serve’s options, exit 0', async () => {
  const result = await runCli(['serve', '--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^tributary serve\n/);
  for (const option of ['--config', '--data-dir', '--mqtt-port', '--http-port']) assert.ok(result.stdout.includes(option), `${option} in:\n${result.stdout}`);
});

test('an unknown option is named, exit 2', async () => {
  const result = await runCli(['serve', '--nosuch']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^tributary: Unknown argument: nosuch\n\(run with --help for usage\)\n$/);
});

test('a config error at serve’s start is the error alone, exit 2, and no help text', async () => {
  const dir = tmpDir('tributary-cli-usage-');
  const file = path.join(dir, 'tributary.yaml');
  fs.writeFileSync(file, 'mqtt:\n  port: "not a port"\n');
  const result = await runCli(['serve', '--config', file, '--data-dir', path.join(dir, 'data')]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /mqtt\.port/);
  assert.doesNotMatch(result.stderr + result.stdout, /Options:|--data-dir/);
});
