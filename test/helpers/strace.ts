/**
 * Reads what `strace` saw a process do, and checks acks against the syncs that must precede them.
 *
 * Input: the output file of `strace -f -qq -tt -yy -xx -s 65536 -e trace=... -o FILE` (`straceArgs`).
 * One line per event, in the order strace stopped the threads, so line order is real order:
 *
 *   line      := [pid] time call
 *   call      := name "(" args ")" " = " ret [errno]        a call no other thread interrupted
 *              | name "(" args " <unfinished ...>"           its entry, when another thread's event came first
 *              | "<... " name " resumed>" args ")" " = " ret [errno]   its exit, on the same pid
 *   fd        := digits "<" target ">"        (-yy: a path, TCP:[local->remote], socket:[inode], pipe:[...])
 *   string    := '"' C escapes '"'            (-xx: every byte as \xNN)
 *
 * A call has an `enter` and an `exit` position (line numbers; equal for an uninterrupted line). A call
 * A happened before B when A.exit < B.enter. Data comes from the call's first string (read, write,
 * pwrite64, recvfrom, sendto) or from its `iov_base` strings (readv, writev, pwritev, sendmsg, recvmsg),
 * cut to the return value.
 *
 * On top of that, `mqttTraffic` splits each socket's bytes into MQTT 3.1.1 packets, and `checkAcks`
 * checks every PUBACK and PUBREC a process wrote against the syncs of its data file (see there).
 */

export interface Syscall {
  /** Line number (0-based) of the call's entry. */
  enter: number;
  /** Line number of its return. */
  exit: number;
  pid: number | null;
  time: string;
  name: string;
  fd: number | null;
  /** The -y/-yy annotation of the first argument, decoded: a path, or e.g. `TCP:[127.0.0.1:1883->127.0.0.1:40000]`. */
  target: string | null;
  /** Bytes read or written (cut to the return value), or null for calls that carry none. */
  data: Buffer | null;
  /** The return value; null when strace printed `?` (the thread died in the call). */
  ret: number | null;
  errno: string | null;
}

/** strace's command line (before the traced command) that produces what `parseStrace` reads. */
export function straceArgs(outFile: string, calls: readonly string[] = TRACED_CALLS): string[] {
  return ['strace', '-f', '-qq', '-tt', '-yy', '-xx', '-s', '65536', '-e', `trace=${calls.join(',')}`, '-o', outFile];
}

export const TRACED_CALLS = ['read', 'recvfrom', 'readv', 'recvmsg', 'write', 'writev', 'sendto', 'sendmsg', 'pwrite64', 'pwritev', 'lseek', 'fdatasync', 'fsync'] as const;

const SINGLE_BUFFER = new Set(['read', 'write', 'pwrite64', 'pread64', 'recvfrom', 'sendto']);
const VECTOR_BUFFER = new Set(['readv', 'writev', 'pwritev', 'pwritev2', 'sendmsg', 'recvmsg']);
const READS = new Set(['read', 'recvfrom', 'readv', 'recvmsg']);
const WRITES = new Set(['write', 'writev', 'sendto', 'sendmsg', 'pwrite64', 'pwritev', 'pwritev2']);
const SYNCS = new Set(['fdatasync', 'fsync']);

const LINE = /^(?:(\d+)\s+)?(\d\d:\d\d:\d\d(?:\.\d+)?)\s+(.*)$/;
const UNFINISHED = ' <unfinished ...>';
const RESUMED = /^<\.\.\. (\w+) resumed>(.*)$/;
const CALL = /^(\w+)\((.*)$/;
const STRING = /"((?:[^"\\]|\\.)*)"/g;

interface Open {
  name: string;
  enter: number;
  time: string;
  text: string;
}

