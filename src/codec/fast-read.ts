/**
 * Hand-written protobuf reader for the hot frames (`Updates`, `Event`, `Ack`,
 * `Ping`, `Pong`) and for the top level of a `Batch` (docs/protocol.md §3).
 *
 * The reader is a fast path in front of protobuf-es `fromBinary` with
 * `readUnknownFields: false`: whatever it accepts, it decodes to a message
 * equal to what `fromBinary` returns, and for anything else it answers
 * `undefined` so that the caller runs the reference decoder, which then gives
 * the reference result or error. "Anything else" is every input whose
 * reference outcome is not plainly the same: malformed bytes (truncated or
 * overlong varints, bad tags, bad wire types), a known field with a wire type
 * other than its own, a packed run or nested message that does not end
 * exactly at its length, a frame with no body or with more than one body
 * field, non-hot frames, and a recursion limit below 3. Unknown fields,
 * including groups and fixed-width fields, are skipped the way protobuf-es
 * skips them, with the same nesting budget. Non-canonical encodings that
 * protobuf decoders must accept (unpacked repeated scalars, fields out of
 * order or repeated, longer varints than needed) are read natively, with
 * protobuf-es's rules: the last value of a singular field wins, repeated
 * entries are appended, and varints longer than their type are truncated
 * exactly as `BinaryReader` truncates them.
 *
 * Messages are built as plain objects with the same properties, in the same
 * order, as protobuf-es `create` builds them, so `toBinary`, `equals`,
 * `isMessage` and `clone` treat them as any other message. Bytes fields are
 * views into the input, as with `fromBinary`. Validation (`validateFrame`)
 * is left to the caller.
 *
 * The reader keeps its cursor in module variables instead of an object: it
 * never calls out while reading, so it cannot be re-entered.
 *
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import {
  type Ack,
  type Event,
  type Frame,
  FrameSchema,
  type KeyBinding,
  type Ping,
  type Pong,
  type Updates,
} from "../gen/deltaframe/v1/frames_pb.js";

/** Thrown internally when the reference decoder must decide; caught at the entry points, never escapes. */
const FALLBACK = Symbol("fallback");

/** Shared zero-length bytes: protobuf-es's `create` shares one zero value too. */
const EMPTY: Uint8Array = new Uint8Array(0);

/** Largest `Frame` field number (`drain`): numbers above it are unknown fields. */
const FRAME_MAX_FIELD = 17;

/** Nesting the hot frames need: Frame (1), body (2), `Updates.bindings` entry (3). */
export const FAST_READ_MIN_DEPTH = 3;

let buf: Uint8Array = EMPTY;
let pos = 0;

/** Reads a uint32 varint with `BinaryReader.uint32` semantics (≤ 10 bytes, truncated to 32 bits). */
function u32(end: number): number {
  // One-byte values inline at every call site; longer ones take the loop.
  const p = pos;
  if (p < end) {
    const b = buf[p]!;
    if (b < 0x80) {
      pos = p + 1;
      return b;
    }
  }
  return u32Long(end);
}

function u32Long(end: number): number {
  if (pos >= end) throw FALLBACK;
  let b = buf[pos++]!;
  let value = b & 0x7f;
  if (pos >= end) throw FALLBACK;
  b = buf[pos++]!;
  value |= (b & 0x7f) << 7;
  if (b < 0x80) return value;
  if (pos >= end) throw FALLBACK;
  b = buf[pos++]!;
  value |= (b & 0x7f) << 14;
  if (b < 0x80) return value;
  if (pos >= end) throw FALLBACK;
  b = buf[pos++]!;
  value |= (b & 0x7f) << 21;
  if (b < 0x80) return value;
  if (pos >= end) throw FALLBACK;
  b = buf[pos++]!;
  value |= (b & 0x0f) << 28;
  // Bytes 6 to 10 only lengthen the varint: their bits are dropped.
  for (let read = 5; b >= 0x80; read++) {
    if (read === 10 || pos >= end) throw FALLBACK;
    b = buf[pos++]!;
  }
  return value >>> 0;
}

/** Returns the uint64 of two 32-bit halves. */
function joinU64(lo: number, hi: number): bigint {
  const l = lo >>> 0;
  const h = hi >>> 0;
  // Below 2^53 the sum is exact as a double, and BigInt(number) is the cheap conversion.
  if (h < 0x20_0000) return BigInt(h * 0x1_0000_0000 + l);
  return (BigInt(h) << 32n) | BigInt(l);
}

