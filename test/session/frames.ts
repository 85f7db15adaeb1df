/** Builds raw transport messages for injecting hand-made frames. */
import { create } from "@bufbuild/protobuf";
import { encodeBatch } from "deltaframe/codec";
import { type Frame, FrameSchema } from "deltaframe/proto";

/** One transport message holding frames with the given bodies. */
export function msg(...bodies: Frame["body"][]): Uint8Array {
  return encodeBatch(bodies.map((body) => create(FrameSchema, { body })));
}
