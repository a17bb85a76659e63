/**
 * `npm run gen:kafka-api` — writes src/kafka-api/protocol/messages.generated.ts from Kafka's own message
 * definitions (`common/message/*.json` inside kafka-clients' jar, from .cache/kafka/libs unless
 * `--jar FILE` names one). Needs `unzip` on PATH; run on a development machine only: the output is
 * committed, so a gateway never needs Java, Maven or the jar.
 *
 * Output: for each API below, its request and response as data (schema.ts: FieldSpec, MessageSpec) for
 * the versions listed, plus RequestHeader and ResponseHeader; `API_KEYS` (name → key); `APIS` (name →
 * key, validVersions, flexibleVersions, specs); and TypeScript interfaces per message with a namespace of
 * its nested structs (`FetchResponse.PartitionData`). A field that exists only in some of the generated
 * versions, or is tagged, is optional in the interface.
 *
 * The definitions' JSON has `//` comment lines; they are stripped before parsing. Features this generator
 * does not implement (commonStructs, nullable structs, tagged fields outside flexible versions) make it
 * fail rather than write a table that decodes wrongly.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION_MAX, type FieldSpec, type MessageSpec, type PrimitiveType, type VersionRange } from '../../src/kafka-api/protocol/schema.js';

/** The APIs generated and the versions of each (tributary serves narrower ranges; see src/kafka-api). */
const API_VERSIONS: ReadonlyArray<readonly [name: string, min: number, max: number]> = [
  ['ApiVersions', 0, 4], ['Metadata', 0, 12], ['FindCoordinator', 0, 6], ['JoinGroup', 0, 9],
  ['SyncGroup', 0, 5], ['Heartbeat', 0, 4], ['LeaveGroup', 0, 5], ['OffsetFetch', 0, 9],
  ['OffsetCommit', 0, 9], ['ListOffsets', 0, 9], ['Fetch', 0, 17], ['DescribeGroups', 0, 5],
  ['ListGroups', 0, 5], ['DeleteGroups', 0, 2], ['SaslHandshake', 0, 1], ['SaslAuthenticate', 0, 2],
];

const PRIMITIVES: ReadonlySet<string> = new Set<PrimitiveType>([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid',
]);

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const outFile = resolve(repoRoot, 'src', 'kafka-api', 'protocol', 'messages.generated.ts');

interface JsonField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  default?: string | number | boolean;
  fields?: JsonField[];
}

interface JsonMessage {
  name: string;
  type: string;
  apiKey?: number;
  validVersions: string;
  flexibleVersions: string;
  fields: JsonField[];
  commonStructs?: unknown[];
}

function parseRange(text: string | undefined, what: string): VersionRange | null {
  if (text === undefined || text === 'none') return null;
  const m = /^(\d+)(?:(\+)|-(\d+))?$/.exec(text.trim());
  if (m === null) throw new Error(`${what}: cannot parse version range '${text}'`);
  const min = Number(m[1]);
  const max = m[2] === '+' ? VERSION_MAX : m[3] !== undefined ? Number(m[3]) : min;
  if (max < min) throw new Error(`${what}: empty version range '${text}'`);
  return [min, max];
}

