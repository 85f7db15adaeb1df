/**
 * Hand-written protobuf writer for the hot frames (`Updates`, `Event`, `Ack`,
 * `Ping`, `Pong`), byte for byte identical to protobuf-es `toBinary`
 * (docs/protocol.md §3): fields in field-number order, proto3 zero values
 * omitted, repeated scalars packed, canonical (shortest) varints.
 *
 * It first computes the exact size, then writes into one `Uint8Array` of that
 * size: no growing buffer, no length-prefix shifting, no per-field objects.
 * Whatever it does not handle exactly as `toBinary` would — another frame
 * kind, unknown fields (`$unknown`, which `toBinary` writes), a value outside
 * its field's type (which `toBinary` may convert or reject) — it answers
 * `undefined`, and the caller runs `toBinary`, which gives the reference
 * bytes or error.
 *
 * @module
 */
import type { Ack, Event, Frame, KeyBinding, Ping, Pong, Updates } from "../gen/deltaframe/v1/frames_pb.js";

/** Largest uint64. */
const MAX_U64 = (1n << 64n) - 1n;

/** Returns the varint size of a uint32, in bytes. */
function u32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5;
}

/** Returns the varint size of a non-negative integer below 2^53 (a double), in bytes. */
function numSize(v: number): number {
  if (v < 0x1000_0000) return u32Size(v);
  if (v < 2 ** 35) return 5;
  if (v < 2 ** 42) return 6;
  if (v < 2 ** 49) return 7;
  return 8;
}

/** {@link u64Num}: the value is not a uint64 bigint; the caller leaves the message to `toBinary`. */
const INVALID = -1;
/** {@link u64Num}: the value is a uint64 of 2^53 or more, written from the bigint. */
const BIG = -2;

/**
 * Classifies a uint64 field value with one conversion: returns it as a number
 * when it is below 2^53 (the common case, then sized and written with
 * double arithmetic), else {@link BIG} or {@link INVALID}.
 */
function u64Num(v: unknown): number {
  if (typeof v !== "bigint") return INVALID;
  // Number() rounds monotonically, so the double is ≤ 2^53 − 1 exactly when the bigint is.
  const n = Number(v);
  if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) return n;
  return v >= 0n && v <= MAX_U64 ? BIG : INVALID;
}

/** Returns the varint size of a uint64 classified by {@link u64Num} as `n`, in bytes. */
function u64Size(n: number, v: bigint): number {
  if (n >= 0) return numSize(n);
  let size = 8;
  for (let rest = v >> 56n; rest > 0n; rest >>= 7n) size++;
  return size;
}

/** True when `v` is a uint32 number (`-0` included: `toBinary` writes it as 0). */
function isU32(v: unknown): v is number {
  return typeof v === "number" && v >>> 0 === v;
}

/** Writes a uint32 varint at `p`; returns the position after it. */
function writeU32(out: Uint8Array, p: number, v: number): number {
  // Most values here (tags' payloads, lengths, key ids of small feeds) take one byte.
  if (v < 0x80) {
    out[p] = v;
    return p + 1;
  }
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  return p;
}

