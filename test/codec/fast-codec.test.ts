/**
 * Examples for the hand-written hot-frame codec (src/codec/fast-*.ts): which
 * inputs it reads itself, and that malformed input gives the same typed
 * errors as the protobuf-es reference path. The differential properties are
 * in fast-codec.prop.test.ts.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { decodeBatch, decodeFrame, encodeFrame } from "deltaframe/codec";
import { type Frame, FrameSchema, HelloSchema, SnapshotEndSchema, UpdatesSchema } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { readBatchFrames, readHotFrame } from "../../src/codec/fast-read.js";
import { writeHotFrame } from "../../src/codec/fast-write.js";
import { expectCode, hex } from "./helpers.js";

function reference(bytes: Uint8Array, maxDepth = 32): string {
  try {
    fromBinary(FrameSchema, bytes, { readUnknownFields: false, recursionLimit: maxDepth });
    return "ok";
  } catch (error) {
    return /recursion depth/.test(String(error)) ? "DF_ERR_DEPTH" : "DF_ERR_DECODE";
  }
}

describe("fast reader on malformed and unusual frames", () => {
  // [bytes, outcome of decodeFrame, whether the fast reader reads it itself]
  const cases: Array<[string, string, boolean, string]> = [
    ["0a", "DF_ERR_DECODE", false, "body field without its length"],
    ["0a05", "DF_ERR_DECODE", false, "body runs past the end"],
    ["0a020880", "DF_ERR_DECODE", false, "varint truncated inside the body"],
    [`0a0c08${"ff".repeat(10)}01`, "DF_ERR_DECODE", false, "11-byte varint"],
    [`0a0b08${"ff".repeat(9)}01`, "ok", true, "10-byte varint: a uint32 keeps its low 32 bits"],
    ["0a020f00", "DF_ERR_DECODE", false, "wire type 7"],
    ["0a020c00", "ok", false, "a known field with wire type 4: protobuf-es reads it as its own type"],
    ["0a045b5c0000", "DF_ERR_DECODE", false, "unknown group skipped, then field 0"],
    ["0a025b64", "DF_ERR_DECODE", false, "group 11 closed by end group 12"],
    ["0a015b", "DF_ERR_DECODE", false, "group never closed"],
    ["0a00a301", "DF_ERR_DECODE", false, "frame-level group never closed"],
    ["0a00a301a401", "ok", true, "frame-level group skipped"],
    ["0a045b0b0c5c", "ok", true, "nested groups skipped"],
    ["0a0d5d000000005900000000000000", "DF_ERR_DECODE", false, "fixed32 skipped, fixed64 truncated"],
    ["0a0e5d00000000590000000000000000", "ok", true, "fixed32 and fixed64 skipped"],
    ["0a07888080808001", "DF_ERR_DECODE", false, "6-byte tag"],
    ["0a06888080800000", "ok", true, "5-byte tag"],
    ["0a00", "ok", true, "empty updates"],
    ["", "DF_ERR_FRAME_EMPTY", false, "no body"],
    ["a30100a401", "DF_ERR_DECODE", false, "group holding field 0"],
    ["a3010800a401", "DF_ERR_FRAME_EMPTY", false, "only a skipped group"],
    ["0a001200", "ok", false, "two body fields: the last one, an empty event, wins"],
    ["0a020801", "ok", true, "alias 1"],
    ["0a0208010a021002", "ok", false, "updates twice: protobuf-es merges"],
    [
      "0a041a02ff01",
      "DF_ERR_FRAME_INVALID",
      true,
      "a packed run ending inside a varint is read, then validated",
    ],
    ["0a041a018001", "DF_ERR_FRAME_INVALID", false, "a packed run whose last varint crosses its end"],
  ];
  it.each(cases)("%s → %s (fast path %s): %s", (h, code, fast) => {
    const bytes = hex(h);
    const ref = reference(bytes);
    if (code === "DF_ERR_DECODE") expect(ref).toBe("DF_ERR_DECODE");
    expect(readHotFrame(bytes, 0, bytes.length, 32) !== undefined).toBe(fast);
    if (code === "ok") expect(decodeFrame(bytes).body.case).toBeDefined();
    else expectCode(() => decodeFrame(bytes), code as "DF_ERR_DECODE");
  });

  it("leaves frames to the reference below the depth the hot frames need, with its DF_ERR_DEPTH", () => {
    const bytes = encodeFrame(
      create(FrameSchema, {
        body: {
          case: "updates",
          value: create(UpdatesSchema, { alias: 1, bindings: [{ keyId: 1, key: "k" }] }),
        },
      }),
    );
    expect(readHotFrame(bytes, 0, bytes.length, 2)).toBeUndefined();
    expectCode(() => decodeFrame(bytes, { limits: { maxDepth: 2 } }), "DF_ERR_DEPTH");
    expect(readHotFrame(bytes, 0, bytes.length, 3)).toBeDefined();
    expect(decodeFrame(bytes, { limits: { maxDepth: 3 } }).body.case).toBe("updates");
  });

  it("skips groups only within the reference's nesting budget", () => {
    // An unknown group inside Updates (depth 2) nested 30 deep: budget maxDepth − 2.
    const nested = (n: number) => hex(`${"5b".repeat(n)}${"5c".repeat(n)}`);
    for (const [n, maxDepth, ok] of [
      [30, 32, true],
      [31, 32, false],
    ] as const) {
      const body = nested(n);
      const bytes = new Uint8Array([0x0a, body.length, ...body]);
      expect(reference(bytes, maxDepth)).toBe(ok ? "ok" : "DF_ERR_DEPTH");
      expect(readHotFrame(bytes, 0, bytes.length, maxDepth) !== undefined).toBe(ok);
      if (ok) expect(decodeFrame(bytes).body.case).toBe("updates");
      else expectCode(() => decodeFrame(bytes), "DF_ERR_DEPTH");
    }
  });

  it("a group nested deeper than the stack under an unlimited maxDepth is a DF_ERR_DECODE, not a crash", () => {
    const n = 200_000;
    const body = new Uint8Array(2 * n).fill(0x5b, 0, n).fill(0x5c, n);
    const bytes = new Uint8Array([0x0a, 0x80, 0xb5, 0x18, ...body]);
    expect(bytes.length).toBe(4 + 2 * n);
    expect(reference(bytes, Number.POSITIVE_INFINITY)).toBe("DF_ERR_DECODE");
    expectCode(() => decodeFrame(bytes, { limits: { maxDepth: Number.POSITIVE_INFINITY } }), "DF_ERR_DECODE");
  });
});

describe("which frames take the fast paths", () => {
  const hot: Frame = create(FrameSchema, {
    body: {
      case: "updates",
      value: create(UpdatesSchema, { alias: 3, keyIds: [1], sizes: [16], bodies: hex("01020304") }),
    },
  });
  const cold: Frame = create(FrameSchema, {
    body: { case: "snapshotEnd", value: create(SnapshotEndSchema, { alias: 3, offset: 9n }) },
  });
  const hello: Frame = create(FrameSchema, {
    body: { case: "hello", value: create(HelloSchema, { versions: [1] }) },
  });

  it("hot frames are written and read by hand, others by protobuf-es, with the same bytes", () => {
    expect(writeHotFrame(hot)).toEqual(toBinary(FrameSchema, hot));
    expect(writeHotFrame(hot)).toEqual(hex("0a0e0803 1a0101 220110 2a0401020304"));
    expect(writeHotFrame(cold)).toBeUndefined();
    expect(encodeFrame(cold)).toEqual(toBinary(FrameSchema, cold));
    const bytes = encodeFrame(hot);
    expect(readHotFrame(bytes, 0, bytes.length, 32)).toEqual(decodeFrame(bytes));
    const coldBytes = encodeFrame(cold);
    expect(readHotFrame(coldBytes, 0, coldBytes.length, 32)).toBeUndefined();
  });

  it("decoded bytes fields are views into the input, as with fromBinary", () => {
    const bytes = encodeFrame(hot);
    const frame = decodeFrame(bytes);
    const bodies = (frame.body.value as { bodies: Uint8Array }).bodies;
    expect(bodies.buffer).toBe(bytes.buffer);
    expect(bodies.byteOffset).toBe(bytes.byteOffset + bytes.length - 4);
  });

  it("a batch is read entry by entry, hot entries by hand and others by protobuf-es", () => {
    const entries = [hot, cold, hello, hot].map(encodeFrame);
    const batch = new Uint8Array(entries.reduce((n, e) => n + 2 + e.length, 0));
    let at = 0;
    for (const e of entries) {
      batch.set([0x0a, e.length], at);
      batch.set(e, at + 2);
      at += 2 + e.length;
    }
    const frames = readBatchFrames(batch, 32);
    expect(frames?.map((f) => f.body.case)).toEqual(["updates", "snapshotEnd", "hello", "updates"]);
    expect(decodeBatch(new Uint8Array([0, ...batch]))).toEqual(frames);
    // A frames field with another wire type, or a group at the top level: the whole batch goes to the reference.
    expect(readBatchFrames(hex("0800"), 32)).toBeUndefined();
    expect(readBatchFrames(hex("1b1c0a00"), 32)?.length).toBe(1);
    expect(readBatchFrames(hex("1b0a00"), 32)).toBeUndefined();
  });
});
