import { readdirSync, readFileSync } from "node:fs";
import { isDeltaframeError } from "deltaframe";
import { ClientSession } from "deltaframe/session";
import { describe, expect, it } from "vitest";
import { SessionPair } from "./harness.js";
import { TestSource } from "./helpers.js";

describe("purity", () => {
  it("src/session uses no timers, clocks, randomness, console, Buffer or node: modules", () => {
    const dir = new URL("../../src/session/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), "utf8");
      expect(text, f).not.toMatch(
        /from "node:|Date\.now|Math\.random|console\.|\bBuffer\b|setTimeout|setInterval|performance\.now/,
      );
    }
  });
});

describe("client lifecycle", () => {
  it("errors with DF_ERR_AUTH_TIMEOUT when no welcome arrives in time (at the deadline, not before)", () => {
    const client = new ClientSession({ welcomeTimeoutMs: 500 });
    client.connect(1000);
    expect(client.pollTimeout()).toBe(1500);
    client.handleTimeout(1499);
    expect(client.state).toBe("hello-sent");
    client.handleTimeout(1500);
    expect(client.state).toBe("errored");
    expect(isDeltaframeError(client.error, "DF_ERR_AUTH_TIMEOUT")).toBe(true);
  });

  it("queues subscribes made before the welcome", () => {
    const pair = new SessionPair();
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    expect(pair.clientOf("subscribed")).toHaveLength(1);
  });

  it("unsubscribe: in-flight data for the alias is ignored but still returns credit", () => {
    const pair = new SessionPair({ client: { windowMessages: 4 } });
    const src = pair.source;
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    // Hold the server's messages in flight while the client unsubscribes.
    const held: Uint8Array[] = [];
    pair.tap = (dir, bytes) => {
      if (dir === "s2c") {
        held.push(bytes);
        return undefined;
      }
      return bytes;
    };
    pair.publish([src.event("a"), src.event("b"), src.event("c"), src.event("d")]);
    pair.client.unsubscribe("s", pair.now);
    pair.run();
    expect(pair.server.subscriptionCount).toBe(0);
    pair.tap = undefined;
    for (const m of held) pair.inject("s2c", m);
    pair.advance(50);
    expect(pair.replica.events).toEqual([]);
    expect(pair.client.credit.consumedMessages).toBe(4);
    expect(pair.client.state).toBe("open");
    // Subscribing again works and credit flows.
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    pair.publish([src.event("e")]);
    expect(pair.replica.events).toEqual(["e"]);
  });

  it("unsubscribe before the answer: the subscription is ended as soon as it is granted", () => {
    // The subscribe is on its way when the client cancels it.
    const pair2 = new SessionPair();
    pair2.run();
    pair2.client.subscribe("s", {}, pair2.now);
    const sent = pair2.client.pollTransmit()!;
    pair2.client.unsubscribe("s", pair2.now);
    pair2.inject("c2s", sent);
    pair2.run();
    expect(pair2.server.subscriptionCount).toBe(0);
    expect(pair2.serverOf("unsubscribed")).toHaveLength(1);
    expect(pair2.clientOf("subscribed")).toHaveLength(0);
    expect(pair2.client.state).toBe("open");
  });

  it("refuses subscriptions past maxSubscriptions with 1008 (at the limit and one past)", () => {
    const pair = new SessionPair({
      server: { maxSubscriptions: 2 },
      sources: new Map(["a", "b", "c"].map((n) => [n, new TestSource()])),
    });
    for (const n of ["a", "b"]) pair.client.subscribe(n, {}, pair.now);
    pair.run();
    expect(pair.server.subscriptionCount).toBe(2);
    expect(pair.clientOf("unsubscribed")).toHaveLength(0);
    pair.client.subscribe("c", {}, pair.now);
    pair.run();
    expect(pair.server.subscriptionCount).toBe(2);
    expect(pair.clientOf("unsubscribed")[0]).toMatchObject({ stream: "c", code: 1008 });
  });

  it("counts bytes deterministically: handshake, subscribe and one event", () => {
    const pair = new SessionPair();
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    pair.publish([pair.source.event("x")]);
    expect([pair.client.metrics.bytesOut, pair.server.metrics.bytesOut]).toMatchInlineSnapshot(`
      [
        37,
        156,
      ]
    `);
    expect(pair.server.metrics.framesOut).toBe(pair.client.metrics.framesIn);
    expect(pair.server.metrics.bytesOut).toBe(pair.client.metrics.bytesIn);
    expect(pair.server.metrics.dataOut).toBe(1);
  });
});
