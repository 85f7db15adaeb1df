/**
 * An in-memory connection for the session benches and the memory script: a
 * server session (attached to a hub when it subscribes) and a client
 * session, with messages moved between them by {@link SessionPair.pump}.
 *
 * @module
 */
// "deltaframe/hub" is not in the package exports yet: import the layer by path.

import { create } from "@bufbuild/protobuf";
import { encodeBatch } from "deltaframe/codec";
import { encodeChange } from "deltaframe/delta";
import { AckSchema, FrameSchema } from "deltaframe/proto";
import {
  ClientSession,
  LockstepView,
  type PublishedChange,
  ServerSession,
  SharedBatch,
} from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { Hub } from "../../src/hub/index.js";
import { BENCH_SEED } from "./frames.js";

/** The reference stream's name in the benches. */
export const STREAM = "odds/bench";

/** Returns a hub holding every market of a seeded feed, and the feed to tick it further. */
export function referenceHub(
  seed: number,
  marketCount = 200,
): { hub: Hub<typeof MarketSchema>; feed: OddsFeed } {
  const hub = new Hub(MarketSchema, { stream: STREAM });
  const feed = new OddsFeed({ seed, marketCount });
  for (const [key, market] of feed.snapshot()) hub.set(key, market);
  hub.flush(0);
  return { hub, feed };
}

/** Options of a {@link SessionPair}. */
export interface PairOptions {
  /** The hub to subscribe to; undefined for a session that only completes the handshake. */
  hub: Hub<typeof MarketSchema> | undefined;
  /** The client's receive window, in messages. Default 1,024. */
  windowMessages: number;
  /** Whether the client consumes (and acks) what it receives. Default true. */
  autoConsume: boolean;
}

/** A server session and a client session joined in memory. */
export class SessionPair {
  readonly server: ServerSession;
  readonly client: ClientSession;
  /** Transport messages the server sent. */
  serverMessages = 0;
  /** Sees every transport message the server sends, when set. */
  onServerMessage: ((message: Uint8Array) => void) | undefined;
  /** Detaches the server session from the hub (a no-op without a hub). */
  readonly detach: () => void;

  constructor(id: number, options: Partial<PairOptions> = {}) {
    const hub = options.hub;
    let counter = id;
    this.server = new ServerSession(
      {
        streams: (name) => (hub !== undefined && name === hub.stream ? hub : undefined),
        ...(hub !== undefined ? { log: hub.log } : {}),
        randomBytes: (n) => new Uint8Array(n).fill(counter++ & 0xff),
      },
      0,
    );
    this.detach = hub !== undefined ? hub.attach(this.server) : () => {};
    this.client = new ClientSession({
      windowMessages: options.windowMessages ?? 1024,
      autoConsume: options.autoConsume ?? true,
    });
    this.client.connect(0);
    if (hub !== undefined) this.client.subscribe(hub.stream, {}, 0);
  }

  /** Moves messages both ways until nothing moves, accepting the hello and dropping client events. */
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
        this.serverMessages++;
        this.onServerMessage?.(m);
        this.client.handleMessage(m, now);
        moved = true;
      }
      for (let e = this.client.pollEvent(); e !== undefined; e = this.client.pollEvent()) moved = true;
    }
  }

  /** Pumps, then lets the client's timers fire (delayed acks) at `now`, and pumps again. */
  settle(now: number): void {
    this.pump(now);
    this.client.handleTimeout(now);
    this.server.handleTimeout(now);
    this.pump(now);
  }
}

/**
 * Returns a connection synced to the 200-market reference stream (window
 * 65,536 messages) and detached from its hub, and a generator of the
 * stream's next changes (one tick each, bodies encoded beforehand, each a
 * patch against the key's previous version) to publish to it directly.
 */
export function syncedSession(id: number): SyncedSession {
  const fanout = syncedFanout([id]);
  return {
    pair: fanout.pairs[0]!,
    get sentMessages() {
      return fanout.sentMessages;
    },
    get sentBytes() {
      return fanout.sentBytes;
    },
    next: (count) => fanout.next(count),
  };
}

/**
 * Returns connections synced to one 200-market reference stream (window
 * 65,536 messages each), detached from their hub, and generators of the
 * stream's next changes: as items (see {@link syncedSession}), or as a
 * {@link SharedBatch} of the hub's source and key ids, which every
 * connection can take as it is.
 */
