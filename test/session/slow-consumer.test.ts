import { SlowPolicy, SyncMode } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { SessionPair } from "./harness.js";

function subscribed(pair: SessionPair, options = {}) {
  pair.client.subscribe("s", options, pair.now);
  pair.run();
}

describe("conflation of keyed state", () => {
  it("keeps one pending change per key while stalled, then converges with one update per key", () => {
    const pair = new SessionPair({ client: { windowMessages: 4 } });
    const src = pair.source;
    subscribed(pair);
    pair.stalled = true;
    for (let round = 0; round < 100; round++) {
      pair.publish([src.set(`k${round % 10}`, `v${round}`)]);
    }
    const sizes = pair.server.queueSizes()[0]!;
    expect(sizes.dirtyKeys).toBeLessThanOrEqual(10);
    expect(sizes.queuedEvents).toBe(0);
    expect(pair.client.credit.recvMessages).toBe(4);
    pair.stalled = false;
    pair.run();
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
    const updates = pair.clientOf("update");
    // 4 sent before the stall took hold, then one per key.
    expect(updates.length).toBe(4 + 10);
    const skipped = pair.clientOf("skipped").reduce((n, s) => n + s.conflatedUpdates, 0n);
    expect(skipped).toBe(86n);
    expect(pair.server.metrics.conflatedUpdates).toBe(86);
    // Never reordered: versions strictly increase on the wire.
    const versions = updates.map((u) => u.version);
    expect([...versions].sort((a, b) => (a < b ? -1 : 1))).toEqual(versions);
  });

  it("sends the latest of a conflated key as a patch from the version the client holds", () => {
    const pair = new SessionPair({ client: { windowMessages: 2 } });
    const src = pair.source;
    src.set("a", "a0");
    subscribed(pair);
    pair.stalled = true;
    pair.publish([src.set("b", "b0"), src.set("c", "c0")]);
    pair.publish([src.set("a", "a1"), src.set("a", "a2"), src.set("a", "a3")]);
    pair.stalled = false;
    pair.run();
    const last = pair.clientOf("update").at(-1)!;
    expect(last).toMatchObject({ key: "a", kind: "patch", version: src.offset });
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
  });

  it("a key created and removed while stalled costs nothing and is counted", () => {
    const pair = new SessionPair({ client: { windowMessages: 1 } });
    const src = pair.source;
    subscribed(pair);
    pair.stalled = true;
    pair.publish([src.set("x", "1")]);
    pair.publish([src.set("t", "1"), src.remove("t")]);
    pair.stalled = false;
    pair.run();
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.clientOf("update").map((u) => u.key)).toEqual(["x"]);
    expect(pair.clientOf("skipped").reduce((n, s) => n + s.conflatedUpdates, 0n)).toBe(2n);
  });
});

describe("events under a slow consumer", () => {
  it("SLOW_POLICY_DROP_OLDEST drops the oldest beyond the bound and counts them", () => {
    const pair = new SessionPair({ client: { windowMessages: 2 } });
    const src = pair.source;
    subscribed(pair, { policy: SlowPolicy.DROP_OLDEST, maxBufferedEvents: 5 });
    pair.stalled = true;
    const items = [];
    for (let i = 0; i < 20; i++) items.push(src.event(`e${i}`));
    pair.publish(items);
    expect(pair.server.queueSizes()[0]!.queuedEvents).toBe(5);
    pair.stalled = false;
    pair.run();
    // 2 sent within credit, 13 dropped, the newest 5 kept.
    expect(pair.replica.events).toEqual(["e0", "e1", "e15", "e16", "e17", "e18", "e19"]);
    expect(pair.clientOf("skipped").reduce((n, s) => n + s.droppedEvents, 0n)).toBe(13n);
    expect(pair.server.metrics.droppedEvents).toBe(13);
  });

  it.each([SlowPolicy.BUFFER_THEN_CLOSE, SlowPolicy.CONFLATE])(
    "policy %s ends the subscription with 4009 when the buffer is full",
    (policy) => {
      const pair = new SessionPair({ client: { windowMessages: 1 } });
      const src = pair.source;
      subscribed(pair, { policy, maxBufferedEvents: 3 });
      pair.stalled = true;
      // At the bound: 1 sent, 3 buffered — still subscribed.
      pair.publish([src.event("a"), src.event("b"), src.event("c"), src.event("d")]);
      expect(pair.server.subscriptionCount).toBe(1);
      // One past the bound.
      pair.publish([src.event("e")]);
      expect(pair.server.subscriptionCount).toBe(0);
      pair.stalled = false;
      pair.run();
      expect(pair.clientOf("unsubscribed")[0]).toMatchObject({ stream: "s", code: 4009 });
      expect(pair.client.state).toBe("open");
    },
  );
});

describe("max staleness and max rate", () => {
  it("ends the subscription with 4009 when a conflated key waits longer than max staleness", () => {
    const pair = new SessionPair({ client: { windowMessages: 1 } });
    const src = pair.source;
    subscribed(pair, { maxStalenessMs: 1000 });
    pair.stalled = true;
    pair.publish([src.set("a", "1"), src.set("b", "1")]);
    pair.advance(999);
    expect(pair.server.subscriptionCount).toBe(1);
    pair.advance(1);
    expect(pair.server.subscriptionCount).toBe(0);
    pair.stalled = false;
    pair.run();
    expect(pair.clientOf("unsubscribed")[0]!.code).toBe(4009);
  });

  it("limits updates per key per second and conflates the rest", () => {
    const pair = new SessionPair();
    const src = pair.source;
    subscribed(pair, { maxRateHz: 10 });
    pair.publish([src.set("a", "1")]);
    pair.publish([src.set("a", "2")]);
    pair.publish([src.set("a", "3")]);
    expect(pair.clientOf("update")).toHaveLength(1);
    pair.advance(99);
    expect(pair.clientOf("update")).toHaveLength(1);
    pair.advance(1);
    expect(pair.clientOf("update")).toHaveLength(2);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.clientOf("skipped").reduce((n, s) => n + s.conflatedUpdates, 0n)).toBe(1n);
  });
});

describe("resync", () => {
  it("resends named keys as a catch-up snapshot and the whole stream as a snapshot", () => {
    const pair = new SessionPair();
    const src = pair.source;
    src.set("a", "1");
    src.set("b", "1");
    subscribed(pair);
    pair.replica.state.delete("a");
    pair.client.resync("s", ["a"], 1, pair.now);
    pair.run();
    const begins = pair.clientOf("snapshot-begin");
    expect(begins.at(-1)!.mode).toBe(SyncMode.CATCH_UP);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.serverOf("resync")[0]).toMatchObject({ stream: "s", keys: ["a"], reason: 1 });
    pair.replica.state.clear();
    pair.client.resync("s", [], 2, pair.now);
    pair.run();
    expect(pair.clientOf("snapshot-begin").at(-1)!.mode).toBe(SyncMode.SNAPSHOT);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    // Live updates continue without a gap after a resync.
    pair.publish([src.set("a", "2")]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
  });
});
