import { create } from "@bufbuild/protobuf";
import { ERROR_CODES, type ErrorCode, isDeltaframeError } from "deltaframe";
import {
  AckSchema,
  EventSchema,
  HelloSchema,
  PingSchema,
  ResyncSchema,
  SkippedSchema,
  SubscribeSchema,
  UpdatesSchema,
} from "deltaframe/proto";
import { type ClientSession, ServerSession } from "deltaframe/session";
import { describe, expect, it } from "vitest";
import { msg } from "./frames.js";
import { SessionPair } from "./harness.js";
import { seededBytes } from "./helpers.js";

/** Asserts the session errored with `code`, its close code, and that the peer was sent that close code. */
function expectErrored(session: ServerSession | ClientSession, code: ErrorCode): void {
  expect(session.state).toBe("errored");
  expect(isDeltaframeError(session.error, code)).toBe(true);
  expect(session.error!.closeCode).toBe(ERROR_CODES[code].closeCode);
  expect(session.error!.origin).toBe("remote");
}

function expectPeerClosedWith(pair: SessionPair, side: "client" | "server", code: ErrorCode): void {
  const events = side === "client" ? pair.clientOf("closed") : pair.serverOf("closed");
  expect(events.at(-1)).toMatchObject({ initiator: "remote", code: ERROR_CODES[code].closeCode });
}

function live(options: ConstructorParameters<typeof SessionPair>[0] = {}): SessionPair {
  const pair = new SessionPair(options);
  pair.client.subscribe("s", {}, pair.now);
  pair.run();
  return pair;
}

const hello = (versions = [1]) => ({ case: "hello" as const, value: create(HelloSchema, { versions }) });

