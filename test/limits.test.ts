import { readFileSync } from "node:fs";
import { DEFAULT_LIMITS, isDeltaframeError, LIMIT_NAMES, resolveLimits } from "deltaframe";
import { describe, expect, it } from "vitest";

describe("resolveLimits", () => {
  it("fills in defaults", () => {
    expect(resolveLimits({ maxDepth: 8 })).toEqual({ ...DEFAULT_LIMITS, maxDepth: 8 });
  });
  it("accepts Infinity as unlimited", () => {
    expect(resolveLimits({ maxMessageBytes: Number.POSITIVE_INFINITY }).maxMessageBytes).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
  it.each([...LIMIT_NAMES])("rejects 0, negative and fractional values for %s", (name: string) => {
    for (const value of [0, -1, 1.5, Number.NaN]) {
      let caught: unknown;
      try {
        resolveLimits({ [name]: value });
      } catch (error) {
        caught = error;
      }
      expect(isDeltaframeError(caught, "DF_ERR_LIMIT_INVALID")).toBe(true);
    }
  });
  it("rejects unknown limit names", () => {
    expect(() => resolveLimits({ maxBogus: 1 } as never)).toThrowError(/unknown limit/);
  });
});

describe("docs/limits.md", () => {
  const doc = readFileSync(new URL("../docs/limits.md", import.meta.url), "utf8");
  const rows = new Map<string, number>();
  for (const match of doc.matchAll(/^\|\s*`(max[A-Za-z]+)`\s*\|\s*([\d,]+)/gm)) {
    rows.set(match[1]!, Number(match[2]!.replaceAll(",", "")));
  }
  it.each([...LIMIT_NAMES])("lists %s with its default", (name) => {
    expect(rows.get(name)).toBe(DEFAULT_LIMITS[name]);
  });
  it("lists no limit that Limits lacks", () => {
    expect([...rows.keys()].filter((name) => !LIMIT_NAMES.includes(name as never))).toEqual([]);
  });
});
