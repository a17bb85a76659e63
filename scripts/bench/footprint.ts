/**
 * `npm run bench:footprint` — peak RSS and CPU of `tributary serve`, idle and with 1,000 MQTT
 * clients each publishing QoS 1 at 10 msg/s (10,000 msg/s in all) of 100-byte payloads.
 *
 * serve runs as a child process with a temp data dir; RSS is VmHWM/VmRSS from /proc/PID/status and
 * CPU is utime+stime from /proc/PID/stat over the measured window (100% = one core). The load comes
 * from this process over raw TCP (mqtt-packet), one socket per client, publishes spread evenly.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { deployedNodeFlags } from './serve-flags.js';

const NODE_FLAGS = deployedNodeFlags();
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const RATE_PER_CLIENT = Number(process.env.BENCH_RATE ?? 10);
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const IDLE_SECONDS = 10;
const TICKS_PER_SEC = Number(process.env.BENCH_TICKS ?? 100);

interface Proc {
  pid: number;
  mqttPort: number;
  stop(): Promise<void>;
}

async function startServe(dataDir: string): Promise<Proc> {
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'serve', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const mqttPort = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (!line.includes('"msg":"listening"')) continue;
        resolve((JSON.parse(line) as { mqtt: Array<{ port: number }> }).mqtt[0]?.port ?? 0);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  child.stdout.resume();
  return {
    pid: child.pid as number,
    mqttPort,
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

function procStatusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

const CLK_TCK = 100;

async function cpuPercentOver(pid: number, seconds: number): Promise<number> {
  const before = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ((cpuTicks(pid) - before) / CLK_TCK / seconds) * 100;
}

class LoadClient {
  readonly socket: net.Socket;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private nextId = 1;
  acked = 0;
  sent = 0;
  constructor(port: number, id: number, onConnack: () => void) {
    this.socket = net.connect(port, '127.0.0.1');
    this.parser.on('packet', (p) => {
      if (p.cmd === 'connack') onConnack();
      if (p.cmd === 'puback') this.acked++;
    });
    this.socket.on('data', (d) => this.parser.parse(d));
    this.socket.on('error', () => undefined);
    this.socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `load-${id}`, clean: true, keepalive: 60 }));
  }
  publish(payload: Buffer): void {
    const messageId = this.nextId;
    this.nextId = (this.nextId % 65535) + 1;
    this.sent++;
    this.socket.write(mqttPacket.generate({ cmd: 'publish', topic: `sensors/${this.socket.localPort}/telemetry`, payload, qos: 1, messageId, retain: false, dup: false }));
  }
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-footprint-'));
  const serve = await startServe(dataDir);
  process.stderr.write(`serve pid ${serve.pid}; idle for ${IDLE_SECONDS}s\n`);
  const idleCpu = await cpuPercentOver(serve.pid, IDLE_SECONDS);
  const idleRss = procStatusKb(serve.pid, 'VmRSS');
  const idleAnon = procStatusKb(serve.pid, 'RssAnon');
  const idleFile = procStatusKb(serve.pid, 'RssFile');

  let connected = 0;
  const clients: LoadClient[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    clients.push(new LoadClient(serve.mqttPort, i, () => connected++));
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
  }
  while (connected < CLIENTS) await new Promise((r) => setTimeout(r, 50));
  process.stderr.write(`${CLIENTS} clients connected; ${CLIENTS * RATE_PER_CLIENT} msg/s for ${LOAD_SECONDS}s\n`);
  const payload = Buffer.alloc(100, 120);
  const perTick = (CLIENTS * RATE_PER_CLIENT) / TICKS_PER_SEC;
  let cursor = 0;
  let carry = 0;
  const ticker = setInterval(() => {
    carry += perTick;
    for (; carry >= 1; carry--) {
      (clients[cursor] as LoadClient).publish(payload);
      cursor = (cursor + 1) % clients.length;
    }
  }, 1000 / TICKS_PER_SEC);
  const loadCpu = await cpuPercentOver(serve.pid, LOAD_SECONDS);
  clearInterval(ticker);
  await new Promise((r) => setTimeout(r, 1000));
  const sent = clients.reduce((n, c) => n + c.sent, 0);
  const acked = clients.reduce((n, c) => n + c.acked, 0);
  const loadRss = procStatusKb(serve.pid, 'VmRSS');
  const peakRss = procStatusKb(serve.pid, 'VmHWM');
  const loadAnon = procStatusKb(serve.pid, 'RssAnon');
  const loadFile = procStatusKb(serve.pid, 'RssFile');
  for (const c of clients) c.socket.destroy();
  await serve.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const mb = (kb: number): string => (kb / 1024).toFixed(1);
  process.stdout.write(
    [
      `| serve | RSS (MB) | of which anonymous (heap) | of which file-backed (node binary, LMDB map) | peak RSS (MB) | CPU (% of one core) | msgs acked/sent |`,
      `|---|---:|---:|---:|---:|---:|---:|`,
      `| idle, ${IDLE_SECONDS}s | ${mb(idleRss)} | ${mb(idleAnon)} | ${mb(idleFile)} | - | ${idleCpu.toFixed(1)} | - |`,
      `| ${CLIENTS} clients × ${RATE_PER_CLIENT} msg/s QoS 1, ${LOAD_SECONDS}s | ${mb(loadRss)} | ${mb(loadAnon)} | ${mb(loadFile)} | ${mb(peakRss)} | ${loadCpu.toFixed(1)} | ${acked}/${sent} |`,
    ].join('\n') + '\n',
  );
}

await main();
