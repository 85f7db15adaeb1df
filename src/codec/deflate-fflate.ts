/**
 * The fflate {@link Deflater}, for browsers and other runtimes without
 * node:zlib. Uses fflate's one-shot `deflateSync` / `inflateSync` only.
 *
 * fflate's one-shot inflate has no output cap, so the bound comes from the
 * input: raw deflate expands at most {@link MAX_DEFLATE_EXPANSION}:1 (a
 * 258-byte match per 2 bits), so a stream of `n` bytes inflates to at most
 * `n × 1032` bytes. Inputs whose worst case exceeds `maxWorkBytes` are
 * refused before inflating (`DF_ERR_INFLATE_TOO_LARGE`); the output length is
 * then checked exactly against the declared length. The deflater states that
 * input bound as `maxCompressedBytes`, and a `ClientSession` that asks for
 * compression with it advertises a message size the bound can read
 * (`maxCompressedBytes + 2`: 65,029 bytes by default).
 *
 * @module
 */
import { deflateSync, inflateSync } from "fflate";
import { DeltaframeError } from "../errors.js";
import { checkDictionary, corrupt, type Deflater, lengthMismatch } from "./deflater.js";

/** Largest ratio of inflated to deflated bytes raw deflate allows (RFC 1951: 258 bytes per 2 bits, rounded up). */
export const MAX_DEFLATE_EXPANSION = 1032;

/** Options of {@link createFflateDeflater}. */
export interface FflateDeflaterOptions {
  /** Compression level, 1 (fastest) to 9 (smallest). Default 6. */
  level: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  /**
   * Most bytes one inflate may produce in the worst case (`input × 1032`),
   * in bytes; larger inputs are refused. Default 64 MiB, which admits
   * 65,027 bytes of deflate data (`maxCompressedBytes`), so any compressed
   * message up to 65,029 bytes. A `ClientSession` using this deflater with
   * `CAPABILITY_DEFLATE` advertises `Hello.max_message_bytes` at most that.
   */
  maxWorkBytes: number;
}

/**
 * Returns a {@link Deflater} backed by fflate. Inflate refuses inputs longer
 * than `maxWorkBytes / 1032` bytes, rounded down (`DF_ERR_INFLATE_TOO_LARGE`;
 * the deflater's `maxCompressedBytes`), so a lying declared length can make
 * it produce at most `maxWorkBytes` bytes.
 */
export function createFflateDeflater(options: Partial<FflateDeflaterOptions> = {}): Deflater {
  const level = options.level ?? 6;
  const maxWorkBytes = options.maxWorkBytes ?? 64 << 20;
  const maxInputBytes = Math.floor(maxWorkBytes / MAX_DEFLATE_EXPANSION);
  return {
    name: "fflate",
    maxCompressedBytes: maxInputBytes,
    deflateRaw(data, dictionary) {
      checkDictionary(dictionary);
      return deflateSync(data, dictionary === undefined ? { level } : { level, dictionary });
    },
    inflateRaw(data, declaredLength, dictionary) {
      checkDictionary(dictionary);
      if (data.length === 0) throw corrupt(new Error("empty deflate stream"));
      if (data.length > maxInputBytes) {
        throw new DeltaframeError(
          "DF_ERR_INFLATE_TOO_LARGE",
          "cannot inflate: compressed input too large to bound its output",
          { bytes: data.length, limit: maxInputBytes, maxWorkBytes },
        );
      }
      let out: Uint8Array;
      try {
        out = dictionary === undefined ? inflateSync(data) : inflateSync(data, { dictionary });
      } catch (error) {
        throw corrupt(error);
      }
      if (out.length !== declaredLength) throw lengthMismatch(declaredLength, out.length);
      return out;
    },
  };
}
