import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { DeltaframeError, type ErrorCode, isDeltaframeError } from "deltaframe";
import { apply, decodePatch, diff, hash, KeyedState, Replica } from "deltaframe/delta";
import { PatchOp } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import {
  type Inner,
  InnerSchema,
  type Kitchen,
  KitchenSchema,
} from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";

const CLOSE: Partial<Record<ErrorCode, number>> = {
  DF_ERR_PATCH_MALFORMED: 1007,
  DF_ERR_PATCH_FIELD_UNKNOWN: 1007,
  DF_ERR_PATCH_OP_INVALID: 1007,
  DF_ERR_PATCH_INDEX_RANGE: 1007,
  DF_ERR_PATCH_MAP_KEY_MISSING: 1007,
  DF_ERR_PATCH_TOO_MANY_OPS: 1009,
  DF_ERR_PATCH_BASE_MISSING: 4004,
  DF_ERR_HASH_MISMATCH: 4005,
  DF_ERR_DEPTH: 1007,
  DF_ERR_DECODE: 1007,
  DF_ERR_INVALID_ARGUMENT: 1011,
  DF_ERR_LIMIT_INVALID: 1011,
};

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectError(error: unknown, code: ErrorCode): void {
  expect(isDeltaframeError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  expect(error).toBeInstanceOf(DeltaframeError);
  const e = error as { name: string; code: string; closeCode: number };
  expect(e.name).toBe("DeltaframeError");
  expect(e.code).toBe(code);
  expect(e.closeCode).toBe(CLOSE[code]);
}

/** Builds patch bytes: `h(field, kind)` writes a header. */
function patch(build: (h: (field: number, kind: PatchOp) => BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  build((field, kind) => w.uint32(field * 8 + kind));
  return w.finish();
}

const base: Kitchen = create(KitchenSchema, {
  fString: "s",
  listInner: [create(InnerSchema, { n: 1 }), create(InnerSchema, { n: 2 })],
  mapStringInner: { k: create(InnerSchema, { n: 3 }) },
  mapStringInt: { a: 1n },
});

/** Applies to `base` expecting `code`, and checks the base is unchanged. */
function expectApplyError(bytes: Uint8Array, code: ErrorCode, limits?: Parameters<typeof apply>[3]): void {
  const before = toBinary(KitchenSchema, base);
  expectError(
    caught(() => apply(KitchenSchema, base, bytes, limits)),
    code,
  );
  expect(toBinary(KitchenSchema, base)).toEqual(before);
}

describe("patch errors", () => {
  it("DF_ERR_PATCH_MALFORMED: truncated, garbage, wrong-length values, invalid UTF-8, dangling navigation", () => {
    const cases: Uint8Array[] = [
      // String length beyond the end.
      patch((h) =>
        h(14, PatchOp.SET)
          .uint32(5)
          .raw(new Uint8Array([0x61, 0x62])),
      ),
      // Invalid UTF-8.
      patch((h) =>
        h(14, PatchOp.SET)
          .uint32(2)
          .raw(new Uint8Array([0xc3, 0x28])),
      ),
      // fixed32 with two bytes.
      patch((h) => h(7, PatchOp.SET).raw(new Uint8Array([1, 2]))),
      // Header varint that never ends.
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      // Header longer than 32 bits.
      new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x10]),
      // Navigation with nothing after it.
      patch((h) => h(19, PatchOp.DESCEND)),
      // A list value holding a record of another field.
      patch((h) => {
        h(23, PatchOp.SET).fork().tag(24, 2).string("x").join();
      }),
      // A list value with a wrong wire type.
      patch((h) => {
        h(24, PatchOp.SET).fork().tag(24, 0).uint32(1).join();
      }),
      // A message value with garbage inside.
      patch((h) =>
        h(19, PatchOp.SET)
          .uint32(2)
          .raw(new Uint8Array([0xff, 0xff])),
      ),
      // ADD with a truncated varint.
      patch((h) => h(1, PatchOp.ADD).raw(new Uint8Array([0x80]))),
    ];
    for (const bytes of cases) expectApplyError(bytes, "DF_ERR_PATCH_MALFORMED");
  });

  it("DF_ERR_PATCH_FIELD_UNKNOWN: a field number the schema lacks, at the root and nested", () => {
    expectApplyError(
      patch((h) => h(99, PatchOp.SET).uint32(1)),
      "DF_ERR_PATCH_FIELD_UNKNOWN",
    );
    expectApplyError(
      patch((h) => {
        h(19, PatchOp.DESCEND);
        h(9, PatchOp.CLEAR);
      }),
      "DF_ERR_PATCH_FIELD_UNKNOWN",
    );
    const e = caught(() =>
      decodePatch(
        KitchenSchema,
        patch((h) => h(0, PatchOp.CLEAR)),
      ),
    );
    expectError(e, "DF_ERR_PATCH_FIELD_UNKNOWN");
  });

  it("DF_ERR_PATCH_OP_INVALID: kinds that do not fit the field", () => {
    const cases = [
      patch((h) => h(14, PatchOp.ADD).sint64(1n)), // ADD on a string
      patch((h) => h(16, PatchOp.ADD).sint64(1n)), // ADD on an enum
      patch((h) => h(11, PatchOp.ADD).sint64(1n)), // ADD on a float
      patch((h) => h(23, PatchOp.ADD).sint64(1n)), // ADD on a list
      patch((h) => h(1, PatchOp.DESCEND)), // DESCEND on a scalar
      patch((h) => h(25, PatchOp.DESCEND)), // DESCEND on a list
      patch((h) => h(23, PatchOp.ELEMENT).uint32(0)), // ELEMENT on a scalar list
      patch((h) => h(14, PatchOp.MAP_PUT)), // MAP_PUT on a string
      patch((h) => h(25, PatchOp.MAP_REMOVE)), // MAP_REMOVE on a list
      patch((h) => h(28, PatchOp.MAP_DESCEND).string("a")), // MAP_DESCEND on scalar values
    ];
    for (const bytes of cases) expectApplyError(bytes, "DF_ERR_PATCH_OP_INVALID");
  });

  it("DF_ERR_PATCH_INDEX_RANGE: ELEMENT outside the list", () => {
    const at = (i: number) =>
      patch((h) => {
        h(25, PatchOp.ELEMENT).uint32(i);
        h(1, PatchOp.SET).int32(7);
      });
    expect(apply(KitchenSchema, base, at(1)).listInner[1]!.n).toBe(7);
    expectApplyError(at(2), "DF_ERR_PATCH_INDEX_RANGE");
    expectApplyError(at(0xffffffff), "DF_ERR_PATCH_INDEX_RANGE");
  });

  it("DF_ERR_PATCH_MAP_KEY_MISSING: MAP_REMOVE and MAP_DESCEND of an absent key", () => {
    expectApplyError(
      patch((h) => h(28, PatchOp.MAP_REMOVE).string("zz")),
      "DF_ERR_PATCH_MAP_KEY_MISSING",
    );
    expectApplyError(
      patch((h) => {
        h(32, PatchOp.MAP_DESCEND).string("absent");
        h(1, PatchOp.SET).int32(1);
      }),
      "DF_ERR_PATCH_MAP_KEY_MISSING",
    );
    // Removing then descending in the same patch fails too, atomically.
    expectApplyError(
      patch((h) => {
        h(32, PatchOp.MAP_REMOVE).string("k");
        h(32, PatchOp.MAP_DESCEND).string("k");
        h(1, PatchOp.SET).int32(1);
      }),
      "DF_ERR_PATCH_MAP_KEY_MISSING",
    );
  });

  it("DF_ERR_PATCH_TOO_MANY_OPS: at maxPatchOps and one past it (navigation counts)", () => {
    const ops = (n: number) =>
      patch((h) => {
        for (let i = 0; i < n; i++) h(1, PatchOp.ADD).sint64(1n);
      });
    expect(apply(KitchenSchema, base, ops(8), { limits: { maxPatchOps: 8 } }).fInt32).toBe(8);
    expectApplyError(ops(9), "DF_ERR_PATCH_TOO_MANY_OPS", { limits: { maxPatchOps: 8 } });
    const chain = patch((h) => {
      h(19, PatchOp.DESCEND);
      h(1, PatchOp.SET).int32(1);
    });
    expect(apply(KitchenSchema, base, chain, { limits: { maxPatchOps: 2 } }).inner?.n).toBe(1);
    expectApplyError(chain, "DF_ERR_PATCH_TOO_MANY_OPS", { limits: { maxPatchOps: 1 } });
    // The default bound, 10,000.
    expect(decodePatch(KitchenSchema, ops(10_000)).length).toBe(10_000);
    expectError(
      caught(() => decodePatch(KitchenSchema, ops(10_001))),
      "DF_ERR_PATCH_TOO_MANY_OPS",
    );
  });

  it("DF_ERR_DEPTH: navigation at maxDepth and one past it, and deep message values", () => {
    const chain = (steps: number) =>
      patch((h) => {
        h(19, PatchOp.DESCEND);
        for (let i = 1; i < steps; i++) h(3, PatchOp.DESCEND);
        h(1, PatchOp.SET).int32(5);
      });
    let inner: Inner | undefined = apply(KitchenSchema, base, chain(4), { limits: { maxDepth: 4 } }).inner;
    for (let i = 1; i < 4; i++) inner = inner?.child;
    expect(inner?.n).toBe(5);
    expectApplyError(chain(5), "DF_ERR_DEPTH", { limits: { maxDepth: 4 } });
    expectApplyError(chain(33), "DF_ERR_DEPTH");
    // A SET whose message value nests too deeply.
    let deep = create(InnerSchema, { n: 1 });
    for (let i = 0; i < 4; i++) deep = create(InnerSchema, { child: deep });
    const deepSet = diff(KitchenSchema, create(KitchenSchema), create(KitchenSchema, { inner: deep }));
    expect(
      apply(KitchenSchema, base, deepSet, { limits: { maxDepth: 5 } }).inner?.child?.child?.child?.child?.n,
    ).toBe(1);
    expectApplyError(deepSet, "DF_ERR_DEPTH", { limits: { maxDepth: 4 } });
  });

  it("DF_ERR_LIMIT_INVALID: bad limits", () => {
    expectError(
      caught(() => apply(KitchenSchema, base, new Uint8Array(0), { limits: { maxPatchOps: 0 } })),
      "DF_ERR_LIMIT_INVALID",
    );
  });
});

