/**
 * firmware-bridge's numbers on serve's /metrics. The bridge keeps plain counters (it imports nothing
 * from `src/`); these Prometheus metrics mirror them at scrape time, like the disk counter in
 * metrics.ts, so nothing is pushed and nothing goes stale.
 *
 *   tributary_bridge_dropped_total{reason}   datagrams dropped (firmware-bridge/src/errors.ts DropReason)
 *   tributary_bridge_messages_total{kind}    received (from devices), published (to the broker),
 *                                            delivered (to devices)
 *   tributary_bridge_devices_lost_total      devices lost (silent past keepalive or sleep: wills fire)
 *   tributary_bridge_devices{state}          devices now: active, asleep, connecting
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** The shape of firmware-bridge's `stats()`, as ops reads it. */
export interface BridgeProbe {
  stats(): {
    dropped: Readonly<Record<string, number | undefined>>;
    received: number;
    published: number;
    delivered: number;
    lost: number;
    devices: { active: number; asleep: number; connecting: number };
  };
}

export function registerBridgeMetrics(registry: Registry, probe: BridgeProbe): void {
  const registers = [registry];
  const dropped: Counter<'reason'> = new Counter({
    name: 'tributary_bridge_dropped_total',
    help: 'MQTT-SN datagrams the firmware bridge dropped, by reason.',
    labelNames: ['reason'],
    registers,
    collect: () => {
      dropped.reset();
      for (const [reason, n] of Object.entries(probe.stats().dropped)) dropped.inc({ reason }, n ?? 0);
    },
  });
  const messages: Counter<'kind'> = new Counter({
    name: 'tributary_bridge_messages_total',
    help: 'MQTT-SN messages through the firmware bridge: received from devices, published to the broker, delivered to devices.',
    labelNames: ['kind'],
    registers,
    collect: () => {
      const s = probe.stats();
      messages.reset();
      for (const kind of ['received', 'published', 'delivered'] as const) messages.inc({ kind }, s[kind]);
    },
  });
  const lost: Counter = new Counter({
    name: 'tributary_bridge_devices_lost_total',
    help: 'MQTT-SN devices lost (silent past keepalive or sleep, or deliveries unanswered); their wills were published.',
    registers,
    collect: () => {
      lost.reset();
      lost.inc(probe.stats().lost);
    },
  });
  const devices: Gauge<'state'> = new Gauge({
    name: 'tributary_bridge_devices',
    help: 'MQTT-SN devices the bridge holds, by state.',
    labelNames: ['state'],
    registers,
    collect: () => {
      for (const [state, n] of Object.entries(probe.stats().devices)) devices.set({ state }, n);
    },
  });
}
