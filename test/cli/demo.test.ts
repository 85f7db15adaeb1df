import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

describe("deltaframe demo", () => {
  it("runs a short live demo and ends with a passing replica check", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["demo", "--seconds", "3", "--clients", "4", "--seed", "5", "--hashes"], {
      stdout: (t) => void out.push(t),
      stderr: (t) => void err.push(t),
      isTTY: false,
      signal: undefined,
    });
    const text = out.join("");
    expect(err.join("")).toBe("");
    expect(code).toBe(0);
    expect(text).toMatch(/^replica check: 4\/4 clients match the server state hash 0x[0-9a-f]{16}$/m);
    expect(text).toMatch(/^events: 4\/4 clients saw every event in order/m);
    expect(text).toMatch(/killed client resumed 1 time\(s\)/);
    expect(text).toMatch(/slow client conflated [1-9]\d* updates/);
    // Not a terminal: periodic plain lines, no ANSI escapes.
    expect(text).toMatch(/^t=\d+\.\ds ticks=\d+ updates\/s=/m);
    expect(text).not.toContain("\x1b[");
  });
});