describe("replica and keyed state errors", () => {
  const market = create(MarketSchema, { id: 1, name: "m" });
  const moved = create(MarketSchema, { id: 1, name: "m", lastChangeMs: 5n });

  it("DF_ERR_PATCH_BASE_MISSING: a patch for a key not held, or against another version (not thrown)", () => {
    const replica = new Replica(MarketSchema);
    const body = diff(MarketSchema, market, moved);
    const r1 = replica.applyUpdate({ key: "1", kind: "patch", version: 2n, body });
    expect(r1.type).toBe("resync");
    if (r1.type === "resync") expectError(r1.error, "DF_ERR_PATCH_BASE_MISSING");
    replica.applyUpdate({ key: "1", kind: "full", version: 1n, body: toBinary(MarketSchema, market) });
    const r2 = replica.applyUpdate({ key: "1", kind: "patch", version: 3n, baseVersion: 2n, body });
    expect(r2.type).toBe("resync");
    if (r2.type === "resync") expectError(r2.error, "DF_ERR_PATCH_BASE_MISSING");
    expect(replica.get("1")?.version).toBe(1n);
  });

  it("DF_ERR_HASH_MISMATCH: a result whose hash differs leaves the key unchanged (not thrown)", () => {
    const replica = new Replica(MarketSchema);
    replica.applyUpdate({ key: "1", kind: "full", version: 1n, body: toBinary(MarketSchema, market) });
    const body = diff(MarketSchema, market, moved);
    const bad = replica.applyUpdate({
      key: "1",
      kind: "patch",
      version: 2n,
      body,
      hash: hash(MarketSchema, market),
    });
    expect(bad.type).toBe("resync");
    if (bad.type === "resync") expectError(bad.error, "DF_ERR_HASH_MISMATCH");
    expect(replica.get("1")?.version).toBe(1n);
    const good = replica.applyUpdate({
      key: "1",
      kind: "patch",
      version: 2n,
      body,
      hash: hash(MarketSchema, moved),
    });
    expect(good.type).toBe("applied");
    expect(replica.get("1")?.version).toBe(2n);
  });

  it("patch errors from the peer are thrown by the replica with the key unchanged", () => {
    const replica = new Replica(MarketSchema);
    replica.applyUpdate({ key: "1", kind: "full", version: 1n, body: toBinary(MarketSchema, market) });
    expectError(
      caught(() =>
        replica.applyUpdate({
          key: "1",
          kind: "patch",
          version: 2n,
          body: patch((h) => h(77, PatchOp.CLEAR)),
        }),
      ),
      "DF_ERR_PATCH_FIELD_UNKNOWN",
    );
    expect(replica.get("1")?.version).toBe(1n);
  });

  it("DF_ERR_DECODE and DF_ERR_DEPTH: full values that do not decode", () => {
    const replica = new Replica(KitchenSchema, { limits: { maxDepth: 3 } });
    expectError(
      caught(() =>
        replica.applyUpdate({ key: "k", kind: "full", version: 1n, body: new Uint8Array([0xff]) }),
      ),
      "DF_ERR_DECODE",
    );
    const deep = create(KitchenSchema, { inner: { child: { child: { child: { n: 1 } } } } });
    expectError(
      caught(() =>
        replica.applyUpdate({ key: "k", kind: "full", version: 1n, body: toBinary(KitchenSchema, deep) }),
      ),
      "DF_ERR_DEPTH",
    );
    expect(replica.size).toBe(0);
  });

  it("DF_ERR_INVALID_ARGUMENT: versions that do not increase, values of another schema, bad history depth", () => {
    const state = new KeyedState(MarketSchema);
    state.set("1", market, 5n);
    expectError(
      caught(() => state.set("1", moved, 5n)),
      "DF_ERR_INVALID_ARGUMENT",
    );
    expectError(
      caught(() => state.remove("1", 4n)),
      "DF_ERR_INVALID_ARGUMENT",
    );
    expectError(
      caught(() => state.set("2", create(KitchenSchema) as never, 6n)),
      "DF_ERR_INVALID_ARGUMENT",
    );
    expectError(
      caught(() => new KeyedState(MarketSchema, { historyDepth: -1 })),
      "DF_ERR_INVALID_ARGUMENT",
    );
    expect(state.get("1")?.version).toBe(5n);
  });
});
