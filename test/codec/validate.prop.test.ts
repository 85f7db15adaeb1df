import { create } from "@bufbuild/protobuf";
import { validateFrame, validateFrameReference } from "deltaframe/codec";
import { FrameSchema, UpdatesSchema } from "deltaframe/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arbFrame, arbText, arbU32, arbU64 } from "./arbitraries.js";

/** The error code a validator raises, or "ok". */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

const arbLimits = fc.record({
  maxListLength: fc.integer({ min: 1, max: 10 }),
  maxBytesFieldBytes: fc.integer({ min: 1, max: 40 }),
  maxStringBytes: fc.integer({ min: 1, max: 40 }),
});

/** Updates with independent, usually inconsistent columns. */
const arbLooseUpdates = fc
  .record({
    firstOffset: fc.oneof(arbU64, fc.constant((1n << 64n) - 1n)),
    keyIds: fc.array(arbU32, { maxLength: 6 }),
    sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), arbU32), { maxLength: 6 }),
    bodies: fc.uint8Array({ maxLength: 40 }),
    steps: fc.array(fc.oneof(fc.constant(0n), arbU64), { maxLength: 6 }),
    baseGaps: fc.array(fc.bigInt({ min: 0n, max: 3n }), { maxLength: 6 }),
    hashes: fc.array(arbU64, { maxLength: 6 }),
    bindings: fc.array(fc.record({ keyId: arbU32, key: arbText(12) }), { maxLength: 4 }),
  })
  .map((v) =>
    create(FrameSchema, {
      body: {
        case: "updates",
        value: create(UpdatesSchema, {
          ...v,
          bindings: v.bindings.map((b) => ({ $typeName: "deltaframe.v1.KeyBinding" as const, ...b })),
        }),
      },
    }),
  );

describe("validateFrame fast paths agree with the generic walk", () => {
  it("on valid frames of every kind, under tight limits", () => {
    fc.assert(
      fc.property(arbFrame, arbLimits, (frame, limits) => {
        expect(outcome(() => validateFrame(frame, limits))).toBe(
          outcome(() => validateFrameReference(frame, limits)),
        );
      }),
      { numRuns: 2000 },
    );
  });
  it("on inconsistent Updates columns", () => {
    let invalid = 0;
    fc.assert(
      fc.property(arbLooseUpdates, fc.option(arbLimits, { nil: undefined }), (frame, limits) => {
        const fast = outcome(() => validateFrame(frame, limits));
        expect(fast).toBe(outcome(() => validateFrameReference(frame, limits)));
        if (fast !== "ok") invalid++;
      }),
      { numRuns: 3000 },
    );
    expect(invalid).toBeGreaterThan(1000);
  });
});
