/**
 * diff compares unchanged list elements with a function generated per schema;
 * where code generation is refused (a Content-Security-Policy without
 * 'unsafe-eval'), it must fall back to a loop with the same results. This file
 * refuses `Function` before its first diff, so the fast diff's plans (cached
 * per module instance, and vitest runs each file in its own) are all built
 * without code generation.
 */
import { diff, diffReference } from "deltaframe/delta";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";
import { pairArbitrary } from "./arbitrary-message.js";
import { marketTickArbitrary } from "./odds-arbitrary.js";

const original = globalThis.Function;
let refused = 0;

beforeAll(() => {
  globalThis.Function = new Proxy(original, {
    construct() {
      refused++;
      throw new EvalError("Refused to evaluate a string as JavaScript (test)");
    },
  });
});

afterAll(() => {
  globalThis.Function = original;
});

describe("diff without code generation", () => {
  it("gives the reference bytes on market ticks and on every field kind", () => {
    fc.assert(
      fc.property(marketTickArbitrary, ([a, b]) => {
        expect(diff(MarketSchema, a, b)).toEqual(diffReference(MarketSchema, a, b));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(pairArbitrary(KitchenSchema), ([a, b]) => {
        expect(diff(KitchenSchema, a, b)).toEqual(diffReference(KitchenSchema, a, b));
      }),
      { numRuns: 300 },
    );
    // The fallback was taken: code generation was asked for, and refused.
    expect(refused).toBeGreaterThan(0);
  });
});
