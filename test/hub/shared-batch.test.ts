import { fc } from "@fast-check/vitest";
import { Capability, SyncMode } from "deltaframe/proto";
import {
  InMemoryRetainedLog,
  MAX_SHARED_VARIANTS,
  type PublishItem,
  SharedBatch,
  type SharedWire,
} from "deltaframe/session";
import { describe, expect, it } from "vitest";
import { Pair, type PairOptions, seededHub } from "./pair.js";

describe("shared batches", () => {
  it("sessions in lockstep send the very messages the hub encoded once per flush", () => {
    const { hub, feed } = seededHub(1);
    const pairs = [new Pair(hub, hub, 1), new Pair(hub, hub, 100), new Pair(hub, hub, 200)];
    for (const p of pairs) p.pump(1);
    for (const p of pairs) p.recording = true;
    const encodedBefore = hub.metrics.batchMessagesEncoded;
    const sharedBefore = hub.metrics.sharedDeliveries;
    let flushes = 0;
    for (let i = 0; i < 300; i++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
      if (tick.event) hub.event(new Uint8Array([i & 0xff]));
      if (i % 10 === 9) {
        hub.flush(2);
        flushes++;
        for (const p of pairs) p.pump(2);
      }
    }
    const [a, b, c] = pairs.map((p) => p.recorded);
    expect(a!.length).toBe(flushes);
    for (let i = 0; i < a!.length; i++) {
      // Not equal bytes: the same array, encoded once.
      expect(b![i]).toBe(a![i]);
      expect(c![i]).toBe(a![i]);
    }
    expect(hub.metrics.batchMessagesEncoded - encodedBefore).toBe(flushes);
    expect(hub.metrics.sharedDeliveries - sharedBefore).toBe(flushes * pairs.length);
    for (const p of pairs) {
      expect(p.server.metrics.sharedMessagesOut).toBe(flushes);
      expect(p.replica.stateHash()).toBe(hub.stateHash());
    }
  });

  it("compresses each flush once when compression is on, and every session sends those bytes", () => {
    const { hub, feed } = seededHub(11);
    const capabilities = Capability.HASH | Capability.DEFLATE;
    const options: Partial<PairOptions> = {
      client: { capabilities, compressThresholdBytes: 64 },
      server: { capabilities, compressThresholdBytes: 64 },
    };
    const pairs = [1, 2, 3].map((seed) => new Pair(hub, hub, seed, options));
    for (const p of pairs) p.pump(1);
    for (const p of pairs) p.recording = true;
    const encodedBefore = hub.metrics.batchMessagesEncoded;
    for (let f = 0; f < 10; f++) {
      for (let i = 0; i < 40; i++) {
        const tick = feed.next();
        hub.set(tick.key, tick.market);
      }
      hub.flush(2);
      for (const p of pairs) p.pump(2);
    }
    const [a, b, c] = pairs.map((p) => p.recorded);
    expect(a).toHaveLength(10);
    // Compressed (marker 0x01), and the very same arrays for every session.
    expect(a!.every((m) => m[0] === 0x01)).toBe(true);
    for (let i = 0; i < a!.length; i++) {
      expect(b![i]).toBe(a![i]);
      expect(c![i]).toBe(a![i]);
    }
    expect(hub.metrics.batchMessagesEncoded - encodedBefore).toBe(10);
    for (const p of pairs) expect(p.replica.stateHash()).toBe(hub.stateHash());
  });

  it("leaves a slow consumer to frame for itself, and takes it back once it has caught up", () => {
    const { hub, feed } = seededHub(2);
    const fast = [new Pair(hub, hub, 1), new Pair(hub, hub, 50)];
    // A window of 64 messages, consumed only when the test says so: three batches of 20, then conflation.
    const slow = new Pair(hub, hub, 100, { windowMessages: 64, autoConsume: false });
    const all = [...fast, slow];
    for (const p of all) p.pump(1);
    slow.catchUp(1);
    const run = (flushes: number, now: number, slowReads: boolean) => {
      for (let f = 0; f < flushes; f++) {
        for (let i = 0; i < 20; i++) {
          const tick = feed.next();
          hub.set(tick.key, tick.market);
        }
        hub.flush(now);
        for (const p of all) p.pump(now);
        if (slowReads) slow.catchUp(now);
      }
    };
    run(10, 2, false);
    const sharedWhileSlow = slow.server.metrics.sharedMessagesOut;
    expect(sharedWhileSlow).toBe(3);
    expect(slow.server.metrics.conflatedUpdates).toBeGreaterThan(0);
    slow.catchUp(3);
    run(10, 4, true);
    // Back in lockstep: each of the later flushes went out as the shared message.
    expect(slow.server.metrics.sharedMessagesOut - sharedWhileSlow).toBe(10);
    for (const p of fast) expect(p.server.metrics.sharedMessagesOut).toBe(20);
    for (const p of all) expect(p.replica.stateHash()).toBe(hub.stateHash());
  });

  it(`encodes once per distinct wire settings, at most ${MAX_SHARED_VARIANTS}; other sessions frame for themselves`, () => {
    const { hub, feed } = seededHub(3);
    const n = MAX_SHARED_VARIANTS + 2;
    // Every client asks for another message size: as many wire settings as clients.
    const pairs = Array.from(
      { length: n },
      (_, i) => new Pair(hub, hub, i * 10, { client: { limits: { maxMessageBytes: 8192 + i * 64 } } }),
    );
    const twin = new Pair(hub, hub, 999, { client: { limits: { maxMessageBytes: 8192 } } });
    const all = [...pairs, twin];
    for (const p of all) p.pump(1);
    const encodedBefore = hub.metrics.batchMessagesEncoded;
    const sharedBefore = hub.metrics.sharedDeliveries;
    for (let f = 0; f < 5; f++) {
      for (let i = 0; i < 20; i++) {
        const tick = feed.next();
        hub.set(tick.key, tick.market);
      }
      hub.flush(2);
      for (const p of all) p.pump(2);
    }
    // One message per flush and settings: the first MAX_SHARED_VARIANTS settings, the twin sharing the first.
    expect(hub.metrics.batchMessagesEncoded - encodedBefore).toBe(5 * MAX_SHARED_VARIANTS);
    expect(hub.metrics.sharedDeliveries - sharedBefore).toBe(5 * (MAX_SHARED_VARIANTS + 1));
    expect(pairs.filter((p) => p.server.metrics.sharedMessagesOut === 0)).toHaveLength(
      n - MAX_SHARED_VARIANTS,
    );
    for (const p of all) expect(p.replica.stateHash()).toBe(hub.stateHash());
  });

  it("a session beyond the bound on wire settings does no per-key work for a batch it cannot share", () => {
    const { hub, feed } = seededHub(3);
    const pairs = Array.from(
      { length: MAX_SHARED_VARIANTS + 1 },
      (_, i) => new Pair(hub, hub, i * 10, { client: { limits: { maxMessageBytes: 8192 + i * 64 } } }),
    );
    for (const p of pairs) p.pump(1);
    const last = pairs.at(-1)!;
    // Per-key work shows as key id lookups: following the view, or leaving it, costs one per key (200).
    let lookups = 0;
    const keyId = hub.keyId.bind(hub);
    hub.keyId = (key: string) => {
      lookups++;
      return keyId(key);
    };
    const perBatch: number[] = [];
    const publishBatch = last.server.publishBatch.bind(last.server);
    last.server.publishBatch = (batch, now) => {
      const before = lookups;
      publishBatch(batch, now);
      perBatch.push(lookups - before);
    };
    for (let f = 0; f < 40; f++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
      hub.flush(2 + f);
      for (const p of pairs) p.pump(2 + f);
    }
    expect(perBatch).toHaveLength(40);
    expect(Math.max(...perBatch)).toBeLessThanOrEqual(1);
    expect(last.server.metrics.sharedMessagesOut).toBe(0);
    for (const p of pairs) expect(p.replica.stateHash()).toBe(hub.stateHash());
  });

  it("shares a batch only when the client's credit covers every item, as framing itself would", () => {
    const { hub, feed } = seededHub(21);
    const shared = new Pair(hub, hub, 1);
    const own = new Pair(hub, hub, 2, { ownFraming: true });
    for (const p of [shared, own]) {
      p.pump(1);
      // The snapshot acknowledged: nothing outstanding, the case where one oversized item may go.
      p.client.handleTimeout(100);
      p.pump(100);
    }
    // One flush of more than the default 1 MiB byte window, in items of about 2 KB.
    let bytes = 0;
    for (let i = 0; bytes <= 1 << 20; i++) {
      bytes += hub.set(`bulk/${i}`, { ...feed.next().market, name: "m".repeat(2000) }).body.length;
    }
    hub.flush(200);
    for (const p of [shared, own]) p.catchUp(200);
    for (const p of [shared, own]) {
      expect(p.client.error).toBeUndefined();
      expect(p.replica.stateHash()).toBe(hub.stateHash());
    }
    expect(shared.server.metrics.creditStalls).toBeGreaterThan(0);
  });

  it("shares a batch only when every item fits the client's messages, uncompressed, as framing itself would", () => {
    const capabilities = Capability.HASH | Capability.DEFLATE;
    const deflate: Partial<PairOptions> = { client: { capabilities }, server: { capabilities } };
    const small: Partial<PairOptions> = { client: { limits: { maxMessageBytes: 1024 } } };
    // A 5 MiB name that deflates to a few KB; a name whose change is just over 1 KB by the bound, not by its bytes.
    const cases = [
      { options: deflate, name: "n".repeat(5 << 20) },
      { options: small, name: "n".repeat(420) },
    ];
    for (const { options, name } of cases) {
      const { hub, feed } = seededHub(12);
      const shared = new Pair(hub, hub, 1, options);
      const own = new Pair(hub, hub, 2, { ...options, ownFraming: true });
      for (const p of [shared, own]) p.pump(1);
      const tick = feed.next();
      hub.set(tick.key, tick.market);
      hub.flush(2);
      for (const p of [shared, own]) p.pump(2);
      expect(shared.server.metrics.sharedMessagesOut).toBe(1);
      hub.set("new-market", { ...feed.next().market, name });
      hub.flush(3);
      for (const p of [shared, own]) {
        p.pump(3);
        // The client's delayed ack returns the credit the first flush used.
        p.client.handleTimeout(200);
        p.pump(200);
      }
      for (const p of [shared, own]) {
        expect(p.client.error).toBeUndefined();
        expect(p.events.filter((e) => e.type === "unsubscribed")).toEqual([
          expect.objectContaining({ code: 1009 }),
        ]);
      }
    }
  });

  it("a resumed client rejoins the shared path although most of its keys never change again: the server binds them", () => {
    for (const away of ["replay", "catch-up"] as const) {
      // A short retained log, so that a longer absence is served by catch-up instead of replay.
      const { hub, feed } = seededHub(7, { log: new InMemoryRetainedLog({ maxEntriesPerStream: 50 }) });
      const first = new Pair(hub, hub, 1);
      first.pump(1);
      let now = 1;
      const tick = (pairs: Pair[]) => {
        // Only five markets move: the other 195 keep the versions the client resumes with.
        now++;
        const key = [...hub.keys()][now % 5]!;
        hub.set(key, { ...feed.next().market, id: hub.state.get(key)!.value.id });
        hub.flush(now);
        for (const p of pairs) p.pump(now);
      };
      for (let f = 0; f < 4; f++) tick([first]);
      const { subscriptions } = first.client.resumeState();
      first.server.close(1001, "connection lost", now);
      // The stream moves on while the client is away: within the log, or past it.
      for (let f = 0; f < (away === "replay" ? 3 : 60); f++) tick([]);
      const resumed = new Pair(hub, hub, 2, {
        client: { resume: { token: undefined, subscriptions } },
        replica: first.replica,
      });
      resumed.pump(now);
      expect(resumed.events.find((e) => e.type === "subscribed")).toMatchObject({
        mode: away === "replay" ? SyncMode.REPLAY : SyncMode.CATCH_UP,
      });
      for (let f = 0; f < 20; f++) tick([resumed]);
      expect(resumed.client.error).toBeUndefined();
      // It follows the view again: every batch was the shared one.
      expect(resumed.server.metrics.sharedMessagesOut).toBe(20);
      expect(resumed.server.queueSizes()[0]).toMatchObject({ followsView: true });
      expect(resumed.replica.stateHash()).toBe(hub.stateHash());
    }
  });

  it("binds a key that comes back after its removal again, so that a client that never saw it can share", () => {
    const { hub, feed } = seededHub(4);
    const early = new Pair(hub, hub, 1);
    early.pump(1);
    const [key] = hub.keys();
    const value = hub.state.get(key!)!.value;
    const id = hub.keyId(key!);
    hub.remove(key!);
    hub.flush(2);
    early.pump(2);
    const late = new Pair(hub, hub, 2);
    late.pump(2);
    const sharedBefore = hub.metrics.sharedDeliveries;
    hub.set(key!, value);
    const tick = feed.next();
    hub.set(tick.key, tick.market);
    hub.flush(3);
    for (const p of [early, late]) p.pump(3);
    expect(hub.keyId(key!)).toBe(id);
    expect(hub.metrics.sharedDeliveries - sharedBefore).toBe(2);
    for (const p of [early, late]) expect(p.replica.stateHash()).toBe(hub.stateHash());
  });

  it("sessions in lockstep follow the hub's view and keep no per-key state; they leave it for a resync and come back", () => {
    const { hub, feed } = seededHub(8);
    const pairs = [new Pair(hub, hub, 1), new Pair(hub, hub, 2)];
    for (const p of pairs) p.pump(1);
    const flush = (now: number) => {
      for (let i = 0; i < 20; i++) {
        const tick = feed.next();
        hub.set(tick.key, tick.market);
      }
      hub.flush(now);
      for (const p of pairs) p.pump(now);
    };
    const follows = (p: Pair) => p.server.queueSizes()[0]!.followsView;
    flush(2);
    for (const p of pairs) expect(follows(p)).toBe(true);
    expect(pairs[0]!.server.queueSizes()[0]!.heldKeys).toBe(200);
    // The client asks for a key again: the session leaves the view to serve it.
    const [key] = hub.keys();
    pairs[0]!.client.resync(hub.stream, [key!], 0, 3);
    pairs[0]!.pump(3);
    expect(follows(pairs[0]!)).toBe(false);
    expect(pairs[0]!.events.some((e) => e.type === "snapshot-begin")).toBe(true);
    const sharedBefore = pairs[0]!.server.metrics.sharedMessagesOut;
    for (let f = 0; f < 20; f++) flush(4 + f);
    // Back in lockstep (after at most one backoff), sharing every batch again.
    expect(follows(pairs[0]!)).toBe(true);
    expect(pairs[0]!.server.metrics.sharedMessagesOut - sharedBefore).toBe(20);
    expect(follows(pairs[1]!)).toBe(true);
    for (const p of pairs) expect(p.replica.stateHash()).toBe(hub.stateHash());
  });

  it("a session that follows the view takes items published to it directly, from the view's versions", () => {
    const { hub, feed } = seededHub(9);
    const pair = new Pair(hub, hub, 1);
    pair.pump(1);
    const tick = feed.next();
    hub.set(tick.key, tick.market);
    hub.flush(2);
    pair.pump(2);
    expect(pair.server.queueSizes()[0]!.followsView).toBe(true);
    // The application publishes the hub's next change itself, before the hub flushes it.
    const next = feed.next();
    const item = hub.set(next.key, next.market);
    pair.server.publish(hub.stream, [item], 3);
    expect(pair.server.queueSizes()[0]!.followsView).toBe(false);
    hub.flush(3);
    pair.pump(3);
    expect(pair.replica.stateHash()).toBe(hub.stateHash());
  });

  it("a subscriber without publishBatch gets the items through publish", () => {
    const { hub, feed } = seededHub(5);
    const seen: PublishItem[][] = [];
    hub.attach({ publish: (_stream, items) => seen.push([...items]) });
    const tick = feed.next();
    const item = hub.set(tick.key, tick.market);
    hub.flush(1);
    expect(seen).toEqual([[item]]);
  });

  it("rejects malformed batches with DF_ERR_INVALID_ARGUMENT", () => {
    const { hub } = seededHub(6);
    const body = new Uint8Array([8, 1]);
    const change = (offset: bigint, extra: object = {}): PublishItem => ({
      type: "change",
      key: "k",
      offset,
      kind: "full",
      body,
      ...extra,
    });
    const cases: Array<[PublishItem[], number[], boolean[]]> = [
      [[], [], []],
      [[change(1n)], [1, 2], [false]],
      [
        [change(1n), change(3n)],
        [1, 1],
        [false, false],
      ],
      [[change(1n)], [0], [false]],
      [[change(1n)], [1.5], [false]],
      [[change(2n, { kind: "patch", base: 2n })], [1], [false]],
      [[change(1n, { kind: "remove" })], [1], [false]],
      [[{ type: "other", offset: 1n } as unknown as PublishItem], [0], [false]],
    ];
    for (const [items, ids, intro] of cases) {
      try {
        new SharedBatch("odds/test", hub, items, ids, intro);
        expect.unreachable();
      } catch (error) {
        expect(error).toMatchObject({
          name: "DeltaframeError",
          code: "DF_ERR_INVALID_ARGUMENT",
          closeCode: 1011,
        });
      }
    }
    const ok = new SharedBatch(
      "odds/test",
      hub,
      [change(1n), { type: "event", offset: 2n, payload: body }],
      [1, 0],
      [true, false],
    );
    expect(ok).toMatchObject({ firstOffset: 1n, lastOffset: 2n, messageCount: 2, payloadBytes: 4 });
  });

  it("returns the same messages for the same wire settings, and refuses settings beyond the bound", () => {
    const { hub } = seededHub(7);
    const items: PublishItem[] = [
      { type: "change", key: "k", offset: 1n, kind: "full", body: new Uint8Array(300).fill(7) },
      { type: "event", offset: 2n, payload: new Uint8Array([1]) },
    ];
    const batch = new SharedBatch("odds/test", hub, items, [1, 0], [true, false]);
    const wire = (alias: number, enabled = false): SharedWire => ({
      alias,
      hashes: false,
      maxMessageBytes: 65536,
      maxFramesPerBatch: 4096,
      compression: { enabled, thresholdBytes: 64, deflater: undefined },
    });
    const plain = batch.messagesFor(wire(1))!;
    expect(batch.messagesFor(wire(1))).toBe(plain);
    const compressed = batch.messagesFor(wire(1, true))!;
    expect(compressed[0]!.bytes.length).toBeLessThan(plain[0]!.bytes.length);
    // Two settings so far (plain and compressed); six more aliases reach the bound.
    for (let alias = 2; alias < MAX_SHARED_VARIANTS; alias++) {
      expect(batch.messagesFor(wire(alias))).toBeDefined();
    }
    expect(batch.messagesFor(wire(MAX_SHARED_VARIANTS))).toBeUndefined();
    expect(batch.metrics.encodings).toBe(MAX_SHARED_VARIANTS);
  });
});

