/**
 * The Kafka wire protocol codec: requests and responses of the APIs in messages.generated.ts (Kafka's own
 * message definitions, as tables), decoded to plain objects and encoded from them. Pure: no I/O.
 *
 *   request frame  := size int32 | request header | request body        (size counts what follows it)
 *   request header := apiKey int16 | apiVersion int16 | correlationId int32 | clientId (classic nullable
 *                     string, even in v2) [| tagged fields, in v2]
 *                     v2 when the API version is flexible, v1 otherwise
 *   response frame := size int32 | correlationId int32 [| tagged fields, when flexible] | response body
 *                     ApiVersions responses always have the v0 header (no tagged fields): a client that
 *                     sent a version the broker does not know must still be able to read the answer
 *
 * Values: field names are the JSON names with the first letter lower-cased; int64 is bigint; uuid a
 * 16-byte Buffer (all zero: none); bytes and records Buffers; nullable fields null when null; arrays of
 * structs arrays of plain objects. Decoding gives the fields of the version only (tagged ones absent on
 * the wire get their defaults); unknown tagged fields are kept in `_unknownTaggedFields` and encoded back,
 * so decode → encode reproduces the bytes of any frame written the way Kafka writes them.
 *
 * Errors: malformed input → ProtocolError (what, byte offset within the frame, field path); a value we
 * cannot encode (null where not nullable, an int out of range, a string over 32767 bytes, an API or
 * version the tables lack) → TypeError naming the field path: our own bug.
 */
import { ProtocolError } from '../../errors.js';
import { decodeWhole, readStruct } from './decode.js';
import { encodeFramed } from './encode.js';
import { APIS, REQUEST_HEADER, RESPONSE_HEADER } from './messages.generated.js';
import { planFor, type Plan } from './plan.js';
import type { ApiSpec } from './schema.js';

export { ProtocolError };

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

const API_BY_KEY: ReadonlyMap<number, ApiSpec> = new Map(Object.values(APIS).map((api) => [api.key, api]));
const API_VERSIONS_KEY = APIS.ApiVersions.key;
/** apiKey, apiVersion, correlationId and the clientId's int16 length: the least a request header takes. */
const REQUEST_HEADER_MIN_BYTES = 10;

/** The API with this key in the tables, or undefined. */
export function apiByKey(apiKey: number): ApiSpec | undefined {
  return API_BY_KEY.get(apiKey);
}

/** Whether `apiVersion` of the API is flexible (compact encodings, tagged fields, header v2 / v1). */
export function isFlexible(api: ApiSpec, apiVersion: number): boolean {
  return api.flexibleVersions !== null && apiVersion >= api.flexibleVersions[0];
}

function headerPlan(header: typeof REQUEST_HEADER, version: number): Plan {
  const plan = planFor(header, version);
  if (plan === null) throw new Error(`${header.name} has no version ${version}`);
  return plan;
}

function bodyPlan(apiKey: number, apiVersion: number, side: 'request' | 'response'): { api: ApiSpec; plan: Plan } {
  const api = API_BY_KEY.get(apiKey);
  const plan = api === undefined ? null : planFor(api[side], apiVersion);
  if (api === undefined || plan === null) throw new TypeError(`no ${side} table for API key ${apiKey} version ${apiVersion}`);
  return { api, plan };
}

function responseHeaderVersion(api: ApiSpec, apiVersion: number): number {
  return api.key !== API_VERSIONS_KEY && isFlexible(api, apiVersion) ? 1 : 0;
}

function toHeader(h: Record<string, unknown>): RequestHeader {
  return {
    apiKey: h.requestApiKey as number,
    apiVersion: h.requestApiVersion as number,
    correlationId: h.correlationId as number,
    clientId: h.clientId as string | null,
  };
}

/**
 * `frame` is one request without its 4-byte size prefix. For an API key or version the tables do not
 * have, the header alone is read (v1: its first fields are the same in every version) and body is null,
 * so that the server can answer UNSUPPORTED_VERSION.
 */
export function decodeRequest(frame: Buffer): { header: RequestHeader; body: Record<string, unknown> | null } {
  if (frame.length < REQUEST_HEADER_MIN_BYTES) {
    throw new ProtocolError(`request header: needs ${REQUEST_HEADER_MIN_BYTES} bytes, the frame has ${frame.length} at byte 0`, 0);
  }
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const api = API_BY_KEY.get(apiKey);
  const plan = api === undefined ? null : planFor(api.request, apiVersion);
  if (api === undefined || plan === null) {
    const header = decodeWhole(frame, 0, `request (API key ${apiKey} v${apiVersion})`, false, (r) => readStruct(r, headerPlan(REQUEST_HEADER, 1)));
    return { header: toHeader(header), body: null };
  }
  const hPlan = headerPlan(REQUEST_HEADER, isFlexible(api, apiVersion) ? 2 : 1);
  return decodeWhole(frame, 0, `${api.name} v${apiVersion} request`, true, (r) => {
    const header = toHeader(readStruct(r, hPlan));
    return { header, body: readStruct(r, plan) };
  });
}

/** The whole response: size prefix, response header (v0, or v1 when flexible except for ApiVersions), body. */
export function encodeResponse(apiKey: number, apiVersion: number, correlationId: number, body: object): Buffer {
  const { api, plan } = bodyPlan(apiKey, apiVersion, 'response');
  const hPlan = headerPlan(RESPONSE_HEADER, responseHeaderVersion(api, apiVersion));
  return encodeFramed(`${api.name} v${apiVersion} response`, [[hPlan, { correlationId }], [plan, body]]);
}

/** The whole request: size prefix, request header (v1, or v2 when flexible), body. */
export function encodeRequest(header: RequestHeader, body: object): Buffer {
  const { api, plan } = bodyPlan(header.apiKey, header.apiVersion, 'request');
  const hPlan = headerPlan(REQUEST_HEADER, isFlexible(api, header.apiVersion) ? 2 : 1);
  const h = { requestApiKey: header.apiKey, requestApiVersion: header.apiVersion, correlationId: header.correlationId, clientId: header.clientId };
  return encodeFramed(`${api.name} v${header.apiVersion} request`, [[hPlan, h], [plan, body]]);
}

/** `frame` is one response without its 4-byte size prefix. */
export function decodeResponse(apiKey: number, apiVersion: number, frame: Buffer): { correlationId: number; body: Record<string, unknown> } {
  const { api, plan } = bodyPlan(apiKey, apiVersion, 'response');
  const hPlan = headerPlan(RESPONSE_HEADER, responseHeaderVersion(api, apiVersion));
  return decodeWhole(frame, 0, `${api.name} v${apiVersion} response`, true, (r) => {
    const header = readStruct(r, hPlan);
    return { correlationId: header.correlationId as number, body: readStruct(r, plan) };
  });
}
