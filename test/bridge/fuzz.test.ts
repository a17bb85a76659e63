/**
 * Bad input never takes the bridge down nor disturbs an honest device: 100,000 datagrams, half random
 * bytes and half mutations of valid MQTT-SN messages of every type (bits flipped, cut short, lengths
 * rewritten, bytes appended, some inside forwarder encapsulation), from four addresses, while an honest
 * device (scapy's codec) keeps publishing at QoS 1. Every honest publish is acknowledged (a device
 * retries like firmware does: the flood may make the kernel drop a datagram), serve is still up, and
 * the drops are counted by reason.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { encode, type Message } from '../../firmware-bridge/src/codec.js';
import { wrap } from '../../firmware-bridge/src/encapsulation.js';
import { metricValue } from '../helpers/broker.js';
import { startBridgeServe } from './serve-bridge.js';
import { SnClient } from './sn-client.js';

const DATAGRAMS = 100_000;
const BATCH = 100;
const HONEST_PUBLISHES = 20;

const SEEDS: Buffer[] = ([
  { type: 'CONNECT', will: true, cleanSession: true, duration: 5, clientId: 'fuzz' },
  { type: 'CONNECT', will: false, cleanSession: false, duration: 1, clientId: 'fz' },
  { type: 'WILLTOPIC', will: { qos: 1, retain: false, topic: 'w/f' } },
  { type: 'WILLMSG', message: Buffer.from('bye') },
  { type: 'REGISTER', topicId: 0, msgId: 1, topicName: 'fuzz/t' },
  { type: 'PUBLISH', dup: false, qos: 1, retain: false, topic: { kind: 'normal', id: 1 }, msgId: 2, data: Buffer.from('x') },
  { type: 'PUBLISH', dup: false, qos: -1, retain: false, topic: { kind: 'short', name: 'fz' }, msgId: 0, data: Buffer.from('x') },
  { type: 'PUBLISH', dup: false, qos: 2, retain: true, topic: { kind: 'predefined', id: 1 }, msgId: 3, data: Buffer.alloc(300) },
  { type: 'PUBREL', msgId: 3 }, { type: 'PUBACK', topicId: 1, msgId: 1, returnCode: 0 }, { type: 'PUBREC', msgId: 1 },
  { type: 'SUBSCRIBE', dup: false, qos: 1, msgId: 4, topic: { kind: 'name', name: 'fuzz/#' } },
  { type: 'UNSUBSCRIBE', dup: false, qos: 0, msgId: 5, topic: { kind: 'short', name: 'fz' } },
  { type: 'PINGREQ', clientId: 'fuzz' }, { type: 'PINGREQ', clientId: null },
  { type: 'DISCONNECT', duration: 1 }, { type: 'DISCONNECT', duration: null }, { type: 'SEARCHGW', radius: 1 },
  { type: 'WILLTOPICUPD', will: null }, { type: 'WILLMSGUPD', message: Buffer.from('m') }, { type: 'REGACK', topicId: 1, msgId: 1, returnCode: 0 },
] as Message[]).map(encode);

/** A small seeded PRNG, so a failure can be replayed (the seed is in the assertion message). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

function fuzzDatagram(rand: () => number): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  if (rand() < 0.5) return Buffer.from(Array.from({ length: int(64) }, () => int(256)));
  let d: Buffer = Buffer.from(SEEDS[int(SEEDS.length)] as Buffer);
  switch (int(5)) {
    case 0: for (let i = 0; i < 1 + int(3); i++) if (d.length > 0) { const at = int(d.length); d[at] = (d[at] as number) ^ (1 << int(8)); } break;
    case 1: d = d.subarray(0, int(d.length + 1)); break;
    case 2: d[0] = int(256); break;
    case 3: d = Buffer.concat([d, Buffer.from([int(256), int(256)])]); break;
    default: d = wrap(Buffer.from([int(256)]), d); break;
  }
  return d;
}

test('100,000 random and mutated datagrams: the bridge stays up and an honest device keeps getting its PUBACKs', async () => {
  const broker = await startBridgeServe('    devicesMax: 50\n    retriesMax: 1\n    predefinedTopics: { "1": fuzz/predefined }\n');
  const sn = SnClient.start();
  const sockets = await Promise.all([0, 1, 2, 3].map(() => new Promise<dgram.Socket>((resolve) => { const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => resolve(s)); })));
  const seed = Date.now() % 1_000_000;
  try {
    await sn.open('honest', broker.udpPort);
    await sn.connect('honest', 'honest-dev', { duration: 60 });
    await sn.send('honest', { type: 'REGISTER', tid: 0, mid: 1, topic_name: 'honest/t' });
    const { tid } = await sn.expect('honest', 'REGACK');

    const rand = prng(seed);
    let sent = 0;
    const flood = (async () => {
      const t0 = Date.now();
      while (sent < DATAGRAMS) {
        for (let i = 0; i < BATCH; i++, sent++) (sockets[sent % 4] as dgram.Socket).send(fuzzDatagram(rand), broker.udpPort, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 1));
      }
      return Date.now() - t0;
    })();

    let acked = 0;
    for (let i = 0; i < HONEST_PUBLISHES; i++) {
      for (let attempt = 0; attempt < 5; attempt++) {
        await sn.send('honest', { type: 'PUBLISH', qos: 1, dup: attempt > 0 ? 1 : 0, tid, mid: 100 + i, data: `honest-${i}` });
        const ack = await sn.recv('honest', 1);
        if (ack?.type === 'PUBACK' && ack.mid === 100 + i) {
          assert.equal(ack.return_code, 0);
          acked++;
          break;
        }
      }
    }
    const floodMs = await flood;
    assert.equal(acked, HONEST_PUBLISHES, `seed ${seed}: honest publishes acked`);
    assert.equal(sent, DATAGRAMS);
    const metrics = await broker.metrics();
    const dropped = ['truncated', 'bad-length', 'unknown-type', 'malformed', 'wrong-state', 'not-connected'].reduce((n, r) => n + metricValue(metrics, `tributary_bridge_dropped_total{reason="${r}"}`), 0);
    // The kernel drops what the bridge's socket cannot take in time (a loaded CI machine: only ~27,000 of
    // the 100,000 arrived once), so the counts are judged against what arrived: the bridge counted it
    // either as received or as dropped, most of it must be dropped (most of the flood is garbage), and
    // enough must have arrived for that to mean something.
    const received = metricValue(metrics, 'tributary_bridge_messages_total{kind="received"}');
    const detail = `seed ${seed}: ${dropped} drops counted; ${metrics.split('\n').filter((l) => l.startsWith('tributary_bridge')).join('; ')}`;
    assert.ok(dropped + received > DATAGRAMS / 10, `too little of the flood arrived to judge: ${detail}`);
    assert.ok(dropped > (dropped + received) / 2, detail);
    // Still serving: a fresh device connects and publishes.
    await sn.open('after', broker.udpPort);
    await sn.connect('after', 'after-dev');
    await sn.send('after', { type: 'PUBLISH', qos: 1, tid_type: 1, tid: 1, mid: 1, data: 'after the flood' });
    assert.equal((await sn.expect('after', 'PUBACK')).return_code, 0);
    assert.ok(floodMs < 30_000, `the flood took ${floodMs} ms`);
  } finally {
    for (const s of sockets) s.close();
    await sn.close();
    assert.equal(await broker.stop(), 0, 'serve exits cleanly after the flood');
  }
});
