/**
 * The pure serial framing (firmware-bridge/src/serial/): CRC-16/CCITT-FALSE, SLIP and COBS frames.
 * It proves:
 *  - the CRC has the catalogue's check value (0x29B1 for "123456789") and agrees with an independent
 *    oracle, Python's binascii.crc_hqx(data, 0xFFFF), on random messages;
 *  - COBS stuffing gives the published vectors (Cheshire & Baker's paper, as listed on Wikipedia);
 *  - the README's example frames are exactly what the encoders write, and frames agree byte for byte
 *    with the independent Python encoder (test/bridge/serial_sim.py) for random messages;
 *  - each kind of bad frame (bad CRC, overlong, bad SLIP escape, bad COBS code, too short) is dropped
 *    and counted once under its reason, empty frames are idle fill, and the next good frame after any of
 *    them arrives (resync at the delimiter); a body of exactly frameBytesMax is accepted;
 *  - properties (fast-check): encode → decode returns every message, however the bytes are chunked; and
 *    random noise between frames never loses a following good frame.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc16 } from '../../firmware-bridge/src/serial/crc16.js';
import { cobsEncode } from '../../firmware-bridge/src/serial/cobs.js';
import { FrameTooLargeError, SerialConfigError } from '../../firmware-bridge/src/serial/errors.js';
import { type FrameDropReason, type FramingName, createFraming, frameBytesMaxDefault, framingNames } from '../../firmware-bridge/src/serial/framing.js';
import { pythonCrc, pythonFrames } from './serial-sim.js';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

interface Decoded {
  messages: string[];
  drops: FrameDropReason[];
}

function decodeAll(framing: FramingName, chunks: readonly Uint8Array[], frameBytesMax = frameBytesMaxDefault): Decoded {
  const out: Decoded = { messages: [], drops: [] };
  const decoder = createFraming(framing, frameBytesMax).createDecoder({
    message: (m) => out.messages.push(m.toString('hex')),
    drop: (r) => out.drops.push(r),
  });
  for (const chunk of chunks) decoder.push(chunk);
  return out;
}

/** Cuts `bytes` at the given fractions of its length. */
function chunked(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    chunks.push(bytes.subarray(from, to));
    from = to;
  }
  return chunks;
}

/** A copy of a frame for `02 16` with the CRC's low byte (0x9A, the byte before the delimiter) changed. */
function withCrcBitFlipped(frame: Buffer): Buffer {
  const copy = Buffer.from(frame);
  assert.equal(copy[copy.length - 2], 0x9a);
  copy[copy.length - 2] = 0x9b;
  return copy;
}

const message = fc.uint8Array({ minLength: 1, maxLength: 600 });

test('CRC-16/CCITT-FALSE: check value 0x29B1, and the same as Python binascii.crc_hqx on random data', () => {
  assert.equal(crc16(Buffer.from('123456789')), 0x29b1);
  assert.equal(crc16(Buffer.alloc(0)), 0xffff, 'init 0xFFFF, xorout 0');
  const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 300 }), { numRuns: 300, seed: 12 });
  samples.push(Buffer.alloc(256, 0xff), Buffer.from([...Array(256).keys()]));
  assert.deepEqual(samples.map((s) => crc16(s)), pythonCrc(samples));
});

test('COBS stuffing matches the published vectors', () => {
  const run = (from: number, to: number): string => Buffer.from(Array.from({ length: to - from + 1 }, (_, i) => from + i)).toString('hex');
  const vectors: Array<[string, string]> = [
    ['00', '0101'],
    ['0000', '010101'],
    ['001100', '01021101'],
    ['11220033', '0311220233'],
    ['11223344', '0511223344'],
    ['11000000', '0211010101'],
    [run(0x01, 0xfe), 'ff' + run(0x01, 0xfe)],
    ['00' + run(0x01, 0xfe), '01ff' + run(0x01, 0xfe)],
    [run(0x01, 0xff), 'ff' + run(0x01, 0xfe) + '02ff'],
    [run(0x02, 0xff) + '00', 'ff' + run(0x02, 0xff) + '0101'],
    [run(0x03, 0xff) + '0001', 'fe' + run(0x03, 0xff) + '0201'],
  ];
  for (const [data, stuffed] of vectors) assert.equal(cobsEncode(hex(data)).toString('hex'), stuffed, `COBS of ${data.slice(0, 16)}…`);
});

