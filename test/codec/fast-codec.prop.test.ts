/**
 * Differential tests of the hand-written hot-frame codec (src/codec/fast-*.ts)
 * against protobuf-es, the reference: identical bytes on encode; on decode,
 * equal messages wherever the fast reader answers, and the same outcome (the
 * same message, or a DeltaframeError with the same code) from `decodeFrame`
 * and `decodeBatch` as from the reference path, for canonical, non-canonical,
 * mutated and random bytes.
 *
 * The fast reader and writer are internal (the public entry points use them
 * transparently), so this file imports them from src/codec directly.
 */
import { create, equals, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import { type DeltaframeError, isDeltaframeError } from "deltaframe";
import { decodeBatch, decodeFrame, encodeFrame, expandShapedFrame, validateFrame } from "deltaframe/codec";
import {
  AckSchema,
  BatchSchema,
  EventSchema,
  type Frame,
  FrameSchema,
  KeyBindingSchema,
  PingSchema,
  PongSchema,
  UpdatesSchema,
} from "deltaframe/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readBatchFrames, readHotFrame } from "../../src/codec/fast-read.js";
import { writeHotFrame } from "../../src/codec/fast-write.js";
import { protobufError } from "../../src/codec/frame.js";
import { resolveLimits } from "../../src/limits.js";
import { arbFrame, arbFrameOfKind, arbU32, arbU64 } from "./arbitraries.js";

const HOT = ["updates", "event", "ack", "ping", "pong"] as const;
const RUNS = 1_000;

// ---------------------------------------------------------------------------
// Values at the edges of their types.

/** 2^k + d for k in [0, bits], d in [-2, 2], within [0, 2^bits − 1]: every varint and double boundary. */
const arbPowerNear = (bits: number) =>
  fc.tuple(fc.integer({ min: 0, max: bits }), fc.integer({ min: -2, max: 2 })).map(([k, d]) => {
    const v = (1n << BigInt(k)) + BigInt(d);
    const max = (1n << BigInt(bits)) - 1n;
    return v < 0n ? 0n : v > max ? max : v;
  });
const arbEdgeU32 = fc.oneof(arbU32, fc.constant(0), { arbitrary: arbPowerNear(32).map(Number), weight: 4 });
const arbEdgeU64 = fc.oneof(arbU64, fc.constant(0n), { arbitrary: arbPowerNear(64), weight: 4 });
/** Keys with ASCII, multi-byte, astral and lone-surrogate code units. */
const arbKey = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({
    unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)),
    maxLength: 6,
  }),
);
const arbBody = fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 100, maxLength: 300 }));

/** `Updates` with any column contents (not necessarily valid), edge values and bindings. */
const arbWildUpdates = fc
  .record({
    alias: arbEdgeU32,
    firstOffset: arbEdgeU64,
    keyIds: fc.array(arbEdgeU32, { maxLength: 6 }),
    sizes: fc.array(arbEdgeU32, { maxLength: 6 }),
    bodies: arbBody,
    steps: fc.array(arbEdgeU64, { maxLength: 6 }),
    baseGaps: fc.array(arbEdgeU64, { maxLength: 6 }),
    hashes: fc.array(arbEdgeU64, { maxLength: 6 }),
    bindings: fc.array(fc.record({ keyId: arbEdgeU32, key: arbKey }), { maxLength: 4 }),
    shapes: fc.array(arbBody, { maxLength: 3 }),
  })
  .map((v) => create(UpdatesSchema, { ...v, bindings: v.bindings.map((b) => create(KeyBindingSchema, b)) }));

/** Hot frames of every kind, with edge values; not necessarily valid frames. */
const arbWildHotFrame: fc.Arbitrary<Frame> = fc.oneof(
  arbWildUpdates.map((value) => create(FrameSchema, { body: { case: "updates", value } })),
  fc
    .record({ alias: arbEdgeU32, offset: arbEdgeU64, payload: arbBody })
    .map((v) => create(FrameSchema, { body: { case: "event", value: create(EventSchema, v) } })),
  fc
    .record({ messages: arbEdgeU64, bytes: arbEdgeU64, windowMessages: arbEdgeU32, windowBytes: arbEdgeU32 })
    .map((v) => create(FrameSchema, { body: { case: "ack", value: create(AckSchema, v) } })),
  fc
    .record({ id: arbEdgeU32, timeMs: arbEdgeU64 })
    .map((v) => create(FrameSchema, { body: { case: "ping", value: create(PingSchema, v) } })),
  fc
    .record({ id: arbEdgeU32, pingTimeMs: arbEdgeU64, timeMs: arbEdgeU64 })
    .map((v) => create(FrameSchema, { body: { case: "pong", value: create(PongSchema, v) } })),
);

