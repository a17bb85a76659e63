/**
 * Malformed-input drivers for the Kafka codec: every truncation of a frame, and seeded random mutations
 * of real frames (bytes flipped, set to length-like extremes, cut, spliced), each fed to a decoder that
 * must either decode or throw ProtocolError: any other error, or a hang, fails.
 */
import assert from 'node:assert/strict';
import { ProtocolError } from '../../../src/kafka-api/protocol/codec.js';

/** A small deterministic PRNG (mulberry32), so a failing mutation can be found again from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Length-like values that break decoders: 0, -1, int16/int32 extremes, and varint continuation bytes. */
const NASTY = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe];

/** One mutation of `frame` (a copy; the frame is not changed). */
export function mutate(frame: Buffer, rand: () => number): Buffer {
  const pick = (n: number): number => Math.floor(rand() * n);
  const out = Buffer.from(frame);
  switch (pick(5)) {
    case 0: { // a few random bytes
      for (let i = 1 + pick(3); i > 0; i--) out[pick(out.length)] = pick(256);
      return out;
    }
    case 1: { // a run of nasty bytes: lengths claiming 2^31, -1, varints that never end
      const at = pick(out.length);
      const value = NASTY[pick(NASTY.length)] as number;
      out.fill(value, at, Math.min(out.length, at + 1 + pick(5)));
      return out;
    }
    case 2: // cut short
      return out.subarray(0, pick(out.length));
    case 3: { // a byte inserted: everything after it is out of step
      const at = pick(out.length + 1);
      return Buffer.concat([out.subarray(0, at), Buffer.of(pick(256)), out.subarray(at)]);
    }
    default: { // a byte removed
      const at = pick(out.length);
      return Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    }
  }
}

/** Calls `decode(frame)`; returns 'decoded' or 'rejected', and fails on any error that is not a ProtocolError. */
export function decodeOrReject(decode: (frame: Buffer) => unknown, frame: Buffer, what: string): 'decoded' | 'rejected' {
  try {
    decode(frame);
    return 'decoded';
  } catch (err) {
    if (err instanceof ProtocolError) return 'rejected';
    assert.fail(`${what}: threw ${String(err)} instead of a ProtocolError (frame ${frame.toString('hex')})`);
  }
}

/** Every proper prefix of `frame` must be rejected with a ProtocolError. */
export function assertEveryTruncationRejected(decode: (frame: Buffer) => unknown, frame: Buffer, what: string): void {
  for (let n = 0; n < frame.length; n++) {
    assert.equal(decodeOrReject(decode, frame.subarray(0, n), `${what} cut to ${n} bytes`), 'rejected', `${what} cut to ${n} of ${frame.length} bytes decoded`);
  }
}

/** `count` seeded mutations spread over `frames`; returns how many decoded and how many were rejected. */
export function fuzz(frames: ReadonlyArray<{ frame: Buffer; decode: (frame: Buffer) => unknown; what: string }>, count: number, seed: number): { decoded: number; rejected: number } {
  assert.ok(frames.length > 0, 'fuzz needs frames');
  const rand = prng(seed);
  const tally = { decoded: 0, rejected: 0 };
  for (let i = 0; i < count; i++) {
    const f = frames[i % frames.length] as (typeof frames)[number];
    tally[decodeOrReject(f.decode, mutate(f.frame, rand), `${f.what}, mutation ${i} (seed ${seed})`)]++;
  }
  return tally;
}
