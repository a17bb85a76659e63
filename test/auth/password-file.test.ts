/**
 * Mosquitto's password-file format (src/auth/password-file.ts) and `tributary passwd`, checked against
 * the real Mosquitto tools (Debian's mosquitto package) both ways:
 *  - files made by `mosquitto_passwd`, in its $7$ (PBKDF2-SHA512) and older $6$ (SHA-512) forms, are
 *    read, and accept exactly the right passwords;
 *  - a file made by `tributary passwd` is accepted by a real Mosquitto broker (`password_file`), which
 *    lets the right password in and refuses a wrong one;
 *  - `tributary passwd` creates (-c), adds, changes, deletes (-D) and takes --password-stdin; it leaves
 *    the file at mode 0600 with no temporary file beside it, keeps other lines, and refuses a damaged
 *    file naming its line;
 *  - bad lines are refused with the file, line and user named.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parsePasswordFile, verifyPassword } from '../../src/auth/password-file.js';
import { ConfigError } from '../../src/errors.js';
import { CLI } from '../helpers/cli.js';
import { RawClient } from '../helpers/broker.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

function tributary(args: string[], input?: string): { code: number; stderr: string } {
  try {
    execFileSync(process.execPath, [CLI, ...args], { input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stderr: Buffer };
    return { code: e.status, stderr: e.stderr.toString() };
  }
}

test('files made by mosquitto_passwd ($7$ and $6$) are read and accept exactly the right passwords', async () => {
  const file = path.join(tmpDir(), 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', file, 'alice', 's3cret']);
  execFileSync('mosquitto_passwd', ['-b', file, 'bob', 'p@ss:wörd $6']);
  execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'carol', 'old-style']);
  const entries = parsePasswordFile(fs.readFileSync(file, 'utf8'), file);
  assert.deepEqual([...entries.values()].map((e) => [e.user, e.scheme]), [['alice', 'pbkdf2-sha512'], ['bob', 'pbkdf2-sha512'], ['carol', 'sha512']]);
  const check = (user: string, password: string) => verifyPassword(entries.get(user) as never, password);
  assert.equal(await check('alice', 's3cret'), true);
  assert.equal(await check('alice', 's3cret '), false);
  assert.equal(await check('bob', 'p@ss:wörd $6'), true);
  assert.equal(await check('bob', 's3cret'), false);
  assert.equal(await check('carol', 'old-style'), true);
  assert.equal(await check('carol', 'Old-style'), false);
});

/** Debian installs the broker in /usr/sbin, which a non-root PATH may lack. */
test('a file made by tributary passwd lets the right password into a real Mosquitto, and no other', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'passwd');
  assert.equal(tributary(['passwd', '-c', '-b', file, 'alice', 's3cret']).code, 0);
  assert.equal(tributary(['passwd', '--password-stdin', file, 'bob'], 'from stdin\nignored second line\n').code, 0);
  const broker = await startMosquitto(`allow_anonymous false\npassword_file ${file}\n`);
  const { port } = broker;
  try {
    const publish = (user: string, password: string) => {
      try {
        execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-u', user, '-P', password, '-t', 't', '-m', 'x', '-q', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
        return 'ok';
      } catch (err) {
        return (err as { stderr: Buffer }).stderr.toString();
      }
    };
    await until('mosquitto listening', () => publish('alice', 's3cret') === 'ok', 10_000, 100);
    assert.equal(publish('bob', 'from stdin'), 'ok');
    assert.match(publish('alice', 'wrong'), /not authori[sz]ed/i);
    assert.match(publish('bob', 'ignored second line'), /not authori[sz]ed/i);
    assert.match(publish('mallory', 's3cret'), /not authori[sz]ed/i);
    // The code tributary answers wrong credentials with (test/e2e/mqtt-auth.test.ts) is Mosquitto's.
    const { client, connack } = await RawClient.connect(port, { clientId: 'c', username: 'alice', password: Buffer.from('wrong') });
    client.destroy();
    assert.equal(connack.returnCode, 5);
  } finally {
    await broker.stop();
  }
  const log = broker.log;
  assert.ok(!/error/i.test(log.replace(/Error: .*not authori[sz]ed.*/gi, '')), `mosquitto reported an error reading the file:\n${log}`);
});

