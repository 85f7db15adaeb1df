import { create } from "@bufbuild/protobuf";
import {
  createFflateDeflater,
  decodeBatch,
  dictionaryId,
  encodeBatch,
  encodeFrame,
  MAX_DICTIONARY_BYTES,
  trainDictionary,
} from "deltaframe/codec";
import { EventSchema, type Frame, FrameSchema } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { expectCode, toHex } from "./helpers.js";

const enc = new TextEncoder();
const statuses = ["open", "suspended", "closed", "settled"];
const reasons = ["goal", "red card", "var review", "penalty", "half time"];

/** A deterministic small event frame, like an odds feed's lossless lane. */
function sampleEvent(i: number): Frame {
  const payload = enc.encode(
    JSON.stringify({
      market: 100_000 + ((i * 7919) % 200),
      status: statuses[i % statuses.length],
      reason: reasons[(i * 3) % reasons.length],
      at: 1_733_000_000_000 + i * 4817,
    }),
  );
  return create(FrameSchema, {
    body: { case: "event", value: create(EventSchema, { alias: 3, offset: BigInt(50_000 + i), payload }) },
  });
}

describe("dictionaryId", () => {
  it("is the first 8 bytes of SHA-256", async () => {
    expect(toHex(await dictionaryId(new Uint8Array(0)))).toBe("e3b0c44298fc1c14");
    expect(toHex(await dictionaryId(enc.encode("abc")))).toBe("ba7816bf8f01cfea");
    expect((await dictionaryId(new Uint8Array(100))).length).toBe(8);
  });
});

describe("trainDictionary", () => {
  const training = Array.from({ length: 200 }, (_, i) => encodeFrame(sampleEvent(i)));
  it("is deterministic and within maxBytes", () => {
    const a = trainDictionary(training, 1024);
    expect(a).toEqual(trainDictionary(training, 1024));
    expect(a.length).toBeLessThanOrEqual(1024);
    expect(a.length).toBeGreaterThan(100);
    expect(trainDictionary(training, 16).length).toBeLessThanOrEqual(16);
  });
  it("rejects maxBytes outside 1…32768 with DF_ERR_INVALID_ARGUMENT", () => {
    for (const max of [0, -1, 1.5, MAX_DICTIONARY_BYTES + 1]) {
      expectCode(() => trainDictionary(training, max), "DF_ERR_INVALID_ARGUMENT");
    }
    expect(trainDictionary(training, MAX_DICTIONARY_BYTES).length).toBeLessThanOrEqual(MAX_DICTIONARY_BYTES);
  });
  it("returns an empty dictionary when nothing repeats", () => {
    expect(trainDictionary([new Uint8Array([1, 2, 3])], 100).length).toBe(0);
  });

  it("a trained dictionary shrinks small frames (fflate, exact byte counts)", () => {
    const dictionary = trainDictionary(training, 2048);
    const deflater = createFflateDeflater();
    const fresh = Array.from({ length: 50 }, (_, i) => sampleEvent(1000 + i));
    let plain = 0;
    let deflated = 0;
    let withDictionary = 0;
    for (const frame of fresh) {
      const opts = { compress: true, compressThresholdBytes: 1, onlyIfSmaller: false, deflater };
      const p = encodeBatch([frame]);
      const d = encodeBatch([frame], opts);
      const w = encodeBatch([frame], { ...opts, dictionary: { index: 1, bytes: dictionary } });
      expect(decodeBatch(w, { decompress: true, dictionaries: [dictionary], deflater })[0]).toEqual(frame);
      plain += p.length;
      deflated += d.length;
      withDictionary += w.length;
    }
    // 50 event frames of about 100 bytes: deflate alone saves 2 %, the dictionary 60 %.
    expect({ plain, deflated, withDictionary }).toEqual({
      plain: 4355,
      deflated: 4258,
      withDictionary: 1743,
    });
  });
});
