/**
 * Size checks on the wire, before protobuf decoding allocates anything.
 *
 * protobuf-es has no per-field limits, so `validateFrame` checks sizes after
 * decoding. For large payloads that would first build, say, four million
 * `bigint`s from a 4 MiB packed column; this walk counts list entries and
 * measures strings and bytes on the raw bytes instead, using the schema, and
 * throws the same errors. Malformed input is left to the decoder (the walk
 * just stops), so error codes for malformed bytes do not change.
 *
 * @module
 */
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { DeltaframeError } from "../errors.js";
import type { Limits } from "../limits.js";

/**
 * Payloads at least this large are walked before decoding. Below it the
 * decoded form is small whatever it holds (a list entry takes at least one
 * byte, so at most 64 Ki entries), and the post-decode checks are cheaper
 * than a second pass over the bytes.
 */
export const PRESCAN_MIN_BYTES = 64 * 1024;

/** Thrown internally to stop at malformed input; never escapes. */
const MALFORMED = Symbol("malformed");

interface Cursor {
  readonly bytes: Uint8Array;
  pos: number;
}

function varint(c: Cursor): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = c.bytes[c.pos++];
    if (b === undefined) throw MALFORMED;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return value;
    scale *= 128;
  }
  throw MALFORMED;
}

function fieldName(field: DescField): string {
  return `${field.parent.typeName}.${field.name}`;
}

/** Checks the encoded length of a string (its UTF-8 length) or bytes field. */
function checkLength(
  field: DescField,
  scalar: ScalarType | undefined,
  length: number,
  limits: Readonly<Limits>,
) {
  if (scalar === ScalarType.STRING && length > limits.maxStringBytes) {
    throw new DeltaframeError("DF_ERR_STRING_TOO_LONG", `cannot decode frame: ${fieldName(field)} too long`, {
      field: fieldName(field),
      bytes: length,
      limit: limits.maxStringBytes,
    });
  }
  if (scalar === ScalarType.BYTES && length > limits.maxBytesFieldBytes) {
    throw new DeltaframeError("DF_ERR_BYTES_TOO_LONG", `cannot decode frame: ${fieldName(field)} too long`, {
      field: fieldName(field),
      bytes: length,
      limit: limits.maxBytesFieldBytes,
    });
  }
}

/** Number of packed elements in `length` bytes at the cursor, for a scalar type. */
function packedCount(c: Cursor, scalar: ScalarType, length: number): number {
  switch (scalar) {
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
    case ScalarType.DOUBLE:
      return Math.floor(length / 8);
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return Math.floor(length / 4);
    default: {
      let n = 0;
      for (let i = c.pos; i < c.pos + length; i++) if ((c.bytes[i]! & 0x80) === 0) n++;
      return n;
    }
  }
}

const byNumber = new WeakMap<DescMessage, ReadonlyMap<number, DescField>>();

function fieldsOf(desc: DescMessage): ReadonlyMap<number, DescField> {
  let map = byNumber.get(desc);
  if (map === undefined) {
    map = new Map(desc.fields.map((f) => [f.number, f]));
    byNumber.set(desc, map);
  }
  return map;
}

function walk(desc: DescMessage, c: Cursor, end: number, limits: Readonly<Limits>, depth: number): void {
  // Deeper than allowed: the decoder raises DF_ERR_DEPTH.
  if (depth > limits.maxDepth) throw MALFORMED;
  const fields = fieldsOf(desc);
  const counts = new Map<number, number>();
  while (c.pos < end) {
    const key = varint(c);
    const number = Math.floor(key / 8);
    const wireType = key % 8;
    const field = fields.get(number);
    if (wireType === 0) {
      varint(c);
    } else if (wireType === 1) {
      c.pos += 8;
    } else if (wireType === 5) {
      c.pos += 4;
    } else if (wireType !== 2) {
      throw MALFORMED; // groups and invalid wire types: the decoder decides
    }
    let entries = 1;
    if (wireType === 2) {
      const length = varint(c);
      if (c.pos + length > end) throw MALFORMED;
      if (field !== undefined) {
        if (field.fieldKind === "scalar") checkLength(field, field.scalar, length, limits);
        else if (field.fieldKind === "message")
          walk(field.message, { bytes: c.bytes, pos: c.pos }, c.pos + length, limits, depth + 1);
        else if (field.fieldKind === "list") {
          if (field.listKind === "message")
            walk(field.message, { bytes: c.bytes, pos: c.pos }, c.pos + length, limits, depth + 1);
          else if (
            field.listKind === "scalar" &&
            (field.scalar === ScalarType.STRING || field.scalar === ScalarType.BYTES)
          ) {
            checkLength(field, field.scalar, length, limits);
          } else {
            entries = packedCount(c, field.listKind === "enum" ? ScalarType.INT32 : field.scalar, length);
          }
        }
      }
      c.pos += length;
    }
    if (c.pos > end) throw MALFORMED;
    if (field?.fieldKind === "list") {
      const n = (counts.get(number) ?? 0) + entries;
      if (n > limits.maxListLength) {
        throw new DeltaframeError(
          "DF_ERR_LIST_TOO_LONG",
          `cannot decode frame: ${fieldName(field)} too long`,
          {
            field: fieldName(field),
            length: n,
            limit: limits.maxListLength,
          },
        );
      }
      counts.set(number, n);
    }
  }
}

/**
 * Checks string, bytes and list sizes of the message `desc` encoded in
 * `bytes[start, end)` against `limits`, without decoding it. Throws
 * `DF_ERR_STRING_TOO_LONG` (string fields are measured in encoded bytes,
 * which is their UTF-8 length), `DF_ERR_BYTES_TOO_LONG`,
 * `DF_ERR_LIST_TOO_LONG`; returns quietly on malformed input.
 */
export function prescan(
  desc: DescMessage,
  bytes: Uint8Array,
  start: number,
  end: number,
  limits: Readonly<Limits>,
): void {
  try {
    walk(desc, { bytes, pos: start }, end, limits, 1);
  } catch (error) {
    if (error !== MALFORMED) throw error;
  }
}
