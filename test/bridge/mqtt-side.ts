/** An MQTT subscriber/publisher on the broker side of the bridge, for watching what devices publish and for sending to them. */
import type mqttPacket from 'mqtt-packet';
import { RawClient } from '../helpers/broker.js';

export async function subscriber(port: number, filter: string, qos: 0 | 1 | 2 = 1, clientId = `watch-${Math.random().toString(36).slice(2)}`): Promise<RawClient> {
  const { client } = await RawClient.connect(port, { clientId });
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] });
  await client.next('suback');
  return client;
}

/** The next PUBLISH the client receives (acked at QoS 1, so the broker keeps sending). */
export async function nextPublish(client: RawClient, timeoutMs = 5_000): Promise<{ topic: string; payload: string; qos: number; retain: boolean }> {
  const p = (await client.next('publish', timeoutMs)) as mqttPacket.IPublishPacket;
  if (p.qos === 1) client.send({ cmd: 'puback', messageId: p.messageId as number });
  if (p.qos === 2) client.send({ cmd: 'pubrec', messageId: p.messageId as number });
  return { topic: p.topic, payload: p.payload.toString(), qos: p.qos, retain: p.retain };
}

export async function publisher(port: number): Promise<{ publish(topic: string, payload: string | Buffer, qos?: 0 | 1, retain?: boolean): Promise<void>; close(): void }> {
  const { client } = await RawClient.connect(port, { clientId: `pub-${Math.random().toString(36).slice(2)}` });
  let id = 0;
  return {
    async publish(topic, payload, qos = 1, retain = false) {
      const messageId = ++id;
      client.send({ cmd: 'publish', topic, payload, qos, retain, dup: false, ...(qos === 1 ? { messageId } : {}) } as mqttPacket.Packet);
      if (qos === 1) await client.next('puback');
    },
    close: () => client.destroy(),
  };
}
