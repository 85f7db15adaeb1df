import { create, toBinary } from "@bufbuild/protobuf";
import { DEFAULT_LIMITS } from "deltaframe";
import {
  createFflateDeflater,
  createZlibDeflater,
  type Deflater,
  decodeBatch,
  encodeBatch,
  encodeBatchEntry,
  encodeBatchFromEncodedFrames,
  encodeFrame,
  frameBatch,
  frameSingle,
  MARKER_SINGLE,
  unframeBatch,
} from "deltaframe/codec";
import {
  BatchSchema,
  type Frame,
  FrameSchema,
  HelloSchema,
  PingSchema,
  WelcomeSchema,
} from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { expectCode, hex, toHex } from "./helpers.js";

const ping = (id: number): Frame =>
  create(FrameSchema, {
    body: { case: "ping", value: create(PingSchema, { id, timeMs: 1_700_000_000_000n }) },
  });
const event = (payload: Uint8Array): Frame =>
  create(FrameSchema, {
    body: { case: "event", value: { $typeName: "deltaframe.v1.Event", alias: 1, offset: 7n, payload } },
  });
const hello = create(FrameSchema, {
  body: {
    case: "hello",
    value: create(HelloSchema, {
      versions: [1],
      credentials: new TextEncoder().encode("secret-token".repeat(40)),
    }),
  },
});
const welcome = create(FrameSchema, {
  body: {
    case: "welcome",
    value: create(WelcomeSchema, { version: 1, resumeToken: new Uint8Array(300).fill(7) }),
  },
});
/** A batch that deflate shrinks well: 600 bytes of repeated text. */
const big = event(new TextEncoder().encode("market 1234 selection 99 price 250 ".repeat(17)));
const zlib = createZlibDeflater();
const fflate = createFflateDeflater();
const deflaters: Array<[string, Deflater]> = [
  ["zlib", zlib],
  ["fflate", fflate],
];
const batchBytes = (frames: Frame[]) => toBinary(BatchSchema, create(BatchSchema, { frames }));

