/**
 * The shape of the message tables in messages.generated.ts: Kafka's own message definitions
 * (kafka-clients' `common/message/*.json`) turned into data, which codec.ts interprets.
 *
 *   message   := name, versions (the generated range), flexible (first flexible version or null), fields
 *   field     := name (JSON name, first letter lower-cased), type, versions, nullable, tagged + tag,
 *                flexible (a per-field override: RequestHeader's ClientId is classic even in header v2),
 *                default (already parsed: int64 as a decimal string, to keep the table plain data), fields
 *   type      := a primitive | 'struct' (a nested struct, written inline) | '[]' + primitive | '[]struct'
 *
 * Version ranges are inclusive [min, max]; max is VERSION_MAX for Kafka's "N+". A range that is null
 * never matches ("none"). Invariant, checked by the generator: a tagged range lies inside `versions`, and
 * tagged fields exist only in flexible versions.
 */

export const VERSION_MAX = 0x7fff;

export type VersionRange = readonly [min: number, max: number];

export type PrimitiveType =
  | 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64'
  | 'string' | 'bytes' | 'records' | 'uuid';

export type FieldType = PrimitiveType | 'struct' | `[]${PrimitiveType}` | '[]struct';

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly versions: VersionRange;
  readonly nullable?: VersionRange;
  readonly tagged?: VersionRange;
  readonly tag?: number;
  /** A per-field override of the message's flexible versions (for compact strings and arrays). */
  readonly flexible?: VersionRange | null;
  /** The JSON default, parsed: number, boolean, string, null; int64 as a decimal string. */
  readonly default?: number | boolean | string | null;
  /** For 'struct' and '[]struct': the struct's name in the JSON (for types and error messages) and its fields. */
  readonly struct?: string;
  readonly fields?: readonly FieldSpec[];
}

export interface MessageSpec {
  readonly name: string;
  /** The versions generated (those of the API we serve or probe; inside the JSON's validVersions). */
  readonly versions: VersionRange;
  /** First flexible version, or null when no version is flexible. */
  readonly flexibleFrom: number | null;
  readonly fields: readonly FieldSpec[];
}

export interface ApiSpec {
  readonly name: string;
  readonly key: number;
  readonly validVersions: VersionRange;
  /** Flexible versions as a range, or null ("none"). */
  readonly flexibleVersions: VersionRange | null;
  readonly request: MessageSpec;
  readonly response: MessageSpec;
}

export function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return range !== undefined && range !== null && version >= range[0] && version <= range[1];
}

/** A tagged field the definitions do not know, kept as read so that re-encoding writes it back unchanged. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}
