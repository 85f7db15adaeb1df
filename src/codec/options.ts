/**
 * Resolution of the `limits` option shared by the decoders.
 *
 * @module
 */
import { DEFAULT_LIMITS, type Limits, resolveLimits } from "../limits.js";

const resolved = new WeakMap<Partial<Limits>, Readonly<Limits>>();

/**
 * Returns complete, validated limits for a partial object, resolving each
 * distinct object once (decoders run per message, so this stays off the hot
 * path). Throws `DF_ERR_LIMIT_INVALID` for a bad value.
 */
export function limitsOf(partial: Partial<Limits> | undefined): Readonly<Limits> {
  if (partial === undefined || partial === DEFAULT_LIMITS) return DEFAULT_LIMITS;
  let limits = resolved.get(partial);
  if (limits === undefined) {
    limits = resolveLimits(partial);
    resolved.set(partial, limits);
  }
  return limits;
}
