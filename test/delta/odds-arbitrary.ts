/**
 * Arbitraries for the odds reference workload: markets shaped like the
 * workload's (up to 20 selections, ~36-bit selection ids, ladder prices) and
 * ticks that move 1–3 selections by ±1..3 and advance the last-change time.
 */
import { clone, create } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  type Market,
  MarketSchema,
  SelectionSchema,
  Status,
} from "../../src/gen/deltaframe/odds/v1/odds_pb.js";

const status = fc.constantFrom(Status.OPEN, Status.SUSPENDED, Status.SETTLED, Status.UNSPECIFIED);

/** A market with 1–20 selections. */
export const marketArbitrary: fc.Arbitrary<Market> = fc
  .record({
    id: fc.integer({ min: 0, max: 0xffffffff }),
    name: fc.string({ unit: "grapheme", maxLength: 24 }),
    status,
    lastChangeMs: fc.bigInt({ min: 1_700_000_000_000n, max: 1_900_000_000_000n }),
    selections: fc.array(
      fc.record({
        id: fc.bigInt({ min: 0n, max: 2n ** 36n }),
        name: fc.string({ unit: "grapheme", maxLength: 12 }),
        priceTicks: fc.integer({ min: 1, max: 350 }),
        status,
      }),
      { minLength: 1, maxLength: 20 },
    ),
  })
  .map((m) =>
    create(MarketSchema, { ...m, selections: m.selections.map((s) => create(SelectionSchema, s)) }),
  );

/** One tick: which selections move (indexes taken modulo the count), by how much, and the time step. */
export const tickArbitrary = fc.record({
  moves: fc.array(fc.record({ index: fc.nat(19), step: fc.constantFrom(1, -1, 2, -2, 3, -3) }), {
    minLength: 1,
    maxLength: 3,
  }),
  elapsedMs: fc.integer({ min: 0, max: 60 }),
  statusFlip: fc.boolean(),
});

/** One generated tick. */
export type Tick = typeof tickArbitrary extends fc.Arbitrary<infer T> ? T : never;

/** Applies a tick to a copy of the market. */
export function applyTick(market: Market, tick: Tick, flipStatus = false): Market {
  const next = clone(MarketSchema, market);
  for (const move of tick.moves) {
    const s = next.selections[move.index % next.selections.length]!;
    s.priceTicks += move.step;
  }
  next.lastChangeMs += BigInt(tick.elapsedMs);
  if (flipStatus && tick.statusFlip)
    next.status = next.status === Status.OPEN ? Status.SUSPENDED : Status.OPEN;
  return next;
}

/** Pairs (market, market after one tick). */
export const marketTickArbitrary = fc
  .tuple(marketArbitrary, tickArbitrary)
  .map(([m, t]) => [m, applyTick(m, t, true)] as const);
