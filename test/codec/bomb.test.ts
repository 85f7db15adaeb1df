import * as zlib from "node:zlib";
import { DEFAULT_LIMITS } from "deltaframe";
import { createFflateDeflater, createZlibDeflater, type Deflater, decodeBatch } from "deltaframe/codec";
import { describe, expect, it } from "vitest";
import { expectCode } from "./helpers.js";

/**
 * A raw deflate stream of `mib` MiB of zeros: independent 4 MiB chunks
 * (full flush, about 4 KiB each) repeated, then an empty final block.
 */
function zeroBomb(mib: number): Uint8Array {
  const chunk = zlib.deflateRawSync(Buffer.alloc(4 << 20), {
    level: 9,
    finishFlush: zlib.constants.Z_FULL_FLUSH,
  });
  const parts: Buffer[] = [];
  for (let i = 0; i < mib / 4; i++) parts.push(chunk);
  parts.push(Buffer.from([0x03, 0x00]));
  const out = Buffer.concat(parts);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const message = (declared: number, data: Uint8Array) => new Uint8Array([1, ...varint(declared), ...data]);

/** Wraps a deflater, recording the declared lengths it is asked for. */
function spy(inner: Deflater): Deflater & { asked: number[] } {
  const asked: number[] = [];
  return {
    name: inner.name,
    asked,
    deflateRaw: (data, dict) => inner.deflateRaw(data, dict),
    inflateRaw(data, declared, dict) {
      asked.push(declared);
      return inner.inflateRaw(data, declared, dict);
    },
  };
}

/** Peak resident memory of this process, in bytes. */
const peakRss = () => process.resourceUsage().maxRSS * 1024;

// Runs first in this file so that the peak-memory measure starts low.
describe("decompression bombs", () => {
  // 1 GiB of zeros in just under 1 MiB of deflate: fits in maxMessageBytes.
  const gib = zeroBomb(1024);

  it("the 1 GiB bomb fits in one message", () => {
    expect(gib.length).toBeLessThan(DEFAULT_LIMITS.maxMessageBytes - 8);
  });

  it("zlib stops at the declared length: 1 GiB declared as maxInflatedBytes, peak memory grows < 64 MiB", () => {
    const deflater = spy(createZlibDeflater());
    const before = peakRss();
    expectCode(
      () => decodeBatch(message(DEFAULT_LIMITS.maxInflatedBytes, gib), { decompress: true, deflater }),
      "DF_ERR_INFLATE_LENGTH_MISMATCH",
    );
    expect(peakRss() - before).toBeLessThan(64 << 20);
    expect(deflater.asked).toEqual([DEFAULT_LIMITS.maxInflatedBytes]);
  });

  it("zlib: a small lying length stops at that length", () => {
    const deflater = spy(createZlibDeflater());
    const before = peakRss();
    expectCode(
      () => decodeBatch(message(1000, gib), { decompress: true, deflater }),
      "DF_ERR_INFLATE_LENGTH_MISMATCH",
    );
    expect(peakRss() - before).toBeLessThan(64 << 20);
    expect(deflater.asked).toEqual([1000]);
  });

  it("a huge declared length is refused before inflating (DF_ERR_INFLATE_TOO_LARGE)", () => {
    for (const inner of [createZlibDeflater(), createFflateDeflater()]) {
      const deflater = spy(inner);
      expectCode(
        () => decodeBatch(message(0xffff_ffff, gib), { decompress: true, deflater }),
        "DF_ERR_INFLATE_TOO_LARGE",
      );
      expectCode(
        () => decodeBatch(message(DEFAULT_LIMITS.maxInflatedBytes + 1, gib), { decompress: true, deflater }),
        "DF_ERR_INFLATE_TOO_LARGE",
      );
      expect(deflater.asked).toEqual([]);
    }
  });

  it("fflate refuses input whose worst-case output exceeds maxWorkBytes, before inflating", () => {
    const before = peakRss();
    expectCode(
      () => decodeBatch(message(1000, gib), { decompress: true, deflater: createFflateDeflater() }),
      "DF_ERR_INFLATE_TOO_LARGE",
    );
    expect(peakRss() - before).toBeLessThan(64 << 20);
    // at the bound and one past: maxWorkBytes / 1032 input bytes
    const small = zeroBomb(8); // 8 MiB of zeros in about 8 KiB
    const exact = createFflateDeflater({ maxWorkBytes: small.length * 1032 });
    expectCode(() => exact.inflateRaw(small, 1000), "DF_ERR_INFLATE_LENGTH_MISMATCH");
    const under = createFflateDeflater({ maxWorkBytes: small.length * 1032 - 1 });
    expectCode(() => under.inflateRaw(small, 1000), "DF_ERR_INFLATE_TOO_LARGE");
  });

  it("fflate: a lying length within its work bound is caught by the exact length check", () => {
    const bomb = zeroBomb(8);
    const deflater = spy(createFflateDeflater());
    expectCode(
      () => decodeBatch(message(1000, bomb), { decompress: true, deflater }),
      "DF_ERR_INFLATE_LENGTH_MISMATCH",
    );
    expectCode(
      () => decodeBatch(message(DEFAULT_LIMITS.maxInflatedBytes, bomb), { decompress: true, deflater }),
      "DF_ERR_INFLATE_LENGTH_MISMATCH",
    );
    expect(deflater.asked).toEqual([1000, DEFAULT_LIMITS.maxInflatedBytes]);
  });
});
