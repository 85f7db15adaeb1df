/**
 * Parsing and schema validation of patch bytes (proto/deltaframe/v1/patch.proto).
 *
 * @module
 */
import { create, type DescField, type DescMessage, fromBinary, mergeFromBinary } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { DeltaframeError, isDeltaframeError } from "../errors.js";
import { PatchOp } from "../gen/deltaframe/v1/patch_pb.js";
import { type Limits, resolveLimits } from "../limits.js";
import type { PatchAction, PatchOperation, PatchStep } from "./patch-op.js";
import { checkRecords, fieldByNumber, isIntegerScalar, type MapKey, readScalar } from "./value-codec.js";

interface ReadContext {
  readonly bytes: Uint8Array;
  readonly reader: BinaryReader;
  readonly limits: Readonly<Limits>;
  opCount: number;
}

/**
 * Parses patch bytes and validates every operation against `schema`, without
 * looking at any message: field numbers exist, each kind suits its field,
 * values decode (UTF-8 checked, unknown fields in message values dropped).
 * Returns the operations in wire order; an empty patch gives `[]`. Checks that
 * depend on a base message (list indexes, map keys) happen in {@link apply}.
 *
 * `limits` defaults to DEFAULT_LIMITS; `maxPatchOps` bounds the number of
 * operation headers (navigation steps count), `maxDepth` the nesting of
 * navigation steps plus the message values they lead to.
 *
 * Throws DF_ERR_PATCH_MALFORMED (truncated, garbage, bad varint, wrong-length
 * or invalid UTF-8 value, navigation step with nothing after it),
 * DF_ERR_PATCH_FIELD_UNKNOWN, DF_ERR_PATCH_OP_INVALID,
 * DF_ERR_PATCH_TOO_MANY_OPS, DF_ERR_DEPTH, DF_ERR_LIMIT_INVALID (bad limits).
 */
export function decodePatch(
  schema: DescMessage,
  bytes: Uint8Array,
  limits?: Partial<Limits>,
): PatchOperation[] {
  return decodePatchResolved(schema, bytes, resolveLimits(limits));
}

/** {@link decodePatch} with limits already resolved (by `resolveLimits`), so nothing is resolved per call. */
export function decodePatchResolved(
  schema: DescMessage,
  bytes: Uint8Array,
  limits: Readonly<Limits>,
): PatchOperation[] {
  const ctx: ReadContext = {
    bytes,
    reader: new BinaryReader(bytes),
    limits,
    opCount: 0,
  };
  const ops: PatchOperation[] = [];
  while (ctx.reader.pos < bytes.length) {
    ops.push(readOperation(schema, ctx));
  }
  return ops;
}

/** Reads one operation chain: navigation steps, then one action. */
function readOperation(root: DescMessage, ctx: ReadContext): PatchOperation {
  const path: PatchStep[] = [];
  let desc = root;
  for (;;) {
    const start = ctx.reader.pos;
    const header = readHeader(ctx);
    const kind = header & 7;
    const number = header >>> 3;
    const field = fieldByNumber(desc, number);
    if (field === undefined) {
      throw new DeltaframeError(
        "DF_ERR_PATCH_FIELD_UNKNOWN",
        `cannot decode patch: ${desc.typeName} has no field ${number}`,
        { fieldNumber: number, typeName: desc.typeName, offset: start },
      );
    }
    const step = readStep(field, kind, ctx);
    if (step === undefined) {
      return { path, action: readAction(field, kind, ctx, path.length) };
    }
    path.push(step);
    if (path.length > ctx.limits.maxDepth) {
      throw new DeltaframeError(
        "DF_ERR_DEPTH",
        `cannot decode patch: nesting deeper than ${ctx.limits.maxDepth}`,
        {
          limit: ctx.limits.maxDepth,
          offset: start,
        },
      );
    }
    if (ctx.reader.pos >= ctx.bytes.length) {
      throw malformed("navigation step at the end of the patch", start);
    }
    desc = (field as { message: DescMessage }).message;
  }
}

/** Reads a header varint (at most 32 bits) and counts it against maxPatchOps. */
function readHeader(ctx: ReadContext): number {
  if (++ctx.opCount > ctx.limits.maxPatchOps) {
    throw new DeltaframeError(
      "DF_ERR_PATCH_TOO_MANY_OPS",
      `cannot decode patch: more than ${ctx.limits.maxPatchOps} operations`,
      { limit: ctx.limits.maxPatchOps },
    );
  }
  return readVarint32(ctx);
}

function readVarint32(ctx: ReadContext): number {
  const bytes = ctx.bytes;
  let pos = ctx.reader.pos;
  const start = pos;
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.length) throw malformed("truncated varint", start);
    const b = bytes[pos++]!;
    if (shift === 28 && b > 0x0f) throw malformed("varint exceeds 32 bits", start);
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      ctx.reader.pos = pos;
      return value;
    }
  }
  throw malformed("varint exceeds 32 bits", start);
}

function malformed(what: string, offset: number): DeltaframeError {
  return new DeltaframeError("DF_ERR_PATCH_MALFORMED", `cannot decode patch: ${what}`, { offset });
}

