import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeBatch } from "deltaframe/codec";
import { encodeChange } from "deltaframe/delta";
import { FrameSchema } from "deltaframe/proto";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

function capture(stdin: Uint8Array = new Uint8Array()) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (t: string) => void out.push(t),
      stderr: (t: string) => void err.push(t),
      readStdin: async () => stdin,
      isTTY: false,
      signal: undefined,
    },
  };
}

const ping = create(FrameSchema, { body: { case: "ping", value: { id: 3, timeMs: 5n } } });
const pingHex = Buffer.from(encodeBatch([ping])).toString("hex");

describe("deltaframe CLI", () => {
  it("prints help for the program and every command", async () => {
    for (const argv of [
      ["--help"],
      ["demo", "--help"],
      ["serve", "--help"],
      ["connect", "--help"],
      ["inspect", "--help"],
      ["dict", "train", "--help"],
    ]) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(0);
      expect(c.out.join("")).toMatch(/^Usage: deltaframe/);
    }
  });

  it("rejects an unknown command or option with exit code 2", async () => {
    const a = capture();
    expect(await main(["frobnicate"], a.io)).toBe(2);
    const b = capture();
    expect(await main(["inspect", "--bogus"], b.io)).toBe(2);
    expect(b.err.join("")).toMatch(/--bogus/);
  });

  it("inspect decodes a transport message from hex into protobuf JSON", async () => {
    const c = capture();
    expect(await main(["inspect", "--hex", pingHex], c.io)).toBe(0);
    expect(JSON.parse(c.out.join(""))).toEqual({
      marker: "plain",
      bytes: 9,
      frames: [{ ping: { id: 3, timeMs: "5" } }],
    });
  });

  it("inspect reads hex lines from stdin, one JSON line per message", async () => {
    const c = capture(new TextEncoder().encode(`${pingHex}\n\n${pingHex}\n`));
    expect(await main(["inspect"], c.io)).toBe(0);
    expect(c.out.join("").trim().split("\n")).toHaveLength(2);
  });

  it("inspect decodes a bare frame with --frame", async () => {
    const c = capture();
    const hex = Buffer.from(toBinary(FrameSchema, ping)).toString("hex");
    expect(await main(["inspect", "--frame", "--hex", hex], c.io)).toBe(0);
    expect(JSON.parse(c.out.join(""))).toEqual({ ping: { id: 3, timeMs: "5" } });
  });

  it("inspect --schema odds decodes full update bodies and event payloads", async () => {
    const tick = new OddsFeed({ seed: 3 }).next();
    const body = toBinary(MarketSchema, tick.market);
    const updates = create(FrameSchema, {
      body: {
        case: "updates",
        value: { alias: 1, firstOffset: 7n, keyIds: [4], sizes: [body.length << 2], bodies: body },
      },
    });
    const file = join(mkdtempSync(join(tmpdir(), "df-cli-")), "message.bin");
    writeFileSync(file, encodeBatch([updates]));
    const c = capture();
    expect(await main(["inspect", "--schema", "odds", file], c.io)).toBe(0);
    const json = JSON.parse(c.out.join(""));
    expect(json.frames[0].decoded).toEqual([
      { keyId: 4, version: "7", kind: "value", value: expect.objectContaining({ name: tick.market.name }) },
    ]);
  });

  it("inspect --schema odds decodes patch bodies into operations", async () => {
    const tick = new OddsFeed({ seed: 3 }).next();
    const change = encodeChange(MarketSchema, tick.previous, tick.market);
    expect(change.kind).toBe("patch");
    const updates = create(FrameSchema, {
      body: {
        case: "updates",
        value: {
          alias: 1,
          firstOffset: 9n,
          keyIds: [0],
          sizes: [(change.body.length << 2) | 1],
          bodies: change.body,
        },
      },
    });
    const c = capture();
    expect(
      await main(
        ["inspect", "--schema", "odds", "--hex", Buffer.from(encodeBatch([updates])).toString("hex")],
        c.io,
      ),
    ).toBe(0);
    const [decoded] = JSON.parse(c.out.join("")).frames[0].decoded;
    expect(decoded.kind).toBe("patch");
    expect(decoded.patch.length).toBeGreaterThanOrEqual(1 + tick.changedSelections.length);
    expect(decoded.patch.every((op: { op: string }) => op.op === "add" || op.op === "set")).toBe(true);
    expect(decoded.patch.map((op: { field: string }) => op.field)).toContainEqual(
      expect.stringMatching(/^selections\[\d+\]\./),
    );
  });

  it("inspect rejects garbage with exit code 1 and one stderr line naming the DF_ERR code", async () => {
    for (const [argv, code] of [
      [["inspect", "--hex", "00ff"], "DF_ERR_DECODE"],
      [["inspect", "--hex", "07"], "DF_ERR_MARKER_UNKNOWN"],
      [["inspect", "--hex", "0x1"], "DF_ERR_INVALID_ARGUMENT"],
      [["inspect", "--hex", "0180808004ff"], "DF_ERR_INFLATE_TOO_LARGE"],
    ] as const) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(1);
      const err = c.err.join("");
      expect(err).toContain(code);
      expect(err.trimEnd().split("\n")).toHaveLength(1);
      expect(c.out).toEqual([]);
    }
  });

  it("inspect --schema rejects an unknown schema name (usage error)", async () => {
    const c = capture();
    expect(await main(["inspect", "--schema", "__proto__", "--hex", pingHex], c.io)).toBe(2);
  });

  it("dict train writes a dictionary within the size bound and prints its content id", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "df-dict-")), "odds.dict");
    const c = capture();
    expect(await main(["dict", "train", "--odds", "100", "--max-bytes", "2048", "--out", out], c.io)).toBe(0);
    const report = JSON.parse(c.out.join(""));
    expect(report).toEqual({ out, bytes: 2048, samples: 100, id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(readFileSync(out).length).toBe(2048);
    const again = capture();
    expect(
      await main(["dict", "train", "--odds", "100", "--max-bytes", "2048", "--out", out], again.io),
    ).toBe(0);
    expect(JSON.parse(again.out.join("")).id).toBe(report.id);
  });

  it("dict train refuses a size bound past 32 KiB", async () => {
    const c = capture();
    expect(
      await main(["dict", "train", "--odds", "10", "--max-bytes", "32769", "--out", "/dev/null"], c.io),
    ).toBe(2);
  });

  it("runs as a process: garbage on stdin exits 1 with the DF_ERR code on stderr", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "inspect", "-"], {
      input: Buffer.from([0x00, 0xff, 0xff]),
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^deltaframe inspect: DF_ERR_DECODE: /);
    expect(r.stdout).toBe("");
  });
});
