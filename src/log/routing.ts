/**
 * Routing: which stream and partition an MQTT message belongs to, and its partition key.
 *
 * Pure functions, shared by ingest (where to append) and forward (the Kafka record key), so both
 * always agree. A stream's `match` filters are tried in config order; the first stream with a
 * matching filter wins, else `default`. `$`-topics never match `#` or `+` at the first level
 * [MQTT-4.7.2-1]. partition = FNV-1a-32(UTF-8 key) mod partitions: stable across restarts,
 * machines and Node versions, which a partition assignment must be.
 */
import { levelsMatch } from '../topic-levels.js';

export interface RouteSpec {
  name: string;
  match: readonly string[];
  partitions: number;
  /** `topic`, `client-id` or `topic-level:N` (0-based level; a missing level keys as ""). */
  key: string;
}

export interface Route {
  stream: string;
  partition: number;
  key: string;
}

const ROUTE_CACHE_MAX = 10_000;

export class Router {
  private readonly specs: readonly RouteSpec[];
  private readonly fallback: RouteSpec;
  /** topic → stream spec; bounded, cleared when full (topics on a gateway are a small, stable set). */
  private readonly cache = new Map<string, RouteSpec>();
  /** topic → whole route, for streams keyed by the topic (no client id in the key): no hashing per message. */
  private readonly routes = new Map<string, Route>();

  constructor(specs: readonly RouteSpec[], defaultStream = 'default') {
    const fallback = specs.find((s) => s.name === defaultStream);
    if (!fallback) throw new Error(`routing needs a stream named ${defaultStream}`);
    this.fallback = fallback;
    this.specs = specs.filter((s) => s.match.length > 0);
  }

  /** The route of a message; the object may be shared between calls, so callers must not change it. */
  route(topic: string, clientId: string): Route {
    const cached = this.routes.get(topic);
    if (cached !== undefined) return cached;
    const spec = this.streamFor(topic);
    const key = partitionKeyOf(spec.key, topic, clientId);
    const route: Route = Object.freeze({ stream: spec.name, partition: partitionFor(key, spec.partitions), key });
    if (spec.key !== 'client-id') {
      if (this.routes.size >= ROUTE_CACHE_MAX) this.routes.clear();
      this.routes.set(topic, route);
    }
    return route;
  }

  streamFor(topic: string): RouteSpec {
    let spec = this.cache.get(topic);
    if (spec === undefined) {
      spec = this.specs.find((s) => s.match.some((f) => topicMatches(f, topic))) ?? this.fallback;
      if (this.cache.size >= ROUTE_CACHE_MAX) this.cache.clear();
      this.cache.set(topic, spec);
    }
    return spec;
  }
}

export function partitionKeyOf(keySpec: string, topic: string, clientId: string): string {
  if (keySpec === 'topic') return topic;
  if (keySpec === 'client-id') return clientId;
  const level = /^topic-level:(\d+)$/.exec(keySpec);
  if (!level) throw new Error(`unknown partition key "${keySpec}"`);
  return topic.split('/')[Number(level[1])] ?? '';
}

export function partitionFor(key: string, partitions: number): number {
  return fnv1a32(Buffer.from(key, 'utf8')) % partitions;
}

export function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const b of bytes) {
    hash ^= b;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** MQTT 3.1.1 topic filter matching [MQTT-4.7]. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
  return levelsMatch(f, t);
}
