/**
 * Crash safety with a real process and kill -9: a child appends continuously and prints each offset
 * as its append resolves; it is killed with SIGKILL at a random moment, several times over the same
 * log. After each kill the reopened log holds every printed record, unchanged, at its printed offset,
 * and every partition's offsets are contiguous (the open-time verification runs in full).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log } from '../../src/log/index.js';
import { tmpDir } from '../helpers/tmp.js';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/log-appender.js');

interface Acked {
  partition: number;
  offset: number;
  id: number;
}

function runAndKill(dataDir: string, killAfterMs: number): Promise<Acked[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let timer: NodeJS.Timeout | null = null;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (timer === null && out.startsWith('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${String(signal ?? _code)} before the kill`));
      // Only whole lines: the kill may cut the last one.
      const lines = out.split('\n').slice(1, -1);
      resolve(lines.map((l) => {
        const [partition, offset, id] = l.split(' ').map(Number) as [number, number, number];
        return { partition, offset, id };
      }));
    });
  });
}

test('every append that resolved survives kill -9, at its offset, with contiguous offsets', async () => {
  const dataDir = tmpDir();
  let total = 0;
  for (let round = 0; round < 3; round++) {
    const acked = await runAndKill(dataDir, 200 + Math.floor(Math.random() * 800));
    assert.ok(acked.length > 0, 'the child acknowledged some appends before it was killed');
    total += acked.length;
    const log = await Log.open({ dataDir, verify: 'full' }, [{ name: 'crash', partitions: 3 }]);
    for (let p = 0; p < 3; p++) {
      const info = log.partitionInfo('crash', p);
      const records = log.read('crash', p, 0, { maxRecords: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER });
      assert.equal(records.length, info.endOffset, 'offsets from 0 to the end, no gaps');
      records.forEach((r, i) => assert.equal(r.offset, i));
      for (const a of acked.filter((x) => x.partition === p)) {
        const r = records[a.offset];
        assert.ok(r, `acked offset ${a.offset} in partition ${p} is missing`);
        assert.equal(r.payload.toString(), `record-${a.id}`);
      }
    }
    await log.close();
  }
  assert.ok(total > 100, `only ${total} acked appends over three rounds`);
});
