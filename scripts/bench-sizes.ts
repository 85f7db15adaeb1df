/**
 * Compressed bytes per tick on the reference workload (deterministic): what a
 * server session sends per 100 ms (hub and session driven in memory) plain, raw-deflated per message with and without a
 * dictionary, and through one per-connection deflate context (context
 * takeover, the reference), plus the JSON an unoptimised server sends. Writes
 * bench/results/sizes.json for scripts/perf-table.ts.
 *
 * Usage: tsx scripts/bench-sizes.ts [--seconds 60]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import {
  createFflateDeflater,
  createZlibDeflater,
  frameBatch,
  MARKER_PLAIN,
  trainDictionary,
} from "deltaframe/codec";
import { sessionBatches } from "../bench/support/batches.js";
import { ContextDeflater } from "../bench/support/context-deflate.js";
import { BENCH_SEED } from "../bench/support/frames.js";
import { RESULTS_DIR, resultPath, type SizesResult } from "../bench/support/results.js";

const i = process.argv.indexOf("--seconds");
const seconds = i >= 0 ? Number(process.argv[i + 1]) : 60;

const stream = sessionBatches(BENCH_SEED, seconds);
const dictionary = trainDictionary(sessionBatches(BENCH_SEED + 1, 30).batches, 8192);
const { batches, ticks } = stream;

function total(messages: Iterable<Uint8Array>): number {
  let n = 0;
  for (const m of messages) n += m.length;
  return n;
}

async function throughContext(messages: readonly Uint8Array[]): Promise<number> {
  const ctx = new ContextDeflater();
  let n = 0;
  for (const m of messages) n += (await ctx.deflate(m)).length;
  ctx.close();
  return n;
}

const json = stream.json.map((s) => Buffer.from(s));
const rows: SizesResult["rows"] = [];
function row(name: string, note: string, bytes: number, messages: number): void {
  rows.push({ name, note, bytesPerTick: bytes / ticks, bytesPerMessage: bytes / messages });
}

/** What a session sends for batch `i` given how the codec framed it: when deflate did not apply, the plain message as sent. */
function asSent(message: Uint8Array, i: number): Uint8Array {
  return message[0] === MARKER_PLAIN ? stream.messages[i]! : message;
}

row("deltaframe plain", "as the session sends them, no compression", total(stream.messages), batches.length);
for (const [label, deflater] of [
  ["zlib", createZlibDeflater()],
  ["fflate", createFflateDeflater()],
] as const) {
  row(
    `deltaframe deflate (${label})`,
    "per message, stateless, default threshold 256 B, only if smaller",
    total(batches.map((b, i) => asSent(frameBatch(b, { compress: true, deflater }), i))),
    batches.length,
  );
  row(
    `deltaframe deflate + 8 KB dictionary (${label})`,
    "per message, stateless, dictionary trained on another seed",
    total(
      batches.map((b, i) =>
        asSent(frameBatch(b, { compress: true, deflater, dictionary: { index: 1, bytes: dictionary } }), i),
      ),
    ),
    batches.length,
  );
}
{
  // The same without the size threshold: every message deflated when that makes it smaller.
  const deflater = createZlibDeflater();
  row(
    "deltaframe deflate, no threshold (zlib)",
    "per message, stateless, compressThresholdBytes 0, only if smaller",
    total(
      batches.map((b, i) =>
        asSent(frameBatch(b, { compress: true, deflater, compressThresholdBytes: 0 }), i),
      ),
    ),
    batches.length,
  );
  row(
    "deltaframe deflate + 8 KB dictionary, no threshold (zlib)",
    "per message, stateless, compressThresholdBytes 0, only if smaller",
    total(
      batches.map((b, i) =>
        asSent(
          frameBatch(b, {
            compress: true,
            deflater,
            compressThresholdBytes: 0,
            dictionary: { index: 1, bytes: dictionary },
          }),
          i,
        ),
      ),
    ),
    batches.length,
  );
}
row(
  "deltaframe, context takeover",
  "one zlib context per connection (permessage-deflate's way); reference",
  await throughContext(stream.messages),
  batches.length,
);
row("JSON per tick", "one message per tick: market id, time, changed selections", total(json), json.length);
row(
  "JSON per tick, context takeover",
  "the same through permessage-deflate with context takeover",
  await throughContext(json),
  json.length,
);

const result: SizesResult = {
  ticks,
  batches: batches.length,
  rows,
  reference: "deltaframe, context takeover",
};
mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(resultPath("sizes"), `${JSON.stringify(result, null, 2)}\n`);
for (const r of rows) console.log(`${r.name.padEnd(45)} ${r.bytesPerTick.toFixed(2).padStart(8)} B/tick`);
