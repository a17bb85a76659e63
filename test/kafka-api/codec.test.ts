/**
 * The Kafka protocol codec (src/kafka-api/protocol/codec.ts) against an independent oracle: the real
 * Kafka 3.9 broker on 127.0.0.1:19092. Requests our codec encodes go over a bare socket and Kafka's
 * answers are decoded by it: ApiVersions at v0, v3 and v4 (v3+ with the client software fields, and
 * Kafka's tagged features), an unknown ApiVersions version answered with error 35 in the v0 layout,
 * Metadata v4 and v12 for a topic made here, ListOffsets and Fetch (v4, v13, v17) on records produced with
 * kafkajs, whose batch bytes an independent decoder (@platformatic/kafka's readRecordsBatches) reads back.
 * Every frame Kafka sent is re-encoded byte for byte. Then bad input: every truncation of real frames,
 * lengths claiming 2^31, compact length 0 (null) against 1 (empty), a huge count three arrays deep,
 * trailing bytes, and 10,000 seeded mutations of real frames: each decodes or throws ProtocolError, and
 * nothing else. Encoding our own bad values throws TypeError naming the field path.
 * (Real clients' traffic through a recording proxy: codec-clients.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { Reader, readRecordsBatches } from '@platformatic/kafka';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, ProtocolError } from '../../src/kafka-api/protocol/codec.js';
import { API_KEYS } from '../../src/kafka-api/protocol/messages.generated.js';
import { createTopic, ensureKafka } from '../helpers/kafka.js';
import { KafkaConnection } from './helpers/frames.js';
import { assertEveryTruncationRejected, decodeOrReject, fuzz } from './helpers/fuzz.js';

const { ApiVersions, Metadata, ListOffsets, Fetch, JoinGroup, OffsetFetch } = API_KEYS;
const UNSUPPORTED_VERSION = 35;
const topic = `codec-test-${process.pid}-${Date.now()}`;
const produced = ['codec-record-0', 'codec-record-1', 'codec-record-2', 'codec-record-3', 'codec-record-4'];

let conn: KafkaConnection;
let correlationId = 0;
/** Every exchange with the broker, for the byte-exact and bad-input tests further down. */
const exchanges: Array<{ apiKey: number; apiVersion: number; request: Buffer; response: Buffer }> = [];

async function call(apiKey: number, apiVersion: number, body: object): Promise<Record<string, unknown>> {
  const id = ++correlationId;
  const request = encodeRequest({ apiKey, apiVersion, correlationId: id, clientId: 'tributary-codec-test' }, body);
  const response = await conn.send(request);
  exchanges.push({ apiKey, apiVersion, request, response });
  const decoded = decodeResponse(apiKey, apiVersion, response);
  assert.equal(decoded.correlationId, id);
  return decoded.body;
}

before(async () => {
  const { brokers } = await ensureKafka();
  await createTopic(brokers, topic, 3, 1);
  const kafka = new kafkajs.Kafka({ clientId: 'tributary-codec-test', brokers, logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: produced.map((value) => ({ value, partition: 0 })) });
  await producer.disconnect();
  const [host = '', port = ''] = (brokers[0] ?? '').split(':');
  conn = await KafkaConnection.connect(host, Number(port));
});

after(() => conn?.close());

type Obj = Record<string, unknown>;
const arr = (v: unknown): Obj[] => {
  assert.ok(Array.isArray(v), `expected an array, got ${String(v)}`);
  return v as Obj[];
};

test('ApiVersions v0, v3 and v4: the broker lists its APIs; v3+ carries the tagged feature fields', async () => {
  for (const version of [0, 3, 4]) {
    const body = await call(ApiVersions, version, { clientSoftwareName: 'tributary', clientSoftwareVersion: '0.1.0' });
    assert.equal(body.errorCode, 0);
    const fetch = arr(body.apiKeys).find((k) => k.apiKey === Fetch);
    assert.ok(fetch !== undefined && (fetch.maxVersion as number) >= 17, `Fetch up to v17 at ApiVersions v${version}`);
    assert.equal(body.throttleTimeMs, version >= 1 ? 0 : undefined);
    if (version >= 3) {
      assert.ok(arr(body.finalizedFeatures).some((f) => f.name === 'metadata.version'), 'finalized features (tag 2) decoded');
      assert.equal(typeof body.finalizedFeaturesEpoch, 'bigint');
    } else {
      assert.equal(body.finalizedFeatures, undefined);
    }
  }
});

