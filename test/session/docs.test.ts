import { readFileSync } from "node:fs";
import { CLIENT_TRANSITIONS, SERVER_TRANSITIONS, type Transition } from "deltaframe/session";
import { describe, expect, it } from "vitest";

const doc = readFileSync(new URL("../../docs/sessions.md", import.meta.url), "utf8");

/** The transitions of the n-th mermaid state diagram in docs/sessions.md, as "from --on--> to". */
function diagram(n: number): string[] {
  const blocks = [...doc.matchAll(/```mermaid\nstateDiagram-v2\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks[n];
  if (block === undefined) throw new Error(`diagram ${n} missing`);
  const out: string[] = [];
  for (const line of block.split("\n")) {
    const m = /^\s*(\w+) --> (\w+): ([\w-]+)\s*$/.exec(line);
    if (m) out.push(`${m[1]!.replace(/_/g, "-")} --${m[3]}--> ${m[2]!.replace(/_/g, "-")}`);
  }
  return out.sort();
}

function table(t: ReadonlyArray<Transition<string, string>>): string[] {
  return t.map((r) => `${r.from} --${r.on}--> ${r.to}`).sort();
}

describe("docs/sessions.md", () => {
  it("draws exactly the server transition table", () => {
    expect(diagram(0)).toEqual(table(SERVER_TRANSITIONS));
  });
  it("draws exactly the client transition table", () => {
    expect(diagram(1)).toEqual(table(CLIENT_TRANSITIONS));
  });
  it("names test files that exist", () => {
    for (const m of doc.matchAll(/`([\w.-]+\.test\.ts)`/g)) {
      expect(() => readFileSync(new URL(`./${m[1]}`, import.meta.url))).not.toThrow();
    }
  });
});
