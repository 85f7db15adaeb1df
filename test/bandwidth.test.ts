/**
 * The bandwidth proof (DESIGN §6–7): the reference workload — 10,000 ticks,
 * seed 1 — through the real encoder with all protocol framing, batched per
 * 100 ms of feed time, next to the alternatives a user would otherwise pick.
 * Byte counts are deterministic, so they are asserted exactly; the table in
 * docs/performance.md is printed by this test (`BANDWIDTH_TABLE=1`).
 */
import { constants, createDeflateRaw } from "node:zlib";
import { toBinary, toJson } from "@bufbuild/protobuf";
import { applyToReplica } from "deltaframe/adapters/ws";
import { Replica } from "deltaframe/delta";
import { Hub } from "deltaframe/hub";
import { ClientSession, ServerSession } from "deltaframe/session";
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
 * deltaframe's server-to-client bytes, as a real server sends them: a `Hub`
 * (one patch per tick, encoded once) and a `ServerSession` for one client
 * (`ClientSession`, in memory), with the batching of protocol §3 — a flush
 * 100 ms of feed time after the first change held back — and nothing left
 * out: every transport message the server sends after the client's snapshot
 * (marker, batch, frames, alias, offsets, key ids, sizes, shapes, events).
 * Returns the bytes, the messages, and whether the client's replica ended
 * equal to the hub's state.
 */
function deltaframeBytes(all: OddsTick[]): { bytes: number; messages: number; converged: boolean } {
  const feed = new OddsFeed({ seed: SEED });
  const hub = new Hub(MarketSchema, { stream: "odds" });
  for (const [key, value] of feed.snapshot()) hub.set(key, value);
  hub.flush(0);
  const server = new ServerSession(
    { streams: (name) => (name === hub.stream ? hub : undefined), randomBytes: (n) => new Uint8Array(n) },
    0,
  );
  hub.attach(server);
  const client = new ClientSession({ windowMessages: 65_536 });
  const replica = new Replica(MarketSchema);
  let counting = false;
  let bytes = 0;
  let messages = 0;
  const pump = (now: number) => {
    for (let moved = true; moved; ) {
      moved = false;
      for (let m = client.pollTransmit(); m !== undefined; m = client.pollTransmit()) {
        server.handleMessage(m, now);
        moved = true;
      }
      for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent()) {
        if (e.type === "authenticate") server.accept({}, now);
      }
      for (let m = server.pollTransmit(); m !== undefined; m = server.pollTransmit()) {
        if (counting) {
          bytes += m.length;
          messages++;
        }
        client.handleMessage(m, now);
        moved = true;
      }
      for (let e = client.pollEvent(); e !== undefined; e = client.pollEvent()) {
        applyToReplica(replica, client, e, now);
        moved = true;
      }
    }
  };
  client.connect(0);
  client.subscribe(hub.stream, {}, 0);
  pump(0);
  counting = true;
  let heldSince: number | undefined;
  for (const tick of all) {
    if (heldSince !== undefined && tick.timeMs - heldSince >= BATCH_MS) {
      hub.flush(tick.timeMs);
      pump(tick.timeMs);
      heldSince = undefined;
    }
    heldSince ??= tick.timeMs;
    hub.set(tick.key, tick.market);
    if (tick.event) hub.event(toBinary(MarketStatusChangedSchema, tick.event));
  }
  const end = all[all.length - 1]!.timeMs + BATCH_MS;
  hub.flush(end);
  pump(end);
  return { bytes, messages, converged: replica.stateHash() === hub.stateHash() };
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
    expect(df.converged).toBe(true);
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
        "deltaframe": 98168,
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
