/**
 * MQTT authentication against a password file made by the real `mosquitto_passwd`, end to end with
 * `serve`:
 *  - the right password gets CONNACK 0; a wrong password or an unknown user gets return code 5 (Mosquitto's answer), at
 *    least 1 s later, while other clients connect at once (the delay does not block the event loop);
 *    each refusal is counted in `tributary_auth_failures_total{reason}` and logged, never with the
 *    password;
 *  - clients without credentials are let in from loopback by default, and refused with return code 5
 *    when `allowAnonymous: false`;
 *  - a damaged password file stops `serve` at start with exit code 2, naming the file and line;
 *  - SIGHUP re-reads the file while clients stay connected; a damaged file on reload keeps the old rules.
 *  - anonymous clients are refused with 5 from a non-loopback peer — a network namespace with a veth
 *    pair that the test creates (never a real interface) — and let in from loopback, while a password
 *    works from the namespace too. The address rule (what counts as loopback) is unit-tested as well.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isLoopback } from '../../src/auth/address.js';
import { metricValue, RawClient, startServe } from '../helpers/broker.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

async function connack(port: number, clientId: string, username?: string, password?: string): Promise<{ code: number; ms: number }> {
  const t0 = Date.now();
  const creds = username === undefined ? {} : { username, ...(password === undefined ? {} : { password: Buffer.from(password) }) };
  const { client, connack: ack } = await RawClient.connect(port, { clientId, ...creds });
  client.destroy();
  return { code: ack.returnCode ?? -1, ms: Date.now() - t0 };
}

test('password file from mosquitto_passwd: right password in, wrong ones refused with 4 after 1 s, counted, not blocking', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', file, 'alice', 'a-secret']);
  execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'bob', 'b-secret']);
  const broker = await startServe({ configYaml: `mqtt: { auth: { passwordFile: ${file} } }\n` });
  try {
    assert.equal((await connack(broker.mqttPort, 'a1', 'alice', 'a-secret')).code, 0);
    assert.equal((await connack(broker.mqttPort, 'b1', 'bob', 'b-secret')).code, 0);
    const wrong = connack(broker.mqttPort, 'a2', 'alice', 'guessed-wrong');
    const meanwhile = await connack(broker.mqttPort, 'a3', 'alice', 'a-secret');
    const refused = await wrong;
    assert.equal(refused.code, 5);
    assert.ok(refused.ms >= 1_000, `refused after ${refused.ms} ms`);
    assert.equal(meanwhile.code, 0);
    assert.ok(meanwhile.ms < 900, `a good client waited ${meanwhile.ms} ms behind a refused one`);
    assert.equal((await connack(broker.mqttPort, 'm1', 'mallory', 'a-secret')).code, 5);
    assert.equal((await connack(broker.mqttPort, 'b2', 'bob')).code, 5, 'a user name without a password');
    // No credentials, from loopback: let in by default.
    assert.equal((await connack(broker.mqttPort, 'anon')).code, 0);
    const metrics = await broker.metrics();
    assert.equal(metricValue(metrics, 'tributary_auth_failures_total{reason="bad-password"}'), 2);
    assert.equal(metricValue(metrics, 'tributary_auth_failures_total{reason="unknown-user"}'), 1);
    const refusals = broker.lines.filter((l) => l.msg === 'connection refused: not authenticated');
    assert.equal(refusals.length, 3);
    assert.ok(!JSON.stringify(broker.lines).includes('guessed-wrong'), 'a password reached the log');
  } finally {
    assert.equal(await broker.stop(), 0);
  }
});

test('allowAnonymous: false refuses clients without credentials with return code 5', async () => {
  const broker = await startServe({ configYaml: 'mqtt: { auth: { allowAnonymous: false } }\n' });
  try {
    assert.equal((await connack(broker.mqttPort, 'anon')).code, 5);
    assert.equal(metricValue(await broker.metrics(), 'tributary_auth_failures_total{reason="anonymous-refused"}'), 1);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
});

test('a damaged password file stops serve with exit code 2, naming file and line', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'passwd');
  fs.writeFileSync(file, '# users\nalice:plain-text\n');
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, 'mqtt: { auth: { passwordFile: passwd } }\n'); // relative to the config file
  const result = await runCli(['serve', '--config', config, '--data-dir', path.join(dir, 'data'), '--mqtt-port', '0', '--http-port', '0']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: user "alice": the hash is not`));
});

test('loopback is 127.0.0.0/8, ::1 and IPv4-mapped 127.x; everything else, unknown included, is the network', () => {
  for (const a of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3']) assert.equal(isLoopback(a), true, a);
  for (const a of [undefined, '', '10.0.0.1', '128.0.0.1', '::', '::2', 'fe80::1', '::ffff:10.0.0.1', '0.0.0.0', 'localhost', '1270.0.0.1']) assert.equal(isLoopback(a), false, String(a));
});

test('SIGHUP reloads the password file without dropping clients; a damaged file keeps the old rules', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', file, 'alice', 'a-secret']);
  const broker = await startServe({ configYaml: `mqtt: { auth: { passwordFile: ${file}, allowAnonymous: false } }\n` });
  const logged = (msg: string) => broker.lines.filter((l) => l.msg === msg).length;
  try {
    const { client: stay, connack: first } = await RawClient.connect(broker.mqttPort, { clientId: 'stay', username: 'alice', password: Buffer.from('a-secret') });
    assert.equal(first.returnCode, 0);
    assert.equal((await connack(broker.mqttPort, 'c1', 'carol', 'c-secret')).code, 5);
    execFileSync('mosquitto_passwd', ['-b', file, 'carol', 'c-secret']);
    process.kill(broker.pid, 'SIGHUP');
    await until('the reload', () => logged('reloaded the password, ACL, HTTP credential and upstream files') === 1);
    assert.equal((await connack(broker.mqttPort, 'c2', 'carol', 'c-secret')).code, 0);
    // The client connected before the reload is still served.
    stay.send({ cmd: 'publish', topic: 'still/here', payload: Buffer.from('x'), qos: 1, messageId: 7, retain: false, dup: false });
    assert.equal(((await stay.next('puback')) as { messageId: number }).messageId, 7);

    fs.appendFileSync(file, 'dave:not-a-hash\n');
    process.kill(broker.pid, 'SIGHUP');
    await until('the failed reload', () => logged('reload failed: the previous rules stay in force') === 1);
    const failure = broker.lines.find((l) => l.msg === 'reload failed: the previous rules stay in force');
    assert.match(String(failure?.error), new RegExp(`passwd:3: user "dave"`));
    assert.equal((await connack(broker.mqttPort, 'c3', 'carol', 'c-secret')).code, 0, 'the rules in force stay');
    stay.destroy();
  } finally {
    assert.equal(await broker.stop(), 0);
  }
});

/**
 * A network of the test's own: a namespace with one end of a veth pair (10.251.N.2), the other end
 * (10.251.N.1) in this namespace, where serve listens. Traffic never touches a real interface.
 */
