/**
 * End to end on the reference workload: a delta KeyedState behind the
 * session's KeyedSource adapter, a delta Replica on the client, batched per
 * 100 ms of feed time.
 */
import { equals, toBinary } from "@bufbuild/protobuf";
import { KeyedState, Replica } from "deltaframe/delta";
import { Capability } from "deltaframe/proto";
import { type ClientEvent, keyedSource, type PublishItem } from "deltaframe/session";
import { OddsFeed } from "deltaframe/workload";
import { describe, expect, it } from "vitest";
import { MarketSchema, MarketStatusChangedSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { SessionPair } from "./harness.js";

function setup(options: { hashes: boolean; windowMessages?: number }) {
  const feed = new OddsFeed({ seed: 7, marketCount: 50, selectionCount: 20 });
  const state = new KeyedState(MarketSchema, { diff: { preferAdd: true } });
  let offset = 0n;
  for (const [key, market] of feed.snapshot()) state.set(key, market, ++offset);
  const source = keyedSource(state, () => ({ epoch: 1n, offset }), { hashes: options.hashes });
  const pair = new SessionPair({
    sources: new Map([["odds", source]]),
    client: { windowMessages: options.windowMessages ?? 4096, windowBytes: 1 << 22 },
  });
  const replica = new Replica(MarketSchema);
  const resyncs: string[] = [];
  const apply = (e: ClientEvent) => {
    if (e.type === "snapshot-begin" && e.mode === 1) replica.clear();
    if (e.type === "snapshot") {
      for (const x of e.entries)
        replica.applyUpdate({ key: x.key, kind: "full", version: x.version, body: x.value });
      for (const k of e.removed) replica.delete(k);
    }
    if (e.type === "update") {
      const r = replica.applyUpdate({
        key: e.key,
        kind: e.kind,
        version: e.version,
        body: e.body,
        baseVersion: e.base,
        hash: e.hash,
      });
      if (r.type === "resync") resyncs.push(e.key);
    }
  };
  const tick = (): PublishItem[] => {
    const t = feed.next();
    const held = state.get(t.key)!.version;
    state.set(t.key, t.market, ++offset);
    const c = state.changeFor(t.key, held)!;
    if (c.kind === "remove") throw new Error("unexpected removal");
    const items: PublishItem[] = [
      {
        type: "change",
        key: t.key,
        offset,
        kind: c.kind,
        body: c.body,
        ...(c.kind === "patch" ? { base: c.baseVersion } : {}),
        ...(options.hashes ? { hash: state.hashOf(t.key)! } : {}),
      },
    ];
    if (t.event)
      items.push({ type: "event", offset: ++offset, payload: toBinary(MarketStatusChangedSchema, t.event) });
    return items;
  };
  return { feed, state, pair, replica, resyncs, apply, tick };
}

function converged(state: KeyedState<typeof MarketSchema>, replica: Replica<typeof MarketSchema>): boolean {
  if (state.size !== replica.size) return false;
  for (const e of state) {
    const r = replica.get(e.key);
    if (r === undefined || r.version !== e.version || !equals(MarketSchema, r.value, e.value)) return false;
  }
  return true;
}

describe("odds workload end to end", () => {
  it("the replica converges through snapshot and batched live patches; bytes per tick", () => {
    const { pair, state, replica, resyncs, apply, tick } = setup({ hashes: false });
    pair.client.subscribe("odds", {}, pair.now);
    pair.run();
    pair.clientEvents.forEach(apply);
    expect(converged(state, replica)).toBe(true);
    const before = pair.server.metrics.bytesOut;
    const seen = pair.clientEvents.length;
    let ticks = 0;
    // 20 windows of 100 ms at a mean of 5 ms per tick: publish each tick, transmit once per window.
    for (let w = 0; w < 20; w++) {
      for (let i = 0; i < 20; i++, ticks++) pair.server.publish("odds", tick(), pair.now);
      pair.advance(100);
    }
    pair.clientEvents.slice(seen).forEach(apply);
    expect(resyncs).toEqual([]);
    expect(converged(state, replica)).toBe(true);
    const perTick = (pair.server.metrics.bytesOut - before) / ticks;
    // Deterministic (seeded feed): all framing included, uncompressed, one transport message per 100 ms.
    expect(pair.server.metrics.bytesOut - before).toMatchInlineSnapshot(`3890`);
    // Shaped patches (docs/protocol.md §6.3): operation headers once per frame, operands per tick.
    expect(perTick).toBeLessThan(11);
  });

  it("hashes ride along when negotiated and the replica checks them", () => {
    const { pair, state, replica, resyncs, apply, tick } = setup({ hashes: true });
    pair.client.subscribe("odds", {}, pair.now);
    pair.run();
    for (let i = 0; i < 50; i++) pair.server.publish("odds", tick(), pair.now);
    pair.run();
    pair.clientEvents.forEach(apply);
    expect(pair.clientOf("welcome")[0]!.capabilities & Capability.HASH).toBe(Capability.HASH);
    expect(pair.clientOf("update").every((u) => u.hash !== undefined)).toBe(true);
    // The full snapshot ended with the state hash, which the replica reproduced before the live updates.
    const end = pair.clientOf("snapshot-end")[0]!;
    expect(end.hash).not.toBe(0n);
    const check = new Replica(MarketSchema);
    for (const c of pair.clientOf("snapshot"))
      for (const x of c.entries)
        check.applyUpdate({ key: x.key, kind: "full", version: x.version, body: x.value });
    expect(check.stateHash()).toBe(end.hash);
    expect(resyncs).toEqual([]);
    expect(converged(state, replica)).toBe(true);
  });

  it("a slow consumer is conflated to one patch per market and still converges", () => {
    const { pair, state, replica, apply, tick } = setup({ hashes: false, windowMessages: 8 });
    pair.client.subscribe("odds", {}, pair.now);
    pair.run();
    pair.stalled = true;
    for (let i = 0; i < 1000; i++) pair.server.publish("odds", tick(), pair.now);
    pair.run();
    expect(pair.server.queueSizes()[0]!.dirtyKeys).toBeLessThanOrEqual(50);
    pair.stalled = false;
    pair.advance(50);
    pair.clientEvents.forEach(apply);
    expect(converged(state, replica)).toBe(true);
    expect(pair.server.metrics.conflatedUpdates).toBeGreaterThan(900);
  });
});