test("the README's example frames are what the encoders write", () => {
  const slip = createFraming('slip');
  const cobs = createFraming('cobs');
  // PINGREQ `02 16`: CRC 0x099A.
  assert.equal(slip.encode(hex('02 16')).toString('hex'), 'c00216099ac0');
  assert.equal(cobs.encode(hex('02 16')).toString('hex'), '00050216099a00');
  // PUBLISH QoS 1, topic id 1, msg id 1, payload C0 DB: CRC 0x54CC; SLIP escapes both payload bytes.
  const publish = hex('09 0C 20 00 01 00 01 C0 DB');
  assert.equal(slip.encode(publish).toString('hex'), 'c0090c2000010001dbdcdbdd54ccc0');
  assert.equal(cobs.encode(publish).toString('hex'), '0004090c2002010601c0db54cc00');
});

test('frames agree byte for byte with the independent Python encoder, both ways', () => {
  const messages = fc.sample(message, { numRuns: 200, seed: 7 });
  messages.push(Buffer.alloc(1000, 0), Buffer.alloc(1000, 0xc0), Buffer.alloc(600, 0xdb), Buffer.alloc(508, 0x11));
  for (const name of framingNames) {
    const framing = createFraming(name);
    const theirs = pythonFrames(name, messages);
    assert.deepEqual(messages.map((m) => framing.encode(m).toString('hex')), theirs.map((f) => f.toString('hex')), name);
    const decoded = decodeAll(name, theirs);
    assert.deepEqual(decoded, { messages: messages.map((m) => Buffer.from(m).toString('hex')), drops: [] }, name);
  }
});

test('SLIP: each bad frame is counted once by reason, and the next good frame still arrives', () => {
  const slip = createFraming('slip', 64);
  const good = (m: string): Buffer => slip.encode(hex(m));
  const badCrc = withCrcBitFlipped(good('0216'));
  const input = Buffer.concat([
    good('0216'),
    hex('c0 c0 c0'), // idle fill: not drops
    badCrc,
    good('0316aa'),
    hex('c0 02 db 41 16 c0'), // ESC then 'A'
    good('0416aabb'),
    hex('c0 db c0'), // ESC straight before END: the END still ends the frame
    good('0516aabbcc'),
    hex('c0'), Buffer.alloc(65, 0x41), hex('c0'), // a body of 65 bytes > 64
    good('0616aabbccdd'),
    hex('c0 41 c0 41 42 c0'), // 1 and 2 bytes: too short to hold a CRC and a message
    good('0216'),
    slip.encode(Buffer.alloc(62, 0x61)), // exactly frameBytesMax: accepted
  ]);
  const expected = {
    messages: ['0216', '0316aa', '0416aabb', '0516aabbcc', '0616aabbccdd', '0216', '61'.repeat(62)],
    drops: ['bad-crc', 'bad-escape', 'bad-escape', 'overlong', 'short', 'short'],
  };
  assert.deepEqual(decodeAll('slip', [input], 64), expected);
  assert.deepEqual(decodeAll('slip', [...input].map((b) => Buffer.from([b])), 64), expected, 'one byte at a time');
});

