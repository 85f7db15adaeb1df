/**
 * The reference implementation of computing patches: walks both messages
 * through reflection, skipping fields that local-equal.ts shows to be equal.
 * Kept as the oracle of the differential tests of {@link diff}
 * (test/delta/diff-differential.prop.test.ts), which must return identical
 * bytes.
 *
 * @module
 */
import type { DescField, DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type ReflectList, type ReflectMap, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { PatchOp } from "../gen/deltaframe/v1/patch_pb.js";
import { fieldLocalEqual, messageLocalEqual } from "./local-equal.js";
import type { DiffOptions } from "./patch-write.js";
import {
  compareBytes,
  EXACT,
  integerShape,
  isIntegerScalar,
  type MapKey,
  scalarEqual,
  scalarSize,
  sortedFields,
  sortedMapKeys,
  varint32Size,
  varint64Size,
  writeListRecords,
  writeMapRecords,
  writeMapValue,
  writeMessageValue,
  writeScalar,
  zigzag64,
} from "./value-codec.js";

const DEFAULT_DIFF_OPTIONS: Readonly<DiffOptions> = Object.freeze({
  useAdd: true,
  useElement: true,
  useDescend: true,
  useMapDescend: true,
  preferAdd: true,
});

/** A message's own properties, read through field descriptors. */
type Local = Record<string, unknown>;

/** One complete operation chain, as bytes. */
type Ops = Uint8Array[];

interface WriteContext {
  readonly w: BinaryWriter;
  readonly options: Readonly<DiffOptions>;
}

const EMPTY = new Uint8Array(0);

// One writer for every diff: diff is synchronous and calls no user code, and
// `finish()` leaves the writer empty, so reuse saves a buffer per call.
const sharedWriter = new BinaryWriter();

/**
 * Returns the patch that turns `base` into `target`, like {@link diff}, with
 * the same bytes; slower. Kept as the reference that the differential tests
 * compare {@link diff} against. Options default as in {@link diff}.
 */
export function diffReference<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  target: MessageShape<Desc>,
  options?: Partial<DiffOptions>,
): Uint8Array {
  const ctx: WriteContext = {
    w: sharedWriter,
    options: options === undefined ? DEFAULT_DIFF_OPTIONS : { ...DEFAULT_DIFF_OPTIONS, ...options },
  };
  const ops = diffMessage(reflect(schema, base, false), reflect(schema, target, false), ctx);
  return concat(ops);
}

function concat(ops: Ops): Uint8Array {
  if (ops.length === 0) return EMPTY;
  if (ops.length === 1) return ops[0]!;
  let size = 0;
  for (const op of ops) size += op.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const op of ops) {
    out.set(op, pos);
    pos += op.length;
  }
  return out;
}

function opsSize(ops: Ops): number {
  let size = 0;
  for (const op of ops) size += op.length;
  return size;
}

function header(field: DescField, kind: PatchOp): number {
  return field.number * 8 + kind;
}

/** Prepends `prefix` to every op of `ops`, appending the results to `out`. */
function pushPrefixed(out: Ops, prefix: Uint8Array, ops: Ops): void {
  for (const op of ops) {
    const chained = new Uint8Array(prefix.length + op.length);
    chained.set(prefix, 0);
    chained.set(op, prefix.length);
    out.push(chained);
  }
}

function diffMessage(a: ReflectMessage, b: ReflectMessage, ctx: WriteContext): Ops {
  const ops: Ops = [];
  const la = a.message as Local;
  const lb = b.message as Local;
  for (const field of sortedFields(a.desc)) {
    if (fieldLocalEqual(field, la, lb)) continue;
    switch (field.fieldKind) {
      case "scalar":
      case "enum":
        diffSingular(a, b, field, ops, ctx);
        break;
      case "message":
        diffMessageField(a, b, field, ops, ctx);
        break;
      case "list":
        diffList(a, b, field, ops, ctx);
        break;
      case "map":
        diffMap(a, b, field, ops, ctx);
        break;
    }
  }
  return ops;
}

/**
 * Handles presence common to singular fields. Returns true when the caller
 * has nothing more to do.
 */
function diffPresence(a: ReflectMessage, b: ReflectMessage, field: DescField, ops: Ops, ctx: WriteContext) {
  const aSet = a.isSet(field);
  const bSet = b.isSet(field);
  if (!bSet) {
    // Leaving a oneof for another member is done by the other member's SET.
    if (aSet && (field.oneof === undefined || b.oneofCase(field.oneof) === undefined)) {
      ops.push(ctx.w.uint32(header(field, PatchOp.CLEAR)).finish());
    }
    return { done: true, aSet, bSet };
  }
  return { done: false, aSet, bSet };
}

