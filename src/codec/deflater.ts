/**
 * The one interface behind which compression lives, so that Node uses
 * node:zlib and browsers use fflate with identical wire results.
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";

/**
 * Raw deflate (RFC 1951, no zlib or gzip wrapper), synchronous, with an
 * optional preset dictionary (at most {@link MAX_DICTIONARY_BYTES}).
 * Implementations must interoperate byte-for-byte: whatever one deflates,
 * every other inflates to the same bytes.
 */
export interface Deflater {
  /** A short name for logs and tests, e.g. `"zlib"` or `"fflate"`. */
  readonly name: string;
  /** Returns the raw deflate of `data`, using `dictionary` as the preset window when given. */
  deflateRaw(data: Uint8Array, dictionary?: Uint8Array): Uint8Array;
  /**
   * Returns the inflated bytes of raw deflate `data`, which must be exactly
   * `declaredLength` bytes. `declaredLength` is the hard output cap: the
   * caller has already checked it against `maxInflatedBytes`, and the
   * implementation never keeps more than a bounded amount beyond it
   * (docs/limits.md states each implementation's bound).
   *
   * Throws `DF_ERR_INFLATE_LENGTH_MISMATCH` (more or fewer bytes than
   * declared), `DF_ERR_INFLATE_CORRUPT` (invalid or truncated stream, wrong
   * dictionary), `DF_ERR_INFLATE_TOO_LARGE` (the implementation cannot bound
   * the work for an input this large).
   */
  inflateRaw(data: Uint8Array, declaredLength: number, dictionary?: Uint8Array): Uint8Array;
  /**
   * Largest raw deflate input, in bytes, that {@link inflateRaw} accepts
   * (longer input: `DF_ERR_INFLATE_TOO_LARGE`); undefined when there is no
   * such bound (node:zlib, which caps the output instead). A receiver that
   * inflates with a bounded deflater advertises at most
   * {@link maxReadableMessageBytes} as its message size, so that no peer
   * sends it a compressed message it cannot read.
   */
  readonly maxCompressedBytes?: number;
}

/**
 * Fewest bytes a compressed transport message spends before its deflate data:
 * the marker (1 byte) and the declared length, a varint of at least 1 byte
 * (docs/wire-format.md). Marker 0x02 adds a dictionary index, so this is the
 * minimum for every compressed form.
 */
export const MIN_COMPRESSED_HEADER_BYTES = 2;

/**
 * Returns the largest transport message, in bytes, whose deflate data
 * `deflater` is sure to accept: `maxCompressedBytes` plus
 * {@link MIN_COMPRESSED_HEADER_BYTES}, or `Infinity` when the deflater has no
 * input bound. Any compressed message up to this size carries at most
 * `maxCompressedBytes` of deflate data, whatever its declared length. (A
 * sender that keeps the rule "plain when deflate does not shrink the batch"
 * always writes a 3-byte declared length for deflate data this large, but
 * the bound does not rely on it: it costs at most 2 bytes.)
 */
export function maxReadableMessageBytes(deflater: Deflater): number {
  const bound = deflater.maxCompressedBytes;
  return bound === undefined ? Number.POSITIVE_INFINITY : bound + MIN_COMPRESSED_HEADER_BYTES;
}

/** Largest preset dictionary, in bytes: the deflate window (32 KiB); a longer one could not be referenced. */
export const MAX_DICTIONARY_BYTES = 32_768;

/** Throws `DF_ERR_INVALID_ARGUMENT` when a dictionary is empty or longer than the deflate window. */
export function checkDictionary(dictionary: Uint8Array | undefined): void {
  if (dictionary !== undefined && (dictionary.length === 0 || dictionary.length > MAX_DICTIONARY_BYTES)) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_ARGUMENT",
      `cannot use dictionary: must be 1 to ${MAX_DICTIONARY_BYTES} bytes`,
      { bytes: dictionary.length, limit: MAX_DICTIONARY_BYTES },
    );
  }
}

/** The error for inflated output whose length differs from the declared length. */
export function lengthMismatch(declaredLength: number, actual: number | undefined): DeltaframeError {
  return new DeltaframeError(
    "DF_ERR_INFLATE_LENGTH_MISMATCH",
    actual === undefined
      ? `cannot inflate: output exceeds the declared ${declaredLength} bytes`
      : `cannot inflate: output is ${actual} bytes, declared ${declaredLength}`,
    { declaredLength, actual },
  );
}

/** The error for an invalid deflate stream. */
export function corrupt(cause: unknown): DeltaframeError {
  return new DeltaframeError(
    "DF_ERR_INFLATE_CORRUPT",
    "cannot inflate: invalid deflate stream",
    { reason: cause instanceof Error ? cause.message : String(cause) },
    { cause },
  );
}
