/**
 * `deltaframe inspect`: decodes transport messages or bare frames into JSON.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { type DescMessage, fromBinary, type JsonValue, toJson } from "@bufbuild/protobuf";
import { isReflectList, isReflectMap, isReflectMessage } from "@bufbuild/protobuf/reflect";
import {
  decodeBatch,
  decodeFrame,
  MARKER_DEFLATE,
  MARKER_DICTIONARY,
  MARKER_PLAIN,
  MARKER_SINGLE,
} from "../codec/index.js";
import { decodePatch } from "../delta/index.js";
import { DeltaframeError } from "../errors.js";
import { MarketSchema, MarketStatusChangedSchema } from "../gen/deltaframe/odds/v1/odds_pb.js";
import { type Frame, FrameSchema } from "../gen/deltaframe/v1/frames_pb.js";
import type { Limits } from "../limits.js";
import {
  type CliIo,
  flagOption,
  listOption,
  looksLikeHex,
  type OptionValues,
  parseHex,
  stringOption,
  UsageError,
} from "./io.js";

/** Application schemas `--schema` knows: the stream's value message and its event payload. */
export interface InspectSchema {
  /** Schema of keyed values (full update bodies, snapshot entries). */
  value: DescMessage;
  /** Schema of event payloads. */
  event: DescMessage;
}

/** The schemas `--schema` accepts by name. */
export const INSPECT_SCHEMAS: Readonly<Record<string, InspectSchema>> = {
  odds: { value: MarketSchema, event: MarketStatusChangedSchema },
};

/** Options of {@link inspectMessage}. */
export interface InspectOptions {
  /** The input is one bare `Frame`, not a transport message (marker + batch). Default false. */
  frame: boolean;
  /** Also decode update bodies, snapshot values and event payloads with this schema. Default none. */
  schema: InspectSchema | undefined;
  /** Dictionaries by 1-based index, for dictionary-compressed messages. Default none. */
  dictionaries: Uint8Array[];
  /** Decoding limits. Default DEFAULT_LIMITS. */
  limits: Partial<Limits>;
}

const MARKERS: Record<number, string> = {
  [MARKER_PLAIN]: "plain",
  [MARKER_DEFLATE]: "deflate",
  [MARKER_DICTIONARY]: "dictionary",
  [MARKER_SINGLE]: "single frame",
};

function bodyKindName(kind: number): string {
  return ["value", "patch", "removal", "reserved"][kind] ?? "reserved";
}

function decodeWith(schema: DescMessage, bytes: Uint8Array): JsonValue {
  try {
    return toJson(schema, fromBinary(schema, bytes, { readUnknownFields: false }));
  } catch (error) {
    throw new DeltaframeError(
      "DF_ERR_DECODE",
      `cannot decode ${schema.typeName}: malformed protobuf`,
      { reason: error instanceof Error ? error.message : String(error) },
      { cause: error },
    );
  }
}

/** Returns the schema-aware view of one frame, or undefined when the frame carries no application data. */
function decodeApplicationData(frame: Frame, schema: InspectSchema): JsonValue | undefined {
  const body = frame.body;
  if (body.case === "updates") {
    const u = body.value;
    const out: JsonValue[] = [];
    let version = u.firstOffset;
    let pos = 0;
    for (let i = 0; i < u.keyIds.length; i++) {
      if (i > 0) version += u.steps.length === 0 ? 1n : (u.steps[i - 1] ?? 1n);
      const size = u.sizes[i] ?? 0;
      const kind = size & 3;
      const length = size >>> 2;
      const bytes = u.bodies.subarray(pos, pos + length);
      pos += length;
      const entry: { [k: string]: JsonValue } = {
        keyId: u.keyIds[i] ?? 0,
        // first_offset 0: versions continue from the last offset the receiver saw, which a lone frame does not tell.
        version: u.firstOffset === 0n ? `last seen + ${version + 1n}` : version.toString(),
        kind: bodyKindName(kind),
      };
      const gap = u.baseGaps[i];
      if (kind === 1 && gap !== undefined && gap !== 0n) {
        entry.base = u.firstOffset === 0n ? `last seen + ${version + 1n - gap}` : (version - gap).toString();
      }
      if (kind === 0) entry.value = decodeWith(schema.value, bytes);
      else if (kind === 1) entry.patch = patchJson(schema.value, bytes);
      out.push(entry);
    }
    return out;
  }
  if (body.case === "event") return decodeWith(schema.event, body.value.payload);
  if (body.case === "snapshotChunk") {
    return body.value.entries.map((e) => ({
      key: e.key,
      version: e.version.toString(),
      value: decodeWith(schema.value, e.value),
    }));
  }
  return undefined;
}

function valueJson(value: unknown): JsonValue {
  if (isReflectMessage(value)) return toJson(value.desc, value.message);
  if (isReflectList(value)) return [...value].map(valueJson);
  if (isReflectMap(value)) {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, v] of value) out[String(k)] = valueJson(v);
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return null;
}