/** Reads a uint64 varint with `BinaryReader.uint64` semantics (≤ 10 bytes, bits past 64 dropped). */
function u64(end: number): bigint {
  const p = pos;
  if (p < end) {
    const b = buf[p]!;
    if (b < 0x80) {
      pos = p + 1;
      return BigInt(b);
    }
  }
  return u64Long(end);
}

function u64Long(end: number): bigint {
  if (pos >= end) throw FALLBACK;
  let b = buf[pos++]!;
  let lo = b & 0x7f;
  for (let shift = 7; shift < 28; shift += 7) {
    if (pos >= end) throw FALLBACK;
    b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) return BigInt(lo);
  }
  if (pos >= end) throw FALLBACK;
  b = buf[pos++]!;
  lo |= (b & 0x0f) << 28;
  let hi = (b & 0x70) >> 4;
  if (b < 0x80) return joinU64(lo, hi);
  for (let shift = 3; shift <= 31; shift += 7) {
    if (pos >= end) throw FALLBACK;
    b = buf[pos++]!;
    hi |= (b & 0x7f) << shift;
    if (b < 0x80) return joinU64(lo, hi);
  }
  throw FALLBACK;
}

/** Reads a little-endian fixed64. */
function fixed64(end: number): bigint {
  const p = pos;
  if (p + 8 > end) throw FALLBACK;
  pos = p + 8;
  const lo = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
  const hi = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24);
  return joinU64(lo, hi);
}

/**
 * Reads a tag with `BinaryReader.tag` rules: at most 5 bytes, a uint32, field
 * number above 0. Returns `(fieldNumber << 3) | wireType` as an unsigned number.
 */
function tag(end: number): number {
  const p = pos;
  const b = buf[p]!;
  if (b >= 8 && b < 0x80 && p < end) {
    pos = p + 1;
    return b;
  }
  return tagLong(end);
}

function tagLong(end: number): number {
  const start = pos;
  const t = u32(end);
  const read = pos - start;
  if (read > 5 || (read === 5 && buf[pos - 1]! > 0x0f) || t < 8) throw FALLBACK;
  return t;
}

/**
 * Skips an unknown field as `BinaryReader.skip` does; `budget` is the nesting
 * budget protobuf-es gives groups (recursion limit minus the message's depth).
 */
function skip(wireType: number, fieldNumber: number, end: number, budget: number): void {
  switch (wireType) {
    case 0:
      // Any number of continuation bytes, as protobuf-es skips varints.
      for (;;) {
        if (pos >= end) throw FALLBACK;
        if (buf[pos++]! < 0x80) return;
      }
    case 1:
      pos += 8;
      break;
    case 5:
      pos += 4;
      break;
    case 2: {
      const length = u32(end);
      pos += length;
      break;
    }
    case 3:
      if (budget <= 0) throw FALLBACK;
      for (;;) {
        if (pos >= end) throw FALLBACK;
        const t = tag(end);
        if ((t & 7) === 4) {
          if (t >>> 3 !== fieldNumber) throw FALLBACK;
          return;
        }
        skip(t & 7, t >>> 3, end, budget - 1);
      }
    default:
      throw FALLBACK;
  }
  if (pos > end) throw FALLBACK;
}

/** Handles a tag its message does not read: skips unknown fields, falls back for known ones with another wire type. */
function other(t: number, maxField: number, end: number, budget: number): void {
  const fieldNumber = t >>> 3;
  if (fieldNumber <= maxField) throw FALLBACK;
  skip(t & 7, fieldNumber, end, budget);
}

/** Reads the length of a length-delimited field; returns its end, within `end`. */
function lengthEnd(end: number): number {
  const length = u32(end);
  const e = pos + length;
  if (e > end) throw FALLBACK;
  return e;
}

/** Reads a bytes field as a view into the input. */
function bytesField(end: number): Uint8Array {
  const e = lengthEnd(end);
  const start = pos;
  pos = e;
  return e === start ? EMPTY : new Uint8Array(buf.buffer, buf.byteOffset + start, e - start);
}

let strictDecoder: TextDecoder | undefined;

