/**
 * Seeded 100 ms batches of the reference workload (DESIGN §6):
 *
 * - {@link sessionBatches}: what a real server session sends, the hub and
 *   session layers driven in memory, one transport message per 100 ms;
 * - {@link referenceBatches}: built with the delta layer and the frame codec
 *   alone (one `Updates` frame with one plain patch per tick, then the
 *   events), with the columns kept, so that a bench can re-frame them.
 *
 * @module
 */
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import {
  encodeBatchFromEncodedFrames,
  encodeFrame,
  MARKER_PLAIN,
  MARKER_SINGLE,
  unframeBatch,
} from "deltaframe/codec";
import { encodeChange } from "deltaframe/delta";
import { EventSchema, FrameSchema, UpdatesSchema } from "deltaframe/proto";
import {
  MarketSchema,
  MarketStatusChangedSchema,
  OddsFeed,
  type OddsTick,
  SelectionSchema,
} from "deltaframe/workload";
import { referenceHub, SessionPair } from "./session-pair.js";

/** Batching interval of the reference figures, in milliseconds (DESIGN §7). */
export const BATCH_MS = 100;

/** A sequence of `Batch` bytes (no marker) and what they carry. */
export interface BatchStream {
  /** `Batch` bytes, one per 100 ms with at least one tick. */
  batches: Uint8Array[];
  /** Ticks carried. */
  ticks: number;
  /** The `Updates` columns of each batch, to re-frame them per subscriber. */
  updates: { firstOffset: number; keyIds: number[]; sizes: number[]; bodies: Uint8Array }[];
  /** The encoded `Event` frames of each batch. */
  events: Uint8Array[][];
  /** Per tick, the JSON an unoptimised server would send: the market id, time and changed selections. */
  json: string[];
}

/** Returns the batches of the first `seconds` of feed time of the seeded feed. */
export function referenceBatches(seed: number, seconds: number): BatchStream {
  const feed = new OddsFeed({ seed });
  const keyIds = new Map(feed.keys.map((k, i) => [k, i + 1]));
  const endMs = feed.timeMs + seconds * 1000;
  const batches: Uint8Array[] = [];
  const json: string[] = [];
  const columns: BatchStream["updates"] = [];
  const eventFrames: Uint8Array[][] = [];
  let ticks = 0;
  let offset = 1;
  let windowEnd = feed.timeMs + BATCH_MS;
  let pending: ReturnType<OddsFeed["next"]>[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const keys: number[] = [];
    const sizes: number[] = [];
    const bodies: Uint8Array[] = [];
    const events: Uint8Array[] = [];
    const first = offset;
    for (const tick of pending) {
      const change = encodeChange(MarketSchema, tick.previous, tick.market);
      keys.push(keyIds.get(tick.key)!);
      sizes.push((change.body.length << 2) | (change.kind === "patch" ? 1 : 0));
      bodies.push(change.body);
      offset++;
    }
    for (const tick of pending) {
      if (tick.event === undefined) continue;
      events.push(
        encodeFrame(
          create(FrameSchema, {
            body: {
              case: "event",
              value: create(EventSchema, {
                alias: 1,
                offset: BigInt(offset++),
                payload: toBinary(MarketStatusChangedSchema, tick.event),
              }),
            },
          }),
        ),
      );
    }
    let size = 0;
    for (const b of bodies) size += b.length;
    const all = new Uint8Array(size);
    let pos = 0;
    for (const b of bodies) {
      all.set(b, pos);
      pos += b.length;
    }
    const updates = encodeFrame(
      create(FrameSchema, {
        body: {
          case: "updates",
          value: create(UpdatesSchema, {
            alias: 1,
            firstOffset: BigInt(first),
            keyIds: keys,
            sizes,
            bodies: all,
          }),
        },
      }),
    );
    batches.push(encodeBatchFromEncodedFrames([updates, ...events]));
    columns.push({ firstOffset: first, keyIds: keys, sizes, bodies: all });
    eventFrames.push(events);
    pending = [];
  };
  for (;;) {
    const tick = feed.next();
    if (tick.timeMs > endMs) break;
    while (tick.timeMs > windowEnd) {
      flush();
      windowEnd += BATCH_MS;
    }
    pending.push(tick);
    ticks++;
    json.push(tickJson(tick));
  }
  flush();
  return { batches, ticks, json, updates: columns, events: eventFrames };
}

/** The JSON an unoptimised server sends for one tick: the market id, time and changed selections. */
export function tickJson(tick: OddsTick): string {
  return JSON.stringify({
    market: tick.market.id,
    timeMs: Number(tick.market.lastChangeMs),
    selections: tick.changedSelections.map((s) => toJson(SelectionSchema, s)),
  });
}

/** What a server session sent for a span of the feed. */
export interface SessionStream {
  /** `Batch` bytes of each transport message after the snapshot (all are sent plain). */
  batches: Uint8Array[];
  /** The transport messages themselves, as sent (a single frame without the `Batch` wrapper). */
  messages: Uint8Array[];
  /** Ticks carried. */
  ticks: number;
  /** Per tick, the JSON an unoptimised server would send. */
  json: string[];
}

/**
 * Returns the transport messages a ServerSession sends to one synced client
 * for the first `seconds` of feed time after the snapshot: every tick goes
 * through a Hub, the hub is flushed 100 ms after the first change held back, and the
 * client consumes and acks (window 65,536 messages, so nothing is
 * conflated).
 */
export function sessionBatches(seed: number, seconds: number): SessionStream {
  const { hub, feed } = referenceHub(seed);
  const pair = new SessionPair(seed, { hub, windowMessages: 65_536 });
  pair.settle(100);
  const batches: Uint8Array[] = [];
  const messages: Uint8Array[] = [];
  pair.onServerMessage = (m) => {
    if (m[0] !== MARKER_PLAIN && m[0] !== MARKER_SINGLE) throw new Error("session sent a compressed message");
    batches.push(unframeBatch(m));
    messages.push(m);
  };
  const json: string[] = [];
  const start = feed.timeMs;
  const endMs = start + seconds * 1000;
  // Protocol §3 batching, as test/bandwidth.test.ts: a flush BATCH_MS after the first change held back.
  let heldSince: number | undefined;
  let ticks = 0;
  const flush = (atMs: number): void => {
    const now = 100 + (atMs - start);
    hub.flush(now);
    pair.settle(now);
  };
  for (;;) {
    const tick = feed.next();
    if (tick.timeMs > endMs) break;
    if (heldSince !== undefined && tick.timeMs - heldSince >= BATCH_MS) {
      flush(tick.timeMs);
      heldSince = undefined;
    }
    heldSince ??= tick.timeMs;
    hub.set(tick.key, tick.market);
    if (tick.event !== undefined) hub.event(toBinary(MarketStatusChangedSchema, tick.event));
    ticks++;
    json.push(tickJson(tick));
  }
  flush(endMs + BATCH_MS);
  return { batches, messages, ticks, json };
}
