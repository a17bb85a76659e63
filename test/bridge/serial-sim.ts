/**
 * The Python reference for the serial framing (serial_sim.py): its CRC (binascii.crc_hqx) and frame
 * encoder for the unit tests, and a device process on a socat pty pair for the transport tests.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from '../helpers/until.js';

/** The script in the source tree (tsc does not copy .py files to dist). */
export const SERIAL_SIM = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/bridge/serial_sim.py');

function pythonLines(args: string[], inputs: readonly Uint8Array[]): string[] {
  const input = inputs.map((b) => Buffer.from(b).toString('hex')).join('\n') + '\n';
  const out = execFileSync('python3', [SERIAL_SIM, ...args], { input, maxBuffer: 64 * 1024 * 1024 }).toString();
  const lines = out.split('\n').filter((l) => l !== '');
  if (lines.length !== inputs.length) throw new Error(`serial_sim.py ${args.join(' ')}: ${lines.length} lines for ${inputs.length} inputs`);
  return lines;
}

/** CRC-16/CCITT-FALSE of each input, by Python's binascii.crc_hqx(data, 0xFFFF). */
export function pythonCrc(inputs: readonly Uint8Array[]): number[] {
  return pythonLines(['crc'], inputs).map((h) => parseInt(h, 16));
}

/** Each message as a whole frame, by the Python encoder. */
export function pythonFrames(framing: 'slip' | 'cobs', messages: readonly Uint8Array[]): Buffer[] {
  return pythonLines(['encode', framing], messages).map((h) => Buffer.from(h, 'hex'));
}

export type SimEvent = { ready: 1 } | { done: number } | { message: string } | { drop: string };
export type SimCommand = { op: 'frame'; hex: string; badCrc?: 1; split?: 1 } | { op: 'raw'; hex: string } | { op: 'sleep'; ms: number };

/** A simulated device on one pty end: commands in, what it saw from the transport out. */
export class SimDevice {
  readonly events: SimEvent[] = [];
  private commands = 0;
  private stderr = '';
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.events.push(JSON.parse(pending.slice(0, nl)) as SimEvent);
        pending = pending.slice(nl + 1);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(framing: 'slip' | 'cobs', ptyPath: string): Promise<SimDevice> {
    const device = new SimDevice(spawn('python3', [SERIAL_SIM, 'device', framing, ptyPath], { stdio: ['pipe', 'pipe', 'pipe'] }));
    await until(`serial_sim ready on ${ptyPath}`, () => device.events.some((e) => 'ready' in e) || device.child.exitCode !== null);
    if (device.child.exitCode !== null) throw new Error(`serial_sim.py exited: ${device.stderr}`);
    return device;
  }

  /** Runs the commands in order and waits until the simulator has written them all. */
  async run(commands: readonly SimCommand[]): Promise<void> {
    for (const command of commands) this.child.stdin!.write(JSON.stringify(command) + '\n');
    this.commands += commands.length;
    const last = this.commands - 1;
    await until(`serial_sim wrote command ${last}`, () => this.events.some((e) => 'done' in e && e.done === last));
  }

  received(): Array<{ message: string } | { drop: string }> {
    return this.events.filter((e): e is { message: string } | { drop: string } => 'message' in e || 'drop' in e);
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill(), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A socat pty pair: `transportPath` for the transport, `devicePath` for the simulator. */
export interface PtyPair {
  readonly transportPath: string;
  readonly devicePath: string;
  /** Kills socat: both pty ends vanish, as a USB serial adapter does when unplugged. */
  stop(): Promise<void>;
}

export async function startPtyPair(transportPath: string, devicePath: string): Promise<PtyPair> {
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${transportPath}`, `pty,raw,echo=0,link=${devicePath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await until('socat pty pair', () => /starting data transfer loop/.test(log) || child.exitCode !== null, 10_000);
  } catch (err) {
    child.kill();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  if (child.exitCode !== null) throw new Error(`socat exited: ${log}`);
  return {
    transportPath,
    devicePath,
    stop: async () => {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}
