/**
 * The session layer's only byte boundary: frames to one transport message and
 * back, through the codec layer (marker byte + `Batch`, optionally raw
 * deflate). Everything else in `src/session` works on frame objects.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  type Deflater,
  decodeBatch,
  encodeBatchFromEncodedFrames,
  encodeFrame,
  frameBatch,
  frameSingle,
  MARKER_PLAIN,
  packUpdates,
} from "../codec/index.js";
import { type Frame, FrameSchema } from "../gen/deltaframe/v1/frames_pb.js";
import type { Limits } from "../limits.js";

/** Bytes a transport message adds around its `Batch`: the marker byte. */
export const MESSAGE_OVERHEAD_BYTES = 1;

/**
 * Returns the protobuf bytes of one frame (what a `Batch` entry wraps). An
 * `Updates` frame goes out with shaped patches where that makes it smaller
 * (docs/protocol.md §6.3); the receiving codec restores them, so sessions at
 * both ends only ever see plain patches and count the same payload bytes.
 */
export function encodeFrameBytes(f: Frame): Uint8Array {
  if (f.body.case === "updates") {
    const packed = packUpdates(f.body.value);
    if (packed !== f.body.value) return encodeFrame(frame({ case: "updates", value: packed }));
  }
  return encodeFrame(f);
}

/**
 * A transport message encoded once and shared by several sessions
 * ({@link SharedBatch}): queued in a session's outbox between frames and
 * handed out by `pollTransmit` as it is.
 */
export class EncodedMessage {
  /** The message's bytes (never modified: other sessions send the same array). */
  readonly bytes: Uint8Array;
  /** Number of frames it holds (for the metrics). */
  readonly frameCount: number;

  constructor(bytes: Uint8Array, frameCount: number) {
    this.bytes = bytes;
    this.frameCount = frameCount;
  }
}

/**
 * Returns whether a frame that adds `entryBytes` to a batch still joins a
 * transport message that holds `count` frames in `usedBytes` (a message
 * takes at least one frame, at most `maxFrames`, and stays within
 * `budgetBytes` otherwise). One rule for every sender, so that a shared
 * batch packs exactly as a session would.
 */
export function fitsMessage(
  count: number,
  usedBytes: number,
  entryBytes: number,
  budgetBytes: number,
  maxFrames: number,
): boolean {
  if (count >= maxFrames) return false;
  return count === 0 || usedBytes + entryBytes <= budgetBytes;
}

/**
 * Returns the bytes an encoded frame of `n` bytes adds to a `Batch`: the
 * field tag, the varint length and the frame.
 */
export function batchEntryBytes(n: number): number {
  let bytes = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 128)) bytes++;
  return 1 + bytes + n;
}

/** Per-message compression in force on a connection (CAPABILITY_DEFLATE). */
export interface WireCompression {
  /** Compress outgoing messages (when worthwhile) and accept compressed ones. */
  enabled: boolean;
  /** Messages smaller than this many bytes go plain. */
  thresholdBytes: number;
  /** Compression implementation; undefined for the codec's default. */
  deflater: Deflater | undefined;
}

/**
 * Builds one transport message from encoded frames: marker byte + `Batch`,
 * raw-deflated when compression is in force and it makes the message smaller
 * (a message holding a hello or welcome is never compressed); a plain
 * message of one frame goes without the `Batch` wrapper (marker 0x03).
 */
export function encodeMessage(
  encodedFrames: readonly Uint8Array[],
  compression?: WireCompression,
): Uint8Array {
  const single = encodedFrames.length === 1 ? encodedFrames[0]! : undefined;
  const on = compression?.enabled === true ? compression : undefined;
  if (single !== undefined && (on === undefined || single.length < on.thresholdBytes))
    return frameSingle(single);
  const batch = encodeBatchFromEncodedFrames(encodedFrames);
  if (on === undefined) return frameBatch(batch);
  const message = frameBatch(batch, {
    compress: true,
    compressThresholdBytes: on.thresholdBytes,
    onlyIfSmaller: true,
    ...(on.deflater ? { deflater: on.deflater } : {}),
  });
  // Sent plain after all (too small, not smaller, or a hello or welcome): one frame goes without the Batch wrapper.
  return single !== undefined && message[0] === MARKER_PLAIN ? frameSingle(single) : message;
}

/**
 * Decodes and validates one transport message into its frames, in order.
 * Compressed messages are accepted only when compression is in force (else
 * DF_ERR_COMPRESSION_NOT_NEGOTIATED). Throws the codec's remote errors.
 */
export function decodeMessage(
  bytes: Uint8Array,
  limits: Readonly<Limits>,
  compression?: WireCompression,
): Frame[] {
  if (compression === undefined || !compression.enabled) return decodeBatch(bytes, { limits });
  return decodeBatch(bytes, {
    limits,
    decompress: true,
    ...(compression.deflater ? { deflater: compression.deflater } : {}),
  });
}

/** Builds a frame from its body member (a typed shorthand for `create(FrameSchema, …)`). */
export function frame(body: Frame["body"]): Frame {
  return create(FrameSchema, { body });
}
