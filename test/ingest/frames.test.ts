/**
 * The fast path's framing (src/ingest/frames.ts), against mqtt-packet as the oracle: the packets it
 * generates come out of FrameSplitter whole and byte-identical however the stream is cut into chunks,
 * and parsePublish reads every PUBLISH it generates to the packet mqtt-packet's own parser reads —
 * and declines the frames that parser refuses or that it would read differently.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type Packet } from 'mqtt-packet';
import { FrameSplitter, parsePublish, type Violation } from '../../src/ingest/frames.js';

const packets: Packet[] = [
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c1', keepalive: 30 },
  { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, messageId: 7, retain: false, dup: false },
  { cmd: 'pingreq' },
  { cmd: 'publish', topic: 'sensors/ü/temp', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
  // A remaining length of two varint bytes (200 > 127), and one of three (20,000 > 16,383).
  { cmd: 'publish', topic: 't', payload: Buffer.alloc(200, 1), qos: 2, messageId: 65535, retain: true, dup: true },
  { cmd: 'publish', topic: 'big', payload: Buffer.alloc(20_000, 2), qos: 1, messageId: 1, retain: false, dup: false },
  { cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'x/#', qos: 1 }] },
  { cmd: 'puback', messageId: 9 },
  { cmd: 'disconnect' },
];
const frames = packets.map((p) => mqtt.generate(p));
const stream = Buffer.concat(frames);

function drain(splitter: FrameSplitter, out: Buffer[]): Violation | null {
  for (;;) {
    const next = splitter.next();
    if (next === null) return null;
    if (!Buffer.isBuffer(next)) return next;
    out.push(Buffer.from(next));
  }
}

test('FrameSplitter hands out each generated packet whole, however the stream is cut', () => {
  const cuts = [1, 2, 3, 5, 7, 64, 1000, stream.length];
  for (const size of cuts) {
    const splitter = new FrameSplitter(1 << 20);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) {
      splitter.feed(stream.subarray(i, i + size));
      assert.equal(drain(splitter, out), null);
    }
    assert.deepEqual(out, frames, `chunks of ${size} bytes`);
  }
  // Every single cut point of the stream into two chunks.
  for (let at = 0; at <= stream.length; at++) {
    const splitter = new FrameSplitter(1 << 20);
    const out: Buffer[] = [];
    splitter.feed(stream.subarray(0, at));
    drain(splitter, out);
    splitter.feed(stream.subarray(at));
    drain(splitter, out);
    assert.deepEqual(out, frames, `cut at byte ${at}`);
  }
});

test('FrameSplitter: a frame inside one chunk is a view of it, one across chunks a copy of its exact size', () => {
  const splitter = new FrameSplitter(1 << 20);
  const chunk = Buffer.allocUnsafeSlow((frames[1] as Buffer).length + 1); // memory of its own, not the pool's
  Buffer.concat([frames[1] as Buffer, (frames[2] as Buffer).subarray(0, 1)]).copy(chunk);
  splitter.feed(chunk);
  const first = splitter.next() as Buffer;
  assert.equal(first.buffer, chunk.buffer, 'the first frame shares the chunk’s memory');
  assert.equal(splitter.next(), null, 'the PINGREQ is not complete yet');
  splitter.feed((frames[2] as Buffer).subarray(1));
  const ping = splitter.next() as Buffer;
  assert.deepEqual(ping, frames[2]);
  assert.notEqual(ping.buffer, chunk.buffer);
  assert.equal(ping.length, 2);
});

test('FrameSplitter refuses an oversized announcement before its body, and malformed fixed headers; then hands out nothing', () => {
  const big = mqtt.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(5_000), qos: 0, retain: false, dup: false });
  const splitter = new FrameSplitter(4_096);
  splitter.feed(big.subarray(0, 3)); // only the fixed header: the body never arrives
  assert.deepEqual(splitter.next(), { reason: 'oversized', detail: 'packet of 5003 bytes announced; the limit is 4096' });
  assert.equal((splitter.next() as Violation).reason, 'oversized', 'a violation is final');

  for (const [bytes, detail] of [
    [[0x00, 0x00], 'reserved packet type 0'],
    [[0xf0, 0x00], 'reserved packet type 15'],
    [[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], 'remaining length longer than 4 bytes'],
  ] as const) {
    const s = new FrameSplitter(1 << 30);
    s.feed(Buffer.from(bytes));
    assert.deepEqual(s.next(), { reason: 'malformed', detail });
  }
});

/** What mqtt-packet's parser makes of one frame: the packet, or its error. */
function oracle(frame: Buffer): Packet | Error {
  const parser = mqtt.parser({ protocolVersion: 4 });
  let result: Packet | Error = new Error('incomplete');
  parser.on('packet', (p: Packet) => (result = p));
  parser.on('error', (e: Error) => (result = e));
  parser.parse(frame);
  return result;
}

