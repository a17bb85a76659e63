/**
 * What the forward loops share about the upstream: whether Kafka can be reached at all (`Link`), and which
 * streams Kafka refuses (`StreamBlocks`).
 *
 * Why shared: with N partition loops, N independent retry timers would open N connections every backoff
 * period while the cluster is down (a reconnect storm against a cluster that many gateways feed). So a
 * link-wide failure (connection refused, unknown host, timeout) puts the whole link into one backoff, and
 * once it expires exactly one send (the probe) goes out; the others wait for its outcome. Failures that
 * prove the cluster answered (NOT_LEADER, NOT_ENOUGH_REPLICAS, an invalid topic) concern only the partition
 * or stream that hit them; they mark the link reachable.
 *
 * A refused connection (TLS verification, SASL authentication: `UPSTREAM_TLS`, `UPSTREAM_AUTH`) is link-wide
 * too, and no waiting cures it: the link is down with a `refusal` (what health reports) and probes go at the
 * longest backoff (`maxMs`), not faster, until a send succeeds or `retryNow()` (a SIGHUP with new files)
 * lets the next probe go at once.
 *
 * Concurrency: single event loop; any number of loops may wait in `permit` at once.
 */
import { UpstreamError, errorMessage } from '../errors.js';
import { backoffDelayMs, sleep, type BackoffLimits } from './backoff.js';
import type { UpstreamRefusal } from '../ops/probes.js';
import type { SecurityFailureCode } from './kafka-security.js';

/** Link-wide refusals only an operator can lift (kafka-security.ts), and the words health and the log lead with. */
const refusalHeadlines: Readonly<Record<SecurityFailureCode, string>> = {
  UPSTREAM_AUTH: 'upstream authentication failed',
  UPSTREAM_TLS: 'upstream TLS verification failed',
};

/** The same refusals as the status report names them. */
const refusalKinds: Readonly<Record<SecurityFailureCode, UpstreamRefusal>> = {
  UPSTREAM_AUTH: 'authentication',
  UPSTREAM_TLS: 'tls',
};

/** Sink error codes after which nothing can reach Kafka, whatever the partition. */
const linkWideCodes: ReadonlySet<string> = new Set(['UPSTREAM_UNREACHABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_UNKNOWN_HOST', ...Object.keys(refusalHeadlines)]);

export interface LinkRefusal {
  /** `upstream authentication failed`, `upstream TLS verification failed`. */
  headline: string;
  kind: UpstreamRefusal;
  /** `CODE: message` of the latest refused attempt. */
  error: string;
}

function refusalCode(err: unknown): SecurityFailureCode | undefined {
  if (!(err instanceof UpstreamError) || !Object.hasOwn(refusalHeadlines, err.code)) return undefined;
  return err.code as SecurityFailureCode;
}

/** The one log line of a refusal (logged once per refusal, by whoever met it first): what to fix and how. */
export function refusalMessage(refusal: LinkRefusal, retryEveryMs: number): string {
  return `${refusal.headline}: forwarding paused, every record stays in the log; fix the upstream.kafka settings or files this error names and send SIGHUP (tried again every ${retryEveryMs} ms meanwhile)`;
}

export function isLinkWide(err: unknown): boolean {
  return err instanceof UpstreamError && linkWideCodes.has(err.code);
}

/** `CODE: message`, the form the state and log lines carry. */
export function describeError(err: unknown): string {
  const code = err instanceof UpstreamError ? err.code : err instanceof Error ? err.name : 'ERROR';
  return `${code}: ${errorMessage(err)}`;
}

export class Link {
  /** A link-wide failure happened and no send has succeeded since. */
  #down = false;
  /** Some connect or send has had an outcome: until then nobody knows whether Kafka can be reached. */
  #known = false;
  #downSince = 0;
  /** Link-wide failures in a row; the exponent of the shared backoff. */
  #attempts = 0;
  #retryAt = 0;
  /** A probe is out: the others wait for its outcome rather than all trying at once. */
  #probing = false;
  #changed = new Set<() => void>();
  /** Set while the link is down because the cluster refused the connection (TLS, SASL). */
  #refusal: LinkRefusal | null = null;
  lastError: string | null = null;
  lastErrorAt: number | null = null;