function withNamespace(): { ns: string; hostAddress: string; close(): void } {
  const n = process.pid % 250;
  const ns = `trib-auth-${process.pid}`;
  const host = `trib-h${process.pid % 100000}`;
  const peer = `trib-n${process.pid % 100000}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  ip('netns', 'add', ns);
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
  ip('link', 'set', peer, 'netns', ns);
  ip('addr', 'add', `10.251.${n}.1/30`, 'dev', host);
  ip('link', 'set', host, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `10.251.${n}.2/30`, 'dev', peer);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up');
  return {
    ns,
    hostAddress: `10.251.${n}.1`,
    close: () => {
      try {
        ip('link', 'del', host);
      } finally {
        ip('netns', 'del', ns);
      }
    },
  };
}

test('anonymous clients: refused with 5 from a non-loopback peer (a namespace of the test), let in from loopback', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', file, 'alice', 'a-secret']);
  const net = withNamespace();
  try {
    const broker = await startServe({
      configYaml: `mqtt:\n  listeners: [{ type: tcp, host: ${net.hostAddress}, port: 0 }, { type: tcp, host: 127.0.0.1, port: 0 }]\n  auth: { passwordFile: ${file} }\n`,
    });
    try {
      const ports = (broker.lines.find((l) => l.msg === 'listening')?.mqtt as Array<{ host: string; port: number }>) ?? [];
      const networkPort = ports.find((p) => p.host === net.hostAddress)?.port;
      const loopbackPort = ports.find((p) => p.host === '127.0.0.1')?.port;
      assert.ok(networkPort !== undefined && loopbackPort !== undefined, JSON.stringify(ports));
      const fromNamespace = (...creds: string[]) => {
        try {
          execFileSync('ip', ['netns', 'exec', net.ns, 'mosquitto_pub', '-h', net.hostAddress, '-p', String(networkPort), '-t', 'ns/t', '-m', 'x', '-q', '1', ...creds], { stdio: ['ignore', 'pipe', 'pipe'] });
          return 'ok';
        } catch (err) {
          return (err as { stderr: Buffer }).stderr.toString();
        }
      };
      assert.match(fromNamespace(), /not authori[sz]ed/i, 'anonymous from the network');
      assert.equal(fromNamespace('-u', 'alice', '-P', 'a-secret'), 'ok', 'with a password from the network');
      assert.equal((await connack(loopbackPort, 'local-anon')).code, 0, 'anonymous from loopback');
      assert.equal(metricValue(await broker.metrics(), 'tributary_auth_failures_total{reason="anonymous-refused"}'), 1);
      const refused = broker.lines.find((l) => l.msg === 'connection refused: not authenticated');
      assert.equal(refused?.address, `${net.hostAddress.replace(/1$/, '2')}`);
    } finally {
      assert.equal(await broker.stop(), 0);
    }
  } finally {
    net.close();
  }
});
