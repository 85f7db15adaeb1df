import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (t: string) => void out.push(t),
      stderr: (t: string) => void err.push(t),
      isTTY: false,
      signal: undefined,
    },
  };
}

describe("deltaframe serve and connect", () => {
  it("connect follows the stream that serve publishes", async () => {
    const server = capture();
    const stop = new AbortController();
    const serving = main(["serve", "--port", "0", "--seconds", "30"], { ...server.io, signal: stop.signal });
    let url: string | undefined;
    for (let i = 0; i < 200 && url === undefined; i++) {
      await new Promise((r) => setTimeout(r, 25));
      url = /ws:\/\/[^ ]+/.exec(server.out.join(""))?.[0];
    }
    expect(url).toBeDefined();
    const client = capture();
    expect(await main(["connect", url!, "--seconds", "1", "--json"], client.io)).toBe(0);
    stop.abort();
    expect(await serving).toBe(0);
    const lines = client.out
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: "welcome", resumed: false });
    expect(lines.filter((l) => l.type === "update").length).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatchObject({
      type: "summary",
      keys: 200,
      hash: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it("connect refuses a missing or non-WebSocket URL (usage error)", async () => {
    const c = capture();
    expect(await main(["connect", "http://example.com/"], c.io)).toBe(2);
  });
});
