import { clone, create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { apply, hash, hashState, KeyedState, Replica } from "deltaframe/delta";
import { describe, expect, it } from "vitest";
import {
  type Market,
  MarketSchema,
  SelectionSchema,
  Status,
} from "../../src/gen/deltaframe/odds/v1/odds_pb.js";

function market(id: number): Market {
  return create(MarketSchema, {
    id,
    name: `Market ${id}`,
    status: Status.OPEN,
    lastChangeMs: 1_764_780_000_000n,
    selections: Array.from({ length: 20 }, (_, i) =>
      create(SelectionSchema, { id: 68_000_000_000n + BigInt(i), name: `S${i}`, priceTicks: 100 + i }),
    ),
  });
}

function tick(m: Market, index: number, step: number): Market {
  const next = clone(MarketSchema, m);
  next.selections[index]!.priceTicks += step;
  next.lastChangeMs += 5n;
  return next;
}

describe("KeyedState", () => {
  it("allocates stable key ids at first set and never reuses them", () => {
    const state = new KeyedState(MarketSchema);
    expect(state.set("a", market(1), 1n).keyId).toBe(0);
    expect(state.set("b", market(2), 2n).keyId).toBe(1);
    expect(state.set("a", tick(market(1), 0, 1), 3n).keyId).toBe(0);
    expect(state.remove("a", 4n)).toBe(true);
    expect(state.remove("a", 5n)).toBe(false);
    expect(state.set("a", market(1), 6n).keyId).toBe(2);
    expect(state.size).toBe(2);
    expect([...state].map((e) => [e.key, e.keyId, e.version])).toEqual([
      ["b", 1, 2n],
      ["a", 2, 6n],
    ]);
    expect(state.get("zz")).toBeUndefined();
  });

  it("changeFor folds several changes into one patch from a held version", () => {
    const state = new KeyedState(MarketSchema);
    const v1 = market(7);
    const v2 = tick(v1, 3, 1);
    const v3 = tick(v2, 3, 1);
    const v4 = tick(v3, 9, -2);
    state.set("7", v1, 10n);
    state.set("7", v2, 11n);
    state.set("7", v3, 14n);
    state.set("7", v4, 20n);
    const change = state.changeFor("7", 10n);
    expect(change?.kind).toBe("patch");
    if (change?.kind !== "patch") throw new Error("expected a patch");
    expect(change.baseVersion).toBe(10n);
    expect(change.version).toBe(20n);
    // last_change_ms +15 (2), ELEMENT 3 (2) + price (2), ELEMENT 9 (2) + price (2).
    expect(change.body.length).toBe(10);
    expect(equals(MarketSchema, apply(MarketSchema, v1, change.body), v4)).toBe(true);
    // Cached: the same bytes object for the next receiver at that version.
    expect(state.changeFor("7", 10n)).toBe(change);
    // Up to date: nothing to send.
    expect(state.changeFor("7", 20n)).toBeUndefined();
    // Unknown held version, or none: the full value.
    const full = state.changeFor("7", 12n);
    expect(full?.kind).toBe("full");
    if (full?.kind === "full")
      expect(equals(MarketSchema, fromBinary(MarketSchema, full.body), v4)).toBe(true);
    expect(state.changeFor("7")?.kind).toBe("full");
    // Gone: a removal for holders only.
    state.remove("7", 21n);
    expect(state.changeFor("7", 20n)).toEqual({ kind: "remove", key: "7" });
    expect(state.changeFor("7")).toBeUndefined();
  });

  it("keeps at most historyDepth earlier values per key", () => {
    const state = new KeyedState(MarketSchema, { historyDepth: 2 });
    let m = market(1);
    for (let v = 1n; v <= 5n; v++) {
      state.set("k", m, v);
      m = tick(m, 0, 1);
    }
    expect(state.valueAt("k", 5n)).toBeDefined();
    expect(state.valueAt("k", 4n)).toBeDefined();
    expect(state.valueAt("k", 3n)).toBeDefined();
    expect(state.valueAt("k", 2n)).toBeUndefined();
    expect(state.changeFor("k", 3n)?.kind).toBe("patch");
    expect(state.changeFor("k", 2n)?.kind).toBe("full");
    const latestOnly = new KeyedState(MarketSchema, { historyDepth: 0 });
    latestOnly.set("k", market(1), 1n);
    latestOnly.set("k", market(2), 2n);
    expect(latestOnly.changeFor("k", 1n)?.kind).toBe("full");
  });

  it("changesSince yields catch-up changes for changed, new and removed keys", () => {
    const state = new KeyedState(MarketSchema);
    state.set("a", market(1), 1n);
    state.set("b", market(2), 2n);
    state.set("a", tick(market(1), 0, 1), 3n);
    state.set("c", market(3), 4n);
    const held = new Map([
      ["a", 1n],
      ["b", 2n],
      ["gone", 1n],
    ]);
    expect([...state.changesSince(held)].map((c) => `${c.kind}:${c.key}`)).toEqual([
      "patch:a",
      "full:c",
      "remove:gone",
    ]);
  });

  it("hashes keys and the whole state; the replica agrees", () => {
    const state = new KeyedState(MarketSchema);
    const replica = new Replica(MarketSchema);
    for (const [key, version] of [
      ["1", 1n],
      ["2", 2n],
    ] as const) {
      state.set(key, market(Number(key)), version);
      const change = state.changeFor(key)!;
      if (change.kind === "remove") throw new Error("unexpected removal");
      const result = replica.applyUpdate({
        key,
        kind: change.kind,
        version: change.version,
        body: change.body,
        hash: state.hashOf(key),
      });
      expect(result.type).toBe("applied");
    }
    expect(state.hashOf("1")).toBe(hash(MarketSchema, market(1)));
    expect(state.stateHash()).toBe(replica.stateHash());
    expect(state.stateHash()).toBe(
      hashState([
        ["2", hash(MarketSchema, market(2))],
        ["1", hash(MarketSchema, market(1))],
      ]),
    );
    expect(state.hashOf("nope")).toBeUndefined();
  });
});

describe("Replica", () => {
  it("applies full values, patches and removals, and reports versions", () => {
    const replica = new Replica(MarketSchema);
    const v1 = market(1);
    const v2 = tick(v1, 4, -1);
    expect(
      replica.applyUpdate({ key: "1", kind: "full", version: 1n, body: toBinary(MarketSchema, v1) }).type,
    ).toBe("applied");
    const state = new KeyedState(MarketSchema);
    state.set("1", v1, 1n);
    state.set("1", v2, 2n);
    const change = state.changeFor("1", 1n)!;
    expect(change.kind).toBe("patch");
    if (change.kind !== "patch") return;
    const r = replica.applyUpdate({
      key: "1",
      kind: "patch",
      version: 2n,
      baseVersion: 1n,
      body: change.body,
    });
    expect(r.type).toBe("applied");
    expect(equals(MarketSchema, replica.get("1")!.value, v2)).toBe(true);
    expect(replica.versions()).toEqual(new Map([["1", 2n]]));
    expect(replica.applyUpdate({ key: "1", kind: "remove", version: 3n, body: new Uint8Array(0) })).toEqual({
      type: "removed",
      key: "1",
      version: 3n,
    });
    expect(replica.has("1")).toBe(false);
    expect(replica.size).toBe(0);
  });

  it("never changes the held value object", () => {
    const replica = new Replica(MarketSchema);
    const v1 = market(1);
    replica.applyUpdate({ key: "1", kind: "full", version: 1n, body: toBinary(MarketSchema, v1) });
    const held = replica.get("1")!.value;
    const before = toBinary(MarketSchema, held);
    const state = new KeyedState(MarketSchema);
    state.set("1", v1, 1n);
    state.set("1", tick(v1, 0, 3), 2n);
    const change = state.changeFor("1", 1n)!;
    if (change.kind !== "patch") throw new Error("expected a patch");
    replica.applyUpdate({ key: "1", kind: "patch", version: 2n, body: change.body });
    expect(toBinary(MarketSchema, held)).toEqual(before);
    expect(replica.get("1")!.value).not.toBe(held);
  });
});
