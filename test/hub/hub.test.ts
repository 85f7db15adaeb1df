import { hash } from "deltaframe/delta";
import { Hub } from "deltaframe/hub";
import type { KeyedSource } from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { describe, expect, it } from "vitest";
import { Pair, seededHub } from "./pair.js";

describe("Hub", () => {
  it("gives every session in lockstep byte-identical transport messages", () => {
    const { hub, feed } = seededHub(1);
    const pairs = [new Pair(hub, hub, 1), new Pair(hub, hub, 100), new Pair(hub, hub, 200)];
    for (const p of pairs) p.pump(1);
    for (const p of pairs) p.recording = true;
    for (let i = 0; i < 300; i++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
      if (tick.event) hub.event(new Uint8Array([i & 0xff]));
      if (i % 10 === 9) {
        hub.flush(2);
        for (const p of pairs) p.pump(2);
      }
    }
    const [a, b, c] = pairs.map((p) => p.recorded);
    expect(a!.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    for (const p of pairs) expect(p.replica.stateHash()).toBe(hub.stateHash());
  });

  it("encodes each (key, base version, version) change once, not once per subscriber", () => {
    const { hub, feed } = seededHub(2);
    const triples = new Set<string>();
    const record = (key: string, base: bigint | undefined) =>
      triples.add(`${key}/${base}/${hub.state.get(key)?.version}`);
    for (const entry of hub.state) record(entry.key, undefined);
    // A source that records what the sessions ask for, in front of the hub.
    const source: KeyedSource = {
      get epoch() {
        return hub.epoch;
      },
      get offset() {
        return hub.offset;
      },
      keys: () => hub.keys(),
      get: (key) => hub.get(key),
      change: (key, held) => {
        const c = hub.change(key, held);
        if (c !== undefined && c.kind !== "remove")
          record(key, hub.state.valueAt(key, held ?? -1n) ? held : undefined);
        return c;
      },
    };
    const fast = Array.from({ length: 8 }, (_, i) => new Pair(hub, source, i * 20));
    // Two slow consumers: tiny windows, consumed late, so their keys are conflated.
    const slow = [0, 1].map((i) => new Pair(hub, source, 200 + i, { windowMessages: 4, autoConsume: false }));
    const all = [...fast, ...slow];
    for (const p of all) p.pump(1);
    const encodedBefore = hub.metrics.changesEncoded;
    expect(encodedBefore).toBe(200);
    let updates = 0;
    for (let i = 0; i < 400; i++) {
      const tick = feed.next();
      const base = hub.state.get(tick.key)!.version;
      hub.set(tick.key, tick.market);
      record(tick.key, base);
      updates++;
      if (i % 20 === 19) {
        hub.flush(2);
        for (const p of all) p.pump(2);
      }
    }
    // The slow consumers catch up now: consume everything delivered, repeatedly.
    for (let round = 0; round < 500; round++) {
      let consumed = 0;
      for (const p of slow) {
        const n = p.client.unconsumedCount;
        if (n > 0) p.client.consume(n, 3);
        consumed += n;
        p.pump(3);
      }
      if (consumed === 0) break;
    }
    for (const p of all) expect(p.replica.stateHash()).toBe(hub.stateHash());
    const conflated = slow.reduce((n, p) => n + p.server.metrics.conflatedUpdates, 0);
    expect(conflated).toBeGreaterThan(0);
    expect(hub.metrics.changesEncoded).toBe(triples.size);
    expect(hub.metrics.changesEncoded).toBeLessThan(encodedBefore + updates + 200 * slow.length);
    expect(hub.metrics.deliveries).toBeGreaterThanOrEqual(updates * all.length);
  });

  it("appends every change and event to the retained log, in offset order", () => {
    const { hub, feed } = seededHub(3);
    const tick = feed.next();
    const change = hub.set(tick.key, tick.market);
    const event = hub.event(new Uint8Array([1, 2, 3]));
    expect(change.offset).toBe(201n);
    expect(event.offset).toBe(202n);
    expect(hub.log.read(hub.stream, 201n, 10)).toEqual([change, event]);
    expect(change.kind).toBe("patch");
    expect(change.base).toBeLessThan(change.offset);
  });

  it("publishes removals, and serves the removal to a receiver that held the key", () => {
    const { hub } = seededHub(4);
    const [first] = hub.keys();
    const held = hub.state.get(first!)!.version;
    const item = hub.remove(first!)!;
    expect(item).toMatchObject({ kind: "remove", body: new Uint8Array(0) });
    expect(hub.change(first!, held)).toEqual({
      kind: "remove",
      version: item.offset,
      body: new Uint8Array(0),
    });
    expect(hub.change(first!, undefined)).toBeUndefined();
    expect(hub.remove(first!)).toBeUndefined();
  });

  it("rejects a bad stream name or epoch with DF_ERR_INVALID_ARGUMENT", () => {
    for (const options of [{ stream: "" }, { stream: "x".repeat(257) }, { epoch: 0n }]) {
      try {
        new Hub(MarketSchema, options);
        expect.unreachable();
      } catch (error) {
        expect(error).toMatchObject({
          name: "DeltaframeError",
          code: "DF_ERR_INVALID_ARGUMENT",
          closeCode: 1011,
        });
      }
    }
    expect(new Hub(MarketSchema, { stream: "x".repeat(256) }).stream).toHaveLength(256);
  });

  it("attaches the canonical hash of the result when hashes are on, and clients check it", () => {
    const hub = new Hub(MarketSchema, { stream: "odds/test", hashes: true });
    const feed = new OddsFeed({ seed: 6 });
    for (const [key, market] of feed.snapshot()) hub.set(key, market);
    hub.flush(0);
    const pair = new Pair(hub, hub, 1);
    pair.pump(1);
    for (let i = 0; i < 50; i++) {
      const tick = feed.next();
      const item = hub.set(tick.key, tick.market);
      expect(item.hash).toBe(hash(MarketSchema, tick.market));
    }
    hub.flush(2);
    pair.pump(2);
    const updates = pair.events.filter((e) => e.type === "update");
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.every((e) => e.type === "update" && e.hash !== undefined)).toBe(true);
    expect(pair.replica.stateHash()).toBe(hub.stateHash());
    expect(new Hub(MarketSchema).set("k", feed.next().market).hash).toBeUndefined();
  });

  it("isolates subscribers: one that throws is detached and closed with 1011, the others go on", () => {
    const { hub, feed } = seededHub(30);
    const before = new Pair(hub, hub, 1);
    let closedWith: number | undefined;
    let failures = 0;
    hub.attach(
      {
        publish() {},
        close(code) {
          closedWith = code;
        },
      },
      () => {
        failures++;
        throw new Error("write failed");
      },
    );
    const after = new Pair(hub, hub, 2);
    const framing = new Pair(hub, hub, 3, { ownFraming: true });
    const pairs = [before, after, framing];
    for (const p of pairs) p.pump(1);
    const thrown: unknown[] = [];
    for (let f = 0; f < 4; f++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
      try {
        hub.flush(2 + f);
      } catch (error) {
        thrown.push(error);
      }
      for (const p of pairs) p.pump(2 + f);
    }
    // Thrown once, by the first flush; detached, so later flushes do not reach it.
    expect(thrown).toEqual([new Error("write failed")]);
    expect(failures).toBe(2); // its own throw, then once more while being detached (ignored)
    expect(closedWith).toBe(1011);
    expect(hub.metrics.subscriberErrors).toBe(1);
    expect(hub.subscriberCount).toBe(3);
    for (const p of pairs) {
      expect(p.client.error).toBeUndefined();
      expect(p.replica.stateHash()).toBe(hub.stateHash());
    }
  });
});
