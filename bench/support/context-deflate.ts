/**
 * The reference for compression: per-connection deflate with context
 * takeover, as permessage-deflate does it (one node:zlib raw deflate stream
 * per connection, each message flushed with Z_SYNC_FLUSH and the trailing
 * 00 00 FF FF removed, RFC 7692 §7.2.1).
 *
 * @module
 */
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from "node:zlib";

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One connection's compression context. */
export class ContextDeflater {
  readonly #stream: DeflateRaw;
  #chunks: Buffer[] = [];

  constructor(level = 6) {
    this.#stream = createDeflateRaw({ level });
    this.#stream.on("data", (chunk: Buffer) => this.#chunks.push(chunk));
  }

  /** Compresses one message with the connection's history; resolves to its bytes (tail removed). */
  deflate(message: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.#stream.write(message);
      this.#stream.flush(constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(this.#chunks);
        this.#chunks = [];
        if (out.length < 4 || !out.subarray(out.length - 4).equals(TAIL)) {
          reject(new Error("deflate flush did not end with 00 00 ff ff"));
          return;
        }
        resolve(out.subarray(0, out.length - 4));
      });
    });
  }

  /** Frees the context. */
  close(): void {
    this.#stream.close();
  }
}

/** The receiving side of {@link ContextDeflater}. */
export class ContextInflater {
  readonly #stream: InflateRaw;
  #chunks: Buffer[] = [];

  constructor() {
    this.#stream = createInflateRaw();
    this.#stream.on("data", (chunk: Buffer) => this.#chunks.push(chunk));
  }

  /** Decompresses one message of the connection's sequence. */
  inflate(message: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.#stream.write(message);
      this.#stream.write(TAIL);
      this.#stream.flush(constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(this.#chunks);
        this.#chunks = [];
        resolve(out);
      });
    });
  }

  /** Frees the context. */
  close(): void {
    this.#stream.close();
  }
}
