/**
 * The reference workload (DESIGN §6): a seeded sports-odds tick stream. Every
 * bandwidth and throughput figure of deltaframe is measured on it, so that
 * figures stay comparable between versions.
 *
 * 200 markets × 20 selections. Each tick picks one market uniformly, moves 1–3
 * distinct selections (uniform count) by ±1 tick (60 %), ±2 (30 %) or ±3
 * (10 %), and sets the market's last-change time. The time between ticks is
 * geometric with a mean of 5 ms. About one tick in 500 also suspends or
 * reopens the market, which is announced as an event on the lossless lane.
 *
 * Nothing in the codec, delta or session layers knows this schema.
 *
 * @module
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  type Market,
  MarketSchema,
  type MarketStatusChanged,
  MarketStatusChangedSchema,
  type Selection,
  SelectionSchema,
  Status,
} from "../gen/deltaframe/odds/v1/odds_pb.js";
import { createRandom, type Random, randomInt } from "./prng.js";

/** Options of {@link OddsFeed}; every field has a default. */
export interface OddsFeedOptions {
  /** Seed of the generator. Default 1. */
  seed: number;
  /** Number of markets. Default 200. */
  marketCount: number;
  /** Selections per market. Default 20. */
  selectionCount: number;
  /** Mean time between ticks, in milliseconds (geometric, at least 1). Default 5. */
  meanTickGapMs: number;
  /** Probability that a tick also suspends or reopens its market. Default 1/500. */
  statusChangeProbability: number;
  /** Feed time of the first tick's predecessor, in ms since the Unix epoch. Default 2026-01-01T00:00:00Z. */
  startTimeMs: number;
}

const DEFAULTS: OddsFeedOptions = {
  seed: 1,
  marketCount: 200,
  selectionCount: 20,
  meanTickGapMs: 5,
  statusChangeProbability: 1 / 500,
  startTimeMs: Date.UTC(2026, 0, 1),
};

/** One tick of the feed: the new value of one market and what changed. */
export interface OddsTick {
  /** Sequence number of the tick, from 0. */
  index: number;
  /** Feed time of the tick, in ms since the Unix epoch. */
  timeMs: number;
  /** The market's key in the keyed state: its id in decimal. */
  key: string;
  /** The market before the tick (a snapshot; not shared with the feed). */
  previous: Market;
  /** The market after the tick (a snapshot; not shared with the feed). */
  market: Market;
  /** The selections that moved, with their new values. */
  changedSelections: Selection[];
  /** The status event, when this tick suspended or reopened the market. */
  event?: MarketStatusChanged;
}

/**
 * A deterministic odds feed: the same options give the same markets and the
 * same ticks, on every machine.
 */
export class OddsFeed {
  /** The options in force. */
  readonly options: Readonly<OddsFeedOptions>;
  readonly #random: Random;
  readonly #markets: Market[];
  readonly #keys: string[];
  #timeMs: number;
  #index = 0;

  constructor(options: Partial<OddsFeedOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULTS, ...options });
    this.#random = createRandom(this.options.seed);
    this.#timeMs = this.options.startTimeMs;
    this.#markets = [];
    this.#keys = [];
    const usedIds = new Set<number>();
    for (let m = 0; m < this.options.marketCount; m++) {
      let id: number;
      do id = randomInt(this.#random, 100_000_000, 4_000_000_000);
      while (usedIds.has(id));
      usedIds.add(id);
      const selections: Selection[] = [];
      for (let s = 0; s < this.options.selectionCount; s++) {
        selections.push(
          create(SelectionSchema, {
            id: BigInt(2 ** 35 + Math.floor(this.#random() * 2 ** 35)),
            name: `Runner ${s + 1}`,
            priceTicks: randomInt(this.#random, 50, 900),
            status: Status.OPEN,
          }),
        );
      }
      this.#markets.push(
        create(MarketSchema, {
          id,
          name: `Market ${m + 1}`,
          status: Status.OPEN,
          lastChangeMs: BigInt(this.#timeMs),
          selections,
        }),
      );
      this.#keys.push(String(id));
    }
  }

  /** Returns the current value of every market, keyed by market key (snapshots). */
  snapshot(): Map<string, Market> {
    const out = new Map<string, Market>();
    for (let i = 0; i < this.#markets.length; i++)
      out.set(this.#keys[i]!, clone(MarketSchema, this.#markets[i]!));
    return out;
  }

  /** The keys of all markets, in creation order. */
  get keys(): readonly string[] {
    return this.#keys;
  }

  /** Feed time of the latest tick, in ms since the Unix epoch. */
  get timeMs(): number {
    return this.#timeMs;
  }

  /** Advances the feed by one tick and returns it. */
  next(): OddsTick {
    const random = this.#random;
    const p = 1 / this.options.meanTickGapMs;
    // Geometric on {1, 2, …} with mean 1/p, by inversion.
    const gap = Math.max(1, Math.ceil(Math.log(1 - random()) / Math.log(1 - p)));
    this.#timeMs += Number.isFinite(gap) ? gap : 1;
    const m = Math.floor(random() * this.#markets.length);
    const market = this.#markets[m]!;
    const previous = clone(MarketSchema, market);
    const count = Math.min(randomInt(random, 1, 3), market.selections.length);
    const picked = new Set<number>();
    while (picked.size < count) picked.add(Math.floor(random() * market.selections.length));
    const changedSelections: Selection[] = [];
    for (const s of [...picked].sort((x, y) => x - y)) {
      const selection = market.selections[s]!;
      const r = random();
      const size = r < 0.6 ? 1 : r < 0.9 ? 2 : 3;
      const sign = random() < 0.5 ? -1 : 1;
      let price = selection.priceTicks + sign * size;
      if (price < 1) price = selection.priceTicks + size;
      selection.priceTicks = price;
      changedSelections.push(clone(SelectionSchema, selection));
    }
    market.lastChangeMs = BigInt(this.#timeMs);
    let event: MarketStatusChanged | undefined;
    if (random() < this.options.statusChangeProbability) {
      market.status = market.status === Status.SUSPENDED ? Status.OPEN : Status.SUSPENDED;
      event = create(MarketStatusChangedSchema, {
        marketId: market.id,
        status: market.status,
        timeMs: BigInt(this.#timeMs),
      });
    }
    const tick: OddsTick = {
      index: this.#index++,
      timeMs: this.#timeMs,
      key: this.#keys[m]!,
      previous,
      market: clone(MarketSchema, market),
      changedSelections,
    };
    if (event) tick.event = event;
    return tick;
  }
}
