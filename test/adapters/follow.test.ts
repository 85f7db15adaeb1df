import { type DriverSocket, SessionDriver } from "deltaframe/adapters/websocket";
import { type FollowConnect, Follower } from "deltaframe/adapters/ws";
import { createHmacSigner, Hub } from "deltaframe/hub";
import { SyncMode } from "deltaframe/proto";
import { type ClientSession, InMemoryTokenStore, type ServerEvent, ServerSession } from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { describe, expect, it } from "vitest";

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
  const connect: FollowConnect = (session: ClientSession, handlers) => {
    let n = 0;
    const server = new ServerSession(
      { streams: () => hub, log: hub.log, signer, tokens, randomBytes: (k) => new Uint8Array(k).fill(++n) },
      Date.now(),
    );
    const detach = hub.attach(server, () => serverDriver.flush());
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
    dropNextAfterHello: () => {
      dropNextAfterHello = true;
    },
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe("Follower", () => {
  it("resumes from its last answered position when a connection drops before its subscription is answered", async () => {
    const hub = new Hub(MarketSchema, { stream: "odds" });
    const feed = new OddsFeed({ seed: 9 });
    for (const [key, market] of feed.snapshot()) hub.set(key, market);
    const h = harness(hub);
    const follower = new Follower({
      schema: MarketSchema,
      stream: "odds",
      connect: h.connect,
      random: () => 0,
      reconnect: { baseMs: 1, maxMs: 1 },
    });
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
    const follower = new Follower({
      schema: MarketSchema,
      stream: "odds",
      connect: (session, handlers) => (useB ? b.connect : a.connect)(session, handlers),
      random: () => 0,
      reconnect: { baseMs: 1, maxMs: 1 },
    });
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
    const hub = new Hub(MarketSchema, { stream: "odds" });
    const feed = new OddsFeed({ seed: 10 });
    for (const [key, market] of feed.snapshot()) hub.set(key, market);
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
});
