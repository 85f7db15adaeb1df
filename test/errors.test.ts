import { readdirSync, readFileSync } from "node:fs";
import { DeltaframeError, ERROR_CODES, type ErrorCode, isDeltaframeError } from "deltaframe";
import { describe, expect, it } from "vitest";

const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
/** Rows of the table: code → close code. */
const rows = new Map<string, number>();
for (const match of doc.matchAll(/^\|\s*`(DF_ERR_[A-Z0-9_]+)`\s*\|\s*(\d+)\s*\|/gm)) {
  expect(rows.has(match[1]!), `duplicate row ${match[1]}`).toBe(false);
  rows.set(match[1]!, Number(match[2]));
}
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

/** Codes raised by the codec layer (the first two sections of ERROR_CODES). */
const CODEC_CODES: ErrorCode[] = [
  "DF_ERR_MESSAGE_EMPTY",
  "DF_ERR_MESSAGE_TOO_LARGE",
  "DF_ERR_MARKER_UNKNOWN",
  "DF_ERR_DECODE",
  "DF_ERR_DEPTH",
  "DF_ERR_FRAME_EMPTY",
  "DF_ERR_FRAME_INVALID",
  "DF_ERR_TOO_MANY_FRAMES",
  "DF_ERR_STRING_TOO_LONG",
  "DF_ERR_BYTES_TOO_LONG",
  "DF_ERR_LIST_TOO_LONG",
  "DF_ERR_INFLATE_TOO_LARGE",
  "DF_ERR_INFLATE_LENGTH_MISMATCH",
  "DF_ERR_INFLATE_CORRUPT",
  "DF_ERR_DICTIONARY_UNKNOWN",
  "DF_ERR_COMPRESSION_NOT_NEGOTIATED",
];

describe("docs/errors.md", () => {
  it.each(codes)("lists %s with its close code", (code) => {
    expect(rows.get(code)).toBe(ERROR_CODES[code].closeCode);
  });
  it("lists no code that ERROR_CODES lacks", () => {
    expect([...rows.keys()].filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });
});

describe("DeltaframeError", () => {
  it.each(codes)("%s carries its close code and origin", (code) => {
    const error = new DeltaframeError(code, "cannot test: example", { n: 1 });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("DeltaframeError");
    expect(error.closeCode).toBe(ERROR_CODES[code].closeCode);
    expect(error.origin).toBe(ERROR_CODES[code].origin);
    expect(error.details).toEqual({ n: 1 });
    expect(isDeltaframeError(error, code)).toBe(true);
  });
  it("isDeltaframeError checks name and code, not instanceof", () => {
    expect(isDeltaframeError({ name: "DeltaframeError", code: "DF_ERR_DECODE" }, "DF_ERR_DECODE")).toBe(true);
    expect(isDeltaframeError({ name: "DeltaframeError", code: "DF_ERR_NOPE" })).toBe(false);
    expect(isDeltaframeError(new Error("x"))).toBe(false);
    expect(isDeltaframeError(null)).toBe(false);
  });
  it("close codes are valid WebSocket close codes", () => {
    for (const code of codes) {
      const close: number = ERROR_CODES[code].closeCode;
      expect(
        close === 1002 ||
          close === 1007 ||
          close === 1008 ||
          close === 1009 ||
          close === 1011 ||
          (close >= 4000 && close <= 4999),
      ).toBe(true);
    }
  });
});

describe("codec codes", () => {
  // Every codec code has a test in test/codec or test/vectors that asserts class, code and close code through
  // expectCode (test/codec/helpers.ts) or the vectors' expected codes.
  const sources = [
    ...readdirSync(new URL("./codec/", import.meta.url)).map((f) => new URL(`./codec/${f}`, import.meta.url)),
  ]
    .filter((u) => u.pathname.endsWith(".test.ts"))
    .map((u) => readFileSync(u, "utf8"))
    .join("\n");
  it.each(CODEC_CODES)("%s is asserted by a codec test", (code) => {
    expect(sources).toMatch(new RegExp(`expectCode\\([\\s\\S]*?"${code}"`));
    expect(ERROR_CODES[code].origin).toBe("remote");
  });
});