export function syncedFanout(ids: readonly number[]): SyncedFanout {
  const { hub, feed } = referenceHub(BENCH_SEED);
  const pairs = ids.map((id) => new SessionPair(id, { hub, windowMessages: 65_536 }));
  for (const pair of pairs) {
    pair.settle(100);
    pair.settle(200); // past the client's ack delay: the snapshot is acknowledged
    pair.detach(); // changes are published to the sessions directly below
  }
  const keys = [...feed.keys];
  const keyIds = keys.map((k) => hub.keyId(k));
  const versions = keys.map((k) => hub.state.get(k)!.version);
  const bodies = Array.from({ length: 256 }, () => {
    const t = feed.next();
    return { index: keys.indexOf(t.key), body: encodeChange(MarketSchema, t.previous, t.market).body };
  });
  let offset = hub.offset;
  let b = 0;
  // The hub's lockstep view as of now, advanced by the batches below as the hub would.
  const view = new LockstepView(hub.offset);
  for (const entry of hub.state) view.versions.set(entry.key, entry.version);
  // Everything sent so far was consumed and acknowledged by every client (the same snapshot for each).
  const credit = pairs[0]!.client.credit;
  for (const pair of pairs) {
    const c = pair.client.credit;
    if (
      c.ackedMessages !== c.recvMessages ||
      c.ackedBytes !== c.recvBytes ||
      c.recvBytes !== credit.recvBytes
    ) {
      throw new Error("bench session: a client has not acknowledged the snapshot");
    }
  }
  const batchKeyIds: number[] = [];
  const synced: SyncedFanout = {
    pairs,
    hub,
    sentMessages: credit.recvMessages,
    sentBytes: credit.recvBytes,
    next(count) {
      const items: PublishedChange[] = new Array(count);
      batchKeyIds.length = 0;
      for (let n = 0; n < count; n++) {
        const { index, body } = bodies[b]!;
        b = (b + 1) & 255;
        offset++;
        items[n] = { type: "change", key: keys[index]!, offset, kind: "patch", body, base: versions[index]! };
        batchKeyIds.push(keyIds[index]!);
        versions[index] = offset;
        synced.sentMessages++;
        synced.sentBytes += body.length;
      }
      return items;
    },
    nextBatch(count) {
      const items = synced.next(count);
      const introduces = new Array<boolean>(count).fill(false);
      return new SharedBatch(STREAM, hub, items, [...batchKeyIds], introduces, view);
    },
    delivered(batch) {
      view.advance(batch);
    },
  };
  return synced;
}

/** A synced connection (see {@link syncedSession}). */
export interface SyncedSession {
  readonly pair: SessionPair;
  /** Data messages the server has been given so far (all of which it sends: the window is ample). */
  readonly sentMessages: number;
  /** Their payload bytes. */
  readonly sentBytes: number;
  /** Returns the next `count` changes, each a patch against the key's previous version. */
  next(count: number): PublishedChange[];
}

/** Synced connections of one stream (see {@link syncedFanout}). */
export interface SyncedFanout {
  readonly pairs: readonly SessionPair[];
  /** The hub the sessions synced from (the source of the batches' key ids). */
  readonly hub: Hub<typeof MarketSchema>;
  /** Data messages each server has been given so far. */
  sentMessages: number;
  /** Their payload bytes. */
  sentBytes: number;
  /** Returns the next `count` changes, each a patch against the key's previous version. */
  next(count: number): PublishedChange[];
  /** Returns the next `count` changes as one batch every session can share. */
  nextBatch(count: number): SharedBatch;
  /** Advances the lockstep view past `batch`, once every session has had it (as the hub does after a flush). */
  delivered(batch: SharedBatch): void;
}

/** Returns the transport message of one cumulative ack of everything `synced` was given. */
export function ackMessage(synced: {
  readonly sentMessages: number;
  readonly sentBytes: number;
}): Uint8Array {
  return encodeBatch([
    create(FrameSchema, {
      body: {
        case: "ack",
        value: create(AckSchema, { messages: BigInt(synced.sentMessages), bytes: BigInt(synced.sentBytes) }),
      },
    }),
  ]);
}

/**
 * Hands the server one cumulative ack for everything it was given, as a
 * client that consumed it all would (acks are coalesced: one per call).
 * Throws when the server did not send everything (it conflated or closed),
 * which would make the measurement meaningless.
 */
export function ackAll(synced: SyncedSession, now: number): void {
  const server = synced.pair.server;
  if (server.isClosed || server.metrics.conflatedUpdates !== 0) {
    throw new Error("bench session: closed, or conflated instead of sending");
  }
  server.handleMessage(ackMessage(synced), now);
}
