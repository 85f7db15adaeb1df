/**
 * Semantic checks of decoded frames: what protobuf decoding alone does not
 * reject (docs/protocol.md §3, docs/limits.md).
 *
 * Size checks run after decoding: the whole message is already bounded by
 * `maxMessageBytes` (or `maxInflatedBytes` once inflated), and protobuf-es
 * returns bytes fields as views into the input, so a decoded frame holds at
 * most a small constant factor more memory than its bytes.
 *
 * @module
 */
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { DeltaframeError } from "../errors.js";
import {
  EventSchema,
  type Frame,
  FrameSchema,
  KeyBindingSchema,
  type Updates,
  UpdatesSchema,
} from "../gen/deltaframe/v1/frames_pb.js";
import { DEFAULT_LIMITS, type Limits } from "../limits.js";
import { limitsOf } from "./options.js";

/** Length of a dictionary content id in `Hello.dictionaries`, in bytes. */
export const DICTIONARY_ID_BYTES = 8;

/** Largest uint64. */
const MAX_UINT64 = (1n << 64n) - 1n;

/** Per-field protocol bounds on strings, in UTF-8 bytes (frames.proto). */
const STRING_BOUNDS: Readonly<Record<string, number>> = {
  "deltaframe.v1.Hello.agent": 64,
  "deltaframe.v1.Unsubscribe.reason": 123,
  "deltaframe.v1.Close.reason": 123,
  "deltaframe.v1.Subscribe.stream": 256,
  "deltaframe.v1.Subscribed.stream": 256,
};

/** Enum fields that must not hold their zero value (frames.proto). */
const NONZERO_ENUMS: ReadonlySet<string> = new Set([
  "deltaframe.v1.Subscribed.mode",
  "deltaframe.v1.Subscribed.policy",
  "deltaframe.v1.SnapshotBegin.mode",
]);

/** Returns the UTF-8 length of `s`, in bytes. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Returns the UTF-8 length of `s` when it exceeds `max`, else -1 (cheap for short strings). */
function utf8Over(s: string, max: number): number {
  // Each UTF-16 unit encodes to 1–3 UTF-8 bytes (a surrogate pair to 4).
  if (s.length * 3 <= max) return -1;
  const n = utf8Length(s);
  return n > max ? n : -1;
}

function fieldName(field: DescField): string {
  return `${field.parent.typeName}.${field.name}`;
}

function checkString(field: DescField, value: string, limits: Readonly<Limits>): void {
  const over = utf8Over(value, limits.maxStringBytes);
  if (over >= 0) {
    throw new DeltaframeError("DF_ERR_STRING_TOO_LONG", `cannot decode frame: ${fieldName(field)} too long`, {
      field: fieldName(field),
      bytes: over,
      limit: limits.maxStringBytes,
    });
  }
  const bound = STRING_BOUNDS[fieldName(field)];
  if (bound !== undefined) {
    const n = utf8Length(value);
    if (n > bound) {
      throw new DeltaframeError(
        "DF_ERR_FRAME_INVALID",
        `cannot decode frame: ${fieldName(field)} longer than ${bound} bytes`,
        { field: fieldName(field), bytes: n, limit: bound },
      );
    }
  }
}

function checkBytes(field: DescField, value: Uint8Array, limits: Readonly<Limits>): void {
  if (value.length > limits.maxBytesFieldBytes) {
    throw new DeltaframeError("DF_ERR_BYTES_TOO_LONG", `cannot decode frame: ${fieldName(field)} too long`, {
      field: fieldName(field),
      bytes: value.length,
      limit: limits.maxBytesFieldBytes,
    });
  }
}

function invalid(what: string, details: Record<string, unknown>): never {
  throw new DeltaframeError("DF_ERR_FRAME_INVALID", `cannot decode frame: ${what}`, details);
}

const enumValues = new WeakMap<object, ReadonlySet<number>>();

function checkEnum(field: DescField & { fieldKind: "enum" }, value: number): void {
  let known = enumValues.get(field.enum);
  if (known === undefined) {
    known = new Set(field.enum.values.map((v) => v.number));
    enumValues.set(field.enum, known);
  }
  if (!known.has(value) || (value === 0 && NONZERO_ENUMS.has(fieldName(field)))) {
    invalid(`${fieldName(field)} has invalid value ${value}`, { field: fieldName(field), value });
  }
}

