/**
 * Shapes of the result files in bench/results/ (not committed): the vitest
 * bench report and the ones written by the scripts that cannot be vitest
 * benches (memory needs `--expose-gc`, end to end needs real sockets).
 *
 * @module
 */

/** Where the result files live, relative to the repository root. */
export const RESULTS_DIR = "bench/results";

/**
 * Returns the path of result file `name` (e.g. "memory"): bench/results/memory.json,
 * or bench/results/smoke-memory.json when `BENCH_SMOKE=1`, so that a smoke run
 * never overwrites the results of a full one.
 */
export function resultPath(name: string): string {
  return `${RESULTS_DIR}/${process.env.BENCH_SMOKE === "1" ? "smoke-" : ""}${name}.json`;
}

/** One case of the `vitest bench --outputJson` report (times in milliseconds). */
export interface VitestBenchCase {
  name: string;
  hz: number;
  mean: number;
  median: number;
  rme: number;
  sampleCount: number;
}

/** The `vitest bench --outputJson` report (vitest 4.1). */
export interface VitestBenchReport {
  files: { filepath: string; groups: { fullName: string; benchmarks: VitestBenchCase[] }[] }[];
}

/** bench/results/memory.json, written by scripts/bench-memory.ts. */
export interface MemoryResult {
  node: string;
  /** Sessions created per measurement. */
  sessions: number;
  /** Retained heap per idle session, bytes; null when the session layer is not there yet. */
  idleSessionBytes: number | null;
  /** Retained heap per idle session subscribed to the 200-key stream and synced, bytes; null when not measured. */
  idleSubscribedBytes: number | null;
  /** Retained heap per slow consumer by subscribed key count, bytes; empty when not measured. */
  slowConsumer: { keys: number; updates: number; bytesPerSession: number }[];
  /** What was measured, or why it could not be. */
  sessionNote: string;
  /** Per-connection deflate contexts created (context-takeover reference). */
  contexts: number;
  /** Memory per deflate context (heap + external + RSS growth), bytes. */
  deflateContextBytes: { heapAndExternal: number; rss: number };
}

/** bench/results/sizes.json, written by scripts/bench-sizes.ts: compressed bytes on the reference workload. */
export interface SizesResult {
  ticks: number;
  batches: number;
  /** Bytes per tick and per transport message for each way of compressing the same batches. */
  rows: { name: string; note: string; bytesPerTick: number; bytesPerMessage: number }[];
  /** Name of the row the others are compared with. */
  reference: string;
}

/** One side of the end-to-end run. */
export interface E2eSide {
  name: string;
  /** What the side does per update. */
  description: string;
  /** Server CPU (user + system) over the run, microseconds. */
  cpuMicros: number;
  /** Updates delivered to clients (updates × clients). */
  delivered: number;
  /** Server CPU per delivered update, nanoseconds. */
  cpuNanosPerDelivered: number;
  /** Bytes the server wrote to sockets, payload only. */
  payloadBytes: number;
  /** Transport messages sent. */
  messages: number;
}

/** bench/results/e2e.json, written by scripts/bench-e2e.ts. */
export interface E2eResult {
  node: string;
  clients: number;
  updates: number;
  baseline: E2eSide;
  deltaframe: E2eSide;
  /** Further sides shown for context (not part of the verdict). */
  others: E2eSide[];
  /** Honest note on what the deltaframe side uses (session/adapters or the codec directly). */
  note: string;
}

/** bench/results/meta.json, written by scripts/bench-run.ts before a full run. */
export interface BenchMeta {
  /** Start of the run, ISO 8601. */
  time: string;
  /** Short commit hash, noting uncommitted changes in src/. */
  commit: string;
  node: string;
  cpu: string;
}
