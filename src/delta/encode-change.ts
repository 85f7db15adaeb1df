/**
 * Choosing between a patch and the full value for one update body.
 *
 * @module
 */
import { type DescMessage, type MessageShape, ScalarType, toBinary } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { type DiffOptions, diff } from "./patch-write.js";

/**
 * One update body: a patch (update kind 1) or the full value (kind 0), as in
 * the `Updates` frame (proto/deltaframe/v1/frames.proto).
 */
export interface Change {
  /** `"patch"`: `body` is patch operations against the base; `"full"`: `body` is the whole target value. */
  readonly kind: "patch" | "full";
  /** The body bytes. */
  readonly body: Uint8Array;
}

/**
 * Returns the shorter of the patch from `base` to `target` and the full value
 * (`toBinary(schema, target)`): the patch only when it is strictly smaller, so
 * an update body is never larger than the full value. When the two messages
 * are equal the patch is empty (kind "patch", zero bytes) unless the full
 * value is empty too. Neither message is changed.
 *
 * The full value is only encoded when a cheap lower bound of its size does not
 * already show the patch to be smaller.
 */
export function encodeChange<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  target: MessageShape<Desc>,
  options?: Partial<DiffOptions>,
): Change {
  const patch = diff(schema, base, target, options);
  if (patch.length < fullSizeLowerBound(schema, target as unknown as Record<string, unknown>)) {
    return { kind: "patch", body: patch };
  }
  const full = toBinary(schema, target);
  return patch.length < full.length ? { kind: "patch", body: patch } : { kind: "full", body: full };
}

/** FeatureSet.FieldPresence.IMPLICIT. */
const IMPLICIT = 2;

/**
 * A lower bound of a message's encoded size: each set field takes a tag and at
 * least one byte, strings at least one byte per UTF-16 unit, lists and maps at
 * least one byte per element. Fields with implicit presence outside oneofs
 * are read from the message's own properties (the odds market's five fields,
 * on every tick); the rest through reflection.
 */
function fullSizeLowerBound(desc: DescMessage, m: Record<string, unknown>): number {
  let size = 0;
  let rm: ReflectMessage | undefined;
  for (const field of desc.fields) {
    if (field.oneof === undefined && field.presence === IMPLICIT) {
      const v = m[field.localName];
      switch (field.fieldKind) {
        case "list":
          if (Array.isArray(v)) {
            if (v.length > 0) size += 1 + v.length;
            continue;
          }
          break;
        case "enum":
          if (typeof v === "number") {
            if (v !== field.enum.values[0]!.number) size += 2;
            continue;
          }
          break;
        case "scalar":
          if (typeof v === "string" && field.scalar === ScalarType.STRING) {
            if (v.length > 0) size += 2 + v.length;
            continue;
          }
          if (typeof v === "bigint" || typeof v === "boolean") {
            if (v) size += 2;
            continue;
          }
          if (
            typeof v === "number" &&
            field.scalar !== ScalarType.DOUBLE &&
            field.scalar !== ScalarType.FLOAT
          ) {
            if (v !== 0) size += 2;
            continue;
          }
          break;
      }
    }
    if (rm === undefined) rm = reflect(desc, m as never, false);
    if (!rm.isSet(field)) continue;
    switch (field.fieldKind) {
      case "list":
        size += 1 + (rm.get(field) as { size: number }).size;
        break;
      case "map":
        size += 2 * (rm.get(field) as { size: number }).size;
        break;
      case "scalar": {
        const v = rm.get(field);
        size += typeof v === "string" || v instanceof Uint8Array ? 2 + v.length : 2;
        break;
      }
      default:
        size += 2;
    }
  }
  return size;
}
