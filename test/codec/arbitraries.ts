/**
 * fast-check arbitraries for every frame kind. Every generated frame passes
 * `validateFrame` with the default limits, so other layers can reuse them
 * for round-trip and model tests.
 */
import { create } from "@bufbuild/protobuf";
import {
  type Ack,
  AckSchema,
  type Close,
  CloseSchema,
  type Drain,
  DrainSchema,
  type Event,
  EventSchema,
  type Frame,
  FrameSchema,
  type Hello,
  HelloSchema,
  KeyBindingSchema,
  KeyVersionSchema,
  type Ping,
  PingSchema,
  type Pong,
  PongSchema,
  type Resync,
  ResyncSchema,
  type Skipped,
  SkippedSchema,
  SlowPolicy,
  type SnapshotBegin,
  SnapshotBeginSchema,
  type SnapshotChunk,
  SnapshotChunkSchema,
  type SnapshotEnd,
  SnapshotEndSchema,
  SnapshotEntrySchema,
  type Subscribe,
  type Subscribed,
  SubscribedSchema,
  SubscribeSchema,
  SyncMode,
  type Unsubscribe,
  UnsubscribeSchema,
  type Updates,
  UpdatesSchema,
  type Welcome,
  WelcomeSchema,
} from "deltaframe/proto";
import fc from "fast-check";

/** Any uint32. */
export const arbU32 = fc.integer({ min: 0, max: 0xffff_ffff });
/** Any uint64. */
export const arbU64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** Small non-negative numbers, as most real fields hold. */
const arbSmall = fc.integer({ min: 0, max: 1000 });
/** A string of at most `max` code points (UTF-8: at most 4 × max bytes). */
export const arbText = (max: number) => fc.string({ unit: "binary", maxLength: max });
/** A byte string of at most `max` bytes. */
export const arbBytes = (max: number) => fc.uint8Array({ maxLength: max });
/** A dictionary content id (8 bytes). */
export const arbDictionaryId = fc.uint8Array({ minLength: 8, maxLength: 8 });
/** A stream name, 1–64 code points. */
export const arbStreamName = fc.string({ unit: "binary", minLength: 1, maxLength: 64 });
const arbPolicy = fc.constantFrom(SlowPolicy.CONFLATE, SlowPolicy.DROP_OLDEST, SlowPolicy.BUFFER_THEN_CLOSE);
const arbSyncMode = fc.constantFrom(SyncMode.SNAPSHOT, SyncMode.CATCH_UP, SyncMode.REPLAY);

/** One update of an `Updates` frame before it is laid out in columns. */
interface UpdateSpec {
  keyId: number;
  kind: 0 | 1 | 2;
  body: Uint8Array;
  baseGap: bigint;
  hash: bigint;
  step: bigint;
}

const arbUpdateSpec: fc.Arbitrary<UpdateSpec> = fc
  .record({
    keyId: fc.oneof(arbSmall, arbU32),
    kind: fc.constantFrom(0 as const, 1 as const, 2 as const),
    body: arbBytes(24),
    baseGap: fc.bigInt({ min: 1n, max: 1n << 40n }),
    hash: arbU64,
    step: fc.bigInt({ min: 1n, max: 1n << 32n }),
  })
  .map((u) => (u.kind === 2 ? { ...u, body: new Uint8Array(0) } : u));

/** A consistent `Updates` message: columns of equal length, sizes adding up to the bodies. */
export const arbUpdates: fc.Arbitrary<Updates> = fc
  .record({
    alias: fc.oneof(arbSmall, arbU32),
    firstOffset: fc.bigInt({ min: 0n, max: 1n << 60n }),
    updates: fc.array(arbUpdateSpec, { maxLength: 8 }),
    withSteps: fc.boolean(),
    withBaseGaps: fc.boolean(),
    withHashes: fc.boolean(),
    bindings: fc.array(fc.record({ keyId: arbU32, key: arbText(20) }), { maxLength: 4 }),
  })
  .map((r) => {
    const n = r.updates.length;
    const bodies = new Uint8Array(r.updates.reduce((s, u) => s + u.body.length, 0));
    let pos = 0;
    for (const u of r.updates) {
      bodies.set(u.body, pos);
      pos += u.body.length;
    }
    return create(UpdatesSchema, {
      alias: r.alias,
      firstOffset: r.firstOffset,
      keyIds: r.updates.map((u) => u.keyId),
      sizes: r.updates.map((u) => u.body.length * 4 + u.kind),
      bodies,
      steps: r.withSteps && n > 1 ? r.updates.slice(1).map((u) => u.step) : [],
      baseGaps: r.withBaseGaps && n > 0 ? r.updates.map((u) => (u.kind === 1 ? u.baseGap : 0n)) : [],
      hashes: r.withHashes && n > 0 ? r.updates.map((u) => u.hash) : [],
      bindings: r.bindings.map((b) => create(KeyBindingSchema, b)),
    });
  });

