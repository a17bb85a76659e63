/**
 * Mosquitto's `acl_file` syntax, and the decisions it makes: who may publish to, subscribe to and
 * receive which topics.
 *
 *   file    := line*                    (blank lines and lines starting with '#' are skipped)
 *   line    := 'user' NAME              following `topic` lines are NAME's (until the next `user`)
 *            | 'topic' [access] FILTER  for the current user; before the first `user` line: anonymous clients
 *            | 'pattern' [access] FILTER  for every client; a level that is exactly %u or %c is replaced
 *                                       by the client's user name or client id
 *   access  := 'read' | 'write' | 'readwrite' (the default) | 'deny'
 *
 * Decisions (a `deny` rule wins over any grant, as in Mosquitto; with no rule that grants, the answer
 * is no):
 *   - publish / will:  no deny rule matches the topic, and a write grant matches it;
 *   - receive:         no deny rule matches the topic, and a read grant matches it (checked for every
 *                      delivery, retained messages included, so a wildcard subscription never delivers
 *                      what the client may not read);
 *   - subscribe:       no deny rule covers the whole filter, and a read grant could match a topic of it.
 * A rule whose filter does not start with '$' never applies to a '$' topic. A pattern with %u does not
 * apply to anonymous clients at all, grant or deny (they have no name; Mosquitto agrees, checked in
 * test/auth/acl-mosquitto.test.ts). A %u or %c value that is empty or holds '/', '+' or '#' makes a
 * grant pattern not apply and a deny pattern apply to everything, so a crafted client id cannot widen
 * access.
 */
import { topicFilterProblem } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { levelsMatch } from '../topic-levels.js';

export type Access = 'read' | 'write' | 'readwrite' | 'deny';

export interface AclRule {
  access: Access;
  levels: string[];
  /** Pattern rules substitute %u and %c; topic rules are literal filters. */
  pattern: boolean;
  line: number;
}

export interface AclIdentity {
  /** The authenticated user name; null for anonymous clients. */
  user: string | null;
  clientId: string;
}

export class Acl {
  private constructor(
    private readonly anonymous: AclRule[],
    private readonly users: Map<string, AclRule[]>,
    private readonly patterns: AclRule[],
  ) {}

  /** Parses an ACL file; `file` names it in errors (`file:line: what`). */
  static parse(text: string, file: string): Acl {
    const anonymous: AclRule[] = [];
    const users = new Map<string, AclRule[]>();
    const patterns: AclRule[] = [];
    let current = anonymous;
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] as string).trim();
      if (line === '' || line.startsWith('#')) continue;
      const where = `${file}:${i + 1}`;
      const [keyword, ...rest] = line.split(/\s+/);
      if (keyword === 'user') {
        const name = line.slice('user'.length).trim();
        if (name === '') throw new ConfigError(`${where}: "user" needs a name`, where);
        current = users.get(name) ?? [];
        users.set(name, current);
        continue;
      }
      if (keyword !== 'topic' && keyword !== 'pattern') throw new ConfigError(`${where}: expected user, topic or pattern, not "${keyword}"`, where);
      const access = ['read', 'write', 'readwrite', 'deny'].includes(rest[0] ?? '') && rest.length > 1 ? (rest.shift() as Access) : 'readwrite';
      const filter = rest.join(' ');
      const problem = topicFilterProblem(filter);
      if (problem) throw new ConfigError(`${where}: ${problem}`, where);
      const rule = { access, levels: filter.split('/'), pattern: keyword === 'pattern', line: i + 1 };
      (keyword === 'pattern' ? patterns : current).push(rule);
    }
    return new Acl(anonymous, users, patterns);
  }

  /** Total rules, for the log line at load. */
  get size(): number {
    let n = this.anonymous.length + this.patterns.length;
    for (const rules of this.users.values()) n += rules.length;
    return n;
  }

  canPublish(who: AclIdentity, topic: string): boolean {
    return this.decide(who, topic, 'write', levelsMatch, levelsMatch);
  }

  canReceive(who: AclIdentity, topic: string): boolean {
    return this.decide(who, topic, 'read', levelsMatch, levelsMatch);
  }

  canSubscribe(who: AclIdentity, filter: string): boolean {
    return this.decide(who, filter, 'read', covers, intersects);
  }

  private decide(who: AclIdentity, subject: string, want: 'read' | 'write', denies: Matcher, grants: Matcher): boolean {
    const levels = subject.split('/');
    const rules = [...(who.user === null ? this.anonymous : (this.users.get(who.user) ?? [])), ...this.patterns];
    let granted = false;
    for (const rule of rules) {
      const filter = rule.pattern ? substitute(rule.levels, who) : rule.levels;
      if (filter === NAMELESS) continue;
      if (rule.access === 'deny') {
        if (filter === null || (applies(filter, levels) && denies(filter, levels))) return false;
      } else if (!granted && filter !== null && (rule.access === want || rule.access === 'readwrite') && applies(filter, levels) && grants(filter, levels)) {
        granted = true;
      }
    }
    return granted;
  }
}

type Matcher = (rule: string[], subject: string[]) => boolean;

/** [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a topic starting with '$'. */
function applies(rule: string[], subject: string[]): boolean {
  return !(subject[0] ?? '').startsWith('$') || (rule[0] ?? '').startsWith('$');
}

/** What `substitute` gives for a %u pattern and an anonymous client: the rule is not theirs. */
const NAMELESS: string[] = [];

/**
 * The rule's levels with %u and %c replaced; null when a value could widen the filter; NAMELESS for %u
 * without a user.
 */
function substitute(levels: string[], who: AclIdentity): string[] | null {
  const out: string[] = [];
  for (const level of levels) {
    if (level !== '%u' && level !== '%c') {
      out.push(level);
      continue;
    }
    const value = level === '%u' ? who.user : who.clientId;
    if (value === null) return NAMELESS;
    if (value === '' || /[/+#]/.test(value)) return null;
    out.push(value);
  }
  return out;
}

/** Whether every topic the subscription filter matches is matched by the rule filter. */
function covers(rule: string[], filter: string[]): boolean {
  for (let i = 0; ; i++) {
    const r = rule[i];
    const f = filter[i];
    if (r === '#') return true;
    if (r === undefined || f === undefined) return r === f;
    if (f === '#') return false;
    if (r === '+') continue;
    if (f === '+' || r !== f) return false;
  }
}

/** Whether some topic is matched by both filters. */
function intersects(rule: string[], filter: string[]): boolean {
  for (let i = 0; ; i++) {
    const r = rule[i];
    const f = filter[i];
    if (r === '#' || f === '#') return true;
    if (r === undefined || f === undefined) return r === f;
    if (r !== '+' && f !== '+' && r !== f) return false;
  }
}
