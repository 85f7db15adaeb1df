/**
 * Computing patches: `diff(schema, base, target)` (proto/deltaframe/v1/patch.proto).
 *
 * The patch walks the schema in field-number order, and map entries in the
 * order of their encoded keys, so equal inputs always give equal bytes. For
 * each field it picks the shortest encoding among the kinds that apply:
 * CLEAR for a value that became unset or empty; ADD instead of SET for an
 * integer when the zigzag delta is shorter; DESCEND / ELEMENT / MAP_DESCEND
 * chains instead of SET / MAP_PUT of a whole message when the chains are
 * shorter. Ties go to SET, except that ADD wins a tie with SET (`preferAdd`). Exact SET sizes are only computed when a cheap
 * lower bound does not already settle the choice, so a small change in a
 * large message costs little more than walking it.
 *
 * @module
 */
import { type DescField, type DescMessage, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import { type ReflectList, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { PatchOp } from "../gen/deltaframe/v1/patch_pb.js";
import { fieldLocalEqual } from "./local-equal.js";
import {
  concat,
  type DiffOptions,
  diffList,
  diffMap,
  diffMessageField,
  diffSingular,
  header,
  type Local,
  type Ops,
  opsSize,
  setListOp,
  type WriteContext,
  writeContext,
} from "./patch-write-general.js";
import {
  EXACT,
  scalarSize,
  sortedFields,
  varint32Size,
  varint64Size,
  writeScalar,
  zigzag64,
} from "./value-codec.js";

export type { DiffOptions } from "./patch-write-general.js";

/**
 * Returns the patch that turns `base` into `target` (both messages of
 * `schema`): the operation bytes of proto/deltaframe/v1/patch.proto, as
 * carried in an update body of kind 1. Returns an empty array when the two
 * are equal. Deterministic: equal inputs (whatever their map insertion order)
 * give equal bytes. Unknown fields are ignored. Neither message is changed.
 *
 * Guarantee: `apply(schema, base, diff(schema, base, target))` equals
 * `target`. Use {@link encodeChange} to fall back to the full value when the
 * patch is not smaller.
 */
export function diff<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  target: MessageShape<Desc>,
  options?: Partial<DiffOptions>,
): Uint8Array {
  const ctx = writeContext(options, diffMessage);
  const ops: Ops = [];
  diffLocal(
    planOf(schema),
    base as unknown as Local,
    target as unknown as Local,
    ctx,
    ops,
    undefined,
    undefined,
  );
  return concat(ops);
}

/**
 * How {@link diffLocal} treats one field, compiled once per schema. The
 * performance bet: in a keyed feed most fields of a changed message are
 * unchanged (19 of 20 selections of a market on a tick), so the common field
 * kinds are compared on the messages' own properties, and integers that
 * changed are diffed without reflection and, within 32 bits, without bigint
 * arithmetic. Every other field, and any value of an unexpected type, takes
 * the general path: `fieldLocalEqual`, then reflection.
 */
const Mode = {
  /** Anything else: the general path. */
  Other: 0,
  /** Implicit presence, outside oneofs, 32-bit integer (held as a number). */
  Int32: 1,
  /** Implicit presence, outside oneofs, 64-bit integer held as a bigint. */
  Int64: 2,
  /** Implicit presence, outside oneofs, a value compared exactly by `===` (string, bool, enum). */
  Same: 3,
  /** Repeated message held as message objects (not Struct). */
  MessageList: 4,
} as const;

type Mode = (typeof Mode)[keyof typeof Mode];

interface FieldStep {
  readonly field: DescField;
  readonly mode: Mode;
  /** The field's property name. */
  readonly name: string;
  /** Whether a 32-bit integer is signed. */
  readonly signed: boolean;
}

interface MessagePlan {
  readonly desc: DescMessage;
  /** Fields in field-number order. */
  readonly steps: readonly FieldStep[];
  /**
   * For a message whose every field is compared by `===` (modes Int32, Int64
   * and Same): whether two messages are equal, so {@link diffLocal} has
   * nothing to write. Undefined for other messages.
   */
  readonly equal: ((a: Local, b: Local) => boolean) | undefined;
}

const IMPLICIT = 2;

const plans = new WeakMap<DescMessage, MessagePlan>();

function planOf(desc: DescMessage): MessagePlan {
  let plan = plans.get(desc);
  if (plan === undefined) {
    const steps = sortedFields(desc).map(fieldStep);
    plan = { desc, steps, equal: equalityOf(steps) };
    plans.set(desc, plan);
  }
  return plan;
}

/**
 * Returns a function that tells whether two messages are equal field by
 * field with `===`, when every step allows it (see MessagePlan.equal).
 *
 * The performance bet: most elements of a changed list are unchanged (19 of
 * 20 selections of a market on a tick), and comparing them through a loop
 * over property names makes every property load megamorphic. A function
 * generated per schema, with the names as constants, compares an unchanged
 * element in a few nanoseconds. The names come from the schema, are written
 * as JSON string literals, and nothing else enters the source. Where code
 * generation is refused (a Content-Security-Policy without 'unsafe-eval'),
 * the same comparison runs as a loop.
 */
function equalityOf(steps: readonly FieldStep[]): MessagePlan["equal"] {
  if (
    steps.length === 0 ||
    steps.some((s) => s.mode !== Mode.Int32 && s.mode !== Mode.Int64 && s.mode !== Mode.Same)
  ) {
    return undefined;
  }
  const names = steps.map((s) => s.name);
  try {
    const body = `return ${names.map((n) => `a[${JSON.stringify(n)}] === b[${JSON.stringify(n)}]`).join(" && ")};`;
    return new Function("a", "b", body) as (a: Local, b: Local) => boolean;
  } catch {
    return (a, b) => {
      for (const n of names) if (a[n] !== b[n]) return false;
      return true;
    };
  }
}

function fieldStep(field: DescField): FieldStep {
  const step = (mode: Mode, signed = false): FieldStep => ({ field, mode, name: field.localName, signed });
  switch (field.fieldKind) {
    case "scalar":
      if (field.oneof !== undefined || field.presence !== IMPLICIT) return step(Mode.Other);
      switch (field.scalar) {
        case ScalarType.INT32:
        case ScalarType.SINT32:
        case ScalarType.SFIXED32:
          return step(Mode.Int32, true);
        case ScalarType.UINT32:
        case ScalarType.FIXED32:
          return step(Mode.Int32, false);
        case ScalarType.INT64:
        case ScalarType.UINT64:
        case ScalarType.SINT64:
        case ScalarType.FIXED64:
        case ScalarType.SFIXED64:
          return step(field.longAsString ? Mode.Other : Mode.Int64);
        case ScalarType.STRING:
        case ScalarType.BOOL:
          return step(Mode.Same);
        default:
          return step(Mode.Other);
      }
    case "enum":
      return step(field.oneof === undefined && field.presence === IMPLICIT ? Mode.Same : Mode.Other);
    case "list":
      return step(
        field.listKind === "message" && field.message.typeName !== "google.protobuf.Struct"
          ? Mode.MessageList
          : Mode.Other,
      );
    default:
      return step(Mode.Other);
  }
}

/** Diffs two messages of one schema through reflection objects. */
function diffMessage(a: ReflectMessage, b: ReflectMessage, ctx: WriteContext): Ops {
  const ops: Ops = [];
  diffLocal(planOf(a.desc), a.message as Local, b.message as Local, ctx, ops, a, b);
  return ops;
}

/**
 * Appends to `ops` the operations that turn `la` into `lb` (messages of
 * `plan.desc`), field by field in number order. `ra` and `rb` are their
 * reflection objects when the caller has them; made when first needed.
 */
function diffLocal(
  plan: MessagePlan,
  la: Local,
  lb: Local,
  ctx: WriteContext,
  ops: Ops,
  ra: ReflectMessage | undefined,
  rb: ReflectMessage | undefined,
): void {
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    switch (s.mode) {
      case Mode.Int32: {
        const av = la[s.name];
        const bv = lb[s.name];
        if (av === bv) continue;
        if (int32Valid(av, s.signed) && int32Valid(bv, s.signed)) {
          diffInt32(s.field as DescField & { fieldKind: "scalar" }, av, bv, ops, ctx);
          continue;
        }
        break;
      }
      case Mode.Int64: {
        const av = la[s.name];
        const bv = lb[s.name];
        if (av === bv) continue;
        if (typeof av === "bigint" && typeof bv === "bigint") {
          diffInt64(s.field as DescField & { fieldKind: "scalar" }, av, bv, ops, ctx);
          continue;
        }
        break;
      }
      case Mode.Same:
        if (la[s.name] === lb[s.name]) continue;
        break;
      case Mode.MessageList: {
        const av = la[s.name];
        const bv = lb[s.name];
        if (av === bv) continue;
        if (
          ctx.options.useElement &&
          Array.isArray(av) &&
          Array.isArray(bv) &&
          av.length === bv.length &&
          bv.length > 0
        ) {
          diffElements(s.field as DescField & { fieldKind: "list" }, av, bv, lb, ops, ctx);
          continue;
        }
        break;
      }
    }
    const field = s.field;
    if (fieldLocalEqual(field, la, lb)) continue;
    if (ra === undefined) ra = reflect(plan.desc, la as never, false);
    if (rb === undefined) rb = reflect(plan.desc, lb as never, false);
    switch (field.fieldKind) {
      case "scalar":
      case "enum":
        diffSingular(ra, rb, field, ops, ctx);
        break;
      case "message":
        diffMessageField(ra, rb, field, ops, ctx);
        break;
      case "list":
        diffList(ra, rb, field, ops, ctx);
        break;
      case "map":
        diffMap(ra, rb, field, ops, ctx);
        break;
    }
  }
}

