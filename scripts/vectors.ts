/**
 * Builds the golden test vectors in test/vectors/frames.json: one frame of
 * every kind (JSON form, frame hex, transport-message hex), compressed
 * messages, and invalid messages with the error each must raise.
 *
 * Regenerate after an intended wire change with
 * `npx tsx scripts/vectors.ts --write`; test/vectors/vectors.test.ts fails
 * while the committed file differs from what this builds.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { create, type JsonValue, toJson } from "@bufbuild/protobuf";
import { createFflateDeflater, encodeBatch, encodeFrame, frameSingle } from "deltaframe/codec";
import { type Frame, FrameSchema, SlowPolicy, SyncMode } from "deltaframe/proto";

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const f = (body: Frame["body"]) => create(FrameSchema, { body } as never);

/** One representative frame per kind, in `Frame.body` field-number order. */
export function sampleFrames(): Array<[string, Frame]> {
  return [
    [
      "updates",
      f({
        case: "updates",
        value: {
          alias: 1,
          firstOffset: 1000n,
          keyIds: [7, 9, 12],
          sizes: [(3 << 2) | 1, (2 << 2) | 0, 2],
          bodies: new Uint8Array([0x08, 0x02, 0x10, 0x08, 0x01]),
          steps: [1n, 3n],
          baseGaps: [2n, 0n, 0n],
          hashes: [0x0123456789abcdefn, 1n, 0n],
          bindings: [{ keyId: 12, key: "market/42" }],
        },
      } as never),
    ],
    [
      "event",
      f({ case: "event", value: { alias: 1, offset: 1004n, payload: enc.encode("suspended") } } as never),
    ],
    [
      "ack",
      f({
        case: "ack",
        value: { messages: 120n, bytes: 40_960n, windowMessages: 256, windowBytes: 0 },
      } as never),
    ],
    ["ping", f({ case: "ping", value: { id: 7, timeMs: 1_733_000_000_000n } } as never)],
    [
      "pong",
      f({
        case: "pong",
        value: { id: 7, pingTimeMs: 1_733_000_000_000n, timeMs: 1_733_000_000_012n },
      } as never),
    ],
    [
      "subscribe",
      f({
        case: "subscribe",
        value: {
          stream: "odds/nfl",
          epoch: 3n,
          offset: 990n,
          held: [{ key: "market/42", version: 985n }],
          policy: SlowPolicy.DROP_OLDEST,
          maxBufferedEvents: 100,
          maxStalenessMs: 2000,
          maxRateHz: 10,
        },
      } as never),
    ],
    [
      "subscribed",
      f({
        case: "subscribed",
        value: {
          stream: "odds/nfl",
          alias: 1,
          epoch: 3n,
          offset: 990n,
          mode: SyncMode.CATCH_UP,
          policy: SlowPolicy.DROP_OLDEST,
          maxBufferedEvents: 100,
        },
      } as never),
    ],
    [
      "unsubscribe",
      f({ case: "unsubscribe", value: { alias: 1, code: 4009, reason: "slow consumer" } } as never),
    ],
    [
      "snapshotBegin",
      f({
        case: "snapshotBegin",
        value: { alias: 1, epoch: 3n, offset: 990n, keyCount: 2, mode: SyncMode.SNAPSHOT },
      } as never),
    ],
    [
      "snapshotChunk",
      f({
        case: "snapshotChunk",
        value: {
          alias: 1,
          entries: [
            { key: "market/42", keyId: 12, version: 985n, value: new Uint8Array([0x08, 0x2a]) },
            { key: "market/43", keyId: 13, version: 990n, value: new Uint8Array([0x08, 0x2b]) },
          ],
          removed: ["market/7"],
        },
      } as never),
    ],
    [
      "snapshotEnd",
      f({ case: "snapshotEnd", value: { alias: 1, offset: 990n, hash: 0xfedcba9876543210n } } as never),
    ],
    ["resync", f({ case: "resync", value: { alias: 1, keys: ["market/42"], reason: 2 } } as never)],
    [
      "skipped",
      f({ case: "skipped", value: { alias: 1, conflatedUpdates: 17n, droppedEvents: 2n } } as never),
    ],
    [
      "hello",
      f({
        case: "hello",
        value: {
          versions: [1],
          capabilities: 15,
          credentials: enc.encode("token-abc"),
          resumeToken: new Uint8Array(0),
          windowMessages: 1024,
          windowBytes: 1 << 20,
          maxMessageBytes: 1 << 20,
          dictionaries: [new Uint8Array([0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14])],
          agent: "deltaframe-ts/0.1.0",
        },
      } as never),
    ],
    [
      "welcome",
      f({
        case: "welcome",
        value: {
          version: 1,
          capabilities: 11,
          sessionId: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
          resumeToken: new Uint8Array([9, 9, 9, 9]),
          heartbeatMs: 15_000,
          idleTimeoutMs: 45_000,
          windowMessages: 1024,
          windowBytes: 1 << 20,
          maxMessageBytes: 1 << 20,
          dictionary: 1,
          resumed: false,
        },
      } as never),
    ],
    [
      "close",
      f({
        case: "close",
        value: { code: 1001, reason: "restart", retryAfterMs: 500, jitterMs: 2000 },
      } as never),
    ],
    ["drain", f({ case: "drain", value: { deadlineMs: 30_000, retryAfterMs: 0, jitterMs: 5000 } } as never)],
  ];
}