const arbHotFrame = fc.oneof(...HOT.map((k) => arbFrameOfKind[k]), {
  arbitrary: arbWildHotFrame,
  weight: 10,
});

// ---------------------------------------------------------------------------
// A protobuf writer that produces legal but non-canonical encodings.

/** How to lay out varints and records: a seeded source of choices. */
interface Style {
  /** Extra (redundant) varint bytes to add, 0 for the shortest form. */
  pad(maxExtra: number): number;
  /** A random integer in [0, n). */
  pick(n: number): number;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The shortest varint of `v` (< 2^64), then `extra` redundant bytes (total at most `max`). */
function varint(v: bigint, extra = 0, max = 10): Uint8Array {
  const out: number[] = [];
  do {
    out.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v > 0n);
  const n = Math.min(out.length + extra, max);
  while (out.length < n) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80;
  return Uint8Array.from(out);
}

function fixed64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
}

/** One field record: its number, wire type and encoded payload (with its length prefix for wire type 2). */
interface Rec {
  field: number;
  wireType: number;
  payload: Uint8Array;
}

function tagBytes(r: Rec, s: Style): Uint8Array {
  // Tags may take at most 5 bytes, the fifth below 0x10.
  const tag = (BigInt(r.field) << 3n) | BigInt(r.wireType);
  const min = varint(tag).length;
  return varint(tag, s.pad(5 - min), 5);
}

function delimited(field: number, payload: Uint8Array, s: Style): Rec {
  return { field, wireType: 2, payload: concat([varint(BigInt(payload.length), s.pad(3)), payload]) };
}

/** A varint record of a uint32 field; sometimes with bits above 32, which decoders drop. */
function u32Rec(field: number, v: number, s: Style): Rec {
  const high = s.pick(6) === 0 ? BigInt(1 + s.pick(30)) << 32n : 0n;
  return { field, wireType: 0, payload: varint(BigInt(v) + high, s.pad(3)) };
}

function u64Rec(field: number, v: bigint, s: Style): Rec {
  return { field, wireType: 0, payload: varint(v, s.pad(3)) };
}

/** Unknown fields numbered from `minField`: varint, fixed, delimited and group records. */
function unknownRecs(minField: number, s: Style, depth = 0): Rec[] {
  const out: Rec[] = [];
  const count = s.pick(3);
  for (let i = 0; i < count; i++) {
    const field = s.pick(3) === 0 ? 536_870_911 - s.pick(5) : minField + s.pick(200);
    switch (s.pick(depth < 2 ? 5 : 4)) {
      case 0:
        out.push({
          field,
          wireType: 0,
          payload: varint(BigInt(s.pick(1 << 30)) << BigInt(s.pick(34)), s.pad(2)),
        });
        break;
      case 1:
        out.push({ field, wireType: 1, payload: fixed64(BigInt(s.pick(1 << 30))) });
        break;
      case 2:
        out.push({ field, wireType: 5, payload: Uint8Array.of(s.pick(256), 0, 0, s.pick(256)) });
        break;
      case 3:
        out.push(
          delimited(
            field,
            Uint8Array.from({ length: s.pick(12) }, () => s.pick(256)),
            s,
          ),
        );
        break;
      default: {
        // A group: nested records of any number (field 1 included), then the end tag.
        const inner = unknownRecs(1, s, depth + 1);
        const end = varint((BigInt(field) << 3n) | 4n);
        out.push({ field, wireType: 3, payload: concat([...inner.map((r) => record(r, s)), end]) });
      }
    }
  }
  return out;
}

function record(r: Rec, s: Style): Uint8Array {
  return concat([tagBytes(r, s), r.payload]);
}

