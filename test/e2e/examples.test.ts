// The examples the getting-started guide shows are runnable: start
// examples/server.ts, follow it with examples/node-client.ts, both as real
// processes. (examples/browser is run by browser.test.ts.)
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

function run(script: string, args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: root });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString("utf8");
  });
  child.stderr!.on("data", (d: Buffer) => {
    out += d.toString("utf8");
  });
  const waitFor = (re: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const start = Date.now();
      const poll = () => {
        const m = re.exec(out);
        if (m) resolve(m);
        else if (Date.now() - start > timeoutMs || child.exitCode !== null)
          reject(new Error(`${script}: no match for ${re} in:\n${out}`));
        else setTimeout(poll, 50);
      };
      poll();
    });
  return { child, waitFor };
}

describe("examples", () => {
  it("examples/server.ts serves the feed and examples/node-client.ts follows it", async () => {
    const server = run("examples/server.ts", ["0"]);
    const [, url] = await server.waitFor(/serving "odds" at (ws:\/\/\S+)/);
    const client = run("examples/node-client.ts", [url!]);
    const [, updates] = await client.waitFor(/200 markets, ([1-9]\d*) updates, 0 resumes, hash [0-9a-f]+/);
    expect(Number(updates)).toBeGreaterThan(0);
  });

  it("docs/guides/getting-started.md shows the example files as they are", () => {
    const guide = readFileSync(`${root}docs/guides/getting-started.md`, "utf8");
    const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!.trimEnd());
    expect(blocks).toEqual([
      readFileSync(`${root}examples/server.ts`, "utf8").trimEnd(),
      readFileSync(`${root}examples/browser/main.ts`, "utf8").trimEnd(),
    ]);
  });
});