/** Writes a uint64 varint, classified by {@link u64Num} as `n`, at `p`; returns the position after it. */
function writeU64(out: Uint8Array, p: number, n: number, v: bigint): number {
  if (n >= 0) {
    while (n > 0x7fff_ffff) {
      out[p++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    return writeU32(out, p, n);
  }
  while (v > 0x7fn) {
    out[p++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[p++] = Number(v);
  return p;
}

/** Writes `src` at `p`; returns the position after it. */
function writeBytes(out: Uint8Array, p: number, src: Uint8Array): number {
  const n = src.length;
  // Short copies by hand: `set` has a fixed cost larger than a few byte stores.
  if (n <= 16) for (let i = 0; i < n; i++) out[p + i] = src[i]!;
  else out.set(src, p);
  return p + n;
}

/** Returns the packed payload size of uint64s, or -1 when one is not a uint64. */
function packedU64Size(list: readonly bigint[]): number {
  let size = 0;
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!;
    const n = u64Num(v);
    if (n === INVALID) return -1;
    size += u64Size(n, v);
  }
  return size;
}

/** Writes packed uint64s (already checked by {@link packedU64Size}) at `p`; returns the position after them. */
function writePackedU64(out: Uint8Array, p: number, list: readonly bigint[]): number {
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!;
    p = writeU64(out, p, u64Num(v), v);
  }
  return p;
}

/** Size of a length-delimited field with a one-byte tag and `n` bytes of payload. */
function delimited(n: number): number {
  return 1 + u32Size(n) + n;
}

/** Returns the UTF-8 length of `s` as `TextEncoder` writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a pair: two units, four bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

let encoder: TextEncoder | undefined;

/** Writes `s` as UTF-8 (`length` bytes, from {@link utf8Length}) at `p`; returns the position after it. */
function writeString(out: Uint8Array, p: number, s: string, length: number): number {
  if (length === s.length) {
    for (let i = 0; i < length; i++) out[p + i] = s.charCodeAt(i);
    return p + length;
  }
  encoder ??= new TextEncoder();
  encoder.encodeInto(s, out.subarray(p, p + length));
  return p + length;
}

/** Returns the size of a `KeyBinding` message body, or -1 when it is not written here. */
function bindingSize(b: KeyBinding): number {
  if (b.$typeName !== "deltaframe.v1.KeyBinding" || b.$unknown !== undefined) return -1;
  const keyId = b.keyId;
  const key = b.key;
  if (!isU32(keyId) || typeof key !== "string") return -1;
  let size = keyId === 0 ? 0 : 1 + u32Size(keyId);
  if (key !== "") size += delimited(utf8Length(key));
  return size;
}

/**
 * Returns the output of a frame whose body (field tag `bodyTag`) takes
 * `bodySize` bytes, with the tag and length written: the body goes in the
 * last `bodySize` bytes. One exact allocation per frame: `toBinary` grows a
 * 128-byte buffer, reserves one byte per length prefix (shifting the payload
 * when it is longer) and copies the result out, which costs more than
 * sizing twice for frames this small.
 */
function frameOf(bodyTag: number, bodySize: number): Uint8Array {
  const out = new Uint8Array(1 + u32Size(bodySize) + bodySize);
  out[0] = bodyTag;
  writeU32(out, 1, bodySize);
  return out;
}

/**
 * Returns the size of the optional `Updates` columns (steps, base gaps,
 * hashes, bindings, shapes) with their tags, or -1 when one holds a value not
 * written here. Kept apart from {@link encodeUpdates}, whose common case
 * leaves them empty, so that the common case stays small enough to inline its
 * helpers.
 */
function extrasSize(u: Updates): number {
  const { steps, baseGaps, hashes, bindings, shapes } = u;
  let size = 0;
  if (steps.length > 0) {
    const n = packedU64Size(steps);
    if (n < 0) return -1;
    size += delimited(n);
  }
  if (baseGaps.length > 0) {
    const n = packedU64Size(baseGaps);
    if (n < 0) return -1;
    size += delimited(n);
  }
  if (hashes.length > 0) {
    for (let i = 0; i < hashes.length; i++) if (u64Num(hashes[i]) === INVALID) return -1;
    size += delimited(hashes.length * 8);
  }
  for (let i = 0; i < bindings.length; i++) {
    const n = bindingSize(bindings[i]!);
    if (n < 0) return -1;
    size += delimited(n);
  }
  for (let i = 0; i < shapes.length; i++) {
    const shape = shapes[i];
    if (!(shape instanceof Uint8Array)) return -1;
    size += delimited(shape.length);
  }
  return size;
}

/** Writes the optional `Updates` columns (checked by {@link extrasSize}) at `p`. */
function writeExtras(out: Uint8Array, p: number, u: Updates): void {
  const { steps, baseGaps, hashes, bindings, shapes } = u;
  if (steps.length > 0) {
    out[p++] = 0x32;
    p = writeU32(out, p, packedU64Size(steps));
    p = writePackedU64(out, p, steps);
  }
  if (baseGaps.length > 0) {
    out[p++] = 0x3a;
    p = writeU32(out, p, packedU64Size(baseGaps));
    p = writePackedU64(out, p, baseGaps);
  }
  if (hashes.length > 0) {
    out[p++] = 0x42;
    p = writeU32(out, p, hashes.length * 8);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < hashes.length; i++) {
      view.setBigUint64(p, hashes[i]!, true);
      p += 8;
    }
  }
  for (let i = 0; i < bindings.length; i++) {
    const b = bindings[i]!;
    const keyLength = b.key === "" ? 0 : utf8Length(b.key);
    out[p++] = 0x4a;
    p = writeU32(
      out,
      p,
      (b.keyId === 0 ? 0 : 1 + u32Size(b.keyId)) + (keyLength === 0 ? 0 : delimited(keyLength)),
    );
    if (b.keyId !== 0) {
      out[p++] = 0x08;
      p = writeU32(out, p, b.keyId);
    }
    if (keyLength > 0) {
      out[p++] = 0x12;
      p = writeU32(out, p, keyLength);
      p = writeString(out, p, b.key, keyLength);
    }
  }
  for (let i = 0; i < shapes.length; i++) {
    const shape = shapes[i]!;
    out[p++] = 0x52;
    p = writeU32(out, p, shape.length);
    p = writeBytes(out, p, shape);
  }
}

/**
 * Returns the packed payload size of uint32s, or -1 when one is not a
 * uint32. Written out without calls, like the rest of {@link encodeUpdates}'s
 * common path: a handful of small helpers there exhausted the optimizing
 * compiler's inlining budget and cost about a tenth of the encode.
 */
function packedU32Size(list: readonly number[]): number {
  let size = 0;
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!;
    if (typeof v !== "number" || v >>> 0 !== v) return -1;
    size += v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5;
  }
  return size;
}

