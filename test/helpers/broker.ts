/**
 * Runs `tributary serve` as a child process on port 0 with a temp data dir, waits for its
 * `"msg":"listening"` line and returns the real ports. `stop()` sends SIGTERM and waits for the exit
 * (ordered shutdown); `kill()` sends SIGKILL (a crash). Log lines are kept for assertions.
 *
 * `command` runs serve under another program (`['strace', ..., '-o', FILE]`): the signals then go to
 * serve itself (its pid from the `listening` line), and the exit code is the wrapper's, which for
 * strace is serve's. `env` adds to the environment (e.g. LD_PRELOAD, see fault-shim.ts).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import net from 'node:net';
import type { Readable } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import fs from 'node:fs';
import path from 'node:path';
import { CLI } from './cli.js';
import { tmpDir } from './tmp.js';

export interface ServeOptions {
  dataDir?: string;
  /** YAML text written to a config file, or a path to one. */
  configYaml?: string;
  readyTimeoutMs?: number;
  /** Extra environment for the child (e.g. NOTIFY_SOCKET, LD_PRELOAD). */
  env?: NodeJS.ProcessEnv;
  /** A command line to run serve under, e.g. strace's (test/helpers/strace.ts `straceArgs`). */
  command?: string[];
}

export interface RunningBroker {
  dataDir: string;
  mqttPort: number;
  httpPort: number;
  mqttUrl: string;
  /** serve's own pid (not a wrapper's). */
  pid: number;
  /** Parsed JSON log lines so far. */
  lines: Array<Record<string, unknown>>;
  /** What the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal) once the process exited and its output is read. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
  metrics(): Promise<string>;
}

export async function startServe(options: ServeOptions = {}): Promise<RunningBroker> {
  const dataDir = options.dataDir ?? tmpDir('tributary-serve-');
  const args = [CLI, 'serve', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0'];
  if (options.configYaml !== undefined) {
    const isPath = !options.configYaml.includes('\n') && fs.existsSync(options.configYaml);
    const file = isPath ? options.configYaml : path.join(tmpDir('tributary-config-'), 'config.yaml');
    if (!isPath) fs.writeFileSync(file, options.configYaml);
    args.push('--config', file);
  }
  const [program, ...programArgs] = [...(options.command ?? []), process.execPath, ...args] as [string, ...string[]];
  const child = spawn(program, programArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  const lines: Array<Record<string, unknown>> = [];
  // 'close', not 'exit': by then every line the process wrote is in `lines`.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const ready = await waitForReady(child, lines, () => stderr, options.readyTimeoutMs ?? 10_000);
  const mqtt = ready.mqtt as Array<{ port: number }>;
  const mqttPort = (mqtt[0] as { port: number }).port;
  const httpPort = ready.http as number;
  const pid = options.command !== undefined && typeof ready.pid === 'number' ? ready.pid : (child.pid as number);
  let done = false;
  void exited.then(() => (done = true));
  const signal = (name: NodeJS.Signals): void => {
    if (done) return;
    try {
      process.kill(pid, name);
    } catch {
      // already gone: the exit is on its way
    }
  };
  return {
    dataDir,
    mqttPort,
    httpPort,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    pid,
    lines,
    stderr: () => stderr,
    exited,
    stop: async () => {
      signal('SIGTERM');
      return exited;
    },
    kill: async () => {
      signal('SIGKILL');
      await exited;
    },
    metrics: async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(),
  };
}

function waitForReady(child: ChildProcessByStdio<null, Readable, Readable>, lines: Array<Record<string, unknown>>, stderr: () => string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`serve not ready after ${timeoutMs} ms; stderr: ${stderr()}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before ready; stderr: ${stderr()}`)));
    child.once('error', (err) => reject(new Error(`cannot start serve (${child.spawnfile}): ${err.message}`, { cause: err })));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(parsed);
        if (parsed.msg === 'listening') {
          clearTimeout(timer);
          resolve(parsed);
        }
      }
    });
  });
}

/** The value of one Prometheus sample, e.g. `metricValue(text, 'tributary_rejected_publishes_total{reason="oversized"}')`. */
export function metricValue(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/**
 * A bare MQTT 3.1.1 client over one TCP socket, for what mqtt.js will not do: withhold acks, send bad
 * bytes, stop pinging, never read. `next(cmd)` returns the next received packet of that type.
 */
export class RawClient {
  readonly packets: Packet[] = [];
  private readonly waiters: Array<{ cmd: string; resolve(p: Packet): void }> = [];
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    this.parser.on('packet', (p: Packet) => this.received(p));
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** Opens a socket and sends CONNECT; resolves with the CONNACK. */
  static async connect(port: number, connect: Partial<mqttPacket.IConnectPacket> = {}): Promise<{ client: RawClient; connack: mqttPacket.IConnackPacket }> {
    const client = await RawClient.open(port);
    client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 0, ...connect } as Packet);
    const connack = (await client.next('connack')) as mqttPacket.IConnackPacket;
    return { client, connack };
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet));
  }

  next(cmd: string, timeoutMs = 5_000): Promise<Packet> {
    const i = this.packets.findIndex((p) => p.cmd === cmd);
    if (i >= 0) return Promise.resolve(this.packets.splice(i, 1)[0] as Packet);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${cmd} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ cmd, resolve: (p) => { clearTimeout(timer); resolve(p); } });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private received(p: Packet): void {
    const i = this.waiters.findIndex((w) => w.cmd === p.cmd);
    if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(p);
    else this.packets.push(p);
  }
}