/**
 * Lays out records: shuffled across fields (the order within one field kept,
 * since it decides list order and which singular value wins), with unknown
 * records mixed in.
 */
function layout(groups: Rec[][], s: Style): Uint8Array {
  const queues = groups.filter((g) => g.length > 0).map((g) => [...g]);
  const parts: Uint8Array[] = [];
  while (queues.length > 0) {
    const i = s.pick(queues.length);
    parts.push(record(queues[i]!.shift()!, s));
    if (queues[i]!.length === 0) queues.splice(i, 1);
  }
  return concat(parts);
}

/** A singular field's records: sometimes an earlier value the decoder must overwrite, sometimes an explicit zero. */
function singular(rec: (v: never) => Rec, value: unknown, isZero: boolean, decoy: unknown, s: Style): Rec[] {
  const out: Rec[] = [];
  if (s.pick(4) === 0) out.push(rec(decoy as never));
  if (!isZero || s.pick(3) === 0 || out.length > 0) out.push(rec(value as never));
  return out;
}

/** A repeated scalar field: packed, unpacked, packed in several runs, or a mix. */
function repeated<T>(
  field: number,
  items: readonly T[],
  one: (v: T) => Uint8Array,
  unpackedWireType: number,
  s: Style,
): Rec[] {
  const out: Rec[] = [];
  let i = 0;
  while (i < items.length) {
    if (s.pick(2) === 0) {
      out.push({ field, wireType: unpackedWireType, payload: one(items[i]!) });
      i++;
    } else {
      const n = 1 + s.pick(items.length - i);
      out.push(delimited(field, concat(items.slice(i, i + n).map(one)), s));
      i += n;
    }
  }
  if (items.length === 0 && s.pick(5) === 0) out.push(delimited(field, new Uint8Array(0), s));
  return out;
}

function strictUtf8(key: string): Uint8Array {
  return new TextEncoder().encode(key);
}

/** Non-canonical bytes of a hot frame's body message. */
function bodyBytes(frame: Frame, s: Style): Uint8Array {
  const body = frame.body;
  const u32 = (field: number) => (v: number) => u32Rec(field, v, s);
  const u64 = (field: number) => (v: bigint) => u64Rec(field, v, s);
  const bytes = (field: number) => (v: Uint8Array) => delimited(field, v, s);
  switch (body.case) {
    case "updates": {
      const u = body.value;
      const groups: Rec[][] = [
        singular(u32(1), u.alias, u.alias === 0, 7, s),
        singular(u64(2), u.firstOffset, u.firstOffset === 0n, 99n, s),
        repeated(3, u.keyIds, (v) => varint(BigInt(v), s.pad(2)), 0, s),
        repeated(4, u.sizes, (v) => varint(BigInt(v), s.pad(2)), 0, s),
        singular(bytes(5), u.bodies, u.bodies.length === 0, Uint8Array.of(1, 2), s),
        repeated(6, u.steps, (v) => varint(v, s.pad(2)), 0, s),
        repeated(7, u.baseGaps, (v) => varint(v, s.pad(2)), 0, s),
        repeated(8, u.hashes, fixed64, 1, s),
        u.bindings.map((b) => {
          const inner = layout(
            [
              singular(u32(1), b.keyId, b.keyId === 0, 5, s),
              singular((k: string) => delimited(2, strictUtf8(k), s), b.key, b.key === "", "x", s),
              unknownRecs(3, s),
            ],
            s,
          );
          return delimited(9, inner, s);
        }),
        u.shapes.map((v) => delimited(10, v, s)),
        unknownRecs(11, s),
      ];
      return layout(groups, s);
    }
    case "event": {
      const e = body.value;
      return layout(
        [
          singular(u32(1), e.alias, e.alias === 0, 3, s),
          singular(u64(2), e.offset, e.offset === 0n, 5n, s),
          singular(bytes(3), e.payload, e.payload.length === 0, Uint8Array.of(9), s),
          unknownRecs(4, s),
        ],
        s,
      );
    }
    case "ack": {
      const a = body.value;
      return layout(
        [
          singular(u64(1), a.messages, a.messages === 0n, 4n, s),
          singular(u64(2), a.bytes, a.bytes === 0n, 4n, s),
          singular(u32(3), a.windowMessages, a.windowMessages === 0, 4, s),
          singular(u32(4), a.windowBytes, a.windowBytes === 0, 4, s),
          unknownRecs(5, s),
        ],
        s,
      );
    }
    case "ping": {
      const p = body.value;
      return layout(
        [
          singular(u32(1), p.id, p.id === 0, 2, s),
          singular(u64(2), p.timeMs, p.timeMs === 0n, 2n, s),
          unknownRecs(3, s),
        ],
        s,
      );
    }
    case "pong": {
      const p = body.value;
      return layout(
        [
          singular(u32(1), p.id, p.id === 0, 2, s),
          singular(u64(2), p.pingTimeMs, p.pingTimeMs === 0n, 2n, s),
          singular(u64(3), p.timeMs, p.timeMs === 0n, 2n, s),
          unknownRecs(4, s),
        ],
        s,
      );
    }
  }
  throw new Error(`not a hot frame: ${body.case}`);
}

