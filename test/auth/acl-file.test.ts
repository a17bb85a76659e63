/**
 * Mosquitto's acl_file syntax and its decisions (src/auth/acl-file.ts), as a table: rules before the
 * first `user` line are the anonymous clients'; `user` sections; `pattern` rules with %u and %c for
 * everyone; read / write / readwrite / deny, deny winning; subscriptions allowed when a read rule could
 * deliver something and no deny rule covers the whole filter; '$' topics only for '$' rules; a %u or %c
 * value holding a wildcard or '/' never widens access; bad lines refused with file and line, also by
 * `tributary check-config`, which reads the files a config names.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { Acl } from '../../src/auth/acl-file.js';
import { ConfigError } from '../../src/errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const ACL = Acl.parse(
  `# anonymous clients
topic read public/#

user alice
topic readwrite sensors/#
topic deny sensors/secret
topic write cmd/+/set
user bob
topic read sensors/+/temp

pattern write devices/%c/up
pattern read users/%u/#
pattern deny devices/%c/up/blocked
`,
  'acl',
);

const anon = { user: null, clientId: 'a1' };
const alice = { user: 'alice', clientId: 'dev-1' };
const bob = { user: 'bob', clientId: 'dev-2' };

test('publish: write grants, deny first, anonymous rules, patterns', () => {
  const cases: Array<[typeof alice | typeof anon, string, boolean]> = [
    [alice, 'sensors/1/temp', true],
    [alice, 'sensors/secret', false],
    [alice, 'cmd/7/set', true],
    [alice, 'cmd/7/get', false],
    [alice, 'public/x', false], // the anonymous rules are not alice's
    [bob, 'sensors/1/temp', false], // read only
    [anon, 'public/x', false],
    [alice, 'devices/dev-1/up', true],
    [alice, 'devices/dev-2/up', false],
    [alice, 'devices/dev-1/up/blocked', false],
    [anon, 'devices/a1/up', true], // patterns apply to everyone
    [alice, 'nothing/granted', false],
  ];
  for (const [who, topic, want] of cases) assert.equal(ACL.canPublish(who, topic), want, `${who.user ?? 'anonymous'} publish ${topic}`);
});

test('receive and subscribe', () => {
  const receive: Array<[typeof alice | typeof anon, string, boolean]> = [
    [anon, 'public/a/b', true],
    [alice, 'sensors/x', true],
    [alice, 'sensors/secret', false],
    [bob, 'sensors/9/temp', true],
    [bob, 'sensors/9/hum', false],
    [bob, 'users/bob/inbox', true],
    [bob, 'users/alice/inbox', false],
    [anon, 'users//x', false], // %u has no value for an anonymous client
  ];
  for (const [who, topic, want] of receive) assert.equal(ACL.canReceive(who, topic), want, `${who.user ?? 'anonymous'} receive ${topic}`);
  const subscribe: Array<[typeof alice | typeof anon, string, boolean]> = [
    [alice, 'sensors/#', true], // deny covers only part of it: allowed, sensors/secret filtered on delivery
    [alice, 'sensors/secret', false],
    [bob, '#', true], // could deliver sensors/+/temp
    [bob, 'sensors/+/hum', false],
    [bob, 'cmd/#', false],
    [anon, 'public/+', true],
    [anon, '+/x', true],
    [anon, 'private/#', false],
  ];
  for (const [who, filter, want] of subscribe) assert.equal(ACL.canSubscribe(who, filter), want, `${who.user ?? 'anonymous'} subscribe ${filter}`);
});

test('a $ topic needs a $ rule, and a crafted id cannot widen a pattern', () => {
  const acl = Acl.parse('topic readwrite #\npattern readwrite tenants/%c/#\n', 'acl');
  assert.equal(acl.canReceive(anon, '$SYS/broker/uptime'), false);
  assert.equal(acl.canSubscribe(anon, '$SYS/#'), false);
  assert.equal(acl.canReceive(anon, 'x'), true);
  const scoped = Acl.parse('pattern readwrite tenants/%c/#\n', 'acl');
  assert.equal(scoped.canPublish({ user: null, clientId: 't1' }, 'tenants/t1/a'), true);
  assert.equal(scoped.canPublish({ user: null, clientId: '+' }, 'tenants/t2/a'), false);
  assert.equal(scoped.canPublish({ user: null, clientId: 'a/b' }, 'tenants/a/b/c'), false);
  const denied = Acl.parse('topic readwrite #\npattern deny tenants/%c/#\n', 'acl');
  assert.equal(denied.canPublish({ user: null, clientId: '#' }, 'anything'), false, 'a deny pattern with a wildcard id denies everything');
});

test('bad lines are refused with the file and line', () => {
  const refuse = (text: string, pattern: RegExp) => assert.throws(() => Acl.parse(text, 'acl'), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
  refuse('topic read a/#/b\n', /^acl:1: .*# must be a whole level/);
  refuse('# ok\nuser\n', /^acl:2: "user" needs a name/);
  refuse('topics read a\n', /^acl:1: expected user, topic or pattern, not "topics"/);
  refuse('topic\n', /^acl:1: a topic filter is at least one character/);
  assert.equal(Acl.parse('topic read\n', 'acl').canPublish(anon, 'read'), true, 'one word is the filter, as in Mosquitto');
  assert.equal(Acl.parse('topic a b\n', 'acl').canReceive(anon, 'a b'), true, 'a filter with a space, access defaulted');
});

test('check-config reads the password and ACL files the config names, and refuses a bad line with file and line', async () => {
  const dir = tmpDir();
  const acl = path.join(dir, 'acl');
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(path.join(dir, 'passwd'), '');
  fs.writeFileSync(acl, 'user alice\ntopic readwrite a/#\n');
  fs.writeFileSync(config, 'mqtt: { auth: { passwordFile: passwd, aclFile: acl } }\n');
  const good = await runCli(['check-config', config]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /0 users, 1 ACL rules/);
  fs.writeFileSync(acl, 'user alice\ntopic readwrite a/#\ntopic read a/#/b\n');
  const bad = await runCli(['check-config', config]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /acl:3: /);
  fs.rmSync(dir, { recursive: true, force: true });
});
