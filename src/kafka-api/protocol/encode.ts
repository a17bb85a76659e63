/**
 * Encoding a Kafka message by its plan (plan.ts) in two passes over the value and one allocation:
 *
 *   measure: checks every value (type, range, null where not nullable) and adds up the bytes; the sizes
 *            the write pass needs before it reaches them (a string's UTF-8 length, a tagged field's size,
 *            which precedes its value) go on a tape, in the order the write pass meets them;
 *   write:   into one Buffer of exactly the measured size, reading the tape in the same order. It checks
 *            nothing again: both passes take the same decisions from the same value.
 *
 * The wire grammar is decode.ts's. A field missing from the value (undefined) is written as its JSON
 * default, or the type's zero value; a field the version does not have is not looked at. A tagged field
 * is written only when it differs from its default; `_unknownTaggedFields` (what decoding kept) are
 * written back, merged in tag order. A bad value throws TypeError naming its path
 * (`topics[0].partitions[2].partitionIndex`): that is our own bug, never the peer's.
 */
import { defaultFor, type Plan, type PlanField } from './plan.js';
import { joinPath } from './decode.js';
import type { PrimitiveType, TaggedField } from './schema.js';

const STRING_BYTES_MAX = 0x7fff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT_RANGES: Partial<Record<PrimitiveType, readonly [number, number, number]>> = {
  int8: [-0x80, 0x7f, 1], int16: [-0x8000, 0x7fff, 2], uint16: [0, 0xffff, 2],
  int32: [-0x80000000, 0x7fffffff, 4], uint32: [0, 0xffffffff, 4],
};

class Failure {
  readonly path: string[] = [];
  constructor(readonly what: string) {}
}

/** Sizes measured for the write pass, consumed in the same order. */
export interface Tape {
  readonly sizes: number[];
  at: number;
}

export function uvarintBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function lengthBytes(f: PlanField, n: number, classicBytes: number): number {
  return f.compact ? uvarintBytes(n + 1) : classicBytes;
}

function measurePrimitive(type: PrimitiveType, f: PlanField, v: unknown, tape: Tape): number {
  const range = INT_RANGES[type];
  if (range !== undefined) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) throw new Failure(`expected ${type}, got ${describe(v)}`);
    return range[2];
  }
  switch (type) {
    case 'bool':
      if (typeof v !== 'boolean') throw new Failure(`expected bool, got ${describe(v)}`);
      return 1;
    case 'int64':
      if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) throw new Failure(`expected int64 (bigint), got ${describe(v)}`);
      return 8;
    case 'float64':
      if (typeof v !== 'number') throw new Failure(`expected float64, got ${describe(v)}`);
      return 8;
    case 'uuid':
      if (!Buffer.isBuffer(v) || v.length !== 16) throw new Failure(`expected uuid (a 16-byte Buffer), got ${describe(v)}`);
      return 16;
    case 'string': {
      if (typeof v !== 'string') throw new Failure(`expected string, got ${describe(v)}`);
      const n = Buffer.byteLength(v, 'utf8');
      if (n > STRING_BYTES_MAX) throw new Failure(`string of ${n} UTF-8 bytes, above ${STRING_BYTES_MAX}`);
      tape.sizes.push(n);
      return lengthBytes(f, n, 2) + n;
    }
    default: // bytes, records
      if (!Buffer.isBuffer(v)) throw new Failure(`expected ${type} (a Buffer), got ${describe(v)}`);
      return lengthBytes(f, v.length, 4) + v.length;
  }
}

function measureValue(f: PlanField, value: unknown, tape: Tape): number {
  const v = value === undefined ? defaultFor(f) : value;
  if (v === null) {
    if (!f.nullable) throw new Failure('is null, but not nullable in this version');
    return f.compact ? 1 : f.type === 'string' ? 2 : 4;
  }
  if (f.type === 'struct') return measureStruct(f.struct as Plan, v, tape);
  if (f.type !== 'array') return measurePrimitive(f.type, f, v, tape);
  if (!Array.isArray(v)) throw new Failure(`expected an array, got ${describe(v)}`);
  let size = lengthBytes(f, v.length, 4);
  const element = f.element as PrimitiveType | 'struct';
  for (let i = 0; i < v.length; i++) {
    try {
      size += element === 'struct' ? measureStruct(f.struct as Plan, v[i], tape) : measurePrimitive(element, f, v[i], tape);
    } catch (e) {
      if (e instanceof Failure) e.path.push(`[${i}]`);
      throw e;
    }
  }
  return size;
}