  constructor(
    private readonly limits: BackoffLimits,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  get down(): boolean {
    return this.#down;
  }

  /** False until the first connect or send succeeded or failed. */
  get known(): boolean {
    return this.#known;
  }

  /** Milliseconds until the next probe may go, 0 when the link is up. */
  get retryInMs(): number {
    return this.#down ? Math.max(0, this.#retryAt - this.now()) : 0;
  }

  /**
   * Resolves true when the caller may send: at once while the link is up; while it is down, only after the
   * shared backoff, and then for one caller at a time. Resolves false when `signal` aborts.
   */
  async permit(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (!this.#down) return true;
      const waitMs = this.#retryAt - this.now();
      if (waitMs <= 0 && !this.#probing) {
        this.#probing = true;
        return true;
      }
      await this.#nextChange(waitMs > 0 ? waitMs : this.limits.maxMs, signal);
    }
    return false;
  }

  get refusal(): LinkRefusal | null {
    return this.#refusal;
  }

  /** A send went through: the link is up, the backoff starts over. */
  succeeded(): void {
    this.#known = true;
    this.#attempts = 0;
    this.#refusal = null;
    this.#set(false);
  }

  /**
   * A send that started at `startedAt` failed with `err`. Returns the refusal when this failure is the
   * first of its kind since the link was last fine (the caller logs it once), else null.
   */
  failed(err: unknown, startedAt: number): LinkRefusal | null {
    this.lastError = describeError(err);
    this.lastErrorAt = this.now();
    this.#known = true;
    if (!isLinkWide(err)) {
      // Kafka answered (with a refusal of a stream): it is reachable, and let this gateway in.
      this.#attempts = 0;
      this.#refusal = null;
      this.#set(false);
      return null;
    }
    // Sends already out when the link went down fail too; they are one failure, not N.
    if (this.#down && startedAt < this.#downSince) return null;
    this.#attempts++;
    if (!this.#down) this.#downSince = this.now();
    const code = refusalCode(err);
    const headline = code === undefined ? undefined : refusalHeadlines[code];
    const fresh = headline !== undefined && this.#refusal?.headline !== headline;
    this.#refusal = code === undefined || headline === undefined ? null : { headline, kind: refusalKinds[code], error: this.lastError };
    // A refusal waits the longest backoff from the first: sooner would only hammer the cluster with
    // attempts it refuses, and an operator's fix comes with a SIGHUP, which retries at once.
    const delayMs = headline === undefined ? backoffDelayMs(this.#attempts, this.limits, this.random) : this.limits.maxMs;
    this.#retryAt = this.now() + delayMs;
    this.#set(true);
    return fresh ? this.#refusal : null;
  }

  /** New settings (SIGHUP): a link that is down probes at once, and its backoff starts over. */
  retryNow(): void {
    if (!this.#down) return;
    this.#attempts = 0;
    this.#retryAt = this.now();
    this.#set(true);
  }

  /** Resolves at the next change of the link (up, down, a probe's outcome), after `timeoutMs`, or on abort. */
  changed(timeoutMs: number, signal: AbortSignal): Promise<void> {
    return this.#nextChange(timeoutMs, signal);
  }

  /** The probe's caller gave up without an outcome (closing): let another caller probe. */
  abandoned(): void {
    if (this.#probing) this.#set(this.#down);
  }

  #set(down: boolean): void {
    this.#down = down;
    this.#probing = false;
    const waiters = [...this.#changed];
    this.#changed.clear();
    for (const wake of waiters) wake();
  }

  #nextChange(timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const controller = new AbortController();
      const done = (): void => {
        this.#changed.delete(done);
        signal.removeEventListener('abort', done);
        controller.abort();
        resolve();
      };
      this.#changed.add(done);
      signal.addEventListener('abort', done, { once: true });
      void sleep(timeoutMs, controller.signal).then(done);
    });
  }
}

interface Block {
  untilMs: number;
  error: string;
}

/**
 * Streams whose records Kafka refuses (invalid or missing topic, not authorised, record too large): their
 * partitions stop sending, keep every record in the log, and try again after `retryMs`, in case an
 * operator fixed the cluster meanwhile.
 */
export class StreamBlocks {
  readonly #blocks = new Map<string, Block>();

  constructor(
    private readonly retryMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns true when this call blocked the stream (it was not blocked yet): the caller logs it once. */
  block(stream: string, err: unknown): boolean {
    const fresh = !this.#blocks.has(stream);
    this.#blocks.set(stream, { untilMs: this.now() + this.retryMs, error: describeError(err) });
    return fresh;
  }

  /** Returns true when the stream was blocked. */
  clear(stream: string): boolean {
    return this.#blocks.delete(stream);
  }

  error(stream: string): string | null {
    return this.#blocks.get(stream)?.error ?? null;
  }

  isBlocked(stream: string): boolean {
    return this.#blocks.has(stream);
  }

  /** Waits until the stream's retry time (at once when it is not blocked). */
  async wait(stream: string, signal: AbortSignal): Promise<void> {
    const block = this.#blocks.get(stream);
    if (block !== undefined) await sleep(block.untilMs - this.now(), signal);
  }
}
