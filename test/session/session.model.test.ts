/**
 * Model-based runs: random schedules of publishes and faults against a
 * server/client pair, checking the session guarantees after every step.
 */
import { create } from "@bufbuild/protobuf";
import { AckSchema, SlowPolicy, SyncMode } from "deltaframe/proto";
import { ClientSession, InMemoryRetainedLog, ServerSession } from "deltaframe/session";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { msg } from "./frames.js";
import { SessionPair } from "./harness.js";
import { seededBytes } from "./helpers.js";

const KEYS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
const WINDOW = 4;
const MAX_EVENTS = 8;

interface Real {
  pair: SessionPair;
  published: string[];
  /** An explicit resync (catch-up / snapshot resume) happened: events in the gap may be missing, never duplicated. */
  lossy: boolean;
  seq: number;
}

type Model = Record<string, never>;

/** Runs the link until quiet, letting time pass for a few one-way delays. */
function settle(pair: SessionPair): void {
  pair.advance(pair.opts.latencyMs * 4 + 1);
}

function live(r: Real): boolean {
  return r.pair.client.state === "open" && r.pair.server.state === "open" && !r.pair.dropped;
}

/** Reconnects (resuming) until a live session with the subscription exists. */
function ensureLive(r: Real): void {
  if (live(r)) return;
  r.pair.reconnect();
  settle(r.pair);
  noteModes(r);
  if (!live(r)) {
    // The token was refused: start fresh, keeping the declared positions.
    const state = r.pair.client.resumeState();
    r.pair.open({ token: undefined, subscriptions: state.subscriptions });
    settle(r.pair);
    noteModes(r);
  }
  expect(live(r)).toBe(true);
}

function noteModes(r: Real): void {
  for (const e of r.pair.serverOf("subscribed")) if (e.mode !== SyncMode.REPLAY) r.lossy = true;
}

function check(r: Real): void {
  const { pair } = r;
  for (const s of [pair.server, pair.client]) {
    if (s.state === "errored") {
      // Only deadline errors are expected (clock jumps); never credit, sequence or ack violations.
      expect(["DF_ERR_IDLE_TIMEOUT"]).toContain(s.error?.code);
    }
  }
  // Credit never exceeded.
  const c = pair.client.credit;
  expect(c.recvMessages).toBeLessThanOrEqual(c.limitMessages);
  // Bounded memory: one pending change per key, bounded events.
  for (const q of pair.server.queueSizes()) {
    expect(q.dirtyKeys).toBeLessThanOrEqual(KEYS.length);
    expect(q.queuedEvents).toBeLessThanOrEqual(MAX_EVENTS);
  }
  expect(pair.client.pendingEvents).toBeLessThanOrEqual(WINDOW * 2 + 64);
  // Nothing after close: "closed" is the last event of a connection.
  const closedAt = pair.clientEvents.findIndex((e) => e.type === "closed");
  if (closedAt >= 0) expect(closedAt).toBe(pair.clientEvents.length - 1);
  if (pair.server.state === "closed" || pair.server.state === "errored") {
    for (let i = 0; i < 3; i++) pair.server.pollTransmit();
    expect(pair.server.pollTransmit()).toBeUndefined();
  }
  // Patches always applied to the version the client held.
  expect(pair.replica.problems).toEqual([]);
  // Events: never duplicated, never reordered.
  const offsets = pair.replica.eventOffsets;
  for (let i = 1; i < offsets.length; i++) expect(offsets[i]! > offsets[i - 1]!).toBe(true);
}

function sameState(pair: SessionPair): boolean {
  const a = pair.replica.snapshot();
  const b = pair.source.snapshot();
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v) && pair.client.unconsumedCount === 0;
}

/** Lets credit return and everything drain, then checks convergence. */
function drained(r: Real): void {
  const { pair } = r;
  if (!live(r) || pair.stalled) return;
  // With link latency, credit needs a few round trips to come back.
  for (let i = 0; i < 40 && live(r); i++) {
    pair.advance(25);
    if (sameState(pair)) break;
  }
  if (!live(r)) return;
  expect(pair.replica.snapshot()).toEqual(pair.source.snapshot());
  // Every offset of the live lane was delivered or announced as skipped: nothing silent.
  const pos = pair.client.position("s");
  if (pos !== undefined && pair.server.queueSizes().every((q) => q.dirtyKeys === 0 && q.queuedEvents === 0)) {
    expect(pos.offset + pos.skipped).toBe(pair.source.offset);
  }
  if (!r.lossy) {
    const dropped = pair.allClientEvents.reduce(
      (n, e) => n + (e.type === "skipped" ? Number(e.droppedEvents) : 0),
      0,
    );
    // Every event delivered or counted as dropped. (A dropped event after the last offset the client saw is
    // replayed by a resume, so it may be delivered after all: counted, never duplicated.)
    expect(pair.replica.events.length + dropped).toBeGreaterThanOrEqual(r.published.length);
    if (dropped === 0) expect(pair.replica.events).toEqual(r.published);
  }
  // Always: delivered events are published ones, in order, each at most once.
  let j = 0;
  for (const e of pair.replica.events) {
    while (j < r.published.length && r.published[j] !== e) j++;
    expect(j).toBeLessThan(r.published.length);
    j++;
  }
}

