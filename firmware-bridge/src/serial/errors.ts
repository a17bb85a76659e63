/**
 * The serial transport's error classes, under the bridge's BridgeError (../errors.ts, shaped like
 * tributary's `src/errors.ts`): a stable `code`, a `name`, `retriable`, and `cause` passed on. Retry
 * logic reads only `retriable`.
 */
import { BridgeError } from '../errors.js';

/** The serial transport's errors, one branch of the bridge's error tree. */
export abstract class SerialError extends BridgeError {}

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