describe("remote violations: sticky errored state and a Close with the error's close code", () => {
  it("DF_ERR_PROTOCOL: a second hello", () => {
    const pair = live();
    pair.inject("c2s", msg(hello()));
    expectErrored(pair.server, "DF_ERR_PROTOCOL");
    expectPeerClosedWith(pair, "client", "DF_ERR_PROTOCOL");
  });

  it("DF_ERR_PROTOCOL: data before the hello, and server-only frames from the client", () => {
    const server = new ServerSession({ streams: () => undefined, randomBytes: seededBytes(1) }, 0);
    server.handleMessage(msg({ case: "ack", value: create(AckSchema, {}) }), 1);
    expect(server.error?.code).toBe("DF_ERR_PROTOCOL");
    const pair = live();
    pair.inject("s2c", msg({ case: "subscribe", value: create(SubscribeSchema, { stream: "x" }) }));
    expectErrored(pair.client, "DF_ERR_PROTOCOL");
  });

  it("DF_ERR_VERSION_UNSUPPORTED: no common version", () => {
    const pair = new SessionPair({ client: { versions: [2, 3] } });
    pair.run();
    expectErrored(pair.server, "DF_ERR_VERSION_UNSUPPORTED");
    expectPeerClosedWith(pair, "client", "DF_ERR_VERSION_UNSUPPORTED");
  });

  it("DF_ERR_AUTH_TIMEOUT: no hello, or no decision, within the deadline (at the limit and one past)", () => {
    const server = new ServerSession(
      { streams: () => undefined, randomBytes: seededBytes(1), authTimeoutMs: 100 },
      0,
    );
    expect(server.pollTimeout()).toBe(100);
    server.handleTimeout(99);
    expect(server.state).toBe("awaiting-hello");
    server.handleTimeout(100);
    expectErrored(server, "DF_ERR_AUTH_TIMEOUT");
    const pair = new SessionPair({ autoAccept: false, server: { authTimeoutMs: 100 } });
    pair.run();
    pair.advance(100);
    expectErrored(pair.server, "DF_ERR_AUTH_TIMEOUT");
    expectPeerClosedWith(pair, "client", "DF_ERR_AUTH_TIMEOUT");
  });

  it("DF_ERR_AUTH_REJECTED: reject sends its close code", () => {
    const pair = new SessionPair({ autoAccept: false });
    pair.run();
    pair.server.reject(ERROR_CODES.DF_ERR_AUTH_REJECTED.closeCode, "no", pair.now);
    pair.run();
    expectPeerClosedWith(pair, "client", "DF_ERR_AUTH_REJECTED");
  });

  it("DF_ERR_IDLE_TIMEOUT: a silent peer is closed (at the limit and one past); heartbeats keep a quiet link open", () => {
    const pair = live({ server: { heartbeatMs: 1000, idleTimeoutMs: 3000 } });
    pair.advance(60_000);
    expect(pair.server.state).toBe("open");
    expect(pair.client.state).toBe("open");
    expect(pair.server.metrics.pingsSent).toBeGreaterThan(10);
    pair.tap = () => undefined;
    const t0 = pair.now;
    const lastHeard = t0; // everything before the cut was delivered at once
    pair.advance(lastHeard + 2999 - t0);
    expect(pair.server.state).toBe("open");
    pair.advance(1);
    expectErrored(pair.server, "DF_ERR_IDLE_TIMEOUT");
  });

  it("DF_ERR_ACK_UNSENT: an ack beyond what was sent", () => {
    const pair = live();
    pair.publish([pair.source.event("e")]);
    // Exactly what was sent is fine; one past it is not.
    pair.inject("c2s", msg({ case: "ack", value: create(AckSchema, { messages: 1n, bytes: 1n }) }));
    expect(pair.server.state).toBe("open");
    pair.inject("c2s", msg({ case: "ack", value: create(AckSchema, { messages: 2n, bytes: 1n }) }));
    expectErrored(pair.server, "DF_ERR_ACK_UNSENT");
    expectPeerClosedWith(pair, "client", "DF_ERR_ACK_UNSENT");
  });

  it("duplicate and stale acks change nothing", () => {
    const pair = live({ client: { windowMessages: 4 } });
    const items = [];
    for (let i = 0; i < 10; i++) items.push(pair.source.event(`e${i}`));
    pair.publish(items);
    const before = pair.server.metrics.dataOut;
    pair.inject("c2s", msg({ case: "ack", value: create(AckSchema, { messages: 1n, bytes: 1n }) }));
    pair.inject("c2s", msg({ case: "ack", value: create(AckSchema, { messages: 0n, bytes: 0n }) }));
    expect(pair.server.state).toBe("open");
    expect(pair.server.metrics.dataOut).toBe(before);
    expect(pair.replica.events).toHaveLength(10);
  });

  it("DF_ERR_CREDIT_EXCEEDED: data beyond the granted window (at the window and one past)", () => {
    const pair = live({ client: { windowMessages: 2 } });
    pair.stalled = true;
    const ev = (offset: bigint) => ({
      case: "event" as const,
      value: create(EventSchema, { alias: 1, offset, payload: new Uint8Array(1) }),
    });
    pair.inject("s2c", msg(ev(1n), ev(2n)));
    expect(pair.client.state).toBe("open");
    pair.inject("s2c", msg(ev(3n)));
    expectErrored(pair.client, "DF_ERR_CREDIT_EXCEEDED");
    expectPeerClosedWith(pair, "server", "DF_ERR_CREDIT_EXCEEDED");
  });

  it("DF_ERR_SEQUENCE: duplicate offsets, and gaps not announced by Skipped", () => {
    const ev = (offset: bigint) => ({
      case: "event" as const,
      value: create(EventSchema, { alias: 1, offset, payload: new Uint8Array(1) }),
    });
    const dup = live();
    dup.inject("s2c", msg(ev(1n), ev(1n)));
    expectErrored(dup.client, "DF_ERR_SEQUENCE");
    const gap = live();
    gap.inject("s2c", msg(ev(1n), ev(3n)));
    expectErrored(gap.client, "DF_ERR_SEQUENCE");
    const announced = live();
    announced.inject(
      "s2c",
      msg(
        ev(1n),
        { case: "skipped", value: create(SkippedSchema, { alias: 1, conflatedUpdates: 1n }) },
        ev(3n),
      ),
    );
    expect(announced.client.state).toBe("open");
    announced.inject("s2c", msg(ev(5n)));
    expectErrored(announced.client, "DF_ERR_SEQUENCE");
  });

  it("DF_ERR_ALIAS_UNKNOWN: an alias never assigned, either direction", () => {
    const c = live();
    c.inject("s2c", msg({ case: "event", value: create(EventSchema, { alias: 9, offset: 1n }) }));
    expectErrored(c.client, "DF_ERR_ALIAS_UNKNOWN");
    const s = live();
    s.inject("c2s", msg({ case: "resync", value: create(ResyncSchema, { alias: 9 }) }));
    expectErrored(s.server, "DF_ERR_ALIAS_UNKNOWN");
  });

  it("DF_ERR_KEY_UNKNOWN: an update for a key id never bound", () => {
    const pair = live();
    pair.inject(
      "s2c",
      msg({
        case: "updates",
        value: create(UpdatesSchema, { alias: 1, firstOffset: 1n, keyIds: [7], sizes: [0] }),
      }),
    );
    expectErrored(pair.client, "DF_ERR_KEY_UNKNOWN");
  });

  it("DF_ERR_STREAM_UNKNOWN: a subscription to an unknown stream ends with its close code", () => {
    const pair = new SessionPair();
    pair.client.subscribe("nope", {}, pair.now);
    pair.run();
    expect(pair.clientOf("unsubscribed")[0]).toMatchObject({
      stream: "nope",
      code: ERROR_CODES.DF_ERR_STREAM_UNKNOWN.closeCode,
    });
    expect(pair.client.state).toBe("open");
  });

  it("DF_ERR_RATE_LIMITED: frames beyond the per-connection rate (at the burst and one past)", () => {
    const pair = live({ server: { maxFramesPerSecond: 10, frameBurst: 20 } });
    pair.advance(10_000);
    const ping = { case: "ping" as const, value: create(PingSchema, { id: 1, timeMs: 0n }) };
    pair.inject("c2s", msg(...Array.from({ length: 20 }, () => ping)));
    expect(pair.server.state).toBe("open");
    pair.inject("c2s", msg(ping));
    expectErrored(pair.server, "DF_ERR_RATE_LIMITED");
    expectPeerClosedWith(pair, "client", "DF_ERR_RATE_LIMITED");
  });

  it("codec errors become violations with their close codes", () => {
    const pair = live();
    pair.inject("c2s", new Uint8Array([0x07, 1, 2]));
    expectErrored(pair.server, "DF_ERR_MARKER_UNKNOWN");
  });
});

