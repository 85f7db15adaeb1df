// Chaos on real sockets: a loopback TCP proxy cuts connections at seeded
// random moments while 50 clients follow a feed of 100,000 ticks published
// as fast as the server takes them. Every replica must converge to the
// server's state (canonical hash) and every client must see every event
// exactly once, in order.

import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { connectWs, Follower, serveHubs, type WsServer } from "deltaframe/adapters/ws";
import { Hub } from "deltaframe/hub";
import { InMemoryRetainedLog, type ServerEvent } from "deltaframe/session";
import { createRandom, type Market, MarketSchema, OddsFeed, type Random } from "deltaframe/workload";
import { describe, expect, it } from "vitest";

const SEED = Number(process.env.DF_CHAOS_SEED ?? 20261203);
const CLIENTS = 50;
const TICKS = Number(process.env.DF_CHAOS_TICKS ?? 100_000);

/**
 * Ticks in the reference workload's shape (one market, 1–3 selections moved
 * by 1–3 ladder steps, last-change time set), made by copying objects rather
 * than cloning through reflection, so that 100,000 of them take milliseconds.
 */
class CheapTicks {
  private readonly keys: string[];
  private readonly markets: Market[];
  private timeMs = 1_767_225_600_000n;

  constructor(
    initial: Map<string, Market>,
    private readonly random: Random,
  ) {
    this.keys = [...initial.keys()];
    this.markets = [...initial.values()];
  }

  next(): { key: string; market: Market } {
    const i = Math.floor(this.random() * this.markets.length);
    const old = this.markets[i]!;
    const selections = old.selections.slice();
    const moves = 1 + Math.floor(this.random() * 3);
    for (let m = 0; m < moves; m++) {
      const j = Math.floor(this.random() * selections.length);
      const step = (1 + Math.floor(this.random() * 3)) * (this.random() < 0.5 ? -1 : 1);
      const sel = selections[j]!;
      selections[j] = { ...sel, priceTicks: Math.max(1, sel.priceTicks + step) };
    }
    this.timeMs += BigInt(1 + Math.floor(this.random() * 10));
    const market: Market = { ...old, selections, lastChangeMs: this.timeMs };
    this.markets[i] = market;
    return { key: this.keys[i]!, market };
  }
}

/** A TCP proxy that can cut every connection it carries. */
class CuttingProxy {
  readonly pairs = new Set<[Socket, Socket]>();
  cuts = 0;
  private server: Server | undefined;