/** Parses strace output into calls, ordered by entry. Unfinished calls that never resumed are dropped. */
export function parseStrace(text: string): Syscall[] {
  const calls: Syscall[] = [];
  const open = new Map<number | null, Open>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i] as string);
    if (m === null) continue;
    const pid = m[1] === undefined ? null : Number(m[1]);
    const time = m[2] as string;
    const rest = m[3] as string;
    const resumed = RESUMED.exec(rest);
    if (resumed !== null) {
      const started = open.get(pid);
      // A resume without its entry is from before the trace began, or a line strace lost: skip it.
      if (started === undefined || started.name !== resumed[1]) continue;
      open.delete(pid);
      const call = complete(started.name, started.text + (resumed[2] as string), started.enter, i, pid, started.time);
      if (call !== null) calls.push(call);
      continue;
    }
    const head = CALL.exec(rest);
    if (head === null) continue; // signals (--- SIG... ---), exits (+++ ... +++)
    const name = head[1] as string;
    if (rest.endsWith(UNFINISHED)) {
      open.set(pid, { name, enter: i, time, text: (head[2] as string).slice(0, -UNFINISHED.length) });
      continue;
    }
    const call = complete(name, head[2] as string, i, i, pid, time);
    if (call !== null) calls.push(call);
  }
  calls.sort((a, b) => a.enter - b.enter);
  return calls;
}

/** `args` is everything after `name(`: the arguments, `)`, ` = ret` and maybe an errno. */
function complete(name: string, args: string, enter: number, exit: number, pid: number | null, time: string): Syscall | null {
  const bare = args.replace(STRING, '""');
  const at = bare.lastIndexOf(') = ');
  if (at < 0) return null;
  const result = /^(-?\d+|\?)(?:\s+(E[A-Z0-9]+))?/.exec(bare.slice(at + 4));
  if (result === null) return null;
  const ret = result[1] === '?' ? null : Number(result[1]);
  const errno = result[2] ?? null;
  const { fd, target } = firstArgument(args);
  let data: Buffer | null = null;
  if (SINGLE_BUFFER.has(name) || VECTOR_BUFFER.has(name)) {
    const strings = [...args.matchAll(STRING)].filter((s) => SINGLE_BUFFER.has(name) || args.slice(Math.max(0, (s.index ?? 0) - 9), s.index).endsWith('iov_base='));
    const parts = (SINGLE_BUFFER.has(name) ? strings.slice(0, 1) : strings).map((s) => decodeCString(s[1] as string));
    const all = Buffer.concat(parts);
    data = ret !== null && ret >= 0 ? all.subarray(0, ret) : Buffer.alloc(0);
  }
  return { enter, exit, pid, time, name, fd, target, data, ret, errno };
}

/** The descriptor and its -y/-yy annotation, e.g. `19<\x2f\x74\x6d\x70>` or `24<TCP:[1.2.3.4:5->6.7.8.9:10]>`. */
function firstArgument(args: string): { fd: number | null; target: string | null } {
  const m = /^(-?\d+)(<)?/.exec(args);
  if (m === null) return { fd: null, target: null };
  const fd = Number(m[1]);
  if (m[2] === undefined) return { fd, target: null };
  const start = (m[0] as string).length;
  // A socket or pipe annotation is `kind:[...]` and may hold '>' (TCP:[a->b]); a path under -xx is all \xNN.
  const bracketed = /^[A-Za-z_]+:\[/.test(args.slice(start));
  const end = bracketed ? args.indexOf(']>', start) + 1 : args.indexOf('>', start);
  if (end <= 0) return { fd, target: null };
  return { fd, target: decodeCString(args.slice(start, end)).toString('utf8') };
}

/** Decodes the inside of a strace string: \xNN, octal \NNN, \n \t \r \v \f \" \\, other bytes as latin1. */
export function decodeCString(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== '\\') {
      out.push(c.charCodeAt(0) & 0xff);
      continue;
    }
    const n = s[++i] as string;
    if (n === 'x') {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n >= '0' && n <= '7') {
      let j = i;
      while (j < i + 3 && j < s.length && (s[j] as string) >= '0' && (s[j] as string) <= '7') j++;
      out.push(parseInt(s.slice(i, j), 8));
      i = j - 1;
    } else {
      out.push(({ n: 10, t: 9, r: 13, v: 11, f: 12 } as Record<string, number>)[n] ?? n.charCodeAt(0));
    }
  }
  return Buffer.from(out);
}

