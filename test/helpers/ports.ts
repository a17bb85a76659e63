/**
 * A loopback port that nothing listens on: bound once by the kernel's choice and closed again, so it
 * was free a moment ago. For a peer a test starts there next, or for a connection that must be refused.
 */
import net from 'node:net';

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