test('tributary passwd: create, add, change, delete; 0600, owner kept, atomic, other lines kept, damaged files refused', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'passwd');
  assert.match(tributary(['passwd', '-b', file, 'alice', 'x']).stderr, /does not exist \(use -c to create it\)/);
  assert.equal(tributary(['passwd', '-c', '-b', file, 'alice', 'one']).code, 0);
  fs.appendFileSync(file, '# a comment the operator wrote\n');
  fs.chmodSync(file, 0o644);
  // As install.sh leaves it: the service user's file, changed by root (the tests run as root).
  fs.chownSync(file, 4242, 4343);
  assert.equal(tributary(['passwd', '-b', file, 'bob', 'two']).code, 0);
  const aliceBefore = fs.readFileSync(file, 'utf8').split('\n')[0];
  assert.equal(tributary(['passwd', '-b', file, 'bob', 'three']).code, 0);
  let text = fs.readFileSync(file, 'utf8');
  assert.equal(text.split('\n')[0], aliceBefore, 'alice is untouched');
  assert.equal(text.split('\n')[1], '# a comment the operator wrote');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual([fs.statSync(file).uid, fs.statSync(file).gid], [4242, 4343], 'the owner is kept');
  assert.deepEqual(fs.readdirSync(dir), ['passwd'], 'no temporary file is left');
  let entries = parsePasswordFile(text, file);
  assert.equal(await verifyPassword(entries.get('bob') as never, 'three'), true);
  assert.equal(await verifyPassword(entries.get('bob') as never, 'two'), false);

  assert.equal(tributary(['passwd', '-D', file, 'alice']).code, 0);
  text = fs.readFileSync(file, 'utf8');
  entries = parsePasswordFile(text, file);
  assert.deepEqual([...entries.keys()], ['bob']);
  assert.match(tributary(['passwd', '-D', file, 'alice']).stderr, /user "alice" is not in/);
  assert.equal(tributary(['passwd', '-b', file, 'bad:name', 'x']).code, 2);
  assert.match(tributary(['passwd', file, 'carol']).stderr, /no terminal/);
  assert.match(tributary(['passwd', file, 'carol', 'pw']).stderr, /needs -b/);

  fs.appendFileSync(file, 'eve:plaintext\n');
  const damaged = tributary(['passwd', '-b', file, 'carol', 'x']);
  assert.equal(damaged.code, 2);
  assert.match(damaged.stderr, /passwd:3: user "eve": the hash is not \$7\$/);
});

test('bad lines are refused with the file, line and user named', () => {
  const refuse = (text: string, pattern: RegExp) => assert.throws(() => parsePasswordFile(text, 'pw'), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
  const ok = 'alice:$7$101$/TI2BOVpmDvRPKlz$dOR68yjPcLqYiJss9H/7rwikECAStIYK+Q/CpkymC4EKOU/GIJ5/ZPw1vRLv3Wold5I7JpMg5B8w40PwEqxXig==';
  assert.equal(parsePasswordFile(`# users\n\n${ok}\n`, 'pw').size, 1);
  refuse(`${ok}\n${ok}\n`, /^pw:2: user "alice" appears twice/);
  refuse('no-colon\n', /^pw:1: expected user:hash/);
  refuse(':$7$1$aa$bb\n', /^pw:1: expected user:hash/);
  refuse('bob:$7$0$AAAA$AAAA\n', /^pw:1: user "bob": iterations "0"/);
  refuse('bob:$7$101$AAAA$AAAA\n', /^pw:1: user "bob": the digest has 3 bytes, expected 64/);
  refuse('bob:$7$101$@@@$AAAA\n', /^pw:1: user "bob": the salt is not base64/);
  refuse('bob:$6$AAAA\n', /^pw:1: user "bob": a \$6\$ hash has the form/);
  refuse('bob:$5$AAAA$BBBB\n', /^pw:1: user "bob": the hash is not \$7\$/);
});
