/**
 * CRC-16/CCITT-FALSE: width 16, poly 0x1021, init 0xFFFF, refin false, refout false, xorout 0x0000,
 * check 0x29B1 (the CRC of ASCII "123456789"), as catalogued by Greg Cook's "Catalogue of parametrised
 * CRC algorithms". It is the CRC that Python's `binascii.crc_hqx(data, 0xFFFF)` computes, which the tests
 * use as an independent oracle.
 *
 * Written here rather than taken from npm: it is a 256-entry table and a loop, and the npm packages name
 * their variants inconsistently ("CCITT" is FALSE in one package, KERMIT in another), so a dependency
 * would not remove the need to pin the parameters by test.
 */
import assert from 'node:assert/strict';

const poly = 0x1021;
const init = 0xffff;

/** CRC bytes appended to every frame's message. */
export const crcBytes = 2;

const table: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ poly) & 0xffff : (crc << 1) & 0xffff;
    t[byte] = crc;
  }
  return t;
})();

/** The CRC-16/CCITT-FALSE of `data[start, end)`. */
export function crc16(data: Uint8Array, start = 0, end = data.length): number {
  assert.ok(start >= 0 && start <= end && end <= data.length, 'crc16 range inside the buffer');
  let crc = init;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ (table[((crc >> 8) ^ (data[i] as number)) & 0xff] as number);
  assert.ok(crc >= 0 && crc <= 0xffff);
  return crc;
}

// The catalogue's check value, at load: a wrong table stops the module before any frame is trusted.
assert.equal(crc16(Buffer.from('123456789', 'ascii')), 0x29b1, 'CRC-16/CCITT-FALSE check value');
