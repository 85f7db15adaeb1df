import { clone, create, type DescMessage, equals, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type ReflectList, type ReflectMap, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { fnv1a64, hash, hashEntry, hashState } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { InnerSchema, KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";
import { messageArbitrary, pairArbitrary } from "./arbitrary-message.js";
import { marketTickArbitrary } from "./odds-arbitrary.js";

const NUM_RUNS = 1000;

/** Reference FNV-1a 64 in BigInt arithmetic. */
function fnvReference(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

/** Re-inserts every map's entries in reverse order, recursively. */
function reorderInto(rm: ReflectMessage): void {
  for (const field of rm.desc.fields) {
    if (!rm.isSet(field)) continue;
    if (field.fieldKind === "map") {
      const map = rm.get(field) as ReflectMap;
      const entries = [...map].reverse();
      map.clear();
      for (const [k, v] of entries) {
        if (field.mapKind === "message") reorderInto(v as ReflectMessage);
        map.set(k, v);
      }
    } else if (field.fieldKind === "message") {
      const child = rm.get(field) as ReflectMessage;
      reorderInto(child);
      rm.set(field, child);
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      const list = rm.get(field) as ReflectList;
      for (let i = 0; i < list.size; i++) {
        const child = list.get(i) as ReflectMessage;
        reorderInto(child);
        list.set(i, child);
      }
    }
  }
}

function reordered<Desc extends DescMessage>(schema: Desc, m: MessageShape<Desc>): MessageShape<Desc> {
  const copy = clone(schema, m);
  reorderInto(reflect(schema, copy));
  return copy;
}

describe("canonical hash (properties)", () => {
  it("fnv1a64 matches a BigInt reference", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(fnv1a64(bytes)).toBe(fnvReference(bytes));
      }),
      { numRuns: NUM_RUNS },
    );
    expect(fnv1a64(new TextEncoder().encode("a"))).toBe(0xaf63dc4c8601ec8cn);
  });

  it("equal messages hash equal whatever the map insertion order", () => {
    let reorderedBytes = 0;
    fc.assert(
      fc.property(messageArbitrary(KitchenSchema), (m) => {
        const r = reordered(KitchenSchema, m);
        expect(equals(KitchenSchema, m, r)).toBe(true);
        if (Buffer.compare(toBinary(KitchenSchema, m), toBinary(KitchenSchema, r)) !== 0) reorderedBytes++;
        expect(hash(KitchenSchema, r)).toBe(hash(KitchenSchema, m));
        expect(hash(KitchenSchema, clone(KitchenSchema, m))).toBe(hash(KitchenSchema, m));
      }),
      { numRuns: NUM_RUNS },
    );
    // The property must have seen messages whose encodings differ.
    expect(reorderedBytes).toBeGreaterThan(10);
  });

  it("different messages hash differently", () => {
    let different = 0;
    fc.assert(
      fc.property(pairArbitrary(KitchenSchema), ([a, b]) => {
        if (equals(KitchenSchema, a, b)) {
          expect(hash(KitchenSchema, a)).toBe(hash(KitchenSchema, b));
        } else {
          different++;
          expect(hash(KitchenSchema, a)).not.toBe(hash(KitchenSchema, b));
        }
      }),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketTickArbitrary, ([a, b]) => {
        if (!equals(MarketSchema, a, b)) expect(hash(MarketSchema, a)).not.toBe(hash(MarketSchema, b));
      }),
      { numRuns: NUM_RUNS },
    );
    expect(different).toBeGreaterThan(NUM_RUNS / 2);
  });

  it("hashState does not depend on entry order and changes with any entry", () => {
    const entries = fc.uniqueArray(
      fc.tuple(fc.string({ maxLength: 6 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
      {
        selector: ([k]) => k,
        minLength: 1,
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(entries, fc.nat(), (list, seed) => {
        const shuffled = [...list].sort((x, y) =>
          hashEntry(x[0], BigInt(seed)) < hashEntry(y[0], BigInt(seed)) ? -1 : 1,
        );
        expect(hashState(shuffled)).toBe(hashState(list));
        const changed = list.map(([k, v], i) => [k, i === 0 ? BigInt.asUintN(64, v + 1n) : v] as const);
        expect(hashState(changed)).not.toBe(hashState(list));
        expect(hashState(list.slice(1))).not.toBe(hashState(list));
      }),
      { numRuns: NUM_RUNS },
    );
    expect(hashState([])).toBe(0n);
  });
});

describe("canonical hash (examples)", () => {
  it("treats -0 as 0 and NaN as one value", () => {
    const a = create(KitchenSchema, { wkStruct: { x: 0 }, listDouble: [0, Number.NaN] });
    const b = create(KitchenSchema, { wkStruct: { x: -0 }, listDouble: [-0, Number.NaN] });
    expect(hash(KitchenSchema, a)).toBe(hash(KitchenSchema, b));
  });
  it("ignores unknown fields", () => {
    const a = create(InnerSchema, { n: 1 });
    const b = create(InnerSchema, { n: 1 });
    b.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    expect(hash(InnerSchema, a)).toBe(hash(InnerSchema, b));
  });
});