const FIELD_OF = { updates: 1, event: 2, ack: 3, ping: 4, pong: 5 } as const;

/** Non-canonical bytes of a hot frame: the body record among unknown frame fields. */
function frameBytes(frame: Frame, s: Style): Uint8Array {
  const field = FIELD_OF[frame.body.case as keyof typeof FIELD_OF];
  return layout([[delimited(field, bodyBytes(frame, s), s)], unknownRecs(18, s)], s);
}

/** A style drawn from a seed: how often to pad varints and which choices to take. */
const arbStyle: fc.Arbitrary<Style> = fc
  .record({ seed: fc.integer(), padRate: fc.constantFrom(0, 0.2, 0.6) })
  .map(({ seed, padRate }) => {
    // mulberry32: the layout is a pure function of the seed, so fast-check can replay and shrink it.
    let a = seed >>> 0;
    const rand = (): number => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return {
      pad: (maxExtra: number) => (maxExtra > 0 && rand() < padRate ? 1 + Math.floor(rand() * maxExtra) : 0),
      pick: (n: number) => Math.floor(rand() * n),
      toString: () => `Style(seed=${seed}, padRate=${padRate})`,
    };
  });

// ---------------------------------------------------------------------------
// The reference decode paths, as decodeFrame and decodeBatch ran before the fast path.

function referenceFrame(bytes: Uint8Array, maxDepth: number): Frame {
  try {
    return fromBinary(FrameSchema, bytes, { readUnknownFields: false, recursionLimit: maxDepth });
  } catch (error) {
    throw protobufError(error, "frame", maxDepth);
  }
}

function referenceDecodeFrame(bytes: Uint8Array, maxDepth: number): Frame {
  const limits = resolveLimits({ maxDepth });
  const frame = referenceFrame(bytes, maxDepth);
  expandShapedFrame(frame, limits);
  return validateFrame(frame, limits);
}

type Outcome = { ok: true; frames: Frame[] } | { ok: false; code: string };

function outcome(fn: () => Frame | Frame[]): Outcome {
  try {
    const r = fn();
    return { ok: true, frames: Array.isArray(r) ? r : [r] };
  } catch (error) {
    if (!isDeltaframeError(error)) throw error;
    return { ok: false, code: (error as DeltaframeError).code };
  }
}

function expectSameFrames(actual: readonly Frame[], expected: readonly Frame[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    expect(equals(FrameSchema, actual[i]!, expected[i]!)).toBe(true);
    expect(actual[i]).toStrictEqual(expected[i]);
    expect(isMessage(actual[i], FrameSchema)).toBe(true);
  }
}

function expectSameOutcome(actual: Outcome, expected: Outcome): void {
  if (expected.ok) {
    expect(actual.ok, actual.ok ? "" : `fast path threw ${actual.code}`).toBe(true);
    if (actual.ok) expectSameFrames(actual.frames, expected.frames);
  } else {
    expect(actual).toEqual(expected);
  }
}

/** Checks the fast reader on `bytes`: when it answers, the reference agrees. Returns whether it answered. */
function checkFastRead(bytes: Uint8Array, maxDepth = 32): boolean {
  const fast = readHotFrame(bytes, 0, bytes.length, maxDepth);
  if (fast === undefined) return false;
  const reference = fromBinary(FrameSchema, bytes, { readUnknownFields: false, recursionLimit: maxDepth });
  expectSameFrames([fast], [reference]);
  return true;
}