// ---- MQTT over the traced sockets --------------------------------------------------------------

export interface MqttFrame {
  /** Packet type (3 PUBLISH, 4 PUBACK, 5 PUBREC, ...). */
  type: number;
  flags: number;
  body: Buffer;
  /** The call that carried the packet's first byte, and the one that carried its last. */
  first: Syscall;
  last: Syscall;
}

export interface SocketTraffic {
  /** Packets read from the socket, in order. */
  inbound: MqttFrame[];
  /** Packets written to it, in order. */
  outbound: MqttFrame[];
}

/**
 * Splits the bytes read from and written to each socket `isClient` accepts into MQTT packets. Reads
 * are taken in the order they returned, writes in the order they began.
 */
export function mqttTraffic(calls: readonly Syscall[], isClient: (target: string) => boolean): Map<string, SocketTraffic> {
  const inbound = new Map<string, Syscall[]>();
  const outbound = new Map<string, Syscall[]>();
  for (const call of calls) {
    if (call.target === null || call.data === null || call.data.length === 0 || !isClient(call.target)) continue;
    const into = READS.has(call.name) ? inbound : WRITES.has(call.name) ? outbound : null;
    if (into === null) continue;
    let list = into.get(call.target);
    if (list === undefined) into.set(call.target, (list = []));
    list.push(call);
  }
  const traffic = new Map<string, SocketTraffic>();
  for (const target of new Set([...inbound.keys(), ...outbound.keys()])) {
    const reads = [...(inbound.get(target) ?? [])].sort((a, b) => a.exit - b.exit);
    traffic.set(target, { inbound: splitFrames(reads), outbound: splitFrames(outbound.get(target) ?? []) });
  }
  return traffic;
}

/** Cuts the concatenated data of `calls` into MQTT packets (fixed header [MQTT-2.2]); a trailing partial packet is dropped. */
export function splitFrames(calls: readonly Syscall[]): MqttFrame[] {
  const owners: Syscall[] = [];
  const bytes = Buffer.concat(calls.map((c) => {
    for (let i = 0; i < (c.data as Buffer).length; i++) owners.push(c);
    return c.data as Buffer;
  }));
  const frames: MqttFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let length = 0;
    let multiplier = 1;
    let i = at + 1;
    for (;;) {
      if (i >= bytes.length) return frames;
      const b = bytes[i++] as number;
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      if ((b & 0x80) === 0) break;
      if (i - at > 4) throw new Error(`malformed remaining length at byte ${at} of the stream`);
    }
    const end = i + length;
    if (end > bytes.length) return frames;
    const header = bytes[at] as number;
    frames.push({ type: header >> 4, flags: header & 0x0f, body: bytes.subarray(i, end), first: owners[at] as Syscall, last: owners[end - 1] as Syscall });
    at = end;
  }
  return frames;
}

export interface Publish {
  topic: string;
  qos: number;
  retain: boolean;
  messageId: number | null;
  payload: Buffer;
}

/** The fields of a PUBLISH frame (MQTT 3.1.1 [MQTT-3.3]). */
export function decodePublish(frame: MqttFrame): Publish {
  if (frame.type !== 3) throw new Error(`not a PUBLISH: packet type ${frame.type}`);
  const qos = (frame.flags >> 1) & 3;
  const topicLength = frame.body.readUInt16BE(0);
  const topic = frame.body.toString('utf8', 2, 2 + topicLength);
  let at = 2 + topicLength;
  let messageId: number | null = null;
  if (qos > 0) {
    messageId = frame.body.readUInt16BE(at);
    at += 2;
  }
  return { topic, qos, retain: (frame.flags & 1) === 1, messageId, payload: frame.body.subarray(at) };
}

// ---- acks against syncs ------------------------------------------------------------------------

