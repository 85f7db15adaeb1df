import { create } from "@bufbuild/protobuf";
import { DEFAULT_LIMITS } from "deltaframe";
import { decodeFrame, encodeFrame, validateFrame } from "deltaframe/codec";
import {
  CloseSchema,
  type Frame,
  FrameSchema,
  HelloSchema,
  ResyncSchema,
  SlowPolicy,
  SnapshotBeginSchema,
  SnapshotChunkSchema,
  SnapshotEntrySchema,
  SubscribedSchema,
  SubscribeSchema,
  SyncMode,
  UnsubscribeSchema,
  type Updates,
  UpdatesSchema,
} from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { expectCode, hex, toHex } from "./helpers.js";

const frame = (body: Frame["body"]) => create(FrameSchema, { body });

/** A valid updates frame: two updates, a full value of 3 bytes and a patch of 2 bytes. */
function updates(patch: Omit<Partial<Updates>, "$typeName" | "$unknown"> = {}): Frame {
  return frame({
    case: "updates",
    value: create(UpdatesSchema, {
      alias: 1,
      firstOffset: 10n,
      keyIds: [1, 2],
      sizes: [(3 << 2) | 0, (2 << 2) | 1],
      bodies: new Uint8Array([1, 2, 3, 4, 5]),
      ...patch,
    }),
  });
}

/** Nested unknown groups (field 100) around nothing, `count` deep. */
function nestedGroups(count: number): Uint8Array {
  const start = [0xa3, 0x06];
  const end = [0xa4, 0x06];
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(...start);
  for (let i = 0; i < count; i++) out.push(...end);
  return new Uint8Array(out);
}

describe("encodeFrame", () => {
  it("encodes a small update frame in 18 bytes", () => {
    const f = frame({
      case: "updates",
      value: create(UpdatesSchema, {
        alias: 1,
        firstOffset: 1000n,
        keyIds: [7],
        sizes: [(3 << 2) | 1],
        bodies: new Uint8Array([8, 2, 16]),
      }),
    });
    expect(toHex(encodeFrame(f))).toBe("0a10080110e8071a010722010d2a03080210");
  });
  it("encodes an ack in 7 bytes", () => {
    const f = frame({
      case: "ack",
      value: {
        $typeName: "deltaframe.v1.Ack",
        messages: 100n,
        bytes: 5000n,
        windowMessages: 0,
        windowBytes: 0,
      },
    });
    expect(encodeFrame(f).length).toBe(7);
  });
});

describe("decodeFrame: malformed protobuf", () => {
  it("rejects truncated input with DF_ERR_DECODE", () => {
    const bytes = encodeFrame(updates());
    for (let n = 1; n < bytes.length; n++)
      expectCode(() => decodeFrame(bytes.subarray(0, n)), "DF_ERR_DECODE");
  });
  it("rejects a varint longer than 10 bytes with DF_ERR_DECODE", () => {
    expectCode(() => decodeFrame(hex("0a ff ff ff ff ff ff ff ff ff ff 01")), "DF_ERR_DECODE");
  });
  it("rejects a tag overflowing uint32 with DF_ERR_DECODE", () => {
    expectCode(() => decodeFrame(hex("ff ff ff ff 7f 00")), "DF_ERR_DECODE");
  });
  it("rejects wire types 6 and 7 with DF_ERR_DECODE", () => {
    expectCode(() => decodeFrame(hex("0e 00")), "DF_ERR_DECODE");
    expectCode(() => decodeFrame(hex("0f 00")), "DF_ERR_DECODE");
  });
  it("rejects field number 0 with DF_ERR_DECODE", () => {
    expectCode(() => decodeFrame(hex("02 00")), "DF_ERR_DECODE");
  });
  it("rejects invalid UTF-8 in a string with DF_ERR_DECODE", () => {
    // Frame.subscribe { stream: 0xff }
    expectCode(() => decodeFrame(hex("32 03 0a 01 ff")), "DF_ERR_DECODE");
    // overlong encoding of "/" and a lone surrogate
    expectCode(() => decodeFrame(hex("32 04 0a 02 c0 af")), "DF_ERR_DECODE");
    expectCode(() => decodeFrame(hex("32 05 0a 03 ed a0 80")), "DF_ERR_DECODE");
    expect(decodeFrame(hex("32 04 0a 02 c3 a9")).body.value).toMatchObject({ stream: "é" });
  });
  it("rejects an unmatched end group with DF_ERR_DECODE", () => {
    expectCode(() => decodeFrame(hex("a3 06 ac 06")), "DF_ERR_DECODE");
  });
});

