import { clone, create, equals, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { apply, decodePatch, diff, encodeChange, formatPatchOperation, hash } from "deltaframe/delta";
import { PatchOp } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import {
  type Market,
  MarketSchema,
  SelectionSchema,
  Status,
} from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import {
  Color,
  InnerSchema,
  type Kitchen,
  KitchenSchema,
} from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** Hex of an operation header varint. */
function h(field: number, kind: PatchOp): string {
  let v = field * 8 + kind;
  let out = "";
  while (v >= 0x80) {
    out += ((v & 0x7f) | 0x80).toString(16).padStart(2, "0");
    v = Math.floor(v / 128);
  }
  return out + v.toString(16).padStart(2, "0");
}

function market(): Market {
  return create(MarketSchema, {
    id: 3_000_000_123,
    name: "Arsenal v Chelsea — Match Odds",
    status: Status.OPEN,
    lastChangeMs: 1_764_780_000_000n,
    selections: Array.from({ length: 20 }, (_, i) =>
      create(SelectionSchema, {
        id: 68_000_000_000n + BigInt(i),
        name: `Selection ${i}`,
        priceTicks: 150 + 7 * i,
        status: Status.OPEN,
      }),
    ),
  });
}

// These examples pin the operation chosen on a size tie between ADD and SET to SET,
// so each exact byte string shows the other operations; the default (ADD wins a
// tie) is checked separately below.
const SET_TIES = { preferAdd: false } as const;

function roundTrip(a: Kitchen, b: Kitchen): Uint8Array {
  const p = diff(KitchenSchema, a, b, SET_TIES);
  expect(equals(KitchenSchema, apply(KitchenSchema, a, p), b)).toBe(true);
  return p;
}

describe("reference workload: odds ticks", () => {
  it("a 1-selection move of ±1 plus a last_change_ms step is a 6-byte patch", () => {
    const a = market();
    for (const step of [1, -1]) {
      const b = clone(MarketSchema, a);
      b.selections[7]!.priceTicks += step;
      b.lastChangeMs += 5n;
      const p = diff(MarketSchema, a, b);
      // ADD last_change_ms +5; ELEMENT 7; price SET or ADD (one byte each way).
      expect(p.length).toBe(6);
      expect(hex(p.subarray(0, 4))).toBe(`${h(4, PatchOp.ADD)}0a${h(5, PatchOp.ELEMENT)}07`);
      expect(equals(MarketSchema, apply(MarketSchema, a, p), b)).toBe(true);
      expect(encodeChange(MarketSchema, a, b)).toEqual({ kind: "patch", body: p });
      // The full market is 100× larger.
      expect(toBinary(MarketSchema, b).length).toBe(599);
    }
  });

  it("typical ticks: sizes by selections moved and time step", () => {
    const sizes: number[] = [];
    for (const [moves, elapsed] of [
      [[[3, 1]], 5n],
      [[[3, 2]], 5n],
      [[[3, 3]], 5n],
      [[[3, 1]], 100n],
      [
        [
          [3, 1],
          [11, -2],
        ],
        5n,
      ],
      [
        [
          [0, 1],
          [11, -2],
          [19, 3],
        ],
        5n,
      ],
    ] as Array<[Array<[number, number]>, bigint]>) {
      const a = market();
      const b = clone(MarketSchema, a);
      for (const [i, step] of moves) b.selections[i]!.priceTicks += step;
      b.lastChangeMs += elapsed;
      const p = diff(MarketSchema, a, b);
      expect(equals(MarketSchema, apply(MarketSchema, a, p), b)).toBe(true);
      sizes.push(p.length);
    }
    // 1 selection ±1/±2/±3 at +5 ms; ±1 at +100 ms; 2 selections; 3 selections.
    expect(sizes).toEqual([6, 6, 6, 7, 10, 14]);
  });

  it("a market status change alone is 2 bytes", () => {
    const a = market();
    const b = clone(MarketSchema, a);
    b.status = Status.SUSPENDED;
    expect(hex(diff(MarketSchema, a, b))).toBe(`${h(3, PatchOp.SET)}02`);
  });
});

describe("diff and apply: every field kind", () => {
  it("equal messages give an empty patch, and apply returns a new message", () => {
    const a = create(KitchenSchema, { fString: "x", mapStringInt: { a: 1n } });
    expect(diff(KitchenSchema, a, clone(KitchenSchema, a)).length).toBe(0);
    const r = apply(KitchenSchema, a, new Uint8Array(0));
    expect(r).not.toBe(a);
    expect(equals(KitchenSchema, r, a)).toBe(true);
  });

  it("uses ADD for integers when shorter, wrapping at the field's width", () => {
    const cases: Array<
      [MessageInitShape<typeof KitchenSchema>, MessageInitShape<typeof KitchenSchema>, string]
    > = [
      [{ fInt32: 2147483647 }, { fInt32: -2147483648 }, `${h(1, PatchOp.ADD)}02`],
      [{ fInt32: 5 }, { fInt32: -1 }, `${h(1, PatchOp.ADD)}0b`],
      [{ fUint32: 0xffffffff }, { fUint32: 0 }, `${h(3, PatchOp.CLEAR)}`], // zero: CLEAR
      [{ fUint32: 0xfffffff0 }, { fUint32: 0xffffffff }, `${h(3, PatchOp.ADD)}1e`],
      [{ fUint32: 0xffffffff }, { fUint32: 1 }, `${h(3, PatchOp.SET)}01`], // tie: SET
      [{ fUint64: 1n }, { fUint64: 2n ** 64n - 1n }, `${h(4, PatchOp.ADD)}03`],
      [{ fInt64: 2n ** 63n - 1n }, { fInt64: -(2n ** 63n) }, `${h(2, PatchOp.ADD)}02`],
      [{ fFixed32: 7 }, { fFixed32: 8 }, `${h(7, PatchOp.ADD)}02`],
      [{ fSfixed64: -7n }, { fSfixed64: -9n }, `${h(10, PatchOp.ADD)}03`],
      [{ fFixed64: 0n }, { fFixed64: 3n }, `${h(8, PatchOp.ADD)}06`],
      [{ fSint32: 1 }, { fSint32: 2 }, `${h(5, PatchOp.SET)}04`], // tie: SET
      [{ fSint64: 1000n }, { fSint64: 1001n }, `${h(6, PatchOp.ADD)}02`],
      [{ fSfixed32: 0 }, { fSfixed32: -1 }, `${h(9, PatchOp.ADD)}01`],
    ];
    for (const [x, y, expected] of cases) {
      expect(hex(roundTrip(create(KitchenSchema, x), create(KitchenSchema, y)))).toBe(expected);
    }
    // By default, ties go to ADD (so the patch can travel shaped, docs/protocol.md §6.3).
    expect(
      hex(diff(KitchenSchema, create(KitchenSchema, { fSint32: 1 }), create(KitchenSchema, { fSint32: 2 }))),
    ).toBe(`${h(5, PatchOp.ADD)}02`);
    // ADD disabled: SET.
    const a = create(KitchenSchema, { fInt32: 5 });
    const b = create(KitchenSchema, { fInt32: -1 });
    expect(diff(KitchenSchema, a, b, { useAdd: false }).length).toBe(11);
  });

  it("sets floats, bools, strings, bytes and enums, and keeps unknown enum numbers", () => {
    const a = create(KitchenSchema, {
      fFloat: 1.5,
      fDouble: 2.5,
      fBool: true,
      fString: "a",
      fBytes: new Uint8Array([1]),
    });
    const b = create(KitchenSchema, {
      fFloat: -1.5,
      fDouble: Number.MAX_VALUE,
      fString: "ü€😀",
      fBytes: new Uint8Array([1, 2, 3]),
      fEnum: 42 as Color,
      listEnum: [Color.BLUE, 99 as Color, Color.NEGATIVE],
      mapSintEnum: { [-5]: 77 as Color },
    });
    const p = roundTrip(a, b);
    const r = apply(KitchenSchema, a, p);
    expect(r.fEnum).toBe(42);
    expect(r.listEnum).toEqual([7, 99, -3]);
    expect(r.mapSintEnum[-5]).toBe(77);
    expect(decodePatch(KitchenSchema, p).map((op) => `${op.action.kind}:${op.action.field.number}`)).toEqual([
      "set:11",
      "set:12",
      "clear:13",
      "set:14",
      "set:15",
      "set:16",
      "set:26",
      "mapPut:33",
    ]);
  });

  it("keeps -0 and NaN, and finds no change between equal NaNs", () => {
    const a = create(KitchenSchema, { listDouble: [Number.NaN, -0] });
    expect(diff(KitchenSchema, a, clone(KitchenSchema, a)).length).toBe(0);
    const b = create(KitchenSchema, { listDouble: [Number.NaN, 0] });
    const r = apply(KitchenSchema, a, diff(KitchenSchema, a, b, SET_TIES));
    expect(Object.is(r.listDouble[1], 0)).toBe(true);
    expect(Number.isNaN(r.listDouble[0])).toBe(true);
  });

  it("explicit presence: unset → zero is a SET, set → unset a CLEAR", () => {
    const unset = create(KitchenSchema);
    const zero = create(KitchenSchema, { optInt32: 0, optString: "" });
    expect(hex(roundTrip(unset, zero))).toBe(`${h(17, PatchOp.SET)}00${h(18, PatchOp.SET)}00`);
    expect(hex(roundTrip(zero, unset))).toBe(`${h(17, PatchOp.CLEAR)}${h(18, PatchOp.CLEAR)}`);
  });

  it("oneof: setting another member replaces, CLEAR leaves, same member patches in place", () => {
    const int = create(KitchenSchema, { choice: { case: "choiceInt", value: 5n } });
    const str = create(KitchenSchema, { choice: { case: "choiceString", value: "s" } });
    const inner = create(KitchenSchema, {
      choice: { case: "choiceInner", value: create(InnerSchema, { n: 1, s: "x" }) },
    });
    const inner2 = create(KitchenSchema, {
      choice: { case: "choiceInner", value: create(InnerSchema, { n: 2, s: "x" }) },
    });
    const none = create(KitchenSchema);
    expect(decodePatch(KitchenSchema, roundTrip(int, str)).map((o) => o.action.kind)).toEqual(["set"]);
    expect(hex(roundTrip(inner, none))).toBe(`${h(22, PatchOp.CLEAR)}`);
    // n 1 → 2: SET and ADD are one byte each; ties go to SET.
    expect(hex(roundTrip(inner, inner2))).toBe(`${h(22, PatchOp.DESCEND)}${h(1, PatchOp.SET)}02`);
    roundTrip(str, inner);
    roundTrip(none, int);
    // CLEAR of a member that is not set changes nothing.
    const clearOther = new Uint8Array([0xa9, 0x01]); // field 21, CLEAR
    expect(equals(KitchenSchema, apply(KitchenSchema, int, clearOther), int)).toBe(true);
  });

  it("nested messages are patched recursively with DESCEND, or SET when shorter", () => {
    const a = create(KitchenSchema, { inner: { n: 1, s: "long string here", child: { n: 1 } } });
    const b = create(KitchenSchema, { inner: { n: 1, s: "long string here", child: { n: 2 } } });
    expect(hex(roundTrip(a, b))).toBe(
      `${h(19, PatchOp.DESCEND)}${h(3, PatchOp.DESCEND)}${h(1, PatchOp.SET)}02`,
    );
    // Absent → present is a SET of the whole value; present → absent a CLEAR.
    const c = create(KitchenSchema);
    expect(decodePatch(KitchenSchema, roundTrip(c, b))[0]!.action.kind).toBe("set");
    expect(hex(roundTrip(b, c))).toBe(h(19, PatchOp.CLEAR));
    // A patch changing every field of a small message is longer than SET.
    const d = create(KitchenSchema, { inner: { n: 1, s: "a" } });
    const e = create(KitchenSchema, { inner: { n: 2, s: "b" } });
    expect(decodePatch(KitchenSchema, roundTrip(d, e)).map((o) => o.action.kind)).toEqual(["set"]);
    expect(diff(KitchenSchema, a, b, { ...SET_TIES, useDescend: false })[0]).toBe(19 * 8 + PatchOp.SET);
  });

  it("repeated fields: SET replaces, CLEAR empties, ELEMENT patches equal-length message lists", () => {
    const a = create(KitchenSchema, {
      listInt32: [1, 2, 3],
      listString: ["a"],
      listInner: [
        { n: 1, s: "aaaaaaaa" },
        { n: 2, s: "bbbbbbbb" },
      ],
    });
    const b = create(KitchenSchema, {
      listInt32: [1, 2, 3, 4],
      listInner: [
        { n: 1, s: "aaaaaaaa" },
        { n: 3, s: "bbbbbbbb" },
      ],
    });
    const ops = decodePatch(KitchenSchema, roundTrip(a, b));
    expect(
      ops.map((o) => [o.path.map((s) => s.kind).join("/"), o.action.kind, o.action.field.number]),
    ).toEqual([
      ["", "set", 23],
      ["", "clear", 24],
      ["element", "set", 1],
    ]);
    // Lengths differ: SET.
    const c = create(KitchenSchema, { listInner: [{ n: 1 }] });
    expect(decodePatch(KitchenSchema, roundTrip(a, c)).at(-1)!.action.kind).toBe("set");
    expect(diff(KitchenSchema, a, b, { ...SET_TIES, useElement: false }).length).toBeGreaterThan(
      diff(KitchenSchema, a, b, SET_TIES).length,
    );
  });

  it("maps: MAP_PUT, MAP_REMOVE, MAP_DESCEND, SET and CLEAR, in encoded-key order", () => {
    const a = create(KitchenSchema, {
      mapStringInt: { b: 1n, a: 2n, gone: 3n },
      mapStringInner: { k: { n: 1, s: "a long enough string" } },
      mapIntInner: { 5: { n: 1 } },
      mapBoolString: { true: "t" },
      mapUint64Bytes: { "18446744073709551615": new Uint8Array([1]) },
    });
    const b = create(KitchenSchema, {
      mapStringInt: { a: 2n, b: 5n, c: 0n },
      mapStringInner: { k: { n: 2, s: "a long enough string" } },
      mapIntInner: {},
      mapBoolString: { false: "f", true: "t" },
      mapUint64Bytes: { "18446744073709551615": new Uint8Array([2]) },
    });
    const ops = decodePatch(KitchenSchema, roundTrip(a, b));
    expect(
      ops.map((o) => [o.path.map((s) => s.kind).join("/"), o.action.kind, o.action.field.number]),
    ).toEqual([
      ["", "mapPut", 28],
      ["", "mapPut", 28],
      ["", "mapRemove", 28],
      ["", "clear", 29],
      ["", "mapPut", 30],
      ["", "mapPut", 31],
      ["mapDescend", "set", 1],
    ]);
    // Insertion order does not change the bytes.
    const b2 = create(KitchenSchema, { ...b, mapStringInt: { c: 0n, b: 5n, a: 2n } });
    expect(diff(KitchenSchema, a, b2, SET_TIES)).toEqual(diff(KitchenSchema, a, b, SET_TIES));
    expect(diff(KitchenSchema, a, b, { ...SET_TIES, useMapDescend: false }).length).toBeGreaterThan(
      diff(KitchenSchema, a, b, SET_TIES).length,
    );
  });

  it("well-known types: timestamps, durations, wrappers and Struct recursion", () => {
    const a = create(KitchenSchema, {
      wkTimestamp: { seconds: 1_764_780_000n, nanos: 5 },
      wkDuration: { seconds: 3n },
      wkInt64: 5n,
      wkString: "w",
      wkStruct: { a: 1, list: [1, "two", { deep: true }], nested: { x: null, y: "q" } },
    });
    const b = create(KitchenSchema, {
      wkTimestamp: { seconds: 1_764_780_001n, nanos: 5 },
      wkDuration: { seconds: 3n, nanos: 1 },
      wkInt64: 0n,
      wkStruct: { a: 1, list: [1, "two", { deep: false }], nested: { x: null, y: "r" }, added: "z" },
    });
    const p = roundTrip(a, b);
    const r = apply(KitchenSchema, a, p);
    expect(r.wkInt64).toBe(0n);
    expect(r.wkString).toBeUndefined();
    expect(r.wkStruct).toEqual(b.wkStruct);
    const kinds = decodePatch(KitchenSchema, p).map((o) => o.path.map((s) => s.kind).join("/"));
    expect(kinds).toContain("descend/mapDescend/descend/mapDescend");
  });

  it("keeps the base's unknown fields and drops unknown fields inside patch values", () => {
    const a = create(KitchenSchema, { fInt32: 1 });
    a.$unknown = [{ no: 999, wireType: 0, data: new Uint8Array([1]) }];
    const b = create(KitchenSchema, { fInt32: 2 });
    const r = apply(KitchenSchema, a, diff(KitchenSchema, a, b, SET_TIES));
    expect(r.$unknown).toEqual(a.$unknown);
    // SET of inner whose value carries an unknown field 9.
    const value = Uint8Array.of(0x08, 0x01, 0x48, 0x05);
    // Header 0x98 0x01: field 19, SET.
    const withInner = apply(KitchenSchema, a, Uint8Array.of(0x98, 0x01, value.length, ...value));
    expect(withInner.inner?.n).toBe(1);
    expect(withInner.inner?.$unknown ?? []).toEqual([]);
  });

  it("large field numbers use multi-byte headers", () => {
    const p = roundTrip(create(KitchenSchema), create(KitchenSchema, { fLargeNumber: 3 }));
    expect(hex(p)).toBe("80ea3003");
    expect(decodePatch(KitchenSchema, p)[0]!.action.field.number).toBe(100000);
  });
});

describe("map keys are data", () => {
  it("__proto__, constructor and hasOwnProperty keys round-trip and do not pollute Object.prototype", () => {
    const hostile = ["__proto__", "constructor", "hasOwnProperty", "toString"];
    const a = create(KitchenSchema);
    const b = create(KitchenSchema);
    for (const [i, key] of hostile.entries()) {
      Object.defineProperty(b.mapStringInt, key, {
        value: BigInt(i + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      Object.defineProperty(b.mapStringInner, key, {
        value: create(InnerSchema, { n: i + 1, s: "polluted" }),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    const p = roundTrip(a, b);
    const r = apply(KitchenSchema, a, p);
    for (const key of hostile) {
      expect(Object.hasOwn(r.mapStringInt, key)).toBe(true);
      expect(Object.hasOwn(r.mapStringInner, key)).toBe(true);
    }
    expect(Object.getPrototypeOf(r.mapStringInt)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).s).toBeUndefined();
    expect(({} as Record<string, unknown>).n).toBeUndefined();
    expect(typeof ({} as { hasOwnProperty: unknown }).hasOwnProperty).toBe("function");
    // Patch, remove and descend through the hostile keys.
    const c = clone(KitchenSchema, r);
    Reflect.deleteProperty(c.mapStringInt, "__proto__");
    Reflect.set(c.mapStringInner, "constructor", create(InnerSchema, { n: 9, s: "polluted" }));
    const p2 = roundTrip(r, c);
    expect(decodePatch(KitchenSchema, p2).map((o) => o.action.kind)).toEqual(["mapRemove", "set"]);
    expect(Object.hasOwn(apply(KitchenSchema, r, p2).mapStringInt, "__proto__")).toBe(false);
    // The canonical hash sees the keys as data.
    expect(hash(KitchenSchema, r)).toBe(
      hash(KitchenSchema, fromBinary(KitchenSchema, toBinary(KitchenSchema, r))),
    );
    expect(hash(KitchenSchema, r)).not.toBe(hash(KitchenSchema, c));
  });

  it("__proto__ inside a Struct round-trips", () => {
    const a = create(KitchenSchema, { wkStruct: { x: 1 } });
    const struct: Record<string, unknown> = { x: 1 };
    Object.defineProperty(struct, "__proto__", {
      value: { polluted: true },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const b = create(KitchenSchema, { wkStruct: struct as never });
    const r = apply(KitchenSchema, a, diff(KitchenSchema, a, b, SET_TIES));
    expect(Object.hasOwn(r.wkStruct!, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("formatPatchOperation", () => {
  it("renders paths and actions with names and wire numbers", () => {
    const a = create(KitchenSchema, {
      listInner: [{ n: -5, s: "x" }],
      mapStringInner: { k: { s: "long enough to prefer MAP_DESCEND" } },
      mapStringInt: { gone: 1n, keep: 5n, keep2: 6n },
      fBytes: new Uint8Array([1]),
    });
    const b = create(KitchenSchema, {
      listInner: [{ n: -7, s: "x" }],
      mapStringInner: { k: { s: "long enough to prefer MAP_DESCEND", n: 1 } },
      mapStringInt: { keep: 5n, keep2: 6n, new: 2n },
      fBytes: new Uint8Array([2, 3]),
      optString: "o",
    });
    const lines = decodePatch(KitchenSchema, diff(KitchenSchema, a, b, SET_TIES)).map(formatPatchOperation);
    expect(lines).toEqual([
      "f_bytes(15) SET 0x0203",
      'opt_string(18) SET "o"',
      "list_inner(25)[0] > n(1) ADD -2",
      // Encoded-key order: the length prefix first, so "new" sorts before "gone".
      'map_string_int(28) MAP_PUT "new" = 2n',
      'map_string_int(28) MAP_REMOVE "gone"',
      'map_string_inner(32){"k"} > n(1) SET 1',
    ]);
  });
});