describe("local misuse: thrown, state unchanged", () => {
  function throwsCode(fn: () => void, code: ErrorCode): void {
    let caught: unknown;
    try {
      fn();
    } catch (error) {
      caught = error;
    }
    expect(isDeltaframeError(caught, code)).toBe(true);
    expect((caught as { closeCode: number }).closeCode).toBe(1011);
    expect((caught as { origin: string }).origin).toBe("local");
  }

  it("DF_ERR_INVALID_STATE for commands the state does not allow", () => {
    const pair = live();
    throwsCode(() => pair.server.accept({}, pair.now), "DF_ERR_INVALID_STATE");
    throwsCode(() => pair.server.reject(4003, "", pair.now), "DF_ERR_INVALID_STATE");
    throwsCode(() => pair.client.subscribe("s", {}, pair.now), "DF_ERR_INVALID_STATE");
    throwsCode(() => pair.client.unsubscribe("other", pair.now), "DF_ERR_INVALID_STATE");
    throwsCode(() => pair.client.connect(pair.now), "DF_ERR_INVALID_STATE");
    throwsCode(() => pair.client.consume(1, pair.now), "DF_ERR_INVALID_STATE");
    expect(pair.server.state).toBe("open");
    expect(pair.client.state).toBe("open");
    pair.client.close(1000, "bye", pair.now);
    throwsCode(() => pair.client.close(1000, "again", pair.now), "DF_ERR_INVALID_STATE");
    pair.run();
    throwsCode(() => pair.server.drain({}, pair.now), "DF_ERR_INVALID_STATE");
  });

  it("DF_ERR_INVALID_ARGUMENT for bad arguments, leaving state unchanged", () => {
    const pair = live();
    const src = pair.source;
    src.set("a", "1");
    const skipped = src.set("b", "1");
    // A gap in published offsets is rejected before anything changes.
    throwsCode(() => pair.server.publish("s", [skipped], pair.now), "DF_ERR_INVALID_ARGUMENT");
    expect(pair.server.pendingFrames).toBe(0);
    throwsCode(() => pair.server.close(999, "x", pair.now), "DF_ERR_INVALID_ARGUMENT");
    throwsCode(() => pair.server.close(1000, "x".repeat(124), pair.now), "DF_ERR_INVALID_ARGUMENT");
    throwsCode(() => pair.client.subscribe("", {}, pair.now), "DF_ERR_INVALID_ARGUMENT");
    throwsCode(() => pair.client.subscribe("t", { maxRateHz: -1 }, pair.now), "DF_ERR_INVALID_ARGUMENT");
    throwsCode(() => pair.server.handleTimeout(Number.NaN), "DF_ERR_INVALID_ARGUMENT");
    expect(pair.server.state).toBe("open");
    const manual = live({ client: { autoConsume: false } });
    throwsCode(() => manual.client.consume(1, manual.now), "DF_ERR_INVALID_ARGUMENT");
    expect(() => new ServerSession({ streams: () => undefined } as never, 0)).toThrow();
    // A reason of exactly 123 bytes is fine.
    pair.server.close(1000, "x".repeat(123), pair.now);
    expect(pair.server.state).toBe("closed");
  });
});