  async listen(upstreamPort: number): Promise<number> {
    this.server = createServer((downstream) => {
      const upstream = tcpConnect(upstreamPort, "127.0.0.1");
      const pair: [Socket, Socket] = [downstream, upstream];
      this.pairs.add(pair);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      const end = () => {
        this.pairs.delete(pair);
        downstream.destroy();
        upstream.destroy();
      };
      downstream.on("error", end).on("close", end);
      upstream.on("error", end).on("close", end);
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return (this.server.address() as AddressInfo).port;
  }

  /** Cuts the `index`-th live connection (modulo their number), abruptly. */
  cut(index: number): void {
    const pairs = [...this.pairs];
    if (pairs.length === 0) return;
    const [a, b] = pairs[index % pairs.length]!;
    this.pairs.delete(pairs[index % pairs.length]!);
    a.resetAndDestroy();
    b.resetAndDestroy();
    this.cuts++;
  }

  async close(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise((r) => this.server?.close(r));
  }
}

describe(`chaos (seed ${SEED}; replay with DF_CHAOS_SEED=${SEED})`, () => {
  it(`${CLIENTS} clients follow ${TICKS} ticks through a proxy that cuts connections; all converge, no event lost or duplicated`, async () => {
    const random = createRandom(SEED);
    const hub = new Hub(MarketSchema, {
      stream: "odds",
      log: new InMemoryRetainedLog({ maxEntriesPerStream: 2 * TICKS }),
    });
    const initial = new OddsFeed({ seed: SEED }).snapshot();
    for (const [key, market] of initial) hub.set(key, market);
    const ticks = new CheapTicks(initial, createRandom(SEED ^ 0x5eed));
    hub.flush(Date.now());
    const server: WsServer<ServerEvent> = await serveHubs([hub], {
      session: { maxReplayEntries: 2 * TICKS, heartbeatMs: 2000, idleTimeoutMs: 20_000 },
    });
    const proxy = new CuttingProxy();
    const proxyPort = await proxy.listen(server.port);
    const url = `ws://127.0.0.1:${proxyPort}/`;
    try {
      const followers = Array.from({ length: CLIENTS }, (_, i) => {
        const r = createRandom(SEED + 1 + i);
        const f = new Follower({
          schema: MarketSchema,
          stream: "odds",
          random: r,
          connect: (session, handlers) => connectWs(url, session, handlers),
          reconnect: { baseMs: 20, maxMs: 500 },
          // A small window: each round trip delivers a few updates, the rest is conflated.
          session: { windowMessages: 32 },
        });
        f.start();
        return f;
      });
      const waitFor = async (check: () => boolean, what: string, timeoutMs: number) => {
        const start = Date.now();
        while (!check()) {
          if (Date.now() - start > timeoutMs)
            throw new Error(`chaos seed ${SEED}: timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await waitFor(() => followers.every((f) => f.replica.size === 200), "initial snapshots", 20_000);
      // Publish fast, in chunks; between chunks the proxy may cut a connection.
      const events: bigint[] = [];
      let published = 0;
      while (published < TICKS) {
        const chunk = Math.min(TICKS - published, 1000 + Math.floor(random() * 2000));
        for (let i = 0; i < chunk; i++) {
          const tick = ticks.next();
          hub.set(tick.key, tick.market);
          // About one tick in 500 also announces an event on the lossless lane.
          if (random() < 1 / 500) events.push(hub.event(new Uint8Array([i & 0xff, published & 0xff])).offset);
        }
        published += chunk;
        hub.flush(Date.now());
        // Cut 0–3 connections at this moment (3 at once: a small reconnect storm).
        const cuts = Math.floor(random() * 4);
        for (let c = 0; c < cuts; c++) proxy.cut(Math.floor(random() * 1e9));
        await new Promise((r) => setTimeout(r, 1 + Math.floor(random() * 5)));
      }
      const target = hub.stateHash();
      // Cheap check first (versions and event count), the hashes once they look done.
      const latest = new Map([...hub.state].map((e) => [e.key, e.version]));
      const caughtUp = (f: (typeof followers)[number]) =>
        f.eventOffsets.length >= events.length &&
        [...latest].every(([k, v]) => f.replica.get(k)?.version === v);
      await waitFor(() => followers.every(caughtUp), "convergence", 60_000);
      expect(proxy.cuts).toBeGreaterThan(20);
      const resumes = followers.reduce((n, f) => n + f.metrics.resumes, 0);
      expect(resumes).toBeGreaterThan(0);
      for (const [i, f] of followers.entries()) {
        expect(f.replica.stateHash(), `client ${i}`).toBe(target);
        expect(f.eventOffsets, `client ${i} events`).toEqual(events);
        expect(f.metrics.eventOrderErrors, `client ${i}`).toBe(0);
        expect(f.metrics.droppedEvents, `client ${i}`).toBe(0);
      }
      for (const f of followers) f.stop();
      console.log(
        `chaos seed ${SEED}: ${TICKS} ticks, ${events.length} events, ${proxy.cuts} cuts, ${resumes} resumes, ` +
          `${followers.reduce((n, f) => n + f.metrics.connects, 0)} connections, ` +
          `${followers.reduce((n, f) => n + f.metrics.conflated, 0)} updates conflated, ` +
          `${hub.metrics.changesEncoded} change bodies encoded`,
      );
    } finally {
      await proxy.close();
      await server.close();
    }
  });
});
