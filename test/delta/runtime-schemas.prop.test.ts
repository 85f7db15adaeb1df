import {
  create,
  createFileRegistry,
  type DescMessage,
  equals,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { apply, applyReference, diff, diffReference, encodeChange } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const NUM_RUNS = 1000;

// Schemas built at runtime for what kitchen.proto lacks:
//   proto3 L { int64 a = 1 [jstype = JS_STRING]; uint64 b = 2 [jstype = JS_STRING];
//              sint64 c = 3 [jstype = JS_STRING]; L child = 4; repeated L items = 5;
//              oneof o { int64 d = 6 [jstype = JS_STRING]; } int32 e = 7; }
//   proto2 P { optional int32 x = 1 [default = 5]; optional int64 y = 2 [default = 3, jstype = JS_STRING];
//              optional P child = 3; repeated P items = 4; optional uint32 z = 5; }
const JS_STRING = { jstype: 1 };
const registry = createFileRegistry(
  create(FileDescriptorSetSchema, {
    file: [
      {
        name: "l.proto",
        package: "t",
        syntax: "proto3",
        messageType: [
          {
            name: "L",
            field: [
              { name: "a", number: 1, label: 1, type: 3, options: JS_STRING },
              { name: "b", number: 2, label: 1, type: 4, options: JS_STRING },
              { name: "c", number: 3, label: 1, type: 18, options: JS_STRING },
              { name: "child", number: 4, label: 1, type: 11, typeName: ".t.L" },
              { name: "items", number: 5, label: 3, type: 11, typeName: ".t.L" },
              { name: "d", number: 6, label: 1, type: 3, options: JS_STRING, oneofIndex: 0 },
              { name: "e", number: 7, label: 1, type: 5 },
            ],
            oneofDecl: [{ name: "o" }],
          },
        ],
      },
      {
        name: "p.proto",
        package: "t",
        syntax: "proto2",
        messageType: [
          {
            name: "P",
            field: [
              { name: "x", number: 1, label: 1, type: 5, defaultValue: "5" },
              { name: "y", number: 2, label: 1, type: 3, defaultValue: "3", options: JS_STRING },
              { name: "child", number: 3, label: 1, type: 11, typeName: ".t.P" },
              { name: "items", number: 4, label: 3, type: 11, typeName: ".t.P" },
              { name: "z", number: 5, label: 1, type: 13 },
            ],
          },
        ],
      },
    ],
  }),
);
const L = registry.getMessage("t.L")!;
const P = registry.getMessage("t.P")!;

const int64 = fc
  .oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -5n, max: 5n }))
  .map(String);
const uint64 = fc
  .oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 5n }))
  .map(String);
const small = fc.integer({ min: -3, max: 3 });

type Init = Record<string, unknown>;

/** Message initialisers nested at most `depth` levels. */
function lInit(depth: number): fc.Arbitrary<Init> {
  const nested = depth > 0 ? lInit(depth - 1) : undefined;
  return fc.record(
    {
      a: int64,
      b: uint64,
      c: int64,
      e: fc.oneof(small, fc.integer()),
      child: nested === undefined ? fc.constant(undefined) : fc.option(nested, { nil: undefined }),
      items: nested === undefined ? fc.constant([]) : fc.array(nested, { maxLength: 3 }),
      o: fc.option(
        int64.map((value) => ({ case: "d", value })),
        { nil: undefined },
      ),
    },
    { requiredKeys: [] },
  );
}

function pInit(depth: number): fc.Arbitrary<Init> {
  const nested = depth > 0 ? pInit(depth - 1) : undefined;
  return fc.record(
    {
      x: fc.oneof(small, fc.constant(5), fc.integer()),
      y: fc.oneof(int64, fc.constant("3")),
      z: fc.oneof(fc.nat(3), fc.integer({ min: 0, max: 0xffffffff })),
      child: nested === undefined ? fc.constant(undefined) : fc.option(nested, { nil: undefined }),
      items: nested === undefined ? fc.constant([]) : fc.array(nested, { maxLength: 3 }),
    },
    { requiredKeys: [] },
  );
}

/** Related pairs: b is a with some top-level fields taken from x. */
function pairs(
  desc: DescMessage,
  init: fc.Arbitrary<Init>,
): fc.Arbitrary<[MessageShape<DescMessage>, MessageShape<DescMessage>]> {
  return fc.tuple(init, init, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 })).map(([a, x, pick]) => {
    const b: Init = { ...a };
    Object.keys(x).forEach((k, i) => {
      if (pick[i % 8]) b[k] = x[k];
    });
    return [create(desc, a), create(desc, b)];
  });
}

function check(desc: DescMessage, a: MessageShape<DescMessage>, b: MessageShape<DescMessage>): void {
  const before = toBinary(desc, a);
  const patch = diff(desc, a, b);
  expect(patch).toEqual(diffReference(desc, a, b));
  const full = toBinary(desc, b);
  expect(encodeChange(desc, a, b)).toEqual(
    patch.length < full.length ? { kind: "patch", body: patch } : { kind: "full", body: full },
  );
  const result = apply(desc, a, patch);
  expect(equals(desc, result, b)).toBe(true);
  expect(equals(desc, result, applyReference(desc, a, patch))).toBe(true);
  expect(toBinary(desc, a)).toEqual(before);
}

describe("64-bit integers held as strings, proto2 defaults (runtime schemas)", () => {
  it("diff matches diffReference and apply matches applyReference for jstype = JS_STRING fields", () => {
    fc.assert(
      fc.property(pairs(L, lInit(2)), ([a, b]) => check(L, a, b)),
      { numRuns: NUM_RUNS },
    );
  });

  it("diff matches diffReference and apply matches applyReference for proto2 messages with defaults", () => {
    fc.assert(
      fc.property(pairs(P, pInit(2)), ([a, b]) => check(P, a, b)),
      { numRuns: NUM_RUNS },
    );
  });

  it("an ADD on a string-held int64 keeps it a string", () => {
    const a = create(L, { a: "10", b: "18446744073709551615" });
    const b = create(L, { a: "11", b: "0" });
    const result = apply(L, a, diff(L, a, b)) as Record<string, unknown>;
    expect(result.a).toBe("11");
    expect(result.b).toBe("0");
  });
});
