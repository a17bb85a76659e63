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
