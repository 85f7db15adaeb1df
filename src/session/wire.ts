/**
 * The session layer's only byte boundary: frames to one transport message and
 * back, through the codec layer. Everything else in `src/session` works on
 * frame objects.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { decodeBatch, encodeBatch, encodeFrame } from "../codec/index.js";
import { type Frame, FrameSchema } from "../gen/deltaframe/v1/frames_pb.js";
import type { Limits } from "../limits.js";

/** Bytes a transport message adds around its `Batch`: the marker byte. */
export const MESSAGE_OVERHEAD_BYTES = 1;

/**
 * Returns the bytes one frame adds to a `Batch`: its encoding plus the field
 * tag and the varint length prefix.
 */
export function frameWireBytes(frame: Frame): number {
  const n = encodeFrame(frame).length;
  return 1 + varintBytes(n) + n;
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Encodes frames as one uncompressed transport message (marker byte + `Batch`). */
export function encodeMessage(frames: readonly Frame[]): Uint8Array {
  return encodeBatch(frames);
}

/**
 * Decodes and validates one transport message into its frames, in order.
 * Throws the codec's remote errors (`DF_ERR_MESSAGE_TOO_LARGE`,
 * `DF_ERR_DECODE`, `DF_ERR_FRAME_INVALID`, …).
 */
export function decodeMessage(bytes: Uint8Array, limits: Readonly<Limits>): Frame[] {
  return decodeBatch(bytes, { limits });
}

/** Builds a frame from its body member (a typed shorthand for `create(FrameSchema, …)`). */
export function frame(body: Frame["body"]): Frame {
  return create(FrameSchema, { body });
}
