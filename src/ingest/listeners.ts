/**
 * MQTT listeners from config: `tcp`, `tls` (cert/key/ca files; client certificates optional) and `ws`
 * (MQTT over WebSocket, on its own HTTP server). Each hands every new connection, as a Duplex, to
 * `accept`. `close()` stops accepting; connections already open are the caller's to end.
 */
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { readConfiguredFile } from '../config/files.js';
import type { ListenerConfig } from '../config/load.js';
import { ConfigError, errorMessage } from '../errors.js';

/**
 * `certificateUser`: on a tls listener with `useIdentityAsUsername`, the verified client certificate's
 * subject CN, or null when it has none (then the client is refused); undefined on every other listener.
 */
export type Accept = (socket: Duplex, req?: IncomingMessage, certificateUser?: string | null) => void;

export interface BoundListener {
  type: ListenerConfig['type'];
  host: string;
  port: number;
  close(): Promise<void>;
}

/** `key`: where the listener is in the config (`mqtt.listeners[1]`), for errors about its files. */
export async function startListener(config: ListenerConfig, accept: Accept, key: string): Promise<BoundListener> {
  switch (config.type) {
    case 'tcp':
      return bind(config, net.createServer({ noDelay: true }, accept));
    case 'tls': {
      const options = {
        cert: readConfiguredFile(config.cert, `${key}.cert`),
        key: readConfiguredFile(config.key, `${key}.key`),
        ...(config.ca === undefined ? {} : { ca: readConfiguredFile(config.ca, `${key}.ca`) }),
        requestCert: config.requestCert,
        // With a CA to check against, a requested certificate is also required to be valid.
        rejectUnauthorized: config.requestCert && config.ca !== undefined,
      };
      let server: tls.Server;
      try {
        server = tls.createServer(options, config.useIdentityAsUsername ? (socket) => accept(socket, undefined, certificateUser(socket)) : accept);
      } catch (err) {
        // A file that reads but is no PEM certificate or key, or a key that does not match the cert.
        throw new ConfigError(`${key}: cannot use cert ${config.cert}, key ${config.key}${config.ca === undefined ? '' : `, ca ${config.ca}`}: ${errorMessage(err)}`, key, { cause: err });
      }
      return bind(config, server);
    }
    case 'ws':
      return startWebSocket(config, accept);
  }
}

/** The subject CN of a client certificate the handshake verified against the listener's ca, or null. */
function certificateUser(socket: tls.TLSSocket): string | null {
  // rejectUnauthorized is on for such listeners (checkConfig); checked again, since a name is trusted.
  if (!socket.authorized) return null;
  const cn: unknown = socket.getPeerCertificate().subject?.CN;
  // Several CNs come as an array: no single name, so none.
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

async function startWebSocket(config: Extract<ListenerConfig, { type: 'ws' }>, accept: Accept): Promise<BoundListener> {
  // `ws` is loaded only when a ws listener is configured.
  const { WebSocketServer, createWebSocketStream } = await import('ws');
  const server = http.createServer((_req, res) => res.writeHead(426, { 'Content-Type': 'text/plain' }).end('MQTT over WebSocket only\n'));
  const wss = new WebSocketServer({ server, path: config.path });
  wss.on('connection', (socket, req) => accept(createWebSocketStream(socket), req));
  const bound = await bind(config, server);
  return { ...bound, close: async () => { wss.close(); await bound.close(); } };
}

function bind(config: ListenerConfig, server: net.Server): Promise<BoundListener> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        type: config.type,
        host: config.host,
        port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