/** A compressed message built by hand: marker, header varints, raw deflate. */
function compressed(
  payload: Uint8Array,
  declared: number,
  dictionary?: { index: number; bytes: Uint8Array },
): Uint8Array {
  const deflated = zlib.deflateRaw(payload, dictionary?.bytes);
  const head =
    dictionary === undefined
      ? [1, ...varint(declared)]
      : [2, ...varint(dictionary.index), ...varint(declared)];
  return new Uint8Array([...head, ...deflated]);
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

describe("encodeBatch layout", () => {
  it("a plain message is marker 0x00 then the Batch bytes", () => {
    const message = encodeBatch([ping(1)]);
    expect(toHex(message)).toBe(`00${toHex(batchBytes([ping(1)]))}`);
    expect(toHex(message)).toBe("000a0b220908011080d095ffbc31");
  });
  it("a deflated message is marker 0x01, varint length, raw deflate", () => {
    const message = encodeBatch([big], { compress: true, deflater: zlib });
    const plain = batchBytes([big]);
    expect(message[0]).toBe(1);
    expect([...message.subarray(1, 3)]).toEqual(varint(plain.length));
    expect(message.length).toBeLessThan(plain.length / 4);
    expect(zlib.inflateRaw(message.subarray(3), plain.length)).toEqual(plain);
  });
  it("a dictionary message is marker 0x02, varint index, varint length, raw deflate", () => {
    const dict = { index: 3, bytes: new TextEncoder().encode("market 1234 selection 99 price 250 ") };
    const message = encodeBatch([big], { compress: true, dictionary: dict, deflater: zlib });
    const plain = batchBytes([big]);
    expect(message[0]).toBe(2);
    expect(message[1]).toBe(3);
    expect([...message.subarray(2, 4)]).toEqual(varint(plain.length));
    expect(zlib.inflateRaw(message.subarray(4), plain.length, dict.bytes)).toEqual(plain);
    expect(
      decodeBatch(message, { decompress: true, dictionaries: [undefined, undefined, dict.bytes] }),
    ).toHaveLength(1);
  });
  it("never compresses below the threshold: at the threshold compresses, one below does not", () => {
    const n = batchBytes([big]).length;
    expect(encodeBatch([big], { compress: true, compressThresholdBytes: n })[0]).toBe(1);
    expect(encodeBatch([big], { compress: true, compressThresholdBytes: n + 1 })[0]).toBe(0);
  });
  it("compresses nothing unless enabled", () => {
    expect(encodeBatch([big])[0]).toBe(0);
  });
  it("sends plain when deflate does not shrink, unless onlyIfSmaller is false", () => {
    const noise = event(new Uint8Array(400).map((_, i) => (i * 2654435761) >>> 24));
    expect(encodeBatch([noise], { compress: true })[0]).toBe(0);
    const forced = encodeBatch([noise], { compress: true, onlyIfSmaller: false });
    expect(forced[0]).toBe(1);
    expect(decodeBatch(forced, { decompress: true })).toHaveLength(1);
  });
  it("never compresses a batch holding a Hello or a Welcome", () => {
    for (const secret of [hello, welcome]) {
      expect(encodeBatchFromEncodedFrames([encodeFrame(secret)]).length).toBeGreaterThan(256);
      expect(encodeBatch([big, secret], { compress: true, compressThresholdBytes: 1 })[0]).toBe(0);
      expect(frameBatch(batchBytes([secret, big]), { compress: true })[0]).toBe(0);
    }
  });
  it("rejects an empty frame list and a bad dictionary index with DF_ERR_INVALID_ARGUMENT", () => {
    expectCode(() => encodeBatch([]), "DF_ERR_INVALID_ARGUMENT");
    expectCode(() => encodeBatchFromEncodedFrames([]), "DF_ERR_INVALID_ARGUMENT");
    expectCode(
      () => encodeBatch([big], { compress: true, dictionary: { index: 0, bytes: new Uint8Array(4) } }),
      "DF_ERR_INVALID_ARGUMENT",
    );
    expectCode(
      () => encodeBatch([big], { compress: true, dictionary: { index: 1, bytes: new Uint8Array(32_769) } }),
      "DF_ERR_INVALID_ARGUMENT",
    );
  });
  it("encodeBatchEntry is tag 0x0a, varint length, frame", () => {
    const f = encodeFrame(ping(2));
    expect(toHex(encodeBatchEntry(f))).toBe(`0a${f.length.toString(16).padStart(2, "0")}${toHex(f)}`);
  });
});

describe("single-frame messages (marker 0x03)", () => {
  it("carry one frame without the Batch wrapper: 2 bytes less here, the same frame back", () => {
    for (const f of [ping(7), big, hello]) {
      const bytes = encodeFrame(f);
      const single = frameSingle(bytes);
      expect(single[0]).toBe(MARKER_SINGLE);
      expect(single.subarray(1)).toEqual(bytes);
      expect(encodeBatch([f]).length - single.length).toBe(bytes.length < 128 ? 2 : 3);
      expect(decodeBatch(single)).toEqual(decodeBatch(encodeBatch([f])));
      // unframeBatch hands out the Batch the message stands for.
      expect(unframeBatch(single)).toEqual(encodeBatch([f]).subarray(1));
    }
  });

  it("are checked like any message: size first, then the frame's own checks", () => {
    const frame = encodeFrame(big);
    const single = frameSingle(frame);
    expectCode(
      () => decodeBatch(single, { limits: { maxMessageBytes: single.length - 1 } }),
      "DF_ERR_MESSAGE_TOO_LARGE",
    );
    expect(decodeBatch(single, { limits: { maxMessageBytes: single.length } })).toHaveLength(1);
    expectCode(() => decodeBatch(new Uint8Array([MARKER_SINGLE])), "DF_ERR_FRAME_EMPTY");
    expectCode(() => decodeBatch(frameSingle(frame.subarray(0, frame.length - 1))), "DF_ERR_DECODE");
    // A batch tag in place of a frame is not a frame: field 1 of Frame is a message, its bytes are checked.
    expectCode(() => decodeBatch(new Uint8Array([MARKER_SINGLE, 0xff, 0xff])), "DF_ERR_DECODE");
  });
});

describe("decodeBatch errors", () => {
  it("DF_ERR_MESSAGE_EMPTY for zero bytes", () => {
    expectCode(() => decodeBatch(new Uint8Array(0)), "DF_ERR_MESSAGE_EMPTY");
  });
  it("DF_ERR_MESSAGE_TOO_LARGE: checked first, at the limit and one past", () => {
    const message = encodeBatch([ping(1)]);
    expect(decodeBatch(message, { limits: { maxMessageBytes: message.length } })).toHaveLength(1);
    expectCode(
      () => decodeBatch(message, { limits: { maxMessageBytes: message.length - 1 } }),
      "DF_ERR_MESSAGE_TOO_LARGE",
    );
    // checked before the marker: an unknown marker too large is still "too large"
    const huge = new Uint8Array(DEFAULT_LIMITS.maxMessageBytes + 1).fill(0xff);
    expectCode(() => decodeBatch(huge), "DF_ERR_MESSAGE_TOO_LARGE");
    const atLimit = new Uint8Array(DEFAULT_LIMITS.maxMessageBytes).fill(0xff);
    expectCode(() => decodeBatch(atLimit), "DF_ERR_MARKER_UNKNOWN");
  });
  it("DF_ERR_MARKER_UNKNOWN for every marker but 0, 1, 2, 3", () => {
    for (let m = 4; m < 256; m++)
      expectCode(() => decodeBatch(new Uint8Array([m, 0x0a, 0x00])), "DF_ERR_MARKER_UNKNOWN");
  });
  it("DF_ERR_COMPRESSION_NOT_NEGOTIATED for a compressed marker without decompress", () => {
    const message = compressed(batchBytes([big]), batchBytes([big]).length);
    expectCode(() => decodeBatch(message), "DF_ERR_COMPRESSION_NOT_NEGOTIATED");
    expectCode(() => decodeBatch(new Uint8Array([2, 1, 1, 0])), "DF_ERR_COMPRESSION_NOT_NEGOTIATED");
    expectCode(
      () => decodeBatch(new Uint8Array([2, 1, 1, 0]), { decompress: true }),
      "DF_ERR_COMPRESSION_NOT_NEGOTIATED",
    );
  });
  it("DF_ERR_DICTIONARY_UNKNOWN for index 0, past the list, or a hole", () => {
    const dictionaries = [new Uint8Array(8).fill(1), undefined];
    const payload = batchBytes([big]);
    for (const index of [0, 2, 3, 1000]) {
      const message = new Uint8Array([2, ...varint(index), ...varint(payload.length), 0x03, 0x00]);
      expectCode(() => decodeBatch(message, { decompress: true, dictionaries }), "DF_ERR_DICTIONARY_UNKNOWN");
    }
  });
  it("DF_ERR_DECODE for a truncated or overlong header varint", () => {
    expectCode(() => decodeBatch(new Uint8Array([1]), { decompress: true }), "DF_ERR_DECODE");
    expectCode(() => decodeBatch(new Uint8Array([1, 0x80]), { decompress: true }), "DF_ERR_DECODE");
    expectCode(
      () => decodeBatch(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0]), { decompress: true }),
      "DF_ERR_DECODE",
    );
    expectCode(
      () => decodeBatch(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), { decompress: true }),
      "DF_ERR_DECODE",
    );
    expectCode(
      () => decodeBatch(new Uint8Array([2, 0x80]), { decompress: true, dictionaries: [new Uint8Array(1)] }),
      "DF_ERR_DECODE",
    );
  });
  it("DF_ERR_INFLATE_TOO_LARGE for a declared length past maxInflatedBytes, before inflating", () => {
    let calls = 0;
    const spy: Deflater = {
      ...zlib,
      name: "spy",
      inflateRaw: (...a) => {
        calls++;
        return zlib.inflateRaw(...a);
      },
    };
    const message = new Uint8Array([1, ...varint(DEFAULT_LIMITS.maxInflatedBytes + 1), 0x03, 0x00]);
    expectCode(() => decodeBatch(message, { decompress: true, deflater: spy }), "DF_ERR_INFLATE_TOO_LARGE");
    expect(calls).toBe(0);
  });
  it("maxInflatedBytes: a payload of exactly the limit inflates, one past is refused", () => {
    const payload = batchBytes([big]);
    const limits = { maxInflatedBytes: payload.length };
    expect(decodeBatch(compressed(payload, payload.length), { decompress: true, limits })).toHaveLength(1);
    const longer = batchBytes([big, ping(1)]);
    expectCode(
      () => decodeBatch(compressed(longer, longer.length), { decompress: true, limits }),
      "DF_ERR_INFLATE_TOO_LARGE",
    );
  });
  it.each(deflaters)(
    "DF_ERR_INFLATE_LENGTH_MISMATCH when the output is one byte off (%s)",
    (_name, deflater) => {
      const payload = batchBytes([big]);
      for (const declared of [payload.length - 1, payload.length + 1, 0]) {
        expectCode(
          () => decodeBatch(compressed(payload, declared), { decompress: true, deflater }),
          "DF_ERR_INFLATE_LENGTH_MISMATCH",
        );
      }
    },
  );
  it.each(deflaters)("DF_ERR_INFLATE_CORRUPT for invalid deflate (%s)", (_name, deflater) => {
    const payload = batchBytes([big]);
    const good = compressed(payload, payload.length);
    const cases = [
      new Uint8Array([1, 10]), // no data
      new Uint8Array([1, 10, 0xff, 0xff, 0xff]), // reserved block type
      good.subarray(0, good.length - 4), // truncated stream
      new Uint8Array([1, 5, 0x01, 0x05, 0x00, 0x00, 0x00]), // stored block with bad complement
    ];
    for (const message of cases) {
      expectCode(() => decodeBatch(message, { decompress: true, deflater }), "DF_ERR_INFLATE_CORRUPT");
    }
  });
  it("DF_ERR_FRAME_EMPTY for a batch with no frames", () => {
    expectCode(() => decodeBatch(new Uint8Array([0])), "DF_ERR_FRAME_EMPTY");
    expectCode(() => decodeBatch(hex("00 10 05")), "DF_ERR_FRAME_EMPTY");
    expectCode(
      () => decodeBatch(new Uint8Array([1, 0, 0x03, 0x00]), { decompress: true }),
      "DF_ERR_FRAME_EMPTY",
    );
    // a batch entry with an empty frame
    expectCode(() => decodeBatch(hex("00 0a 00")), "DF_ERR_FRAME_EMPTY");
  });
  it("DF_ERR_TOO_MANY_FRAMES: at maxFramesPerBatch and one past, counted before decoding", () => {
    const entry = encodeBatchEntry(encodeFrame(ping(1)));
    const many = (n: number) => {
      const out = new Uint8Array(1 + n * entry.length);
      for (let i = 0; i < n; i++) out.set(entry, 1 + i * entry.length);
      return out;
    };
    const max = DEFAULT_LIMITS.maxFramesPerBatch;
    expect(decodeBatch(many(max))).toHaveLength(max);
    expectCode(() => decodeBatch(many(max + 1)), "DF_ERR_TOO_MANY_FRAMES");
    // empty entries are counted too (each would fail later as an empty frame)
    const empties = new Uint8Array(1 + 2 * (max + 1)).map((_, i) => (i % 2 === 1 ? 0x0a : 0));
    expectCode(() => decodeBatch(empties), "DF_ERR_TOO_MANY_FRAMES");
  });
  it("DF_ERR_DECODE for malformed Batch bytes", () => {
    expectCode(() => decodeBatch(hex("00 0a 05 22 03")), "DF_ERR_DECODE");
    expectCode(() => decodeBatch(hex("00 0a")), "DF_ERR_DECODE");
  });
  it("DF_ERR_FRAME_INVALID for a compressed Hello or Welcome", () => {
    for (const secret of [hello, welcome]) {
      const payload = batchBytes([secret]);
      expectCode(
        () => decodeBatch(compressed(payload, payload.length), { decompress: true }),
        "DF_ERR_FRAME_INVALID",
      );
      expect(decodeBatch(encodeBatch([secret]))).toHaveLength(1);
    }
  });
  it("unframeBatch returns the Batch bytes of plain and compressed messages", () => {
    const payload = batchBytes([big]);
    expect(unframeBatch(encodeBatch([big]))).toEqual(payload);
    expect(unframeBatch(compressed(payload, payload.length), { decompress: true })).toEqual(payload);
  });
});
