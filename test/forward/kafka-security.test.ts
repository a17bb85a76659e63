/**
 * Proves the Kafka sink's TLS and SASL against a real Apache Kafka with a SASL_SSL listener (the secure
 * cluster of `scripts/kafka-dev.sh start --secure`): records sent over TLS (CA from the config) with
 * SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, and with a client certificate, are acknowledged and read back in
 * order by Kafka's own console consumer logging in as the same user. A wrong password and a mechanism the
 * user has no credentials for give `UPSTREAM_AUTH`, a CA that did not sign the broker and a servername the
 * certificate does not carry give `UPSTREAM_TLS`, SASL towards a listener without SASL (the plaintext
 * cluster) gives `UPSTREAM_AUTH`: all non-retriable, with messages that name the mechanism, user, files and
 * brokers and never a password; after `renew()` with the right password the same sink sends again, and
 * `renew()` on a working session makes the next send log in afresh. Kafka
 * must be startable: these tests fail, never skip, without it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { readUpstreamSecurity, type UpstreamSecurity } from '../../src/config/upstream-secrets.js';
import { UpstreamError } from '../../src/errors.js';
import { createKafkaSink, type Sink, type SinkRecord } from '../../src/forward/kafka-sink.js';
import { consoleConsume, createSecureTopics, ensureKafka, ensureSecureKafka, type SecureKafka } from '../helpers/kafka.js';
import { tmpDir } from '../helpers/tmp.js';

const runId = `${process.pid}-${Date.now()}`;
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

type Mechanism = 'scram-sha-256' | 'scram-sha-512' | 'plain';

/**
 * `patient`: timeouts no loaded machine reaches, so no request is retried (a retry may duplicate what
 * Kafka already wrote, which the contract allows) and every record can be asserted exactly once, in order.
 */
function sinkFor(brokers: string[], security: UpstreamSecurity | undefined, patient = false): Sink {
  const timeouts = patient ? { requestTimeoutMs: 30_000, connectTimeoutMs: 10_000, sendTimeoutMs: 120_000 } : { requestTimeoutMs: 3_000, connectTimeoutMs: 2_000, sendTimeoutMs: 10_000 };
  return createKafkaSink({ brokers, clientId: 'tributary-test', compression: 'lz4', ...timeouts, security });
}

function records(topic: string, count: number): SinkRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    key: Buffer.from(`k${i % 3}`),
    value: Buffer.from(`v${i}`),
    headers: [[Buffer.from('tributary.offset'), Buffer.from(String(i))] as const],
    timestamp: Date.now(),
  }));
}

async function sendFails(sink: Sink, topic: string): Promise<UpstreamError> {
  try {
    await sink.send(records(topic, 1));
  } catch (err) {
    assert.ok(err instanceof UpstreamError, String(err));
    return err;
  }
  assert.fail('the send went through');
}

