/**
 * The reference implementation of applying patches: deep-clones the base,
 * then applies every operation through reflection. Kept as the oracle of the
 * differential tests of {@link apply} (test/delta/apply-differential.prop.test.ts),
 * which must return an equal message.
 *
 * @module
 */
import { clone, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { type ReflectList, type ReflectMap, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { DeltaframeError } from "../errors.js";
import type { Limits } from "../limits.js";
import type { PatchAction, PatchOperation } from "./patch-op.js";
import { decodePatch } from "./patch-read.js";
import { integerShape, type MapKey } from "./value-codec.js";

/**
 * Returns a new message: `base` with `patch` applied, like {@link apply}, but
 * on a deep clone of `base`, so the result shares nothing with it. Slower;
 * kept as the reference that the differential tests compare {@link apply}
 * against. `options.limits` defaults to DEFAULT_LIMITS.
 *
 * Throws (and changes nothing) with DF_ERR_PATCH_MALFORMED,
 * DF_ERR_PATCH_FIELD_UNKNOWN, DF_ERR_PATCH_OP_INVALID,
 * DF_ERR_PATCH_TOO_MANY_OPS, DF_ERR_DEPTH (see {@link decodePatch}),
 * DF_ERR_PATCH_INDEX_RANGE (ELEMENT index not within the list) and
 * DF_ERR_PATCH_MAP_KEY_MISSING (MAP_REMOVE or MAP_DESCEND of an absent key).
 */
export function applyReference<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  patch: Uint8Array,
  options?: Partial<{ limits: Partial<Limits> }>,
): MessageShape<Desc> {
  const ops = decodePatch(schema, patch, options?.limits);
  const result = clone(schema, base);
  applyOperations(reflect(schema, result, false), ops);
  return result;
}

/** Applies decoded operations to `target` in place. */
function applyOperations(target: ReflectMessage, ops: readonly PatchOperation[]): void {
  for (const op of ops) applyAt(target, op, 0);
}

function applyAt(rm: ReflectMessage, op: PatchOperation, depth: number): void {
  const step = op.path[depth];
  if (step === undefined) {
    applyAction(rm, op.action);
    return;
  }
  switch (step.kind) {
    case "descend": {
      // Wrappers and Struct are stored unwrapped by protobuf-es, so the
      // child is written back after the change.
      const child = rm.get(step.field) as ReflectMessage;
      applyAt(child, op, depth + 1);
      rm.set(step.field, child);
      return;
    }
    case "element": {
      const list = rm.get(step.field) as ReflectList;
      if (step.index >= list.size) {
        throw new DeltaframeError(
          "DF_ERR_PATCH_INDEX_RANGE",
          `cannot apply patch: element ${step.index} of field ${step.field.number} is outside a list of ${list.size}`,
          { fieldNumber: step.field.number, index: step.index, size: list.size },
        );
      }
      const child = list.get(step.index) as ReflectMessage;
      applyAt(child, op, depth + 1);
      list.set(step.index, child);
      return;
    }
    case "mapDescend": {
      const map = rm.get(step.field) as ReflectMap;
      if (!map.has(step.key)) throw keyMissing(step.field, step.key);
      const child = map.get(step.key) as ReflectMessage;
      applyAt(child, op, depth + 1);
      map.set(step.key, child);
      return;
    }
  }
}

function keyMissing(field: DescField, key: MapKey): DeltaframeError {
  return new DeltaframeError(
    "DF_ERR_PATCH_MAP_KEY_MISSING",
    `cannot apply patch: map field ${field.number} has no entry for the key`,
    { fieldNumber: field.number, key },
  );
}

function applyAction(rm: ReflectMessage, action: PatchAction): void {
  const field = action.field;
  switch (action.kind) {
    case "set":
      rm.set(field, action.value);
      return;
    case "clear":
      rm.clear(field);
      return;
    case "add": {
      const scalar = (field as { scalar: Parameters<typeof integerShape>[0] }).scalar;
      const { bits, signed } = integerShape(scalar);
      const sum = BigInt(rm.get(field) as number | bigint) + action.delta;
      const wrapped = signed ? BigInt.asIntN(bits, sum) : BigInt.asUintN(bits, sum);
      rm.set(field, bits === 32 ? Number(wrapped) : wrapped);
      return;
    }
    case "mapPut":
      (rm.get(field) as ReflectMap).set(action.key, action.value);
      return;
    case "mapRemove":
      if (!(rm.get(field) as ReflectMap).delete(action.key)) throw keyMissing(field, action.key);
      return;
  }
}
