/**
 * Applying patches: `apply(schema, base, patch)` (proto/deltaframe/v1/patch.proto).
 *
 * Atomic: the whole patch is parsed and validated against the schema first
 * ({@link decodePatch}), then applied copy-on-write. A failure at any point
 * throws and discards the copies; the base is never changed.
 *
 * Copy-on-write (the performance bet): a keyed feed's patch touches a few
 * fields of a large message (one price of one of 20 selections), so deep-
 * cloning the base costs far more than the change. Instead the result is a
 * shallow copy of the base's root, and every message, list and map on the
 * path of an operation is shallow-copied once (the `owned` set remembers which
 * objects of the result are already copies); everything the patch does not
 * reach is shared with the base: on the odds workload this takes a tick's
 * apply from about 3× to about 0.25× the cost of decoding the whole market
 * (bench/delta.bench.ts, tick-apply). The differential tests compare the
 * result with {@link applyReference}, which deep-clones.
 *
 * @module
 */
import { type DescField, type DescMessage, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect, reflectMap } from "@bufbuild/protobuf/reflect";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { DeltaframeError } from "../errors.js";
import { DEFAULT_LIMITS, type Limits, resolveLimits } from "../limits.js";
import type { PatchAction, PatchOperation } from "./patch-op.js";
import { decodePatchResolved } from "./patch-read.js";
import type { MapKey } from "./value-codec.js";

/** Options of {@link apply}. */
export interface ApplyOptions {
  /** Bounds on the patch (maxPatchOps, maxDepth); defaults to DEFAULT_LIMITS. */
  limits: Partial<Limits>;
}

/** A message's, or a map's, own properties. */
type Local = Record<string, unknown>;

/** Limits objects returned by {@link resolveLimitsOnce}: complete, validated and frozen. */
const resolvedLimits = new WeakSet<object>([DEFAULT_LIMITS]);

/**
 * Returns complete limits like `resolveLimits`, but returns limits it resolved
 * before (and DEFAULT_LIMITS for `undefined`) as they are, so that a caller
 * holding resolved limits (a {@link Replica}) pays nothing per patch. Throws
 * DF_ERR_LIMIT_INVALID for bad limits.
 */
export function resolveLimitsOnce(limits: Partial<Limits> | undefined): Readonly<Limits> {
  if (limits === undefined) return DEFAULT_LIMITS;
  if (resolvedLimits.has(limits)) return limits as Readonly<Limits>;
  const resolved = resolveLimits(limits);
  resolvedLimits.add(resolved);
  return resolved;
}

/**
 * Returns a new message: `base` with `patch` (the operation bytes of
 * proto/deltaframe/v1/patch.proto) applied. `base` is never changed. Unknown
 * fields of `base` are kept; unknown fields inside patch values are dropped.
 *
 * The result shares with `base` every sub-message, list, map and bytes value
 * that the patch does not reach: the root and each message, list and map on
 * the path of an operation are fresh copies, so changing those never changes
 * `base`, but treat both messages as immutable beyond that (as
 * {@link KeyedState} and {@link Replica} do). An empty patch returns a
 * shallow copy of `base`.
 *
 * Throws (and changes nothing) with DF_ERR_PATCH_MALFORMED,
 * DF_ERR_PATCH_FIELD_UNKNOWN, DF_ERR_PATCH_OP_INVALID,
 * DF_ERR_PATCH_TOO_MANY_OPS, DF_ERR_DEPTH (see {@link decodePatch}),
 * DF_ERR_PATCH_INDEX_RANGE (ELEMENT index not within the list),
 * DF_ERR_PATCH_MAP_KEY_MISSING (MAP_REMOVE or MAP_DESCEND of an absent key)
 * and DF_ERR_LIMIT_INVALID (bad limits).
 */
export function apply<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  patch: Uint8Array,
  options?: Partial<ApplyOptions>,
): MessageShape<Desc> {
  const ops = decodePatchResolved(schema, patch, resolveLimitsOnce(options?.limits));
  const root = copyMessage(base as unknown as Local);
  const owned = new Set<unknown>();
  owned.add(root);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    applyAt(schema, root, op, 0, owned);
  }
  return root as unknown as MessageShape<Desc>;
}

/**
 * A shallow copy of a message: same prototype (proto2 defaults live there),
 * same own properties; the unknown-field list is copied so that adding to the
 * result's never adds to the base's.
 */
function copyMessage(m: Local): Local {
  const proto = Object.getPrototypeOf(m) as object | null;
  const copy: Local = proto === Object.prototype ? { ...m } : Object.assign(Object.create(proto) as Local, m);
  const unknown = m.$unknown;
  if (unknown !== undefined) copy.$unknown = [...(unknown as unknown[])];
  return copy;
}

