/**
 * One `Limits` object bounds everything a peer can make this process do.
 *
 * Every limit is checked before the memory it guards is allocated. `Infinity`
 * means unlimited; `0`, negative and fractional values are rejected with
 * `DF_ERR_LIMIT_INVALID`. `docs/limits.md` lists every limit with its default
 * and the reason for it; `test/limits.test.ts` checks the two agree.
 *
 * @module
 */
import { DeltaframeError } from "./errors.js";

/** Bounds on what a peer may send. All sizes in bytes. */
export interface Limits {
  /** Largest transport message accepted, as received (compressed or not). Default 1 MiB. */
  maxMessageBytes: number;
  /** Largest payload a compressed transport message may inflate to. Default 4 MiB. */
  maxInflatedBytes: number;
  /** Most frames in one batch. Default 4096. */
  maxFramesPerBatch: number;
  /** Deepest message nesting accepted when decoding (protobuf recursion limit). Default 32. */
  maxDepth: number;
  /** Longest string field in a frame (stream names, keys, reasons), in UTF-8 bytes. Default 4096. */
  maxStringBytes: number;
  /** Longest bytes field in a frame (values, patch bodies, payloads). Default 1 MiB. */
  maxBytesFieldBytes: number;
  /** Most entries in one repeated field of a frame. Default 65,536. */
  maxListLength: number;
  /** Most operations in one patch. Default 10,000. */
  maxPatchOps: number;
}

/** The defaults, chosen for feeds of small keyed messages (docs/limits.md). */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 1 << 20,
  maxInflatedBytes: 4 << 20,
  maxFramesPerBatch: 4096,
  maxDepth: 32,
  maxStringBytes: 4096,
  maxBytesFieldBytes: 1 << 20,
  maxListLength: 65_536,
  maxPatchOps: 10_000,
});

/** The names of every limit. */
export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as ReadonlyArray<keyof Limits>;

/**
 * Returns a complete, validated `Limits`: the given values over the defaults.
 * Throws `DF_ERR_LIMIT_INVALID` for a value that is not a positive integer or
 * `Infinity`, or for an unknown limit name.
 */
export function resolveLimits(partial: Partial<Limits> = {}): Readonly<Limits> {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(partial)) {
    if (!Object.hasOwn(DEFAULT_LIMITS, name)) {
      throw new DeltaframeError("DF_ERR_LIMIT_INVALID", `cannot resolve limits: unknown limit ${name}`, {
        limit: name,
      });
    }
    if (value === undefined) continue;
    const ok = value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value > 0);
    if (!ok) {
      throw new DeltaframeError(
        "DF_ERR_LIMIT_INVALID",
        `cannot resolve limits: ${name} must be a positive integer or Infinity`,
        { limit: name, value },
      );
    }
    out[name as keyof Limits] = value;
  }
  return Object.freeze(out);
}
