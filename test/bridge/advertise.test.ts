/**
 * ADVERTISE (MQTT-SN 1.2 §5.4.1), off by default: with `advertise.intervalS` set, serve's bridge sends
 * ADVERTISE to the configured address every interval, and the bytes are the spec's
 * (Length 05, MsgType 0x00, GwId, Duration in seconds big-endian), written here by hand. The address is
 * a loopback socket this test owns; without `intervalS` nothing arrives.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { startBridgeServe } from './serve-bridge.js';

async function listen(): Promise<{ port: number; got: Buffer[]; close(): void }> {
  const socket = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: (socket.address() as AddressInfo).port, got, close: () => socket.close() };
}

test('ADVERTISE goes out every intervalS with the spec bytes, and not at all by default', async () => {
  for (const intervalS of [1, 0]) {
    const peer = await listen();
    const bridge = await startBridgeServe(`    gatewayId: 7\n    advertise: { intervalS: ${intervalS}, address: 127.0.0.1, port: ${peer.port} }\n`);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      if (intervalS === 0) {
        assert.deepEqual(peer.got, [], 'no ADVERTISE when it is off');
      } else {
        assert.ok(peer.got.length >= 2 && peer.got.length <= 4, `${peer.got.length} ADVERTISEs in 2.5 s at 1 s`);
        for (const m of peer.got) assert.equal(m.toString('hex'), '0500070001');
      }
    } finally {
      peer.close();
      assert.equal(await bridge.stop(), 0);
    }
  }
});
