import { toBinary } from "@bufbuild/protobuf";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { describe, expect, it } from "vitest";

describe("OddsFeed (DESIGN §6 reference workload)", () => {
  it("is deterministic for a seed and differs between seeds", () => {
    const run = (seed: number) => {
      const feed = new OddsFeed({ seed });
      const out: string[] = [];
      for (let i = 0; i < 200; i++)
        out.push(Buffer.from(toBinary(MarketSchema, feed.next().market)).toString("hex"));
      return out.join();
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  });

  it("has 200 markets of 20 selections with distinct ids", () => {
    const feed = new OddsFeed();
    const markets = [...feed.snapshot().values()];
    expect(markets).toHaveLength(200);
    expect(new Set(markets.map((m) => m.id)).size).toBe(200);
    for (const m of markets) expect(m.selections).toHaveLength(20);
    const selectionId = markets[0]!.selections[0]!.id;
    expect(selectionId).toBeGreaterThanOrEqual(2n ** 35n);
    expect(selectionId).toBeLessThan(2n ** 36n);
  });

  it("follows the workload's distributions over 20,000 ticks", () => {
    const feed = new OddsFeed({ seed: 42 });
    const n = 20_000;
    const moved = [0, 0, 0, 0];
    const sizes = [0, 0, 0, 0];
    let events = 0;
    const start = feed.timeMs;
    const perMarket = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const tick = feed.next();
      moved[tick.changedSelections.length]!++;
      for (const s of tick.changedSelections) {
        const before = tick.previous.selections.find((p) => p.id === s.id)!;
        const size = Math.abs(s.priceTicks - before.priceTicks);
        sizes[size]!++;
      }
      expect(tick.market.lastChangeMs).toBe(BigInt(tick.timeMs));
      if (tick.event) events++;
      perMarket.set(tick.key, (perMarket.get(tick.key) ?? 0) + 1);
    }
    const meanGap = (feed.timeMs - start) / n;
    expect(meanGap).toBeGreaterThan(4.8);
    expect(meanGap).toBeLessThan(5.2);
    expect(moved[0]).toBe(0);
    for (const c of [1, 2, 3]) expect(moved[c]! / n).toBeCloseTo(1 / 3, 1);
    const totalMoves = sizes[1]! + sizes[2]! + sizes[3]!;
    expect(sizes[1]! / totalMoves).toBeCloseTo(0.6, 1);
    expect(sizes[2]! / totalMoves).toBeCloseTo(0.3, 1);
    expect(sizes[3]! / totalMoves).toBeCloseTo(0.1, 1);
    expect(events).toBeGreaterThan(20);
    expect(events).toBeLessThan(65);
    expect(perMarket.size).toBe(200);
  });
});