test('COBS: each bad frame is counted once by reason, and the next good frame still arrives', () => {
  const cobs = createFraming('cobs', 64);
  const good = (m: string): Buffer => cobs.encode(hex(m));
  const badCrc = withCrcBitFlipped(good('0216'));
  const input = Buffer.concat([
    good('0216'),
    hex('00 00 00'), // idle fill
    badCrc,
    good('0316aa'),
    hex('00 05 11 22 00'), // code 05 promises 4 bytes, 2 come
    good('0416aabb'),
    hex('00 ff'), Buffer.alloc(70, 0x41), hex('00'), // 70 body bytes > 64
    good('0516aabbcc'),
    hex('00 02 41 00 01 00'), // 1 byte, and a frame that decodes to nothing
    good('0216'),
    cobs.encode(Buffer.alloc(62, 0)), // exactly frameBytesMax, all zeros: accepted
  ]);
  const expected = {
    messages: ['0216', '0316aa', '0416aabb', '0516aabbcc', '0216', '00'.repeat(62)],
    drops: ['bad-crc', 'bad-cobs', 'overlong', 'short', 'short'],
  };
  assert.deepEqual(decodeAll('cobs', [input], 64), expected);
  assert.deepEqual(decodeAll('cobs', [...input].map((b) => Buffer.from([b])), 64), expected, 'one byte at a time');
});

test('frames need no leading delimiter: back-to-back frames may share one', () => {
  for (const name of framingNames) {
    const framing = createFraming(name);
    const frames = ['0216', '0316aa', '0416c0db'].map((m) => framing.encode(hex(m)).subarray(1));
    assert.deepEqual(decodeAll(name, [Buffer.concat(frames)]), { messages: ['0216', '0316aa', '0416c0db'], drops: [] }, name);
  }
});

test('a message longer than frameBytesMax - 2 is refused with FrameTooLargeError; bad options with SerialConfigError', () => {
  for (const name of framingNames) {
    const framing = createFraming(name, 100);
    assert.equal(framing.messageBytesMax, 98);
    assert.ok(framing.encode(Buffer.alloc(98, 1)).length > 98);
    assert.throws(() => framing.encode(Buffer.alloc(99, 1)), (err: unknown) => err instanceof FrameTooLargeError && err.code === 'SERIAL_FRAME_TOO_LARGE' && err.messageBytesMax === 98);
  }
  assert.throws(() => createFraming('slip', 3), (err: unknown) => err instanceof SerialConfigError && err.path === 'frameBytesMax');
  assert.throws(() => createFraming('slip', 70_000), SerialConfigError);
  assert.throws(() => createFraming('hdlc' as FramingName), (err: unknown) => err instanceof SerialConfigError && err.path === 'framing');
});

test('property: encode → decode returns every message in order, however the bytes are chunked', () => {
  for (const name of framingNames) {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), (messages, cuts) => {
        const framing = createFraming(name);
        const wire = Buffer.concat(messages.map((m) => framing.encode(m)));
        assert.deepEqual(decodeAll(name, chunked(wire, cuts)), { messages: messages.map((m) => Buffer.from(m).toString('hex')), drops: [] });
      }),
      { numRuns: 300 },
    );
  }
});

test('property: random noise between frames never loses a following good frame', () => {
  // Noise may, rarely, itself decode as a valid frame (a 1 in 65,536 CRC match), so the good messages
  // must appear in order as a subsequence, and there is at most one extra frame per noise run.
  const noise = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 40 }),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => b.map((x) => [0x00, 0xc0, 0xdb, 0xdc, 0xdd, 0xff, 0x01, x][x % 8] as number)),
    fc.uint8Array({ minLength: 1100, maxLength: 1300 }), // longer than frameBytesMax
  );
  for (const name of framingNames) {
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, message), { minLength: 1, maxLength: 6 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }), (pairs, cuts) => {
        const framing = createFraming(name);
        const wire = Buffer.concat(pairs.flatMap(([n, m]) => [Buffer.from(n), framing.encode(m)]));
        const got = decodeAll(name, chunked(wire, cuts));
        const want = pairs.map(([, m]) => Buffer.from(m).toString('hex'));
        let at = 0;
        for (const m of got.messages) if (m === want[at]) at++;
        assert.equal(at, want.length, `all ${want.length} good messages, in order, in ${JSON.stringify(got)}`);
        assert.ok(got.messages.length <= 2 * want.length);
      }),
      { numRuns: 300 },
    );
  }
});
