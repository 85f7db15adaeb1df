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
    const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: unknown } })
      .process;
    const onNode = typeof proc?.versions?.node === "string" && typeof proc.getBuiltinModule === "function";
    chosen = onNode ? createZlibDeflater() : createFflateDeflater();
  }
  return chosen;
}
