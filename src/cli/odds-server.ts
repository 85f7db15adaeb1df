/**
 * The odds feed served over WebSocket, shared by `deltaframe serve` and
 * `deltaframe demo`: a hub seeded with the reference workload, published at
 * a steady tick rate.
 *
 * @module
 */
import { toBinary, toJson } from "@bufbuild/protobuf";
import { serveHubs, type WsServer } from "../adapters/ws.js";
import { Hub } from "../hub/index.js";
import type { ServerEvent, ServerSession, ServerSessionOptions } from "../session/index.js";
import { MarketSchema, MarketStatusChangedSchema, OddsFeed, SelectionSchema } from "../workload/index.js";

/** The stream name the odds feed is served under. */
export const ODDS_STREAM = "odds";

/** A stream that never changes: a connection following only it is idle, so heartbeats measure its RTT. */
export const QUIET_STREAM = "quiet";

/** Options of {@link startOddsServer}. */
export interface OddsServerOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Address to listen on. */
  host: string;
  /** Seed of the feed. */
  seed: number;
  /** Ticks per second. */
  rate: number;
  /** Server session options (heartbeats, windows). */
  session: Partial<ServerSessionOptions>;
  /** Attach canonical hashes to updates (CAPABILITY_HASH). */
  hashes: boolean;
}

/** A running odds server. */
export interface OddsServer {
  /** The hub of the `odds` stream. */
  readonly hub: Hub<typeof MarketSchema>;
  /** The WebSocket server. */
  readonly server: WsServer<ServerEvent>;
  /** Every server session created so far (open or closed). */
  readonly sessions: ServerSession[];
  /** Ticks published. */
  readonly ticks: () => number;
  /** Bytes the changed selections of every published tick would take as JSON. */
  readonly jsonBytes: () => number;
  /** Offsets of the events published, in order. */
  readonly eventOffsets: bigint[];
  /** When the change at `offset` was published (ms), for the last 10,000 offsets; undefined before. */
  publishedAt(offset: bigint): number | undefined;
  /** Stops publishing (the server keeps serving). */
  stopPublishing(): void;
  /** Stops publishing and closes the server. */
  close(): Promise<void>;
}

/** Starts the hub, the server and the publisher. */
export async function startOddsServer(options: OddsServerOptions): Promise<OddsServer> {
  const feed = new OddsFeed({ seed: options.seed });
  // With hashes, every update carries the canonical hash of its result (8 bytes), which each client checks.
  const hub = new Hub(MarketSchema, { stream: ODDS_STREAM, hashes: options.hashes });
  for (const [key, market] of feed.snapshot()) hub.set(key, market);
  hub.flush(Date.now());
  const sessions: ServerSession[] = [];
  const quiet = new Hub(MarketSchema, { stream: QUIET_STREAM });
  const server = await serveHubs([hub, quiet], {
    port: options.port,
    host: options.host,
    session: options.session,
    onConnection: (_connection, session) => void sessions.push(session),
  });
  let ticks = 0;
  let jsonBytes = 0;
  const eventOffsets: bigint[] = [];
  // Publish times of recent offsets, for delivery-latency figures: [first offset, times...].
  const times: number[] = [];
  let firstTimed = hub.offset + 1n;
  const start = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - start) * options.rate) / 1000);
    const n = Math.min(due - ticks, Math.max(1000, options.rate));
    for (let i = 0; i < n; i++) {
      const tick = feed.next();
      hub.set(tick.key, tick.market);
      jsonBytes += JSON.stringify({
        market: tick.key,
        selections: tick.changedSelections.map((s) => toJson(SelectionSchema, s)),
      }).length;
      if (tick.event !== undefined) {
        eventOffsets.push(hub.event(toBinary(MarketStatusChangedSchema, tick.event)).offset);
      }
      ticks++;
    }
    const now = Date.now();
    while (firstTimed + BigInt(times.length) <= hub.offset) times.push(now);
    if (times.length > 10_000) {
      const drop = times.length - 10_000;
      times.splice(0, drop);
      firstTimed += BigInt(drop);
    }
    hub.flush(now);
  }, 10);
  let publishing = true;
  const stopPublishing = () => {
    if (!publishing) return;
    publishing = false;
    clearInterval(timer);
    hub.flush(Date.now());
  };
  return {
    hub,
    server,
    sessions,
    ticks: () => ticks,
    jsonBytes: () => jsonBytes,
    eventOffsets,
    publishedAt: (offset) => (offset >= firstTimed ? times[Number(offset - firstTimed)] : undefined),
    stopPublishing,
    close: async () => {
      stopPublishing();
      await server.close();
    },
  };
}
