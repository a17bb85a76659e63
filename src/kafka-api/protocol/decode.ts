/**
 * Decoding a Kafka message body by its plan (plan.ts), from a Buffer already framed by the caller.
 *
 *   classic  string := int16 length (-1: null) bytes     bytes/records := int32 length (-1: null) bytes
 *            array  := int32 count (-1: null) element*
 *   compact  string := uvarint (length + 1; 0: null)     bytes/records/array likewise, with the count
 *   tagged   := uvarint count, then count × (uvarint tag | uvarint size | size bytes), after the regular
 *               fields of every struct in a flexible version
 *
 * Every length and count is checked against the bytes left before anything is read or allocated (each
 * array element takes at least one byte, so a count bounds the loop by the frame). Malformed input throws
 * ProtocolError naming what was wrong, the byte offset in the frame and the field path; nothing here
 * throws another error for any input. Decoded Buffers (bytes, records, uuid, unknown tags) are copies:
 * they do not keep the frame alive, and the frame's buffer may be reused.
 */
import { ProtocolError } from '../../errors.js';
import { defaultFor, type Plan, type PlanField } from './plan.js';
import type { PrimitiveType, TaggedField } from './schema.js';

/** Kafka caps strings at int16 length, compact ones too. */
const STRING_BYTES_MAX = 0x7fff;

/** A decode failure on its way up: the path is built as it passes each struct and array. */
class Failure {
  readonly path: string[] = [];
  constructor(readonly what: string, readonly offset: number) {}
}

export function joinPath(segments: readonly string[]): string {
  let out = '';
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i] as string;
    out += out === '' || s.startsWith('[') ? s : `.${s}`;
  }
  return out;
}

export class Reader {
  constructor(readonly buf: Buffer, public pos: number, public end: number) {}

  fail(what: string, at = this.pos): never {
    throw new Failure(what, at);
  }

  need(n: number, what: string): void {
    if (n > this.end - this.pos) this.fail(`${what}: needs ${n} bytes, ${this.end - this.pos} left`);
  }

  int8(): number { this.need(1, 'int8'); return this.buf.readInt8(this.pos++); }
  int16(): number { this.need(2, 'int16'); const v = this.buf.readInt16BE(this.pos); this.pos += 2; return v; }
  int32(): number { this.need(4, 'int32'); const v = this.buf.readInt32BE(this.pos); this.pos += 4; return v; }

  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) this.fail('unsigned varint runs past the end');
      const b = this.buf[this.pos++] as number;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) this.fail('unsigned varint above 2^32 - 1', this.pos - 1);
        return value;
      }
    }
    return this.fail('unsigned varint longer than 5 bytes');
  }

  /** A length or count prefix: -1 for null; otherwise checked against `max` and the bytes left (× unit). */
  length(f: PlanField, classicInt16: boolean, unitBytes: number, max: number): number {
    const at = this.pos;
    const n = f.compact ? this.uvarint() - 1 : classicInt16 ? this.int16() : this.int32();
    if (n === -1) {
      if (!f.nullable) this.fail('null, but the field is not nullable here', at);
      return -1;
    }
    if (n < -1) this.fail(`negative length ${n}`, at);
    if (n > max) this.fail(`length ${n} above the limit ${max}`, at);
    if (n * unitBytes > this.end - this.pos) this.fail(`length ${n} but only ${this.end - this.pos} bytes left`, at);
    return n;
  }

  copy(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function readPrimitive(r: Reader, type: PrimitiveType, f: PlanField): unknown {
  const { buf } = r;
  let v: unknown;
  switch (type) {
    case 'bool': r.need(1, 'bool'); return buf[r.pos++] !== 0;
    case 'int8': return r.int8();
    case 'int16': return r.int16();
    case 'int32': return r.int32();
    case 'uint16': r.need(2, 'uint16'); v = buf.readUInt16BE(r.pos); r.pos += 2; return v;
    case 'uint32': r.need(4, 'uint32'); v = buf.readUInt32BE(r.pos); r.pos += 4; return v;
    case 'int64': r.need(8, 'int64'); v = buf.readBigInt64BE(r.pos); r.pos += 8; return v;
    case 'float64': r.need(8, 'float64'); v = buf.readDoubleBE(r.pos); r.pos += 8; return v;
    case 'uuid': r.need(16, 'uuid'); return r.copy(16);
    case 'string': {
      const n = r.length(f, true, 1, STRING_BYTES_MAX);
      if (n < 0) return null;
      const s = buf.toString('utf8', r.pos, r.pos + n);
      r.pos += n;
      return s;
    }
    case 'bytes':
    case 'records': {
      const n = r.length(f, false, 1, 0x7fffffff);
      return n < 0 ? null : r.copy(n);
    }
  }
}

function readValue(r: Reader, f: PlanField): unknown {
  if (f.type === 'struct') return readStruct(r, f.struct as Plan);
  if (f.type !== 'array') return readPrimitive(r, f.type, f);
  const element = f.element as PrimitiveType | 'struct';
  const unit = element === 'struct' ? (f.struct as Plan).minBytes : 1;
  const n = r.length(f, false, unit, 0x7fffffff);
  if (n < 0) return null;
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    try {
      out[i] = element === 'struct' ? readStruct(r, f.struct as Plan) : readPrimitive(r, element, f);
    } catch (e) {
      if (e instanceof Failure) e.path.push(`[${i}]`);
      throw e;
    }
  }
  return out;
}