export interface AckCheck {
  target: string;
  cmd: 'puback' | 'pubrec';
  messageId: number;
  /** The PUBLISH it acknowledges, when one was read before it. */
  publish: Publish | null;
  /** Why the ack came too early, or null when it did not. */
  problem: string | null;
}

export interface AckCheckOptions {
  /** Whether a path is the data file whose syncs count (e.g. ends in `/log/data.mdb`). */
  isDataFile(path: string): boolean;
  /** Whether a call's target is one of the client sockets to check. */
  isClient(target: string): boolean;
  /**
   * Byte strings that must each be written to the data file and then synced between the PUBLISH
   * being read and its ack (e.g. the payload, or the JSON of a retained copy). Default: none.
   */
  needles?(publish: Publish): Buffer[];
}

/**
 * For every PUBACK (QoS 1) and PUBREC (QoS 2) written to a client socket: the PUBLISH with its message
 * id and QoS read last before the ack began must be followed by a sync of the data file that began
 * after that read returned and returned 0 before the ack began; and for each needle, a write to the
 * data file containing it must begin after the read and be followed by such a sync that began after the
 * write returned.
 */
export function checkAcks(calls: readonly Syscall[], options: AckCheckOptions): AckCheck[] {
  const onData = (c: Syscall): boolean => c.target !== null && options.isDataFile(c.target) && c.ret !== null && c.ret >= 0;
  const syncs = calls.filter((c) => SYNCS.has(c.name) && onData(c) && c.ret === 0);
  const writes = calls.filter((c) => WRITES.has(c.name) && onData(c) && c.data !== null && c.data.length > 0);
  const syncedBetween = (after: number, before: number): Syscall | undefined => syncs.find((s) => s.enter > after && s.exit < before);
  const results: AckCheck[] = [];
  for (const [target, traffic] of mqttTraffic(calls, options.isClient)) {
    for (const ack of traffic.outbound) {
      if (ack.type !== 4 && ack.type !== 5) continue;
      const cmd = ack.type === 4 ? 'puback' : 'pubrec';
      const messageId = ack.body.readUInt16BE(0);
      const sentAt = ack.first.enter;
      const read = lastPublishBefore(traffic.inbound, messageId, ack.type === 4 ? 1 : 2, sentAt);
      const name = `${cmd.toUpperCase()} ${messageId} on ${target}`;
      if (read === null) {
        results.push({ target, cmd, messageId, publish: null, problem: `${name} (line ${sentAt + 1}): no PUBLISH with that id was read before it` });
        continue;
      }
      const { publish, frame } = read;
      const readAt = frame.last.exit;
      const window = `between the PUBLISH read (line ${readAt + 1}) and the ack write (line ${sentAt + 1})`;
      let problem: string | null = null;
      if (syncedBetween(readAt, sentAt) === undefined) {
        problem = `${name} (topic "${publish.topic}"): no fdatasync/fsync of the data file completed ${window}`;
      }
      for (const needle of options.needles?.(publish) ?? []) {
        if (problem !== null) break;
        const holding = writes.filter((w) => w.enter > readAt && (w.data as Buffer).includes(needle));
        if (holding.some((w) => syncedBetween(w.exit, sentAt) !== undefined)) continue;
        const first = holding[0];
        const seen = first === undefined ? 'never written after the read' : `first written after the read at line ${first.enter + 1}`;
        problem = `${name} (topic "${publish.topic}"): no write of \`${needle.toString('latin1')}\` to the data file followed by a completed sync ${window} (${seen})`;
      }
      results.push({ target, cmd, messageId, publish, problem });
    }
  }
  return results;
}

function lastPublishBefore(inbound: readonly MqttFrame[], messageId: number, qos: number, before: number): { publish: Publish; frame: MqttFrame } | null {
  let found: { publish: Publish; frame: MqttFrame } | null = null;
  for (const frame of inbound) {
    if (frame.type !== 3 || frame.last.exit >= before) continue;
    const publish = decodePublish(frame);
    if (publish.qos === qos && publish.messageId === messageId) found = { publish, frame };
  }
  return found;
}