test('ApiVersions at a version the broker does not know: error 35 in the v0 layout, with its ranges', async () => {
  const request = encodeRequest({ apiKey: ApiVersions, apiVersion: 3, correlationId: 9999, clientId: 'tributary-codec-test' }, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
  request.writeInt16BE(99, 4 + 2);
  assert.deepEqual(decodeRequest(request.subarray(4)), { header: { apiKey: ApiVersions, apiVersion: 99, correlationId: 9999, clientId: 'tributary-codec-test' }, body: null });
  const response = await conn.send(request);
  const { correlationId: id, body } = decodeResponse(ApiVersions, 0, response);
  assert.equal(id, 9999);
  assert.equal(body.errorCode, UNSUPPORTED_VERSION);
  assert.deepEqual(arr(body.apiKeys).find((k) => k.apiKey === ApiVersions), { apiKey: ApiVersions, minVersion: 0, maxVersion: 4 });
  assert.deepEqual(encodeResponse(ApiVersions, 0, 9999, body).subarray(4), response);
});

let topicId: Buffer = Buffer.alloc(16);

test('Metadata v4 and v12: the topic made here, its 3 partitions, the broker at 127.0.0.1:19092', async () => {
  for (const version of [4, 12]) {
    const body = await call(Metadata, version, { topics: [{ name: topic }], allowAutoTopicCreation: false });
    assert.deepEqual(arr(body.brokers).map((b) => [b.host, b.port]), [['127.0.0.1', 19092]]);
    const [t] = arr(body.topics);
    assert.ok(t !== undefined);
    assert.equal(t.name, topic);
    assert.equal(t.errorCode, 0);
    assert.deepEqual(arr(t.partitions).map((p) => p.partitionIndex).sort(), [0, 1, 2]);
    if (version >= 10) {
      assert.ok(Buffer.isBuffer(t.topicId) && t.topicId.length === 16 && t.topicId.some((b) => b !== 0), 'a topic id');
      topicId = t.topicId;
    } else {
      assert.equal(t.topicId, undefined);
    }
  }
});

test('ListOffsets v4 and v9: earliest 0 and latest 5 on partition 0', async () => {
  for (const version of [4, 9]) {
    for (const [timestamp, expected] of [[-2n, 0n], [-1n, BigInt(produced.length)]] as const) {
      const body = await call(ListOffsets, version, { replicaId: -1, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp }] }] });
      const p = arr(arr(body.topics)[0]?.partitions)[0];
      assert.equal(p?.errorCode, 0);
      assert.equal(p?.offset, expected, `v${version} timestamp ${timestamp}`);
    }
  }
});

