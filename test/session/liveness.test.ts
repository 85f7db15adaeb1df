import { ClientSession, ReconnectPolicy, ServerSession } from "deltaframe/session";
import { describe, expect, it } from "vitest";
import { SessionPair } from "./harness.js";
import { prng, seededBytes, TestSource } from "./helpers.js";

describe("ping / pong", () => {
  it("measures RTT over a link with latency", () => {
    const pair = new SessionPair({ latencyMs: 50, server: { heartbeatMs: 1000, idleTimeoutMs: 5000 } });
    pair.advance(200);
    expect(pair.client.state).toBe("open");
    pair.advance(1500);
    const rtt = pair.serverOf("rtt");
    expect(rtt.length).toBeGreaterThan(0);
    expect(rtt[0]).toMatchObject({ rttMs: 100, clockOffsetMs: 0 });
    expect(pair.server.metrics.rttMs).toBe(100);
    expect(pair.clientOf("rtt")[0]!.rttMs).toBe(100);
  });

  it("estimates the peer's clock offset", () => {
    const source = new TestSource();
    const server = new ServerSession(
      { streams: () => source, randomBytes: seededBytes(1), heartbeatMs: 1000 },
      0,
    );
    const client = new ClientSession();
    const skew = 5000; // the client's clock is 5 s ahead
    const oneWay = 20;
    let t = 0;
    const toServer = () => {
      for (let m = client.pollTransmit(); m; m = client.pollTransmit()) server.handleMessage(m, t + oneWay);
    };
    const toClient = () => {
      for (let m = server.pollTransmit(); m; m = server.pollTransmit())
        client.handleMessage(m, t + oneWay + skew);
    };
    client.connect(t + skew);
    toServer();
    server.pollEvent();
    server.accept({}, t + oneWay);
    t += oneWay;
    toClient();
    t = 2000;
    server.handleTimeout(t); // sends a ping
    toClient();
    t += oneWay;
    toServer();
    const rtt = server.pollEvent();
    expect(rtt).toEqual({ type: "rtt", rttMs: 40, clockOffsetMs: skew });
  });

  it("ignores a pong that answers no outstanding ping", () => {
    const pair = new SessionPair({ server: { heartbeatMs: 1000 } });
    pair.run();
    pair.advance(1000);
    expect(pair.server.metrics.pongsReceived).toBe(1);
    expect(pair.server.state).toBe("open");
  });
});

describe("drain", () => {
  it("announces the drain, keeps serving, then closes with 1001 and the reconnect hint", () => {
    const pair = new SessionPair();
    const src = pair.source;
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    pair.server.drain({ deadlineMs: 5000, retryAfterMs: 100, jitterMs: 900 }, pair.now);
    pair.run();
    expect(pair.server.state).toBe("draining");
    expect(pair.client.state).toBe("draining");
    expect(pair.clientOf("drain")[0]).toMatchObject({ deadlineMs: 5000, retryAfterMs: 100, jitterMs: 900 });
    pair.publish([src.set("a", "1")]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    pair.advance(4999);
    expect(pair.server.state).toBe("draining");
    pair.advance(1);
    expect(pair.server.state).toBe("closed");
    expect(pair.clientOf("closed")[0]).toMatchObject({ code: 1001, retryAfterMs: 100, jitterMs: 900 });
  });
});

describe("ReconnectPolicy", () => {
  it("backs off with full jitter, capped", () => {
    const policy = new ReconnectPolicy({ random: () => 0.5, baseMs: 100, maxMs: 1000 });
    const delays = Array.from(
      { length: 6 },
      () => policy.next({ code: 1006, retryAfterMs: 0, jitterMs: 0 })!.delayMs,
    );
    expect(delays).toEqual([50, 100, 200, 400, 500, 500]);
    policy.reset();
    expect(policy.next({ code: 1006, retryAfterMs: 0, jitterMs: 0 })!.delayMs).toBe(50);
  });

  it("stays within [0, min(cap, base·2^attempt)) for any random value", () => {
    const r = prng(42);
    const policy = new ReconnectPolicy({ random: r, baseMs: 10, maxMs: 5000 });
    for (let i = 0; i < 50; i++) {
      const d = policy.next({ code: 1006, retryAfterMs: 0, jitterMs: 0 })!.delayMs;
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(5000, 10 * 2 ** i));
    }
  });

  it("honours the server's retry-after and jitter hint", () => {
    const policy = new ReconnectPolicy({ random: () => 0.25, baseMs: 100 });
    expect(policy.next({ code: 1001, retryAfterMs: 2000, jitterMs: 1000 })).toEqual({
      delayMs: 2250,
      resume: true,
    });
  });

  it("treats 1012 as come back soon and 1013 as at least the base", () => {
    expect(
      new ReconnectPolicy({ random: () => 0.5, baseMs: 100 }).next({
        code: 1012,
        retryAfterMs: 0,
        jitterMs: 0,
      }),
    ).toEqual({
      delayMs: 50,
      resume: true,
    });
    expect(
      new ReconnectPolicy({ random: () => 0, baseMs: 100 }).next({
        code: 1013,
        retryAfterMs: 0,
        jitterMs: 0,
      })!.delayMs,
    ).toBe(100);
  });

  it("gives up on 4002/4003, drops the token on 4011–4014, and stops after maxAttempts", () => {
    const policy = new ReconnectPolicy({ random: () => 0.5, maxAttempts: 2 });
    expect(policy.next({ code: 4003, retryAfterMs: 0, jitterMs: 0 })).toBeUndefined();
    expect(policy.next({ code: 4002, retryAfterMs: 0, jitterMs: 0 })).toBeUndefined();
    expect(policy.next({ code: 4012, retryAfterMs: 0, jitterMs: 0 })!.resume).toBe(false);
    expect(policy.next({ code: 4008, retryAfterMs: 0, jitterMs: 0 })!.resume).toBe(true);
    expect(policy.next({ code: 4008, retryAfterMs: 0, jitterMs: 0 })).toBeUndefined();
  });
});
