// The README's example is examples/readme.ts, shown as it is, and runs as written.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("README", () => {
  it("starts with the two commands a newcomer runs", () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(block).toMatch(/^npm ci && npm start\b/m);
    expect(block).toMatch(/^npm test\b/m);
  });

  it("shows examples/readme.ts exactly", () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    const example = readFileSync(`${root}examples/readme.ts`, "utf8");
    expect(readme).toContain("```ts\n" + example + "```");
  });

  it("runs the example: the replica matches the server", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "examples/readme.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^replica of 200 markets matches the server$/m);
    expect(run.status).toBe(0);
  });
});
