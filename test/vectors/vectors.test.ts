import { readFileSync, writeFileSync } from "node:fs";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { isDeltaframeError } from "deltaframe";
import {
  createFflateDeflater,
  createZlibDeflater,
  decodeBatch,
  decodeFrame,
  encodeBatch,
  encodeFrame,
  frameSingle,
} from "deltaframe/codec";
import { FrameSchema } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { renderVectors, VECTOR_DICTIONARY } from "../../scripts/vectors.js";
import { FRAME_KINDS } from "../codec/arbitraries.js";

interface Vectors {
  frames: Array<{ name: string; json: JsonValue; frame: string; message: string; single: string }>;
  compressed: Array<{
    name: string;
    dictionary: { index: number; hex: string } | null;
    message: string;
    frames: JsonValue[];
  }>;
  invalid: Array<{ name: string; message: string; error: string }>;
}

const path = new URL("./frames.json", import.meta.url);
if (process.env.UPDATE_VECTORS === "1") writeFileSync(path, renderVectors());
const text = readFileSync(path, "utf8");
const vectors = JSON.parse(text) as Vectors;
const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("golden vectors", () => {
  it("the committed file matches what scripts/vectors.ts builds (UPDATE_VECTORS=1 to regenerate)", () => {
    expect(text).toBe(renderVectors());
  });
  it("cover every frame kind", () => {
    expect(vectors.frames.map((v) => v.name)).toEqual(FRAME_KINDS);
  });
  it.each(vectors.frames.map((v) => [v.name, v] as const))(
    "%s: JSON, frame bytes and message agree",
    (_name, v) => {
      const frame = fromJson(FrameSchema, v.json);
      expect(hex(encodeFrame(frame))).toBe(v.frame);
      expect(toJson(FrameSchema, decodeFrame(bytes(v.frame)))).toEqual(v.json);
      expect(hex(encodeBatch([frame]))).toBe(v.message);
      const [only] = decodeBatch(bytes(v.message));
      expect(toJson(FrameSchema, only!)).toEqual(v.json);
      expect(hex(frameSingle(encodeFrame(frame)))).toBe(v.single);
      const single = decodeBatch(bytes(v.single));
      expect(single.map((f) => toJson(FrameSchema, f))).toEqual([v.json]);
    },
  );
  it.each(vectors.compressed.map((v) => [v.name, v] as const))(
    "%s decodes with zlib and fflate",
    (_name, v) => {
      for (const deflater of [createZlibDeflater(), createFflateDeflater()]) {
        const dictionaries = v.dictionary === null ? [] : [bytes(v.dictionary.hex)];
        const frames = decodeBatch(bytes(v.message), { decompress: true, dictionaries, deflater });
        expect(frames.map((f) => toJson(FrameSchema, f))).toEqual(v.frames);
      }
    },
  );
  it.each(vectors.invalid.map((v) => [v.name, v] as const))("invalid: %s", (_name, v) => {
    let caught: unknown;
    try {
      decodeBatch(bytes(v.message), { decompress: true, dictionaries: [VECTOR_DICTIONARY] });
    } catch (error) {
      caught = error;
    }
    expect(isDeltaframeError(caught), String(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe(v.error);
  });
});
