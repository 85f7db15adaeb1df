/**
 * The session part of scripts/bench-memory.ts: retained heap per idle
 * session (handshake done; and subscribed to the reference stream, synced)
 * and per slow consumer (subscribed, never acking, while the stream keeps
 * ticking), at two stream sizes to show how it grows with keys. The client
 * halves are dropped before measuring: only server sessions are retained.
 */

import type { MemoryResult } from "../bench/support/results.js";
import { referenceHub, SessionPair } from "../bench/support/session-pair.js";

/** What {@link measureSessions} found. */
export interface SessionMemory {
  idleSessionBytes: number | null;
  idleSubscribedBytes: number | null;
  slowConsumer: MemoryResult["slowConsumer"];
  note: string;
}

/** Sizes of the session measurements. */
export interface SessionCounts {
  /** Handshake-only sessions. */
  idle: number;
  /** Sessions subscribed to the 200-key stream. */
  subscribed: number;
  /** Slow consumers per stream size. */
  slow: number;
  /** Ticks published while the slow consumers do not ack. */
  slowTicks: number;
}

function perSession(
  count: number,
  settle: () => NodeJS.MemoryUsage,
  make: (i: number) => unknown,
): { bytes: number; kept: unknown[] } {
  const kept: unknown[] = [];
  const before = settle().heapUsed;
  for (let i = 0; i < count; i++) kept.push(make(i));
  const after = settle().heapUsed;
  return { bytes: (after - before) / count, kept };
}

/** Measures sessions; `settle` collects garbage and returns memory usage. */
export async function measureSessions(
  counts: SessionCounts,
  settle: () => NodeJS.MemoryUsage,
): Promise<SessionMemory> {
  // Handshake done, nothing subscribed.
  const idle = perSession(counts.idle, settle, (i) => {
    const p = new SessionPair(i);
    p.settle(100);
    return p.server;
  });
  idle.kept.length = 0;

  // Subscribed to the 200-market stream, snapshot delivered and acknowledged.
  const { hub } = referenceHub(1);
  const subscribed = perSession(counts.subscribed, settle, (i) => {
    const p = new SessionPair(i, { hub });
    p.settle(100);
    return { server: p.server, detach: p.detach };
  });
  for (const s of subscribed.kept as { detach(): void }[]) s.detach();
  subscribed.kept.length = 0;

  // Slow consumers: window of 64 messages, never acked, while the stream ticks.
  const slowConsumer: MemoryResult["slowConsumer"] = [];
  const configs = [
    { keys: 200, ticks: counts.slowTicks },
    { keys: 200, ticks: 2 * counts.slowTicks },
    { keys: 2000, ticks: counts.slowTicks },
  ];
  for (const { keys, ticks } of configs) {
    const { hub: slowHub, feed } = referenceHub(2, keys);
    const pairs: SessionPair[] = [];
    for (let i = 0; i < counts.slow; i++) {
      const p = new SessionPair(i, { hub: slowHub, windowMessages: 64, autoConsume: false });
      p.settle(100);
      pairs.push(p);
    }
    let now = 100;
    for (let t = 0; t < ticks; t++) {
      const tick = feed.next();
      slowHub.set(tick.key, tick.market);
      if (t % 20 === 19) {
        now += 100;
        slowHub.flush(now);
        for (const p of pairs) while (p.server.pollTransmit() !== undefined);
      }
    }
    slowHub.flush(now);
    for (const p of pairs) while (p.server.pollTransmit() !== undefined);
    const servers = pairs.map((p) => ({ server: p.server, detach: p.detach }));
    pairs.length = 0; // drop the clients
    const withSessions = settle().heapUsed;
    // The hub's own growth (its retained log) is not the sessions': measure what detaching them frees.
    for (const s of servers) s.detach();
    servers.length = 0;
    const after = settle().heapUsed;
    slowConsumer.push({
      keys,
      updates: ticks,
      bytesPerSession: (withSessions - after) / counts.slow,
    });
  }
  return {
    idleSessionBytes: idle.bytes,
    idleSubscribedBytes: subscribed.bytes,
    slowConsumer,
    note: `ServerSession after the handshake (Welcome sent), ${counts.idle} sessions; subscribed: ${counts.subscribed} sessions synced to the 200-key stream; slow consumers: ${counts.slow} per stream size, window 64 messages, no acks`,
  };
}