test('Fetch v4, v13 and v17: the records produced, as a batch another decoder reads', async () => {
  for (const version of [4, 13, 17]) {
    const fetchTopic = version >= 13 ? { topicId } : { topic };
    const body = await call(Fetch, version, {
      replicaId: -1, maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 20, sessionId: 0, sessionEpoch: -1,
      topics: [{ ...fetchTopic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
    });
    const p = arr(arr(body.responses)[0]?.partitions)[0];
    assert.equal(p?.errorCode, 0);
    assert.equal(p?.highWatermark, BigInt(produced.length));
    assert.ok(Buffer.isBuffer(p.records));
    const values = readRecordsBatches(Reader.from(p.records)).flatMap((b) => b.records.map((r) => r.value?.toString()));
    assert.deepEqual(values, produced, `Fetch v${version}`);
  }
});

test('every response the broker sent re-encodes to the same bytes', () => {
  assert.ok(exchanges.length >= 12);
  for (const { apiKey, apiVersion, response } of exchanges) {
    const { correlationId: id, body } = decodeResponse(apiKey, apiVersion, response);
    assert.deepEqual(encodeResponse(apiKey, apiVersion, id, body).subarray(4), response, `API ${apiKey} v${apiVersion}`);
  }
});

test('every truncation of the real frames is a ProtocolError', () => {
  for (const { apiKey, apiVersion, request, response } of exchanges) {
    assertEveryTruncationRejected((f) => decodeRequest(f), request.subarray(4), `API ${apiKey} v${apiVersion} request`);
    assertEveryTruncationRejected((f) => decodeResponse(apiKey, apiVersion, f), response, `API ${apiKey} v${apiVersion} response`);
  }
});

/** Bytes written by hand, independently of the codec's encoder. */
class Bytes {
  private readonly parts: Buffer[] = [];
  private put(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.alloc(size);
    write(b);
    this.parts.push(b);
    return this;
  }
  i8(v: number): this { return this.put(1, (b) => b.writeInt8(v)); }
  i16(v: number): this { return this.put(2, (b) => b.writeInt16BE(v)); }
  i32(v: number): this { return this.put(4, (b) => b.writeInt32BE(v)); }
  u32(v: number): this { return this.put(4, (b) => b.writeUInt32BE(v)); }
  raw(...bytes: number[]): this { this.parts.push(Buffer.from(bytes)); return this; }
  str(s: string): this { return this.i16(Buffer.byteLength(s)).text(s); }
  cstr(s: string): this { return this.raw(Buffer.byteLength(s) + 1).text(s); }
  text(s: string): this { this.parts.push(Buffer.from(s)); return this; }
  header(apiKey: number, apiVersion: number, flexible: boolean): this {
    this.i16(apiKey).i16(apiVersion).i32(1).str('c');
    return flexible ? this.raw(0) : this;
  }
  done(): Buffer { return Buffer.concat(this.parts); }
}

function rejected(frame: Buffer, pattern: RegExp): void {
  assert.throws(() => decodeRequest(frame), (err: unknown) => err instanceof ProtocolError && pattern.test(err.message), `expected ProtocolError ${pattern}`);
}

test('lengths claiming 2^31: classic int32 (negative) and compact (2^31 - 1 elements) are ProtocolErrors', () => {
  rejected(new Bytes().header(Metadata, 4, false).u32(0x80000000).done(), /negative length -2147483648 at byte 11 \(topics\)/);
  rejected(new Bytes().header(Metadata, 4, false).i32(0x7fffffff).done(), /length 2147483647 but only 0 bytes left at byte 11/);
  rejected(new Bytes().header(Metadata, 12, true).raw(0x80, 0x80, 0x80, 0x80, 0x08).done(), /length 2147483647 above the limit|bytes left/);
  rejected(new Bytes().header(Metadata, 12, true).raw(0xff, 0xff, 0xff, 0xff, 0xff, 0x01).done(), /varint/);
});

test('a compact length of 0 is null (refused where not nullable), 1 is empty', () => {
  const join = (groupId: number[], instanceId: number[]): Buffer => new Bytes().header(JoinGroup, 9, true)
    .raw(...groupId).i32(10000).i32(30000).cstr('').raw(...instanceId).cstr('consumer').raw(1).raw(0).raw(0).done();
  rejected(join([0], [0]), /null, but the field is not nullable here at byte 12 \(groupId\)/);
  const ok = decodeRequest(join([1], [0]));
  assert.equal(ok.body?.groupId, '');
  assert.equal(ok.body?.groupInstanceId, null);
  assert.equal(decodeRequest(join([1], [1])).body?.groupInstanceId, '');
});

test('a huge count three arrays deep names its path; trailing bytes are refused', () => {
  const offsetFetch = (partitionCount: number[], trailing: number[]): Buffer => new Bytes().header(OffsetFetch, 9, true)
    .raw(2).cstr('g').cstr('m').i32(-1).raw(2).cstr('t').raw(...partitionCount).raw(0).raw(0).raw(0).raw(0).raw(...trailing).done();
  rejected(offsetFetch([0xfe, 0xff, 0xff, 0xff, 0x07], []), /length 2147483645 .* \(groups\[0\]\.topics\[0\]\.partitionIndexes\)/);
  assert.deepEqual(arr(arr(arr(decodeRequest(offsetFetch([1], [])).body?.groups)[0]?.topics)[0]?.partitionIndexes), []);
  rejected(offsetFetch([1], [0]), /1 bytes after the end of the message/);
});

test('an unknown API key gives the header and no body', () => {
  const frame = new Bytes().header(9999, 0, false).raw(1, 2, 3).done();
  assert.deepEqual(decodeRequest(frame), { header: { apiKey: 9999, apiVersion: 0, correlationId: 1, clientId: 'c' }, body: null });
  rejected(Buffer.alloc(9), /needs 10 bytes/);
});

test('10,000 mutations of real frames decode or throw ProtocolError, nothing else', () => {
  const frames = exchanges.flatMap(({ apiKey, apiVersion, request, response }) => [
    { frame: request.subarray(4), decode: (f: Buffer) => decodeRequest(f), what: `API ${apiKey} v${apiVersion} request` },
    { frame: response, decode: (f: Buffer) => decodeResponse(apiKey, apiVersion, f), what: `API ${apiKey} v${apiVersion} response` },
  ]);
  const started = Date.now();
  const tally = fuzz(frames, 10_000, 20240601);
  assert.ok(tally.rejected > 5_000, `most mutations are refused (${JSON.stringify(tally)})`);
  assert.ok(Date.now() - started < 20_000, 'no mutation makes decoding slow');
});

test('our own bad values: TypeError naming the field path', () => {
  const fetchWith = (partition: object): Buffer => encodeResponse(Fetch, 12, 1, {
    responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 0n, records: null }, { partitionIndex: 1, errorCode: 0, highWatermark: 0n, records: null }, partition] }],
  });
  const bad = (partition: object, pattern: RegExp): void => {
    assert.throws(() => fetchWith(partition), (err: unknown) => err instanceof TypeError && pattern.test(err.message));
  };
  bad({ partitionIndex: 2 ** 31, errorCode: 0, highWatermark: 0n }, /^Fetch v12 response: responses\[0\]\.partitions\[2\]\.partitionIndex: expected int32, got number 2147483648$/);
  bad({ partitionIndex: 2, errorCode: null, highWatermark: 0n }, /responses\[0\]\.partitions\[2\]\.errorCode: is null, but not nullable/);
  bad({ partitionIndex: 2, errorCode: 0, highWatermark: 5 }, /highWatermark: expected int64 \(bigint\), got number 5/);
  assert.throws(() => encodeRequest({ apiKey: Metadata, apiVersion: 12, correlationId: 1, clientId: null }, { topics: [{ name: 'x'.repeat(0x8000) }] }), /topics\[0\]\.name: string of 32768 UTF-8 bytes, above 32767/);
  assert.throws(() => encodeRequest({ apiKey: Metadata, apiVersion: 13, correlationId: 1, clientId: null }, {}), TypeError);
  assert.ok(fetchWith({ partitionIndex: 2, errorCode: 0, highWatermark: 0n }).length > 0, 'defaults fill the fields left out');
});

