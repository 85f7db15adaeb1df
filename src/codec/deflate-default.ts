/**
 * The deflater used when the caller gives none: node:zlib on Node, fflate
 * elsewhere, chosen once at first use by a runtime check.
 *
 * @module
 */
import { createFflateDeflater } from "./deflate-fflate.js";
import { createZlibDeflater } from "./deflate-zlib.js";
import type { Deflater } from "./deflater.js";

let chosen: Deflater | undefined;

/**
 * Returns the default {@link Deflater}: node:zlib when running on Node (it
 * caps inflate output while inflating), otherwise fflate. Chosen on first
 * call and then reused.
 */
export function defaultDeflater(): Deflater {
  if (chosen === undefined) {
    const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
    if (typeof proc?.versions?.node === "string") {
      try {
        chosen = createZlibDeflater();
      } catch {
        // A runtime that looks like Node but has no process.getBuiltinModule("node:zlib").
      }
    }
    chosen ??= createFflateDeflater();
  }
  return chosen;
}