const defaultIsNull = (f: PlanField): boolean => f.defaultValue === null || (f.defaultValue === undefined && f.type === 'records' && f.nullable);

function isDefault(f: PlanField, v: unknown): boolean {
  if (v === null) return defaultIsNull(f);
  if (defaultIsNull(f)) return false;
  const d = f.defaultValue;
  switch (f.type) {
    case 'array': return (v as unknown[]).length === 0;
    case 'struct': return isDefaultStruct(f.struct as Plan, v as Record<string, unknown>);
    case 'bytes': case 'records': return (v as Buffer).length === 0;
    case 'uuid': return (v as Buffer).every((b) => b === 0);
    default: return v === (d === undefined ? defaultFor(f) : d);
  }
}

function isDefaultStruct(plan: Plan, obj: Record<string, unknown>): boolean {
  if (obj._unknownTaggedFields !== undefined && (obj._unknownTaggedFields as unknown[]).length > 0) return false;
  for (const f of plan.regular) if (obj[f.name] !== undefined && !isDefault(f, obj[f.name])) return false;
  for (const f of plan.tagged) if (obj[f.name] !== undefined && !isDefault(f, obj[f.name])) return false;
  return true;
}

type TagEntry = PlanField | TaggedField;

/** The tagged fields to write, in tag order, or null when there are none (the common case: no allocation). */
function tagsToWrite(plan: Plan, obj: Record<string, unknown>): TagEntry[] | null {
  const unknown = obj._unknownTaggedFields;
  let known: PlanField[] | null = null;
  for (const f of plan.tagged) {
    const v = obj[f.name];
    if (v !== undefined && !isDefault(f, v)) (known ??= []).push(f);
  }
  if (unknown === undefined && known === null) return null;
  if (unknown !== undefined && !Array.isArray(unknown)) throw new Failure('_unknownTaggedFields is not an array');
  const extra = (unknown ?? []) as unknown[];
  for (const t of extra) {
    if (!isObject(t) || !Number.isInteger(t.tag) || (t.tag as number) < 0 || !Buffer.isBuffer(t.data)) {
      throw new Failure('_unknownTaggedFields holds something other than { tag, data: Buffer }');
    }
  }
  const out: TagEntry[] = [];
  let k = 0;
  const knownList = known ?? [];
  for (const t of extra as TaggedField[]) {
    while (k < knownList.length && (knownList[k] as PlanField).tag < t.tag) out.push(knownList[k++] as PlanField);
    out.push(t);
  }
  while (k < knownList.length) out.push(knownList[k++] as PlanField);
  return out;
}

const isKnown = (e: TagEntry): e is PlanField => 'struct' in e;

export function measureStruct(plan: Plan, value: unknown, tape: Tape): number {
  if (!isObject(value)) throw new Failure(`expected a struct (an object), got ${describe(value)}`);
  let size = 0;
  for (const f of plan.regular) {
    try {
      size += measureValue(f, value[f.name], tape);
    } catch (e) {
      if (e instanceof Failure) e.path.push(f.name);
      throw e;
    }
  }
  if (!plan.flexible) return size;
  const tags = tagsToWrite(plan, value);
  if (tags === null) return size + 1;
  size += uvarintBytes(tags.length);
  for (const t of tags) {
    let bytes: number;
    if (isKnown(t)) {
      const slot = tape.sizes.push(0) - 1;
      try {
        bytes = measureValue(t, value[t.name], tape);
      } catch (e) {
        if (e instanceof Failure) e.path.push(t.name);
        throw e;
      }
      tape.sizes[slot] = bytes;
    } else {
      bytes = t.data.length;
    }
    size += uvarintBytes(t.tag) + uvarintBytes(bytes) + bytes;
  }
  return size;
}

