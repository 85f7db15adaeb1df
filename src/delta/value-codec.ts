/**
 * Encoding and decoding of single field values without their tag, as the
 * patch format carries them (proto/deltaframe/v1/patch.proto), and a
 * deterministic message encoder: fields in number order, map entries sorted by
 * their encoded key, unknown fields dropped. The same encoder, with floats
 * canonicalised, feeds the canonical hash.
 *
 * Internal to the delta layer.
 *
 * @module
 */
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { ReflectList, ReflectMap, ReflectMessage } from "@bufbuild/protobuf/reflect";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DeltaframeError } from "../errors.js";

/** A map key as reflection hands it out: string, number, bigint or boolean. */
export type MapKey = string | number | bigint | boolean;

/** Options of the deterministic encoder. */
export interface EncodeMode {
  /** Write -0 as +0 and every NaN as the quiet NaN, for hashing. */
  readonly canonicalFloats: boolean;
}

/** Encoder mode for patch values: floats kept bit for bit. */
export const EXACT: EncodeMode = { canonicalFloats: false };
/** Encoder mode for hashing: -0 and NaN canonicalised. */
export const CANONICAL: EncodeMode = { canonicalFloats: true };

const fieldsByNumber = new WeakMap<DescMessage, Map<number, DescField>>();

/** Returns the field with the given number, or undefined (cached per schema). */
export function fieldByNumber(desc: DescMessage, number: number): DescField | undefined {
  let byNumber = fieldsByNumber.get(desc);
  if (byNumber === undefined) {
    byNumber = new Map(desc.fields.map((f) => [f.number, f]));
    fieldsByNumber.set(desc, byNumber);
  }
  return byNumber.get(number);
}

const sortedFieldsCache = new WeakMap<DescMessage, readonly DescField[]>();

/** Returns the message's fields in field-number order (cached per schema). */
export function sortedFields(desc: DescMessage): readonly DescField[] {
  let sorted = sortedFieldsCache.get(desc);
  if (sorted === undefined) {
    sorted = [...desc.fields].sort((a, b) => a.number - b.number);
    sortedFieldsCache.set(desc, sorted);
  }
  return sorted;
}

/** The wire type a scalar is encoded with on its own. */
export function scalarWireType(type: ScalarType): WireType {
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

/** Whether a scalar type is an integer type that PATCH_OP_ADD applies to. */
export function isIntegerScalar(type: ScalarType): boolean {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.INT64:
    case ScalarType.UINT32:
    case ScalarType.UINT64:
    case ScalarType.SINT32:
    case ScalarType.SINT64:
    case ScalarType.FIXED32:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED32:
    case ScalarType.SFIXED64:
      return true;
    default:
      return false;
  }
}

/** Bit width (32 or 64) and signedness of an integer scalar type. */
export function integerShape(type: ScalarType): { bits: 32 | 64; signed: boolean } {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { bits: 32, signed: true };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { bits: 32, signed: false };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { bits: 64, signed: false };
    default:
      return { bits: 64, signed: true };
  }
}

