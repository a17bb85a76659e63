/**
 * The bridge's error classes (it imports nothing from `src/`, so it has its own, shaped like
 * `src/errors.ts`): a stable `code`, a `name`, `retriable`, and `cause` passed on. Errors that are also
 * a drop carry the `reason` that labels `tributary_bridge_dropped_total{reason}`.
 */

export abstract class BridgeError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** Why a datagram was dropped: the label values of `tributary_bridge_dropped_total{reason}`. */
export type DropReason =
  | 'truncated' // shorter than its header or its length field says
  | 'bad-length' // the length field disagrees with the datagram
  | 'unknown-type' // a message type MQTT-SN 1.2 does not define
  | 'malformed' // a field out of range (protocol id, topic id type, UTF-8, ...)
  | 'wrong-state' // a message the device's state does not allow (e.g. PUBLISH before CONNECT)
  | 'not-connected' // from a peer with no session (answered with DISCONNECT)
  | 'not-allowed' // a client id outside the allowlist
  | 'devices-max' // the bridge holds as many devices as it may
  | 'unsupported' // a valid message the gateway does not act on (GWINFO from a client)
  | 'sleep-buffer-full' // a message for a sleeping device beyond its buffer bound
  | 'queue-full' // a message for an awake device beyond its delivery queue bound
  | 'delivery-failed'; // a message the device never acknowledged after the retries

/** A datagram that is not a valid MQTT-SN 1.2 message. */
export class CodecError extends BridgeError {
  readonly code = 'MQTTSN_CODEC';
  readonly retriable = false;
  constructor(message: string, readonly reason: DropReason) {
    super(message);
  }
}

/** The broker refused or dropped the bridge's MQTT connection for a device. */
export class BrokerLinkError extends BridgeError {
  readonly code = 'BRIDGE_BROKER_LINK';
  readonly retriable = true;
}

/** Options handed to `createBridge` break a rule (a bug in the caller: config is validated before). */
export class BridgeOptionsError extends BridgeError {
  readonly code = 'BRIDGE_OPTIONS';
  readonly retriable = false;
}

/** A listener could not be bound (port in use, address family not available). */
export class TransportError extends BridgeError {
  readonly code = 'BRIDGE_TRANSPORT';
  readonly retriable = false;
}

/** Stops the component: an invariant did not hold where it is made. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new BridgeInvariantError(message);
}

export class BridgeInvariantError extends BridgeError {
  readonly code = 'BRIDGE_INVARIANT';
  readonly retriable = false;
}
