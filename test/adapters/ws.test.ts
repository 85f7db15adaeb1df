import { connectWs, Follower, serveHubs, type WsServer } from "deltaframe/adapters/ws";
import { Hub } from "deltaframe/hub";
import type { ServerEvent } from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";

function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let server: WsServer<ServerEvent> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function makeHub(seed: number) {
  const hub = new Hub(MarketSchema, { stream: "odds" });
  const feed = new OddsFeed({ seed });
  for (const [key, market] of feed.snapshot()) hub.set(key, market);
  hub.flush(Date.now());
  return { hub, feed };
}

function follow(url: string, seed: number, options: { windowMessages?: number } = {}) {
  const f = new Follower({
    schema: MarketSchema,
    stream: "odds",
    random: random(seed),
    connect: (session, handlers) => connectWs(url, session, handlers),
    session: { windowMessages: options.windowMessages ?? 1024 },
  });
  f.start();
  return f;
}

describe("ws adapter", () => {
  it("serves a hub to clients over real sockets; replicas converge and events arrive once, in order", async () => {
    const { hub, feed } = makeHub(1);
    server = await serveHubs([hub]);
    const followers = [
      follow(server.url, 1),
      follow(server.url, 2),
      follow(server.url, 3, { windowMessages: 8 }),
    ];
    await until(() => followers.every((f) => f.metrics.snapshots > 0 && f.replica.size === 200), "snapshots");
    const events: bigint[] = [];
    for (let i = 0; i < 2000; i++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
      if (i % 100 === 0) events.push(hub.event(new Uint8Array([i & 0xff])).offset);
      if (i % 50 === 49) {
        hub.flush(Date.now());
        await new Promise((r) => setImmediate(r));
      }
    }
    hub.flush(Date.now());
    const target = hub.stateHash();
    await until(() => followers.every((f) => f.replica.stateHash() === target), "convergence");
    await until(() => followers.every((f) => f.eventOffsets.length === events.length), "events");
    for (const f of followers) {
      expect(f.eventOffsets).toEqual(events);
      expect(f.metrics.eventOrderErrors).toBe(0);
    }
    expect(followers[2]!.metrics.conflated).toBeGreaterThan(0);
    for (const f of followers) f.stop();
  });

  it("resumes after the server kills the connection, with no gap and no duplicate event", async () => {
    const { hub, feed } = makeHub(2);
    server = await serveHubs([hub]);
    const f = follow(server.url, 7);
    await until(() => f.replica.size === 200, "snapshot");
    const events: bigint[] = [];
    const publish = (n: number) => {
      for (let i = 0; i < n; i++) {
        const tick = feed.next();
        hub.set(tick.key, tick.market);
        if (i % 25 === 0) events.push(hub.event(new Uint8Array([1])).offset);
      }
      hub.flush(Date.now());
    };
    publish(300);
    await until(() => f.eventOffsets.length === events.length, "first events");
    for (const c of server.connections) c.terminate();
    publish(300);
    await until(() => f.metrics.resumes === 1, "resume");
    publish(300);
    const target = hub.stateHash();
    await until(
      () => f.replica.stateHash() === target && f.eventOffsets.length === events.length,
      "convergence",
    );
    expect(f.eventOffsets).toEqual(events);
    expect(f.metrics.connects).toBe(2);
    f.stop();
  });

  it("sizes both sockets from the sessions' limits: a 2 MiB event reaches a follower whose limits allow it", async () => {
    const { hub } = makeHub(3);
    const limits = { maxMessageBytes: 4 << 20, maxBytesFieldBytes: 4 << 20 };
    server = await serveHubs([hub], { session: { limits } });
    const f = new Follower({
      schema: MarketSchema,
      stream: "odds",
      random: random(5),
      connect: (session, handlers) => connectWs(server!.url, session, handlers),
      session: { limits },
    });
    f.start();
    await until(() => f.replica.size === 200, "snapshot");
    hub.event(new Uint8Array(2 << 20).fill(9));
    hub.flush(Date.now());
    await until(() => f.metrics.events === 1, "the 2 MiB event");
    expect(f.metrics.connects).toBe(1);
    f.stop();
  });

  it("refuses bad session options when it starts, not at the first connection", async () => {
    const { hub } = makeHub(4);
    await expect(serveHubs([hub], { session: { heartbeatMs: -5 } })).rejects.toMatchObject({
      name: "DeltaframeError",
    });
  });

  it("closes the socket with the session's close code", async () => {
    const { hub } = makeHub(3);
    server = await serveHubs([hub], { authenticate: () => false });
    const socket = new WebSocket(server.url);
    const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
    await new Promise((r) => socket.on("open", r));
    // A hello (marker 0, batch with one Frame{hello{versions:[1]}}).
    socket.send(new Uint8Array([0x00, 0x0a, 0x05, 0x72, 0x03, 0x0a, 0x01, 0x01]));
    expect(await closed).toBe(4003);
  });

  it("refuses messages over maxMessageBytes with 1009 before buffering them (maxPayload)", async () => {
    const { hub } = makeHub(4);
    server = await serveHubs([hub], { limits: { maxMessageBytes: 1024 } });
    const socket = new WebSocket(server.url);
    const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
    await new Promise((r) => socket.on("open", r));
    socket.send(new Uint8Array(1025));
    expect(await closed).toBe(1009);
  });

  it("closes a connection that sends text with 1003", async () => {
    const { hub } = makeHub(5);
    server = await serveHubs([hub]);
    const socket = new WebSocket(server.url);
    const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
    await new Promise((r) => socket.on("open", r));
    socket.send("hello");
    expect(await closed).toBe(1003);
  });
});
