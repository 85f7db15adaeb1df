import {
  createFflateDeflater,
  createZlibDeflater,
  type Deflater,
  defaultDeflater,
  MAX_DICTIONARY_BYTES,
} from "deltaframe/codec";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectCode } from "./helpers.js";

const zlib = createZlibDeflater();
const fflate = createFflateDeflater();
const pairs: Array<[string, Deflater, Deflater]> = [
  ["zlib → fflate", zlib, fflate],
  ["fflate → zlib", fflate, zlib],
  ["zlib → zlib", zlib, zlib],
  ["fflate → fflate", fflate, fflate],
];

/** Compressible data: words from a small alphabet, sometimes raw bytes. */
const arbData = fc.oneof(
  fc
    .array(fc.constantFrom("odds", "market", "1234", "price", " ", "\n", "selection", "é"), {
      maxLength: 400,
    })
    .map((w) => new TextEncoder().encode(w.join(""))),
  fc.uint8Array({ maxLength: 2000 }),
);
const arbDictionary = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.constant(new TextEncoder().encode("market price selection odds 1234 ".repeat(20))),
  fc.uint8Array({ minLength: MAX_DICTIONARY_BYTES, maxLength: MAX_DICTIONARY_BYTES }),
);

describe.each(pairs)("deflate interop %s", (_name, sender, receiver) => {
  it("round-trips without a dictionary", () => {
    fc.assert(
      fc.property(arbData, (data) => {
        const packed = sender.deflateRaw(data);
        expect(receiver.inflateRaw(packed, data.length)).toEqual(data);
      }),
      { numRuns: 150 },
    );
  });
  it("round-trips with a dictionary", () => {
    fc.assert(
      fc.property(arbData, arbDictionary, (data, dictionary) => {
        const packed = sender.deflateRaw(data, dictionary);
        expect(receiver.inflateRaw(packed, data.length, dictionary)).toEqual(data);
      }),
      { numRuns: 150 },
    );
  });
});

describe("deflaters", () => {
  it("the default on Node is zlib", () => {
    expect(defaultDeflater().name).toBe("zlib");
    expect(defaultDeflater()).toBe(defaultDeflater());
  });
  it.each([zlib, fflate].map((d) => [d.name, d] as const))(
    "%s rejects empty and oversized dictionaries with DF_ERR_INVALID_ARGUMENT",
    (_name, d) => {
      const data = new Uint8Array(10);
      expectCode(() => d.deflateRaw(data, new Uint8Array(0)), "DF_ERR_INVALID_ARGUMENT");
      expectCode(
        () => d.deflateRaw(data, new Uint8Array(MAX_DICTIONARY_BYTES + 1)),
        "DF_ERR_INVALID_ARGUMENT",
      );
      expectCode(
        () => d.inflateRaw(data, 10, new Uint8Array(MAX_DICTIONARY_BYTES + 1)),
        "DF_ERR_INVALID_ARGUMENT",
      );
      expect(
        d.inflateRaw(
          d.deflateRaw(data, new Uint8Array(MAX_DICTIONARY_BYTES)),
          10,
          new Uint8Array(MAX_DICTIONARY_BYTES),
        ),
      ).toEqual(data);
    },
  );
  it.each([zlib, fflate].map((d) => [d.name, d] as const))(
    "%s: a stream needing a dictionary fails without it",
    (_name, d) => {
      const dictionary = new TextEncoder().encode("abcdefghijklmnopqrstuvwxyz0123456789");
      const packed = d.deflateRaw(dictionary, dictionary);
      expectCode(() => d.inflateRaw(packed, dictionary.length), "DF_ERR_INFLATE_CORRUPT");
    },
  );
});
