/**
 * The node:zlib {@link Deflater}: bounded inflate through `maxOutputLength`,
 * which stops inflating as soon as the output passes the declared length.
 *
 * node:zlib is obtained with `process.getBuiltinModule` (Node ≥ 20.16), not a
 * static import, so bundling this file for a browser does not fail; calling
 * {@link createZlibDeflater} outside Node throws.
 *
 * @module
 */
import type * as Zlib from "node:zlib";
import { DeltaframeError } from "../errors.js";
import { checkDictionary, corrupt, type Deflater, lengthMismatch } from "./deflater.js";

/** Options of {@link createZlibDeflater}. */
export interface ZlibDeflaterOptions {
  /** Compression level, 1 (fastest) to 9 (smallest). Default 6. */
  level: number;
}

function loadZlib(): typeof Zlib {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = proc?.getBuiltinModule?.("node:zlib") as typeof Zlib | undefined;
  if (zlib === undefined) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_STATE",
      "cannot create zlib deflater: node:zlib is not available",
    );
  }
  return zlib;
}

/**
 * Returns a {@link Deflater} backed by node:zlib (`deflateRawSync`,
 * `inflateRawSync` with `maxOutputLength` and `dictionary`). Inflate never
 * produces more than `declaredLength` bytes (one byte more to detect a longer
 * stream, at most one zlib chunk of 16 KiB of work past it). Throws
 * `DF_ERR_INVALID_STATE` outside Node.
 */
export function createZlibDeflater(options: Partial<ZlibDeflaterOptions> = {}): Deflater {
  const zlib = loadZlib();
  const level = options.level ?? 6;
  return {
    name: "zlib",
    deflateRaw(data, dictionary) {
      checkDictionary(dictionary);
      const out = zlib.deflateRawSync(data, dictionary === undefined ? { level } : { level, dictionary });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
    inflateRaw(data, declaredLength, dictionary) {
      checkDictionary(dictionary);
      if (data.length === 0) throw corrupt(new Error("empty deflate stream"));
      let out: Buffer;
      try {
        // maxOutputLength must be at least 1; a 0-byte declaration still catches any output.
        const maxOutputLength = Math.max(1, declaredLength);
        out = zlib.inflateRawSync(
          data,
          dictionary === undefined ? { maxOutputLength } : { maxOutputLength, dictionary },
        );
      } catch (error) {
        if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
          throw lengthMismatch(declaredLength, undefined);
        }
        throw corrupt(error);
      }
      if (out.length !== declaredLength) throw lengthMismatch(declaredLength, out.length);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
  };
}
