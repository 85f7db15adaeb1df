/**
 * The general path of patch computation, shared by {@link diff} and its
 * reference `diffReference`: field-by-field diffs through protobuf-es
 * reflection for singular fields, nested messages, lists and maps, and the
 * small helpers that assemble operation chains. Nested messages recurse
 * through `ctx.message`, so each caller keeps its own way of walking a
 * message (compiled per-schema plans in `diff`, plain reflection in the
 * reference) while the field rules exist once.
 *
 * @module
 */
import type { DescField } from "@bufbuild/protobuf";
import type { ReflectList, ReflectMap, ReflectMessage } from "@bufbuild/protobuf/reflect";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { PatchOp } from "../gen/deltaframe/v1/patch_pb.js";
import { messageLocalEqual } from "./local-equal.js";
import {
  compareBytes,
  EXACT,
  integerShape,
  isIntegerScalar,
  type MapKey,
  scalarEqual,
  scalarSize,
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

/** Choices of `diff`; every option defaults to `true`. */
export interface DiffOptions {
  /** Emit PATCH_OP_ADD for integers when shorter than SET. */
  useAdd: boolean;
  /**
   * Also emit ADD when it is exactly as long as SET. Same patch size, but
   * patches made only of ADD, ELEMENT, DESCEND and CLEAR can be sent shaped
   * (docs/protocol.md §6.3): on the odds workload this takes the wire bytes
   * from 11.3 to 10.3 per tick (test/bandwidth.test.ts). Default `true`.
   */
  preferAdd: boolean;
  /** Emit PATCH_OP_ELEMENT chains for equal-length repeated message fields when shorter than SET. */
  useElement: boolean;
  /** Emit PATCH_OP_DESCEND chains for nested messages when shorter than SET. */
  useDescend: boolean;
  /** Emit PATCH_OP_MAP_DESCEND chains for message map values when shorter than MAP_PUT. */
  useMapDescend: boolean;
}

/** The defaults of {@link DiffOptions}. */
export const DEFAULT_DIFF_OPTIONS: Readonly<DiffOptions> = Object.freeze({
  useAdd: true,
  useElement: true,
  useDescend: true,
  useMapDescend: true,
  preferAdd: true,
});

/** A message's own properties, read through field descriptors. */
export type Local = Record<string, unknown>;

/** One complete operation chain, as bytes. */
export type Ops = Uint8Array[];

/** What one diff carries down the recursion. */
export interface WriteContext {
  readonly w: BinaryWriter;
  readonly options: Readonly<DiffOptions>;
  /** Diffs two nested messages of one schema (the caller's walk). */
  readonly message: (a: ReflectMessage, b: ReflectMessage, ctx: WriteContext) => Ops;
}

const EMPTY = new Uint8Array(0);

// One writer for every diff: diff is synchronous and calls no user code, and
// `finish()` leaves the writer empty, so reuse saves a buffer per call.
const sharedWriter = new BinaryWriter();

/** Returns the context of one diff: the shared writer, the options over their defaults, and the message walk. */
export function writeContext(
  options: Partial<DiffOptions> | undefined,
  message: WriteContext["message"],
): WriteContext {
  return {
    w: sharedWriter,
    options: options === undefined ? DEFAULT_DIFF_OPTIONS : { ...DEFAULT_DIFF_OPTIONS, ...options },
    message,
  };
}

export function concat(ops: Ops): Uint8Array {
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

export function opsSize(ops: Ops): number {
  let size = 0;
  for (const op of ops) size += op.length;
  return size;
}

export function header(field: DescField, kind: PatchOp): number {
  return field.number * 8 + kind;
}

/** Prepends `prefix` to every op of `ops`, appending the results to `out`. */
export function pushPrefixed(out: Ops, prefix: Uint8Array, ops: Ops): void {
  for (const op of ops) {
    const chained = new Uint8Array(prefix.length + op.length);
    chained.set(prefix, 0);
    chained.set(op, prefix.length);
    out.push(chained);
  }
}

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

export function diffSingular(
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

export function diffMessageField(
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
    if (aSet && ctx.message(a.get(field), bm, ctx).length === 0) return;
    ops.push(setMessageOp(field, bm, ctx));
    return;
  }
  const childOps = ctx.message(a.get(field), bm, ctx);
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

export function setListOp(
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
        if (ctx.message(u as ReflectMessage, v as ReflectMessage, ctx).length > 0) return false;
        break;
    }
  }
  return true;
}

export function diffList(
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
    const childOps = ctx.message(la.get(i) as ReflectMessage, lb.get(i) as ReflectMessage, ctx);
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

export function diffMap(
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
  const childOps = ctx.message(va, vb, ctx);
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