/** The dictionary of the dictionary-compressed vector. */
export const VECTOR_DICTIONARY = enc.encode(
  '{"market":42,"status":"suspended","reason":"goal"} odds/nfl market/',
);

/** Returns the whole vectors document. */
export function buildVectors(): JsonValue {
  const samples = sampleFrames();
  const frames = samples.map(([name, frame]) => ({
    name,
    json: toJson(FrameSchema, frame),
    frame: hex(encodeFrame(frame)),
    message: hex(encodeBatch([frame])),
    single: hex(frameSingle(encodeFrame(frame))),
  }));
  const deflater = createFflateDeflater();
  const events = Array.from({ length: 6 }, (_, i) =>
    f({
      case: "event",
      value: {
        alias: 1,
        offset: BigInt(2000 + i),
        payload: enc.encode(`{"market":42,"status":"suspended","reason":"goal ${i}"}`),
      },
    } as never),
  );
  const compressOptions = { compress: true, compressThresholdBytes: 1, deflater };
  const compressed = [
    {
      name: "deflate",
      dictionary: null,
      message: hex(encodeBatch(events, compressOptions)),
      frames: events.map((e) => toJson(FrameSchema, e)),
    },
    {
      name: "deflate-dictionary",
      dictionary: { index: 1, hex: hex(VECTOR_DICTIONARY) },
      message: hex(
        encodeBatch(events, { ...compressOptions, dictionary: { index: 1, bytes: VECTOR_DICTIONARY } }),
      ),
      frames: events.map((e) => toJson(FrameSchema, e)),
    },
    {
      name: "batch-of-three",
      dictionary: null,
      message: hex(encodeBatch(samples.slice(0, 3).map(([, fr]) => fr))),
      frames: samples.slice(0, 3).map(([, fr]) => toJson(FrameSchema, fr)),
    },
  ];
  const invalid = [
    { name: "empty message", message: "", error: "DF_ERR_MESSAGE_EMPTY" },
    { name: "unknown marker", message: "040a00", error: "DF_ERR_MARKER_UNKNOWN" },
    { name: "single frame without body", message: "03", error: "DF_ERR_FRAME_EMPTY" },
    { name: "truncated single frame", message: "03220308", error: "DF_ERR_DECODE" },
    { name: "no frames", message: "00", error: "DF_ERR_FRAME_EMPTY" },
    { name: "frame without body", message: "000a00", error: "DF_ERR_FRAME_EMPTY" },
    { name: "truncated frame", message: "000a05220308", error: "DF_ERR_DECODE" },
    { name: "invalid UTF-8", message: "000a0532030a01ff", error: "DF_ERR_DECODE" },
    {
      name: "update kind 3",
      message: hex(
        encodeBatch([f({ case: "updates", value: { alias: 1, keyIds: [1], sizes: [3] } } as never)]),
      ),
      error: "DF_ERR_FRAME_INVALID",
    },
    { name: "declared length over 4 MiB", message: "01818080020300", error: "DF_ERR_INFLATE_TOO_LARGE" },
    { name: "declared length mismatch", message: "01050300", error: "DF_ERR_INFLATE_LENGTH_MISMATCH" },
    { name: "corrupt deflate", message: "0105ffff", error: "DF_ERR_INFLATE_CORRUPT" },
    { name: "unknown dictionary", message: "0202050300", error: "DF_ERR_DICTIONARY_UNKNOWN" },
  ];
  return {
    comment:
      "deltaframe v1 golden vectors; see test/vectors/README.md. Regenerate with `npx tsx scripts/vectors.ts --write`.",
    frames,
    compressed,
    invalid,
  } as unknown as JsonValue;
}

/** The vectors document as committed: JSON, two-space indent, trailing newline. */
export function renderVectors(): string {
  return `${JSON.stringify(buildVectors(), null, 2)}\n`;
}

if (process.argv.includes("--write")) {
  const path = new URL("../test/vectors/frames.json", import.meta.url);
  writeFileSync(path, renderVectors());
  console.log(`wrote ${path.pathname}`);
}
