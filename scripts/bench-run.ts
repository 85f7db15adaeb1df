/**
 * Runs every benchmark and regenerates docs/performance.md: the vitest
 * benches (bench/*.bench.ts, JSON report in bench/results/latest.json), the
 * compressed sizes, the memory script (`--expose-gc`), the end-to-end run over
 * `ws`, then scripts/perf-table.ts. Generates the protobufjs baseline first
 * when missing.
 *
 * Usage: tsx scripts/bench-run.ts [--smoke]
 *   --smoke  every case once, small inputs, nothing timed, the document
 *            left alone (for CI: checks that the benches still run)
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { ensureProtobufjs } from "../bench/support/protobufjs.js";
import { type BenchMeta, resultPath } from "../bench/support/results.js";

const smoke = process.argv.includes("--smoke");
if (smoke) process.env.BENCH_SMOKE = "1";
const env = process.env;
const report = resultPath("latest");

function run(command: string, args: string[]): void {
  console.log(`\n$ ${command} ${args.join(" ")}`);
  const t = Date.now();
  // A hung step fails the run instead of blocking it (CI).
  const r = spawnSync(command, args, { stdio: "inherit", env, timeout: smoke ? 300_000 : 900_000 });
  console.log(`(${((Date.now() - t) / 1000).toFixed(0)} s)`);
  if (r.status !== 0) {
    console.error(`failed (${r.status ?? r.signal}): ${command} ${args.join(" ")}`);
    process.exit(r.status ?? 1);
  }
}

const started = Date.now();
ensureProtobufjs();
if (!smoke) {
  // What the results were measured on, for the document's header.
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    if (execFileSync("git", ["status", "--porcelain", "src"], { encoding: "utf8" }).trim() !== "") {
      commit += " (with uncommitted changes in src/)";
    }
  } catch {
    // not a git checkout
  }
  mkdirSync("bench/results", { recursive: true });
  const meta: BenchMeta = {
    time: new Date().toISOString(),
    commit,
    node: process.version,
    cpu: `${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}`,
  };
  writeFileSync("bench/results/meta.json", `${JSON.stringify(meta, null, 2)}\n`);
}
run("npx", ["vitest", "bench", "--run", "--outputJson", report]);
run("npx", ["tsx", "scripts/bench-sizes.ts", "--seconds", smoke ? "2" : "60"]);
run("npx", [
  "tsx",
  "--expose-gc",
  "scripts/bench-memory.ts",
  ...(smoke
    ? ["--sessions", "100", "--subscribed", "5", "--slow", "3", "--slow-ticks", "200", "--contexts", "10"]
    : []),
]);
run("npx", ["tsx", "scripts/bench-e2e.ts", "--updates", smoke ? "200" : "10000"]);
if (!smoke) run("npx", ["tsx", "scripts/bench-e2e.ts", "--updates", "5000", "--clients", "16"]);
if (!smoke) run("npx", ["tsx", "scripts/bench-e2e.ts", "--updates", "5000", "--clients", "64"]);
run("npx", ["tsx", "scripts/perf-table.ts", "--report", report, ...(smoke ? ["--check"] : [])]);
console.log(`\nbench ${smoke ? "smoke " : ""}run took ${((Date.now() - started) / 1000).toFixed(0)} s`);
