/**
 * MQTT-SN 1.2 flows through the bridge inside `serve`, driven by an independent codec (scapy's
 * `scapy.contrib.mqttsn`, test/bridge/mqttsn_client.py) over real UDP, and watched from the broker side
 * by plain MQTT clients. It proves, each message type at least once:
 *  - discovery (SEARCHGW → GWINFO) and the connect handshake with a will (CONNECT, WILLTOPICREQ,
 *    WILLTOPIC, WILLMSGREQ, WILLMSG, then CONNACK), will updates (WILLTOPICUPD/RESP, WILLMSGUPD/RESP),
 *    and a clean DISCONNECT that does not publish the will;
 *  - publishing at QoS 0, 1, 2 (PUBACK; PUBREC, PUBREL, PUBCOMP) on a REGISTERed id, PUBACK rc 2 for an
 *    unknown id, a 300-byte message with its 3-byte length both ways;
 *  - QoS −1 without a connection on a predefined id and on a short topic name, reaching the broker;
 *  - SUBSCRIBE to a wildcard: SUBACK carries topic id 0 and the gateway REGISTERs each new topic before
 *    it PUBLISHes on it, again after a reconnect; a plain name's SUBACK carries its id and needs no
 *    REGISTER; deliveries at QoS 1 and 2; UNSUBSCRIBE stops them; PINGREQ → PINGRESP;
 *  - forwarder encapsulation (two nodes behind one forwarder, answers wrapped for each), IPv6;
 *  - a message from a peer with no session is answered with DISCONNECT and counted, an allowlist keeps
 *    other client ids out.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../helpers/broker.js';
import { nextPublish, publisher, subscriber } from './mqtt-side.js';
import { startBridgeServe, type BridgeServe } from './serve-bridge.js';
import { SnClient } from './sn-client.js';

let broker: BridgeServe;
let sn: SnClient;

test.before(async () => {
  broker = await startBridgeServe('    predefinedTopics: { "7": sensors/predef/seven }\n');
  sn = SnClient.start();
});
test.after(async () => {
  await sn.close();
  assert.equal(await broker.stop(), 0);
});

test('SEARCHGW, the will handshake, REGISTER, QoS 0/1/2 publishes, unknown id, 3-byte length, will updates, clean DISCONNECT', async () => {
  const watch = await subscriber(broker.mqttPort, 'flows/#');
  const wills = await subscriber(broker.mqttPort, 'wills/#');
  await sn.open('a', broker.udpPort);
  await sn.send('a', { type: 'SEARCHGW', radius: 0 });
  assert.equal((await sn.expect('a', 'GWINFO')).gw_id, 1);

  await sn.send('a', { type: 'CONNECT', client_id: 'dev-a', duration: 30, cleansess: 1, will: 1 });
  await sn.expect('a', 'WILLTOPICREQ');
  await sn.send('a', { type: 'WILLTOPIC', qos: 1, will_topic: 'wills/dev-a' });
  await sn.expect('a', 'WILLMSGREQ');
  await sn.send('a', { type: 'WILLMSG', will_msg: 'dev-a gone' });
  assert.equal((await sn.expect('a', 'CONNACK')).return_code, 0);

  await sn.send('a', { type: 'REGISTER', tid: 0, mid: 1, topic_name: 'flows/dev-a/t' });
  const regack = await sn.expect('a', 'REGACK');
  assert.equal(regack.return_code, 0);
  assert.equal(regack.mid, 1);
  const tid = regack.tid as number;
  assert.ok(tid > 0);

  await sn.send('a', { type: 'PUBLISH', qos: 0, tid, mid: 0, data: 'q0' });
  assert.deepEqual(await nextPublish(watch), { topic: 'flows/dev-a/t', payload: 'q0', qos: 0, retain: false });

  await sn.send('a', { type: 'PUBLISH', qos: 1, tid, mid: 2, data: 'q1' });
  const puback = await sn.expect('a', 'PUBACK');
  assert.deepEqual([puback.tid, puback.mid, puback.return_code], [tid, 2, 0]);
  assert.equal((await nextPublish(watch)).payload, 'q1');

  await sn.send('a', { type: 'PUBLISH', qos: 2, tid, mid: 3, data: 'q2' });
  assert.equal((await sn.expect('a', 'PUBREC')).mid, 3);
  await sn.send('a', { type: 'PUBREL', mid: 3 });
  assert.equal((await sn.expect('a', 'PUBCOMP')).mid, 3);
  assert.equal((await nextPublish(watch)).payload, 'q2');

  await sn.send('a', { type: 'PUBLISH', qos: 1, tid: 999, mid: 4, data: 'lost' });
  const rejected = await sn.expect('a', 'PUBACK');
  assert.deepEqual([rejected.tid, rejected.mid, rejected.return_code], [999, 4, 2], 'PUBACK rc 2: invalid topic id');

  const big = 'x'.repeat(300);
  const sent = await sn.send('a', { type: 'PUBLISH', qos: 1, tid, mid: 5, data: big });
  assert.ok(sent.startsWith('01013'), `scapy wrote the 3-byte length: ${sent.slice(0, 8)}`);
  await sn.expect('a', 'PUBACK');
  assert.equal((await nextPublish(watch)).payload, big);

  await sn.send('a', { type: 'WILLTOPICUPD', qos: 0, will_topic: 'wills/dev-a/2' });
  assert.equal((await sn.expect('a', 'WILLTOPICRESP')).return_code, 0);
  await sn.send('a', { type: 'WILLMSGUPD', will_msg: 'dev-a gone (2)' });
  assert.equal((await sn.expect('a', 'WILLMSGRESP')).return_code, 0);
  await sn.send('a', { type: 'PUBLISH', qos: 1, tid, mid: 6, data: 'after the will update' });
  await sn.expect('a', 'PUBACK');
  assert.equal((await nextPublish(watch)).payload, 'after the will update');

  await sn.send('a', { type: 'DISCONNECT' });
  await sn.expect('a', 'DISCONNECT');
  await assert.rejects(wills.next('publish', 700), /no publish/, 'a clean DISCONNECT publishes no will');
  watch.destroy();
  wills.destroy();
});

test('QoS -1 without a connection: predefined id and short topic name reach the broker; a normal id is dropped', async () => {
  const watch = await subscriber(broker.mqttPort, 'sensors/predef/#');
  const short = await subscriber(broker.mqttPort, 'zz');
  await sn.open('m1', broker.udpPort);
  await sn.send('m1', { type: 'PUBLISH', qos: 3, tid_type: 1, tid: 7, mid: 0, data: 'predefined' });
  assert.deepEqual(await nextPublish(watch), { topic: 'sensors/predef/seven', payload: 'predefined', qos: 1, retain: false });
  await sn.send('m1', { type: 'PUBLISH', qos: 3, tid_type: 2, tid: 0x7a7a, mid: 0, data: 'short' });
  assert.equal((await nextPublish(short)).payload, 'short');
  const before = metricValue(await broker.metrics(), 'tributary_bridge_dropped_total{reason="malformed"}');
  await sn.send('m1', { type: 'PUBLISH', qos: 3, tid_type: 0, tid: 1, mid: 0, data: 'normal id' });
  await sn.silence('m1');
  assert.equal(metricValue(await broker.metrics(), 'tributary_bridge_dropped_total{reason="malformed"}'), before + 1);
  watch.destroy();
  short.destroy();
});

test('SUBSCRIBE: a wildcard SUBACK has id 0 and each topic is REGISTERed before its PUBLISH, again after a reconnect; QoS 1 and 2 deliveries; UNSUBSCRIBE', async () => {
  const pub = await publisher(broker.mqttPort);
  await sn.open('s', broker.udpPort);
  await sn.connect('s', 'dev-s', { cleansess: 1 });
  await sn.send('s', { type: 'SUBSCRIBE', qos: 1, topic_name: 'cmd/dev-s/#', mid: 10 });
  const suback = await sn.expect('s', 'SUBACK');
  assert.deepEqual([suback.tid, suback.mid, suback.return_code, suback.qos], [0, 10, 0, 1], 'wildcard SUBACK carries topic id 0');

  await pub.publish('cmd/dev-s/led', 'on');
  const reg = await sn.expect('s', 'REGISTER');
  assert.equal(reg.topic_name, 'cmd/dev-s/led');
  await sn.send('s', { type: 'REGACK', tid: reg.tid, mid: reg.mid, return_code: 0 });
  const p1 = await sn.expect('s', 'PUBLISH');
  assert.deepEqual([p1.tid, p1.data, p1.qos, p1.tid_type], [reg.tid, 'on', 1, 0]);
  await sn.send('s', { type: 'PUBACK', tid: p1.tid, mid: p1.mid, return_code: 0 });

  await pub.publish('cmd/dev-s/led', 'off');
  const p2 = await sn.expect('s', 'PUBLISH');
  assert.deepEqual([p2.tid, p2.data], [reg.tid, 'off'], 'a registered topic is not registered twice');
  await sn.send('s', { type: 'PUBACK', tid: p2.tid, mid: p2.mid, return_code: 0 });

  const big = 'y'.repeat(400);
  await pub.publish('cmd/dev-s/led', big);
  const p3 = await sn.expect('s', 'PUBLISH');
  assert.ok(p3.hex.startsWith('01019'), `the gateway wrote the 3-byte length: ${p3.hex.slice(0, 8)}`);
  assert.equal(p3.data, big);
  await sn.send('s', { type: 'PUBACK', tid: p3.tid, mid: p3.mid, return_code: 0 });

  // A plain topic name: SUBACK gives its id, deliveries use it without REGISTER; QoS 2 end to end.
  await sn.send('s', { type: 'SUBSCRIBE', qos: 2, topic_name: 'cfg/dev-s', mid: 11 });
  const plain = await sn.expect('s', 'SUBACK');
  assert.ok((plain.tid as number) > 0);
  assert.equal(plain.qos, 2);
  const mqtt2 = await subscriber(broker.mqttPort, 'nothing', 0);
  mqtt2.send({ cmd: 'publish', topic: 'cfg/dev-s', payload: Buffer.from('v2'), qos: 2, retain: false, dup: false, messageId: 77 });
  const q2 = await sn.expect('s', 'PUBLISH');
  assert.deepEqual([q2.tid, q2.qos, q2.data], [plain.tid, 2, 'v2']);
  await sn.send('s', { type: 'PUBREC', mid: q2.mid });
  assert.equal((await sn.expect('s', 'PUBREL')).mid, q2.mid);
  await sn.send('s', { type: 'PUBCOMP', mid: q2.mid });
  mqtt2.destroy();

  await sn.send('s', { type: 'PINGREQ' });
  await sn.expect('s', 'PINGRESP');

  // Reconnect keeping the session: the device may have forgotten its ids, so REGISTER comes again.
  await sn.connect('s', 'dev-s', { cleansess: 0 });
  await pub.publish('cmd/dev-s/led', 'again');
  const again = await sn.expect('s', 'REGISTER');
  assert.deepEqual([again.tid, again.topic_name], [reg.tid, 'cmd/dev-s/led'], 'the same id, registered again');
  await sn.send('s', { type: 'REGACK', tid: again.tid, mid: again.mid, return_code: 0 });
  const p4 = await sn.expect('s', 'PUBLISH');
  assert.equal(p4.data, 'again');
  await sn.send('s', { type: 'PUBACK', tid: p4.tid, mid: p4.mid, return_code: 0 });

  await sn.send('s', { type: 'UNSUBSCRIBE', topic_name: 'cmd/dev-s/#', mid: 12 });
  assert.equal((await sn.expect('s', 'UNSUBACK')).mid, 12);
  await pub.publish('cmd/dev-s/led', 'unheard');
  await sn.silence('s', 0.7);
  await sn.send('s', { type: 'DISCONNECT' });
  await sn.expect('s', 'DISCONNECT');
  pub.close();
});

test('forwarder encapsulation: two nodes behind one forwarder are two devices, and every answer is wrapped for its node', async () => {
  const watch = await subscriber(broker.mqttPort, 'fwd/#');
  await sn.open('f', broker.udpPort);
  for (const node of ['n1', 'n2']) {
    await sn.send('f', { type: 'CONNECT', client_id: `node-${node}`, duration: 30, cleansess: 1 }, { w_node_id: node });
    const ack = await sn.expect('f', 'CONNACK');
    assert.equal(ack.encaps?.w_node_id, node);
  }
  for (const node of ['n1', 'n2']) {
    await sn.send('f', { type: 'REGISTER', tid: 0, mid: 1, topic_name: `fwd/${node}` }, { w_node_id: node });
    const regack = await sn.expect('f', 'REGACK');
    await sn.send('f', { type: 'PUBLISH', qos: 1, tid: regack.tid, mid: 2, data: `from ${node}` }, { w_node_id: node });
    const puback = await sn.expect('f', 'PUBACK');
    assert.equal(puback.encaps?.w_node_id, node);
    assert.deepEqual(await nextPublish(watch), { topic: `fwd/${node}`, payload: `from ${node}`, qos: 1, retain: false });
  }
  watch.destroy();
});

test('a message from a peer without a session is answered with DISCONNECT and counted', async () => {
  await sn.open('x', broker.udpPort);
  await sn.send('x', { type: 'PUBLISH', qos: 1, tid: 1, mid: 1, data: 'who am I' });
  await sn.expect('x', 'DISCONNECT');
  await sn.send('x', { type: 'WILLMSG', will_msg: 'out of turn' });
  await sn.expect('x', 'DISCONNECT');
  assert.ok(metricValue(await broker.metrics(), 'tributary_bridge_dropped_total{reason="not-connected"}') >= 2);
});

test('IPv6 listener and allowlist: a device connects over [::1]; a client id outside the allowlist gets CONNACK rc 3', async () => {
  const other = await startBridgeServe('    allowClientIds: [dev-6]\n', { udp: "[{ host: 127.0.0.1, port: 0 }, { host: '::1', port: 0 }]" });
  const client = SnClient.start();
  try {
    const v6 = other.bound.find((b) => b.family === 'udp6');
    assert.ok(v6 !== undefined, JSON.stringify(other.bound));
    const watch = await subscriber(other.mqttPort, 'six/#');
    await client.open('six', v6.port, '::1');
    await client.connect('six', 'dev-6');
    await client.send('six', { type: 'REGISTER', tid: 0, mid: 1, topic_name: 'six/t' });
    const regack = await client.expect('six', 'REGACK');
    await client.send('six', { type: 'PUBLISH', qos: 1, tid: regack.tid, mid: 2, data: 'over IPv6' });
    await client.expect('six', 'PUBACK');
    assert.equal((await nextPublish(watch)).payload, 'over IPv6');
    await client.open('no', other.udpPort);
    await client.send('no', { type: 'CONNECT', client_id: 'dev-7', duration: 30, cleansess: 1 });
    assert.equal((await client.expect('no', 'CONNACK')).return_code, 3);
    assert.equal(metricValue(await other.metrics(), 'tributary_bridge_dropped_total{reason="not-allowed"}'), 1);
    watch.destroy();
  } finally {
    await client.close();
    assert.equal(await other.stop(), 0);
  }
});
