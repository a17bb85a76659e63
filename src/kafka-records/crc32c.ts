/**
 * CRC-32C (Castagnoli), the checksum of Kafka's record batches, for the local Kafka API's batches.
 * `@node-rs/crc32` enters here (native, hardware-accelerated where the CPU has it); the forwarder uses the
 * Kafka client's own, which is the same function.
 */
import { crc32c as native } from '@node-rs/crc32';

export function crc32c(bytes: Buffer): number {
  return native(bytes);
}
