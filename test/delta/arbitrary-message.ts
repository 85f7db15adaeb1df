/**
 * fast-check arbitraries for any protobuf-es message schema, built by
 * reflection, plus a generator of related pairs (a message and a variant of
 * it that keeps some fields, replaces others and recurses into the rest), so
 * that patches exercise nested operations and not only whole-field SETs.
 */
import {
  create,
  type DescEnum,
  type DescField,
  type DescMessage,
  type Message,
  type MessageShape,
  ScalarType,
} from "@bufbuild/protobuf";
import { type ReflectList, type ReflectMap, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import fc from "fast-check";

export interface ArbitraryOptions {
  /** Deepest nesting of message fields generated. */
  maxDepth: number;
  /** Longest list or map generated. */
  maxLength: number;
}

const DEFAULTS: ArbitraryOptions = { maxDepth: 3, maxLength: 4 };

/** Map keys that must stay plain data. */
export const HOSTILE_KEYS = ["__proto__", "constructor", "hasOwnProperty", "toString", "valueOf", ""];

const small = <T>(values: T[], full: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: fc.constantFrom(...values), weight: 3 }, { arbitrary: full, weight: 1 });

/** An arbitrary of one scalar type; biased towards a few small values so that equal values are common. */
export function scalarArbitrary(type: ScalarType, inStruct = false): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.DOUBLE:
      return inStruct
        ? fc.double({ noNaN: true, noDefaultInfinity: true })
        : small([0, 1, -1, 0.5, -0], fc.double({ noNaN: true }));
    case ScalarType.FLOAT:
      return small([0, 1, -1, 0.5], fc.float({ noNaN: true }));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return small([0, 1, -1, 100, 101], fc.integer({ min: -0x80000000, max: 0x7fffffff }));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return small([0, 1, 100, 0xffffffff], fc.integer({ min: 0, max: 0xffffffff }));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return small([0n, 1n, -1n, 1000n], fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return small([0n, 1n, 2n ** 64n - 1n, 68719476736n], fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return small(["", "a", "b", ...HOSTILE_KEYS], fc.string({ unit: "grapheme", maxLength: 8 }));
    case ScalarType.BYTES:
      return small([new Uint8Array(0), new Uint8Array([1])], fc.uint8Array({ maxLength: 8 }));
  }
}

function enumArbitrary(desc: DescEnum, inStruct = false): fc.Arbitrary<number> {
  if (inStruct) return fc.constantFrom(...desc.values.map((v) => v.number));
  // Unknown numbers too: open enums keep them.
  return fc.oneof(
    { arbitrary: fc.constantFrom(...desc.values.map((v) => v.number)), weight: 4 },
    { arbitrary: fc.integer({ min: -10, max: 20 }), weight: 1 },
  );
}

type Build = (rm: ReflectMessage) => void;

const cache = new Map<string, fc.Arbitrary<Message>>();

/** An arbitrary of messages of `desc` (unknown enum numbers, hostile map keys, nested messages to `maxDepth`). */
export function messageArbitrary<Desc extends DescMessage>(
  desc: Desc,
  options: Partial<ArbitraryOptions> = {},
): fc.Arbitrary<MessageShape<Desc>> {
  const opts = { ...DEFAULTS, ...options };
  return messageArb(desc, opts, 0) as fc.Arbitrary<MessageShape<Desc>>;
}