/** A shallow copy of a map field's object; spread keeps `__proto__` an own data property. */
function copyMap(m: Local): Local {
  return { ...m };
}

/** The property key protobuf-es stores a map key under. */
function mapKeyToLocal(key: MapKey): string | number {
  return typeof key === "string" || typeof key === "number" ? key : String(key);
}

/** Sets an own data property, also for the key `__proto__`. */
function setOwn(obj: Local, key: string | number, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

const STRUCT = "google.protobuf.Struct";
const VALUE = "google.protobuf.Value";

/**
 * Whether protobuf-es holds the message values of `field` in another form
 * than a message object: wrappers in singular fields outside oneofs (the bare
 * value) and Struct outside Value (a JSON object). Such values are reached
 * through reflection, which converts them.
 */
function heldConverted(field: DescField & { message: DescMessage }): boolean {
  if (field.message.typeName === STRUCT && field.parent.typeName !== VALUE) return true;
  return field.fieldKind === "message" && field.oneof === undefined && isWrapperDesc(field.message);
}

/** Copies the list or map of `field` into `parent` (owned) unless already a copy; returns it. */
function ownContainer(parent: Local, field: DescField, owned: Set<unknown>): unknown {
  const name = field.localName;
  const current = parent[name];
  if (owned.has(current)) return current;
  const copy = Array.isArray(current) ? current.slice() : copyMap(current as Local);
  parent[name] = copy;
  owned.add(copy);
  return copy;
}

/** Returns an owned copy of a child message (creating an empty one for undefined). */
function ownChild(desc: DescMessage, child: unknown, owned: Set<unknown>): Local {
  if (child !== undefined && owned.has(child)) return child as Local;
  const copy =
    child === undefined ? (reflect(desc).message as unknown as Local) : copyMessage(child as Local);
  owned.add(copy);
  return copy;
}

function applyAt(desc: DescMessage, m: Local, op: PatchOperation, depth: number, owned: Set<unknown>): void {
  const step = op.path[depth];
  if (step === undefined) {
    applyAction(desc, m, op.action, owned);
    return;
  }
  const field = step.field as DescField & { message: DescMessage };
  const childDesc = field.message;
  if (heldConverted(field)) {
    applyConverted(desc, m, op, depth, owned);
    return;
  }
  switch (step.kind) {
    case "descend": {
      const oneof = field.oneof;
      let child: unknown;
      if (oneof === undefined) {
        child = m[field.localName];
      } else {
        const o = m[oneof.localName] as { case: string | undefined; value?: unknown };
        child = o.case === field.localName ? o.value : undefined;
      }
      const own = ownChild(childDesc, child, owned);
      if (own !== child) {
        if (oneof === undefined) m[field.localName] = own;
        else m[oneof.localName] = { case: field.localName, value: own };
      }
      applyAt(childDesc, own, op, depth + 1, owned);
      return;
    }
    case "element": {
      const list = m[field.localName] as unknown[];
      if (step.index >= list.length) throw indexRange(field, step.index, list.length);
      const arr = ownContainer(m, field, owned) as unknown[];
      const child = arr[step.index];
      const own = ownChild(childDesc, child, owned);
      arr[step.index] = own;
      applyAt(childDesc, own, op, depth + 1, owned);
      return;
    }
    case "mapDescend": {
      const key = mapKeyToLocal(step.key);
      if (!Object.hasOwn(m[field.localName] as Local, key)) throw keyMissing(field, step.key);
      const obj = ownContainer(m, field, owned) as Local;
      const child = obj[key];
      const own = ownChild(childDesc, child, owned);
      if (own !== child) setOwn(obj, key, own);
      applyAt(childDesc, own, op, depth + 1, owned);
      return;
    }
  }
}

/**
 * Navigation into a value held converted (wrapper, Struct): reflection makes a
 * fresh message of it, the rest of the operation applies to that, and
 * reflection converts it back into the (owned) parent, list or map.
 */
function applyConverted(
  desc: DescMessage,
  m: Local,
  op: PatchOperation,
  depth: number,
  owned: Set<unknown>,
): void {
  const step = op.path[depth]!;
  const field = step.field as DescField & { message: DescMessage };
  const rm = reflect(desc, m as never, false);
  let child: ReflectMessage;
  switch (step.kind) {
    case "descend":
      child = rm.get(step.field) as ReflectMessage;
      break;
    case "element": {
      const size = (m[field.localName] as unknown[]).length;
      if (step.index >= size) throw indexRange(field, step.index, size);
      ownContainer(m, field, owned);
      child = (rm.get(step.field) as { get(i: number): unknown }).get(step.index) as ReflectMessage;
      break;
    }
    case "mapDescend": {
      if (!Object.hasOwn(m[field.localName] as Local, mapKeyToLocal(step.key))) {
        throw keyMissing(field, step.key);
      }
      ownContainer(m, field, owned);
      child = (rm.get(step.field) as { get(k: MapKey): unknown }).get(step.key) as ReflectMessage;
      break;
    }
  }
  const own = ownChild(field.message, child.message, owned);
  applyAt(field.message, own, op, depth + 1, owned);
  const result = reflect(field.message, own as never, false);
  switch (step.kind) {
    case "descend":
      rm.set(step.field, result);
      return;
    case "element":
      (rm.get(step.field) as { set(i: number, v: unknown): void }).set(step.index, result);
      return;
    case "mapDescend":
      (rm.get(step.field) as { set(k: MapKey, v: unknown): void }).set(step.key, result);
      return;
  }
}

function indexRange(field: DescField, index: number, size: number): DeltaframeError {
  return new DeltaframeError(
    "DF_ERR_PATCH_INDEX_RANGE",
    `cannot apply patch: element ${index} of field ${field.number} is outside a list of ${size}`,
    { fieldNumber: field.number, index, size },
  );
}

function keyMissing(field: DescField, key: MapKey): DeltaframeError {
  return new DeltaframeError(
    "DF_ERR_PATCH_MAP_KEY_MISSING",
    `cannot apply patch: map field ${field.number} has no entry for the key`,
    { fieldNumber: field.number, key },
  );
}

const TWO_31 = 0x80000000;

/** Whether a scalar is a 64-bit integer (held as bigint, or as string with `jstype = JS_STRING`). */
function is64(type: ScalarType): boolean {
  switch (type) {
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return true;
    default:
      return false;
  }
}

function isSigned32(type: ScalarType): boolean {
  return type === ScalarType.INT32 || type === ScalarType.SINT32 || type === ScalarType.SFIXED32;
}

function isUnsigned64(type: ScalarType): boolean {
  return type === ScalarType.UINT64 || type === ScalarType.FIXED64;
}

/** Stores a singular scalar or enum field's own value (respecting its oneof). */
function setSingular(m: Local, field: DescField, local: unknown): void {
  if (field.oneof === undefined) m[field.localName] = local;
  else m[field.oneof.localName] = { case: field.localName, value: local };
}

/** The scalar value of `field` as reflection reads it: bigint for 64-bit integers, zero when unset. */
function scalarOf(m: Local, field: DescField & { fieldKind: "scalar" }): unknown {
  let value: unknown;
  if (field.oneof === undefined) {
    value = m[field.localName];
  } else {
    const o = m[field.oneof.localName] as { case: string | undefined; value?: unknown };
    value = o.case === field.localName ? o.value : undefined;
  }
  if (is64(field.scalar)) return value === undefined ? 0n : BigInt(value as bigint | string);
  return value === undefined ? 0 : value;
}

function applyAction(desc: DescMessage, m: Local, action: PatchAction, owned: Set<unknown>): void {
  const field = action.field;
  switch (action.kind) {
    case "set":
      if (field.fieldKind === "enum") {
        setSingular(m, field, action.value);
      } else if (field.fieldKind === "scalar" && !(field.longAsString && is64(field.scalar))) {
        setSingular(m, field, action.value);
      } else {
        reflect(desc, m as never, false).set(field, action.value);
      }
      return;
    case "clear":
      reflect(desc, m as never, false).clear(field);
      return;
    case "add": {
      const f = field as DescField & { fieldKind: "scalar" };
      const current = scalarOf(m, f);
      if (!is64(f.scalar)) {
        const delta = action.delta;
        // The sum wraps at 32 bits; a delta within ±2^31 keeps it exact as a number.
        const d = delta >= -TWO_31 && delta < TWO_31 ? Number(delta) : Number(BigInt.asIntN(32, delta));
        const sum = (current as number) + d;
        setSingular(m, f, isSigned32(f.scalar) ? sum | 0 : sum >>> 0);
        return;
      }
      const sum = (current as bigint) + action.delta;
      const wrapped = isUnsigned64(f.scalar) ? BigInt.asUintN(64, sum) : BigInt.asIntN(64, sum);
      setSingular(m, f, f.longAsString ? String(wrapped) : wrapped);
      return;
    }
    case "mapPut":
      reflectMap(
        field as DescField & { fieldKind: "map" },
        ownContainer(m, field, owned) as Local,
        false,
      ).set(action.key, action.value);
      return;
    case "mapRemove": {
      if (!Object.hasOwn(m[field.localName] as Local, mapKeyToLocal(action.key))) {
        throw keyMissing(field, action.key);
      }
      const obj = ownContainer(m, field, owned) as Local;
      reflectMap(field as DescField & { fieldKind: "map" }, obj, false).delete(action.key);
      return;
    }
  }
}
