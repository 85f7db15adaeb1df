/**
 * Delta speed (DESIGN §7: diff + encode of one market tick at ≤ 0.5× the cost
 * of encoding the whole market with protobuf-es). Each iteration takes the
 * next of 256 seeded ticks of the reference workload, so that no single
 * tick's shape dominates.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { decodeFrame, encodeFrame } from "deltaframe/codec";
import { apply, diff, encodeChange } from "deltaframe/delta";
import { type Market, MarketSchema, OddsFeed } from "deltaframe/workload";
import { bench, describe } from "vitest";
import { BENCH_SEED, updateFrame } from "./support/frames.js";
import { opts, sink } from "./support/options.js";

const TICKS = 256;
const feed = new OddsFeed({ seed: BENCH_SEED });
const ticks = Array.from({ length: TICKS }, () => feed.next());
const patches = ticks.map((t) => encodeChange(MarketSchema, t.previous, t.market));
const frames = ticks.map((t, i) =>
  encodeFrame(
    updateFrame({
      alias: 1,
      firstOffset: t.index + 1,
      keyIds: [feed.keys.indexOf(t.key) + 1],
      sizes: [(patches[i]!.body.length << 2) | (patches[i]!.kind === "patch" ? 1 : 0)],
      bodies: patches[i]!.body,
    }),
  ),
);
const full = ticks.map((t) => toBinary(MarketSchema, t.market));
for (const p of patches)
  if (p.kind !== "patch") throw new Error("bench input: a tick encoded as a full value");

let i = 0;
function next(): number {
  i = (i + 1) & (TICKS - 1);
  return i;
}

describe("tick-diff", () => {
  bench(
    "tick-diff/protobuf-es-full",
    () => {
      sink.value = toBinary(MarketSchema, ticks[next()]!.market);
    },
    opts(),
  );
  bench(
    "tick-diff/deltaframe",
    () => {
      const t = ticks[next()]!;
      sink.value = encodeChange(MarketSchema, t.previous, t.market);
    },
    opts(),
  );
  bench(
    "tick-diff/deltaframe-diff-only",
    () => {
      const t = ticks[next()]!;
      sink.value = diff(MarketSchema, t.previous, t.market);
    },
    opts(),
  );
  bench(
    "tick-diff/deltaframe-frame",
    () => {
      const n = next();
      const t = ticks[n]!;
      const change = encodeChange(MarketSchema, t.previous, t.market);
      sink.value = encodeFrame(
        updateFrame({
          alias: 1,
          firstOffset: t.index + 1,
          keyIds: [n + 1],
          sizes: [(change.body.length << 2) | 1],
          bodies: change.body,
        }),
      );
    },
    opts(),
  );
});

describe("tick-apply", () => {
  bench(
    "tick-apply/protobuf-es-full",
    () => {
      sink.value = fromBinary(MarketSchema, full[next()]!);
    },
    opts(),
  );
  bench(
    "tick-apply/deltaframe",
    () => {
      const n = next();
      sink.value = apply(MarketSchema, ticks[n]!.previous, patches[n]!.body);
    },
    opts(),
  );
  bench(
    "tick-apply/deltaframe-frame",
    () => {
      const n = next();
      const frame = decodeFrame(frames[n]!);
      const updates = frame.body.case === "updates" ? frame.body.value : undefined;
      sink.value = apply(MarketSchema, ticks[n]!.previous as Market, updates!.bodies);
    },
    opts(),
  );
});