function messageArb(desc: DescMessage, opts: ArbitraryOptions, depth: number): fc.Arbitrary<Message> {
  const cacheKey = `${desc.typeName}/${opts.maxDepth}/${opts.maxLength}/${depth}`;
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const inStruct =
    desc.typeName.startsWith("google.protobuf.") && desc.typeName !== "google.protobuf.Timestamp";
  const parts: fc.Arbitrary<Build>[] = [];
  for (const field of desc.fields) {
    if (field.oneof !== undefined) continue;
    const arb = fieldBuild(field, opts, depth, inStruct);
    if (arb !== undefined)
      parts.push(fc.option(arb, { nil: undefined, freq: 2 }).map((b) => b ?? (() => {})));
  }
  for (const oneof of desc.oneofs) {
    const members = oneof.fields
      .map((f) => fieldBuild(f, opts, depth, inStruct))
      .filter((a): a is fc.Arbitrary<Build> => a !== undefined);
    // google.protobuf.Value must hold a kind to stay valid in a Struct.
    const noneAllowed = desc.typeName !== "google.protobuf.Value";
    if (members.length > 0) {
      parts.push(
        noneAllowed
          ? fc.option(fc.oneof(...members), { nil: undefined }).map((b) => b ?? (() => {}))
          : fc.oneof(...members),
      );
    }
  }
  const arb = fc.tuple(...parts).map((builds) => {
    const message = create(desc);
    const rm = reflect(desc, message);
    for (const build of builds) build(rm);
    return message;
  });
  cache.set(cacheKey, arb);
  return arb;
}

function fieldBuild(
  field: DescField,
  opts: ArbitraryOptions,
  depth: number,
  inStruct: boolean,
): fc.Arbitrary<Build> | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return scalarArbitrary(field.scalar, inStruct).map((v) => (rm: ReflectMessage) => rm.set(field, v));
    case "enum":
      return enumArbitrary(field.enum, inStruct).map((v) => (rm: ReflectMessage) => rm.set(field, v));
    case "message": {
      if (depth >= opts.maxDepth) return undefined;
      const child = field.message;
      return fc
        .constant(null)
        .chain(() => messageArb(child, opts, depth + 1))
        .map((m) => (rm: ReflectMessage) => rm.set(field, reflect(child, m)));
    }
    case "list": {
      let item: fc.Arbitrary<unknown>;
      if (field.listKind === "message") {
        if (depth >= opts.maxDepth) return undefined;
        const child = field.message;
        item = fc
          .constant(null)
          .chain(() => messageArb(child, opts, depth + 1))
          .map((m) => reflect(child, m));
      } else if (field.listKind === "enum") item = enumArbitrary(field.enum, inStruct);
      else item = scalarArbitrary(field.scalar, inStruct);
      return fc.array(item, { maxLength: opts.maxLength }).map((items) => (rm: ReflectMessage) => {
        const list = rm.get(field) as ReflectList;
        for (const it of items) list.add(it);
      });
    }
    case "map": {
      let value: fc.Arbitrary<unknown>;
      if (field.mapKind === "message") {
        if (depth >= opts.maxDepth) return undefined;
        const child = field.message;
        value = fc
          .constant(null)
          .chain(() => messageArb(child, opts, depth + 1))
          .map((m) => reflect(child, m));
      } else if (field.mapKind === "enum") value = enumArbitrary(field.enum, inStruct);
      else value = scalarArbitrary(field.scalar, inStruct);
      const key = scalarArbitrary(field.mapKey);
      return fc
        .array(fc.tuple(key, value), { maxLength: opts.maxLength })
        .map((entries) => (rm: ReflectMessage) => {
          const map = rm.get(field) as ReflectMap;
          for (const [k, v] of entries) map.set(k, v);
        });
    }
  }
}

/**
 * A variant of `a`: each field is kept, taken from `x`, or (for messages,
 * equal-length message lists and maps) mixed recursively, as `choices`
 * dictates. Returns a new message; `a` and `x` are not changed.
 */
export function mix<Desc extends DescMessage>(
  desc: Desc,
  a: MessageShape<Desc>,
  x: MessageShape<Desc>,
  choices: readonly number[],
): MessageShape<Desc> {
  const state = { i: 0 };
  const out = create(desc);
  mixInto(reflect(desc, out), reflect(desc, a), reflect(desc, x), choices, state);
  return out;
}

function next(choices: readonly number[], state: { i: number }): number {
  const c = choices.length === 0 ? 0 : choices[state.i % choices.length]!;
  state.i++;
  return c;
}

