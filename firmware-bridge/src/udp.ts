/**
 * MQTT-SN over UDP [MQTT-SN 1.2 annex: "one message per datagram"]: one `MessageTransport` per bound
 * socket, IPv4 or IPv6 by the listener's host. An IPv6 socket is bound IPv6-only, so `0.0.0.0:1883`
 * and `[::]:1883` can both be listened on, as two transports.
 *
 * Peers are `udp4:ADDRESS:PORT` / `udp6:[ADDRESS]:PORT`; `send` to a peer this transport did not make
 * is a bug and throws. Sending never throws for the network's sake: UDP loses datagrams anyway and the
 * gateway retries, so a send error (EHOSTUNREACH, ENOBUFS) is counted in `sendErrors` and dropped.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { assert, TransportError } from './errors.js';
import type { MessageTransport, Peer } from './transport.js';

export interface UdpListenerOptions {
  host: string;
  port: number;
  /** Where `broadcast` sends (ADVERTISE): an IPv4 broadcast address or IPv6 multicast group, and its port. null: no broadcast. */
  broadcast: { address: string; port: number } | null;
}

export class UdpPeer implements Peer {
  readonly key: string;
  readonly description: string;
  constructor(readonly owner: UdpTransport, readonly address: string, readonly port: number) {
    this.key = owner.family === 'udp6' ? `udp6:[${address}]:${port}` : `udp4:${address}:${port}`;
    this.description = this.key;
  }
}

export class UdpTransport implements MessageTransport {
  readonly name: string;
  readonly family: 'udp4' | 'udp6';
  sendErrors = 0;
  private handler: ((message: Buffer, from: Peer) => void) | null = null;
  private closed = false;

  private constructor(private readonly socket: dgram.Socket, family: 'udp4' | 'udp6', private readonly options: UdpListenerOptions) {
    this.family = family;
    const a = socket.address();
    this.name = this.family === 'udp6' ? `udp6:[${a.address}]:${a.port}` : `udp4:${a.address}:${a.port}`;
    socket.on('message', (msg, rinfo) => this.handler?.(msg, new UdpPeer(this, rinfo.address, rinfo.port)));
    // A socket error after bind (rare: ICMP errors surface on send) must not reach 'uncaughtException'.
    socket.on('error', () => void this.sendErrors++);
  }

  /** Binds a socket; a port in use or a missing address family is a TransportError naming the listener. */
  static async bind(options: UdpListenerOptions): Promise<UdpTransport> {
    const family = net.isIPv6(options.host) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type: family, ipv6Only: family === 'udp6', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new TransportError(`cannot bind MQTT-SN UDP listener ${options.host}:${options.port}: ${err.message}`, { cause: err })));
      socket.bind(options.port, options.host, () => resolve());
    });
    socket.removeAllListeners('error');
    if (options.broadcast !== null && family === 'udp4') socket.setBroadcast(true);
    return new UdpTransport(socket, family, options);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get host(): string {
    return this.socket.address().address;
  }

  onMessage(handler: (message: Buffer, from: Peer) => void): void {
    this.handler = handler;
  }

  send(message: Buffer, to: Peer): void {
    assert(to instanceof UdpPeer && to.owner === this, `peer ${to.key} does not belong to ${this.name}`);
    if (this.closed) return;
    this.socket.send(message, to.port, to.address, (err) => {
      if (err) this.sendErrors++;
    });
  }

  broadcast(message: Buffer): void {
    const target = this.options.broadcast;
    if (target === null || this.closed) return;
    this.socket.send(message, target.port, target.address, (err) => {
      if (err) this.sendErrors++;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
