/**
 * firmware-bridge: MQTT-SN 1.2 gateways for constrained sensor firmware (DESIGN.md "firmware-bridge").
 *
 * A *transparent* gateway: every MQTT-SN client gets its own MQTT 3.1.1 connection to the broker (the
 * "link", mqtt-link.ts), client id = `clientIdPrefix` + the device's client id, with the device's own
 * session (CleanSession), will and acks. The bridge is one more MQTT client of ingest, so DESIGN.md's
 * delivery contract holds for devices unchanged: a device's QoS 1 PUBACK (QoS 2 PUBREC) is sent only
 * after the broker's, which the broker sends only once the message is durable in the log (contract
 * line 7). It imports nothing from `src/`; `serve` and `tributary bridge` build its options from the
 * validated config.
 *
 * Layers: transports (udp.ts; serial/: SLIP or COBS frames with a CRC-16) carry whole messages to gateway.ts, which unwraps
 * forwarder encapsulation (encapsulation.ts), decodes (codec.ts) and routes to a device (device.ts),
 * whose deliveries from the broker run through delivery.ts and whose topic ids live in topics.ts.
 *
 * ## A device's states, and what each message does in each
 *
 *   (none)        no session: the peer is unknown to the gateway
 *   will-topic    (handshake) CONNECT had the Will flag; WILLTOPICREQ sent, waiting for WILLTOPIC
 *   will-message  (handshake) WILLMSGREQ sent, waiting for WILLMSG
 *   connecting    (handshake) the link's MQTT CONNECT sent, waiting for the broker's CONNACK
 *   active        connected: publishes both ways, keepalive supervised
 *   asleep        DISCONNECT with a duration: messages for it are buffered, sleep supervised
 *   awake         PINGREQ with client id while asleep: buffered messages are being delivered
 *   gone          removed (DISCONNECT, lost, refused); nothing more is sent to it
 *
 *   message        (none)                  handshake states      active                         asleep / awake
 *   SEARCHGW       GWINFO(gwId), any state
 *   CONNECT        new session:            restart handshake     reconnect (kept link if clean   wakes: → active, buffer
 *                  will? WILLTOPICREQ :    (connecting: a        session off and no will, else   delivered after CONNACK
 *                  link → CONNACK          retransmission, held) new link) → CONNACK
 *   WILLTOPIC      —                       will-topic: → WILLMSGREQ (empty: no will → link)
 *   WILLMSG        —                       will-message: → link → CONNACK
 *   REGISTER       DISCONNECT              dropped               REGACK(id)                     awake: REGACK
 *   PUBLISH q0/1/2 DISCONNECT              dropped               → broker; PUBACK/PUBREC after  dropped (wrong state)
 *                                                                the broker's; unknown id: PUBACK rc 2
 *   PUBLISH q−1    published durably on the gateway's shared link (predefined id or short name only), any state
 *   PUBACK/REC/COMP DISCONNECT             dropped               ends our delivery step         awake: the same
 *   PUBREL         DISCONNECT              dropped               → broker PUBREL; PUBCOMP after  awake: the same
 *   REGACK         DISCONNECT              dropped               our REGISTER done → PUBLISH    awake: the same
 *   SUBSCRIBE      DISCONNECT              dropped               → broker; SUBACK (wildcard: id 0) dropped
 *   UNSUBSCRIBE    DISCONNECT              dropped               → broker; UNSUBACK             dropped
 *   PINGREQ        DISCONNECT              dropped               PINGRESP                       (with client id) → awake:
 *                                                                                              buffer, THEN PINGRESP → asleep
 *   DISCONNECT     DISCONNECT              dropped               no duration: DISCONNECT, link closed cleanly (no will),
 *                                                                → gone; duration d: DISCONNECT → asleep for d s
 *   WILLTOPICUPD   DISCONNECT              dropped               link reopened with the new will → WILLTOPICRESP
 *   WILLMSGUPD     DISCONNECT              dropped               link reopened → WILLMSGRESP    dropped
 *   ADVERTISE, GWINFO, and gateway-to-client types: dropped (`unsupported`, `wrong-state`)
 *
 *   Timers: silent for 1.5 × keepalive (active), 1.5 × sleep duration (asleep, awake), or past the
 *   handshake timeout (handshake states) → lost: the link is destroyed without DISCONNECT, so the
 *   broker publishes the will; a delivery step unanswered after `retriesMax` retries → lost.
 *   The broker closing the link → DISCONNECT to the device → gone (it connects again).
 *
 * Bounds: `devicesMax` devices (CONNACK rc 1 beyond), `topicsPerDeviceMax` topics, `queueMessagesMax`
 * messages queued or buffered per device (drops counted), `publishesInFlightMax` device publishes
 * awaiting the broker (PUBACK rc 1 beyond). Datagrams are at most 65,535 bytes by their length field.
 */
