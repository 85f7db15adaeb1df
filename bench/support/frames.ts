/**
 * Seeded sample frames for the benches, built from the reference workload
 * (DESIGN §6): a small `Updates` frame carrying one odds tick, and a snapshot
 * chunk of about 1 KB. The same inputs every run.
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { type Frame, FrameSchema, SnapshotEntrySchema, UpdatesSchema } from "deltaframe/proto";
import { MarketSchema, OddsFeed, type OddsTick } from "deltaframe/workload";

/** Seed of every bench input. */
export const BENCH_SEED = 20_260_101;

/** Appends `value` as a protobuf varint (value < 2^53). */
function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/**
 * Returns a patch of one tick written by hand in the patch format
 * (proto/deltaframe/v1/patch.proto): ADD to `last_change_ms`, then for each
 * moved selection ELEMENT index and ADD to `price_ticks`. Used where only the
 * frame codec is measured and the body is opaque bytes; the delta benches use
 * the delta layer itself.
 */
export function handPatch(tick: OddsTick): Uint8Array {
  const out: number[] = [];
  pushVarint(out, (4 << 3) | 2);
  pushVarint(out, zigzag(Number(tick.market.lastChangeMs - tick.previous.lastChangeMs)));
  for (const changed of tick.changedSelections) {
    const index = tick.market.selections.findIndex((s) => s.id === changed.id);
    const before = tick.previous.selections[index]!;
    pushVarint(out, (5 << 3) | 4);
    pushVarint(out, index);
    pushVarint(out, (3 << 3) | 2);
    pushVarint(out, zigzag(changed.priceTicks - before.priceTicks));
  }
  return Uint8Array.from(out);
}

/** The plain fields of a sample frame, to build the same message in every library. */
export interface UpdateFields {
  alias: number;
  firstOffset: number;
  keyIds: number[];
  sizes: number[];
  bodies: Uint8Array;
}

/** The plain fields of a snapshot chunk. */
export interface SnapshotFields {
  alias: number;
  entries: { key: string; keyId: number; version: number; value: Uint8Array }[];
}

/** Returns the fields of an `Updates` frame for one tick (a patch of kind 1). */
export function updateFields(tick: OddsTick, keyId: number, body = handPatch(tick)): UpdateFields {
  return {
    alias: 1,
    firstOffset: tick.index + 1,
    keyIds: [keyId],
    sizes: [(body.length << 2) | 1],
    bodies: body,
  };
}

/** Returns the protobuf-es frame for {@link UpdateFields}. */
export function updateFrame(f: UpdateFields): Frame {
  return create(FrameSchema, {
    body: {
      case: "updates",
      value: create(UpdatesSchema, { ...f, firstOffset: BigInt(f.firstOffset) }),
    },
  });
}

/** Returns the protobuf-es frame for {@link SnapshotFields}. */
export function snapshotFrame(f: SnapshotFields): Frame {
  return create(FrameSchema, {
    body: {
      case: "snapshotChunk",
      value: {
        alias: f.alias,
        entries: f.entries.map((e) => create(SnapshotEntrySchema, { ...e, version: BigInt(e.version) })),
      },
    },
  });
}

/** The bench inputs of the codec: one tick's update and a ~1 KB snapshot chunk. */
export interface CodecSamples {
  update: UpdateFields;
  snapshot: SnapshotFields;
}

/** Returns the seeded codec samples: the 10th tick of the feed, and the first two markets as a snapshot chunk. */
export function codecSamples(): CodecSamples {
  const feed = new OddsFeed({ seed: BENCH_SEED });
  const snapshot = feed.snapshot();
  let tick = feed.next();
  for (let i = 0; i < 9; i++) tick = feed.next();
  const keyId = feed.keys.indexOf(tick.key) + 1;
  const entries = [...snapshot.entries()].slice(0, 2).map(([key, market], i) => ({
    key,
    keyId: i + 1,
    version: 1000 + i,
    value: toBinary(MarketSchema, market),
  }));
  return { update: updateFields(tick, keyId), snapshot: { alias: 1, entries } };
}
