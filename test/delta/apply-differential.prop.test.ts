import { type DescField, type DescMessage, equals, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { type ReflectList, type ReflectMap, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { isDeltaframeError } from "deltaframe";
import { apply, applyReference, decodePatch, diff, type PatchOperation } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { KitchenSchema } from "../../src/gen/deltaframe/testing/v1/kitchen_pb.js";
import { messageArbitrary, pairArbitrary, tripleArbitrary } from "./arbitrary-message.js";
import { marketArbitrary, marketTickArbitrary } from "./odds-arbitrary.js";

const NUM_RUNS = 1000;
const LIMITS = { maxPatchOps: 64, maxDepth: 8 };

type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

function outcome<T>(run: () => T): Outcome<T> {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    if (!isDeltaframeError(error)) throw error;
    return { ok: false, code: error.code };
  }
}

/** Whether protobuf-es holds the field's message value converted (wrapper value, Struct as JSON). */
function converted(field: DescField): boolean {
  if (field.message === undefined) return false;
  if (
    field.message.typeName === "google.protobuf.Struct" &&
    field.parent.typeName !== "google.protobuf.Value"
  )
    return true;
  return field.fieldKind === "message" && field.oneof === undefined && isWrapperDesc(field.message);
}

/**
 * Changes the field's value in place: a list or map is emptied in place (its
 * array or object is changed, not replaced), a set message value is changed
 * the same way field by field, anything else is cleared on `rm`'s own object.
 */
function scribbleDeep(rm: ReflectMessage, field: DescField): void {
  switch (field.fieldKind) {
    case "list":
      (rm.get(field) as ReflectList).clear();
      return;
    case "map":
      (rm.get(field) as ReflectMap).clear();
      return;
    case "message": {
      if (!rm.isSet(field) || converted(field)) {
        rm.clear(field);
        return;
      }
      const child = rm.get(field) as ReflectMessage;
      for (const f of child.fields) scribbleDeep(child, f);
      return;
    }
    default:
      rm.clear(field);
  }
}

/** The messages of `result` on the path of `op`, outermost first (stops where the path no longer exists). */
function pathMessages(schema: DescMessage, result: unknown, op: PatchOperation): ReflectMessage[] {
  let rm = reflect(schema, result as never, false);
  const out = [rm];
  for (const step of op.path) {
    if (converted(step.field)) return out;
    let next: ReflectMessage | undefined;
    switch (step.kind) {
      case "descend":
        if (!rm.isSet(step.field)) return out;
        next = rm.get(step.field) as ReflectMessage;
        break;
      case "element": {
        const list = rm.get(step.field) as ReflectList;
        next = step.index < list.size ? (list.get(step.index) as ReflectMessage) : undefined;
        break;
      }
      case "mapDescend":
        next = (rm.get(step.field) as ReflectMap).get(step.key) as ReflectMessage | undefined;
        break;
    }
    if (next === undefined) return out;
    out.push(next);
    rm = next;
  }
  return out;
}

/**
 * Mutates `result` deeply along every patched path: the lists and maps that
 * the path steps go through are emptied in place, the action's field is
 * changed in place ({@link scribbleDeep}), every field of every message on the
 * path is cleared, and the root's unknown fields are appended to. Untouched
 * subtrees may be shared with the base, so only these are changed.
 */
function scribble(schema: DescMessage, result: unknown, ops: readonly PatchOperation[]): void {
  const root = reflect(schema, result as never, false);
  root.getUnknown()?.push({ no: 9999, wireType: 0, data: new Uint8Array([1]) });
  for (const op of ops) {
    const messages = pathMessages(schema, result, op);
    if (messages.length === op.path.length + 1) scribbleDeep(messages[messages.length - 1]!, op.action.field);
    op.path.forEach((step, i) => {
      const rm = messages[i];
      if (rm === undefined) return;
      if (step.kind === "element") (rm.get(step.field) as ReflectList).clear();
      if (step.kind === "mapDescend") (rm.get(step.field) as ReflectMap).clear();
    });
    for (const rm of messages.reverse()) for (const f of rm.fields) rm.clear(f);
  }
}

/** apply and applyReference agree (equal results or the same error), and neither changes the base. */
function agree<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  patch: Uint8Array,
): Outcome<MessageShape<Desc>> {
  const before = toBinary(schema, base);
  const reference = outcome(() => applyReference(schema, base, patch, { limits: LIMITS }));
  const fast = outcome(() => apply(schema, base, patch, { limits: LIMITS }));
  expect(toBinary(schema, base)).toEqual(before);
  if (reference.ok && fast.ok) {
    expect(equals(schema, fast.value, reference.value)).toBe(true);
    expect(toBinary(schema, fast.value)).toEqual(toBinary(schema, reference.value));
    // Mutating the result along the patched paths leaves the base as it was.
    scribble(schema, apply(schema, base, patch, { limits: LIMITS }), decodePatch(schema, patch, LIMITS));
    expect(toBinary(schema, base)).toEqual(before);
  } else {
    expect(fast).toEqual(reference);
  }
  return fast;
}

/** Valid patches with bytes flipped, cut or appended. */
function damaged(patch: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, mask]) => {
      const out = patch.slice();
      if (out.length > 0) out[at % out.length]! ^= mask;
      return out;
    }),
    fc.nat().map((at) => patch.slice(0, patch.length === 0 ? 0 : at % patch.length)),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((tail) => Uint8Array.from([...patch, ...tail])),
  );
}

describe("apply against applyReference (differential)", () => {
  it("equal results for diffs of Kitchen pairs; the base survives mutation of the result", () => {
    fc.assert(
      fc.property(pairArbitrary(KitchenSchema), ([a, b]) => {
        const result = agree(KitchenSchema, a, diff(KitchenSchema, a, b));
        expect(result.ok && equals(KitchenSchema, result.value, b)).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("equal results for chained patches (a → b → c) of Kitchen messages", () => {
    fc.assert(
      fc.property(tripleArbitrary(KitchenSchema), ([a, b, c]) => {
        const ab = agree(KitchenSchema, a, diff(KitchenSchema, a, b));
        if (!ab.ok) throw new Error("a → b failed");
        const bc = agree(KitchenSchema, ab.value, diff(KitchenSchema, b, c));
        expect(bc.ok && equals(KitchenSchema, bc.value, c)).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("equal results for Market ticks and unrelated markets", () => {
    fc.assert(
      fc.property(marketTickArbitrary, ([a, b]) => {
        agree(MarketSchema, a, diff(MarketSchema, a, b));
      }),
      { numRuns: NUM_RUNS },
    );
    fc.assert(
      fc.property(marketArbitrary, marketArbitrary, (a, b) => {
        agree(MarketSchema, a, diff(MarketSchema, a, b));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("the same result or the same error for damaged Kitchen patches against unrelated bases", () => {
    const k = messageArbitrary(KitchenSchema);
    fc.assert(
      fc.property(
        pairArbitrary(KitchenSchema).chain(([a, b]) =>
          fc.tuple(fc.constant(a), damaged(diff(KitchenSchema, a, b)), k),
        ),
        ([a, patch, other]) => {
          agree(KitchenSchema, a, patch);
          agree(KitchenSchema, other, patch);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it("the same result or the same error for random bytes", () => {
    fc.assert(
      fc.property(messageArbitrary(KitchenSchema), fc.uint8Array({ maxLength: 48 }), (a, bytes) => {
        agree(KitchenSchema, a, bytes);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
