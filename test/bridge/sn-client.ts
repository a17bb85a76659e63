/**
 * The node side of test/bridge/mqttsn_client.py: a scapy-based MQTT-SN client in a child process
 * (Debian's python3-scapy, run by /usr/bin/python3, where Debian installs it). Each named socket is one
 * device address; `expect` reads the next datagram on it and checks its type.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/bridge/mqttsn_client.py');
const PYTHON = process.env.TRIBUTARY_TEST_PYTHON ?? '/usr/bin/python3';

export type SnPacket = { type: string; len: number; [field: string]: unknown };

export class SnClient {
  private readonly pending: Array<{ answer: (answer: Record<string, unknown>) => void; fail: (err: Error) => void }> = [];
  private stderr = '';
  /** Why the child is gone (it exited or could not start), once it is: every request then fails at once. */
  private gone: string | null = null;
  private readonly closed: Promise<void>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    // A write to a client that just died fails with EPIPE; its exit is what gets reported (below).
    child.stdin.on('error', () => undefined);
    readline.createInterface({ input: child.stdout }).on('line', (line) => this.pending.shift()?.answer(JSON.parse(line) as Record<string, unknown>));
    // A client that dies (no scapy installed, a crash) fails what waits on it instead of leaving it hanging.
    this.closed = new Promise((resolve) => {
      const end = (why: string): void => {
        this.gone ??= why;
        for (const waiter of this.pending.splice(0)) waiter.fail(this.goneError());
        resolve();
      };
      child.once('error', (err) => end(`could not start ${PYTHON}: ${err.message}`));
      child.once('close', (code, signal) => end(`exited with ${code ?? signal}`));
    });
  }

  private goneError(): Error {
    return new Error(`scapy client (${PYTHON} ${SCRIPT}) ${this.gone ?? 'is gone'}; stderr: ${this.stderr.trim().slice(-2000)}`);
  }

  static start(): SnClient {
    return new SnClient(spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  private request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.gone !== null) return Promise.reject(this.goneError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`scapy client did not answer ${JSON.stringify(req)}; stderr: ${this.stderr}`)), 30_000);
      this.pending.push({
        answer: (answer) => {
          clearTimeout(timer);
          if (answer.ok !== true) reject(new Error(`scapy client: ${String(answer.error)} (request ${JSON.stringify(req).slice(0, 200)})`));
          else resolve(answer);
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.child.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  /** A new device address (UDP socket) named `sock`, talking to host:port. */
  async open(sock: string, port: number, host = '127.0.0.1'): Promise<number> {
    return (await this.request({ op: 'open', sock, host, port })).local as number;
  }

  /** Sends a packet scapy builds from `pkt` (scapy's field names); returns the bytes sent, in hex. */
  async send(sock: string, pkt: Record<string, unknown>, encaps?: { w_node_id: string }): Promise<string> {
    return (await this.request({ op: 'send', sock, pkt, ...(encaps === undefined ? {} : { encaps }) })).hex as string;
  }

  async raw(sock: string, hex: string): Promise<void> {
    await this.request({ op: 'raw', sock, hex });
  }

  /** The next datagram on `sock` as scapy decodes it, or null after `timeoutS`. */
  async recv(sock: string, timeoutS = 3): Promise<(SnPacket & { hex: string; encaps?: { w_node_id: string } }) | null> {
    const answer = await this.request({ op: 'recv', sock, timeout: timeoutS });
    if (answer.pkt === null) return null;
    return { ...(answer.pkt as SnPacket), hex: answer.hex as string };
  }

  async expect(sock: string, type: string, timeoutS = 3): Promise<SnPacket & { hex: string; encaps?: { w_node_id: string } }> {
    const p = await this.recv(sock, timeoutS);
    if (p === null) throw new Error(`${sock}: no ${type} within ${timeoutS} s`);
    if (p.type !== type) throw new Error(`${sock}: expected ${type}, got ${JSON.stringify(p)}`);
    return p;
  }

  /** Asserts that nothing arrives on `sock` for `timeoutS`. */
  async silence(sock: string, timeoutS = 0.5): Promise<void> {
    const p = await this.recv(sock, timeoutS);
    if (p !== null) throw new Error(`${sock}: expected nothing, got ${JSON.stringify(p)}`);
  }

  /** CONNECT without will; resolves once CONNACK 0 arrived. */
  async connect(sock: string, clientId: string, options: { duration?: number; cleansess?: 0 | 1 } = {}): Promise<void> {
    await this.send(sock, { type: 'CONNECT', client_id: clientId, duration: options.duration ?? 60, cleansess: options.cleansess ?? 1 });
    const ack = await this.expect(sock, 'CONNACK');
    if (ack.return_code !== 0) throw new Error(`${clientId}: CONNACK ${String(ack.return_code)}`);
  }

  /** Asks the client to quit and waits until it has; at once when it is already gone. */
  async close(): Promise<void> {
    if (this.gone === null && this.child.stdin.writable) this.child.stdin.end(`${JSON.stringify({ op: 'quit' })}\n`);
    await this.closed;
  }
}
