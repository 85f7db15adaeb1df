/**
 * The bandwidth proof (DESIGN §6–7): the reference workload — 10,000 ticks,
 * seed 1 — through the real encoder with all protocol framing, batched per
 * 100 ms of feed time, next to the alternatives a user would otherwise pick.
 * Byte counts are deterministic, so they are asserted exactly; the table in
 * docs/performance.md is printed by this test (`BANDWIDTH_TABLE=1`).
 */
import { constants, createDeflateRaw } from "node:zlib";
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { encodeBatch, packUpdates } from "deltaframe/codec";
import { encodeChange, KeyedState } from "deltaframe/delta";
import { type Frame, FrameSchema, UpdatesSchema } from "deltaframe/proto";
import {
  MarketSchema,
  MarketStatusChangedSchema,
  OddsFeed,
  type OddsTick,
  SelectionSchema,
} from "deltaframe/workload";
import { describe, expect, it } from "vitest";

const TICKS = 10_000;
const SEED = 1;
const BATCH_MS = 100;

function ticks(): OddsTick[] {
  const feed = new OddsFeed({ seed: SEED });
  return Array.from({ length: TICKS }, () => feed.next());
}

function changedSelectionsJson(tick: OddsTick): string {
  return JSON.stringify({
    market: tick.market.id,
    time: tick.timeMs,
    selections: tick.changedSelections.map((s) => toJson(SelectionSchema, s)),
    ...(tick.event ? { event: toJson(MarketStatusChangedSchema, tick.event) } : {}),
  });
}

/** Per-connection permessage-deflate with context takeover: one sync flush per message. */
async function deflateStreamBytes(messages: string[]): Promise<number> {
  const stream = createDeflateRaw({ level: 6, memLevel: 8, windowBits: 15 });
  let total = 0;
  stream.on("data", (chunk: Buffer) => {
    total += chunk.length;
  });
  for (const message of messages) {
    stream.write(message);
    await new Promise<void>((resolve) => stream.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    // permessage-deflate strips the trailing 00 00 ff ff of each sync flush (RFC 7692 §7.2.1).
    total -= 4;
  }
  stream.close();
  return total;
}

/**
 * deltaframe's server-to-client bytes: per 100 ms of feed time one transport
 * message holding an `Updates` frame (and `Event` frames in offset order),
 * offsets assigned as the hub assigns them (one per update and per event).
 */
function deltaframeBytes(all: OddsTick[]): { bytes: number; messages: number } {
  const feed = new OddsFeed({ seed: SEED });
  const state = new KeyedState(MarketSchema);
  let offset = 0n;
  for (const [key, value] of feed.snapshot()) state.set(key, value, ++offset);
  // The snapshot reflects every offset up to here; the live lane continues from it.
  let lastSeen = offset;
  let bytes = 0;
  let messages = 0;
  let batchStart = all[0]!.timeMs;
  let pending: OddsTick[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const frames: Frame[] = [];
    let run:
      | { keyIds: number[]; sizes: number[]; bodies: Uint8Array[]; first: bigint; implicit: boolean }
      | undefined;
    const endRun = () => {
      if (!run) return;
      const bodies = new Uint8Array(run.bodies.reduce((n, b) => n + b.length, 0));
      let at = 0;
      for (const b of run.bodies) {
        bodies.set(b, at);
        at += b.length;
      }
      frames.push(
        create(FrameSchema, {
          body: {
            case: "updates",
            value: packUpdates(
              create(UpdatesSchema, {
                alias: 1,
                // Implicit (0) when the run continues right after the last offset the client saw (protocol §6.1).
                firstOffset: run.implicit ? 0n : run.first,
                keyIds: run.keyIds,
                sizes: run.sizes,
                bodies,
              }),
            ),
          },
        }),
      );
      run = undefined;
    };
    for (const tick of pending) {
      const version = ++offset;
      const change = encodeChange(MarketSchema, tick.previous, tick.market);
      const keyId = state.set(tick.key, tick.market, version).keyId;
      run ??= { keyIds: [], sizes: [], bodies: [], first: version, implicit: version === lastSeen + 1n };
      lastSeen = version;
      run.keyIds.push(keyId);
      run.sizes.push((change.body.length << 2) | (change.kind === "patch" ? 1 : 0));
      run.bodies.push(change.body);
      if (tick.event) {
        endRun();
        lastSeen = ++offset;
        frames.push(
          create(FrameSchema, {
            body: {
              case: "event",
              value: {
                alias: 1,
                offset: lastSeen,
                payload: toBinary(MarketStatusChangedSchema, tick.event),
              },
            },
          }),
        );
      }
    }
    endRun();
    bytes += encodeBatch(frames).length;
    messages++;
    pending = [];
  };
  for (const tick of all) {
    if (tick.timeMs - batchStart >= BATCH_MS) {
      flush();
      batchStart = tick.timeMs;
    }
    pending.push(tick);
  }
  flush();
  return { bytes, messages };
}

describe(`bandwidth on the reference workload (${TICKS} ticks, seed ${SEED})`, () => {
  it("deltaframe needs the fewest bytes per tick, with every byte of framing counted", async () => {
    const all = ticks();
    const jsonMarket = all.reduce((n, t) => n + JSON.stringify(toJson(MarketSchema, t.market)).length, 0);
    const jsonChanged = all.map(changedSelectionsJson);
    const jsonChangedBytes = jsonChanged.reduce((n, s) => n + Buffer.byteLength(s), 0);
    const protoMarket = all.reduce((n, t) => n + toBinary(MarketSchema, t.market).length, 0);
    const deflated = await deflateStreamBytes(jsonChanged);
    const df = deltaframeBytes(all);

    const rows: [string, number][] = [
      ["JSON of the full market", jsonMarket],
      ["JSON of the changed selections", jsonChangedBytes],
      ["protobuf of the full market", protoMarket],
      ["JSON of the changed selections, per-connection deflate (context takeover)", deflated],
      ["deltaframe, batched per 100 ms, uncompressed, all framing", df.bytes],
    ];
    if (process.env.BANDWIDTH_TABLE) {
      const lines = ["| encoding | bytes | bytes per tick | vs deltaframe |", "|---|---:|---:|---:|"];
      for (const [name, bytes] of rows) {
        lines.push(
          `| ${name} | ${bytes} | ${(bytes / TICKS).toFixed(2)} | ${(bytes / df.bytes).toFixed(1)}× |`,
        );
      }
      lines.push(`| information floor (DESIGN §6) | ≈ ${3.1 * TICKS} | ≈ 3.1 | — |`);
      console.log(`${lines.join("\n")}\n(deltaframe transport messages: ${df.messages})`);
    }
    // The figures in docs/performance.md: change them together.
    expect({
      jsonMarket,
      jsonChangedBytes,
      protoMarket,
      deflated,
      deltaframe: df.bytes,
      messages: df.messages,
    }).toMatchInlineSnapshot(`
      {
        "deflated": 434972,
        "deltaframe": 99511,
        "jsonChangedBytes": 2170587,
        "jsonMarket": 16951222,
        "messages": 478,
        "protoMarket": 5155616,
      }
    `);
    // DESIGN §7: at most 10 bytes per tick, and 4× smaller than JSON through per-connection deflate.
    expect(df.bytes / TICKS).toBeLessThanOrEqual(10);
    expect(df.bytes * 4).toBeLessThanOrEqual(deflated);
  });
});
