/**
 * Transport messages: one marker byte, then a `Batch`, plain or raw-deflated,
 * or a single plain `Frame` (docs/wire-format.md).
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DeltaframeError } from "../errors.js";
import { BatchSchema, type Frame, FrameSchema } from "../gen/deltaframe/v1/frames_pb.js";
import type { Limits } from "../limits.js";
import { defaultDeflater } from "./deflate-default.js";
import type { Deflater } from "./deflater.js";
import { readBatchFrames } from "./fast-read.js";
import { decodeFrame, protobufError } from "./frame.js";
import { limitsOf } from "./options.js";
import { PRESCAN_MIN_BYTES, prescan } from "./prescan.js";
import { expandShapedFrame } from "./updates-shape.js";
import { validateFrame } from "./validate.js";
import { readHeaderVarint, varintSize, writeVarint } from "./varint.js";

/** Marker byte of a plain transport message: a `Batch` follows. */
export const MARKER_PLAIN = 0x00;
/** Marker byte of a raw-deflated message: varint declared length, raw deflate of a `Batch`. */
export const MARKER_DEFLATE = 0x01;
/** Marker byte of a dictionary-deflated message: varint dictionary index, varint declared length, raw deflate. */
export const MARKER_DICTIONARY = 0x02;
/**
 * Marker byte of a plain message holding exactly one frame: the `Frame` bytes
 * follow, without the `Batch` entry's tag and length. The performance bet: most
 * messages of a live feed hold one `Updates` frame (and most of a client's,
 * one `Ack`), so 2–3 bytes per message go, about 0.14 bytes per tick on the
 * reference workload.
 */
export const MARKER_SINGLE = 0x03;

/** Tag of `Batch.frames` (field 1, length-delimited). */
const FRAMES_TAG = 0x0a;

/** A dictionary in force for sending: its 1-based index in the negotiated list, and its bytes. */
export interface BatchDictionary {
  /** 1-based index into `Hello.dictionaries` (the value of `Welcome.dictionary`). */
  index: number;
  /** The dictionary's bytes, at most 32 KiB. */
  bytes: Uint8Array;
}

/** Options of {@link encodeBatch} and {@link frameBatch}. */
export interface EncodeBatchOptions {
  /** Compress at all: true only when the peer accepted `CAPABILITY_DEFLATE`. Default false. */
  compress: boolean;
  /** Batches smaller than this many bytes (encoded, uncompressed) are sent plain. Default 256. */
  compressThresholdBytes: number;
  /** Send plain when deflate does not make the message smaller. Default true. */
  onlyIfSmaller: boolean;
  /** Dictionary in force (`CAPABILITY_DICTIONARY`); undefined for plain deflate. Default undefined. */
  dictionary: BatchDictionary | undefined;
  /** Compression implementation. Default {@link defaultDeflater}. */
  deflater: Deflater;
}

/** Options of {@link decodeBatch}. */
export interface DecodeBatchOptions {
  /** Bounds on what the peer may send; missing entries take `DEFAULT_LIMITS`. */
  limits: Partial<Limits>;
  /** Accept compressed messages: true only when `CAPABILITY_DEFLATE` was negotiated. Default false. */
  decompress: boolean;
  /**
   * Dictionaries by 1-based index (entry `i` is index `i + 1`), as listed in
   * `Hello.dictionaries`; holes (undefined) are indexes this side does not
   * hold. Empty when `CAPABILITY_DICTIONARY` is not in force. Default empty.
   */
  dictionaries: ReadonlyArray<Uint8Array | undefined>;
  /** Compression implementation. Default {@link defaultDeflater}. */
  deflater: Deflater;
}

/**
 * Returns one `Batch.frames` entry for an already encoded frame: tag 0x0A,
 * varint length, the frame's bytes. Concatenated entries are valid `Batch`
 * bytes (a repeated field), so fan-out can reuse encoded frames.
 */
export function encodeBatchEntry(encodedFrame: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + varintSize(encodedFrame.length) + encodedFrame.length);
  out[0] = FRAMES_TAG;
  out.set(encodedFrame, writeVarint(out, 1, encodedFrame.length));
  return out;
}

/**
 * Returns the `Batch` bytes holding the given encoded frames in order,
 * identical to `toBinary(BatchSchema, …)` of the decoded frames. Throws
 * `DF_ERR_INVALID_ARGUMENT` for an empty list.
 */
