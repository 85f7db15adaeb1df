import { create } from "@bufbuild/protobuf";
import { decodeBatch, decodeFrame, encodeBatch, encodeFrame } from "deltaframe/codec";
import { type Frame, FrameSchema, UpdatesSchema } from "deltaframe/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arbFrame } from "./arbitraries.js";
import { expectCode } from "./helpers.js";

/** Peak resident memory of this process, in bytes. */
const peakRss = () => process.resourceUsage().maxRSS * 1024;

/** An unknown field 100 of `n` bytes, which both decoders skip: pads a frame past the pre-scan threshold. */
function padding(n: number): Uint8Array {
  const len: number[] = [];
  let v = n;
  while (v >= 0x80) {
    len.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  len.push(v);
  return new Uint8Array([0xa2, 0x06, ...len, ...new Uint8Array(n)]);
}

/** The error code, or "ok". */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

const pad = padding(64 * 1024);
const SIZE_CODES = ["DF_ERR_STRING_TOO_LONG", "DF_ERR_BYTES_TOO_LONG", "DF_ERR_LIST_TOO_LONG"];

// Runs first in this file so that the peak-memory measure starts low.
describe("size checks before decoding (payloads ≥ 64 KiB)", () => {
  it("a 4 MiB packed uint64 column is rejected without building 4 million bigints", () => {
    const n = 4 << 20;
    // Frame.updates (field 1) holding Updates.steps (field 6) packed: 4 Mi one-byte varints of 1.
    const column = [0x32, ...lengthVarint(n)];
    const frameHead = [0x0a, ...lengthVarint(column.length + n)];
    const bytes = new Uint8Array(frameHead.length + column.length + n).fill(1);
    bytes.set([...frameHead, ...column], 0);
    const before = peakRss();
    expectCode(() => decodeFrame(bytes, { limits: { maxMessageBytes: 8 << 20 } }), "DF_ERR_LIST_TOO_LONG");
    expect(peakRss() - before).toBeLessThan(32 << 20);
  });

  it("the same checks as after decoding: list, bytes and string limits at and one past", () => {
    const steps = (count: number) =>
      create(FrameSchema, {
        body: {
          case: "updates",
          value: create(UpdatesSchema, {
            keyIds: Array.from({ length: count + 1 }, () => 1),
            sizes: Array.from({ length: count + 1 }, () => 2),
            steps: Array.from({ length: count }, () => 1n),
          }),
        },
      });
    const limits = { maxListLength: 70_000, maxMessageBytes: 8 << 20 };
    expect(encodeFrame(steps(70_000)).length).toBeGreaterThan(64 * 1024);
    expect(decodeFrame(encodeFrame(steps(69_999)), { limits }).body.case).toBe("updates");
    expectCode(() => decodeFrame(encodeFrame(steps(70_000)), { limits }), "DF_ERR_LIST_TOO_LONG");
    expectCode(() => decodeBatch(encodeBatch([steps(70_000)]), { limits }), "DF_ERR_LIST_TOO_LONG");
  });

  it("never rejects what the decoder accepts, and catches every size violation", () => {
    fc.assert(
      fc.property(
        arbFrame,
        fc.record({
          maxListLength: fc.integer({ min: 1, max: 6 }),
          maxBytesFieldBytes: fc.integer({ min: 1, max: 40 }),
          maxStringBytes: fc.integer({ min: 1, max: 40 }),
        }),
        (frame: Frame, tight) => {
          const limits = { ...tight, maxMessageBytes: 1 << 20 };
          const bytes = encodeFrame(frame);
          const padded = new Uint8Array(bytes.length + pad.length);
          padded.set(bytes, 0);
          padded.set(pad, bytes.length);
          const after = outcome(() => decodeFrame(bytes, { limits }));
          const before = outcome(() => decodeFrame(padded, { limits }));
          if (after === "ok") expect(before).toBe("ok");
          if (SIZE_CODES.includes(after)) expect(SIZE_CODES).toContain(before);
          if (before !== "ok") expect(after).not.toBe("ok");
        },
      ),
      { numRuns: 300 },
    );
  });
});

function lengthVarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