function diffSingular(
  a: ReflectMessage,
  b: ReflectMessage,
  field: DescField & { fieldKind: "scalar" | "enum" },
  ops: Ops,
  ctx: WriteContext,
): void {
  const { done, aSet } = diffPresence(a, b, field, ops, ctx);
  if (done) return;
  const w = ctx.w;
  const bv = b.get(field);
  // Implicit presence: an unset base holds the zero value, so ADD still applies.
  const baseKnown = aSet || (field.oneof === undefined && field.presence === 2);
  if (field.fieldKind === "enum") {
    if (aSet && a.get(field) === bv) return;
    ops.push(
      w
        .uint32(header(field, PatchOp.SET))
        .int32(bv as number)
        .finish(),
    );
    return;
  }
  const av = a.get(field);
  if (aSet && scalarEqual(field.scalar, av, bv)) return;
  if (ctx.options.useAdd && baseKnown && isIntegerScalar(field.scalar)) {
    const { bits } = integerShape(field.scalar);
    const delta = BigInt.asIntN(bits, BigInt(bv as number | bigint) - BigInt(av as number | bigint));
    const addSize = varint64Size(zigzag64(delta));
    const setSize = scalarSize(field.scalar, bv);
    if (addSize < setSize || (addSize === setSize && ctx.options.preferAdd)) {
      ops.push(w.uint32(header(field, PatchOp.ADD)).sint64(delta).finish());
      return;
    }
  }
  w.uint32(header(field, PatchOp.SET));
  writeScalar(w, field.scalar, bv, EXACT);
  ops.push(w.finish());
}

/** A lower bound of the encoded size of a message: every set field takes at least two bytes. */
function messageSizeLowerBound(rm: ReflectMessage): number {
  let size = 0;
  for (const field of rm.desc.fields) if (rm.isSet(field)) size += 2;
  return size;
}

function setMessageOp(field: DescField, rm: ReflectMessage, ctx: WriteContext): Uint8Array {
  const w = ctx.w.uint32(header(field, PatchOp.SET));
  writeMessageValue(w, rm, EXACT);
  return w.finish();
}

function diffMessageField(
  a: ReflectMessage,
  b: ReflectMessage,
  field: DescField & { fieldKind: "message" },
  ops: Ops,
  ctx: WriteContext,
): void {
  const { done, aSet } = diffPresence(a, b, field, ops, ctx);
  if (done) return;
  const bm = b.get(field);
  if (!aSet || !ctx.options.useDescend) {
    if (aSet && diffMessage(a.get(field), bm, ctx).length === 0) return;
    ops.push(setMessageOp(field, bm, ctx));
    return;
  }
  const childOps = diffMessage(a.get(field), bm, ctx);
  if (childOps.length === 0) return;
  const prefix = ctx.w.uint32(header(field, PatchOp.DESCEND)).finish();
  const chainSize = opsSize(childOps) + prefix.length * childOps.length;
  const setLowerBound = varint32Size(header(field, PatchOp.SET)) + 1 + messageSizeLowerBound(bm);
  if (chainSize < setLowerBound) {
    pushPrefixed(ops, prefix, childOps);
    return;
  }
  const set = setMessageOp(field, bm, ctx);
  if (chainSize < set.length) pushPrefixed(ops, prefix, childOps);
  else ops.push(set);
}

function setListOp(
  field: DescField & { fieldKind: "list" },
  list: ReflectList,
  ctx: WriteContext,
): Uint8Array {
  const w = ctx.w.uint32(header(field, PatchOp.SET)).fork();
  writeListRecords(w, field, list, EXACT);
  return w.join().finish();
}

function listsEqual(
  field: DescField & { fieldKind: "list" },
  x: ReflectList,
  y: ReflectList,
  ctx: WriteContext,
) {
  if (x.size !== y.size) return false;
  for (let i = 0; i < x.size; i++) {
    const u = x.get(i);
    const v = y.get(i);
    switch (field.listKind) {
      case "scalar":
        if (!scalarEqual(field.scalar, u, v)) return false;
        break;
      case "enum":
        if (u !== v) return false;
        break;
      case "message":
        if (diffMessage(u as ReflectMessage, v as ReflectMessage, ctx).length > 0) return false;
        break;
    }
  }
  return true;
}

