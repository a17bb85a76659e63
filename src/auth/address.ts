/**
 * Whether a peer address is loopback: 127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.x.x.x (what a
 * dual-stack socket reports for an IPv4 loopback peer). Anything else — including an unknown address
 * — is the network, the safe side for "anonymous only from loopback".
 */
import net from 'node:net';

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = mapped ? (mapped[1] as string) : address;
  if (net.isIPv4(v4)) return v4.split('.')[0] === '127';
  return net.isIPv6(address) && (address === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(address));
}