function clip(range: VersionRange | null, to: VersionRange): VersionRange | null {
  if (range === null) return null;
  const min = Math.max(range[0], to[0]);
  const max = Math.min(range[1], to[1]);
  return min <= max ? [min, max] : null;
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

function parseDefault(f: JsonField, primitive: string, where: string): FieldSpec['default'] {
  const d = f.default;
  if (d === undefined) return undefined;
  const text = String(d);
  if (text === 'null') return null;
  switch (primitive) {
    case 'bool':
      if (text !== 'true' && text !== 'false') throw new Error(`${where}: bad bool default '${text}'`);
      return text === 'true';
    case 'int8': case 'int16': case 'uint16': case 'int32': case 'uint32': case 'float64': {
      const n = Number(text);
      if (!Number.isFinite(n)) throw new Error(`${where}: bad numeric default '${text}'`);
      return n;
    }
    case 'int64': return BigInt(text).toString();
    case 'string': return text;
    default: throw new Error(`${where}: a default for type ${primitive} is not supported`);
  }
}

function convertField(f: JsonField, msgRange: VersionRange, flexible: VersionRange | null, where: string): FieldSpec | null {
  const path = `${where}.${f.name}`;
  const versions = clip(parseRange(f.versions, path), msgRange);
  if (versions === null) return null;
  const isArray = f.type.startsWith('[]');
  const inner = isArray ? f.type.slice(2) : f.type;
  const isStruct = !PRIMITIVES.has(inner);
  if (isStruct && f.fields === undefined) throw new Error(`${path}: struct ${inner} without fields (commonStructs are not supported)`);
  const nullable = clip(parseRange(f.nullableVersions, path), versions);
  if (isStruct && !isArray && nullable !== null) throw new Error(`${path}: nullable structs are not supported`);
  const tagged = clip(parseRange(f.taggedVersions, path), versions);
  if (tagged !== null) {
    if (f.tag === undefined) throw new Error(`${path}: taggedVersions without tag`);
    if (flexible === null || tagged[0] < flexible[0]) throw new Error(`${path}: tagged outside flexible versions`);
  }
  const spec: {
    -readonly [K in keyof FieldSpec]: FieldSpec[K];
  } = {
    name: lowerFirst(f.name),
    type: (isStruct ? (isArray ? '[]struct' : 'struct') : f.type) as FieldSpec['type'],
    versions,
  };
  if (nullable !== null) spec.nullable = nullable;
  if (tagged !== null) { spec.tagged = tagged; spec.tag = f.tag as number; }
  if (f.flexibleVersions !== undefined) spec.flexible = parseRange(f.flexibleVersions, path);
  if (!isStruct) {
    const def = parseDefault(f, isArray ? 'array' : inner, path);
    if (def !== undefined) spec.default = def;
  } else {
    if (f.default !== undefined && String(f.default) !== 'null') throw new Error(`${path}: struct default '${String(f.default)}'`);
    if (f.default !== undefined) spec.default = null;
    spec.struct = inner;
    spec.fields = (f.fields ?? []).map((c) => convertField(c, versions, flexible, path)).filter((c): c is FieldSpec => c !== null);
  }
  if (isArray && !isStruct && f.default !== undefined && String(f.default) !== 'null') throw new Error(`${path}: array default '${String(f.default)}'`);
  return spec;
}

function convertMessage(json: JsonMessage, range: VersionRange): MessageSpec {
  if (json.commonStructs !== undefined && json.commonStructs.length > 0) throw new Error(`${json.name}: commonStructs are not supported`);
  const valid = parseRange(json.validVersions, json.name);
  if (valid === null || range[0] < valid[0] || range[1] > valid[1]) {
    throw new Error(`${json.name}: versions ${range[0]}-${range[1]} are not inside validVersions ${json.validVersions}`);
  }
  const flexible = clip(parseRange(json.flexibleVersions, json.name), range);
  return {
    name: json.name,
    versions: range,
    flexibleFrom: flexible === null ? null : flexible[0],
    fields: json.fields.map((f) => convertField(f, range, flexible, json.name)).filter((f): f is FieldSpec => f !== null),
  };
}

function readJson(jar: string, name: string): JsonMessage {
  const text = execFileSync('unzip', ['-p', jar, `common/message/${name}.json`], { encoding: 'utf8', maxBuffer: 8 << 20 });
  if (text.length === 0) throw new Error(`${jar} has no common/message/${name}.json`);
  const withoutComments = text.split('\n').filter((line) => !/^\s*\/\//.test(line)).join('\n');
  return JSON.parse(withoutComments) as JsonMessage;
}

// ---- TypeScript output --------------------------------------------------------------------------

function tsPrimitive(t: string): string {
  switch (t) {
    case 'bool': return 'boolean';
    case 'int64': return 'bigint';
    case 'string': return 'string';
    case 'bytes': case 'records': case 'uuid': return 'Buffer';
    default: return 'number';
  }
}

function tsFieldType(f: FieldSpec, ns: string): string {
  let t: string;
  if (f.type === 'struct') t = `${ns}.${f.struct as string}`;
  else if (f.type === '[]struct') t = `${ns}.${f.struct as string}[]`;
  else if (f.type.startsWith('[]')) t = `${tsPrimitive(f.type.slice(2))}[]`;
  else t = tsPrimitive(f.type);
  return f.nullable !== undefined ? `${t} | null` : t;
}

function tsInterface(name: string, fields: readonly FieldSpec[], range: VersionRange, flexible: boolean, ns: string, indent: string): string {
  const lines = [`${indent}export interface ${name} {`];
  for (const f of fields) {
    const always = f.versions[0] <= range[0] && f.versions[1] >= range[1] && f.tagged === undefined;
    lines.push(`${indent}  ${f.name}${always ? '' : '?'}: ${tsFieldType(f, ns)};`);
  }
  if (flexible) lines.push(`${indent}  _unknownTaggedFields?: TaggedField[];`);
  lines.push(`${indent}}`);
  return lines.join('\n');
}

function collectStructs(fields: readonly FieldSpec[], out: FieldSpec[]): void {
  for (const f of fields) {
    if (f.fields === undefined) continue;
    if (out.some((o) => o.struct === f.struct)) throw new Error(`struct name ${f.struct as string} used twice in one message`);
    out.push(f);
    collectStructs(f.fields, out);
  }
}

function tsMessageTypes(m: MessageSpec): string {
  const flexible = m.flexibleFrom !== null;
  const parts = [tsInterface(m.name, m.fields, m.versions, flexible, m.name, '')];
  const structs: FieldSpec[] = [];
  collectStructs(m.fields, structs);
  if (structs.length > 0) {
    const inner = structs.map((s) => tsInterface(s.struct as string, s.fields ?? [], s.versions, flexible, m.name, '  '));
    parts.push(`export namespace ${m.name} {\n${inner.join('\n')}\n}`);
  }
  return parts.join('\n');
}

// ---- table output: one field a line, nested fields indented --------------------------------------

/** Ranges are clipped to the generated versions, so they never reach VERSION_MAX. */
const v = (r: VersionRange): string => `[${r[0]}, ${r[1]}]`;

function tsFieldSpec(f: FieldSpec, indent: string): string {
  const props = [`name: '${f.name}'`, `type: '${f.type}'`, `versions: ${v(f.versions)}`];
  if (f.nullable !== undefined) props.push(`nullable: ${v(f.nullable)}`);
  if (f.tagged !== undefined) props.push(`tagged: ${v(f.tagged)}`, `tag: ${f.tag as number}`);
  if (f.flexible !== undefined) props.push(`flexible: ${f.flexible === null ? 'null' : v(f.flexible)}`);
  if (f.default !== undefined) props.push(`default: ${JSON.stringify(f.default)}`);
  if (f.struct !== undefined) props.push(`struct: '${f.struct}'`);
  if (f.fields === undefined) return `${indent}{ ${props.join(', ')} },`;
  const children = f.fields.map((c) => tsFieldSpec(c, indent + '  ')).join('\n');
  return `${indent}{ ${props.join(', ')}, fields: [\n${children}\n${indent}] },`;
}

function tsMessageSpec(m: MessageSpec, indent: string): string {
  const fields = m.fields.map((f) => tsFieldSpec(f, indent + '  ')).join('\n');
  return `{ name: '${m.name}', versions: ${v(m.versions)}, flexibleFrom: ${m.flexibleFrom === null ? 'null' : m.flexibleFrom}, fields: [\n${fields}\n${indent}] }`;
}

function findJar(args: readonly string[]): string {
  const at = args.indexOf('--jar');
  if (at >= 0) {
    const jar = args[at + 1];
    if (jar === undefined) throw new Error('--jar needs a file');
    return resolve(jar);
  }
  const libs = resolve(repoRoot, '.cache', 'kafka', 'libs');
  const jars = fs.existsSync(libs) ? fs.readdirSync(libs).filter((f) => /^kafka-clients-[\d.]+\.jar$/.test(f)) : [];
  if (jars.length !== 1) throw new Error(`expected one kafka-clients jar in ${libs} (run scripts/kafka-dev.sh start once), found ${jars.length}; or pass --jar FILE`);
  return resolve(libs, jars[0] as string);
}

function main(): void {
  const jar = findJar(process.argv.slice(2));
  const out: string[] = [
    '// GENERATED FILE — do not edit. Regenerate with `npm run gen:kafka-api`',
    `// (scripts/kafka-api/gen-messages.ts), from ${basename(jar)}: common/message/*.json.`,
    '// Kafka\'s message definitions as data for codec.ts (shapes in schema.ts), and typed interfaces per message.',
    '/* eslint-disable */',
    "import type { ApiSpec, MessageSpec, TaggedField } from './schema.js';",
    '',
  ];
  const header = (name: string, range: VersionRange): MessageSpec => convertMessage(readJson(jar, name), range);
  out.push(`export const REQUEST_HEADER: MessageSpec = ${tsMessageSpec(header('RequestHeader', [0, 2]), '')};`, '');
  out.push(`export const RESPONSE_HEADER: MessageSpec = ${tsMessageSpec(header('ResponseHeader', [0, 1]), '')};`, '');

  const keys: string[] = [];
  const apis: string[] = [];
  const types: string[] = [];
  for (const [name, min, max] of API_VERSIONS) {
    const reqJson = readJson(jar, `${name}Request`);
    const resJson = readJson(jar, `${name}Response`);
    if (reqJson.apiKey === undefined || reqJson.apiKey !== resJson.apiKey) throw new Error(`${name}: request and response api keys differ`);
    if (reqJson.flexibleVersions !== resJson.flexibleVersions) throw new Error(`${name}: request and response flexible versions differ`);
    const range: VersionRange = [min, max];
    const request = convertMessage(reqJson, range);
    const response = convertMessage(resJson, range);
    const flexible = clip(parseRange(reqJson.flexibleVersions, name), range);
    keys.push(`  ${name}: ${reqJson.apiKey},`);
    apis.push([
      `  ${name}: {`,
      `    name: '${name}', key: ${reqJson.apiKey}, validVersions: ${v(range)}, flexibleVersions: ${flexible === null ? 'null' : v(flexible)},`,
      `    request: ${tsMessageSpec(request, '    ')},`,
      `    response: ${tsMessageSpec(response, '    ')},`,
      '  },',
    ].join('\n'));
    types.push(tsMessageTypes(request), tsMessageTypes(response));
  }
  out.push('/** API name → API key. */', 'export const API_KEYS = {', ...keys, '} as const;', '');
  out.push('export type ApiName = keyof typeof API_KEYS;', '');
  out.push('/** Per API: key, the generated (valid) versions, flexible versions, and the request and response tables. */');
  out.push('export const APIS: { readonly [K in ApiName]: ApiSpec } = {', ...apis, '};', '');
  out.push('// ---- interfaces: a field that exists only in some versions, or is tagged, is optional ----', '');
  out.push(...types.map((t) => t + '\n'));
  fs.writeFileSync(outFile, out.join('\n'));
  console.log(`wrote ${outFile} from ${jar}`);
}

main();