function diffList(
  a: ReflectMessage,
  b: ReflectMessage,
  field: DescField & { fieldKind: "list" },
  ops: Ops,
  ctx: WriteContext,
): void {
  const la = a.get(field);
  const lb = b.get(field);
  if (lb.size === 0) {
    if (la.size > 0) ops.push(ctx.w.uint32(header(field, PatchOp.CLEAR)).finish());
    return;
  }
  if (field.listKind !== "message" || la.size !== lb.size || !ctx.options.useElement) {
    if (!listsEqual(field, la, lb, ctx)) ops.push(setListOp(field, lb, ctx));
    return;
  }
  const chains: Ops = [];
  const elementHeader = header(field, PatchOp.ELEMENT);
  const localA = (a.message as Local)[field.localName] as Local[];
  const localB = (b.message as Local)[field.localName] as Local[];
  for (let i = 0; i < lb.size; i++) {
    if (messageLocalEqual(field.message, localA[i]!, localB[i]!)) continue;
    const childOps = diffMessage(la.get(i) as ReflectMessage, lb.get(i) as ReflectMessage, ctx);
    if (childOps.length === 0) continue;
    const prefix = ctx.w.uint32(elementHeader).uint32(i).finish();
    pushPrefixed(chains, prefix, childOps);
  }
  if (chains.length === 0) return;
  const chainSize = opsSize(chains);
  const setLowerBound = varint32Size(header(field, PatchOp.SET)) + 1 + 2 * lb.size;
  if (chainSize < setLowerBound) {
    ops.push(...chains);
    return;
  }
  const set = setListOp(field, lb, ctx);
  if (chainSize < set.length) ops.push(...chains);
  else ops.push(set);
}

function setMapOp(field: DescField & { fieldKind: "map" }, map: ReflectMap, ctx: WriteContext): Uint8Array {
  const w = ctx.w.uint32(header(field, PatchOp.SET)).fork();
  writeMapRecords(w, field, map, EXACT);
  return w.join().finish();
}

function mapValuesEqual(field: DescField & { fieldKind: "map" }, u: unknown, v: unknown): boolean {
  return field.mapKind === "scalar" ? scalarEqual(field.scalar, u, v) : u === v;
}

function diffMap(
  a: ReflectMessage,
  b: ReflectMessage,
  field: DescField & { fieldKind: "map" },
  ops: Ops,
  ctx: WriteContext,
): void {
  const ma = a.get(field);
  const mb = b.get(field);
  if (mb.size === 0) {
    if (ma.size > 0) ops.push(ctx.w.uint32(header(field, PatchOp.CLEAR)).finish());
    return;
  }
  const keysA = ma.size === 0 ? [] : sortedMapKeys(field, ma);
  const keysB = sortedMapKeys(field, mb);
  const entryOps: Ops = [];
  const w = ctx.w;
  let i = 0;
  let j = 0;
  while (i < keysA.length || j < keysB.length) {
    const ka = keysA[i];
    const kb = keysB[j];
    const order = ka === undefined ? 1 : kb === undefined ? -1 : compareBytes(ka.bytes, kb.bytes);
    if (order < 0) {
      // Only in base: remove.
      entryOps.push(w.uint32(header(field, PatchOp.MAP_REMOVE)).raw(ka!.bytes).finish());
      i++;
      continue;
    }
    const key = kb!;
    j++;
    const vb = mb.get(key.key);
    if (order > 0) {
      entryOps.push(mapPutOp(field, key.bytes, vb, ctx));
      continue;
    }
    i++;
    const va = ma.get(key.key);
    if (field.mapKind !== "message") {
      if (!mapValuesEqual(field, va, vb)) entryOps.push(mapPutOp(field, key.bytes, vb, ctx));
      continue;
    }
    diffMapMessage(field, key, va as ReflectMessage, vb as ReflectMessage, entryOps, ctx);
  }
  if (entryOps.length === 0) return;
  const entrySize = opsSize(entryOps);
  const setLowerBound = varint32Size(header(field, PatchOp.SET)) + 1 + 6 * mb.size;
  if (entrySize < setLowerBound) {
    ops.push(...entryOps);
    return;
  }
  const set = setMapOp(field, mb, ctx);
  if (entrySize < set.length) ops.push(...entryOps);
  else ops.push(set);
}

function mapPutOp(
  field: DescField & { fieldKind: "map" },
  key: Uint8Array,
  value: unknown,
  ctx: WriteContext,
) {
  const w = ctx.w.uint32(header(field, PatchOp.MAP_PUT)).raw(key);
  writeMapValue(w, field, value, EXACT);
  return w.finish();
}

function diffMapMessage(
  field: DescField & { fieldKind: "map" },
  key: { key: MapKey; bytes: Uint8Array },
  va: ReflectMessage,
  vb: ReflectMessage,
  out: Ops,
  ctx: WriteContext,
): void {
  const childOps = diffMessage(va, vb, ctx);
  if (childOps.length === 0) return;
  if (!ctx.options.useMapDescend) {
    out.push(mapPutOp(field, key.bytes, vb, ctx));
    return;
  }
  const prefix = ctx.w.uint32(header(field, PatchOp.MAP_DESCEND)).raw(key.bytes).finish();
  const chainSize = opsSize(childOps) + prefix.length * childOps.length;
  const putLowerBound = varint32Size(header(field, PatchOp.MAP_PUT)) + key.bytes.length + 1;
  const put =
    chainSize < putLowerBound + messageSizeLowerBound(vb) ? undefined : mapPutOp(field, key.bytes, vb, ctx);
  if (put === undefined || chainSize < put.length) pushPrefixed(out, prefix, childOps);
  else out.push(put);
}
