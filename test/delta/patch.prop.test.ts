import { clone, type DescMessage, equals, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { apply, diff } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";
import { messageArbitrary, pairArbitrary, tripleArbitrary } from "./arbitrary-message.js";
import { marketArbitrary, marketTickArbitrary } from "./odds-arbitrary.js";

const NUM_RUNS = 1000;

function roundTrip<Desc extends DescMessage>(
  schema: Desc,
  a: MessageShape<Desc>,
  b: MessageShape<Desc>,
): void {
  const before = toBinary(schema, a);
  const patch = diff(schema, a, b);
  const result = apply(schema, a, patch);
  expect(equals(schema, result, b)).toBe(true);
  // The base is never changed, and diff is deterministic.
  expect(toBinary(schema, a)).toEqual(before);
  expect(diff(schema, a, b)).toEqual(patch);
  expect(diff(schema, a, result)).toEqual(patch);
}

describe("diff and apply (properties)", () => {
  it("apply(a, diff(a, b)) equals b for Kitchen pairs", () => {
    fc.assert(
      fc.property(pairArbitrary(KitchenSchema), ([a, b]) => roundTrip(KitchenSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
  });

  it("apply(a, diff(a, b)) equals b for unrelated Kitchen messages", () => {
    const k = messageArbitrary(KitchenSchema);
    fc.assert(
      fc.property(k, k, (a, b) => roundTrip(KitchenSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
  });

  it("apply(a, diff(a, b)) equals b for Market ticks and unrelated markets", () => {
    fc.assert(
      fc.property(marketTickArbitrary, ([a, b]) => roundTrip(MarketSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketArbitrary, marketArbitrary, (a, b) => roundTrip(MarketSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
  });

  it("diff(a, a) and diff(a, clone(a)) are empty", () => {
    fc.assert(
      fc.property(messageArbitrary(KitchenSchema), (a) => {
        expect(diff(KitchenSchema, a, a).length).toBe(0);
        expect(diff(KitchenSchema, a, clone(KitchenSchema, a)).length).toBe(0);
      }),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketArbitrary, (a) => {
        expect(diff(MarketSchema, a, clone(MarketSchema, a)).length).toBe(0);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("patches compose: apply(apply(a, diff(a,b)), diff(b,c)) equals apply(a, diff(a,c)) equals c", () => {
    fc.assert(
      fc.property(tripleArbitrary(KitchenSchema), ([a, b, c]) => {
        const stepwise = apply(
          KitchenSchema,
          apply(KitchenSchema, a, diff(KitchenSchema, a, b)),
          diff(KitchenSchema, b, c),
        );
        const direct = apply(KitchenSchema, a, diff(KitchenSchema, a, c));
        expect(equals(KitchenSchema, stepwise, direct)).toBe(true);
        expect(equals(KitchenSchema, direct, c)).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