export function encodeBatchFromEncodedFrames(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 0) {
    throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot encode batch: no frames");
  }
  let size = 0;
  for (const p of parts) size += 1 + varintSize(p.length) + p.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out[pos++] = FRAMES_TAG;
    pos = writeVarint(out, pos, p.length);
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** The value of the varint last read by {@link scanVarint}. */
let scanned = 0;

/**
 * Reads a protobuf varint without allocating: returns the position after it
 * and leaves its value in {@link scanned}, or returns -1 when it is malformed
 * or truncated. Values above 2^53 saturate, which only ever makes a length
 * larger (and so out of bounds).
 */
function scanVarint(bytes: Uint8Array, pos: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = bytes[pos + i];
    if (b === undefined) return -1;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      scanned = value;
      return pos + i + 1;
    }
    scale *= 128;
  }
  return -1;
}

/**
 * Walks the top level of `Batch` bytes without decoding them. Calls `visit`
 * with the start and end of each `frames` entry; returns the number of
 * entries, or -1 when the bytes are not a well-formed top level. Other
 * fields are skipped (they would be dropped as unknown).
 */
function scanBatch(bytes: Uint8Array, visit?: (start: number, end: number) => boolean): number {
  let pos = 0;
  let count = 0;
  while (pos < bytes.length) {
    pos = scanVarint(bytes, pos);
    if (pos < 0) return -1;
    const key = scanned;
    const wireType = key % 8;
    if (wireType === 2) {
      pos = scanVarint(bytes, pos);
      if (pos < 0 || pos + scanned > bytes.length) return -1;
      const end = pos + scanned;
      if (key === FRAMES_TAG) {
        count++;
        if (visit !== undefined && !visit(pos, end)) return count;
      }
      pos = end;
    } else if (wireType === 0) {
      pos = scanVarint(bytes, pos);
      if (pos < 0) return -1;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else return -1; // groups at the top level: leave the verdict to the decoder
  }
  return pos === bytes.length ? count : -1;
}

/** Field numbers of `Frame.hello` and `Frame.welcome`, which carry credentials and tokens. */
const SECRET_FIELDS: ReadonlySet<number> = new Set([14, 15]);

/**
 * Returns true when `Batch` bytes hold a `Hello` or `Welcome` frame (or are
 * not well-formed enough to tell), which must never be compressed.
 */
function carriesSecrets(batch: Uint8Array): boolean {
  let found = false;
  const count = scanBatch(batch, (start, end) => {
    let pos = start;
    while (pos < end) {
      pos = scanVarint(batch, pos);
      if (pos < 0) {
        found = true;
        return false;
      }
      const key = scanned;
      if (SECRET_FIELDS.has(Math.floor(key / 8))) {
        found = true;
        return false;
      }
      const wireType = key % 8;
      if (wireType === 2) {
        pos = scanVarint(batch, pos);
        if (pos < 0) {
          found = true;
          return false;
        }
        pos += scanned;
      } else if (wireType === 0) {
        pos = scanVarint(batch, pos);
        if (pos < 0) {
          found = true;
          return false;
        }
      } else if (wireType === 1) pos += 8;
      else if (wireType === 5) pos += 4;
      else {
        found = true;
        return false;
      }
    }
    return true;
  });
  return found || count < 0;
}

function plain(batch: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + batch.length);
  out[0] = MARKER_PLAIN;
  out.set(batch, 1);
  return out;
}

/**
 * Returns a transport message for already encoded `Batch` bytes: marker and,
 * when enabled and worthwhile, raw deflate. Lets a hub compress one batch
 * once for many receivers. Never compresses a batch holding a `Hello` or
 * `Welcome`, below `compressThresholdBytes`, or (with `onlyIfSmaller`) when
 * deflate does not shrink it. Throws `DF_ERR_INVALID_ARGUMENT` for a bad
 * option (dictionary index below 1, dictionary over 32 KiB).
 */
