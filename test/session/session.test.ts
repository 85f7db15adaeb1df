import { Capability, SyncMode } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { SessionPair } from "./harness.js";
import type { TestSource } from "./helpers.js";

function fill(src: TestSource, n: number) {
  const items = [];
  for (let i = 0; i < n; i++) items.push(src.set(`k${i}`, `v${i}`));
  return items;
}

describe("handshake", () => {
  it("negotiates version, capabilities and windows, echoed in welcome", () => {
    const pair = new SessionPair({
      client: {
        windowMessages: 10_000_000,
        windowBytes: 100,
        capabilities: Capability.HASH | Capability.DEFLATE,
      },
      server: { maxWindowMessages: 500 },
    });
    pair.run();
    const auth = pair.serverOf("authenticate");
    expect(auth).toHaveLength(1);
    expect(auth[0]!.version).toBe(1);
    const [welcome] = pair.clientOf("welcome");
    expect(welcome).toMatchObject({
      version: 1,
      capabilities: Capability.HASH,
      windowMessages: 500,
      windowBytes: 100,
    });
    expect(pair.server.state).toBe("open");
    expect(pair.client.state).toBe("open");
  });

  it("announces an unlimited message size (Infinity) as the largest uint32", () => {
    const pair = new SessionPair({ server: { limits: { maxMessageBytes: Number.POSITIVE_INFINITY } } });
    pair.run();
    const welcome = pair.clientOf("welcome");
    expect(welcome).toHaveLength(1);
    expect(welcome[0]!.maxMessageBytes).toBe(0xffff_ffff);
  });

  it("picks the first offered version the server speaks", () => {
    const pair = new SessionPair({ client: { versions: [7, 1] } });
    pair.run();
    expect(pair.clientOf("welcome")[0]!.version).toBe(1);
  });

  it("lets the application decide later (async accept)", () => {
    const pair = new SessionPair({ autoAccept: false });
    pair.run();
    expect(pair.server.state).toBe("authenticating");
    pair.advance(500);
    pair.server.accept({}, pair.now);
    pair.run();
    expect(pair.client.state).toBe("open");
  });

  it("rejects with a close code after an authenticate event", () => {
    const pair = new SessionPair({ autoAccept: false });
    pair.run();
    pair.server.reject(4003, "bad credentials", pair.now);
    pair.run();
    expect(pair.server.state).toBe("closed");
    expect(pair.client.state).toBe("closed");
    expect(pair.clientOf("closed")[0]).toMatchObject({ initiator: "remote", code: 4003 });
  });
});

describe("subscribe, snapshot, live updates", () => {
  it("delivers a snapshot then live updates with no gap and no duplicate", () => {
    const pair = new SessionPair();
    const src = pair.source;
    fill(src, 50);
    pair.run();
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    const sub = pair.clientOf("subscribed")[0]!;
    expect(sub.mode).toBe(SyncMode.SNAPSHOT);
    expect(sub.offset).toBe(50n);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    pair.publish([src.set("k1", "x"), src.set("new", "y"), src.remove("k2"), src.event("e1")]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.events).toEqual(["e1"]);
    expect(pair.replica.problems).toEqual([]);
    const versions = pair.clientOf("update").map((u) => u.version);
    expect(versions).toEqual([51n, 52n, 53n]);
  });

  it("publishes that raced the snapshot are not duplicated", () => {
    const pair = new SessionPair();
    const src = pair.source;
    pair.run();
    const early = fill(src, 5);
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    // The application publishes after the snapshot was taken: already covered.
    pair.publish(early);
    expect(pair.clientOf("update")).toHaveLength(0);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
  });

  it("chunks a large snapshot by the byte budget", () => {
    const pair = new SessionPair({ server: { snapshotChunkBytes: 1000 } });
    const src = pair.source;
    for (let i = 0; i < 100; i++) src.set(`k${i}`, "x".repeat(100));
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    const chunks = pair.clientOf("snapshot");
    expect(chunks.length).toBeGreaterThanOrEqual(10);
    for (const c of chunks) expect(c.entries.length).toBeLessThanOrEqual(9);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
  });
});

describe("credit", () => {
  it("never sends beyond the window, and resumes as the client consumes", () => {
    const pair = new SessionPair({ client: { windowMessages: 8, autoConsume: false } });
    const src = pair.source;
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    const items = [];
    for (let i = 0; i < 20; i++) items.push(src.event(`e${i}`));
    pair.publish(items);
    expect(pair.client.credit.recvMessages).toBe(8);
    expect(pair.server.metrics.creditStalls).toBe(1);
    pair.client.consume(pair.client.unconsumedCount, pair.now);
    pair.run();
    expect(pair.client.credit.recvMessages).toBe(16);
    pair.client.consume(pair.client.unconsumedCount, pair.now);
    pair.run();
    expect(pair.replica.events).toEqual(items.map((_, i) => `e${i}`));
    expect(pair.serverOf("writable")).toHaveLength(1);
  });

  it("coalesces acks: one per half window, or after the ack delay", () => {
    const pair = new SessionPair({ client: { windowMessages: 100, ackDelayMs: 20 } });
    const src = pair.source;
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    const items = [];
    for (let i = 0; i < 120; i++) items.push(src.event(`e${i}`));
    pair.publish(items);
    // 120 consumed: acks at 50 and 100 consumed; the last 20 wait for the delay.
    expect(pair.client.metrics.acksOut).toBe(2);
    pair.advance(20);
    expect(pair.client.metrics.acksOut).toBe(3);
    expect(pair.server.metrics.acksIn).toBe(3);
  });

  it("sends a message larger than the byte window when nothing is outstanding", () => {
    const pair = new SessionPair({ client: { windowBytes: 16 } });
    const src = pair.source;
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    pair.publish([src.event("x".repeat(100)), src.event("y".repeat(100))]);
    expect(pair.replica.events).toHaveLength(2);
    expect(pair.client.state).toBe("open");
  });
});

describe("close", () => {
  it("closes with code and hint; nothing is emitted afterwards", () => {
    const pair = new SessionPair();
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    pair.server.close(1012, "restart", pair.now, { retryAfterMs: 500, jitterMs: 100 });
    pair.run();
    expect(pair.clientOf("closed")[0]).toMatchObject({
      initiator: "remote",
      code: 1012,
      retryAfterMs: 500,
      jitterMs: 100,
    });
    expect(pair.server.pollTransmit()).toBeUndefined();
    pair.server.publish("s", [pair.source.event("late")], pair.now);
    expect(pair.server.pollTransmit()).toBeUndefined();
    expect(pair.client.pollTransmit()).toBeUndefined();
    expect(pair.server.pollTimeout()).toBeUndefined();
  });
});

describe("window changes", () => {
  it("setWindow grows or shrinks the server's window through an ack", () => {
    const pair = new SessionPair({ client: { windowMessages: 2, autoConsume: false } });
    const src = pair.source;
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    const items = [];
    for (let i = 0; i < 30; i++) items.push(src.event(`e${i}`));
    pair.publish(items);
    expect(pair.client.credit.recvMessages).toBe(2);
    pair.client.setWindow(10, 1 << 20, pair.now);
    pair.run();
    expect(pair.client.credit.recvMessages).toBe(10);
    pair.client.consume(10, pair.now);
    pair.client.setWindow(3, 1 << 20, pair.now);
    pair.run();
    expect(pair.client.credit.recvMessages).toBe(13);
    expect(pair.client.state).toBe("open");
    expect(() => pair.client.setWindow(0, 1, pair.now)).toThrow();
  });
});
