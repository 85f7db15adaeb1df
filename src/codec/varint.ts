/**
 * The unsigned varints of the transport-message header (docs/wire-format.md).
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";

/** Longest header varint accepted, in bytes: 5 bytes hold every uint32. */
const MAX_VARINT_BYTES = 5;

/**
 * Reads an unsigned varint of at most 5 bytes at `pos`. Returns the value and
 * the position after it. Throws `DF_ERR_DECODE` when the input ends inside the
 * varint or it runs longer than 5 bytes or above 2^32 − 1.
 */
export function readHeaderVarint(
  bytes: Uint8Array,
  pos: number,
  what: string,
): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const b = bytes[pos + i];
    if (b === undefined) {
      throw new DeltaframeError("DF_ERR_DECODE", `cannot decode transport message: truncated ${what}`, {
        field: what,
        offset: pos,
      });
    }
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (value > 0xffff_ffff) break;
      return [value, pos + i + 1];
    }
    scale *= 128;
  }
  throw new DeltaframeError("DF_ERR_DECODE", `cannot decode transport message: ${what} overflows uint32`, {
    field: what,
    offset: pos,
  });
}

/** Returns the number of bytes of `value` (a uint32) as a varint. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes `value` (a uint32) as a varint at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}
