import { clone, create, equals, toBinary } from "@bufbuild/protobuf";
import { isDeltaframeError } from "deltaframe";
import { apply, diff, Replica } from "deltaframe/delta";
import { describe, expect, it } from "vitest";
import { MarketSchema, SelectionSchema, Status } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";

function market() {
  return create(MarketSchema, {
    id: 7,
    name: "m",
    status: Status.OPEN,
    lastChangeMs: 1000n,
    selections: Array.from({ length: 6 }, (_, i) =>
      create(SelectionSchema, {
        id: BigInt(100 + i),
        name: `s${i}`,
        priceTicks: 50 + i,
        status: Status.OPEN,
      }),
    ),
  });
}

describe("apply (copy-on-write)", () => {
  it("copies the root and the patched path, and shares what the patch does not reach", () => {
    const base = market();
    const target = clone(MarketSchema, base);
    target.selections[2]!.priceTicks += 1;
    target.lastChangeMs = 1005n;
    const result = apply(MarketSchema, base, diff(MarketSchema, base, target));
    expect(equals(MarketSchema, result, target)).toBe(true);
    expect(result).not.toBe(base);
    expect(result.selections).not.toBe(base.selections);
    expect(result.selections[2]).not.toBe(base.selections[2]);
    for (const i of [0, 1, 3, 4, 5]) expect(result.selections[i]).toBe(base.selections[i]);
    expect(base.selections[2]!.priceTicks).toBe(52);
    expect(base.lastChangeMs).toBe(1000n);
  });

  it("an empty patch gives a new message equal to the base", () => {
    const base = market();
    const result = apply(MarketSchema, base, new Uint8Array(0));
    expect(result).not.toBe(base);
    expect(equals(MarketSchema, result, base)).toBe(true);
  });

  it("keeps the base's unknown fields in a list of the result's own", () => {
    const base = market();
    base.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([5]) }];
    const before = toBinary(MarketSchema, base);
    const target = clone(MarketSchema, base);
    target.name = "n";
    const result = apply(MarketSchema, base, diff(MarketSchema, base, target));
    expect(result.$unknown).toEqual(base.$unknown);
    result.$unknown!.push({ no: 98, wireType: 0, data: new Uint8Array([6]) });
    expect(toBinary(MarketSchema, base)).toEqual(before);
  });

  it("a replica applies patches under its limits: at maxPatchOps and one past it", () => {
    const base = market();
    const one = clone(MarketSchema, base);
    one.lastChangeMs = 1001n;
    const two = clone(MarketSchema, one);
    two.status = Status.SUSPENDED;
    const replica = new Replica(MarketSchema, { limits: { maxPatchOps: 1 } });
    replica.applyUpdate({ key: "k", kind: "full", version: 1n, body: toBinary(MarketSchema, base) });
    const applied = replica.applyUpdate({
      key: "k",
      kind: "patch",
      version: 2n,
      body: diff(MarketSchema, base, one),
    });
    expect(applied.type).toBe("applied");
    let code: string | undefined;
    try {
      replica.applyUpdate({ key: "k", kind: "patch", version: 3n, body: diff(MarketSchema, one, two) });
    } catch (error) {
      if (isDeltaframeError(error)) code = error.code;
    }
    // lastChangeMs is unchanged from `one`, so this patch is the status SET alone: one op.
    expect(code).toBeUndefined();
    const three = clone(MarketSchema, two);
    three.lastChangeMs = 1002n;
    three.name = "x";
    try {
      replica.applyUpdate({ key: "k", kind: "patch", version: 4n, body: diff(MarketSchema, two, three) });
    } catch (error) {
      if (isDeltaframeError(error)) code = error.code;
    }
    expect(code).toBe("DF_ERR_PATCH_TOO_MANY_OPS");
    expect(replica.get("k")!.version).toBe(3n);
  });
});
