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

/** An LMDB write transaction failed to commit. Retriable: the records were not acked. */
export class LogWriteError extends TributaryError {
  readonly code = 'LOG_WRITE';
  readonly retriable = true;
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
export class PublishRejectedError extends TributaryError {
  readonly code = 'PUBLISH_REJECTED';
  readonly retriable = false;
  constructor(
    message: string,
    readonly reason: string,
    options: ErrorOptions = {},
  ) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
