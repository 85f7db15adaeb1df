/**
 * Memory per connection, measured on the heap after full garbage collections
 * (DESIGN §7: ≤ 4 KB per idle session, a slow consumer stays O(keys)), and
 * the memory of the reference it replaces: one deflate context per
 * connection (permessage-deflate with context takeover). Writes
 * bench/results/memory.json for scripts/perf-table.ts.
 *
 * Usage: tsx --expose-gc scripts/bench-memory.ts [--sessions 10000] [--subscribed 300] [--slow 40]
 *   [--slow-ticks 10000] [--contexts 500]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { frameBatch } from "deltaframe/codec";
import { sessionBatches } from "../bench/support/batches.js";
import { ContextDeflater } from "../bench/support/context-deflate.js";
import { BENCH_SEED } from "../bench/support/frames.js";
import { type MemoryResult, RESULTS_DIR, resultPath } from "../bench/support/results.js";
import { measureSessions } from "./bench-memory-session.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const sessions = arg("--sessions", 10_000);
const subscribedCount = arg("--subscribed", 300);
const slowCount = arg("--slow", 40);
const slowTicks = arg("--slow-ticks", 10_000);
const contextCount = arg("--contexts", 500);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("run with --expose-gc: tsx --expose-gc scripts/bench-memory.ts");
  process.exit(2);
}

/** Collects garbage until the heap stops shrinking, then returns memory figures. */
export function settle(): NodeJS.MemoryUsage {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    gc!();
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 1024) break;
    last = used;
  }
  return process.memoryUsage();
}

async function deflateContexts(): Promise<MemoryResult["deflateContextBytes"]> {
  const message = frameBatch(sessionBatches(BENCH_SEED, 1).batches[0]!);
  const before = settle();
  const contexts: ContextDeflater[] = [];
  for (let i = 0; i < contextCount; i++) {
    const c = new ContextDeflater();
    await c.deflate(message);
    contexts.push(c);
  }
  const after = settle();
  const result = {
    heapAndExternal: (after.heapUsed + after.external - before.heapUsed - before.external) / contextCount,
    rss: (after.rss - before.rss) / contextCount,
  };
  for (const c of contexts) c.close();
  return result;
}

const deflateContextBytes = await deflateContexts();
const s = await measureSessions(
  { idle: sessions, subscribed: subscribedCount, slow: slowCount, slowTicks },
  settle,
);
const result: MemoryResult = {
  node: process.version,
  sessions,
  idleSessionBytes: s.idleSessionBytes,
  idleSubscribedBytes: s.idleSubscribedBytes,
  slowConsumer: s.slowConsumer,
  sessionNote: s.note,
  contexts: contextCount,
  deflateContextBytes,
};
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(resultPath("memory"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