export function frameBatch(batch: Uint8Array, options: Partial<EncodeBatchOptions> = {}): Uint8Array {
  const threshold = options.compressThresholdBytes ?? 256;
  if (options.compress !== true || batch.length < threshold || carriesSecrets(batch)) return plain(batch);
  const dictionary = options.dictionary;
  if (dictionary !== undefined && !(Number.isSafeInteger(dictionary.index) && dictionary.index >= 1)) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_ARGUMENT",
      "cannot encode batch: dictionary index must be ≥ 1",
      {
        index: dictionary.index,
      },
    );
  }
  const deflater = options.deflater ?? defaultDeflater();
  const deflated = deflater.deflateRaw(batch, dictionary?.bytes);
  const header = 1 + (dictionary === undefined ? 0 : varintSize(dictionary.index)) + varintSize(batch.length);
  if ((options.onlyIfSmaller ?? true) && header + deflated.length >= 1 + batch.length) return plain(batch);
  const out = new Uint8Array(header + deflated.length);
  let pos: number;
  if (dictionary === undefined) {
    out[0] = MARKER_DEFLATE;
    pos = writeVarint(out, 1, batch.length);
  } else {
    out[0] = MARKER_DICTIONARY;
    pos = writeVarint(out, writeVarint(out, 1, dictionary.index), batch.length);
  }
  out.set(deflated, pos);
  return out;
}

/**
 * Returns the plain transport message holding one already encoded frame
 * (marker {@link MARKER_SINGLE}, then the frame's bytes).
 */
export function frameSingle(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + frame.length);
  out[0] = MARKER_SINGLE;
  out.set(frame, 1);
  return out;
}

/**
 * Returns the transport message carrying `frames` in order (marker byte,
 * then the `Batch`, compressed per `options`; see {@link frameBatch}).
 * Throws `DF_ERR_INVALID_ARGUMENT` for an empty list.
 */
export function encodeBatch(frames: readonly Frame[], options: Partial<EncodeBatchOptions> = {}): Uint8Array {
  if (frames.length === 0) {
    throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot encode batch: no frames");
  }
  const batch = toBinary(BatchSchema, create(BatchSchema, { frames: frames as Frame[] }));
  return frameBatch(batch, options);
}

/**
 * Returns the `Batch` bytes a transport message carries, inflated and
 * length-checked but not decoded. Same checks and errors as
 * {@link decodeBatch} up to decompression.
 */
export function unframeBatch(message: Uint8Array, options: Partial<DecodeBatchOptions> = {}): Uint8Array {
  const limits = limitsOf(options.limits);
  if (message.length > limits.maxMessageBytes) {
    throw new DeltaframeError(
      "DF_ERR_MESSAGE_TOO_LARGE",
      "cannot decode transport message: larger than maxMessageBytes",
      { bytes: message.length, limit: limits.maxMessageBytes },
    );
  }
  if (message.length === 0) {
    throw new DeltaframeError("DF_ERR_MESSAGE_EMPTY", "cannot decode transport message: empty");
  }
  const marker = message[0]!;
  if (marker === MARKER_PLAIN) return message.subarray(1);
  if (marker === MARKER_SINGLE) {
    // The Batch the single frame stands for: one entry (tag, length, frame).
    const frame = message.subarray(1);
    const out = new Uint8Array(1 + varintSize(frame.length) + frame.length);
    out[0] = FRAMES_TAG;
    out.set(frame, writeVarint(out, 1, frame.length));
    return out;
  }
  if (marker !== MARKER_DEFLATE && marker !== MARKER_DICTIONARY) {
    throw new DeltaframeError("DF_ERR_MARKER_UNKNOWN", `cannot decode transport message: unknown marker`, {
      marker,
    });
  }
  if (options.decompress !== true) {
    throw new DeltaframeError(
      "DF_ERR_COMPRESSION_NOT_NEGOTIATED",
      "cannot decode transport message: compression not negotiated",
      { marker },
    );
  }
  let pos = 1;
  let dictionary: Uint8Array | undefined;
  if (marker === MARKER_DICTIONARY) {
    const dictionaries = options.dictionaries ?? [];
    if (dictionaries.length === 0) {
      throw new DeltaframeError(
        "DF_ERR_COMPRESSION_NOT_NEGOTIATED",
        "cannot decode transport message: dictionary compression not negotiated",
        { marker },
      );
    }
    let index: number;
    [index, pos] = readHeaderVarint(message, pos, "dictionary index");
    dictionary = index >= 1 ? dictionaries[index - 1] : undefined;
    if (dictionary === undefined) {
      throw new DeltaframeError(
        "DF_ERR_DICTIONARY_UNKNOWN",
        "cannot decode transport message: unknown dictionary",
        {
          index,
        },
      );
    }
  }
  let declaredLength: number;
  [declaredLength, pos] = readHeaderVarint(message, pos, "declared length");
  if (declaredLength > limits.maxInflatedBytes) {
    throw new DeltaframeError(
      "DF_ERR_INFLATE_TOO_LARGE",
      "cannot decode transport message: declared length over maxInflatedBytes",
      { declaredLength, limit: limits.maxInflatedBytes },
    );
  }
  const data = message.subarray(pos);
  if (data.length === 0) {
    throw new DeltaframeError("DF_ERR_INFLATE_CORRUPT", "cannot inflate: empty deflate stream");
  }
  const deflater = options.deflater ?? defaultDeflater();
  return deflater.inflateRaw(data, declaredLength, dictionary);
}

