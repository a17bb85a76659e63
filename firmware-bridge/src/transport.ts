/**
 * The seam between the MQTT-SN gateway and what carries its messages (UDP here, framed serial in
 * `serial/`). The gateway never sees addresses or ports: a `Peer` is opaque and compared by `key`, so
 * a transport may name its peers however it likes (`udp4:10.0.0.7:50123`, `serial:/dev/ttyUSB0`).
 *
 * Invariants every transport keeps: one whole MQTT-SN message per datagram or frame (possibly inside
 * forwarder encapsulation, which the gateway unwraps); `onMessage` handlers are called on the event
 * loop, never re-entrantly from `send`; `send` never throws for a peer that went away (datagrams may
 * be lost, and MQTT-SN retries on its own).
 */

/** Where a datagram came from / goes to: opaque to the gateway, compared with `key`. */
export interface Peer { readonly key: string; readonly description: string }
/** A carrier of whole MQTT-SN messages (one message per datagram/frame, possibly forwarder-encapsulated). */
export interface MessageTransport {
  readonly name: string;
  onMessage(handler: (message: Buffer, from: Peer) => void): void;
  send(message: Buffer, to: Peer): void;
  /** Broadcast (SEARCHGW replies may be unicast; ADVERTISE/GWINFO broadcast). Optional. */
  broadcast?(message: Buffer): void;
  close(): Promise<void>;
}