/** Returns the operations of a patch body as JSON: `[{ path, op, field, value | delta | key }]`. */
function patchJson(schema: DescMessage, bytes: Uint8Array): JsonValue {
  return decodePatch(schema, bytes).map((op) => {
    const path = op.path.map((step) => {
      if (step.kind === "element") return `${step.field.name}[${step.index}]`;
      if (step.kind === "mapDescend") return `${step.field.name}[${JSON.stringify(String(step.key))}]`;
      return step.field.name;
    });
    const a = op.action;
    const out: { [k: string]: JsonValue } = { op: a.kind, field: [...path, a.field.name].join(".") };
    if (a.kind === "set") out.value = valueJson(a.value);
    else if (a.kind === "add") out.delta = a.delta.toString();
    else if (a.kind === "mapPut") {
      out.key = String(a.key);
      out.value = valueJson(a.value);
    } else if (a.kind === "mapRemove") out.key = String(a.key);
    return out;
  });
}

function frameJson(frame: Frame, schema: InspectSchema | undefined): JsonValue {
  const json = toJson(FrameSchema, frame) as { [k: string]: JsonValue };
  if (schema !== undefined) {
    const decoded = decodeApplicationData(frame, schema);
    if (decoded !== undefined) json.decoded = decoded;
  }
  return json;
}

/**
 * Decodes one transport message (or, with `frame`, one bare frame) into a
 * JSON value: `{ marker, bytes, frames: [...] }` for a message, the frame's
 * protobuf JSON for a frame. Throws the codec's `DF_ERR_…` errors for bad
 * bytes (and the schema's decode errors for bad application data).
 */
export function inspectMessage(bytes: Uint8Array, options: Partial<InspectOptions> = {}): JsonValue {
  const limits = options.limits ?? {};
  const schema = options.schema;
  if (options.frame === true) return frameJson(decodeFrame(bytes, { limits }), schema);
  const frames = decodeBatch(bytes, { limits, decompress: true, dictionaries: options.dictionaries ?? [] });
  return {
    marker: MARKERS[bytes[0] ?? -1] ?? "unknown",
    bytes: bytes.length,
    frames: frames.map((f) => frameJson(f, schema)),
  };
}

/** Usage text of `deltaframe inspect`. */
export const INSPECT_USAGE = `Usage: deltaframe inspect [options] [file | -]

Decodes deltaframe transport messages (marker byte + batch) or bare frames
into JSON (protobuf JSON, one line per message).

Input: a file, '-' or nothing for stdin, or --hex. Input that is hex text
(hex digits and whitespace only) is read as hex, one message per line;
anything else is one binary message.

Options:
  --hex <hex>        decode this hex string instead of a file
  --frame            the input is a bare Frame, not a transport message
  --schema <name>    also decode update bodies, snapshot values and event
                     payloads with an application schema (known: odds)
  --dict <file>      a compression dictionary (repeat, in Hello order)
  --pretty           indent the JSON
  -h, --help         show this help

Exit codes: 0 decoded, 1 bad input (the error's DF_ERR code on stderr), 2 usage.`;

/** Reads the input of `inspect` and returns the messages in it. */
async function readMessages(
  positionals: string[],
  hexText: string | undefined,
  io: CliIo,
): Promise<Uint8Array[]> {
  if (hexText !== undefined) {
    if (positionals.length > 0) throw new UsageError("give either --hex or a file, not both");
    return [parseHex(hexText)];
  }
  if (positionals.length > 1) throw new UsageError("give at most one file");
  const path = positionals[0];
  const raw =
    path === undefined || path === "-" ? await io.readStdin() : new Uint8Array(await readFile(path));
  if (looksLikeHex(raw)) {
    return Buffer.from(raw)
      .toString("latin1")
      .split(/\r?\n/)
      .filter((line) => line.trim().length > 0)
      .map(parseHex);
  }
  return [raw];
}

/** Runs `deltaframe inspect` with parsed options; returns the exit code. */
export async function runInspect(values: OptionValues, positionals: string[], io: CliIo): Promise<number> {
  let schema: InspectSchema | undefined;
  const schemaName = stringOption(values, "schema");
  if (schemaName !== undefined) {
    schema = Object.hasOwn(INSPECT_SCHEMAS, schemaName) ? INSPECT_SCHEMAS[schemaName] : undefined;
    if (schema === undefined) {
      const known = Object.keys(INSPECT_SCHEMAS).join(", ");
      throw new UsageError(`unknown schema ${JSON.stringify(schemaName)} (known: ${known})`);
    }
  }
  const dictionaries = await Promise.all(
    listOption(values, "dict").map(async (p) => new Uint8Array(await readFile(p))),
  );
  const messages = await readMessages(positionals, stringOption(values, "hex"), io);
  if (messages.length === 0) throw new UsageError("no input");
  for (const message of messages) {
    const json = inspectMessage(message, { frame: flagOption(values, "frame"), schema, dictionaries });
    io.stdout(`${JSON.stringify(json, undefined, flagOption(values, "pretty") ? 2 : undefined)}\n`);
  }
  return 0;
}