class Set1 implements fc.Command<Model, Real> {
  constructor(
    readonly key: number,
    readonly n: number,
  ) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    const src = r.pair.source;
    const items = [];
    for (let i = 0; i < this.n; i++) {
      const key = KEYS[(this.key + i) % KEYS.length]!;
      items.push(src.set(key, `${key}${r.seq++}`));
    }
    r.pair.publish(items);
    check(r);
    drained(r);
    check(r);
  }
  toString = () => `set(${this.key},${this.n})`;
}

class Remove implements fc.Command<Model, Real> {
  constructor(readonly key: number) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    const key = KEYS[this.key]!;
    if (!r.pair.source.state.has(key)) return;
    r.pair.publish([r.pair.source.remove(key)]);
    check(r);
    drained(r);
    check(r);
  }
  toString = () => `remove(${this.key})`;
}

class Emit implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    const items = [];
    for (let i = 0; i < this.n; i++) {
      const p = `ev${r.seq++}`;
      r.published.push(p);
      items.push(r.pair.source.event(p));
    }
    r.pair.publish(items);
    check(r);
    drained(r);
    check(r);
  }
  toString = () => `event(${this.n})`;
}

class Churn implements fc.Command<Model, Real> {
  constructor(readonly key: number) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    const key = KEYS[this.key]!;
    const src = r.pair.source;
    const items = src.state.has(key)
      ? [src.remove(key), src.set(key, `${key}${r.seq++}`)]
      : [src.set(key, `${key}${r.seq++}`), src.remove(key)];
    r.pair.publish(items);
    check(r);
    drained(r);
    check(r);
  }
  toString = () => `churn(${this.key})`;
}

class Stall implements fc.Command<Model, Real> {
  constructor(readonly on: boolean) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    r.pair.stalled = this.on;
    settle(r.pair);
    check(r);
    drained(r);
  }
  toString = () => (this.on ? "stall" : "unstall");
}

class Tick implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    r.pair.advance(this.ms);
    check(r);
    if (!live(r)) ensureLive(r);
    check(r);
  }
  toString = () => `tick(${this.ms})`;
}

class JumpClock implements fc.Command<Model, Real> {
  check = () => true;
  run(_m: Model, r: Real): void {
    const { pair } = r;
    pair.now += 60_000;
    pair.server.handleTimeout(pair.now);
    pair.client.handleTimeout(pair.now);
    settle(pair);
    check(r);
    ensureLive(r);
    check(r);
    drained(r);
  }
  toString = () => "jumpClock";
}

class DropReconnect implements fc.Command<Model, Real> {
  constructor(readonly publishWhileDown: number) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    r.pair.drop();
    const items = [];
    for (let i = 0; i < this.publishWhileDown; i++) {
      if (i % 2 === 0) {
        const p = `ev${r.seq++}`;
        r.published.push(p);
        items.push(r.pair.source.event(p));
      } else {
        items.push(r.pair.source.set(KEYS[i % KEYS.length]!, `down${r.seq++}`));
      }
    }
    r.pair.publish(items);
    ensureLive(r);
    check(r);
    drained(r);
    check(r);
  }
  toString = () => `drop+resume(${this.publishWhileDown})`;
}

class DuplicateAck implements fc.Command<Model, Real> {
  constructor(readonly stale: boolean) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    if (!live(r)) return;
    const c = r.pair.client.credit;
    const messages = this.stale ? 0n : BigInt(c.ackedMessages);
    const bytes = this.stale ? 0n : BigInt(c.ackedBytes);
    r.pair.inject("c2s", msg({ case: "ack", value: create(AckSchema, { messages, bytes }) }));
    check(r);
    expect(r.pair.server.state).toBe("open");
  }
  toString = () => (this.stale ? "staleAck" : "duplicateAck");
}

