/**
 * COBS framing (Cheshire & Baker, "Consistent Overhead Byte Stuffing", 1999) of frame bodies
 * (frame-body.ts), with 0x00 as the delimiter:
 *
 *     frame = 0x00 ‖ cobs(body) ‖ 0x00
 *     cobs: the body, with a virtual 0x00 appended, is cut after each 0x00 and after each run of 254
 *           non-zero bytes; each piece is sent as a code byte (1 + the number of non-zero bytes in it,
 *           0x01..0xFF) followed by those bytes. A code 0xFF piece has no zero after it; the virtual
 *           trailing zero is not sent. So cobs(body) contains no 0x00, and is at most
 *           body + ceil(body / 254) bytes long.
 *
 * As with SLIP the encoder sends a delimiter before the frame too, so that noise before it is dropped as
 * a frame of its own; the decoder accepts frames without it, and two delimiters in a row are idle fill.
 * A code byte that promises more bytes than come before the delimiter is `bad-cobs`. The decoder works
 * byte by byte, so it holds only the decoded body (at most `frameBytesMax` bytes), never the encoded one.
 */
import assert from 'node:assert/strict';
import { FrameAssembler, type FrameSink, frameBody } from './frame-body.js';

export const cobsDelimiter = 0x00;
/** The longest run of non-zero bytes one code byte covers. */
const runBytesMax = 254;

/** COBS of `data` (no delimiters). Exported for the tests' fixed vectors from the paper and Wikipedia. */
export function cobsEncode(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(data.length + Math.ceil(data.length / runBytesMax) + 1);
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i] as number;
    if (byte === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
      continue;
    }
    out[o++] = byte;
    code++;
    // A full run ends its piece; a new piece starts only if bytes follow (else the frame would end in 0x01).
    if (code === runBytesMax + 1 && i + 1 < data.length) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    }
  }
  out[codeAt] = code;
  assert.ok(o <= out.length && o >= data.length + 1);
  return out.subarray(0, o);
}

/** One whole COBS frame, both delimiters included. Throws FrameTooLargeError past `frameBytesMax`. */
export function cobsFrameEncode(message: Uint8Array, frameBytesMax: number): Buffer {
  const stuffed = cobsEncode(frameBody(message, frameBytesMax));
  const out = Buffer.allocUnsafe(stuffed.length + 2);
  out[0] = cobsDelimiter;
  out.set(stuffed, 1);
  out[out.length - 1] = cobsDelimiter;
  assert.equal(out.indexOf(cobsDelimiter, 1), out.length - 1, 'no delimiter inside a COBS frame');
  return out;
}

/** A streaming COBS decoder: feed it bytes as they arrive, in chunks of any size. */
export class CobsDecoder {
  private readonly assembler: FrameAssembler;
  /** Data bytes still to come in the current piece; 0 means the next byte is a code byte. */
  private pieceLeft = 0;
  /** The current piece ended with a (sent-as-code) zero, which is real only if another piece follows. */
  private zeroPending = false;

  constructor(frameBytesMax: number, sink: FrameSink) {
    this.assembler = new FrameAssembler(frameBytesMax, sink);
  }

  push(chunk: Uint8Array): void {
    const assembler = this.assembler;
    for (const byte of chunk) {
      if (byte === cobsDelimiter) {
        if (this.pieceLeft > 0) assembler.fail('bad-cobs');
        this.pieceLeft = 0;
        this.zeroPending = false;
        assembler.end();
      } else if (this.pieceLeft === 0) {
        if (this.zeroPending) assembler.append(0);
        else assembler.begin();
        this.pieceLeft = byte - 1;
        this.zeroPending = byte <= runBytesMax;
      } else {
        assembler.append(byte);
        this.pieceLeft--;
      }
      assert.ok(this.pieceLeft >= 0 && this.pieceLeft <= runBytesMax);
    }
  }
}