export class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  uvarint(n: number): void {
    let v = n;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  int16(v: number): void { this.pos = this.buf.writeInt16BE(v, this.pos); }
  int32(v: number): void { this.pos = this.buf.writeInt32BE(v, this.pos); }

  length(f: PlanField, n: number, classicInt16: boolean): void {
    if (f.compact) this.uvarint(n + 1);
    else if (classicInt16) this.int16(n);
    else this.int32(n);
  }

  raw(b: Buffer): void {
    this.pos += b.copy(this.buf, this.pos);
  }
}

function writePrimitive(w: Writer, type: PrimitiveType, f: PlanField, v: unknown, tape: Tape): void {
  const { buf } = w;
  switch (type) {
    case 'bool': buf[w.pos++] = v === true ? 1 : 0; return;
    case 'int8': w.pos = buf.writeInt8(v as number, w.pos); return;
    case 'int16': w.int16(v as number); return;
    case 'uint16': w.pos = buf.writeUInt16BE(v as number, w.pos); return;
    case 'int32': w.int32(v as number); return;
    case 'uint32': w.pos = buf.writeUInt32BE(v as number, w.pos); return;
    case 'int64': w.pos = buf.writeBigInt64BE(v as bigint, w.pos); return;
    case 'float64': w.pos = buf.writeDoubleBE(v as number, w.pos); return;
    case 'uuid': w.raw(v as Buffer); return;
    case 'string': {
      const n = tape.sizes[tape.at++] as number;
      w.length(f, n, true);
      w.pos += buf.write(v as string, w.pos, n, 'utf8');
      return;
    }
    default:
      w.length(f, (v as Buffer).length, false);
      w.raw(v as Buffer);
  }
}

function writeValue(w: Writer, f: PlanField, value: unknown, tape: Tape): void {
  const v = value === undefined ? defaultFor(f) : value;
  if (v === null) {
    w.length(f, -1, f.type === 'string');
    return;
  }
  if (f.type === 'struct') return writeStruct(w, f.struct as Plan, v as Record<string, unknown>, tape);
  if (f.type !== 'array') return writePrimitive(w, f.type, f, v, tape);
  const items = v as unknown[];
  w.length(f, items.length, false);
  const element = f.element as PrimitiveType | 'struct';
  if (element === 'struct') {
    for (const item of items) writeStruct(w, f.struct as Plan, item as Record<string, unknown>, tape);
  } else {
    for (const item of items) writePrimitive(w, element, f, item, tape);
  }
}

export function writeStruct(w: Writer, plan: Plan, obj: Record<string, unknown>, tape: Tape): void {
  for (const f of plan.regular) writeValue(w, f, obj[f.name], tape);
  if (!plan.flexible) return;
  const tags = tagsToWrite(plan, obj);
  if (tags === null) {
    w.buf[w.pos++] = 0;
    return;
  }
  w.uvarint(tags.length);
  for (const t of tags) {
    w.uvarint(t.tag);
    if (isKnown(t)) {
      w.uvarint(tape.sizes[tape.at++] as number);
      writeValue(w, t, obj[t.name], tape);
    } else {
      w.uvarint(t.data.length);
      w.raw(t.data);
    }
  }
}

/** Measures, checks and writes `parts` (header and body, each by its plan) into one Buffer after a size prefix. */
export function encodeFramed(context: string, parts: ReadonlyArray<readonly [Plan, unknown]>): Buffer {
  const tape: Tape = { sizes: [], at: 0 };
  let size = 4;
  for (const [plan, value] of parts) {
    try {
      size += measureStruct(plan, value, tape);
    } catch (e) {
      if (!(e instanceof Failure)) throw e;
      const path = joinPath(e.path);
      throw new TypeError(`${context}: ${path === '' ? '' : `${path}: `}${e.what}`);
    }
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  w.int32(size - 4);
  for (const [plan, value] of parts) writeStruct(w, plan, value as Record<string, unknown>, tape);
  if (w.pos !== size || tape.at !== tape.sizes.length) throw new Error(`${context}: wrote ${w.pos} of ${size} measured bytes`);
  return w.buf;
}
