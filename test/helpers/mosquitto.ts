/**
 * A real Mosquitto broker (Debian's `mosquitto` package) for tests that use it as the reference:
 * started on a free loopback port with the config lines given, stopped with `stop()`. Its stderr is
 * kept in `log` for the assertion messages.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './ports.js';
import { tmpDir } from './tmp.js';
import { until } from './until.js';

export const MOSQUITTO = fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';

export interface RunningMosquitto {
  port: number;
  readonly log: string;
  stop(): Promise<void>;
}

/** `config`: mosquitto.conf lines other than the listener (and `user root`, which it needs as root). */
export async function startMosquitto(config: string): Promise<RunningMosquitto> {
  const port = await freePort();
  const conf = path.join(tmpDir('tributary-mosquitto-'), 'mosquitto.conf');
  fs.writeFileSync(conf, `${process.getuid?.() === 0 ? 'user root\n' : ''}listener ${port} 127.0.0.1\n${config}`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<void> => {
    child.kill();
    await exited;
  };
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  try {
    await until(`mosquitto listening on ${port}`, accepts, 10_000, 50);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { port, get log() { return log; }, stop };
}