test('tagged fields: known ones by tag, unknown ones kept in _unknownTaggedFields and written back in tag order', () => {
  const body = {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, topics: [], forgottenTopicsData: [], rackId: '',
    clusterId: 'c1', _unknownTaggedFields: [{ tag: 7, data: Buffer.from('hi') }],
  };
  const frame = encodeRequest({ apiKey: Fetch, apiVersion: 12, correlationId: 1, clientId: null }, body);
  // ... rackId '' (compact: 0x01) | 2 tagged fields | tag 0, 3 bytes, compact 'c1' | tag 7, 2 bytes, 'hi'
  assert.deepEqual([...frame.subarray(-11)], [0x01, 0x02, 0x00, 0x03, 0x03, 0x63, 0x31, 0x07, 0x02, 0x68, 0x69]);
  const decoded = decodeRequest(frame.subarray(4)).body;
  assert.equal(decoded?.clusterId, 'c1');
  assert.deepEqual(decoded?._unknownTaggedFields, [{ tag: 7, data: Buffer.from('hi') }]);
  assert.deepEqual(encodeRequest({ apiKey: Fetch, apiVersion: 12, correlationId: 1, clientId: null }, decoded ?? {}), frame);
  // A known tagged field equal to its default is not written; absent, decoding gives the default.
  const plain = encodeRequest({ apiKey: Fetch, apiVersion: 12, correlationId: 1, clientId: null }, { ...body, clusterId: null, _unknownTaggedFields: [] });
  assert.equal(plain.at(-1), 0x00, 'no tagged fields');
  assert.equal(decodeRequest(plain.subarray(4)).body?.clusterId, null);
  // A tagged field whose value runs past its declared size is refused.
  const bad = Buffer.from(frame.subarray(4));
  bad[bad.length - 8] = 0x02;
  assert.throws(() => decodeRequest(bad), ProtocolError);
});