describe("decodeFrame: depth", () => {
  const ping = encodeFrame(
    frame({ case: "ping", value: { $typeName: "deltaframe.v1.Ping", id: 1, timeMs: 2n } }),
  );
  const withGroups = (n: number) => new Uint8Array([...ping, ...nestedGroups(n)]);
  it("accepts nesting at maxDepth (frame = depth 1) and rejects one past with DF_ERR_DEPTH", () => {
    expect(decodeFrame(withGroups(DEFAULT_LIMITS.maxDepth - 1)).body.case).toBe("ping");
    expectCode(() => decodeFrame(withGroups(DEFAULT_LIMITS.maxDepth)), "DF_ERR_DEPTH");
  });
  it("counts real nesting: a snapshot chunk entry is depth 3", () => {
    const chunk = encodeFrame(
      frame({
        case: "snapshotChunk",
        value: create(SnapshotChunkSchema, {
          alias: 1,
          entries: [create(SnapshotEntrySchema, { key: "k" })],
        }),
      }),
    );
    expect(decodeFrame(chunk, { limits: { maxDepth: 3 } }).body.case).toBe("snapshotChunk");
    expectCode(() => decodeFrame(chunk, { limits: { maxDepth: 2 } }), "DF_ERR_DEPTH");
  });
});

describe("decodeFrame: trust boundary", () => {
  it("drops unknown fields", () => {
    const bytes = new Uint8Array([...encodeFrame(updates()), 0xa0, 0x06, 0x05]);
    const back = decodeFrame(bytes);
    expect(back.$unknown).toBeUndefined();
    expect(encodeFrame(back)).toEqual(encodeFrame(updates()));
  });
  it("rejects a frame with no body with DF_ERR_FRAME_EMPTY", () => {
    expectCode(() => decodeFrame(new Uint8Array(0)), "DF_ERR_FRAME_EMPTY");
    expectCode(() => decodeFrame(hex("a0 06 05")), "DF_ERR_FRAME_EMPTY");
  });
  it("checks maxMessageBytes before decoding: at the limit and one past", () => {
    const bytes = encodeFrame(updates());
    expect(decodeFrame(bytes, { limits: { maxMessageBytes: bytes.length } }).body.case).toBe("updates");
    expectCode(
      () => decodeFrame(bytes, { limits: { maxMessageBytes: bytes.length - 1 } }),
      "DF_ERR_MESSAGE_TOO_LARGE",
    );
  });
});

