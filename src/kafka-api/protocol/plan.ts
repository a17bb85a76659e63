/**
 * A message table (schema.ts) resolved for one version: the fields that exist at that version, in wire
 * order, each with what the version decides for it (nullable, compact or classic lengths, tagged), and the
 * tagged ones apart, sorted by tag. Encoding and decoding then never look at version ranges again.
 *
 * Plans are built on first use and cached per (message, version); they are immutable. Invariants checked
 * when a plan is built: tags are unique within a struct, and an array's element takes at least one byte
 * on the wire, so a claimed element count can be checked against the bytes left (no unbounded loop).
 */
import { inRange, type FieldSpec, type MessageSpec, type PrimitiveType } from './schema.js';

export interface PlanField {
  readonly name: string;
  /** The value's type; for arrays, 'array' with `element`. */
  readonly type: PrimitiveType | 'struct' | 'array';
  readonly element: PrimitiveType | 'struct' | null;
  readonly nullable: boolean;
  /** Compact (unsigned varint length + 1) lengths for strings, bytes and arrays; classic otherwise. */
  readonly compact: boolean;
  /** The field's tag in this version, or -1 when it is a regular field. */
  readonly tag: number;
  /** The JSON default, parsed (int64 as bigint); undefined: the type's zero value. */
  readonly defaultValue: number | boolean | string | bigint | null | undefined;
  readonly struct: Plan | null;
}

export interface Plan {
  /** For error messages: `FetchRequest v12`, or a nested struct's name. */
  readonly name: string;
  readonly regular: readonly PlanField[];
  readonly tagged: readonly PlanField[];
  readonly flexible: boolean;
  /** The fewest bytes an instance takes on the wire. */
  readonly minBytes: number;
}

const FIXED_BYTES: Partial<Record<PrimitiveType, number>> = {
  bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16,
};

function minFieldBytes(f: PlanField): number {
  if (f.type === 'struct') return (f.struct as Plan).minBytes;
  const fixed = FIXED_BYTES[f.type as PrimitiveType];
  if (fixed !== undefined) return fixed;
  // strings, bytes, records and arrays: their length prefix (a null or empty one is 1 byte compact).
  if (f.compact) return 1;
  return f.type === 'string' ? 2 : 4;
}

function planField(spec: FieldSpec, version: number, flexible: boolean, where: string): PlanField {
  const isArray = spec.type.startsWith('[]');
  const base = isArray ? spec.type.slice(2) : spec.type;
  const struct = spec.fields === undefined ? null : planStruct(spec.struct ?? spec.name, spec.fields, version, flexible);
  if (isArray && struct !== null && struct.minBytes < 1) throw new Error(`${where}.${spec.name}: array elements of 0 bytes`);
  const tagged = inRange(spec.tagged, version);
  let defaultValue: PlanField['defaultValue'] = spec.default;
  if (base === 'int64' && typeof spec.default === 'string') defaultValue = BigInt(spec.default);
  return {
    name: spec.name,
    type: isArray ? 'array' : (base as PrimitiveType | 'struct'),
    element: isArray ? (base as PrimitiveType | 'struct') : null,
    nullable: inRange(spec.nullable, version),
    compact: spec.flexible !== undefined ? inRange(spec.flexible, version) : flexible,
    tag: tagged ? (spec.tag as number) : -1,
    defaultValue,
    struct,
  };
}

function planStruct(name: string, fields: readonly FieldSpec[], version: number, flexible: boolean): Plan {
  const regular: PlanField[] = [];
  const tagged: PlanField[] = [];
  for (const spec of fields) {
    if (!inRange(spec.versions, version)) continue;
    const f = planField(spec, version, flexible, name);
    (f.tag >= 0 ? tagged : regular).push(f);
  }
  tagged.sort((a, b) => a.tag - b.tag);
  for (let i = 1; i < tagged.length; i++) {
    if ((tagged[i] as PlanField).tag === (tagged[i - 1] as PlanField).tag) throw new Error(`${name}: tag ${(tagged[i] as PlanField).tag} used twice`);
  }
  if (tagged.length > 0 && !flexible) throw new Error(`${name}: tagged fields in a non-flexible version`);
  let minBytes = flexible ? 1 : 0;
  for (const f of regular) minBytes += minFieldBytes(f);
  return { name, regular, tagged, flexible, minBytes };
}

const cache = new Map<MessageSpec, Array<Plan | undefined>>();

/** The plan of `message` at `version`, or null when the table does not have that version. */
export function planFor(message: MessageSpec, version: number): Plan | null {
  if (!Number.isInteger(version) || version < message.versions[0] || version > message.versions[1]) return null;
  let plans = cache.get(message);
  if (plans === undefined) {
    plans = [];
    cache.set(message, plans);
  }
  let plan = plans[version];
  if (plan === undefined) {
    const flexible = message.flexibleFrom !== null && version >= message.flexibleFrom;
    plan = planStruct(`${message.name} v${version}`, message.fields, version, flexible);
    plans[version] = plan;
  }
  return plan;
}

/** A fresh default value for `f` (arrays, structs and Buffers are new objects: callers may change them). */
export function defaultFor(f: PlanField): unknown {
  if (f.defaultValue !== undefined) return f.defaultValue;
  switch (f.type) {
    case 'bool': return false;
    case 'int64': return 0n;
    case 'string': return '';
    case 'bytes': return Buffer.alloc(0);
    case 'records': return f.nullable ? null : Buffer.alloc(0);
    case 'uuid': return Buffer.alloc(16);
    case 'array': return [];
    case 'struct': return defaultStruct(f.struct as Plan);
    default: return 0;
  }
}

export function defaultStruct(plan: Plan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of plan.regular) out[f.name] = defaultFor(f);
  for (const f of plan.tagged) out[f.name] = defaultFor(f);
  return out;
}