describe('kafka sink over SASL_SSL', () => {
  let secure: SecureKafka;
  let dir: string;
  /** The security a config with these settings gives, read the way serve reads it. */
  let securityOf: (mechanism: Mechanism, options?: { password?: string; ca?: string; servername?: string; username?: string; clientCert?: boolean }) => UpstreamSecurity;

  before(async () => {
    secure = await ensureSecureKafka();
    dir = tmpDir('tributary-kafka-security-');
    securityOf = (mechanism, options = {}) => {
      const user = secure.users[mechanism];
      const passwordFile = path.join(dir, `${mechanism}-${Math.random()}.password`);
      fs.writeFileSync(passwordFile, `${options.password ?? user.password}\n`);
      const tls = {
        ca: options.ca ?? secure.ca,
        rejectUnauthorized: true,
        ...(options.servername !== undefined && { servername: options.servername }),
        ...(options.clientCert === true && { cert: secure.clientCert, key: secure.clientKey }),
      };
      const security = readUpstreamSecurity({ tls, sasl: { mechanism, username: options.username ?? user.username, passwordFile } }, {});
      assert.ok(security);
      return security;
    };
  });

  test('SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN over TLS, and a client certificate: Kafka acknowledges, its console consumer reads them in order', async () => {
    const cases: Array<{ name: string; mechanism: Mechanism; clientCert?: boolean }> = [
      { name: 'scram256', mechanism: 'scram-sha-256' },
      { name: 'scram512', mechanism: 'scram-sha-512' },
      { name: 'plain', mechanism: 'plain' },
      { name: 'mtls', mechanism: 'scram-sha-512', clientCert: true },
    ];
    await createSecureTopics(secure, cases.map(({ name }) => `sec-${name}-${runId}`), 3);
    await Promise.all(
      cases.map(async ({ name, mechanism, clientCert }) => {
        const topic = `sec-${name}-${runId}`;
        const sink = sinkFor([secure.bootstrap], securityOf(mechanism, { clientCert: clientCert === true }), true);
        try {
          await sink.send(records(topic, 30));
          await sink.send(records(topic, 30).map((r, i) => ({ ...r, headers: [[Buffer.from('tributary.offset'), Buffer.from(String(30 + i))] as const] })));
        } finally {
          await sink.close();
        }
        // A retriable answer for one partition (a leader still settling on the fresh topic) makes the
        // sink send the whole call again, duplicating the partitions Kafka did write: the contract allows
        // that, never a loss or a reordering. So read past 60 (until 15 s pass without a record) and check
        // every record is there and the first arrivals are in order.
        const read = await consoleConsume(secure, mechanism, topic, 180, 15_000);
        const firsts = new Set<number>();
        const byPartition = new Map<number, number[]>();
        for (const r of read) {
          const offset = Number(r.headers.get('tributary.offset'));
          if (firsts.has(offset)) continue;
          firsts.add(offset);
          byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), offset]);
        }
        assert.equal(firsts.size, 60, `${name}: Kafka has every record`);
        for (const [partition, offsets] of byPartition) assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `${name}: order in partition ${partition}`);
      }),
    );
  });

  test('a wrong password is UPSTREAM_AUTH, non-retriable, naming user, mechanism and file, never a password; renew() with the right one sends again', async () => {
    const wrong = `wrong-${runId}`;
    const security = securityOf('scram-sha-512', { password: wrong });
    const sink = sinkFor([secure.bootstrap], security);
    try {
      const err = await sendFails(sink, `sec-wrong-${runId}`);
      console.log(`wrong password: ${err.code}: ${err.message}`);
      assert.equal(err.code, 'UPSTREAM_AUTH');
      assert.equal(err.retriable, false);
      assert.match(err.message, /SCRAM-SHA-512 authentication as tributary_scram512/);
      assert.match(err.message, /SASL_AUTHENTICATION_FAILED/);
      assert.ok(err.message.includes(security.sasl?.passwordSource ?? '?'), 'names the password file');
      assert.ok(err.message.includes(secure.bootstrap), 'names the broker');
      for (const secret of [wrong, secure.users['scram-sha-512'].password]) assert.ok(!err.message.includes(secret) && !JSON.stringify(err).includes(secret));

      sink.renew?.(securityOf('scram-sha-512'));
      await sink.send(records(`sec-wrong-${runId}`, 5));
      // And renew() drops a session that works: the next send logs in again, with what it was given.
      sink.renew?.(security);
      assert.equal((await sendFails(sink, `sec-wrong-${runId}`)).code, 'UPSTREAM_AUTH');
    } finally {
      await sink.close();
    }
  });

  test('a mechanism the user has no credentials for is UPSTREAM_AUTH', async () => {
    const sink = sinkFor([secure.bootstrap], securityOf('scram-sha-256', { username: secure.users['scram-sha-512'].username, password: secure.users['scram-sha-512'].password }));
    try {
      const err = await sendFails(sink, `sec-mech-${runId}`);
      assert.deepEqual([err.code, err.retriable], ['UPSTREAM_AUTH', false]);
      assert.match(err.message, /SCRAM-SHA-256/);
    } finally {
      await sink.close();
    }
  });

  test('a CA that did not sign the broker, and a servername its certificate lacks, are UPSTREAM_TLS naming the file and name', async () => {
    const wrongCa = sinkFor([secure.bootstrap], securityOf('scram-sha-512', { ca: secure.otherCa }));
    const wrongName = sinkFor([secure.bootstrap], securityOf('scram-sha-512', { servername: 'kafka.example' }));
    try {
      const ca = await sendFails(wrongCa, `sec-ca-${runId}`);
      console.log(`wrong CA: ${ca.code}: ${ca.message}`);
      assert.deepEqual([ca.code, ca.retriable], ['UPSTREAM_TLS', false]);
      assert.match(ca.message, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
      assert.ok(ca.message.includes(secure.otherCa), 'names the CA file');
      const name = await sendFails(wrongName, `sec-name-${runId}`);
      assert.deepEqual([name.code, name.retriable], ['UPSTREAM_TLS', false]);
      assert.match(name.message, /ERR_TLS_CERT_ALTNAME_INVALID.*servername \(kafka\.example\)/);
    } finally {
      await Promise.all([wrongCa.close(), wrongName.close()]);
    }
  });

  test('SASL towards a listener without SASL is UPSTREAM_AUTH', async () => {
    const { brokers } = await ensureKafka();
    const security = securityOf('scram-sha-512');
    const sink = sinkFor(brokers, { ...(security.sasl && { sasl: security.sasl }) });
    try {
      const err = await sendFails(sink, `sec-plaintext-${runId}`);
      assert.deepEqual([err.code, err.retriable], ['UPSTREAM_AUTH', false]);
      assert.match(err.message, /ILLEGAL_SASL_STATE/);
    } finally {
      await sink.close();
    }
  });
});

test('no case left an unhandled rejection', () => {
  assert.deepEqual(unhandled, []);
});
