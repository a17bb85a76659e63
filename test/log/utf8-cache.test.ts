/**
 * The UTF-8 cache (src/utf8-cache.ts) that record encoding and the forwarder share: right bytes, one
 * Buffer per string, bounded, and no entry pinning a slab of Node's shared Buffer pool.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Utf8Cache } from '../../src/utf8-cache.js';

test('the bytes are the UTF-8 encoding, and the same Buffer comes back for the same string', () => {
  const cache = new Utf8Cache(10);
  // Oracle: the encoding written out by hand (é is C3 A9, the emoji F0 9F 8C A1).
  assert.deepEqual(cache.get('sensors/é/🌡'), Buffer.from([0x73, 0x65, 0x6e, 0x73, 0x6f, 0x72, 0x73, 0x2f, 0xc3, 0xa9, 0x2f, 0xf0, 0x9f, 0x8c, 0xa1]));
  assert.equal(cache.get('sensors/é/🌡'), cache.get('sensors/é/🌡'));
  assert.equal(cache.get('').length, 0);
});

test('a kept entry owns its memory: it is not a slice of the shared pool that would pin 8 KiB', () => {
  const cache = new Utf8Cache(100);
  // Pooled allocations before and after, as record encoding makes them around the cache's entries.
  const before = Buffer.allocUnsafe(16);
  const entries = Array.from({ length: 50 }, (_, i) => cache.get(`gw-${i}/telemetry`));
  const after = Buffer.allocUnsafe(16);
  assert.ok(before.buffer.byteLength > 16 && after.buffer.byteLength > 16, 'the pool is in use here (the check below means something)');
  for (const bytes of entries) {
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.length, `${bytes.toString()} sits in a ${bytes.buffer.byteLength}-byte ArrayBuffer`);
  }
});

test('bounded: a full cache starts over, and strings past 256 characters are encoded but not kept', () => {
  const cache = new Utf8Cache(3);
  const a = cache.get('a');
  cache.get('b');
  cache.get('c');
  assert.equal(cache.get('a'), a, 'still kept at the bound');
  cache.get('d'); // the fourth entry clears the cache first
  assert.notEqual(cache.get('a'), a);
  const long = 'x'.repeat(257);
  assert.notEqual(cache.get(long), cache.get(long));
  assert.deepEqual(cache.get(long), Buffer.alloc(257, 'x'));
});
