/** Test support for the hub: one in-memory connection per `Pair`, a seeded hub. */
import { applyToReplica } from "deltaframe/adapters/ws";
import { Replica } from "deltaframe/delta";
import { Hub } from "deltaframe/hub";
import {
  type ClientEvent,
  ClientSession,
  type ClientSessionOptions,
  type KeyedSource,
  type RetainedLog,
  ServerSession,
  type ServerSessionOptions,
} from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";

/** Options of a {@link Pair}. */
export interface PairOptions {
  windowMessages: number;
  autoConsume: boolean;
  /** Extra client options. */
  client: Partial<ClientSessionOptions>;
  /** Extra server options. */
  server: Partial<ServerSessionOptions>;
  /**
   * Attach the server to the hub through `publish` only, so that it frames
   * every batch itself (the reference a shared batch is compared with).
   */
  ownFraming: boolean;
  /** The replica to apply to (default a new one): a resumed client keeps its earlier replica. */
  replica: Replica<typeof MarketSchema>;
}

/** One in-memory connection: a server session attached to the hub and a client following the stream. */
export class Pair {
  readonly server: ServerSession;
  readonly client: ClientSession;
  readonly replica: Replica<typeof MarketSchema>;
  /** Transport messages the server sent after `recording` was set. */
  readonly recorded: Uint8Array[] = [];
  recording = false;
  events: ClientEvent[] = [];

  constructor(
    readonly hub: Hub<typeof MarketSchema>,
    source: KeyedSource,
    seed: number,
    options: Partial<PairOptions> = {},
  ) {
    let counter = seed;
    this.server = new ServerSession(
      {
        streams: (name) => (name === hub.stream ? source : undefined),
        log: hub.log,
        randomBytes: (n) => new Uint8Array(n).fill(counter++ & 0xff),
        ...options.server,
      },
      0,
    );
    const server = this.server;
    if (options.ownFraming === true) {
      hub.attach({
        publish: (stream, items, now) => server.publish(stream, items, now),
        get isClosed() {
          return server.isClosed;
        },
      });
    } else {
      hub.attach(server);
    }
    this.client = new ClientSession({
      windowMessages: options.windowMessages ?? 1024,
      autoConsume: options.autoConsume ?? true,
      ...options.client,
    });
    this.replica = options.replica ?? new Replica(MarketSchema);
    this.client.connect(0);
    // A client resuming an earlier one subscribes from its resume state.
    if (options.client?.resume === undefined) this.client.subscribe(hub.stream, {}, 0);
  }

  /** Moves messages both ways until nothing moves; accepts the hello. */
  pump(now: number): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (let m = this.client.pollTransmit(); m !== undefined; m = this.client.pollTransmit()) {
        this.server.handleMessage(m, now);
        moved = true;
      }
      for (let e = this.server.pollEvent(); e !== undefined; e = this.server.pollEvent()) {
        if (e.type === "authenticate") this.server.accept({}, now);
      }
      for (let m = this.server.pollTransmit(); m !== undefined; m = this.server.pollTransmit()) {
        if (this.recording) this.recorded.push(m);
        this.client.handleMessage(m, now);
        moved = true;
      }
      for (let e = this.client.pollEvent(); e !== undefined; e = this.client.pollEvent()) {
        this.events.push(e);
        applyToReplica(this.replica, this.client, e, now);
        moved = true;
      }
    }
  }

  /** Consumes everything delivered and pumps, until nothing more arrives (a slow consumer catching up). */
  catchUp(now: number): void {
    for (let round = 0; round < 1000; round++) {
      const n = this.client.unconsumedCount;
      if (n > 0) this.client.consume(n, now);
      this.pump(now);
      if (n === 0 && this.client.unconsumedCount === 0) return;
    }
    throw new Error("slow consumer did not catch up in 1,000 rounds");
  }
}

/** A hub holding the reference workload's 200 markets, flushed, and the feed that moves them. */
export function seededHub(seed: number, options: { hashes?: boolean; log?: RetainedLog } = {}) {
  const hub = new Hub(MarketSchema, { stream: "odds/test", ...options });
  const feed = new OddsFeed({ seed });
  for (const [key, market] of feed.snapshot()) hub.set(key, market);
  hub.flush(0);
  return { hub, feed };
}
