/**
 * The disk-pressure policy: no cap above the floor; under it, one cap of (log bytes − deficit) that
 * holds steady while free space does (LMDB reuses the freed pages, so free space does not come back),
 * drops further only when free space keeps falling, and lifts with a margin above the floor.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { nextPressure, PRESSURE_IDLE } from '../../src/ops/disk-pressure.js';

const MiB = 1024 * 1024;

test('no cap while free space is above the floor', () => {
  assert.deepEqual(nextPressure(PRESSURE_IDLE, { freeBytes: 600 * MiB, logBytes: 100 * MiB, floorBytes: 512 * MiB }), PRESSURE_IDLE);
});

test('under the floor: capped once, steady, lowered if the disk keeps filling, lifted with a margin', () => {
  const floorBytes = 512 * MiB;
  let s = nextPressure(PRESSURE_IDLE, { freeBytes: 500 * MiB, logBytes: 100 * MiB, floorBytes });
  assert.equal(s.limitBytes, 88 * MiB);
  s = nextPressure(s, { freeBytes: 500 * MiB, logBytes: 88 * MiB, floorBytes });
  assert.equal(s.limitBytes, 88 * MiB, 'the same free space does not ratchet the cap down');
  s = nextPressure(s, { freeBytes: 490 * MiB, logBytes: 88 * MiB, floorBytes });
  assert.equal(s.limitBytes, 78 * MiB, 'another writer took 10 MiB: the log gives up 10 MiB more');
  s = nextPressure(s, { freeBytes: 520 * MiB, logBytes: 78 * MiB, floorBytes });
  assert.equal(s.limitBytes, 78 * MiB, 'just above the floor is not enough to lift it');
  s = nextPressure(s, { freeBytes: 600 * MiB, logBytes: 78 * MiB, floorBytes });
  assert.deepEqual(s, PRESSURE_IDLE);
  assert.equal(nextPressure(PRESSURE_IDLE, { freeBytes: 0, logBytes: 10, floorBytes }).limitBytes, 0);
});
