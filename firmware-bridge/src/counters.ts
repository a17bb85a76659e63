/**
 * The bridge's counters: plain numbers, read by whoever exports them (serve's /metrics through a probe,
 * or the standalone bridge's periodic log line), so the bridge needs no metrics library and imports
 * nothing from `src/`.
 *
 * Counters only go up. `dropped` has one entry per `DropReason` that happened at least once.
 */
import type { DropReason } from './errors.js';
import type { SerialDropReason } from './serial/serial-transport.js';

/** What the gateway drops, and what a serial port drops (framing, CRC, sends it could not make). */
export type BridgeDropReason = DropReason | `serial-${SerialDropReason}`;

export type CountName = 'received' | 'published' | 'delivered' | 'lost';

export interface BridgeStats {
  /** Datagrams dropped, by reason (`tributary_bridge_dropped_total{reason}`). */
  readonly dropped: Readonly<Partial<Record<BridgeDropReason, number>>>;
  /** Messages decoded from devices. */
  readonly received: number;
  /** Device publishes the broker acknowledged (QoS 1, 2, −1) or was sent (QoS 0). */
  readonly published: number;
  /** Broker messages delivered to devices (acknowledged by them at QoS 1, 2). */
  readonly delivered: number;
  /** Devices lost: silent past keepalive or sleep, or deliveries unanswered (their wills fire). */
  readonly lost: number;
  readonly devices: { active: number; asleep: number; connecting: number };
}

export class BridgeCounters {
  private readonly droppedBy = new Map<BridgeDropReason, number>();
  private readonly counts: Record<CountName, number> = { received: 0, published: 0, delivered: 0, lost: 0 };

  drop(reason: BridgeDropReason): void {
    this.droppedBy.set(reason, (this.droppedBy.get(reason) ?? 0) + 1);
  }

  count(what: CountName): void {
    this.counts[what]++;
  }

  snapshot(devices: BridgeStats['devices']): BridgeStats {
    return { dropped: Object.fromEntries(this.droppedBy), ...this.counts, devices };
  }
}
