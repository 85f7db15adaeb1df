/**
 * An HMAC-SHA-256 {@link TokenSigner} for resume tokens, on node:crypto
 * (Node, Deno, Bun). Keys rotate by id: sign with the current key, verify
 * with any key still listed.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { DeltaframeError } from "../errors.js";
import type { TokenSigner } from "../session/index.js";

/** Shortest accepted HMAC key, in bytes. */
export const MIN_HMAC_KEY_BYTES = 32;

/**
 * Returns a signer that signs with `keys.get(currentKeyId)` and verifies with
 * any listed key. Throws DF_ERR_INVALID_ARGUMENT when the current key is
 * missing or a key is shorter than 32 bytes.
 */
export function createHmacSigner(keys: ReadonlyMap<number, Uint8Array>, currentKeyId: number): TokenSigner {
  const current = keys.get(currentKeyId);
  if (current === undefined) {
    throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot create signer: current key id not listed", {
      keyId: currentKeyId,
    });
  }
  for (const [id, key] of keys) {
    if (key.length < MIN_HMAC_KEY_BYTES) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot create signer: key shorter than 32 bytes",
        {
          keyId: id,
          bytes: key.length,
        },
      );
    }
  }
  const mac = (key: Uint8Array, data: Uint8Array) =>
    new Uint8Array(createHmac("sha256", key).update(data).digest());
  return {
    keyId: currentKeyId,
    sign: (data) => mac(current, data),
    verify: (keyId, data, signature) => {
      const key = keys.get(keyId);
      if (key === undefined || signature.length !== 32) return false;
      return timingSafeEqual(mac(key, data), signature);
    },
  };
}