/** Checks sizes, lists and enums of every field of `message`, recursively. */
function checkMessage(desc: DescMessage, message: Record<string, unknown>, limits: Readonly<Limits>): void {
  for (const field of desc.fields) {
    let value: unknown;
    if (field.oneof !== undefined) {
      const oneof = message[field.oneof.localName] as { case: string | undefined; value?: unknown };
      if (oneof.case !== field.localName) continue;
      value = oneof.value;
    } else {
      value = message[field.localName];
    }
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === ScalarType.STRING) checkString(field, value as string, limits);
        else if (field.scalar === ScalarType.BYTES) checkBytes(field, value as Uint8Array, limits);
        break;
      case "enum":
        checkEnum(field, value as number);
        break;
      case "message":
        if (value !== undefined) checkMessage(field.message, value as Record<string, unknown>, limits);
        break;
      case "list": {
        const list = value as unknown[];
        if (list.length > limits.maxListLength) {
          throw new DeltaframeError(
            "DF_ERR_LIST_TOO_LONG",
            `cannot decode frame: ${fieldName(field)} too long`,
            {
              field: fieldName(field),
              length: list.length,
              limit: limits.maxListLength,
            },
          );
        }
        if (field.listKind === "message") {
          for (const item of list) checkMessage(field.message, item as Record<string, unknown>, limits);
        } else if (field.listKind === "scalar") {
          if (field.scalar === ScalarType.STRING)
            for (const item of list) checkString(field, item as string, limits);
          else if (field.scalar === ScalarType.BYTES)
            for (const item of list) checkBytes(field, item as Uint8Array, limits);
        }
        break;
      }
      case "map":
        // Frames have no map fields; a schema change adding one must extend this walk.
        invalid(`${fieldName(field)} is a map field, not supported`, { field: fieldName(field) });
    }
  }
}

const EVENT_PAYLOAD = EventSchema.field.payload!;
const UPDATES_BODIES = UpdatesSchema.field.bodies!;
const BINDING_KEY = KeyBindingSchema.field.key!;

function checkListLength(
  name: keyof typeof UpdatesSchema.field,
  length: number,
  limits: Readonly<Limits>,
): void {
  if (length > limits.maxListLength) {
    const field = `deltaframe.v1.Updates.${UpdatesSchema.field[name]!.name}`;
    throw new DeltaframeError("DF_ERR_LIST_TOO_LONG", `cannot decode frame: ${field} too long`, {
      field,
      length,
      limit: limits.maxListLength,
    });
  }
}

/** The generic size checks of {@link checkMessage} for `Updates`, written out in the same (field-number) order. */
function checkUpdatesSizes(u: Updates, limits: Readonly<Limits>): void {
  checkListLength("keyIds", u.keyIds.length, limits);
  checkListLength("sizes", u.sizes.length, limits);
  checkBytes(UPDATES_BODIES, u.bodies, limits);
  checkListLength("steps", u.steps.length, limits);
  checkListLength("baseGaps", u.baseGaps.length, limits);
  checkListLength("hashes", u.hashes.length, limits);
  checkListLength("bindings", u.bindings.length, limits);
  for (const binding of u.bindings) checkString(BINDING_KEY, binding.key, limits);
}