/** Number of bytes of `value` as an unsigned varint (value in 0 … 2^32-1). */
export function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Number of bytes of an unsigned 64-bit varint. */
export function varint64Size(value: bigint): number {
  let size = 1;
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

/** Zigzag-encodes a signed 64-bit delta. */
export function zigzag64(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

/** Encoded size, without tag, of a scalar value in its own encoding. */
export function scalarSize(type: ScalarType, value: unknown): number {
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 8;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 4;
    case ScalarType.BOOL:
      return 1;
    case ScalarType.INT32: {
      const v = value as number;
      return v < 0 ? 10 : varint32Size(v);
    }
    case ScalarType.UINT32:
      return varint32Size(value as number);
    case ScalarType.SINT32: {
      const v = value as number;
      return varint32Size(((v << 1) ^ (v >> 31)) >>> 0);
    }
    case ScalarType.INT64:
    case ScalarType.UINT64:
      return varint64Size(BigInt(value as bigint));
    case ScalarType.SINT64:
      return varint64Size(zigzag64(BigInt(value as bigint)));
    default:
      // STRING and BYTES are measured by encoding them.
      return -1;
  }
}

/** Writes a scalar value without tag. */
export function writeScalar(w: BinaryWriter, type: ScalarType, value: unknown, mode: EncodeMode): void {
  switch (type) {
    case ScalarType.DOUBLE: {
      const v = value as number;
      if (mode.canonicalFloats && Number.isNaN(v)) w.fixed64(0x7ff8000000000000n);
      else w.double(mode.canonicalFloats && v === 0 ? 0 : v);
      return;
    }
    case ScalarType.FLOAT: {
      const v = value as number;
      if (mode.canonicalFloats && Number.isNaN(v)) w.fixed32(0x7fc00000);
      else w.float(mode.canonicalFloats && v === 0 ? 0 : v);
      return;
    }
    case ScalarType.INT64:
      w.int64(value as bigint);
      return;
    case ScalarType.UINT64:
      w.uint64(value as bigint);
      return;
    case ScalarType.INT32:
      w.int32(value as number);
      return;
    case ScalarType.FIXED64:
      w.fixed64(value as bigint);
      return;
    case ScalarType.FIXED32:
      w.fixed32(value as number);
      return;
    case ScalarType.BOOL:
      w.bool(value as boolean);
      return;
    case ScalarType.STRING:
      w.string(value as string);
      return;
    case ScalarType.BYTES:
      w.bytes(value as Uint8Array);
      return;
    case ScalarType.UINT32:
      w.uint32(value as number);
      return;
    case ScalarType.SFIXED32:
      w.sfixed32(value as number);
      return;
    case ScalarType.SFIXED64:
      w.sfixed64(value as bigint);
      return;
    case ScalarType.SINT32:
      w.sint32(value as number);
      return;
    case ScalarType.SINT64:
      w.sint64(value as bigint);
      return;
  }
}

/**
 * Reads a scalar value without tag. Strings are validated as UTF-8. Throws
 * whatever the reader throws on truncated or invalid input; callers wrap it.
 */
export function readScalar(r: BinaryReader, type: ScalarType): unknown {
  switch (type) {
    case ScalarType.DOUBLE:
      return r.double();
    case ScalarType.FLOAT:
      return r.float();
    case ScalarType.INT64:
      return BigInt(r.int64());
    case ScalarType.UINT64:
      return BigInt(r.uint64());
    case ScalarType.INT32:
      return r.int32();
    case ScalarType.FIXED64:
      return BigInt(r.fixed64());
    case ScalarType.FIXED32:
      return r.fixed32();
    case ScalarType.BOOL:
      return r.bool();
    case ScalarType.STRING:
      return r.string(true);
    case ScalarType.BYTES:
      return r.bytes().slice();
    case ScalarType.UINT32:
      return r.uint32();
    case ScalarType.SFIXED32:
      return r.sfixed32();
    case ScalarType.SFIXED64:
      return BigInt(r.sfixed64());
    case ScalarType.SINT32:
      return r.sint32();
    case ScalarType.SINT64:
      return BigInt(r.sint64());
  }
}

/** Whether two scalar values of one type are equal (floats by Object.is, bytes by content). */
export function scalarEqual(type: ScalarType, a: unknown, b: unknown): boolean {
  if (type === ScalarType.BYTES) {
    const x = a as Uint8Array;
    const y = b as Uint8Array;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (type === ScalarType.DOUBLE || type === ScalarType.FLOAT) return Object.is(a, b);
  return a === b;
}

/** Encodes a map key without tag (its key type's own encoding). */
export function encodeMapKey(field: DescField & { fieldKind: "map" }, key: MapKey): Uint8Array {
  const w = new BinaryWriter();
  writeScalar(w, field.mapKey, key, EXACT);
  return w.finish();
}

/** Lexicographic order of two byte strings. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** A map's keys with their encodings, sorted by encoded key. */
export function sortedMapKeys(
  field: DescField & { fieldKind: "map" },
  map: ReflectMap,
): Array<{ key: MapKey; bytes: Uint8Array }> {
  const keys: Array<{ key: MapKey; bytes: Uint8Array }> = [];
  for (const key of map.keys()) {
    keys.push({ key: key as MapKey, bytes: encodeMapKey(field, key as MapKey) });
  }
  keys.sort((a, b) => compareBytes(a.bytes, b.bytes));
  return keys;
}

/** Writes a message's fields (no length prefix) deterministically. */
export function writeMessageFields(w: BinaryWriter, rm: ReflectMessage, mode: EncodeMode): void {
  for (const field of sortedFields(rm.desc)) {
    if (!rm.isSet(field)) continue;
    writeFieldRecords(w, rm, field, mode);
  }
}

/** Writes a whole message as a length-delimited value (no tag). */
export function writeMessageValue(w: BinaryWriter, rm: ReflectMessage, mode: EncodeMode): void {
  w.fork();
  writeMessageFields(w, rm, mode);
  w.join();
}

/** Encodes a message deterministically (fields in number order, sorted maps, no unknown fields). */
export function encodeMessage(rm: ReflectMessage, mode: EncodeMode = EXACT): Uint8Array {
  const w = new BinaryWriter();
  writeMessageFields(w, rm, mode);
  return w.finish();
}

/** Writes one set field as protobuf records (tags included). */
export function writeFieldRecords(
  w: BinaryWriter,
  rm: ReflectMessage,
  field: DescField,
  mode: EncodeMode,
): void {
  switch (field.fieldKind) {
    case "scalar":
      w.tag(field.number, scalarWireType(field.scalar));
      writeScalar(w, field.scalar, rm.get(field), mode);
      return;
    case "enum":
      w.tag(field.number, WireType.Varint).int32(rm.get(field) as number);
      return;
    case "message":
      writeMessageRecord(w, field, rm.get(field) as ReflectMessage, mode);
      return;
    case "list":
      writeListRecords(w, field, rm.get(field) as ReflectList, mode);
      return;
    case "map":
      writeMapRecords(w, field, rm.get(field) as ReflectMap, mode);
      return;
  }
}

/** Writes one message record of a field: a group for delimited-encoded fields, else length-delimited. */
function writeMessageRecord(w: BinaryWriter, field: DescField, rm: ReflectMessage, mode: EncodeMode): void {
  if ("delimitedEncoding" in field && field.delimitedEncoding) {
    w.tag(field.number, WireType.StartGroup);
    writeMessageFields(w, rm, mode);
    w.tag(field.number, WireType.EndGroup);
    return;
  }
  w.tag(field.number, WireType.LengthDelimited);
  writeMessageValue(w, rm, mode);
}

/** Writes a list as records of its field: packed when the field is packed. */
export function writeListRecords(
  w: BinaryWriter,
  field: DescField & { fieldKind: "list" },
  list: ReflectList,
  mode: EncodeMode,
): void {
  if (list.size === 0) return;
  switch (field.listKind) {
    case "message":
      for (const item of list) writeMessageRecord(w, field, item as ReflectMessage, mode);
      return;
    case "enum":
      if (field.packed) {
        w.tag(field.number, WireType.LengthDelimited).fork();
        for (const item of list) w.int32(item as number);
        w.join();
      } else {
        for (const item of list) w.tag(field.number, WireType.Varint).int32(item as number);
      }
      return;
    case "scalar": {
      const wt = scalarWireType(field.scalar);
      if (field.packed && wt !== WireType.LengthDelimited) {
        w.tag(field.number, WireType.LengthDelimited).fork();
        for (const item of list) writeScalar(w, field.scalar, item, mode);
        w.join();
      } else {
        for (const item of list) {
          w.tag(field.number, wt);
          writeScalar(w, field.scalar, item, mode);
        }
      }
      return;
    }
  }
}

/** Writes a map value (no tag) in its value type's encoding. */
export function writeMapValue(
  w: BinaryWriter,
  field: DescField & { fieldKind: "map" },
  value: unknown,
  mode: EncodeMode,
): void {
  switch (field.mapKind) {
    case "message":
      writeMessageValue(w, value as ReflectMessage, mode);
      return;
    case "enum":
      w.int32(value as number);
      return;
    case "scalar":
      writeScalar(w, field.scalar, value, mode);
      return;
  }
}

function mapValueWireType(field: DescField & { fieldKind: "map" }): WireType {
  switch (field.mapKind) {
    case "message":
      return WireType.LengthDelimited;
    case "enum":
      return WireType.Varint;
    case "scalar":
      return scalarWireType(field.scalar);
  }
}

/** Writes a map as records of its field, entries sorted by encoded key. */
export function writeMapRecords(
  w: BinaryWriter,
  field: DescField & { fieldKind: "map" },
  map: ReflectMap,
  mode: EncodeMode,
): void {
  if (map.size === 0) return;
  const keyWireType = scalarWireType(field.mapKey);
  const valueWireType = mapValueWireType(field);
  for (const { key, bytes } of sortedMapKeys(field, map)) {
    w.tag(field.number, WireType.LengthDelimited).fork();
    w.tag(1, keyWireType).raw(bytes);
    w.tag(2, valueWireType);
    writeMapValue(w, field, map.get(key), mode);
    w.join();
  }
}

/**
 * Checks that `records` holds only records of `field` with a wire type the
 * field accepts; throws DF_ERR_PATCH_MALFORMED otherwise.
 */
export function checkRecords(records: Uint8Array, field: DescField): void {
  const r = new BinaryReader(records);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no !== field.number || !wireTypeAccepted(field, wt)) {
      throw new DeltaframeError(
        "DF_ERR_PATCH_MALFORMED",
        `cannot decode patch: value of field ${field.number} holds a record of field ${no} with wire type ${wt}`,
        { fieldNumber: field.number, recordFieldNumber: no, wireType: wt },
      );
    }
    r.skip(wt, no);
  }
}

function wireTypeAccepted(field: DescField, wt: WireType): boolean {
  switch (field.fieldKind) {
    case "list":
      switch (field.listKind) {
        case "message":
          return wt === (field.delimitedEncoding ? WireType.StartGroup : WireType.LengthDelimited);
        case "enum":
          return wt === WireType.LengthDelimited || wt === WireType.Varint;
        case "scalar": {
          const own = scalarWireType(field.scalar);
          return wt === own || (own !== WireType.LengthDelimited && wt === WireType.LengthDelimited);
        }
      }
      return false;
    case "map":
      return wt === WireType.LengthDelimited;
    default:
      return false;
  }
}
