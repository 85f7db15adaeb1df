import { type DescMessage, equals, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { apply, diff, encodeChange } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";
import { messageArbitrary, pairArbitrary } from "./arbitrary-message.js";
import { marketArbitrary, marketTickArbitrary } from "./odds-arbitrary.js";

const NUM_RUNS = 1000;

function check<Desc extends DescMessage>(schema: Desc, a: MessageShape<Desc>, b: MessageShape<Desc>): void {
  const full = toBinary(schema, b);
  const change = encodeChange(schema, a, b);
  // Never larger than the full value.
  expect(change.body.length).toBeLessThanOrEqual(full.length);
  if (change.kind === "patch") {
    expect(change.body.length).toBeLessThanOrEqual(full.length + 2);
    expect(change.body).toEqual(diff(schema, a, b));
    expect(equals(schema, apply(schema, a, change.body), b)).toBe(true);
  } else {
    expect(change.body).toEqual(full);
    expect(diff(schema, a, b).length).toBeGreaterThanOrEqual(full.length);
    expect(equals(schema, fromBinary(schema, change.body), b)).toBe(true);
  }
}

describe("encodeChange (properties)", () => {
  it("is never larger than the full value, for Kitchen pairs and unrelated messages", () => {
    fc.assert(
      fc.property(pairArbitrary(KitchenSchema), ([a, b]) => check(KitchenSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
    const k = messageArbitrary(KitchenSchema);
    fc.assert(
      fc.property(k, k, (a, b) => check(KitchenSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
  });

  it("is never larger than the full value, for Market ticks and unrelated markets", () => {
    fc.assert(
      fc.property(marketTickArbitrary, ([a, b]) => check(MarketSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketArbitrary, marketArbitrary, (a, b) => check(MarketSchema, a, b)),
      { numRuns: NUM_RUNS },
    );
  });

  it("sends a patch for every Market tick", () => {
    fc.assert(
      fc.property(marketTickArbitrary, ([a, b]) => {
        expect(encodeChange(MarketSchema, a, b).kind).toBe("patch");
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