/** Checks the parallel columns of an `Updates` frame (frames.proto, `Updates`). */
function checkUpdates(u: Updates): void {
  const n = u.keyIds.length;
  if (u.sizes.length !== n) {
    invalid("updates sizes and key_ids differ in length", { keyIds: n, sizes: u.sizes.length });
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const s = u.sizes[i]!;
    const kind = s & 3;
    const len = s >>> 2;
    if (kind === 3) invalid(`update ${i} has reserved kind 3`, { index: i, kind });
    if (kind === 2 && len !== 0) invalid(`removal ${i} has a body`, { index: i, bytes: len });
    total += len;
  }
  if (total !== u.bodies.length) {
    invalid("updates sizes do not add up to the bodies", { sizes: total, bodies: u.bodies.length });
  }
  if (u.steps.length === 0) {
    if (n > 1 && u.firstOffset > MAX_UINT64 - BigInt(n - 1)) {
      invalid("updates offsets overflow uint64", { firstOffset: u.firstOffset });
    }
  } else {
    let last = u.firstOffset;
    if (u.steps.length !== n - 1) {
      invalid("updates steps must be empty or one fewer than the updates", {
        steps: u.steps.length,
        updates: n,
      });
    }
    for (let i = 0; i < u.steps.length; i++) {
      const step = u.steps[i]!;
      if (step < 1n) invalid(`updates step ${i} is 0`, { index: i });
      last += step;
    }
    if (last > MAX_UINT64) invalid("updates offsets overflow uint64", { firstOffset: u.firstOffset });
  }
  if (u.baseGaps.length !== 0) {
    if (u.baseGaps.length !== n) {
      invalid("updates base_gaps must be empty or one per update", {
        baseGaps: u.baseGaps.length,
        updates: n,
      });
    }
    for (let i = 0; i < n; i++) {
      const patch = (u.sizes[i]! & 3) === 1;
      const gap = u.baseGaps[i]!;
      if (patch ? gap < 1n : gap !== 0n) {
        invalid(`update ${i} has base gap ${gap}`, { index: i, baseGap: gap, patch });
      }
    }
  }
  if (u.hashes.length !== 0 && u.hashes.length !== n) {
    invalid("updates hashes must be empty or one per update", { hashes: u.hashes.length, updates: n });
  }
}

/**
 * Checks a frame against the protocol's rules beyond protobuf decoding, and
 * returns it. Run by {@link decodeFrame} and `decodeBatch` on every frame;
 * exported for senders that want to check what they build.
 *
 * Throws `DF_ERR_FRAME_EMPTY` (no `body` member), `DF_ERR_STRING_TOO_LONG`
 * (over `maxStringBytes`, UTF-8), `DF_ERR_BYTES_TOO_LONG` (over
 * `maxBytesFieldBytes`), `DF_ERR_LIST_TOO_LONG` (over `maxListLength`), and
 * `DF_ERR_FRAME_INVALID` (inconsistent `Updates` columns, unknown or
 * forbidden enum values, strings over their per-field bound, dictionary ids
 * not 8 bytes).
 */
export function validateFrame(frame: Frame, limits: Partial<Limits> = DEFAULT_LIMITS): Frame {
  const resolved = limitsOf(limits);
  const body = frame.body;
  if (body.case === undefined) {
    throw new DeltaframeError("DF_ERR_FRAME_EMPTY", "cannot decode frame: no body member is set");
  }
  switch (body.case) {
    // Hot frames: hand-written checks, same result as the generic walk
    // (validateFrameReference; test/codec/validate.prop.test.ts compares them).
    case "updates":
      checkUpdatesSizes(body.value, resolved);
      checkUpdates(body.value);
      return frame;
    case "ack":
    case "ping":
    case "pong":
    case "skipped":
    case "drain":
      // Only integer fields: nothing to check.
      return frame;
    case "event":
      checkBytes(EVENT_PAYLOAD, body.value.payload, resolved);
      return frame;
  }
  return checkGeneric(frame, resolved);
}

/** The generic walk over every field, then the rules specific to some frames. */
function checkGeneric(frame: Frame, resolved: Readonly<Limits>): Frame {
  const body = frame.body;
  checkMessage(FrameSchema, frame as unknown as Record<string, unknown>, resolved);
  if (body.case === "updates") checkUpdates(body.value);
  else if (body.case === "subscribe" && body.value.stream.length === 0) {
    invalid("subscribe stream name is empty", { field: "deltaframe.v1.Subscribe.stream" });
  } else if (body.case === "hello") {
    for (const id of body.value.dictionaries) {
      if (id.length !== DICTIONARY_ID_BYTES) {
        invalid("hello dictionary id is not 8 bytes", { bytes: id.length });
      }
    }
  }
  return frame;
}

/**
 * Same checks and errors as {@link validateFrame}, through the generic
 * descriptor walk for every frame kind (no hand-written fast paths). Slower;
 * exists for differential tests of the fast paths.
 */
export function validateFrameReference(frame: Frame, limits: Partial<Limits> = DEFAULT_LIMITS): Frame {
  if (frame.body.case === undefined) {
    throw new DeltaframeError("DF_ERR_FRAME_EMPTY", "cannot decode frame: no body member is set");
  }
  return checkGeneric(frame, limitsOf(limits));
}
