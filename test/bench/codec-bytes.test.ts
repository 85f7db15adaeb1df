// The bench inputs of bench/codec.bench.ts: deltaframe's frame encoder gives
// the same bytes as protobuf-es for them (DESIGN §7), and the sizes the
// performance tables quote are the sizes measured.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { decodeFrame, encodeFrame } from "deltaframe/codec";
import { FrameSchema } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { codecSamples, snapshotFrame, updateFrame } from "../../bench/support/frames.js";

const samples = codecSamples();

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

describe("bench codec inputs", () => {
  it("encodes the one-tick update frame to the protobuf-es bytes (24 B)", () => {
    const frame = updateFrame(samples.update);
    const bytes = encodeFrame(frame);
    expect(hex(bytes)).toBe(hex(toBinary(FrameSchema, frame)));
    // Seeded input: the same bytes on every machine and run.
    expect(hex(bytes)).toBe("0a160801100a1a013e2201292a0a22582c021a032c101a02");
  });

  it("encodes the snapshot chunk to the protobuf-es bytes (1,077 B)", () => {
    const frame = snapshotFrame(samples.snapshot);
    const bytes = encodeFrame(frame);
    expect(hex(bytes)).toBe(hex(toBinary(FrameSchema, frame)));
    expect(bytes.length).toBe(1077);
  });

  it("decodes both frames to what protobuf-es decodes", () => {
    for (const frame of [updateFrame(samples.update), snapshotFrame(samples.snapshot)]) {
      const bytes = toBinary(FrameSchema, frame);
      expect(decodeFrame(bytes)).toEqual(fromBinary(FrameSchema, bytes));
      expect(decodeFrame(bytes)).toEqual(frame);
    }
  });
});