function encodeUpdates(u: Updates): Uint8Array | undefined {
  if (u.$typeName !== "deltaframe.v1.Updates" || u.$unknown !== undefined) return undefined;
  const alias = u.alias;
  const firstOffset = u.firstOffset;
  const keyIds = u.keyIds;
  const sizes = u.sizes;
  const bodies = u.bodies;
  if (typeof alias !== "number" || alias >>> 0 !== alias || !(bodies instanceof Uint8Array)) return undefined;
  const first = u64Num(firstOffset);
  if (first === INVALID) return undefined;
  const keyIdsSize = packedU32Size(keyIds);
  const sizesSize = packedU32Size(sizes);
  if (keyIdsSize < 0 || sizesSize < 0) return undefined;
  const plain =
    u.steps.length === 0 &&
    u.baseGaps.length === 0 &&
    u.hashes.length === 0 &&
    u.bindings.length === 0 &&
    u.shapes.length === 0;
  const extras = plain ? 0 : extrasSize(u);
  if (extras < 0) return undefined;
  const n = bodies.length;
  let size = extras;
  if (alias !== 0) size += 1 + u32Size(alias);
  if (first !== 0) size += 1 + u64Size(first, firstOffset);
  if (keyIdsSize > 0) size += 1 + u32Size(keyIdsSize) + keyIdsSize;
  if (sizesSize > 0) size += 1 + u32Size(sizesSize) + sizesSize;
  if (n > 0) size += 1 + u32Size(n) + n;

  const out = new Uint8Array(1 + u32Size(size) + size);
  out[0] = 0x0a;
  let p = writeU32(out, 1, size);
  if (alias !== 0) {
    out[p++] = 0x08;
    p = writeU32(out, p, alias);
  }
  if (first !== 0) {
    out[p++] = 0x10;
    p = writeU64(out, p, first, firstOffset);
  }
  if (keyIdsSize > 0) {
    out[p++] = 0x1a;
    p = writeU32(out, p, keyIdsSize);
    for (let i = 0; i < keyIds.length; i++) p = writeU32(out, p, keyIds[i]!);
  }
  if (sizesSize > 0) {
    out[p++] = 0x22;
    p = writeU32(out, p, sizesSize);
    for (let i = 0; i < sizes.length; i++) p = writeU32(out, p, sizes[i]!);
  }
  if (n > 0) {
    out[p++] = 0x2a;
    p = writeU32(out, p, n);
    if (n <= 16) for (let i = 0; i < n; i++) out[p + i] = bodies[i]!;
    else out.set(bodies, p);
    p += n;
  }
  if (!plain) writeExtras(out, p, u);
  return out;
}
function encodeEvent(e: Event): Uint8Array | undefined {
  if (e.$typeName !== "deltaframe.v1.Event" || e.$unknown !== undefined) return undefined;
  const { alias, offset, payload } = e;
  const off = u64Num(offset);
  if (!isU32(alias) || off === INVALID || !(payload instanceof Uint8Array)) return undefined;
  let size = 0;
  if (alias !== 0) size += 1 + u32Size(alias);
  if (off !== 0) size += 1 + u64Size(off, offset);
  if (payload.length > 0) size += delimited(payload.length);
  const out = frameOf(0x12, size);
  let p = out.length - size;
  if (alias !== 0) {
    out[p++] = 0x08;
    p = writeU32(out, p, alias);
  }
  if (off !== 0) {
    out[p++] = 0x10;
    p = writeU64(out, p, off, offset);
  }
  if (payload.length > 0) {
    out[p++] = 0x1a;
    p = writeU32(out, p, payload.length);
    writeBytes(out, p, payload);
  }
  return out;
}