/** One step of the differential workload. */
type Op =
  | { op: "tick" }
  | { op: "add" }
  | { op: "remove"; pick: number }
  | { op: "readd"; pick: number }
  | { op: "event"; size: number }
  | { op: "flush" }
  | { op: "slowReads" }
  | { op: "resync"; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ op: "tick" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "add" as const }) },
  { weight: 1, arbitrary: fc.nat(1000).map((pick) => ({ op: "remove" as const, pick })) },
  { weight: 1, arbitrary: fc.nat(1000).map((pick) => ({ op: "readd" as const, pick })) },
  { weight: 1, arbitrary: fc.nat(600).map((size) => ({ op: "event" as const, size })) },
  { weight: 3, arbitrary: fc.constant({ op: "flush" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "slowReads" as const }) },
  { weight: 1, arbitrary: fc.nat(1000).map((pick) => ({ op: "resync" as const, pick })) },
);

describe("shared batches, differentially", () => {
  it("carry exactly the bytes each session would frame for itself (random feeds and wire settings)", () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.nat(1000),
          hashes: fc.boolean(),
          deflate: fc.boolean(),
          maxMessageBytes: fc.constantFrom(1024, 1500, 65536),
          ops: fc.array(opArb, { minLength: 1, maxLength: 120 }),
        }),
        ({ seed, hashes, deflate, maxMessageBytes, ops }) => {
          const { hub, feed } = seededHub(seed, { hashes });
          const capabilities = Capability.HASH | (deflate ? Capability.DEFLATE : 0);
          const options: Partial<PairOptions> = {
            client: { capabilities, compressThresholdBytes: 64, limits: { maxMessageBytes } },
            server: { capabilities, compressThresholdBytes: 64 },
          };
          const shared = [new Pair(hub, hub, 1, options), new Pair(hub, hub, 2, options)];
          const own = new Pair(hub, hub, 3, { ...options, ownFraming: true });
          // Not compared byte for byte: a consumer that reads only now and then (in and out of lockstep), and
          // one that asks for keys again (leaving the hub's view each time).
          const slow = new Pair(hub, hub, 4, { ...options, windowMessages: 12, autoConsume: false });
          const resyncing = new Pair(hub, hub, 5, options);
          const all = [...shared, own, slow, resyncing];
          for (const p of all) p.pump(1);
          slow.catchUp(1);
          for (const p of all) p.recording = true;
          const removed: string[] = [];
          let added = 0;
          let now = 2;
          for (const step of ops) {
            switch (step.op) {
              case "tick": {
                const tick = feed.next();
                if (hub.state.has(tick.key)) hub.set(tick.key, tick.market);
                break;
              }
              case "add":
                hub.set(`added/${added++}`, feed.next().market);
                break;
              case "remove": {
                const keys = [...hub.keys()];
                const key = keys[step.pick % keys.length]!;
                hub.remove(key);
                removed.push(key);
                break;
              }
              case "readd":
                if (removed.length > 0) {
                  const [key] = removed.splice(step.pick % removed.length, 1);
                  hub.set(key!, feed.next().market);
                }
                break;
              case "event":
                hub.event(new Uint8Array(step.size).fill(step.size & 0xff));
                break;
              case "flush":
                hub.flush(now);
                for (const p of all) p.pump(now);
                now++;
                break;
              case "slowReads":
                slow.catchUp(now);
                break;
              case "resync": {
                const keys = [...hub.keys()];
                resyncing.client.resync(hub.stream, [keys[step.pick % keys.length]!], 0, now);
                resyncing.pump(now);
                break;
              }
            }
          }
          hub.flush(now);
          for (const p of all) p.pump(now);
          slow.catchUp(now);
          const reference = own.recorded;
          for (const p of shared) expect(p.recorded).toEqual(reference);
          expect(own.server.metrics.sharedMessagesOut).toBe(0);
          if (reference.length > 0) {
            for (const p of shared) expect(p.server.metrics.sharedMessagesOut).toBe(reference.length);
          }
          for (const p of all) expect(p.replica.stateHash()).toBe(hub.stateHash());
        },
      ),
      { numRuns: 60 },
    );
  });
});
