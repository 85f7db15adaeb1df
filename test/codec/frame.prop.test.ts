import { create, equals, toBinary } from "@bufbuild/protobuf";
import {
  createFflateDeflater,
  createZlibDeflater,
  decodeBatch,
  decodeFrame,
  encodeBatch,
  encodeBatchFromEncodedFrames,
  encodeFrame,
  frameBatch,
} from "deltaframe/codec";
import { BatchSchema, FrameSchema } from "deltaframe/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arbCompressibleFrame, arbFrameOfKind, arbFrames, FRAME_KINDS } from "./arbitraries.js";

describe("frame round trip", () => {
  it.each(FRAME_KINDS)("decodeFrame(encodeFrame(f)) equals f for %s, bytes identical to toBinary", (kind) => {
    fc.assert(
      fc.property(arbFrameOfKind[kind], (frame) => {
        const bytes = encodeFrame(frame);
        expect(bytes).toEqual(toBinary(FrameSchema, frame));
        const back = decodeFrame(bytes);
        expect(back.body.case).toBe(kind);
        expect(equals(FrameSchema, back, frame)).toBe(true);
        expect(encodeFrame(back)).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
  });
});

describe("batch round trip", () => {
  const deflaters = [createZlibDeflater(), createFflateDeflater()];
  it("plain and compressed transport messages decode to the same frames", () => {
    fc.assert(
      fc.property(
        arbFrames(12),
        fc.boolean(),
        fc.constantFrom(0, 1),
        fc.constantFrom(0, 1),
        fc.integer({ min: 1, max: 600 }),
        (frames, compress, enc, dec, threshold) => {
          const message = encodeBatch(frames, {
            compress,
            compressThresholdBytes: threshold,
            deflater: deflaters[enc]!,
          });
          const back = decodeBatch(message, { decompress: true, deflater: deflaters[dec]! });
          expect(back.length).toBe(frames.length);
          for (const [i, f] of back.entries()) expect(equals(FrameSchema, f, frames[i]!)).toBe(true);
          const secret = frames.some((f) => f.body.case === "hello" || f.body.case === "welcome");
          if (!compress || secret) expect(message[0]).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("concatenated encoded frames are the Batch bytes of those frames", () => {
    fc.assert(
      fc.property(arbFrames(10), (frames) => {
        const joined = encodeBatchFromEncodedFrames(frames.map(encodeFrame));
        expect(joined).toEqual(toBinary(BatchSchema, create(BatchSchema, { frames })));
        expect(frameBatch(joined)).toEqual(encodeBatch(frames));
      }),
      { numRuns: 200 },
    );
  });

  it("compressed messages are never larger than plain with onlyIfSmaller", () => {
    fc.assert(
      fc.property(fc.array(arbCompressibleFrame, { minLength: 1, maxLength: 20 }), (frames) => {
        const plain = encodeBatch(frames);
        const packed = encodeBatch(frames, { compress: true, compressThresholdBytes: 1 });
        expect(packed.length).toBeLessThanOrEqual(plain.length);
      }),
      { numRuns: 100 },
    );
  });
});
