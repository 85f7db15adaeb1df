import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { isDeltaframeError } from "deltaframe";
import { apply, diff } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";
import { messageArbitrary, pairArbitrary } from "./arbitrary-message.js";
import { marketArbitrary, marketTickArbitrary } from "./odds-arbitrary.js";

const NUM_RUNS = 1000;

const PATCH_CODES = new Set([
  "DF_ERR_PATCH_MALFORMED",
  "DF_ERR_PATCH_FIELD_UNKNOWN",
  "DF_ERR_PATCH_OP_INVALID",
  "DF_ERR_PATCH_INDEX_RANGE",
  "DF_ERR_PATCH_MAP_KEY_MISSING",
  "DF_ERR_PATCH_TOO_MANY_OPS",
  "DF_ERR_DEPTH",
]);

/** Applies hostile bytes: either a result or a typed patch error, and the base never changes. */
function hostile<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  bytes: Uint8Array,
): string {
  const before = toBinary(schema, base);
  let outcome = "ok";
  try {
    apply(schema, base, bytes, { limits: { maxPatchOps: 64, maxDepth: 8 } });
  } catch (error) {
    if (!isDeltaframeError(error) || !PATCH_CODES.has(error.code)) throw error;
    outcome = error.code;
  }
  expect(toBinary(schema, base)).toEqual(before);
  return outcome;
}

/** Structured garbage: plausible headers with random field numbers, kinds and operands. */
const craftedOps = fc.array(
  fc.record({
    field: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(0, 100000, 536870911)),
    kind: fc.integer({ min: 0, max: 7 }),
    operand: fc.oneof(
      fc.constant("none" as const),
      fc.constant("huge" as const),
      fc.uint8Array({ maxLength: 12 }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    ),
  }),
  { minLength: 1, maxLength: 12 },
);

function encodeCrafted(ops: ReadonlyArray<{ field: number; kind: number; operand: unknown }>): Uint8Array {
  const w = new BinaryWriter();
  for (const op of ops) {
    w.uint32(op.field * 8 + op.kind);
    if (op.operand === "huge") w.uint32(0x7fffffff);
    else if (op.operand instanceof Uint8Array) w.raw(op.operand);
    else if (typeof op.operand === "bigint") w.uint64(op.operand);
  }
  return w.finish();
}

describe("hostile patches (properties)", () => {
  it("random bytes give a typed error or a result, never a crash, and leave the base unchanged", () => {
    fc.assert(
      fc.property(messageArbitrary(KitchenSchema), fc.uint8Array({ maxLength: 48 }), (base, bytes) => {
        hostile(KitchenSchema, base, bytes);
      }),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketArbitrary, fc.uint8Array({ maxLength: 48 }), (base, bytes) => {
        hostile(MarketSchema, base, bytes);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("crafted headers (unknown numbers, every kind, huge lengths) give typed errors only", () => {
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(messageArbitrary(KitchenSchema), craftedOps, (base, ops) => {
        outcomes.add(hostile(KitchenSchema, base, encodeCrafted(ops)));
      }),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketArbitrary, craftedOps, (base, ops) => {
        outcomes.add(hostile(MarketSchema, base, encodeCrafted(ops)));
      }),
      { numRuns: NUM_RUNS },
    );
    // The generator reaches the main error classes.
    for (const code of ["DF_ERR_PATCH_MALFORMED", "DF_ERR_PATCH_FIELD_UNKNOWN", "DF_ERR_PATCH_OP_INVALID"]) {
      expect(outcomes).toContain(code);
    }
  });

  it("truncated, extended and bit-flipped valid patches give typed errors or a result", () => {
    const mutation = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), how: fc.nat(2) });
    fc.assert(
      fc.property(pairArbitrary(KitchenSchema), mutation, ([a, b], m) => {
        const p = diff(KitchenSchema, a, b);
        if (p.length === 0) return;
        const at = m.at % p.length;
        let bytes: Uint8Array;
        if (m.how === 0) bytes = p.subarray(0, at);
        else if (m.how === 1) {
          bytes = p.slice();
          bytes[at] = bytes[at]! ^ (m.byte | 1);
        } else bytes = Uint8Array.of(...p.subarray(0, at), m.byte, ...p.subarray(at));
        hostile(KitchenSchema, a, bytes);
      }),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketTickArbitrary, mutation, ([a, b], m) => {
        const p = diff(MarketSchema, a, b);
        const at = m.at % p.length;
        const bytes = p.slice();
        bytes[at] = bytes[at]! ^ (m.byte | 1);
        hostile(MarketSchema, a, bytes);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
