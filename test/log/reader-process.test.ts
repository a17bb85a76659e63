/**
 * A separate process reads what a writer process committed, while the writer still has the log
 * open: `tributary log streams --json` and `tributary log read --json` (DESIGN.md's shapes plus `retain`,
 * `payloadBase64` for bytes that are not UTF-8), including after the writer grew the LMDB map.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Log } from '../../src/log/index.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

test('log streams / log read in another process see committed records while the writer runs', async () => {
  const dataDir = tmpDir();
  const log = await Log.open({ dataDir, mapSizeBytes: 1024 * 1024 }, [{ name: 'telemetry', partitions: 2 }]);
  const input = (payload: Buffer, topic = 'sensors/a/telemetry', retain = false) => ({ timestamp: 1_700_000_000_000, topic, qos: 1 as const, retain, clientId: 'c', payload });
  await log.append('telemetry', 0, input(Buffer.from('{"t":21.5}')));
  await log.append('telemetry', 0, input(Buffer.from([0xff, 0xfe, 0x00])));
  await log.append('telemetry', 1, input(Buffer.from('hello'), 'sensors/b/telemetry', true));
  await log.commitCursor('upstream', 'telemetry', 0, 1);

  const streams = await runCli(['log', 'streams', '--data-dir', dataDir, '--json']);
  assert.equal(streams.code, 0, streams.stderr);
  const parsed = JSON.parse(streams.stdout) as Array<{ stream: string; partitions: Array<Record<string, number | null>> }>;
  const telemetry = parsed.find((s) => s.stream === 'telemetry');
  assert.ok(telemetry);
  assert.deepEqual(telemetry.partitions[0], { partition: 0, startOffset: 0, endOffset: 2, records: 2, bytes: telemetry.partitions[0]?.bytes, upstreamOffset: 1, lagRecords: 1 });
  assert.equal(telemetry.partitions[1]?.endOffset, 1);

  const read = await runCli(['log', 'read', 'telemetry', '--data-dir', dataDir, '--json']);
  assert.equal(read.code, 0, read.stderr);
  assert.deepEqual(jsonLines(read.stdout), [
    { stream: 'telemetry', partition: 0, offset: 0, timestamp: 1_700_000_000_000, topic: 'sensors/a/telemetry', qos: 1, retain: false, payload: '{"t":21.5}' },
    { stream: 'telemetry', partition: 0, offset: 1, timestamp: 1_700_000_000_000, topic: 'sensors/a/telemetry', qos: 1, retain: false, payloadBase64: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') },
    { stream: 'telemetry', partition: 1, offset: 0, timestamp: 1_700_000_000_000, topic: 'sensors/b/telemetry', qos: 1, retain: true, payload: 'hello' },
  ]);

  // Grow the map well past its first size while the log stays open, then read again from outside.
  for (let i = 0; i < 4; i++) await Promise.all(Array.from({ length: 100 }, () => log.append('telemetry', 1, input(Buffer.alloc(10_000, 65)))));
  const tail = await runCli(['log', 'read', 'telemetry', '--data-dir', dataDir, '--partition', '1', '--from', 'latest', '--limit', '2', '--json']);
  assert.equal(tail.code, 0, tail.stderr);
  assert.deepEqual(jsonLines<{ offset: number }>(tail.stdout).map((r) => r.offset), [399, 400]);
  const human = await runCli(['log', 'read', 'telemetry', '--data-dir', dataDir, '--partition', '0', '--from', '1']);
  assert.match(human.stdout, /^telemetry\/0@1 2023-11-14T22:13:20.000Z qos1 sensors\/a\/telemetry base64:\/\/4A\n$/);
  await log.close();
});

test('bad usage of the log commands exits 2 with a message', async () => {
  const dataDir = tmpDir();
  const missing = await runCli(['log', 'streams', '--data-dir', dataDir]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no log in/);
  const log = await Log.open({ dataDir }, [{ name: 's', partitions: 1 }]);
  await log.close();
  const cases: Array<[string[], RegExp]> = [
    [['log', 'read', 'nope', '--data-dir', dataDir], /unknown stream "nope"/],
    [['log', 'read', 's', '--data-dir', dataDir, '--partition', '5'], /--partition 5/],
    [['log', 'read', 's', '--data-dir', dataDir, '--from', 'yesterday'], /--from must be/],
    [['log', 'frobnicate'], /Unknown argument|Unknown command|frobnicate/i],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
