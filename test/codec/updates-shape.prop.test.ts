import { create, toBinary } from "@bufbuild/protobuf";
import { fc, test } from "@fast-check/vitest";
import { isDeltaframeError } from "deltaframe";
import { decodeBatch, encodeBatch, packUpdates, unpackUpdates } from "deltaframe/codec";
import { FrameSchema, type Updates, UpdatesSchema } from "deltaframe/proto";
import { describe, expect } from "vitest";

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

// A patch made of operations the shaping can carry (CLEAR, ADD, DESCEND, ELEMENT) or, sometimes, others.
const arbOp = fc.oneof(
  fc.record({
    field: fc.integer({ min: 1, max: 40 }),
    kind: fc.constantFrom(1, 3),
    operand: fc.constant(-1),
  }),
  fc.record({
    field: fc.integer({ min: 1, max: 40 }),
    kind: fc.constantFrom(2, 4),
    operand: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 40 })),
  }),
  fc.record({
    field: fc.integer({ min: 1, max: 4 }),
    kind: fc.constant(0),
    operand: fc.integer({ min: 0, max: 200 }),
  }),
);
const arbPatch = fc
  .array(arbOp, { minLength: 1, maxLength: 6 })
  .map((ops) =>
    Uint8Array.from(
      ops.flatMap((op) => [
        ...varint(op.field * 8 + op.kind),
        ...(op.operand >= 0 ? varint(op.operand) : []),
      ]),
    ),
  );
const arbBody = fc.oneof(
  { weight: 6, arbitrary: arbPatch.map((body) => ({ kind: 1, body })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }).map((body) => ({ kind: 0, body })) },
  { weight: 1, arbitrary: fc.constant({ kind: 2, body: new Uint8Array(0) }) },
);

function updatesOf(items: { kind: number; body: Uint8Array }[]): Updates {
  const bodies = new Uint8Array(items.reduce((n, x) => n + x.body.length, 0));
  let at = 0;
  for (const x of items) {
    bodies.set(x.body, at);
    at += x.body.length;
  }
  return create(UpdatesSchema, {
    alias: 3,
    firstOffset: 10n,
    keyIds: items.map((_, i) => i),
    sizes: items.map((x) => x.body.length * 4 + x.kind),
    bodies,
  });
}

