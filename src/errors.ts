/**
 * The one place where tributary's error classes live.
 *
 * Every error has a stable `code` (what scripts, logs and metrics key on), a `name`, and `retriable`:
 * retry logic reads only `retriable`, never the message. A lower-level error is passed on as `cause`.
 */

export interface ErrorOptions {
  cause?: unknown;
}

export abstract class TributaryError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** Something refused for a reason that is also a metric label (`reason`). */
export abstract class RefusalError extends TributaryError {
  constructor(
    message: string,
    readonly reason: string,
    options: ErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** A configuration file or flag is invalid. `path` names the key, e.g. `streams[0].partitions`. */
export class ConfigError extends TributaryError {
  readonly code = 'CONFIG_INVALID';
  readonly retriable = false;
  constructor(
    message: string,
    readonly path: string = '',
    options: ErrorOptions = {},
  ) {
    super(message, options);
  }
}

/** Bad command-line usage (unknown stream, bad offset syntax, ...). Exit code 2. */
export class UsageError extends TributaryError {
  readonly code = 'USAGE';
  readonly retriable = false;
}

/** The on-disk log breaks an invariant (gap in offsets, unknown record version, bad checksum). */
export class LogCorruptError extends TributaryError {
  readonly code = 'LOG_CORRUPT';
  readonly retriable = false;
}

/** A record could not be encoded or decoded (too large, bad field). */
export class RecordFormatError extends TributaryError {
  readonly code = 'RECORD_FORMAT';
  readonly retriable = false;
}

/** The named stream or partition does not exist. */
export class UnknownStreamError extends TributaryError {
  readonly code = 'UNKNOWN_STREAM';
  readonly retriable = false;
}

/** A stream exists on disk with a different partition count than the config asks for. */
export class StreamMismatchError extends TributaryError {
  readonly code = 'STREAM_MISMATCH';
  readonly retriable = false;
}

/** The log is closed or closing; no more appends are taken. */
export class LogClosedError extends TributaryError {
  readonly code = 'LOG_CLOSED';
  readonly retriable = false;
}

/**
 * An LMDB write transaction failed to commit. Retriable: the records were not acked. `reason` is the
 * metric label: `io` (EIO from a write or a sync), `no-space` (ENOSPC), `other`.
 */
export class LogWriteError extends TributaryError {
  readonly code = 'LOG_WRITE';
  readonly retriable = true;
  readonly reason: string;
  constructor(message: string, options: ErrorOptions & { reason?: string } = {}) {
    super(message, options);
    this.reason = options.reason ?? 'other';
  }
}

/**
 * A write operation was refused before it joined a group commit: its key or value is outside what LMDB
 * stores (key 1..511 bytes, value up to 4 GiB - 1). Only the item that carried it fails; `reason` is the
 * metric label (`key-empty`, `key-too-long`, `value-too-large`, `lmdb-refused`).
 */
export class InvalidWriteError extends RefusalError {
  readonly code = 'LOG_INVALID_WRITE';
  readonly retriable = false;
}

/**
 * The writer found one of the log's invariants broken where it is made (an append not at the partition
 * end, an end or start moving backwards, negative byte counts, a cursor moving back, a trim past the
 * upstream cursor that was not forced, LMDB disagreeing with what a commit should have left). The log
 * stops taking writes and acks nothing more: carrying on could hand out an offset twice.
 */
export class LogInvariantError extends TributaryError {
  readonly code = 'LOG_INVARIANT';
  readonly retriable = false;
}

/**
 * The Kafka API's group coordinator found its own state inconsistent (a member that is also pending, a
 * leader that is not a member, a transition Kafka's state machine does not have). The coordinator stops.
 */
export class GroupInvariantError extends TributaryError {
  readonly code = 'KAFKA_API_GROUP_INVARIANT';
  readonly retriable = false;
}

/** The storage limit leaves no room and nothing more can be dropped. */
export class StorageFullError extends TributaryError {
  readonly code = 'STORAGE_FULL';
  readonly retriable = true;
}

/** The upstream (Kafka) failed in a way that may pass: connection refused, leader moved, timeout. */
export class UpstreamError extends TributaryError {
  readonly code: string;
  readonly retriable: boolean;
  constructor(message: string, options: ErrorOptions & { code?: string; retriable?: boolean } = {}) {
    super(message, options);
    this.code = options.code ?? 'UPSTREAM';
    this.retriable = options.retriable ?? true;
  }
}

/** A publish was refused at ingest (oversized, bad topic, ...). `reason` is the metric label. */
export class PublishRejectedError extends RefusalError {
  readonly code = 'PUBLISH_REJECTED';
  readonly retriable = false;
}

/** `tributary status` got no status from the broker: not reachable, refused the credentials, or answered an error. */
export class StatusUnavailableError extends TributaryError {
  readonly code = 'STATUS_UNAVAILABLE';
  readonly retriable = true;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The status page's files (src/ops/page/, copied to dist by `npm run build`) are missing from the install. */
export class PageAssetsMissingError extends TributaryError {
  readonly code = 'PAGE_ASSETS_MISSING';
  readonly retriable = false;
}

/**
 * A Kafka protocol frame is malformed (truncated, a length past the end, null where not nullable,
 * trailing bytes). `offset` is the byte in the frame (after its size prefix) where the fault was found.
 * The connection that sent it is to be closed: the stream can no longer be trusted to be in step.
 */
export class ProtocolError extends TributaryError {
  readonly code = 'KAFKA_PROTOCOL';
  readonly retriable = false;
  constructor(
    message: string,
    readonly offset: number,
    options: ErrorOptions = {},
  ) {
    super(message, options);
  }
}
