/**
 * UTF-8 bytes of strings that repeat on every record (MQTT topics, partition keys, header names):
 * encoded once and shared, so forwarding a batch does not allocate a Buffer per record for them.
 * Bounded: cleared when full, since a gateway's set of topics is small and stable but not fixed, and
 * only strings of up to `TEXT_MAX` characters are kept (an MQTT topic may be 64 KiB).
 * The Buffers are shared between records and must never be written to.
 *
 * Each kept Buffer has memory of its own, not a slice of Node's shared 8 KiB pool: a long-lived slice
 * keeps its whole pool slab alive, and the cache's entries are made between the records' own pooled
 * buffers, so with a slice each of a gateway's ~2,000 topics and client ids would pin 8 KiB (measured:
 * 5.5 MB of live pool slabs in serve at 1,000 clients).
 */
const TEXT_MAX = 256;

export class Utf8Cache {
  readonly #bytes = new Map<string, Buffer>();

  constructor(private readonly entriesMax: number) {}

  get(text: string): Buffer {
    if (text.length > TEXT_MAX) return Buffer.from(text, 'utf8');
    let bytes = this.#bytes.get(text);
    if (bytes === undefined) {
      if (this.#bytes.size >= this.entriesMax) this.#bytes.clear();
      bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
      bytes.write(text, 'utf8');
      this.#bytes.set(text, bytes);
    }
    return bytes;
  }
}