describe("validateFrame: Updates columns", () => {
  const bad: Array<[string, Omit<Partial<Updates>, "$typeName" | "$unknown">]> = [
    ["sizes shorter than key_ids", { sizes: [3 << 2], bodies: new Uint8Array(3) }],
    ["sizes longer than key_ids", { keyIds: [1] }],
    ["bodies longer than the sizes", { bodies: new Uint8Array(6) }],
    ["bodies shorter than the sizes", { bodies: new Uint8Array(4) }],
    ["reserved kind 3", { sizes: [(3 << 2) | 3, (2 << 2) | 1] }],
    ["a removal with a body", { sizes: [(3 << 2) | 2, (2 << 2) | 1] }],
    ["steps of the wrong length", { steps: [1n, 1n] }],
    ["a step of 0", { steps: [0n] }],
    ["base_gaps of the wrong length", { baseGaps: [0n] }],
    ["a base gap on a full value", { baseGaps: [1n, 1n] }],
    ["a zero base gap on a patch", { baseGaps: [0n, 0n] }],
    ["hashes of the wrong length", { hashes: [1n] }],
    ["offsets overflowing uint64", { firstOffset: (1n << 64n) - 1n }],
    ["steps overflowing uint64", { firstOffset: 1n << 63n, steps: [1n << 63n] }],
  ];
  it.each(bad)("rejects %s with DF_ERR_FRAME_INVALID", (_name, patch) => {
    const bytes = encodeFrame(updates(patch));
    expectCode(() => decodeFrame(bytes), "DF_ERR_FRAME_INVALID");
  });
  it("accepts the optional columns when consistent", () => {
    const f = updates({ steps: [5n], baseGaps: [0n, 3n], hashes: [1n, 2n] });
    expect(decodeFrame(encodeFrame(f)).body.case).toBe("updates");
    const removal = updates({ keyIds: [1], sizes: [2], bodies: new Uint8Array(0) });
    expect(decodeFrame(encodeFrame(removal)).body.case).toBe("updates");
    const bindingsOnly = updates({ keyIds: [], sizes: [], bodies: new Uint8Array(0) });
    expect(decodeFrame(encodeFrame(bindingsOnly)).body.case).toBe("updates");
  });
  it("accepts the largest offsets that fit in uint64", () => {
    const f = updates({ firstOffset: (1n << 64n) - 2n });
    expect(decodeFrame(encodeFrame(f)).body.case).toBe("updates");
  });
});

describe("validateFrame: other rules", () => {
  const invalid: Array<[string, Frame]> = [
    [
      "an unknown slow policy",
      frame({ case: "subscribe", value: create(SubscribeSchema, { stream: "s", policy: 9 as SlowPolicy }) }),
    ],
    ["an empty stream name", frame({ case: "subscribe", value: create(SubscribeSchema, { stream: "" }) })],
    [
      "a stream name over 256 bytes",
      frame({ case: "subscribe", value: create(SubscribeSchema, { stream: "s".repeat(257) }) }),
    ],
    [
      "subscribed without a mode",
      frame({
        case: "subscribed",
        value: create(SubscribedSchema, { stream: "s", policy: SlowPolicy.CONFLATE }),
      }),
    ],
    [
      "subscribed without a policy",
      frame({
        case: "subscribed",
        value: create(SubscribedSchema, { stream: "s", mode: SyncMode.SNAPSHOT }),
      }),
    ],
    [
      "a snapshot begin without a mode",
      frame({ case: "snapshotBegin", value: create(SnapshotBeginSchema, {}) }),
    ],
    [
      "a close reason over 123 bytes",
      frame({ case: "close", value: create(CloseSchema, { code: 1000, reason: "é".repeat(62) }) }),
    ],
    [
      "an unsubscribe reason over 123 bytes",
      frame({ case: "unsubscribe", value: create(UnsubscribeSchema, { reason: "x".repeat(124) }) }),
    ],
    [
      "an agent over 64 bytes",
      frame({ case: "hello", value: create(HelloSchema, { agent: "a".repeat(65) }) }),
    ],
    [
      "a dictionary id of 7 bytes",
      frame({ case: "hello", value: create(HelloSchema, { dictionaries: [new Uint8Array(7)] }) }),
    ],
  ];
  it.each(invalid)("rejects %s with DF_ERR_FRAME_INVALID", (_name, f) => {
    expectCode(() => decodeFrame(encodeFrame(f)), "DF_ERR_FRAME_INVALID");
    expectCode(() => validateFrame(f), "DF_ERR_FRAME_INVALID");
  });
  it("accepts per-field bounds exactly", () => {
    const ok = [
      frame({ case: "subscribe", value: create(SubscribeSchema, { stream: "s".repeat(256) }) }),
      frame({ case: "close", value: create(CloseSchema, { reason: "x".repeat(123) }) }),
      frame({
        case: "hello",
        value: create(HelloSchema, { agent: "a".repeat(64), dictionaries: [new Uint8Array(8)] }),
      }),
      frame({ case: "resync", value: create(ResyncSchema, { keys: ["a"], reason: 1 }) }),
    ];
    for (const f of ok) expect(decodeFrame(encodeFrame(f)).body.case).toBe(f.body.case);
  });
});