describe("shaped patches", () => {
  test.prop([fc.array(arbBody, { minLength: 1, maxLength: 60 })], { numRuns: 1000 })(
    "unpack(pack(u)) restores every body exactly and packing never grows the frame",
    (items) => {
      const original = updatesOf(items);
      const packed = packUpdates(original);
      const restored = unpackUpdates(packed);
      expect(restored.sizes).toEqual(original.sizes);
      expect(restored.bodies).toEqual(original.bodies);
      expect(restored.shapes).toEqual([]);
      expect(toBinary(UpdatesSchema, packed).length).toBeLessThanOrEqual(
        toBinary(UpdatesSchema, original).length,
      );
    },
  );

  test.prop([fc.array(arbBody, { minLength: 1, maxLength: 40 })], { numRuns: 300 })(
    "decodeBatch returns plain patches for a batch sent with shaped patches",
    (items) => {
      const original = updatesOf(items);
      const sent = create(FrameSchema, { body: { case: "updates", value: packUpdates(original) } });
      const [received] = decodeBatch(encodeBatch([sent]));
      expect(received?.body.case).toBe("updates");
      const u = received!.body.value as Updates;
      expect(u.sizes).toEqual(original.sizes);
      expect(u.bodies).toEqual(original.bodies);
      expect(u.shapes).toEqual([]);
    },
  );

  test.prop(
    [
      fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 20 }),
      fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 5 }),
      fc.uint8Array({ maxLength: 64 }),
    ],
    { numRuns: 3000 },
  )("hostile columns give typed errors only", (sizes, shapes, bodies) => {
    const u = create(UpdatesSchema, { alias: 1, keyIds: sizes.map(() => 0), sizes, bodies, shapes });
    try {
      const out = unpackUpdates(u);
      let total = 0;
      for (const s of out.sizes) {
        expect(s & 3).not.toBe(3);
        total += s >>> 2;
      }
      expect(total).toBe(out.bodies.length);
    } catch (error) {
      expect(isDeltaframeError(error)).toBe(true);
    }
  });

  test("a hostile frame cannot make unpacking allocate past the bytes limit", () => {
    const shape = new Uint8Array(1000).fill(0x0b); // 1000 × (field 1, DESCEND)
    const u = create(UpdatesSchema, {
      alias: 1,
      keyIds: new Array(2000).fill(0),
      sizes: new Array(2000).fill(3),
      shapes: [shape],
    });
    try {
      unpackUpdates(u, { maxBytesFieldBytes: 1 << 20 });
      expect.unreachable();
    } catch (error) {
      expect(isDeltaframeError(error, "DF_ERR_BYTES_TOO_LONG")).toBe(true);
      expect((error as { closeCode: number }).closeCode).toBe(1009);
    }
  });

  test("shapes that extend an earlier shape are written as references and restored exactly", () => {
    // Three patches changing 1, 2 and 3 elements of field 5 (ELEMENT i, ADD on field 3), twice each.
    const patch = (elements: number) =>
      Uint8Array.from([0x22, 0x10, ...Array.from({ length: elements }, (_, i) => [0x2c, i, 0x1a, 2]).flat()]);
    const items = [3, 1, 2, 3, 1, 2].map((k) => ({ kind: 1, body: patch(k) }));
    const original = updatesOf(items);
    const packed = packUpdates(original);
    // Shortest first; the longer two extend the one before them: 0x00, its index, one more element's headers.
    expect(packed.shapes.map((s) => Buffer.from(s).toString("hex"))).toEqual([
      "222c1a",
      "00002c1a",
      "00012c1a",
    ]);
    const restored = unpackUpdates(packed);
    expect(restored.sizes).toEqual(original.sizes);
    expect(restored.bodies).toEqual(original.bodies);
  });

  test("a shape may only extend a shape before it", () => {
    const u = create(UpdatesSchema, {
      alias: 1,
      keyIds: [0],
      sizes: [3],
      bodies: Uint8Array.from([1]),
      shapes: [Uint8Array.from([0x00, 0x00, 0x1a])],
    });
    try {
      unpackUpdates(u);
      expect.unreachable();
    } catch (error) {
      expect(isDeltaframeError(error, "DF_ERR_FRAME_INVALID")).toBe(true);
      expect((error as { closeCode: number }).closeCode).toBe(1002);
    }
  });

  test("a chain of extending shapes cannot make unpacking allocate past the bytes limit", () => {
    // Each shape doubles nothing but adds its predecessor: 2,000 shapes of 4 bytes expand to ~8 MB in all.
    const shapes = [new Uint8Array(1000).fill(0x0b)];
    for (let s = 1; s < 2000; s++) {
      const ref = s < 128 ? [s - 1] : [((s - 1) & 0x7f) | 0x80, (s - 1) >> 7];
      shapes.push(Uint8Array.from([0x00, ...ref, 0x0b]));
    }
    const u = create(UpdatesSchema, { alias: 1, keyIds: [0], sizes: [3], shapes });
    try {
      unpackUpdates(u, { maxBytesFieldBytes: 1 << 20 });
      expect.unreachable();
    } catch (error) {
      expect(isDeltaframeError(error, "DF_ERR_BYTES_TOO_LONG")).toBe(true);
    }
  });

  test("a shape over maxPatchOps is refused", () => {
    const u = create(UpdatesSchema, {
      alias: 1,
      keyIds: [0],
      sizes: [3],
      shapes: [new Uint8Array(11).fill(0x0b)],
    });
    expect(unpackUpdates(u, { maxPatchOps: 11 }).bodies.length).toBe(11);
    try {
      unpackUpdates(u, { maxPatchOps: 10 });
      expect.unreachable();
    } catch (error) {
      expect(isDeltaframeError(error, "DF_ERR_PATCH_TOO_MANY_OPS")).toBe(true);
    }
  });
});