function readTaggedFields(r: Reader, plan: Plan, out: Record<string, unknown>): void {
  const count = r.uvarint();
  if (count * 2 > r.end - r.pos) r.fail(`${count} tagged fields but only ${r.end - r.pos} bytes left`);
  let unknown: TaggedField[] | undefined;
  for (let i = 0; i < count; i++) {
    const tag = r.uvarint();
    const sizeAt = r.pos;
    const size = r.uvarint();
    if (size > r.end - r.pos) r.fail(`tagged field ${tag} of ${size} bytes but only ${r.end - r.pos} left`, sizeAt);
    const field = plan.tagged.find((f) => f.tag === tag);
    if (field === undefined) {
      (unknown ??= []).push({ tag, data: r.copy(size) });
      continue;
    }
    const end = r.end;
    r.end = r.pos + size;
    try {
      out[field.name] = readValue(r, field);
      if (r.pos !== r.end) r.fail(`tagged field ${tag} has ${r.end - r.pos} bytes after its value`);
    } catch (e) {
      if (e instanceof Failure) e.path.push(field.name);
      throw e;
    }
    r.end = end;
  }
  if (unknown !== undefined) out._unknownTaggedFields = unknown;
}

export function readStruct(r: Reader, plan: Plan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of plan.regular) {
    try {
      out[f.name] = readValue(r, f);
    } catch (e) {
      if (e instanceof Failure) e.path.push(f.name);
      throw e;
    }
  }
  if (plan.flexible) {
    for (const f of plan.tagged) out[f.name] = defaultFor(f);
    readTaggedFields(r, plan, out);
  }
  return out;
}

/**
 * Runs `read` over `buf` from `start`, requires it to consume every byte when `whole`, and turns a failure
 * into a ProtocolError whose message starts with `context` (`Fetch v12 request`).
 */
export function decodeWhole<T>(buf: Buffer, start: number, context: string, whole: boolean, read: (r: Reader) => T): T {
  const r = new Reader(buf, start, buf.length);
  try {
    const value = read(r);
    if (whole && r.pos !== r.end) r.fail(`${r.end - r.pos} bytes after the end of the message`);
    return value;
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    const path = joinPath(e.path);
    throw new ProtocolError(`${context}: ${e.what} at byte ${e.offset}${path === '' ? '' : ` (${path})`}`, e.offset);
  }
}