/**
 * Decodes a transport message into its frames, in order, each checked by
 * `validateFrame`. Checks, in order: size (`DF_ERR_MESSAGE_TOO_LARGE`),
 * empty (`DF_ERR_MESSAGE_EMPTY`), marker (`DF_ERR_MARKER_UNKNOWN`),
 * compression allowed (`DF_ERR_COMPRESSION_NOT_NEGOTIATED`), dictionary
 * (`DF_ERR_DICTIONARY_UNKNOWN`), declared length (`DF_ERR_INFLATE_TOO_LARGE`,
 * before inflating), inflate (`DF_ERR_INFLATE_CORRUPT`,
 * `DF_ERR_INFLATE_LENGTH_MISMATCH`), frame count (`DF_ERR_FRAME_EMPTY` for
 * none, `DF_ERR_TOO_MANY_FRAMES`, counted before decoding), protobuf
 * (`DF_ERR_DECODE`, `DF_ERR_DEPTH`), then each frame. A compressed message
 * holding a `Hello` or `Welcome` is rejected with `DF_ERR_FRAME_INVALID`.
 *
 * Bytes fields of the returned frames are views into `message` (plain
 * messages) or into the inflated buffer, not copies: do not modify `message`
 * while the frames are in use.
 *
 * Frames are decoded entry by entry, hot frames by the hand-written reader
 * (fast-read.ts); the result and errors are those of protobuf-es
 * `fromBinary(BatchSchema, …)`, which decodes the whole batch whenever the
 * fast path cannot vouch for the same result.
 */
export function decodeBatch(message: Uint8Array, options: Partial<DecodeBatchOptions> = {}): Frame[] {
  const limits = limitsOf(options.limits);
  if (message[0] === MARKER_SINGLE && message.length <= limits.maxMessageBytes) {
    // One plain frame: decoded in place, with the checks of decodeFrame.
    return [decodeFrame(message.subarray(1), { limits })];
  }
  const bytes = unframeBatch(message, options);
  const count = scanBatch(bytes);
  if (count > limits.maxFramesPerBatch) {
    throw new DeltaframeError("DF_ERR_TOO_MANY_FRAMES", "cannot decode batch: too many frames", {
      frames: count,
      limit: limits.maxFramesPerBatch,
    });
  }
  if (count === 0) {
    throw new DeltaframeError("DF_ERR_FRAME_EMPTY", "cannot decode batch: no frames");
  }
  if (bytes.length >= PRESCAN_MIN_BYTES) {
    scanBatch(bytes, (start, end) => {
      prescan(FrameSchema, bytes, start, end, limits);
      return true;
    });
  }
  let frames = readBatchFrames(bytes, limits.maxDepth);
  if (frames === undefined) {
    try {
      // The batch wrapper is not counted: maxDepth applies to each frame, as in decodeFrame.
      frames = fromBinary(BatchSchema, bytes, {
        readUnknownFields: false,
        recursionLimit: limits.maxDepth + 1,
      }).frames;
    } catch (error) {
      throw protobufError(error, "batch", limits.maxDepth);
    }
  }
  // protobuf-es reads field 1 whatever its wire type, so the scan above may
  // have counted differently for malformed input: check the result too.
  if (frames.length > limits.maxFramesPerBatch) {
    throw new DeltaframeError("DF_ERR_TOO_MANY_FRAMES", "cannot decode batch: too many frames", {
      frames: frames.length,
      limit: limits.maxFramesPerBatch,
    });
  }
  if (frames.length === 0) {
    throw new DeltaframeError("DF_ERR_FRAME_EMPTY", "cannot decode batch: no frames");
  }
  const compressed = message[0] !== MARKER_PLAIN;
  for (const frame of frames) {
    expandShapedFrame(frame, limits);
    validateFrame(frame, limits);
    if (compressed && (frame.body.case === "hello" || frame.body.case === "welcome")) {
      throw new DeltaframeError(
        "DF_ERR_FRAME_INVALID",
        `cannot decode batch: compressed ${frame.body.case}`,
        {
          frame: frame.body.case,
        },
      );
    }
  }
  return frames;
}