test('parsePublish reads every PUBLISH as mqtt-packet parses it', () => {
  const topics = ['a', 'sensors/gw-1/temp', 'ü/€/😀', 'x'.repeat(300), '/', 'a//b'];
  let n = 0;
  for (const topic of topics) {
    for (const qos of [0, 1, 2] as const) {
      for (const payload of [Buffer.alloc(0), Buffer.from('42.5'), Buffer.alloc(70_000, 3)]) {
        for (const flags of [{ retain: false, dup: false }, { retain: true, dup: qos > 0 }]) {
          const packet = { cmd: 'publish', topic, payload, qos, ...flags, ...(qos > 0 ? { messageId: (n * 7919) % 65536 } : {}) } as Packet;
          const frame = mqtt.generate(packet);
          const expected = oracle(frame) as mqtt.IPublishPacket;
          const got = parsePublish(frame);
          assert.ok(got !== null, `${topic} qos ${qos}`);
          assert.deepEqual(
            { topic: got.topic, payload: got.payload, qos: got.qos, retain: got.retain, dup: got.dup, messageId: got.messageId },
            { topic: expected.topic, payload: expected.payload, qos: expected.qos, retain: expected.retain, dup: expected.dup, messageId: expected.messageId },
          );
          n++;
        }
      }
    }
  }
  assert.equal(n, topics.length * 3 * 3 * 2);
});

test('parsePublish declines what mqtt-packet refuses or misreads, other packet types, and DUP on QoS 0', () => {
  const publish = mqtt.generate({ cmd: 'publish', topic: 'abc', payload: Buffer.from('p'), qos: 1, messageId: 5, retain: false, dup: false });
  // QoS bits 11.
  const qos3 = Buffer.from(publish);
  qos3[0] = 0x36;
  assert.ok(oracle(qos3) instanceof Error);
  assert.equal(parsePublish(qos3), null);
  // A topic length pointing past the frame, and a packet id cut off.
  const cutTopic = Buffer.from([0x30, 0x03, 0x00, 0x05, 0x61]);
  assert.ok(oracle(cutTopic) instanceof Error);
  assert.equal(parsePublish(cutTopic), null);
  // mqtt-packet reads a packet id cut off as -1 (and the byte left as the payload): left to aedes.
  const cutId = Buffer.from([0x32, 0x04, 0x00, 0x01, 0x61, 0x00]);
  assert.equal((oracle(cutId) as mqtt.IPublishPacket).messageId, -1);
  assert.equal(parsePublish(cutId), null);
  assert.equal(parsePublish(mqtt.generate({ cmd: 'puback', messageId: 1 })), null);
  assert.equal(parsePublish(mqtt.generate({ cmd: 'pingreq' })), null);
  const dup0 = mqtt.generate({ cmd: 'publish', topic: 'abc', payload: Buffer.from('p'), qos: 0, retain: false, dup: false });
  dup0[0] = 0x38;
  assert.equal(parsePublish(dup0), null, 'left to aedes');
});