/** Whether an own value is a number that the 32-bit integer type holds exactly. */
function int32Valid(v: unknown, signed: boolean): v is number {
  return typeof v === "number" && (signed ? (v | 0) === v : v >>> 0 === v);
}

const TWO_31 = 0x80000000;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Size of a non-negative safe integer as a varint. */
function varintSizeOfNumber(n: number): number {
  if (n < 0x10000000) return varint32Size(n);
  let size = 4;
  let v = Math.floor(n / 0x10000000);
  while (v > 0) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

/** ADD of a zigzag delta below 2^32 (written as uint32: the same bytes as sint64). */
function addOp(field: DescField, zigzag: number): Uint8Array {
  const h = header(field, PatchOp.ADD);
  const out = new Uint8Array(varint32Size(h) + varint32Size(zigzag));
  putVarint32(out, putVarint32(out, 0, h), zigzag);
  return out;
}

/** Writes `value` (0 … 2^32-1) as a varint at `pos`; returns the position after it. */
function putVarint32(out: Uint8Array, pos: number, value: number): number {
  let v = value;
  while (v > 0x7f) {
    out[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

/** `op` behind an ELEMENT step (`elementHeader`, `index`), written in one allocation. */
function elementChain(elementHeader: number, index: number, op: Uint8Array): Uint8Array {
  const out = new Uint8Array(varint32Size(elementHeader) + varint32Size(index) + op.length);
  out.set(op, putVarint32(out, putVarint32(out, 0, elementHeader), index));
  return out;
}

function setScalarOp(
  field: DescField & { fieldKind: "scalar" },
  value: unknown,
  ctx: WriteContext,
): Uint8Array {
  const w = ctx.w.uint32(header(field, PatchOp.SET));
  writeScalar(w, field.scalar, value, EXACT);
  return w.finish();
}

/**
 * {@link diffSingular} for a changed 32-bit integer with implicit presence
 * outside oneofs (the base is known: unset is zero), in number arithmetic.
 */
function diffInt32(
  field: DescField & { fieldKind: "scalar" },
  av: number,
  bv: number,
  ops: Ops,
  ctx: WriteContext,
): void {
  if (bv === 0) {
    if (av !== 0) ops.push(ctx.w.uint32(header(field, PatchOp.CLEAR)).finish());
    return;
  }
  if (ctx.options.useAdd) {
    // The delta wraps at 32 bits, like BigInt.asIntN(32, bv - av).
    const delta = (bv - av) | 0;
    const zigzag = delta >= 0 ? delta * 2 : -delta * 2 - 1;
    const addSize = varint32Size(zigzag);
    const setSize = scalarSize(field.scalar, bv);
    if (addSize < setSize || (addSize === setSize && ctx.options.preferAdd)) {
      ops.push(addOp(field, zigzag));
      return;
    }
  }
  ops.push(setScalarOp(field, bv, ctx));
}

/** {@link diffSingular} for a changed 64-bit integer with implicit presence outside oneofs. */
function diffInt64(
  field: DescField & { fieldKind: "scalar" },
  av: bigint,
  bv: bigint,
  ops: Ops,
  ctx: WriteContext,
): void {
  if (bv === 0n) {
    if (av !== 0n) ops.push(ctx.w.uint32(header(field, PatchOp.CLEAR)).finish());
    return;
  }
  if (ctx.options.useAdd) {
    const delta = BigInt.asIntN(64, bv - av);
    const small = delta >= -TWO_31 && delta < TWO_31;
    let zigzag = 0;
    let addSize: number;
    if (small) {
      const d = Number(delta);
      zigzag = d >= 0 ? d * 2 : -d * 2 - 1;
      addSize = varint32Size(zigzag);
    } else {
      addSize = varint64Size(zigzag64(delta));
    }
    const unsignedVarint = field.scalar === ScalarType.INT64 || field.scalar === ScalarType.UINT64;
    const setSize =
      unsignedVarint && bv >= 0n && bv <= MAX_SAFE
        ? varintSizeOfNumber(Number(bv))
        : scalarSize(field.scalar, bv);
    if (addSize < setSize || (addSize === setSize && ctx.options.preferAdd)) {
      ops.push(
        small ? addOp(field, zigzag) : ctx.w.uint32(header(field, PatchOp.ADD)).sint64(delta).finish(),
      );
      return;
    }
  }
  ops.push(setScalarOp(field, bv, ctx));
}

/**
 * The ELEMENT chains of two equal-length, non-empty lists of messages (own
 * arrays `la` and `lb`), or SET of the whole list when that is not longer, as
 * {@link diffList} decides.
 */
function diffElements(
  field: DescField & { fieldKind: "list" },
  la: unknown[],
  lb: unknown[],
  target: Local,
  ops: Ops,
  ctx: WriteContext,
): void {
  const plan = planOf(field.message!);
  const elementHeader = header(field, PatchOp.ELEMENT);
  const chains: Ops = [];
  for (let i = 0; i < lb.length; i++) {
    const x = la[i];
    const y = lb[i];
    if (x === y || plan.equal?.(x as Local, y as Local)) continue;
    const start = chains.length;
    diffLocal(plan, x as Local, y as Local, ctx, chains, undefined, undefined);
    if (chains.length === start) continue;
    for (let k = start; k < chains.length; k++) chains[k] = elementChain(elementHeader, i, chains[k]!);
  }
  if (chains.length === 0) return;
  const chainSize = opsSize(chains);
  const setLowerBound = varint32Size(header(field, PatchOp.SET)) + 1 + 2 * lb.length;
  if (chainSize < setLowerBound) {
    for (const op of chains) ops.push(op);
    return;
  }
  const set = setListOp(field, reflect(field.parent, target as never, false).get(field) as ReflectList, ctx);
  if (chainSize < set.length) for (const op of chains) ops.push(op);
  else ops.push(set);
}

/**
 * Handles presence common to singular fields. Returns true when the caller
 * has nothing more to do.
 */
