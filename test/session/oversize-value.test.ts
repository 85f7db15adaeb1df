// A value or event larger than the client's max message size can never reach it: the
// server ends that subscription with close code 1009 (DF_ERR_MESSAGE_TOO_LARGE)
// in Unsubscribe instead of sending a message the client must refuse, and the
// connection and its other subscriptions go on (docs/protocol.md §15).

import { ERROR_CODES } from "deltaframe";
import { describe, expect, it } from "vitest";
import { Pair, seededHub } from "../hub/pair.js";
import { SessionPair } from "./harness.js";
import { TestSource } from "./helpers.js";

const TOO_LARGE = ERROR_CODES.DF_ERR_MESSAGE_TOO_LARGE.closeCode;

function twoStreams(): SessionPair {
  const pair = new SessionPair({
    client: { limits: { maxMessageBytes: 1024 } },
    sources: new Map([
      ["s", new TestSource()],
      ["t", new TestSource()],
    ]),
  });
  (pair.sources.get("t") as TestSource).set("k", "small");
  return pair;
}

describe("a value larger than the client's max message size", () => {
  it("in a snapshot: the subscription ends with 1009, the connection and the other stream go on", () => {
    const pair = twoStreams();
    pair.source.set("small", "x");
    pair.source.set("big", new Uint8Array(2000).fill(7));
    pair.client.subscribe("s", {}, pair.now);
    pair.client.subscribe("t", {}, pair.now);
    pair.run();
    expect(pair.client.error).toBeUndefined();
    expect(pair.server.error).toBeUndefined();
    expect(pair.clientOf("unsubscribed")).toEqual([
      expect.objectContaining({ stream: "s", code: TOO_LARGE }),
    ]);
    expect(pair.wire.s2c.every((m) => m.length <= 1024)).toBe(true);
    // The other stream is served, and keeps being served.
    const t = pair.sources.get("t") as TestSource;
    pair.publish([t.set("k", "changed")], "t");
    expect(pair.replica.snapshot().get("k")).toBe("changed");
  });

  it("in a live update: the subscription ends with 1009 at that update", () => {
    const pair = twoStreams();
    pair.source.set("a", "x");
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    pair.publish([pair.source.set("a", new Uint8Array(5000).fill(1))]);
    expect(pair.client.error).toBeUndefined();
    expect(pair.clientOf("unsubscribed")).toEqual([
      expect.objectContaining({ stream: "s", code: TOO_LARGE }),
    ]);
    expect(pair.wire.s2c.every((m) => m.length <= 1024)).toBe(true);
  });

  it("through a hub: a session in lockstep does not send the shared message, it ends the subscription", () => {
    const { hub, feed } = seededHub(12);
    const small = new Pair(hub, hub, 1, { client: { limits: { maxMessageBytes: 1024 } } });
    const large = new Pair(hub, hub, 2);
    for (const p of [small, large]) p.pump(1);
    for (const p of [small, large]) p.recording = true;
    // A market with a name long enough that its full value exceeds 1 KiB.
    const tick = feed.next();
    const market = { ...tick.market, name: "n".repeat(1500) };
    hub.set("new-market", market);
    hub.flush(2);
    for (const p of [small, large]) p.pump(2);
    expect(small.client.error).toBeUndefined();
    expect(small.events.filter((e) => e.type === "unsubscribed")).toEqual([
      expect.objectContaining({ code: TOO_LARGE }),
    ]);
    expect(small.recorded.every((m) => m.length <= 1024)).toBe(true);
    // The client with the default 1 MiB gets it.
    expect(large.replica.stateHash()).toBe(hub.stateHash());
  });

  it("an event: the subscription ends with 1009 at that event, live and through a hub", () => {
    const live = twoStreams();
    live.client.subscribe("s", {}, live.now);
    live.run();
    live.publish([live.source.event("e".repeat(2000))]);
    expect(live.client.error).toBeUndefined();
    expect(live.clientOf("unsubscribed")).toEqual([
      expect.objectContaining({ stream: "s", code: TOO_LARGE }),
    ]);
    expect(live.wire.s2c.every((m) => m.length <= 1024)).toBe(true);

    // Through a hub, whose batch the session cannot share: it frames itself and ends the subscription.
    const { hub } = seededHub(13);
    const small = new Pair(hub, hub, 1, { client: { limits: { maxMessageBytes: 1024 } } });
    const large = new Pair(hub, hub, 2);
    for (const p of [small, large]) p.pump(1);
    small.recording = true;
    hub.event(new Uint8Array(2000));
    hub.flush(2);
    for (const p of [small, large]) p.pump(2);
    expect(small.client.error).toBeUndefined();
    expect(small.events.filter((e) => e.type === "unsubscribed")).toEqual([
      expect.objectContaining({ code: TOO_LARGE }),
    ]);
    expect(small.recorded.every((m) => m.length <= 1024)).toBe(true);
    expect(large.client.error).toBeUndefined();
    expect(large.events.filter((e) => e.type === "event")).toHaveLength(1);
  });
});
