import { type DriverSocket, SessionDriver } from "deltaframe/adapters/websocket";
import { type FollowConnect, Follower } from "deltaframe/adapters/ws";
import { createHmacSigner, Hub } from "deltaframe/hub";
import { SyncMode } from "deltaframe/proto";
import { type ClientSession, InMemoryTokenStore, type ServerEvent, ServerSession } from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { describe, expect, it, vi } from "vitest";

/** An in-memory connection between a follower's client session and a new server session; `cut()` drops it. */
interface Link {
  cut(): void;
  server: ServerSession;
  flushServer(): void;
  modes: SyncMode[];
}

function harness(hub: Hub<typeof MarketSchema>) {
  const signer = createHmacSigner(new Map([[1, new Uint8Array(32).fill(7)]]), 1);
  const tokens = new InMemoryTokenStore();
  const links: Link[] = [];
  /** When set, the next connection drops as soon as the client has sent its first message. */
  let dropNextAfterHello = false;
  /** While set, hub flushes do not write to the socket (what they queue goes with the next write). */
  const control = { hold: false };
  const connect: FollowConnect = (session: ClientSession, handlers) => {
    let n = 0;
    const server = new ServerSession(
      { streams: () => hub, log: hub.log, signer, tokens, randomBytes: (k) => new Uint8Array(k).fill(++n) },
      Date.now(),
    );
    const detach = hub.attach(server, () => {
      if (!control.hold) serverDriver.flush();
    });
    let open = true;
    const modes: SyncMode[] = [];
    const dropAfterHello = dropNextAfterHello;
    dropNextAfterHello = false;
    const socket = (deliver: (bytes: Uint8Array) => void): DriverSocket => ({
      bufferedAmount: 0,
      send: (bytes) => queueMicrotask(() => open && deliver(bytes)),
      // After what was sent before it, as a real socket's close frame would be.
      close: () => queueMicrotask(() => link.cut()),
    });
    const serverDriver: SessionDriver<ServerEvent> = new SessionDriver<ServerEvent>(
      server,
      socket((b) => clientDriver.receive(b)),
      (e) => {
        if (e.type === "authenticate") server.accept({}, Date.now());
        if (e.type === "subscribed") modes.push(e.mode);
      },
    );
    const clientDriver = new SessionDriver(
      session,
      socket((b) => {
        serverDriver.receive(b);
        if (dropAfterHello) link.cut();
      }),
      handlers.onEvent,
    );
    const link: Link = {
      modes,
      server,
      flushServer: () => serverDriver.flush(),
      cut: () => {
        if (!open) return;
        open = false;
        detach();
        serverDriver.socketClosed(1006, "");
        clientDriver.socketClosed(1006, "");
      },
    };
    links.push(link);
    queueMicrotask(() => {
      handlers.onOpen(Date.now());
      clientDriver.flush();
    });
    return { flush: () => clientDriver.flush() };
  };
  return {
    connect,
    links,
    control,
    dropNextAfterHello: () => {
      dropNextAfterHello = true;
    },
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** A hub of the reference workload's 200 markets (not flushed), and the feed that moves them. */
function oddsHub(seed: number) {
  const hub = new Hub(MarketSchema, { stream: "odds" });
  const feed = new OddsFeed({ seed });
  for (const [key, market] of feed.snapshot()) hub.set(key, market);
  return { hub, feed };
}

/** A follower of "odds" that reconnects at once (no jitter), with `options` over that. */
function follow(
  connect: FollowConnect,
  options: Partial<ConstructorParameters<typeof Follower<typeof MarketSchema>>[0]> = {},
): Follower<typeof MarketSchema> {
  return new Follower({
    schema: MarketSchema,
    stream: "odds",
    connect,
    random: () => 0,
    reconnect: { baseMs: 1, maxMs: 1 },
    ...options,
  });
}

describe("Follower", () => {
  it("resumes from its last answered position when a connection drops before its subscription is answered", async () => {
    const { hub, feed } = oddsHub(9);
    const h = harness(hub);
    const follower = follow(h.connect);
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot");
    const events: bigint[] = [];
    const publish = () => {
      for (let i = 0; i < 50; i++) {
        const tick = feed.next();
        hub.set(tick.key, tick.market);
      }
      events.push(hub.event(new Uint8Array([events.length])).offset);
      hub.flush(Date.now());
    };
    publish();
    await until(() => follower.eventOffsets.length === 1, "first event");
    // Drop the live connection; the next one drops right after its hello (before Subscribed); the third succeeds.
    h.dropNextAfterHello();
    h.links[0]!.cut();
    publish();
    await until(() => follower.eventOffsets.length === events.length, "resume").catch((e) => {
      console.log(
        h.links.length,
        h.links.map((l) => l.modes),
        follower.metrics,
        follower.session?.state,
      );
      throw e;
    });
    publish();
    await until(() => follower.eventOffsets.length === events.length, "later events");
    expect(follower.eventOffsets).toEqual(events);
    expect(follower.replica.stateHash()).toBe(hub.stateHash());
    // The connection after the early drop was served by replay from the retained log, not by a new snapshot.
    // (The connection in between presents the token the dropped one spent: refused with 4012, no subscription.)
    expect(h.links.map((l) => l.modes)).toEqual([[SyncMode.SNAPSHOT], [], [], [SyncMode.REPLAY]]);
    expect(follower.metrics.snapshots).toBe(1);
    follower.stop();
  });

  it("starts afresh when a server refuses its declared position (4014) instead of declaring it again", async () => {
    // Server A has more history than server B (same stream, same epoch): a position held from A is beyond B's stream.
    const feed = new OddsFeed({ seed: 11 });
    const hubA = new Hub(MarketSchema, { stream: "odds" });
    const hubB = new Hub(MarketSchema, { stream: "odds" });
    for (const [key, market] of feed.snapshot()) {
      hubA.set(key, market);
      hubB.set(key, market);
    }
    const a = harness(hubA);
    const b = harness(hubB);
    let useB = false;
    const follower = follow((session, handlers) => (useB ? b.connect : a.connect)(session, handlers));
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot from A");
    for (let i = 0; i < 300; i++) {
      const tick = feed.next();
      hubA.set(tick.key, tick.market);
    }
    hubA.flush(Date.now());
    await until(() => follower.replica.stateHash() === hubA.stateHash(), "A's latest state");
    useB = true;
    a.links[0]!.cut();
    await until(() => follower.replica.stateHash() === hubB.stateHash(), "B's state after a fresh snapshot");
    expect(b.links.some((l) => l.modes.includes(SyncMode.SNAPSHOT))).toBe(true);
    expect(b.links.length).toBeLessThan(10);
    follower.stop();
  });

  it("asks for a key again when an update body cannot be applied, and converges without reconnecting", async () => {
    const { hub, feed } = oddsHub(10);
    const h = harness(hub);
    const follower = new Follower({
      schema: MarketSchema,
      stream: "odds",
      connect: h.connect,
      random: () => 0,
    });
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot");
    // A malformed patch for one key, at the offset the hub will use next for that same key.
    const tick = feed.next();
    const link = h.links[0]!;
    link.server.publish(
      "odds",
      [
        {
          type: "change",
          key: tick.key,
          offset: hub.offset + 1n,
          kind: "patch",
          base: hub.state.get(tick.key)!.version,
          body: new Uint8Array([0xff, 0xff, 0xff]),
        },
      ],
      Date.now(),
    );
    link.flushServer();
    hub.set(tick.key, tick.market);
    for (let i = 0; i < 100; i++) {
      const t = feed.next();
      hub.set(t.key, t.market);
    }
    hub.flush(Date.now());
    await until(() => follower.replica.stateHash() === hub.stateHash(), "convergence after the resync");
    expect(follower.metrics.applyErrors).toBe(1);
    expect(follower.lastApplyError).toMatchObject({
      name: "DeltaframeError",
      code: "DF_ERR_PATCH_MALFORMED",
    });
    expect(follower.metrics.connects).toBe(1);
    follower.stop();
  });

  it("applies updates that arrive with the server's close, and resumes from them (replay)", async () => {
    const { hub, feed } = oddsHub(21);
    const h = harness(hub);
    const follower = follow(h.connect);
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot");
    // A server going away right after a publish: the updates and its Close leave in one transport message.
    h.control.hold = true;
    for (let i = 0; i < 20; i++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
    }
    hub.flush(Date.now());
    h.links[0]!.server.close(1001, "going away", Date.now());
    h.control.hold = false;
    h.links[0]!.flushServer();
    await until(
      () => h.links[1]?.modes.length === 1 && follower.session?.position("odds") !== undefined,
      "resume",
    );
    expect(h.links[1]!.modes).toEqual([SyncMode.REPLAY]);
    expect(follower.replica.stateHash()).toBe(hub.stateHash());
    follower.stop();
  });

  it("asks a resumed connection again for a key it gave up on when the connection dropped first", async () => {
    const { hub, feed } = oddsHub(10);
    const h = harness(hub);
    const follower: Follower<typeof MarketSchema> = follow(h.connect, {
      // The connection drops as soon as the follower has asked for the key again, before the server hears it.
      onEvent: () => {
        if (follower.metrics.applyErrors === 1 && h.links.length === 1) h.links[0]!.cut();
      },
    });
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot");
    const tick = feed.next();
    const link = h.links[0]!;
    // A body the replica cannot apply, at the offset the real change then takes.
    const base = hub.state.get(tick.key)!.version;
    const body = new Uint8Array([0xff, 0xff, 0xff]);
    link.server.publish(
      "odds",
      [{ type: "change", key: tick.key, offset: hub.offset + 1n, kind: "patch", base, body }],
      Date.now(),
    );
    link.flushServer();
    hub.set(tick.key, tick.market);
    await until(() => h.links[1]?.modes.length === 1 && follower.replica.size === 200, "catch-up");
    expect(follower.metrics.applyErrors).toBe(1);
    // Not a replay: the key must come again although the stream did not change it since.
    expect(h.links[1]!.modes).toEqual([SyncMode.CATCH_UP]);
    expect(follower.replica.stateHash()).toBe(hub.stateHash());
    follower.stop();
  });

  it("resumes on a new connection when the server ends the subscription as a slow consumer (4009)", async () => {
    const { hub, feed } = oddsHub(5);
    const h = harness(hub);
    const follower = follow(h.connect, {
      session: { windowMessages: 2 },
      subscribe: { maxBufferedEvents: 1 },
    });
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot");
    // More events at once than the window and the event buffer hold: 4009.
    for (let i = 0; i < 6; i++) hub.event(new Uint8Array([i]));
    hub.flush(Date.now());
    await until(() => follower.metrics.resubscribes === 1, "4009");
    for (let i = 0; i < 50; i++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
    }
    hub.flush(Date.now());
    await until(() => follower.replica.stateHash() === hub.stateHash(), "convergence");
    expect(follower.metrics.connects).toBe(2);
    expect(follower.running).toBe(true);
    follower.stop();
  });

  it("counts no order error when a new epoch starts its offsets again", async () => {
    const feed = new OddsFeed({ seed: 3 });
    const first = new Hub(MarketSchema, { stream: "odds", epoch: 1n });
    const second = new Hub(MarketSchema, { stream: "odds", epoch: 2n });
    for (const [key, market] of feed.snapshot()) {
      first.set(key, market);
      second.set(key, market);
    }
    const a = harness(first);
    const b = harness(second);
    let restarted = false;
    const follower = follow((session, handlers) => (restarted ? b : a).connect(session, handlers));
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot");
    for (let i = 0; i < 50; i++) first.event(new Uint8Array([i]));
    first.flush(Date.now());
    await until(() => follower.metrics.events === 50, "events of epoch 1");
    // The server restarts without its history: epoch 2, whose offsets are below the ones seen.
    restarted = true;
    a.links[0]!.cut();
    await until(
      () => b.links.some((l) => l.modes.length === 1) && follower.session?.position("odds") !== undefined,
      "epoch 2",
    );
    second.event(new Uint8Array([1]));
    second.flush(Date.now());
    await until(() => follower.metrics.events === 51, "event of epoch 2");
    expect(follower.metrics.eventOrderErrors).toBe(0);
    follower.stop();
  });

  it("backs off across connections that are welcomed and then fail before they sync", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const hub = new Hub(MarketSchema, { stream: "odds" });
      const feed = new OddsFeed({ seed: 8 });
      for (const [key, market] of feed.snapshot()) hub.set(key, market);
      const h = harness(hub);
      // Every connection fails (1011) as soon as it is welcomed.
      const follower = new Follower({
        schema: MarketSchema,
        stream: "odds",
        connect: h.connect,
        random: () => 0.5,
        reconnect: { baseMs: 100, maxMs: 60_000 },
        onEvent: (event) => {
          if (event.type === "welcome") h.links.at(-1)!.server.close(1011, "internal error", Date.now());
        },
      });
      follower.start();
      await vi.advanceTimersByTimeAsync(1000);
      // Delays of 50, 100, 200, 400, 800 ms (half of base · 2^attempt): five connections in the first second,
      // where a backoff that started over at each welcome would have made about twenty.
      expect(follower.metrics.connects).toBeLessThanOrEqual(6);
      expect(follower.metrics.connects).toBeGreaterThanOrEqual(4);
      follower.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