/** An `Event`. */
export const arbEvent: fc.Arbitrary<Event> = fc
  .record({ alias: arbU32, offset: arbU64, payload: arbBytes(64) })
  .map((v) => create(EventSchema, v));

/** An `Ack`. */
export const arbAck: fc.Arbitrary<Ack> = fc
  .record({ messages: arbU64, bytes: arbU64, windowMessages: arbU32, windowBytes: arbU32 })
  .map((v) => create(AckSchema, v));

/** A `Ping`. */
export const arbPing: fc.Arbitrary<Ping> = fc
  .record({ id: arbU32, timeMs: arbU64 })
  .map((v) => create(PingSchema, v));

/** A `Pong`. */
export const arbPong: fc.Arbitrary<Pong> = fc
  .record({ id: arbU32, pingTimeMs: arbU64, timeMs: arbU64 })
  .map((v) => create(PongSchema, v));

/** A `Subscribe`. */
export const arbSubscribe: fc.Arbitrary<Subscribe> = fc
  .record({
    stream: arbStreamName,
    epoch: arbU64,
    offset: arbU64,
    held: fc.array(fc.record({ key: arbText(20), version: arbU64 }), { maxLength: 4 }),
    policy: fc.constantFrom(SlowPolicy.UNSPECIFIED, SlowPolicy.CONFLATE, SlowPolicy.DROP_OLDEST),
    maxBufferedEvents: arbU32,
    maxStalenessMs: arbU32,
    maxRateHz: arbU32,
  })
  .map((v) => create(SubscribeSchema, { ...v, held: v.held.map((h) => create(KeyVersionSchema, h)) }));

/** A `Subscribed`. */
export const arbSubscribed: fc.Arbitrary<Subscribed> = fc
  .record({
    stream: arbStreamName,
    alias: arbU32,
    epoch: arbU64,
    offset: arbU64,
    mode: arbSyncMode,
    policy: arbPolicy,
    maxBufferedEvents: arbU32,
  })
  .map((v) => create(SubscribedSchema, v));

/** An `Unsubscribe`. */
export const arbUnsubscribe: fc.Arbitrary<Unsubscribe> = fc
  .record({
    alias: arbU32,
    code: fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 4999 })),
    reason: arbText(30),
  })
  .map((v) => create(UnsubscribeSchema, v));

/** A `SnapshotBegin`. */
export const arbSnapshotBegin: fc.Arbitrary<SnapshotBegin> = fc
  .record({
    alias: arbU32,
    epoch: arbU64,
    offset: arbU64,
    keyCount: arbU32,
    mode: fc.constantFrom(SyncMode.SNAPSHOT, SyncMode.CATCH_UP),
  })
  .map((v) => create(SnapshotBeginSchema, v));

/** A `SnapshotChunk`. */
export const arbSnapshotChunk: fc.Arbitrary<SnapshotChunk> = fc
  .record({
    alias: arbU32,
    entries: fc.array(fc.record({ key: arbText(20), keyId: arbU32, version: arbU64, value: arbBytes(32) }), {
      maxLength: 5,
    }),
    removed: fc.array(arbText(20), { maxLength: 4 }),
  })
  .map((v) =>
    create(SnapshotChunkSchema, { ...v, entries: v.entries.map((e) => create(SnapshotEntrySchema, e)) }),
  );

/** A `SnapshotEnd`. */
export const arbSnapshotEnd: fc.Arbitrary<SnapshotEnd> = fc
  .record({ alias: arbU32, offset: arbU64, hash: arbU64 })
  .map((v) => create(SnapshotEndSchema, v));

/** A `Resync`. */
export const arbResync: fc.Arbitrary<Resync> = fc
  .record({
    alias: arbU32,
    keys: fc.array(arbText(20), { maxLength: 4 }),
    reason: fc.integer({ min: 1, max: 3 }),
  })
  .map((v) => create(ResyncSchema, v));

/** A `Skipped`. */
export const arbSkipped: fc.Arbitrary<Skipped> = fc
  .record({ alias: arbU32, conflatedUpdates: arbU64, droppedEvents: arbU64 })
  .map((v) => create(SkippedSchema, v));