function encodeAck(a: Ack): Uint8Array | undefined {
  if (a.$typeName !== "deltaframe.v1.Ack" || a.$unknown !== undefined) return undefined;
  const { messages, bytes, windowMessages, windowBytes } = a;
  const m = u64Num(messages);
  const b = u64Num(bytes);
  if (m === INVALID || b === INVALID || !isU32(windowMessages) || !isU32(windowBytes)) return undefined;
  let size = 0;
  if (m !== 0) size += 1 + u64Size(m, messages);
  if (b !== 0) size += 1 + u64Size(b, bytes);
  if (windowMessages !== 0) size += 1 + u32Size(windowMessages);
  if (windowBytes !== 0) size += 1 + u32Size(windowBytes);
  const out = frameOf(0x1a, size);
  let p = out.length - size;
  if (m !== 0) {
    out[p++] = 0x08;
    p = writeU64(out, p, m, messages);
  }
  if (b !== 0) {
    out[p++] = 0x10;
    p = writeU64(out, p, b, bytes);
  }
  if (windowMessages !== 0) {
    out[p++] = 0x18;
    p = writeU32(out, p, windowMessages);
  }
  if (windowBytes !== 0) {
    out[p++] = 0x20;
    writeU32(out, p, windowBytes);
  }
  return out;
}

function encodePing(m: Ping): Uint8Array | undefined {
  if (m.$typeName !== "deltaframe.v1.Ping" || m.$unknown !== undefined) return undefined;
  const { id, timeMs } = m;
  const t = u64Num(timeMs);
  if (!isU32(id) || t === INVALID) return undefined;
  let size = 0;
  if (id !== 0) size += 1 + u32Size(id);
  if (t !== 0) size += 1 + u64Size(t, timeMs);
  const out = frameOf(0x22, size);
  let p = out.length - size;
  if (id !== 0) {
    out[p++] = 0x08;
    p = writeU32(out, p, id);
  }
  if (t !== 0) {
    out[p++] = 0x10;
    writeU64(out, p, t, timeMs);
  }
  return out;
}

function encodePong(m: Pong): Uint8Array | undefined {
  if (m.$typeName !== "deltaframe.v1.Pong" || m.$unknown !== undefined) return undefined;
  const { id, pingTimeMs, timeMs } = m;
  const pt = u64Num(pingTimeMs);
  const t = u64Num(timeMs);
  if (!isU32(id) || pt === INVALID || t === INVALID) return undefined;
  let size = 0;
  if (id !== 0) size += 1 + u32Size(id);
  if (pt !== 0) size += 1 + u64Size(pt, pingTimeMs);
  if (t !== 0) size += 1 + u64Size(t, timeMs);
  const out = frameOf(0x2a, size);
  let p = out.length - size;
  if (id !== 0) {
    out[p++] = 0x08;
    p = writeU32(out, p, id);
  }
  if (pt !== 0) {
    out[p++] = 0x10;
    p = writeU64(out, p, pt, pingTimeMs);
  }
  if (t !== 0) {
    out[p++] = 0x18;
    writeU64(out, p, t, timeMs);
  }
  return out;
}

/**
 * Returns the protobuf bytes of a hot frame (`updates`, `event`, `ack`,
 * `ping`, `pong`), identical to protobuf-es `toBinary(FrameSchema, frame)`;
 * returns undefined for any other frame, for messages carrying unknown
 * fields, and for field values outside their protobuf type, which the caller
 * must encode with `toBinary`. Never throws.
 */
export function writeHotFrame(frame: Frame): Uint8Array | undefined {
  if (frame.$typeName !== "deltaframe.v1.Frame" || frame.$unknown !== undefined) return undefined;
  const body = frame.body;
  switch (body.case) {
    case "updates":
      return encodeUpdates(body.value);
    case "event":
      return encodeEvent(body.value);
    case "ack":
      return encodeAck(body.value);
    case "ping":
      return encodePing(body.value);
    case "pong":
      return encodePong(body.value);
  }
  return undefined;
}
