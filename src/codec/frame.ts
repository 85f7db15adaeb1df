/**
 * One frame to and from its protobuf bytes (docs/protocol.md §3).
 *
 * @module
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { DeltaframeError } from "../errors.js";
import { type Frame, FrameSchema } from "../gen/deltaframe/v1/frames_pb.js";
import type { Limits } from "../limits.js";
import { readHotFrame } from "./fast-read.js";
import { writeHotFrame } from "./fast-write.js";
import { limitsOf } from "./options.js";
import { PRESCAN_MIN_BYTES, prescan } from "./prescan.js";
import { expandShapedFrame } from "./updates-shape.js";
import { validateFrame } from "./validate.js";

/** Options of {@link decodeFrame} and `decodeBatch`. */
export interface DecodeOptions {
  /** Bounds on what the peer may send; missing entries take `DEFAULT_LIMITS`. */
  limits: Partial<Limits>;
}

/**
 * Returns the protobuf bytes of one `deltaframe.v1.Frame`, identical to
 * protobuf-es `toBinary(FrameSchema, frame)`. Hot frames (updates, event,
 * ack, ping, pong) go through a hand-written writer (fast-write.ts), the
 * others through `toBinary`, as are frames carrying unknown fields or
 * values outside their field's type, so errors are `toBinary`'s too. The
 * result is a new array of exactly the frame's size, never a view into a
 * shared buffer. Does not validate the frame (see {@link validateFrame}).
 */
export function encodeFrame(frame: Frame): Uint8Array {
  return writeHotFrame(frame) ?? toBinary(FrameSchema, frame);
}

/**
 * Turns an error thrown by protobuf-es `fromBinary` into a typed error:
 * `DF_ERR_DEPTH` when the recursion limit was hit, else `DF_ERR_DECODE`
 * (truncation, varint overflow, bad wire type or tag, invalid UTF-8).
 * protobuf-es throws plain errors, so the recursion case is recognised by its
 * message, the only signal it gives.
 */
export function protobufError(error: unknown, what: string, depthLimit: number): DeltaframeError {
  const message = error instanceof Error ? error.message : String(error);
  if (/recursion depth/.test(message)) {
    return new DeltaframeError("DF_ERR_DEPTH", `cannot decode ${what}: nesting deeper than ${depthLimit}`, {
      limit: depthLimit,
    });
  }
  return new DeltaframeError(
    "DF_ERR_DECODE",
    `cannot decode ${what}: malformed protobuf`,
    { reason: message },
    {
      cause: error,
    },
  );
}

/**
 * Decodes and validates one `deltaframe.v1.Frame` from its protobuf bytes.
 * Unknown fields are dropped; the frame is checked by {@link validateFrame}.
 *
 * Throws `DF_ERR_MESSAGE_TOO_LARGE` (over `maxMessageBytes`, checked first),
 * `DF_ERR_DECODE` (malformed protobuf, invalid UTF-8), `DF_ERR_DEPTH`
 * (nesting over `maxDepth`, the frame itself being depth 1), and the codes of
 * {@link validateFrame}. Bytes fields of the result are views into `bytes`,
 * not copies. Hot frames are read by a hand-written reader (fast-read.ts)
 * that gives the same message as protobuf-es `fromBinary`, and defers to
 * `fromBinary` for anything else, so results and errors are the same.
 */
export function decodeFrame(bytes: Uint8Array, options: Partial<DecodeOptions> = {}): Frame {
  const limits = limitsOf(options.limits);
  if (bytes.length > limits.maxMessageBytes) {
    throw new DeltaframeError(
      "DF_ERR_MESSAGE_TOO_LARGE",
      "cannot decode frame: larger than maxMessageBytes",
      {
        bytes: bytes.length,
        limit: limits.maxMessageBytes,
      },
    );
  }
  if (bytes.length >= PRESCAN_MIN_BYTES) prescan(FrameSchema, bytes, 0, bytes.length, limits);
  let frame = readHotFrame(bytes, 0, bytes.length, limits.maxDepth);
  if (frame === undefined) {
    try {
      frame = fromBinary(FrameSchema, bytes, { readUnknownFields: false, recursionLimit: limits.maxDepth });
    } catch (error) {
      throw protobufError(error, "frame", limits.maxDepth);
    }
  }
  expandShapedFrame(frame, limits);
  return validateFrame(frame, limits);
}