/** A `Hello`. */
export const arbHello: fc.Arbitrary<Hello> = fc
  .record({
    versions: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
    capabilities: fc.integer({ min: 0, max: 15 }),
    credentials: arbBytes(48),
    resumeToken: arbBytes(48),
    windowMessages: arbU32,
    windowBytes: arbU32,
    maxMessageBytes: arbU32,
    dictionaries: fc.array(arbDictionaryId, { maxLength: 3 }),
    agent: arbText(16),
  })
  .map((v) => create(HelloSchema, v));

/** A `Welcome`. */
export const arbWelcome: fc.Arbitrary<Welcome> = fc
  .record({
    version: fc.integer({ min: 1, max: 5 }),
    capabilities: fc.integer({ min: 0, max: 15 }),
    sessionId: arbBytes(16),
    resumeToken: arbBytes(48),
    heartbeatMs: arbU32,
    idleTimeoutMs: arbU32,
    windowMessages: arbU32,
    windowBytes: arbU32,
    maxMessageBytes: arbU32,
    dictionary: fc.integer({ min: 0, max: 3 }),
    resumed: fc.boolean(),
  })
  .map((v) => create(WelcomeSchema, v));

/** A `Close`. */
export const arbClose: fc.Arbitrary<Close> = fc
  .record({
    code: fc.integer({ min: 1000, max: 4999 }),
    reason: arbText(30),
    retryAfterMs: arbU32,
    jitterMs: arbU32,
  })
  .map((v) => create(CloseSchema, v));

/** A `Drain`. */
export const arbDrain: fc.Arbitrary<Drain> = fc
  .record({ deadlineMs: arbU32, retryAfterMs: arbU32, jitterMs: arbU32 })
  .map((v) => create(DrainSchema, v));

/** The frame kinds (the `Frame.body` oneof cases). */
export type FrameKind = NonNullable<Frame["body"]["case"]>;

/** One arbitrary per frame kind, producing the frame. */
export const arbFrameOfKind: { readonly [K in FrameKind]: fc.Arbitrary<Frame> } = {
  updates: arbUpdates.map((value) => create(FrameSchema, { body: { case: "updates", value } })),
  event: arbEvent.map((value) => create(FrameSchema, { body: { case: "event", value } })),
  ack: arbAck.map((value) => create(FrameSchema, { body: { case: "ack", value } })),
  ping: arbPing.map((value) => create(FrameSchema, { body: { case: "ping", value } })),
  pong: arbPong.map((value) => create(FrameSchema, { body: { case: "pong", value } })),
  subscribe: arbSubscribe.map((value) => create(FrameSchema, { body: { case: "subscribe", value } })),
  subscribed: arbSubscribed.map((value) => create(FrameSchema, { body: { case: "subscribed", value } })),
  unsubscribe: arbUnsubscribe.map((value) => create(FrameSchema, { body: { case: "unsubscribe", value } })),
  snapshotBegin: arbSnapshotBegin.map((value) =>
    create(FrameSchema, { body: { case: "snapshotBegin", value } }),
  ),
  snapshotChunk: arbSnapshotChunk.map((value) =>
    create(FrameSchema, { body: { case: "snapshotChunk", value } }),
  ),
  snapshotEnd: arbSnapshotEnd.map((value) => create(FrameSchema, { body: { case: "snapshotEnd", value } })),
  resync: arbResync.map((value) => create(FrameSchema, { body: { case: "resync", value } })),
  skipped: arbSkipped.map((value) => create(FrameSchema, { body: { case: "skipped", value } })),
  hello: arbHello.map((value) => create(FrameSchema, { body: { case: "hello", value } })),
  welcome: arbWelcome.map((value) => create(FrameSchema, { body: { case: "welcome", value } })),
  close: arbClose.map((value) => create(FrameSchema, { body: { case: "close", value } })),
  drain: arbDrain.map((value) => create(FrameSchema, { body: { case: "drain", value } })),
};

/** Every frame kind, in field-number order. */
export const FRAME_KINDS = Object.keys(arbFrameOfKind) as FrameKind[];

/** Any valid frame. */
export const arbFrame: fc.Arbitrary<Frame> = fc.oneof(...FRAME_KINDS.map((k) => arbFrameOfKind[k]));

/** A valid frame that may be compressed (no `Hello` or `Welcome`). */
export const arbCompressibleFrame: fc.Arbitrary<Frame> = fc.oneof(
  ...FRAME_KINDS.filter((k) => k !== "hello" && k !== "welcome").map((k) => arbFrameOfKind[k]),
);

/** A batch of 1–`max` valid frames. */
export const arbFrames = (max = 8): fc.Arbitrary<Frame[]> =>
  fc.array(arbFrame, { minLength: 1, maxLength: max });
