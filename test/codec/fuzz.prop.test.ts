import { create } from "@bufbuild/protobuf";
import { isDeltaframeError } from "deltaframe";
import {
  createFflateDeflater,
  createZlibDeflater,
  type DecodeBatchOptions,
  decodeBatch,
  decodeFrame,
  encodeBatch,
  encodeFrame,
} from "deltaframe/codec";
import { EventSchema, FrameSchema } from "deltaframe/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arbCompressibleFrame, arbFrames } from "./arbitraries.js";

const dictionary = new TextEncoder().encode("deltaframe odds market selection price ".repeat(8));
const zlibOptions: Partial<DecodeBatchOptions> = {
  decompress: true,
  dictionaries: [dictionary],
  deflater: createZlibDeflater(),
  limits: { maxInflatedBytes: 1 << 16 },
};
const fflateOptions: Partial<DecodeBatchOptions> = { ...zlibOptions, deflater: createFflateDeflater() };

/** Valid transport messages to mutate: plain, deflated, with dictionary. */
const corpus: Uint8Array[] = (() => {
  const out: Uint8Array[] = [];
  const plainFrames = fc.sample(arbFrames(6), { numRuns: 150, seed: 42 });
  for (const frames of plainFrames) out.push(encodeBatch(frames));
  const packable = fc.sample(fc.array(arbCompressibleFrame, { minLength: 1, maxLength: 12 }), {
    numRuns: 150,
    seed: 7,
  });
  for (const frames of packable) {
    const opts = { compress: true, compressThresholdBytes: 1, onlyIfSmaller: false };
    out.push(encodeBatch(frames, opts));
    out.push(encodeBatch(frames, { ...opts, dictionary: { index: 1, bytes: dictionary } }));
  }
  return out;
})();
const frameCorpus = fc.sample(arbFrames(1), { numRuns: 200, seed: 3 }).map((f) => encodeFrame(f[0]!));

/** Runs `fn`; passes when it returns or throws a remote DeltaframeError. */
function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!isDeltaframeError(error) || error.origin !== "remote") {
      throw new Error(`untyped error: ${String(error)}`, { cause: error });
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A mutation of valid bytes: bit flips, byte sets, truncation, insertion, deletion, splices. */
const arbMutated = (source: Uint8Array[]) =>
  fc
    .record({
      a: fc.nat({ max: source.length - 1 }),
      b: fc.nat({ max: source.length - 1 }),
      ops: fc.array(
        fc.record({
          kind: fc.constantFrom("flip", "set", "truncate", "insert", "delete", "splice"),
          at: fc.nat(),
          value: fc.nat({ max: 255 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    })
    .map(({ a, b, ops }) => {
      let bytes: Uint8Array = Uint8Array.from(source[a]!);
      for (const op of ops) {
        const at = bytes.length === 0 ? 0 : op.at % bytes.length;
        if (op.kind === "flip" && bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << (op.value & 7));
        else if (op.kind === "set" && bytes.length > 0) bytes[at] = op.value;
        else if (op.kind === "truncate") bytes = bytes.subarray(0, at);
        else if (op.kind === "insert")
          bytes = concat(bytes.subarray(0, at), Uint8Array.of(op.value), bytes.subarray(at));
        else if (op.kind === "delete") bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1));
        else if (op.kind === "splice") {
          const other = source[b]!;
          const cut = other.length === 0 ? 0 : op.value % other.length;
          bytes = concat(bytes.subarray(0, at), other.subarray(cut));
        }
      }
      return bytes;
    });

/** Messages of 64 KiB and more, which take the pre-decode size walk. */
const bigCorpus: Uint8Array[] = (() => {
  const frames = fc.sample(arbFrames(4), { numRuns: 20, seed: 11 });
  return frames.map((fs, i) => {
    const payload = new Uint8Array(70_000 + i).map((_, j) => (j * 31 + i) & 0xff);
    const event = create(FrameSchema, {
      body: { case: "event", value: create(EventSchema, { alias: 1, payload }) },
    });
    return encodeBatch([...fs, event, ...fs]);
  });
})();

describe("untrusted bytes give only typed errors", () => {
  it("random bytes after each marker (6,000 cases)", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 2, 3), fc.uint8Array({ maxLength: 300 }), (marker, body) => {
        const message = Uint8Array.from([marker, ...body]);
        onlyTypedErrors(() => decodeBatch(message, zlibOptions));
        onlyTypedErrors(() => decodeBatch(message, fflateOptions));
        onlyTypedErrors(() => decodeBatch(message));
      }),
      { numRuns: 6_000 },
    );
  });
  it("mutated valid messages (10,000 cases), decoded with zlib and fflate", () => {
    let decoded = 0;
    fc.assert(
      fc.property(arbMutated(corpus), (message) => {
        onlyTypedErrors(() => decodeBatch(message, zlibOptions) && decoded++);
        onlyTypedErrors(() => decodeBatch(message, fflateOptions));
      }),
      { numRuns: 10_000 },
    );
    // The mutations must reach the decoder's later stages, not only fail at the header.
    expect(decoded).toBeGreaterThan(500);
  });
  it("random and mutated frames through decodeFrame (6,000 cases)", () => {
    fc.assert(
      fc.property(fc.oneof(arbMutated(frameCorpus), fc.uint8Array({ maxLength: 200 })), (bytes) => {
        onlyTypedErrors(() => decodeFrame(bytes));
      }),
      { numRuns: 6_000 },
    );
  });
  it("mutated messages of 64 KiB and more (1,000 cases), under tight and default limits", () => {
    const tight = { limits: { maxListLength: 3, maxStringBytes: 8, maxBytesFieldBytes: 80_000 } };
    fc.assert(
      fc.property(arbMutated(bigCorpus), (message) => {
        onlyTypedErrors(() => decodeBatch(message));
        onlyTypedErrors(() => decodeBatch(message, tight));
        onlyTypedErrors(() => decodeFrame(message.subarray(3), tight));
      }),
      { numRuns: 1_000 },
    );
  });
  it("the corpus itself decodes", () => {
    for (const message of bigCorpus) expect(decodeBatch(message).length).toBeGreaterThan(1);
    for (const message of corpus) expect(decodeBatch(message, zlibOptions).length).toBeGreaterThan(0);
    expect(corpus.filter((m) => m[0] === 1).length).toBeGreaterThan(100);
    expect(corpus.filter((m) => m[0] === 2).length).toBeGreaterThan(100);
  });
});
