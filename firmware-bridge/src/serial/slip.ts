/**
 * SLIP framing (RFC 1055) of frame bodies (frame-body.ts):
 *
 *     frame = END ‖ escape(body) ‖ END          END = 0xC0
 *     escape: 0xC0 → ESC ESC_END (0xDB 0xDC),  0xDB → ESC ESC_ESC (0xDB 0xDD),  any other byte as is
 *
 * The encoder puts END before the body as well as after it, as RFC 1055 recommends: line noise received
 * before the frame then ends at that END as a frame of its own (dropped), instead of being glued to the
 * front of this one. The decoder does not need the leading END: back to back frames may share one END,
 * and empty frames (END END) are idle fill. An ESC followed by any byte but ESC_END or ESC_ESC is a
 * `bad-escape` (RFC 1055 would pass the byte on; a gateway must not guess), and END always ends a frame,
 * even straight after ESC, so the decoder resyncs at the next END whatever came before.
 */
import assert from 'node:assert/strict';
import { FrameAssembler, type FrameSink, frameBody } from './frame-body.js';

export const slipEnd = 0xc0;
export const slipEsc = 0xdb;
export const slipEscEnd = 0xdc;
export const slipEscEsc = 0xdd;

/** One whole SLIP frame, both ENDs included. Throws FrameTooLargeError past `frameBytesMax`. */
export function slipEncode(message: Uint8Array, frameBytesMax: number): Buffer {
  const body = frameBody(message, frameBytesMax);
  const out = Buffer.allocUnsafe(body.length * 2 + 2);
  let o = 0;
  out[o++] = slipEnd;
  for (const byte of body) {
    if (byte === slipEnd) (out[o++] = slipEsc), (out[o++] = slipEscEnd);
    else if (byte === slipEsc) (out[o++] = slipEsc), (out[o++] = slipEscEsc);
    else out[o++] = byte;
  }
  out[o++] = slipEnd;
  assert.ok(o >= body.length + 2 && o <= out.length);
  return out.subarray(0, o);
}

/** A streaming SLIP decoder: feed it bytes as they arrive, in chunks of any size. */
export class SlipDecoder {
  private readonly assembler: FrameAssembler;
  private escaped = false;

  constructor(frameBytesMax: number, sink: FrameSink) {
    this.assembler = new FrameAssembler(frameBytesMax, sink);
  }

  push(chunk: Uint8Array): void {
    const assembler = this.assembler;
    for (const byte of chunk) {
      if (byte === slipEnd) {
        if (this.escaped) assembler.fail('bad-escape');
        this.escaped = false;
        assembler.end();
      } else if (this.escaped) {
        this.escaped = false;
        if (byte === slipEscEnd) assembler.append(slipEnd);
        else if (byte === slipEscEsc) assembler.append(slipEsc);
        else assembler.fail('bad-escape');
      } else if (byte === slipEsc) {
        this.escaped = true;
        assembler.begin();
      } else {
        assembler.append(byte);
      }
    }
  }
}
