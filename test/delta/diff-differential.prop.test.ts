import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type DiffOptions, diff, diffReference, encodeChange } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";
import { messageArbitrary, pairArbitrary } from "./arbitrary-message.js";
import { marketArbitrary, marketTickArbitrary } from "./odds-arbitrary.js";

const NUM_RUNS = 1000;

const optionsArbitrary: fc.Arbitrary<Partial<DiffOptions> | undefined> = fc.option(
  fc.record(
    {
      useAdd: fc.boolean(),
      preferAdd: fc.boolean(),
      useElement: fc.boolean(),
      useDescend: fc.boolean(),
      useMapDescend: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

/** diff and diffReference give identical bytes; encodeChange picks as the reference choice would. */
function same<Desc extends DescMessage>(
  schema: Desc,
  a: MessageShape<Desc>,
  b: MessageShape<Desc>,
  options: Partial<DiffOptions> | undefined,
): void {
  const reference = diffReference(schema, a, b, options);
  expect(diff(schema, a, b, options)).toEqual(reference);
  const full = toBinary(schema, b);
  const expected =
    reference.length < full.length ? { kind: "patch", body: reference } : { kind: "full", body: full };
  expect(encodeChange(schema, a, b, options)).toEqual(expected);
}

describe("diff against diffReference (differential)", () => {
  it("identical bytes for Kitchen pairs, under every option set", () => {
    fc.assert(
      fc.property(pairArbitrary(KitchenSchema), optionsArbitrary, ([a, b], options) =>
        same(KitchenSchema, a, b, options),
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("identical bytes for unrelated Kitchen messages", () => {
    const k = messageArbitrary(KitchenSchema);
    fc.assert(
      fc.property(k, k, optionsArbitrary, (a, b, options) => same(KitchenSchema, a, b, options)),
      { numRuns: NUM_RUNS },
    );
  });

  it("identical bytes for Market ticks and unrelated markets", () => {
    fc.assert(
      fc.property(marketTickArbitrary, optionsArbitrary, ([a, b], options) =>
        same(MarketSchema, a, b, options),
      ),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketArbitrary, marketArbitrary, optionsArbitrary, (a, b, options) =>
        same(MarketSchema, a, b, options),
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("identical bytes at integer extremes (wrapping deltas, 64-bit values beyond 2^53)", () => {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    const edges64 = fc.constantFrom(0n, 1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 53n, 2n ** 63n - 1n);
    fc.assert(
      fc.property(
        marketArbitrary,
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.oneof(uint64, edges64),
        fc.oneof(uint64, edges64),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.oneof(int64, edges64),
        optionsArbitrary,
        (m, idA, idB, tA, tB, price, selectionId, options) => {
          const a = { ...m, id: idA, lastChangeMs: tA };
          const b = { ...m, id: idB, lastChangeMs: tB };
          if (m.selections.length > 0) {
            b.selections = m.selections.map((s, i) =>
              i === 0 ? { ...s, priceTicks: price, id: BigInt.asUintN(64, selectionId) } : s,
            );
          }
          same(MarketSchema, a, b, options);
          same(MarketSchema, b, a, options);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
