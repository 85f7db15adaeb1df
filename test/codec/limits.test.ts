import { create } from "@bufbuild/protobuf";
import { DEFAULT_LIMITS } from "deltaframe";
import { decodeBatch, decodeFrame, encodeBatch, encodeFrame, validateFrame } from "deltaframe/codec";
import {
  EventSchema,
  type Frame,
  FrameSchema,
  HelloSchema,
  ResyncSchema,
  SnapshotChunkSchema,
  SnapshotEntrySchema,
  UpdatesSchema,
} from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { expectCode } from "./helpers.js";

const frame = (body: Frame["body"]) => create(FrameSchema, { body });
const resyncKeys = (keys: string[]) =>
  frame({ case: "resync", value: create(ResyncSchema, { alias: 1, keys, reason: 1 }) });
const event = (n: number) =>
  frame({ case: "event", value: create(EventSchema, { alias: 1, payload: new Uint8Array(n) }) });
/** Decodes through both entry points (the frame alone and inside a plain message). */
function roundTrip(f: Frame, limits = {}): void {
  const big = { maxMessageBytes: 8 << 20, ...limits };
  expect(decodeFrame(encodeFrame(f), { limits: big }).body.case).toBe(f.body.case);
  expect(decodeBatch(encodeBatch([f]), { limits: big })).toHaveLength(1);
}
function rejects(f: Frame, code: Parameters<typeof expectCode>[1], limits = {}): void {
  const big = { maxMessageBytes: 8 << 20, ...limits };
  expectCode(() => decodeFrame(encodeFrame(f), { limits: big }), code);
  expectCode(() => decodeBatch(encodeBatch([f]), { limits: big }), code);
  expectCode(() => validateFrame(f, big), code);
}

describe("maxStringBytes (UTF-8 bytes)", () => {
  const max = DEFAULT_LIMITS.maxStringBytes;
  it("default: a key of exactly 4096 ASCII bytes passes, 4097 fails", () => {
    roundTrip(resyncKeys(["k".repeat(max)]));
    rejects(resyncKeys(["k".repeat(max + 1)]), "DF_ERR_STRING_TOO_LONG");
  });
  it("counts UTF-8 bytes, not UTF-16 units: 2-, 3- and 4-byte characters", () => {
    roundTrip(resyncKeys(["é".repeat(max / 2)]));
    rejects(resyncKeys([`${"é".repeat(max / 2)}x`]), "DF_ERR_STRING_TOO_LONG");
    roundTrip(resyncKeys(["€".repeat(Math.floor(max / 3))]));
    rejects(resyncKeys(["€".repeat(Math.floor(max / 3) + 1)]), "DF_ERR_STRING_TOO_LONG");
    roundTrip(resyncKeys(["😀".repeat(max / 4)]));
    rejects(resyncKeys([`${"😀".repeat(max / 4)}x`]), "DF_ERR_STRING_TOO_LONG");
  });
  it("custom: applies to nested strings (snapshot entry keys, key bindings)", () => {
    const chunk = (key: string) =>
      frame({
        case: "snapshotChunk",
        value: create(SnapshotChunkSchema, { entries: [create(SnapshotEntrySchema, { key })] }),
      });
    roundTrip(chunk("x".repeat(10)), { maxStringBytes: 10 });
    rejects(chunk("x".repeat(11)), "DF_ERR_STRING_TOO_LONG", { maxStringBytes: 10 });
    const binding = (key: string) =>
      frame({
        case: "updates",
        value: create(UpdatesSchema, {
          bindings: [{ $typeName: "deltaframe.v1.KeyBinding", keyId: 1, key }],
        }),
      });
    roundTrip(binding("y".repeat(10)), { maxStringBytes: 10 });
    rejects(binding("y".repeat(11)), "DF_ERR_STRING_TOO_LONG", { maxStringBytes: 10 });
  });
});

describe("maxBytesFieldBytes", () => {
  const max = DEFAULT_LIMITS.maxBytesFieldBytes;
  it("default: an event payload of exactly 1 MiB passes, one byte more fails", () => {
    roundTrip(event(max));
    rejects(event(max + 1), "DF_ERR_BYTES_TOO_LONG");
  });
  it("custom: applies to hello credentials and dictionary ids", () => {
    const hello = (n: number) =>
      frame({ case: "hello", value: create(HelloSchema, { credentials: new Uint8Array(n) }) });
    roundTrip(hello(16), { maxBytesFieldBytes: 16 });
    rejects(hello(17), "DF_ERR_BYTES_TOO_LONG", { maxBytesFieldBytes: 16 });
    const ids = frame({ case: "hello", value: create(HelloSchema, { dictionaries: [new Uint8Array(8)] }) });
    roundTrip(ids, { maxBytesFieldBytes: 8 });
    rejects(ids, "DF_ERR_BYTES_TOO_LONG", { maxBytesFieldBytes: 7 });
  });
});

describe("maxListLength", () => {
  const max = DEFAULT_LIMITS.maxListLength;
  it("default: 65,536 resync keys pass, 65,537 fail", () => {
    roundTrip(resyncKeys(Array.from({ length: max }, () => "")));
    rejects(resyncKeys(Array.from({ length: max + 1 }, () => "")), "DF_ERR_LIST_TOO_LONG");
  });
  it("custom: applies to packed columns and nested lists", () => {
    const updates = (n: number) =>
      frame({
        case: "updates",
        value: create(UpdatesSchema, {
          keyIds: Array.from({ length: n }, (_, i) => i),
          sizes: Array.from({ length: n }, () => 2),
        }),
      });
    roundTrip(updates(100), { maxListLength: 100 });
    rejects(updates(101), "DF_ERR_LIST_TOO_LONG", { maxListLength: 100 });
    const versions = (n: number) =>
      frame({ case: "hello", value: create(HelloSchema, { versions: Array.from({ length: n }, () => 1) }) });
    roundTrip(versions(3), { maxListLength: 3 });
    rejects(versions(4), "DF_ERR_LIST_TOO_LONG", { maxListLength: 3 });
  });
});

describe("limits are validated", () => {
  it("rejects a bad limit with DF_ERR_LIMIT_INVALID", () => {
    expectCode(() => decodeFrame(encodeFrame(event(1)), { limits: { maxDepth: 0 } }), "DF_ERR_LIMIT_INVALID");
    expectCode(
      () => decodeBatch(encodeBatch([event(1)]), { limits: { maxMessageBytes: -1 } }),
      "DF_ERR_LIMIT_INVALID",
    );
  });
  it("Infinity means unlimited", () => {
    const limits = {
      maxMessageBytes: Number.POSITIVE_INFINITY,
      maxStringBytes: Number.POSITIVE_INFINITY,
      maxDepth: Number.POSITIVE_INFINITY,
    };
    expect(decodeFrame(encodeFrame(resyncKeys(["k".repeat(10_000)])), { limits }).body.case).toBe("resync");
  });
});
