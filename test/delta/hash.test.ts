import { create } from "@bufbuild/protobuf";
import { encodeCanonical, hash, hashState } from "deltaframe/delta";
import { describe, expect, it } from "vitest";
import { MarketSchema, SelectionSchema, Status } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { InnerSchema, KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// Test vectors of the canonical hash (docs/protocol.md §6.4), for other implementations.
describe("canonical hash test vectors", () => {
  it("empty message: the FNV-1a 64 offset basis", () => {
    expect(hex(encodeCanonical(KitchenSchema, create(KitchenSchema)))).toBe("");
    expect(hash(KitchenSchema, create(KitchenSchema))).toBe(0xcbf29ce484222325n);
  });

  it("a small message", () => {
    const m = create(InnerSchema, { n: 1 });
    expect(hex(encodeCanonical(InnerSchema, m))).toBe("0801");
    expect(hash(InnerSchema, m)).toBe(0x084db707b5028782n);
  });

  it("maps sorted by encoded key, -0 and NaN canonicalised", () => {
    const m = create(KitchenSchema, {
      mapStringInt: { b: 1n, a: -2n },
      mapIntInner: { 300: { n: 1 }, 2: { s: "x" } },
      fDouble: -0,
      listDouble: [Number.NaN, -0],
    });
    expect(hex(encodeCanonical(KitchenSchema, m))).toBe(
      "610000000000000000" + // f_double -0 → +0 (set: -0 has presence)
        "da0110000000000000f87f0000000000000000" + // list_double [NaN, -0] packed
        "e2010e0a016110feffffffffffffffff01" + // map_string_int "a" → -2
        "e201050a01621001" + // map_string_int "b" → 1
        "ea010708021203120178" + // map_int_inner 2 → {s: "x"}
        "ea010708ac0212020801", // map_int_inner 300 → {n: 1}
    );
    expect(hash(KitchenSchema, m)).toBe(0xf767c6457a372311n);
  });

  it("a market", () => {
    const m = create(MarketSchema, {
      id: 123456789,
      name: "M",
      status: Status.OPEN,
      lastChangeMs: 1767225600000n,
      selections: [
        create(SelectionSchema, { id: 34359738368n, name: "S", priceTicks: 150, status: Status.OPEN }),
      ],
    });
    expect(hex(encodeCanonical(MarketSchema, m))).toBe(
      "08959aef3a12014d18012080d0eab6b7332a0f088080808080011201531896012001",
    );
    expect(hash(MarketSchema, m)).toBe(0x067bf17472f6aab8n);
  });

  it("a keyed state", () => {
    expect(
      hashState([
        ["a", 1n],
        ["b", 2n],
      ]),
    ).toBe(0x9e99200c5842e6bbn);
    expect(
      hashState([
        ["b", 2n],
        ["a", 1n],
      ]),
    ).toBe(0x9e99200c5842e6bbn);
  });
});
