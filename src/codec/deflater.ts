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
