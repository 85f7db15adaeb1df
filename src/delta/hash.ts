/**
 * Canonical 64-bit hashes of messages and of whole keyed states, as carried
 * in `Updates.hashes` and `SnapshotEnd.hash` (CAPABILITY_HASH,
 * docs/protocol.md §6.4).
 *
 * Definition, precise enough for another implementation:
 *
 * - The **canonical encoding** of a message is its protobuf binary encoding
 *   with: fields in increasing field-number order; only fields that are set
 *   (implicit-presence scalars and enums that are not zero, explicit-presence
 *   fields that are present, the selected oneof member, non-empty lists and
 *   maps); packed encoding for lists of the field is packed, one record per
 *   element otherwise; enums as int32 varints; message values
 *   length-delimited (groups for delimited-encoded fields); each map entry as a length-delimited
 *   record holding the key (field 1) and then the value (field 2), both always
 *   written, entries sorted by the bytes of the encoded key (without tag) in
 *   lexicographic order; unknown fields left out; doubles and floats with -0
 *   written as +0 and every NaN as the quiet NaN (0x7ff8000000000000,
 *   0x7fc00000).
 * - `hash(message)` is FNV-1a 64 (offset basis 0xcbf29ce484222325, prime
 *   0x100000001b3) over the canonical encoding.
 * - `hashState(entries)` is the sum modulo 2^64, over the entries, of
 *   splitmix64's finaliser applied to FNV-1a 64 of (the key in UTF-8, then
 *   the value's hash as 8 bytes little-endian).
 *
 * Messages that protobuf-es `equals` finds equal therefore hash equal,
 * whatever their map insertion order. The hash is fast and non-cryptographic:
 * it detects divergence, it does not authenticate. Test vectors are in
 * test/delta/hash.test.ts.
 *
 * @module
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { CANONICAL, writeMessageFields } from "./value-codec.js";

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
const TWO_32 = 0x100000000;

/**
 * Returns the FNV-1a 64 hash of `bytes` as an unsigned 64-bit bigint.
 * Computed in two 32-bit halves (the FNV prime is 2^40 + 0x1b3).
 */
export function fnv1a64(bytes: Uint8Array): bigint {
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    // (hi·2^32 + lo) · (2^40 + 0x1b3) mod 2^64; lo·0x1b3 < 2^41 is exact in a double.
    const low = lo * 0x1b3;
    const carry = Math.floor(low / TWO_32);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * Returns the canonical encoding of `message` (see the module documentation):
 * the bytes {@link hash} hashes. It is a valid protobuf encoding of the
 * message, minus unknown fields, with -0 and NaN canonicalised.
 */
export function encodeCanonical<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): Uint8Array {
  const w = new BinaryWriter();
  writeMessageFields(w, reflect(schema, message, false), CANONICAL);
  return w.finish();
}

/**
 * Returns the canonical 64-bit hash of `message` (unsigned bigint): FNV-1a 64
 * of {@link encodeCanonical}. Equal for messages that are equal field by
 * field, whatever their map insertion order; unknown fields are ignored.
 */
export function hash<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): bigint {
  return fnv1a64(encodeCanonical(schema, message));
}

const MASK_64 = (1n << 64n) - 1n;
const utf8 = new TextEncoder();

/** splitmix64's finaliser: spreads every input bit over the output. */
function mix64(value: bigint): bigint {
  let z = value & MASK_64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
  return z ^ (z >> 31n);
}

/**
 * Returns the hash of one keyed-state entry: its key (UTF-8) and value hash,
 * mixed. {@link hashState} sums these.
 */
export function hashEntry(key: string, valueHash: bigint): bigint {
  const keyBytes = utf8.encode(key);
  const bytes = new Uint8Array(keyBytes.length + 8);
  bytes.set(keyBytes, 0);
  new DataView(bytes.buffer).setBigUint64(keyBytes.length, valueHash & MASK_64, true);
  return mix64(fnv1a64(bytes));
}

/**
 * Returns the canonical hash of a whole keyed state (unsigned 64-bit bigint):
 * the sum modulo 2^64 of {@link hashEntry} over `[key, hash(value)]` pairs, so
 * the order of the entries does not matter. An empty state hashes to 0n.
 * Keys are expected to be distinct.
 */
export function hashState(entries: Iterable<readonly [key: string, valueHash: bigint]>): bigint {
  let sum = 0n;
  for (const [key, valueHash] of entries) sum = (sum + hashEntry(key, valueHash)) & MASK_64;
  return sum;
}
