/**
 * What the fast path takes and what it leaves to aedes (src/ingest/fast-publish.ts), with recording
 * stand-ins for aedes' client, the connection and authorizePublish: the common QoS 0/1 PUBLISH is
 * taken; QoS 2, retained, every refusal aedes or authorizePublish makes, an ACL denial and a client
 * not yet connected are declined (aedes handles them as before). A taken PUBLISH is acked only after
 * authorizePublish's callback, delivered through aedes only when a subscription matches, and a failed
 * append becomes the client's error without an ack.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import mqtt from 'mqtt-packet';
import type { Client } from 'aedes';
import type { GatedConnection } from '../../src/ingest/connection.js';
import { FastPublish, deliverBeforeAck, type FastPublishDeps } from '../../src/ingest/fast-publish.js';
import type { PublishFrame } from '../../src/ingest/frames.js';

interface Rig {
  fast: FastPublish;
  client: EventEmitter & { connackSent: boolean; closed: boolean; _parser: { _queue: unknown[] | null }; _keepaliveInterval: number; _keepaliveTimer: { refresh(): void } };
  acks: number[];
  authorized: Array<{ packet: PublishFrame; done: (err?: Error | null) => void }>;
  delivered: PublishFrame[];
  errors: Error[];
  refreshes: () => number;
}

function rig(options: { subscribers?: boolean; allowed?: (topic: string) => boolean } = {}): Rig {
  let refreshes = 0;
  const client = Object.assign(new EventEmitter(), {
    connackSent: true,
    closed: false,
    _parser: { _queue: null as unknown[] | null },
    _keepaliveInterval: 1500,
    _keepaliveTimer: { refresh: () => void refreshes++ },
  });
  const errors: Error[] = [];
  client.on('error', (err: Error) => errors.push(err));
  const acks: number[] = [];
  const conn = { ack: (id: number) => acks.push(id) } as unknown as GatedConnection;
  const authorized: Rig['authorized'] = [];
  const delivered: PublishFrame[] = [];
  const deps: FastPublishDeps = {
    authorizePublish: (_c, packet, done) => authorized.push({ packet, done }),
    mayPublish: (_c, topic) => (options.allowed ?? (() => true))(topic),
    maxPayloadBytes: 1024,
    maxTopicLevels: 5,
    hasSubscribers: () => options.subscribers === true,
    deliver: (packet, _c, done) => {
      delivered.push(packet);
      done(null);
    },
  };
  return { fast: new FastPublish(client as unknown as Client, conn, deps), client, acks, authorized, delivered, errors, refreshes: () => refreshes };
}

const frame = (topic: string, qos: 0 | 1 | 2, options: { retain?: boolean; payload?: Buffer; messageId?: number } = {}): Buffer =>
  mqtt.generate({ cmd: 'publish', topic, payload: options.payload ?? Buffer.from('x'), qos, retain: options.retain ?? false, dup: false, ...(qos > 0 ? { messageId: options.messageId ?? 9 } : {}) });

test('declined, for aedes to handle as before: QoS 2, retained, refusals, too many levels, an ACL denial', () => {
  const r = rig({ allowed: (topic) => topic !== 'denied' });
  const declined = [
    frame('a/b', 2),
    frame('a/b', 1, { retain: true }),
    frame('', 1),
    frame('a/+', 1),
    frame('a/#', 0),
    frame('a\u0000b', 1),
    frame('$SYS/x', 1),
    frame('a/b', 1, { payload: Buffer.alloc(1025) }),
    frame('1/2/3/4/5/6', 1),
    frame('denied', 1),
    mqtt.generate({ cmd: 'pingreq' }),
  ];
  for (const f of declined) assert.equal(r.fast.offer(f, () => assert.fail('settled')), false, f.toString('latin1'));
  assert.equal(r.authorized.length, 0);
  // At the limits, taken.
  assert.equal(r.fast.offer(frame('1/2/3/4/5', 1, { payload: Buffer.alloc(1024) }), () => undefined), true);
});

test('ready only once connected, with nothing left in aedes’ connect queue, and not after close', () => {
  const r = rig();
  assert.equal(r.fast.ready(), true);
  r.client._parser._queue = [];
  assert.equal(r.fast.ready(), false, 'aedes still holds packets it queued while connecting');
  r.client._parser._queue = null;
  r.client.connackSent = false;
  assert.equal(r.fast.ready(), false);
  r.client.connackSent = true;
  r.client.closed = true;
  assert.equal(r.fast.ready(), false);
});

test('a taken QoS 1 PUBLISH: the keepalive refreshed, acked only after authorizePublish’s callback, then settled', () => {
  const r = rig();
  let settled = 0;
  assert.equal(r.fast.offer(frame('s/1', 1, { messageId: 4242 }), () => settled++), true);
  assert.equal(r.refreshes(), 1);
  assert.equal(r.authorized.length, 1);
  const { packet, done } = r.authorized[0] as Rig['authorized'][number];
  assert.deepEqual([packet.cmd, packet.topic, packet.qos, packet.retain, packet.messageId, packet.payload.toString()], ['publish', 's/1', 1, false, 4242, 'x']);
  assert.deepEqual(r.acks, [], 'no ack before the append is durable');
  done(null);
  assert.deepEqual(r.acks, [4242]);
  assert.equal(settled, 1);
});

test('a failed append: no ack, settled, and the client’s error (aedes then closes it)', () => {
  const r = rig();
  let settled = 0;
  r.fast.offer(frame('s/1', 1), () => settled++);
  const failure = new Error('commit failed');
  r.authorized[0]?.done(failure);
  assert.deepEqual(r.acks, []);
  assert.equal(settled, 1);
  assert.deepEqual(r.errors, [failure]);
});

test('delivery through aedes only when a subscription matches: QoS 0 after its append, QoS 1 before its ack', () => {
  const none = rig({ subscribers: false });
  none.fast.offer(frame('s/0', 0), () => undefined);
  none.authorized[0]?.done(null);
  assert.deepEqual(none.delivered, []);
  assert.deepEqual(none.acks, [], 'QoS 0 has no ack');

  const some = rig({ subscribers: true });
  some.fast.offer(frame('s/0', 0), () => undefined);
  assert.deepEqual(some.delivered, [], 'not before the append is durable');
  some.authorized[0]?.done(null);
  assert.equal(some.delivered.length, 1);

  // QoS 1: append.ts calls beforeAck once the record is durable; the ack waits for it.
  const packet = { topic: 's/1', qos: 1 } as PublishFrame;
  const order: string[] = [];
  const deps = {
    hasSubscribers: () => true,
    deliver: (_p: PublishFrame, _c: Client, done: (err?: Error | null) => void) => {
      order.push('deliver');
      done(null);
    },
  };
  deliverBeforeAck(deps, packet, {} as Client, () => order.push('ack'));
  deliverBeforeAck({ ...deps, hasSubscribers: () => false }, packet, {} as Client, () => order.push('ack without delivery'));
  assert.deepEqual(order, ['deliver', 'ack', 'ack without delivery']);
});
