/**
 * Health as a pure function: facts in, a list of named checks out.
 *
 * `/healthz` answers 503 when any check fails. The systemd watchdog uses only the *liveness* checks
 * (`isLive`): those a restart can cure. A stalled event loop, a log that cannot commit or a wedged
 * forwarder are cured by a restart; a disk under its floor is not (a restart loop would only add wear and
 * downtime while disk pressure handling drops old records), so it turns `/healthz` red but keeps the
 * watchdog fed.
 *
 * An upstream that is merely offline is not a failure: a gateway is built to run with the link down.
 * "Wedged" means the forwarder says it is online, has a backlog, and has not moved for `forwardStallMs`.
 * An upstream that refuses this gateway (TLS verification, SASL authentication) is a failure an operator
 * must fix (`upstream`), and not a liveness one: a restart reads the same files and is refused again.
 */
import type { UpstreamState } from './probes.js';
import { formatBytes } from '../config/units.js';

export type CheckName = 'event-loop' | 'commit' | 'disk' | 'forward' | 'upstream';

export interface HealthCheck {
  name: CheckName;
  ok: boolean;
  message: string;
}

export interface HealthReport {
  status: 'ok' | 'fail';
  checks: HealthCheck[];
}

export interface HealthInputs {
  nowMs: number;
  /** Worst event loop delay seen recently (see `createEventLoopMonitor`). */
  eventLoopLagMs: number;
  commit: {
    /** The last commit attempt failed (and none succeeded since). */
    failing: boolean;
    lastError: string | null;
    /** When appends have been waiting for a commit since, or null when none waits. */
    oldestPendingSinceMs: number | null;
  };
  /** null while the host monitor has not sampled yet. */
  diskFreeBytes: number | null;
  /** Omitted when no upstream is configured. */
  forward?: {
    state: UpstreamState;
    backlogRecords: number;
    /** When the forwarder last got an acknowledgement (or started), ms since the epoch. */
    lastProgressMs: number;
    /** Why the cluster refuses the connection (`upstream authentication failed: ...`), null when it does not. */
    refusal?: string | null;
  };
}

export interface HealthLimits {
  /** `storage.diskFreeMinBytes` */
  diskFreeMinBytes: number;
  eventLoopLagMaxMs: number;
  /** Appends waiting longer than this for their commit mean the log is stuck. */
  commitStallMs: number;
  forwardStallMs: number;
}

export const DEFAULT_HEALTH_LIMITS: Omit<HealthLimits, 'diskFreeMinBytes'> = {
  eventLoopLagMaxMs: 1_000,
  commitStallMs: 5_000,
  forwardStallMs: 120_000,
};

export const LIVENESS_CHECKS: ReadonlySet<CheckName> = new Set<CheckName>(['event-loop', 'commit', 'forward']);

export function evaluateHealth(inputs: HealthInputs, limits: HealthLimits): HealthReport {
  const checks = [
    eventLoopCheck(inputs.eventLoopLagMs, limits.eventLoopLagMaxMs),
    commitCheck(inputs, limits.commitStallMs),
    diskCheck(inputs.diskFreeBytes, limits.diskFreeMinBytes),
  ];
  if (inputs.forward !== undefined) {
    checks.push(forwardCheck(inputs.nowMs, inputs.forward, limits.forwardStallMs), upstreamCheck(inputs.forward.refusal ?? null));
  }
  return { status: checks.every((c) => c.ok) ? 'ok' : 'fail', checks };
}

/** True when every check a restart could cure passes: what the watchdog's `isHealthy` should return. */
export function isLive(report: HealthReport): boolean {
  return report.checks.every((c) => c.ok || !LIVENESS_CHECKS.has(c.name));
}

export function failingChecks(report: HealthReport): HealthCheck[] {
  return report.checks.filter((c) => !c.ok);
}

function eventLoopCheck(lagMs: number, maxMs: number): HealthCheck {
  const ok = lagMs <= maxMs;
  const message = `event loop delay ${Math.round(lagMs)} ms (limit ${maxMs} ms)`;
  return { name: 'event-loop', ok, message };
}

function commitCheck(inputs: HealthInputs, stallMs: number): HealthCheck {
  const { failing, lastError, oldestPendingSinceMs } = inputs.commit;
  if (failing) return { name: 'commit', ok: false, message: `log commit failing: ${lastError ?? 'unknown error'}` };
  if (oldestPendingSinceMs !== null) {
    const waitedMs = inputs.nowMs - oldestPendingSinceMs;
    if (waitedMs > stallMs) {
      return { name: 'commit', ok: false, message: `appends waiting ${waitedMs} ms for a commit (limit ${stallMs} ms)` };
    }
  }
  return { name: 'commit', ok: true, message: 'log commits completing' };
}

function diskCheck(freeBytes: number | null, minBytes: number): HealthCheck {
  if (freeBytes === null) return { name: 'disk', ok: true, message: 'disk not sampled yet' };
  const ok = freeBytes >= minBytes;
  const message = `${formatBytes(freeBytes)} free on the data filesystem (floor ${formatBytes(minBytes)})`;
  return { name: 'disk', ok, message };
}

function upstreamCheck(refusal: string | null): HealthCheck {
  if (refusal !== null) return { name: 'upstream', ok: false, message: refusal };
  return { name: 'upstream', ok: true, message: 'the upstream has refused no TLS handshake or authentication since the last success' };
}

function forwardCheck(nowMs: number, forward: NonNullable<HealthInputs['forward']>, stallMs: number): HealthCheck {
  const idleMs = nowMs - forward.lastProgressMs;
  const claimsOnline = forward.state === 'online' || forward.state === 'degraded';
  if (claimsOnline && forward.backlogRecords > 0 && idleMs > stallMs) {
    const message = `forwarder ${forward.state} with ${forward.backlogRecords} records pending made no progress for ${idleMs} ms`;
    return { name: 'forward', ok: false, message };
  }
  return { name: 'forward', ok: true, message: `upstream ${forward.state}, ${forward.backlogRecords} records pending` };
}
