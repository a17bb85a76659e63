/**
 * The serial transport's error classes, in the shape of tributary's `src/errors.ts` (which the bridge may
 * not import): a stable `code`, a `name`, `retriable`, and `cause` passed on. Retry logic reads only
 * `retriable`.
 */

export abstract class SerialError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** A message is too long to go into one frame of the configured `frameBytesMax`. */
export class FrameTooLargeError extends SerialError {
  readonly code = 'SERIAL_FRAME_TOO_LARGE';
  readonly retriable = false;
  constructor(
    readonly messageBytes: number,
    readonly messageBytesMax: number,
  ) {
    super(`a ${messageBytes}-byte message does not fit a serial frame (at most ${messageBytesMax} bytes)`);
  }
}

/** The serial options are invalid; `path` names the option, e.g. `frameBytesMax`. */
export class SerialConfigError extends SerialError {
  readonly code = 'SERIAL_CONFIG_INVALID';
  readonly retriable = false;
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** Opening or writing the serial device failed (unplugged, permission, busy). The transport retries. */
export class SerialPortError extends SerialError {
  readonly code = 'SERIAL_PORT';
  readonly retriable = true;
}
