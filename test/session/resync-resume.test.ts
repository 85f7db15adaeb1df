// What a client declares on resume after asking for keys again, and credit and
// subscriptions around cancellations (docs/protocol.md §7, §8, §11, §13).

import { SyncMode } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { SessionPair } from "./harness.js";
import { TestSource } from "./helpers.js";

describe("resync and resume", () => {
  it("a key asked for again is not declared held: a resume before the answer catches it up", () => {
    const p = new SessionPair();
    p.client.subscribe("s", {}, p.now);
    p.run();
    p.publish([p.source.set("k1", "a"), p.source.set("k2", "b")]);
    // The application could not apply k2 (missing base, hash mismatch): it drops it and asks again.
    p.replica.state.delete("k2");
    p.client.resync("s", ["k2"], 1, p.now);
    const { subscriptions } = p.client.resumeState();
    expect(subscriptions[0]).toMatchObject({ offset: 0n, held: [["k1", 1n]] });
    p.drop();
    p.reconnect();
    p.advance(100);
    const modes = p.serverOf("subscribed").map((e) => e.mode);
    expect(modes.at(-1)).toBe(SyncMode.CATCH_UP);
    expect(p.replica.snapshot()).toEqual(p.source.snapshot());
    // Once the key has come again, a resume is a replay again.
    expect(p.client.resumeState().subscriptions[0]!.offset).toBe(2n);
  });

  it("a whole-stream resync under way declares nothing held: a resume before it ends is a snapshot", () => {
    const p = new SessionPair({ client: { windowBytes: 250 } });
    p.client.subscribe("s", {}, p.now);
    p.run();
    p.publish([
      p.source.set("k1", "a".repeat(100)),
      p.source.set("k2", "b".repeat(100)),
      p.source.set("k3", "c".repeat(100)),
    ]);
    p.advance(100);
    // The application is busy: no credit returns while the resync snapshot is sent, so k3 waits.
    p.stalled = true;
    p.client.resync("s", [], 3, p.now);
    p.run();
    expect(p.client.resumeState().subscriptions[0]).toMatchObject({ epoch: 1n, offset: 0n, held: [] });
    p.drop();
    p.reconnect();
    p.stalled = false;
    p.advance(100);
    expect(
      p
        .serverOf("subscribed")
        .map((e) => e.mode)
        .at(-1),
    ).toBe(SyncMode.SNAPSHOT);
    expect(p.replica.snapshot()).toEqual(p.source.snapshot());
  });

  it("on a closed session, resync sends nothing and only forgets the keys, for the resume", () => {
    const p = new SessionPair();
    p.client.subscribe("s", {}, p.now);
    p.run();
    p.publish([p.source.set("k1", "a"), p.source.set("k2", "b")]);
    p.client.close(1000, "done", p.now);
    expect(() => p.client.resync("s", ["k2"], 3, p.now)).not.toThrow();
    expect(p.client.resumeState().subscriptions[0]).toMatchObject({ offset: 0n, held: [["k1", 1n]] });
  });
});

describe("subscriptions and credit around cancellations", () => {
  it("subscribe, unsubscribe and subscribe again before the first answer: the second waits for it", () => {
    const p = new SessionPair();
    p.run();
    p.source.set("k", "v0");
    p.client.subscribe("s", {}, p.now);
    p.client.unsubscribe("s", p.now);
    p.client.subscribe("s", {}, p.now);
    p.run();
    expect(p.server.error).toBeUndefined();
    expect(p.client.error).toBeUndefined();
    expect(p.replica.snapshot().get("k")).toBe("v0");
    p.publish([p.source.set("k", "v1")]);
    expect(p.replica.snapshot().get("k")).toBe("v1");
  });

  it("acknowledges data that arrives for an ended subscription, so other streams do not stall", () => {
    const sources = new Map([
      ["a", new TestSource()],
      ["b", new TestSource()],
    ]);
    const p = new SessionPair({ sources, latencyMs: 10, client: { windowMessages: 4 } });
    p.client.subscribe("a", {}, p.now);
    p.client.subscribe("b", {}, p.now);
    p.advance(100);
    const a = sources.get("a")!;
    const b = sources.get("b")!;
    // A full window in flight for "a" when the client leaves it.
    p.publish([a.set("x", "1"), a.set("x", "2"), a.set("x", "3"), a.set("x", "4")], "a");
    p.client.unsubscribe("a", p.now);
    p.advance(100);
    expect(p.client.credit.ackedMessages).toBe(p.client.credit.consumedMessages);
    p.publish([b.set("y", "1")], "b");
    // Within the ack delay (20 ms) and the link's latency, not at the next heartbeat (15 s).
    p.advance(100);
    expect(p.replica.snapshot().get("y")).toBe("1");
  });
});
