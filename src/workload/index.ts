/**
 * The reference workload: the odds feed schema and a seeded generator of its
 * tick stream, for tests, benchmarks and the demo (DESIGN §6).
 *
 * @module
 */
export {
  type Market,
  MarketSchema,
  type MarketStatusChanged,
  MarketStatusChangedSchema,
  type Selection,
  SelectionSchema,
  Status,
} from "../gen/deltaframe/odds/v1/odds_pb.js";
export { OddsFeed, type OddsFeedOptions, type OddsTick } from "./odds-feed.js";
export { createRandom, type Random, randomInt } from "./prng.js";