function opInvalid(field: DescField, kind: number): DeltaframeError {
  return new DeltaframeError(
    "DF_ERR_PATCH_OP_INVALID",
    `cannot decode patch: operation ${PatchOp[kind] ?? kind} does not apply to field ${field.number} (${field.fieldKind})`,
    { fieldNumber: field.number, op: kind },
  );
}

/** Runs a value read, turning reader failures into DF_ERR_PATCH_MALFORMED. */
function guarded<T>(ctx: ReadContext, read: () => T): T {
  const start = ctx.reader.pos;
  try {
    return read();
  } catch (error) {
    if (isDeltaframeError(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    // protobuf-es reports its recursion limit as a plain Error.
    if (/recursion/i.test(message)) {
      throw new DeltaframeError("DF_ERR_DEPTH", "cannot decode patch: value nested too deeply", {
        offset: start,
      });
    }
    throw new DeltaframeError(
      "DF_ERR_PATCH_MALFORMED",
      `cannot decode patch: ${message}`,
      { offset: start },
      {
        cause: error,
      },
    );
  }
}

/** Returns the navigation step for a navigation kind, or undefined for an action kind. */
function readStep(field: DescField, kind: number, ctx: ReadContext): PatchStep | undefined {
  switch (kind) {
    case PatchOp.DESCEND:
      if (field.fieldKind !== "message") throw opInvalid(field, kind);
      return { kind: "descend", field };
    case PatchOp.ELEMENT: {
      if (field.fieldKind !== "list" || field.listKind !== "message") throw opInvalid(field, kind);
      const index = readVarint32(ctx);
      return { kind: "element", field, index };
    }
    case PatchOp.MAP_DESCEND: {
      if (field.fieldKind !== "map" || field.mapKind !== "message") throw opInvalid(field, kind);
      const key = guarded(ctx, () => readScalar(ctx.reader, field.mapKey) as MapKey);
      return { kind: "mapDescend", field, key };
    }
    default:
      return undefined;
  }
}

function readAction(field: DescField, kind: number, ctx: ReadContext, depth: number): PatchAction {
  switch (kind) {
    case PatchOp.SET:
      return { kind: "set", field, value: guarded(ctx, () => readFieldValue(field, ctx, depth)) };
    case PatchOp.CLEAR:
      return { kind: "clear", field };
    case PatchOp.ADD:
      if (field.fieldKind !== "scalar" || !isIntegerScalar(field.scalar)) throw opInvalid(field, kind);
      return { kind: "add", field, delta: guarded(ctx, () => BigInt(ctx.reader.sint64())) };
    case PatchOp.MAP_PUT: {
      if (field.fieldKind !== "map") throw opInvalid(field, kind);
      return guarded(ctx, () => {
        const key = readScalar(ctx.reader, field.mapKey) as MapKey;
        const value = readMapValue(field, ctx, depth);
        return { kind: "mapPut", field, key, value } as const;
      });
    }
    case PatchOp.MAP_REMOVE: {
      if (field.fieldKind !== "map") throw opInvalid(field, kind);
      const key = guarded(ctx, () => readScalar(ctx.reader, field.mapKey) as MapKey);
      return { kind: "mapRemove", field, key };
    }
    default:
      throw opInvalid(field, kind);
  }
}

/** Depth budget left for a message value found under `depth` navigation steps. */
function recursionLimit(ctx: ReadContext, depth: number): number {
  const left = ctx.limits.maxDepth - depth;
  if (left < 1) {
    throw new DeltaframeError(
      "DF_ERR_DEPTH",
      `cannot decode patch: nesting deeper than ${ctx.limits.maxDepth}`,
      {
        limit: ctx.limits.maxDepth,
      },
    );
  }
  return left;
}

function readMessage(desc: DescMessage, ctx: ReadContext, depth: number) {
  const bytes = ctx.reader.bytes();
  const message = fromBinary(desc, bytes, {
    readUnknownFields: false,
    recursionLimit: recursionLimit(ctx, depth),
  });
  return reflect(desc, message);
}

function readFieldValue(field: DescField, ctx: ReadContext, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return readScalar(ctx.reader, field.scalar);
    case "enum":
      return ctx.reader.int32();
    case "message":
      return readMessage(field.message, ctx, depth);
    case "list":
    case "map": {
      const records = ctx.reader.bytes();
      checkRecords(records, field);
      const holder = create(field.parent);
      // The holder message takes one level of protobuf-es's count; it is not part of the value.
      mergeFromBinary(field.parent, holder, records, {
        readUnknownFields: false,
        recursionLimit: recursionLimit(ctx, depth) + 1,
      });
      return reflect(field.parent, holder).get(field);
    }
  }
}

function readMapValue(field: DescField & { fieldKind: "map" }, ctx: ReadContext, depth: number): unknown {
  switch (field.mapKind) {
    case "scalar":
      return readScalar(ctx.reader, field.scalar);
    case "enum":
      return ctx.reader.int32();
    case "message":
      return readMessage(field.message, ctx, depth);
  }
}
