/**
 * The strace reader that test/e2e/durability-syscalls.test.ts relies on, on fixed, hand-written
 * excerpts in the format `straceArgs` produces (-f -tt -yy -xx): it pairs `<unfinished ...>` with
 * `<... resumed>` per thread, decodes -xx strings and -yy targets (paths in \xNN, `TCP:[a->b]`), cuts data
 * to the return value, and reassembles MQTT packets that span reads. And `checkAcks` fails in each way
 * the e2e test counts on: an ack written while the sync is still running, a sync that began before the
 * PUBLISH was read, a sync that failed, a sync of another file, and a needle (stored JSON) written only
 * after the ack; it passes the same excerpts with the sync in its place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAcks, decodeCString, mqttTraffic, parseStrace, type AckCheckOptions } from './strace.js';

/** A string in strace's -xx form. */
const x = (s: string | Buffer): string => [...Buffer.from(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');

const DATA = `19<${x('/d/log/data.mdb')}>`;
const META = `20<${x('/d/log/data.mdb')}>`;
const SOCK = '21<TCP:[127.0.0.1:1883->127.0.0.1:40000]>';
const OTHER = '22<TCP:[127.0.0.1:1883->127.0.0.1:40001]>';

// PUBLISH QoS 1, topic "a/b", id 7, payload "hi!" — and the same with id 8, 9, 10.
const publish = (id: number, header = 0x32) => x(Buffer.from([header, 0x0a, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, id, 0x68, 0x69, 0x21]));
const ack = (id: number, type = 0x40) => `[{iov_base="${x(Buffer.from([type]))}", iov_len=1}, {iov_base="\\x02", iov_len=1}, {iov_base="${x(Buffer.from([0, id]))}", iov_len=2}], 3) = 4`;

const options: AckCheckOptions = { isDataFile: (p) => p === '/d/log/data.mdb', isClient: (t) => t.startsWith('TCP:[') };

const GOOD = `\
100   10:00:00.000001 read(${SOCK}, "${publish(7)}", 65536) = 12
107   10:00:00.000100 lseek(${DATA}, 8192, SEEK_SET) = 8192
107   10:00:00.000110 writev(${DATA}, [{iov_base="\\x01\\x02${x('hi!')}", iov_len=4096}, {iov_base="\\x00", iov_len=4096}], 2) = 5
107   10:00:00.000200 fdatasync(${DATA} <unfinished ...>
100   10:00:00.000250 read(${SOCK}, 0x5581a2b3c000, 65536) = -1 EAGAIN (Resource temporarily unavailable)
107   10:00:00.000900 <... fdatasync resumed>) = 0
107   10:00:00.001000 pwrite64(${META}, "\\x00\\x00\\x00\\x00", 4, 0) = 4
100   10:00:00.001100 writev(${SOCK}, ${ack(7)}
100   10:00:00.001200 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---
`;

test('parses calls, pairs unfinished with resumed per thread, decodes targets and data', () => {
  const calls = parseStrace(GOOD);
  assert.deepEqual(calls.map((c) => [c.enter, c.exit, c.pid, c.name]), [
    [0, 0, 100, 'read'],
    [1, 1, 107, 'lseek'],
    [2, 2, 107, 'writev'],
    [3, 5, 107, 'fdatasync'],
    [4, 4, 100, 'read'],
    [6, 6, 107, 'pwrite64'],
    [7, 7, 100, 'writev'],
  ]);
  const [read, , pages, sync, again, , puback] = calls;
  assert.equal(read?.target, 'TCP:[127.0.0.1:1883->127.0.0.1:40000]');
  assert.equal(read?.fd, 21);
  assert.deepEqual(read?.data, Buffer.from([0x32, 0x0a, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 7, 0x68, 0x69, 0x21]));
  assert.equal(sync?.target, '/d/log/data.mdb');
  assert.equal(sync?.ret, 0);
  assert.equal(sync?.time, '10:00:00.000200');
  assert.deepEqual([again?.ret, again?.errno, again?.data?.length], [-1, 'EAGAIN', 0]);
  // Cut to the return value: 5 of the iovecs' bytes were written.
  assert.deepEqual(pages?.data, Buffer.from([1, 2, 0x68, 0x69, 0x21]));
  assert.deepEqual(puback?.data, Buffer.from([0x40, 0x02, 0x00, 7]));
});

test('decodes the C escapes strace uses without -xx too', () => {
  assert.deepEqual(decodeCString('a\\n\\t\\"\\\\\\0\\177\\x41'), Buffer.from([0x61, 10, 9, 0x22, 0x5c, 0, 0x7f, 0x41]));
});

test('reassembles an MQTT packet that spans two reads; the later read is when it arrived', () => {
  const bytes = Buffer.from([0x32, 0x0a, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 9, 0x68, 0x69, 0x21, 0xc0, 0x00]);
  const text = `\
100   10:00:00.000001 read(${SOCK}, "${x(bytes.subarray(0, 5))}", 65536) = 5
100   10:00:00.000002 read(${SOCK} <unfinished ...>
107   10:00:00.000003 fdatasync(${DATA}) = 0
100   10:00:00.000004 <... read resumed>"${x(bytes.subarray(5))}", 65536) = 9
`;
  const traffic = mqttTraffic(parseStrace(text), options.isClient).get('TCP:[127.0.0.1:1883->127.0.0.1:40000]');
  assert.deepEqual(traffic?.inbound.map((f) => [f.type, f.first.enter, f.last.exit]), [[3, 0, 3], [12, 1, 3]]);
});

test('an ack after a completed sync of the data file that began after the read passes', () => {
  const [check, ...more] = checkAcks(parseStrace(GOOD), { ...options, needles: (p) => [p.payload] });
  assert.deepEqual(more, []);
  assert.equal(check?.problem, null);
  assert.deepEqual([check?.cmd, check?.messageId, check?.publish?.topic], ['puback', 7, 'a/b']);
});

test('an ack written while the sync is still running is flagged', () => {
  const text = `\
100   10:00:00.000001 read(${SOCK}, "${publish(8)}", 65536) = 12
107   10:00:00.000100 pwrite64(${DATA}, "${x('hi!')}", 3, 8192) = 3
107   10:00:00.000200 fdatasync(${DATA} <unfinished ...>
100   10:00:00.000300 writev(${SOCK}, ${ack(8)}
107   10:00:00.000900 <... fdatasync resumed>) = 0
`;
  const [check] = checkAcks(parseStrace(text), options);
  assert.match(check?.problem ?? '', /^PUBACK 8 on TCP:\[127\.0\.0\.1:1883->127\.0\.0\.1:40000\] \(topic "a\/b"\): no fdatasync\/fsync of the data file completed between the PUBLISH read \(line 1\) and the ack write \(line 4\)$/);
});

test('a sync that began before the PUBLISH was read does not count, nor does a failed one, nor one of another file', () => {
  const text = `\
107   10:00:00.000001 fdatasync(${DATA} <unfinished ...>
100   10:00:00.000002 read(${SOCK}, "${publish(9)}", 65536) = 12
107   10:00:00.000003 <... fdatasync resumed>) = 0
107   10:00:00.000004 fdatasync(${DATA}) = -1 EIO (Input/output error)
100   10:00:00.000005 fsync(1<${x('/var/log/serve.log')}>) = 0
100   10:00:00.000006 writev(${SOCK}, ${ack(9)}
`;
  const [check] = checkAcks(parseStrace(text), options);
  assert.match(check?.problem ?? '', /no fdatasync\/fsync of the data file completed/);
});

test('a needle written only after the ack is flagged, though a sync came before the ack', () => {
  const json = '"topic":"a/b"';
  const text = (stateWrite: number) => {
    const lines = [
      `100   10:00:00.000001 read(${SOCK}, "${publish(10, 0x33)}", 65536) = 12`,
      `107   10:00:00.000002 pwrite64(${DATA}, "${x('hi!')}", 3, 8192) = 3`,
      `107   10:00:00.000003 fdatasync(${DATA}) = 0`,
      `100   10:00:00.000004 writev(${SOCK}, ${ack(10)}`,
    ];
    const state = [`107   10:00:00.000005 pwrite64(${DATA}, "${x(`{${json},"retain":true}`)}", 29, 12288) = 29`, `107   10:00:00.000006 fdatasync(${DATA}) = 0`];
    lines.splice(stateWrite, 0, ...state);
    return lines.join('\n');
  };
  const needles = () => [Buffer.from(json)];
  const [late] = checkAcks(parseStrace(text(4)), { ...options, needles });
  assert.equal(late?.publish?.retain, true);
  assert.match(late?.problem ?? '', /^PUBACK 10 .*no write of `"topic":"a\/b"` to the data file followed by a completed sync between the PUBLISH read \(line 1\) and the ack write \(line 4\) \(first written after the read at line 5\)$/);
  const [inTime] = checkAcks(parseStrace(text(1)), { ...options, needles });
  assert.equal(inTime?.problem, null);
  // Written before the ack but synced only after it: still flagged.
  const [unsynced] = checkAcks(parseStrace(text(4).replace(/^(100 .*writev.*)\n(107 .*pwrite64.*12288.*)$/m, '$2\n$1')), { ...options, needles });
  assert.match(unsynced?.problem ?? '', /no write of `"topic":"a\/b"`/);
});

test('a PUBREC is matched to a QoS 2 PUBLISH; an ack of an id never read is flagged; other sockets are separate', () => {
  const text = `\
100   10:00:00.000001 read(${SOCK}, "${publish(11, 0x34)}", 65536) = 12
107   10:00:00.000002 fdatasync(${DATA}) = 0
100   10:00:00.000003 writev(${SOCK}, ${ack(11, 0x50)}
100   10:00:00.000004 writev(${OTHER}, ${ack(11)}
`;
  const checks = checkAcks(parseStrace(text), options);
  assert.deepEqual(checks.map((c) => [c.target.slice(-6), c.cmd, c.messageId, c.problem === null]), [
    ['40000]', 'pubrec', 11, true],
    ['40001]', 'puback', 11, false],
  ]);
  assert.match(checks[1]?.problem ?? '', /no PUBLISH with that id was read before it/);
});