function copyField(out: ReflectMessage, src: ReflectMessage, field: DescField): void {
  if (!src.isSet(field)) {
    if (field.oneof === undefined || out.oneofCase(field.oneof) === field) out.clear(field);
    return;
  }
  switch (field.fieldKind) {
    case "list": {
      const list = out.get(field) as ReflectList;
      list.clear();
      for (const v of src.get(field) as ReflectList) list.add(v);
      return;
    }
    case "map": {
      const map = out.get(field) as ReflectMap;
      map.clear();
      for (const [k, v] of src.get(field) as ReflectMap) map.set(k, v);
      return;
    }
    default:
      out.set(field, src.get(field));
  }
}

function mixInto(
  out: ReflectMessage,
  a: ReflectMessage,
  x: ReflectMessage,
  choices: readonly number[],
  state: { i: number },
): void {
  for (const field of a.desc.fields) {
    if (field.oneof !== undefined && out.oneofCase(field.oneof) !== undefined) continue;
    const c = next(choices, state);
    if (field.oneof !== undefined) {
      const src = c === 1 ? x : a;
      const chosen = src.oneofCase(field.oneof);
      if (chosen !== undefined) copyField(out, src, chosen);
      continue;
    }
    if (c === 2 && field.fieldKind === "message" && a.isSet(field) && x.isSet(field)) {
      const child = create(field.message);
      const rc = reflect(field.message, child);
      mixInto(rc, a.get(field) as ReflectMessage, x.get(field) as ReflectMessage, choices, state);
      out.set(field, rc);
      continue;
    }
    if (c === 2 && field.fieldKind === "list" && field.listKind === "message") {
      const la = a.get(field) as ReflectList;
      const lx = x.get(field) as ReflectList;
      const list = out.get(field) as ReflectList;
      for (let i = 0; i < la.size; i++) {
        if (i < lx.size && next(choices, state) !== 0) {
          const child = create(field.message);
          const rc = reflect(field.message, child);
          mixInto(rc, la.get(i) as ReflectMessage, lx.get(i) as ReflectMessage, choices, state);
          list.add(rc);
        } else list.add(la.get(i));
      }
      continue;
    }
    if (c === 2 && field.fieldKind === "map") {
      const ma = a.get(field) as ReflectMap;
      const mx = x.get(field) as ReflectMap;
      const map = out.get(field) as ReflectMap;
      for (const [k, v] of ma) if (next(choices, state) !== 1) map.set(k, v);
      for (const [k, v] of mx) {
        const cc = next(choices, state);
        if (cc === 1) map.set(k, v);
        else if (cc === 2 && field.mapKind === "message" && ma.has(k)) {
          const child = create(field.message);
          const rc = reflect(field.message, child);
          mixInto(rc, ma.get(k) as ReflectMessage, v as ReflectMessage, choices, state);
          map.set(k, rc);
        }
      }
      continue;
    }
    copyField(out, c === 1 ? x : a, field);
  }
}

/** Pairs (a, b) of related messages of `desc`. */
export function pairArbitrary<Desc extends DescMessage>(
  desc: Desc,
  options: Partial<ArbitraryOptions> = {},
): fc.Arbitrary<[MessageShape<Desc>, MessageShape<Desc>]> {
  const m = messageArbitrary(desc, options);
  return fc
    .tuple(m, m, fc.array(fc.nat(2), { minLength: 1, maxLength: 64 }))
    .map(([a, x, choices]) => [a, mix(desc, a, x, choices)]);
}

/** Triples (a, b, c) of related messages of `desc`. */
export function tripleArbitrary<Desc extends DescMessage>(
  desc: Desc,
  options: Partial<ArbitraryOptions> = {},
): fc.Arbitrary<[MessageShape<Desc>, MessageShape<Desc>, MessageShape<Desc>]> {
  const m = messageArbitrary(desc, options);
  const choices = fc.array(fc.nat(2), { minLength: 1, maxLength: 64 });
  return fc.tuple(m, m, m, choices, choices).map(([a, x, y, c1, c2]) => {
    const b = mix(desc, a, x, c1);
    return [a, b, mix(desc, b, y, c2)];
  });
}