/** Reads a string field; invalid UTF-8 falls back (protobuf-es rejects it). */
function stringField(end: number): string {
  const e = lengthEnd(end);
  const start = pos;
  pos = e;
  if (e - start <= 32) {
    let ascii = true;
    for (let i = start; i < e; i++) {
      if (buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      let s = "";
      for (let i = start; i < e; i++) s += String.fromCharCode(buf[i]!);
      return s;
    }
  }
  // Same decoder settings as protobuf-es: fatal on invalid UTF-8, a leading U+FEFF kept.
  strictDecoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  try {
    return strictDecoder.decode(buf.subarray(start, e));
  } catch {
    throw FALLBACK;
  }
}

function packedU32(into: number[], end: number): void {
  const e = lengthEnd(end);
  while (pos < e) into.push(u32(e));
}

function packedU64(into: bigint[], end: number): void {
  const e = lengthEnd(end);
  while (pos < e) into.push(u64(e));
}

function packedFixed64(into: bigint[], end: number): void {
  const e = lengthEnd(end);
  if ((e - pos) % 8 !== 0) throw FALLBACK;
  while (pos < e) into.push(fixed64(e));
}

function readBinding(end: number, maxDepth: number): KeyBinding {
  let keyId = 0;
  let key = "";
  while (pos < end) {
    const t = tag(end);
    if (t === 0x08) keyId = u32(end);
    else if (t === 0x12) key = stringField(end);
    else other(t, 2, end, maxDepth - 3);
  }
  return { $typeName: "deltaframe.v1.KeyBinding", keyId, key };
}

function readUpdates(end: number, maxDepth: number): Updates {
  let alias = 0;
  let firstOffset = 0n;
  const keyIds: number[] = [];
  const sizes: number[] = [];
  let bodies = EMPTY;
  const steps: bigint[] = [];
  const baseGaps: bigint[] = [];
  const hashes: bigint[] = [];
  const bindings: KeyBinding[] = [];
  const shapes: Uint8Array[] = [];
  while (pos < end) {
    const t = tag(end);
    switch (t) {
      case 0x08:
        alias = u32(end);
        break;
      case 0x10:
        firstOffset = u64(end);
        break;
      case 0x1a:
        packedU32(keyIds, end);
        break;
      case 0x18:
        keyIds.push(u32(end));
        break;
      case 0x22:
        packedU32(sizes, end);
        break;
      case 0x20:
        sizes.push(u32(end));
        break;
      case 0x2a:
        bodies = bytesField(end);
        break;
      case 0x32:
        packedU64(steps, end);
        break;
      case 0x30:
        steps.push(u64(end));
        break;
      case 0x3a:
        packedU64(baseGaps, end);
        break;
      case 0x38:
        baseGaps.push(u64(end));
        break;
      case 0x42:
        packedFixed64(hashes, end);
        break;
      case 0x41:
        hashes.push(fixed64(end));
        break;
      case 0x4a:
        bindings.push(readBinding(lengthEnd(end), maxDepth));
        break;
      case 0x52:
        shapes.push(bytesField(end));
        break;
      default:
        other(t, 10, end, maxDepth - 2);
    }
  }
  return {
    $typeName: "deltaframe.v1.Updates",
    alias,
    firstOffset,
    keyIds,
    sizes,
    bodies,
    steps,
    baseGaps,
    hashes,
    bindings,
    shapes,
  };
}

function readEvent(end: number, maxDepth: number): Event {
  let alias = 0;
  let offset = 0n;
  let payload = EMPTY;
  while (pos < end) {
    const t = tag(end);
    if (t === 0x08) alias = u32(end);
    else if (t === 0x10) offset = u64(end);
    else if (t === 0x1a) payload = bytesField(end);
    else other(t, 3, end, maxDepth - 2);
  }
  return { $typeName: "deltaframe.v1.Event", alias, offset, payload };
}

function readAck(end: number, maxDepth: number): Ack {
  let messages = 0n;
  let bytes = 0n;
  let windowMessages = 0;
  let windowBytes = 0;
  while (pos < end) {
    const t = tag(end);
    if (t === 0x08) messages = u64(end);
    else if (t === 0x10) bytes = u64(end);
    else if (t === 0x18) windowMessages = u32(end);
    else if (t === 0x20) windowBytes = u32(end);
    else other(t, 4, end, maxDepth - 2);
  }
  return { $typeName: "deltaframe.v1.Ack", messages, bytes, windowMessages, windowBytes };
}

function readPing(end: number, maxDepth: number): Ping {
  let id = 0;
  let timeMs = 0n;
  while (pos < end) {
    const t = tag(end);
    if (t === 0x08) id = u32(end);
    else if (t === 0x10) timeMs = u64(end);
    else other(t, 2, end, maxDepth - 2);
  }
  return { $typeName: "deltaframe.v1.Ping", id, timeMs };
}

function readPong(end: number, maxDepth: number): Pong {
  let id = 0;
  let pingTimeMs = 0n;
  let timeMs = 0n;
  while (pos < end) {
    const t = tag(end);
    if (t === 0x08) id = u32(end);
    else if (t === 0x10) pingTimeMs = u64(end);
    else if (t === 0x18) timeMs = u64(end);
    else other(t, 3, end, maxDepth - 2);
  }
  return { $typeName: "deltaframe.v1.Pong", id, pingTimeMs, timeMs };
}

function readFrame(end: number, maxDepth: number): Frame | undefined {
  let body: Frame["body"] | undefined;
  while (pos < end) {
    const t = tag(end);
    const fieldNumber = t >>> 3;
    if (fieldNumber > FRAME_MAX_FIELD) {
      skip(t & 7, fieldNumber, end, maxDepth - 1);
      continue;
    }
    // A second body field merges or replaces in protobuf-es: leave that to it.
    if (body !== undefined || (t & 7) !== 2) throw FALLBACK;
    switch (fieldNumber) {
      case 1:
        body = { case: "updates", value: readUpdates(lengthEnd(end), maxDepth) };
        break;
      case 2:
        body = { case: "event", value: readEvent(lengthEnd(end), maxDepth) };
        break;
      case 3:
        body = { case: "ack", value: readAck(lengthEnd(end), maxDepth) };
        break;
      case 4:
        body = { case: "ping", value: readPing(lengthEnd(end), maxDepth) };
        break;
      case 5:
        body = { case: "pong", value: readPong(lengthEnd(end), maxDepth) };
        break;
      default:
        throw FALLBACK;
    }
  }
  if (body === undefined) return undefined;
  return { $typeName: "deltaframe.v1.Frame", body };
}

/**
 * Decodes the `deltaframe.v1.Frame` in `bytes[start, end)` when it is a hot
 * frame the fast path reads exactly as protobuf-es `fromBinary` (with
 * `readUnknownFields: false` and `recursionLimit: maxDepth`) would; returns
 * undefined otherwise, and the caller must run the reference decoder. Never
 * throws. Bytes fields of the result are views into `bytes`.
 */
export function readHotFrame(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxDepth: number,
): Frame | undefined {
  if (maxDepth < FAST_READ_MIN_DEPTH) return undefined;
  buf = bytes;
  pos = start;
  try {
    return readFrame(end, maxDepth);
  } catch {
    // FALLBACK, or a stack overflow skipping groups nested deeper than the
    // stack under an unlimited maxDepth: either way the reference decides.
    return undefined;
  } finally {
    buf = EMPTY;
  }
}

/**
 * Walks the top level of `Batch` bytes as protobuf-es would read them, and
 * returns the start and end of each `frames` entry, flattened
 * (`[start0, end0, start1, end1, …]`). Returns undefined when the top level
 * is malformed or unusual (a `frames` field of another wire type, a group, an
 * entry running past the end), and the caller must decode the whole batch
 * with the reference decoder. `maxDepth` is the frames' recursion limit
 * (the batch's own is one more), which bounds the skipping of groups. Never
 * throws.
 */
export function batchFrameRanges(bytes: Uint8Array, maxDepth: number): number[] | undefined {
  buf = bytes;
  pos = 0;
  const end = bytes.length;
  const ranges: number[] = [];
  try {
    while (pos < end) {
      const t = tag(end);
      if (t === 0x0a) {
        const e = lengthEnd(end);
        ranges.push(pos, e);
        pos = e;
      } else other(t, 1, end, maxDepth);
    }
    return ranges;
  } catch {
    return undefined;
  } finally {
    buf = EMPTY;
  }
}

/**
 * Decodes the frames of `Batch` bytes one entry at a time, each hot frame with
 * {@link readHotFrame} and any other with `fromBinary(FrameSchema, …)` on its
 * entry; returns undefined when the whole batch must go through
 * `fromBinary(BatchSchema, …)` instead, which then gives the reference result
 * or error. Whatever it returns equals that reference's `frames`: the top
 * level is walked with protobuf-es's rules ({@link batchFrameRanges}), and an
 * entry decoded on its own either reads exactly its own bytes, as it would
 * inside the batch, or fails, and then the reference decides (inside a batch,
 * a field running past an entry's end reads on into the next entry). The
 * batch's recursion limit is one more than each frame's (`maxDepth`), so
 * depths agree. Never throws.
 */
export function readBatchFrames(bytes: Uint8Array, maxDepth: number): Frame[] | undefined {
  const ranges = batchFrameRanges(bytes, maxDepth);
  if (ranges === undefined) return undefined;
  const frames: Frame[] = new Array(ranges.length / 2);
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i]!;
    const end = ranges[i + 1]!;
    let frame = readHotFrame(bytes, start, end, maxDepth);
    if (frame === undefined) {
      try {
        frame = fromBinary(FrameSchema, bytes.subarray(start, end), {
          readUnknownFields: false,
          recursionLimit: maxDepth,
        });
      } catch {
        return undefined;
      }
    }
    frames[i / 2] = frame;
  }
  return frames;
}