import { BridgeCounters, type BridgeStats } from './counters.js';
import { BridgeOptionsError } from './errors.js';
import { Gateway, type BridgeLogger, type GatewayOptions } from './gateway.js';
import { SerialTransport, type SerialPortConfig } from './serial/serial-transport.js';
import type { MessageTransport } from './transport.js';
import { UdpTransport } from './udp.js';

export type { BridgeStats } from './counters.js';
export type { DropReason } from './errors.js';
export type { BridgeLogger } from './gateway.js';
export type { MessageTransport, Peer } from './transport.js';

export interface BridgeOptions extends Omit<GatewayOptions, 'logger'> {
  udp: ReadonlyArray<{ host: string; port: number }>;
  /** Where ADVERTISE goes on IPv4 listeners (a broadcast address; 255.255.255.255 by default in config). */
  advertiseTarget: { address: string; port: number };
  /** Framed serial ports (serial/serial-transport.ts), opened at start and reopened after an unplug. */
  serial?: readonly SerialPortConfig[];
  /** More transports, started and closed with the bridge. */
  transports?: readonly MessageTransport[];
  logger?: BridgeLogger;
  /** How long close() waits for device publishes in flight to be acked. */
  drainTimeoutMs?: number;
}

export interface BoundTransport {
  name: string;
  family: 'udp4' | 'udp6' | 'other';
  host: string;
  port: number;
}

export interface Bridge {
  /** Binds the UDP listeners (a bind failure closes what was bound and throws TransportError). */
  start(): Promise<BoundTransport[]>;
  stats(): BridgeStats;
  close(): Promise<void>;
}

const SILENT: BridgeLogger = { info: () => undefined, warn: () => undefined, debug: () => undefined };
const DRAIN_TIMEOUT_MS = 2_000;

export function createBridge(options: BridgeOptions): Bridge {
  if (!(options.gatewayId >= 0 && options.gatewayId <= 255)) throw new BridgeOptionsError(`gatewayId ${options.gatewayId} is not 0..255`);
  if (options.udp.length === 0 && (options.serial ?? []).length === 0 && (options.transports ?? []).length === 0) throw new BridgeOptionsError('the bridge needs at least one transport');
  const counters = new BridgeCounters();
  const transports: MessageTransport[] = [...(options.transports ?? [])];
  let gateway: Gateway | null = null;
  let closing: Promise<void> | null = null;

  async function start(): Promise<BoundTransport[]> {
    const bound: BoundTransport[] = [];
    try {
      for (const l of options.udp) {
        const t = await UdpTransport.bind({ host: l.host, port: l.port, broadcast: options.advertiseIntervalS > 0 ? options.advertiseTarget : null });
        transports.push(t);
        bound.push({ name: t.name, family: t.family, host: t.host, port: t.port });
      }
      // A serial port that is not there yet is retried by its transport, not an error: the radio
      // coordinator may be plugged in after the gateway starts.
      for (const port of options.serial ?? []) {
        transports.push(new SerialTransport(port, { log: options.logger ?? SILENT, onDrop: (reason) => counters.drop(`serial-${reason}`) }));
      }
    } catch (err) {
      await Promise.all(transports.map((t) => t.close()));
      throw err;
    }
    for (const t of transports) if (!(t instanceof UdpTransport)) bound.push({ name: t.name, family: 'other', host: '', port: 0 });
    gateway = new Gateway(transports, { ...options, logger: options.logger ?? SILENT }, counters);
    gateway.start();
    return bound;
  }

  async function shutdown(): Promise<void> {
    await gateway?.close(options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS);
    await Promise.all(transports.map((t) => t.close()));
  }

  return {
    start,
    stats: () => counters.snapshot(gateway?.devices() ?? { active: 0, asleep: 0, connecting: 0 }),
    close: () => (closing ??= shutdown()),
  };
}
