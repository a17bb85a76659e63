/**
 * The MQTT-SN 1.2 codec against byte vectors written out by hand from the spec's message formats
 * (§5.2-5.4), one or more per message type: decoding gives the fields, encoding gives the same bytes
 * back (short length form). Also: the 3-byte length form is read (even for short messages) and written
 * when a message is over 255 bytes; forwarder encapsulation unwraps and wraps; every kind of bad input
 * is a CodecError with its drop reason; and for any bytes at all, decode throws nothing but CodecError
 * (property test), while any valid PUBLISH survives encode → decode.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode, type Message } from '../../firmware-bridge/src/codec.js';
import { unwrap, wrap } from '../../firmware-bridge/src/encapsulation.js';
import { CodecError } from '../../firmware-bridge/src/errors.js';

const b = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const text = (s: string): Buffer => Buffer.from(s);

const VECTORS: Array<[string, Message]> = [
  ['05 00 01 00 3c', { type: 'ADVERTISE', gwId: 1, duration: 60 }],
  ['03 01 00', { type: 'SEARCHGW', radius: 0 }],
  ['03 02 07', { type: 'GWINFO', gwId: 7, gwAdd: Buffer.alloc(0) }],
  ['0a 04 04 01 00 3c 64 65 76 31', { type: 'CONNECT', will: false, cleanSession: true, duration: 60, clientId: 'dev1' }],
  ['0a 04 0c 01 00 3c 64 65 76 31', { type: 'CONNECT', will: true, cleanSession: true, duration: 60, clientId: 'dev1' }],
  ['03 05 00', { type: 'CONNACK', returnCode: 0 }],
  ['02 06', { type: 'WILLTOPICREQ' }],
  ['04 07 30 77', { type: 'WILLTOPIC', will: { qos: 1, retain: true, topic: 'w' } }],
  ['02 07', { type: 'WILLTOPIC', will: null }],
  ['02 08', { type: 'WILLMSGREQ' }],
  ['05 09 62 79 65', { type: 'WILLMSG', message: text('bye') }],
  ['0a 0a 00 01 00 02 61 62 2f 63', { type: 'REGISTER', topicId: 1, msgId: 2, topicName: 'ab/c' }],
  ['07 0b 00 01 00 02 00', { type: 'REGACK', topicId: 1, msgId: 2, returnCode: 0 }],
  ['09 0c 20 00 01 00 02 68 69', { type: 'PUBLISH', dup: false, qos: 1, retain: false, topic: { kind: 'normal', id: 1 }, msgId: 2, data: text('hi') }],
  ['09 0c 62 61 62 00 00 68 69', { type: 'PUBLISH', dup: false, qos: -1, retain: false, topic: { kind: 'short', name: 'ab' }, msgId: 0, data: text('hi') }],
  ['08 0c d1 00 07 00 09 00', { type: 'PUBLISH', dup: true, qos: 2, retain: true, topic: { kind: 'predefined', id: 7 }, msgId: 9, data: b('00') }],
  ['07 0d 00 01 00 02 02', { type: 'PUBACK', topicId: 1, msgId: 2, returnCode: 2 }],
  ['04 0e 00 05', { type: 'PUBCOMP', msgId: 5 }],
  ['04 0f 00 05', { type: 'PUBREC', msgId: 5 }],
  ['04 10 00 05', { type: 'PUBREL', msgId: 5 }],
  ['08 12 20 00 03 61 2f 23', { type: 'SUBSCRIBE', dup: false, qos: 1, msgId: 3, topic: { kind: 'name', name: 'a/#' } }],
  ['07 12 41 00 03 00 07', { type: 'SUBSCRIBE', dup: false, qos: 2, msgId: 3, topic: { kind: 'predefined', id: 7 } }],
  ['08 13 20 00 00 00 03 00', { type: 'SUBACK', qos: 1, topicId: 0, msgId: 3, returnCode: 0 }],
  ['07 14 02 00 04 61 62', { type: 'UNSUBSCRIBE', dup: false, qos: 0, msgId: 4, topic: { kind: 'short', name: 'ab' } }],
  ['04 15 00 04', { type: 'UNSUBACK', msgId: 4 }],
  ['02 16', { type: 'PINGREQ', clientId: null }],
  ['03 16 64', { type: 'PINGREQ', clientId: 'd' }],
  ['02 17', { type: 'PINGRESP' }],
  ['02 18', { type: 'DISCONNECT', duration: null }],
  ['04 18 00 1e', { type: 'DISCONNECT', duration: 30 }],
  ['05 1a 00 77 32', { type: 'WILLTOPICUPD', will: { qos: 0, retain: false, topic: 'w2' } }],
  ['03 1b 00', { type: 'WILLTOPICRESP', returnCode: 0 }],
  ['04 1c 6f 6b', { type: 'WILLMSGUPD', message: text('ok') }],
  ['03 1d 03', { type: 'WILLMSGRESP', returnCode: 3 }],
];

test('every message type: spec byte vectors decode to their fields and encode back to the same bytes', () => {
  const types = new Set<string>();
  for (const [hex, message] of VECTORS) {
    assert.deepEqual(decode(b(hex)), message, hex);
    assert.equal(encode(message).toString('hex'), b(hex).toString('hex'), message.type);
    types.add(message.type);
  }
  assert.equal(types.size, 27, 'all 27 message types of MQTT-SN 1.2 besides encapsulation (tested below)');
});

test('3-byte length: read even for a short message, written from 256 bytes on, short form up to 255', () => {
  assert.deepEqual(decode(b('01 00 04 16')), { type: 'PINGREQ', clientId: null });
  const data = Buffer.alloc(300, 0x78);
  const long = encode({ type: 'PUBLISH', dup: false, qos: 0, retain: false, topic: { kind: 'normal', id: 1 }, msgId: 0, data });
  assert.equal(long.subarray(0, 4).toString('hex'), '01013' + '50c', 'long form: 0x01, 309 big-endian, type');
  assert.equal(long.length, 309);
  assert.deepEqual((decode(long) as { data: Buffer }).data, data);
  const edge = encode({ type: 'PUBLISH', dup: false, qos: 0, retain: false, topic: { kind: 'normal', id: 1 }, msgId: 0, data: Buffer.alloc(248) });
  assert.equal(edge[0], 255, '255 bytes still fit the short form');
  assert.equal(encode({ type: 'PUBLISH', dup: false, qos: 0, retain: false, topic: { kind: 'normal', id: 1 }, msgId: 0, data: Buffer.alloc(249) })[0], 0x01);
  assert.throws(() => encode({ type: 'WILLMSG', message: Buffer.alloc(65_532) }), CodecError, 'over 65,535 bytes');
});

test('forwarder encapsulation: 0xFE, Ctrl, node id, then the message; replies are wrapped the same way', () => {
  const { nodeId, radius, message } = unwrap(b('05 fe 01 6e 31 02 17'));
  assert.equal(nodeId?.toString(), 'n1');
  assert.equal(radius, 1);
  assert.deepEqual(decode(message), { type: 'PINGRESP' });
  assert.equal(wrap(text('n1'), b('02 17')).toString('hex'), '05fe006e310217');
  assert.equal(unwrap(b('02 17')).nodeId, null);
  assert.throws(() => unwrap(b('05 fe 00 6e 31')), { reason: 'truncated' });
  assert.throws(() => unwrap(b('05 fe 00 6e 31 05 fe 00 6e 31 02 17')), { reason: 'malformed' });
});

test('bad input is a CodecError naming its drop reason', () => {
  const cases: Array<[string, string]> = [
    ['', 'truncated'], ['05', 'truncated'], ['05 17', 'truncated'], ['01 00', 'truncated'],
    ['01 00 01 17', 'bad-length'], ['00 17', 'bad-length'], ['03 17 00', 'bad-length'], ['06 0d 00 01 00 02 02', 'bad-length'],
    ['02 03', 'unknown-type'], ['02 ff', 'unknown-type'], ['02 11', 'unknown-type'],
    ['0a 04 04 02 00 3c 64 65 76 31', 'malformed'], // protocol id 2
    ['06 04 04 01 00 3c', 'malformed'], // no client id
    ['09 0c 23 00 01 00 02 68 69', 'malformed'], // topic id type 0b11
    ['07 0a 00 01 00 02 ff', 'malformed'], // topic name not UTF-8
    ['09 0c 22 2b 23 00 02 68 69', 'malformed'], // short name with wildcards
    ['06 12 60 00 03 61', 'malformed'], // SUBSCRIBE at QoS -1
  ];
  for (const [hex, reason] of cases) assert.throws(() => decode(b(hex)), (err: unknown) => err instanceof CodecError && err.reason === reason, `${hex} → ${reason}`);
});

test('any bytes: decode returns a message or throws CodecError, nothing else; a valid PUBLISH survives a round trip', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        encode(decode(Buffer.from(bytes)));
      } catch (err) {
        assert.ok(err instanceof CodecError, String(err));
      }
    }),
    { numRuns: 20_000 },
  );
  fc.assert(
    fc.property(fc.constantFrom(-1, 0, 1, 2), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 1000 }), fc.boolean(), (qos, id, data, retain) => {
      const m: Message = { type: 'PUBLISH', dup: false, qos: qos as -1 | 0 | 1 | 2, retain, topic: { kind: 'predefined', id }, msgId: id, data: Buffer.from(data) };
      assert.deepEqual(decode(encode(m)), m);
    }),
  );
});
