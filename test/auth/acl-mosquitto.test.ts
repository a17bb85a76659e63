/**
 * The ACL's decisions (src/auth/acl-file.ts) against the real Mosquitto's, as the oracle: the same
 * acl_file is given to Mosquitto, and for every (client, topic) probe
 *  - write: the client publishes QoS 1 to the topic; Mosquitto allowed it when an observer subscribed to
 *    '#' (a user the file lets read everything) receives it;
 *  - read: the client subscribes to the topic itself, and an observer publishes to it; Mosquitto allowed
 *    it when the client receives the message.
 * tributary's `canPublish`, and `canSubscribe` with `canReceive`, must give the same answer for every
 * probe. The file exercises anonymous rules, user sections, read / write / readwrite / the default,
 * deny winning over a broader grant, '+' and '#' (which matches its parent level), and %u / %c patterns
 * including a deny pattern. (Client ids holding '+', '#' or '/' are left out: Mosquitto 2.0.11 stops
 * answering such a client's publishes; tributary's own rule for them is in acl-file.test.ts.)
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { Acl, type AclIdentity } from '../../src/auth/acl-file.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const ACL = `# anonymous clients
topic read public/#
topic write anon/in

user alice
topic readwrite plant/#
topic deny plant/secret
topic read cfg/+/get
topic cmd/alice

user bob
topic read plant/+/temp
topic write plant/bob/#
topic deny plant/bob/locked

user observer
topic readwrite #

pattern write devices/%c/up
pattern read devices/%c/down/#
pattern readwrite users/%u/#
pattern deny users/%u/banned
`;

const SUBJECTS: AclIdentity[] = [
  { user: null, clientId: 'anon-1' },
  { user: 'alice', clientId: 'alice-1' },
  { user: 'bob', clientId: 'bob-1' },
];

/** Topics for a subject: fixed ones, and ones built from its own and another's names. */
function topicsFor(who: AclIdentity): string[] {
  const user = who.user ?? 'nobody';
  return [
    'public/news', 'public', 'anon/in', 'anon/out', 'plant', 'plant/1/temp', 'plant/1/pressure', 'plant/secret',
    'plant/bob/valve', 'plant/bob/locked', 'cfg/7/get', 'cfg/7/set', 'cmd/alice', 'other/topic',
    `devices/${who.clientId}/up`, `devices/${who.clientId}/down/led`, 'devices/someone-else/up',
    `users/${user}/notes`, `users/${user}/banned`, 'users/someone-else/notes',
  ];
}

const PASSWORD = 'pw';

test('publish and read decisions match the real Mosquitto for the same acl_file', async (t) => {
  const dir = tmpDir();
  const passwd = path.join(dir, 'passwd');
  const aclFile = path.join(dir, 'acl');
  fs.writeFileSync(aclFile, ACL);
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'observer', PASSWORD]);
  for (const user of ['alice', 'bob']) execFileSync('mosquitto_passwd', ['-b', passwd, user, PASSWORD]);
  const mosquitto = await startMosquitto(`allow_anonymous true\npassword_file ${passwd}\nacl_file ${aclFile}\n`);
  const clients: MqttClient[] = [];
  const connect = async (who: AclIdentity, clientId = who.clientId): Promise<MqttClient> => {
    const credentials = who.user === null ? {} : { username: who.user, password: PASSWORD };
    const client = await connectAsync(`mqtt://127.0.0.1:${mosquitto.port}`, { clientId, reconnectPeriod: 0, ...credentials });
    clients.push(client);
    return client;
  };
  const acl = Acl.parse(ACL, 'acl');
  try {
    const observer = await connect({ user: 'observer', clientId: 'observer-1' });
    const seen: string[] = [];
    observer.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await observer.subscribeAsync('#', { qos: 1 });

    const disagreements: string[] = [];
    for (const who of SUBJECTS) {
      const topics = topicsFor(who);
      const subject = `${who.user ?? 'anonymous'}(${who.clientId})`;

      // Write: everything the client publishes that reaches the observer was allowed.
      const client = await connect(who);
      for (const topic of topics) await client.publishAsync(topic, `w:${subject}`, { qos: 1 });
      await observer.publishAsync(`users/observer/marker`, `w:${subject}`, { qos: 1 });
      await until(`the observer's marker after ${subject}'s publishes`, () => seen.includes(`users/observer/marker w:${subject}`));
      for (const topic of topics) {
        const mosquittoSays = seen.includes(`${topic} w:${subject}`);
        if (acl.canPublish(who, topic) !== mosquittoSays) disagreements.push(`${subject} write ${topic}: mosquitto ${mosquittoSays}`);
      }

      // Read: the client subscribes to each topic; what it receives of the observer's publishes was allowed.
      const received = new Set<string>();
      client.on('message', (topic) => received.add(topic));
      for (const topic of topics) await client.subscribeAsync(topic, { qos: 1 }).catch(() => undefined);
      for (const topic of topics) await observer.publishAsync(topic, `r:${subject}`, { qos: 1 });
      // The observer's last publish has reached the client (or been withheld) once a message on the
      // client's own inbox, which every user may read, arrives after it.
      const inbox = who.user === null ? 'public/marker' : `users/${who.user}/marker`;
      await client.subscribeAsync(inbox, { qos: 1 });
      await observer.publishAsync(inbox, `r:${subject}`, { qos: 1 });
      await until(`${subject}'s marker`, () => received.has(inbox));
      for (const topic of topics) {
        const mosquittoSays = received.has(topic);
        const ours = acl.canSubscribe(who, topic) && acl.canReceive(who, topic);
        if (ours !== mosquittoSays) disagreements.push(`${subject} read ${topic}: mosquitto ${mosquittoSays}`);
      }
      t.diagnostic(`${subject}: ${topics.length} topics probed`);
    }
    assert.deepEqual(disagreements, [], 'tributary decides as Mosquitto does');
    // The probes are not all one answer: the file both grants and denies for each subject.
    for (const who of SUBJECTS) {
      const answers = new Set(topicsFor(who).map((topic) => acl.canPublish(who, topic)));
      assert.equal(answers.size, 2, `${who.user ?? 'anonymous'} gets both answers`);
    }
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await mosquitto.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