// ---------------------------------------------------------------------------

describe("fast writer", () => {
  it(`writes hot frames byte-identical to toBinary (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbHotFrame, (frame) => {
        const fast = writeHotFrame(frame);
        expect(fast).toBeDefined();
        expect(fast).toEqual(toBinary(FrameSchema, frame));
        expect(encodeFrame(frame)).toEqual(fast);
      }),
      { numRuns: RUNS },
    );
  });

  it(`encodeFrame is toBinary for every frame kind (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbFrame, (frame) => {
        expect(encodeFrame(frame)).toEqual(toBinary(FrameSchema, frame));
        if (!HOT.includes(frame.body.case as (typeof HOT)[number]))
          expect(writeHotFrame(frame)).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it("leaves values outside their protobuf type and unknown fields to toBinary (same bytes or same error)", () => {
    // Values of the wrong type for each kind of field, some of which toBinary converts (a number or a
    // decimal string for a uint64) and some of which it rejects.
    const badU32: unknown[] = [-1, 2 ** 32, 1.5, Number.NaN, "7", 5n, undefined, null];
    const badU64: unknown[] = [-1n, 1n << 64n, 5, 0, "9", "x", 1.5, undefined];
    const badBytes: unknown[] = ["ab", [1, 2], undefined];
    fc.assert(
      fc.property(arbHotFrame, fc.nat(), fc.nat(), (frame, which, pick) => {
        const body = frame.body.value as unknown as Record<string, unknown>;
        const names = Object.keys(body).filter((k) => {
          const v = body[k];
          return k !== "$typeName" && (!Array.isArray(v) || (v.length > 0 && typeof v[0] !== "object"));
        });
        const name = names[which % names.length]!;
        const list = body[name];
        const current = Array.isArray(list) ? list[0] : list;
        const bad = typeof current === "number" ? badU32 : typeof current === "bigint" ? badU64 : badBytes;
        const value = bad[pick % bad.length];
        if (Array.isArray(list)) list[which % list.length] = value;
        else body[name] = value;
        const expected = outcomeOf(() => toBinary(FrameSchema, frame));
        expect(writeHotFrame(frame)).toBeUndefined();
        expect(outcomeOf(() => encodeFrame(frame))).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it("writes unknown fields of decoded messages as toBinary does (through toBinary)", () => {
    fc.assert(
      fc.property(arbHotFrame, arbStyle, (frame, style) => {
        const withUnknown = fromBinary(FrameSchema, frameBytes(frame, style), { readUnknownFields: true });
        expect(encodeFrame(withUnknown)).toEqual(toBinary(FrameSchema, withUnknown));
      }),
      { numRuns: RUNS },
    );
  });
});

/** Bytes or the thrown error's message. */
function outcomeOf(fn: () => Uint8Array): Uint8Array | string {
  try {
    return fn();
  } catch (error) {
    return String(error);
  }
}

describe("fast reader", () => {
  it(`reads canonical hot frames to messages equal to fromBinary (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbHotFrame, (frame) => {
        const bytes = toBinary(FrameSchema, frame);
        expect(checkFastRead(bytes)).toBe(true);
        const back = readHotFrame(bytes, 0, bytes.length, 32)!;
        expect(toBinary(FrameSchema, back)).toEqual(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it(`reads non-canonical encodings natively: unpacked and split lists, any order, repeated singular fields, long varints, unknown fields and groups (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbHotFrame, arbStyle, (frame, style) => {
        const bytes = frameBytes(frame, style);
        expect(checkFastRead(bytes)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it(`decodeFrame gives the reference outcome on valid, non-canonical, mutated and random bytes, at any depth limit (${RUNS * 5} runs)`, () => {
    let answered = 0;
    let decoded = 0;
    const arbBytes = fc.oneof(
      arbHotFrame.map((f) => toBinary(FrameSchema, f)),
      fc.tuple(arbHotFrame, arbStyle).map(([f, s]) => frameBytes(f, s)),
      arbFrame.map((f) => toBinary(FrameSchema, f)),
      mutated(fc.tuple(arbHotFrame, arbStyle).map(([f, s]) => frameBytes(f, s))),
      mutated(arbHotFrame.map((f) => toBinary(FrameSchema, f))),
      fc.uint8Array({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(arbBytes, fc.constantFrom(1, 2, 3, 4, 32, Number.POSITIVE_INFINITY), (bytes, maxDepth) => {
        if (checkFastRead(bytes, maxDepth)) answered++;
        const expected = outcome(() => referenceDecodeFrame(bytes, maxDepth));
        if (expected.ok) decoded++;
        expectSameOutcome(
          outcome(() => decodeFrame(bytes, { limits: { maxDepth } })),
          expected,
        );
      }),
      { numRuns: RUNS * 5 },
    );
    // The cases must reach the fast path and the decoder's later stages, not only fail early.
    expect(answered).toBeGreaterThan(RUNS);
    expect(decoded).toBeGreaterThan(RUNS);
  });
});

/** Mutations of encoded bytes: bit flips, byte sets, truncation, insertion, deletion. */
function mutated(source: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      source,
      fc.array(
        fc.record({
          kind: fc.constantFrom("flip", "set", "truncate", "insert", "delete"),
          at: fc.nat(),
          value: fc.nat({ max: 255 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    )
    .map(([original, ops]) => {
      let bytes: Uint8Array = Uint8Array.from(original);
      for (const op of ops) {
        const at = bytes.length === 0 ? 0 : op.at % bytes.length;
        if (op.kind === "flip" && bytes.length > 0) bytes[at]! ^= 1 << (op.value & 7);
        else if (op.kind === "set" && bytes.length > 0) bytes[at] = op.value;
        else if (op.kind === "truncate") bytes = bytes.slice(0, at);
        else if (op.kind === "insert")
          bytes = concat([bytes.subarray(0, at), Uint8Array.of(op.value), bytes.subarray(at)]);
        else if (op.kind === "delete") bytes = concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      }
      return bytes;
    });
}

describe("fast batch decoding", () => {
  /** Batch bytes: entries of canonical or non-canonical frames, with unknown top-level fields. */
  const arbBatchBytes = fc
    .tuple(
      fc.array(
        fc.oneof(
          arbFrame.map((f) => [f, false] as const),
          arbHotFrame.map((f) => [f, true] as const),
        ),
        {
          minLength: 1,
          maxLength: 5,
        },
      ),
      arbStyle,
    )
    .map(([frames, s]) =>
      layout(
        [
          frames.map(([f, odd]) => delimited(1, odd ? frameBytes(f, s) : toBinary(FrameSchema, f), s)),
          unknownRecs(2, s),
        ],
        s,
      ),
    );

  it(`readBatchFrames, when it answers, equals fromBinary(BatchSchema) (${RUNS * 3} runs)`, () => {
    let answered = 0;
    fc.assert(
      fc.property(
        fc.oneof(arbBatchBytes, mutated(arbBatchBytes), fc.uint8Array({ maxLength: 64 })),
        fc.constantFrom(1, 2, 3, 32),
        (bytes, maxDepth) => {
          const fast = readBatchFrames(bytes, maxDepth);
          if (fast === undefined) return;
          answered++;
          const reference = fromBinary(BatchSchema, bytes, {
            readUnknownFields: false,
            recursionLimit: maxDepth + 1,
          }).frames;
          expectSameFrames(fast, reference);
        },
      ),
      { numRuns: RUNS * 3 },
    );
    expect(answered).toBeGreaterThan(RUNS / 2);
  });

  it(`decodeBatch decodes non-canonical batches to the frames of the reference (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(arbBatchBytes, (bytes) => {
        expect(readBatchFrames(bytes, 32)).toBeDefined();
        const reference = fromBinary(BatchSchema, bytes, {
          readUnknownFields: false,
          recursionLimit: 33,
        }).frames;
        const expected = outcome(() => {
          const limits = resolveLimits({});
          for (const f of reference) {
            expandShapedFrame(f, limits);
            validateFrame(f, limits);
          }
          return reference;
        });
        expectSameOutcome(
          outcome(() => decodeBatch(concat([Uint8Array.of(0), bytes]))),
          expected,
        );
      }),
      { numRuns: RUNS },
    );
  });
});