class BadToken implements fc.Command<Model, Real> {
  constructor(readonly kind: "forged" | "replayed" | "twice" | "expired") {}
  check = () => true;
  run(_m: Model, r: Real): void {
    const { pair } = r;
    if (!live(r)) ensureLive(r);
    const state = pair.client.resumeState();
    if (state.token === undefined) return;
    pair.drop();
    if (this.kind === "forged") {
      const t = state.token.slice();
      t[t.length - 1]! ^= 0x55;
      pair.open({ token: t, subscriptions: state.subscriptions });
      settle(pair);
      expect(pair.server.error?.code).toBe("DF_ERR_RESUME_TOKEN_INVALID");
      expect(pair.server.metrics.resumesRefused).toBe(1);
      // The client starts fresh, declaring what it holds.
      pair.open({ token: undefined, subscriptions: state.subscriptions });
      settle(pair);
      noteModes(r);
    } else if (this.kind === "expired") {
      pair.now += 300_000;
      pair.open(state);
      settle(pair);
      expect(pair.server.error?.code).toBe("DF_ERR_RESUME_TOKEN_EXPIRED");
      pair.open({ token: undefined, subscriptions: state.subscriptions });
      settle(pair);
      noteModes(r);
    } else if (this.kind === "replayed") {
      pair.open(state);
      settle(pair);
      noteModes(r);
      expect(live(r)).toBe(true);
      const again = pair.client.resumeState();
      pair.drop();
      // The old token again: refused; then resume with the fresh one.
      pair.open(state);
      settle(pair);
      expect(pair.server.error?.code).toBe("DF_ERR_RESUME_TOKEN_REUSED");
      pair.open(again);
      settle(pair);
      noteModes(r);
    } else {
      // Two resumes with one token: the second server refuses.
      pair.open(state);
      settle(pair);
      noteModes(r);
      const rival = new ServerSession(
        {
          streams: (n) => pair.sources.get(n),
          randomBytes: seededBytes(99),
          signer: pair.signer,
          tokens: pair.tokens,
        },
        pair.now,
      );
      const rivalClient = new ClientSession({ resume: state });
      rivalClient.connect(pair.now);
      for (let m = rivalClient.pollTransmit(); m; m = rivalClient.pollTransmit())
        rival.handleMessage(m, pair.now);
      expect(rival.error?.code).toBe("DF_ERR_RESUME_TOKEN_REUSED");
    }
    expect(live(r)).toBe(true);
    check(r);
    drained(r);
    check(r);
  }
  toString = () => `token(${this.kind})`;
}

class Resync implements fc.Command<Model, Real> {
  constructor(readonly key: number | undefined) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    if (!live(r)) return;
    r.pair.client.resync("s", this.key === undefined ? [] : [KEYS[this.key]!], 3, r.pair.now);
    settle(r.pair);
    check(r);
    drained(r);
  }
  toString = () => `resync(${this.key ?? "*"})`;
}

const setArb = fc
  .tuple(fc.nat(KEYS.length - 1), fc.integer({ min: 1, max: 8 }))
  .map(([k, n]) => new Set1(k, n));
// Weighted by repetition: stalls and publishes often, so conflation and drops happen in most schedules.
const commands = [
  setArb,
  setArb,
  setArb,
  fc.constant(new Stall(true)),
  fc.constant(new Stall(true)),
  fc.nat(KEYS.length - 1).map((k) => new Remove(k)),
  fc.nat(KEYS.length - 1).map((k) => new Churn(k)),
  fc.nat(KEYS.length - 1).map((k) => new Churn(k)),
  fc.integer({ min: 1, max: 10 }).map((n) => new Emit(n)),
  fc.integer({ min: 1, max: 10 }).map((n) => new Emit(n)),
  fc.boolean().map((on) => new Stall(on)),
  fc.integer({ min: 1, max: 4000 }).map((ms) => new Tick(ms)),
  fc.constant(new JumpClock()),
  fc.integer({ min: 0, max: 6 }).map((n) => new DropReconnect(n)),
  fc.boolean().map((stale) => new DuplicateAck(stale)),
  fc
    .constantFrom("forged" as const, "replayed" as const, "twice" as const, "expired" as const)
    .map((k) => new BadToken(k)),
  fc.option(fc.nat(KEYS.length - 1), { nil: undefined }).map((k) => new Resync(k)),
];

function setup(logEntries: number, latencyMs: number): Real {
  const pair = new SessionPair({
    latencyMs,
    client: { windowMessages: WINDOW, windowBytes: 4096, ackDelayMs: 10 },
    server: { heartbeatMs: 1000, idleTimeoutMs: 3000, maxReplayEntries: 16 },
    log: new InMemoryRetainedLog({ maxEntriesPerStream: logEntries }),
  });
  for (const k of KEYS.slice(0, 3)) pair.source.set(k, `${k}0`);
  pair.client.subscribe("s", { policy: SlowPolicy.DROP_OLDEST, maxBufferedEvents: MAX_EVENTS }, pair.now);
  pair.advance(latencyMs * 4);
  return { pair, published: [], lossy: false, seq: 1 };
}

describe("session model", () => {
  it("keeps every guarantee under random publishes and faults (retained log covers resumes)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 3),
        fc.commands(commands, { maxCommands: 25, size: "max" }),
        (latencyMs, cmds) => {
          fc.modelRun(() => ({ model: {}, real: setup(10_000, latencyMs) }), cmds);
        },
      ),
      { numRuns: Number(process.env.DF_MODEL_RUNS ?? 900) },
    );
  });

  it("keeps every guarantee when the retained log is short (catch-up resumes)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 3),
        fc.commands(commands, { maxCommands: 25, size: "max" }),
        (latencyMs, cmds) => {
          fc.modelRun(() => ({ model: {}, real: setup(3, latencyMs) }), cmds);
        },
      ),
      { numRuns: Number(process.env.DF_MODEL_RUNS_SHORT_LOG ?? 700) },
    );
  });
});
