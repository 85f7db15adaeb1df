/**
 * Compression speed per transport message: one 100 ms batch of the reference
 * workload, raw deflate with node:zlib and fflate (the codec's deflaters),
 * with and without a trained dictionary, against per-connection deflate with
 * context takeover (permessage-deflate's way, the reference). Sizes are in
 * scripts/bench-sizes.ts (deterministic); memory per context in
 * scripts/bench-memory.ts.
 */
import {
  createFflateDeflater,
  createZlibDeflater,
  frameBatch,
  trainDictionary,
  unframeBatch,
} from "deltaframe/codec";
import { bench, describe } from "vitest";
import { sessionBatches } from "./support/batches.js";
import { ContextDeflater, ContextInflater } from "./support/context-deflate.js";
import { BENCH_SEED } from "./support/frames.js";
import { FANOUT_SUBSCRIBERS } from "./support/groups.js";
import { opts, sink } from "./support/options.js";

// What a server session sends for 30 s of the reference workload, one message per 100 ms.
const { batches } = sessionBatches(BENCH_SEED, 30);
// The dictionary is trained on another seed's traffic, as a deployment would ship one.
const dictionary = trainDictionary(sessionBatches(BENCH_SEED + 1, 30).batches, 8192);
const zlib = createZlibDeflater();
const fflate = createFflateDeflater();
const N = batches.length;

let i = 0;
function next(): number {
  i = (i + 1) % N;
  return i;
}

const deflated = batches.map((b) => zlib.deflateRaw(b));
const deflatedDict = batches.map((b) => zlib.deflateRaw(b, dictionary));
const framed = batches.map((b) =>
  frameBatch(b, { compress: true, compressThresholdBytes: 0, onlyIfSmaller: false }),
);

const sender = new ContextDeflater();
// The whole sequence through one context, to be inflated in order.
const contextStream: Uint8Array[] = [];
{
  const ctx = new ContextDeflater();
  for (const b of batches) contextStream.push(await ctx.deflate(b));
  ctx.close();
}
let receiver = new ContextInflater();
let r = 0;

describe("deflate-batch", () => {
  bench(
    "deflate-batch/context-takeover",
    async () => {
      sink.value = await sender.deflate(batches[next()]!);
    },
    opts(),
  );
  bench(
    "deflate-batch/zlib",
    () => {
      sink.value = zlib.deflateRaw(batches[next()]!);
    },
    opts(),
  );
  bench(
    "deflate-batch/zlib-dictionary",
    () => {
      sink.value = zlib.deflateRaw(batches[next()]!, dictionary);
    },
    opts(),
  );
  bench(
    "deflate-batch/fflate",
    () => {
      sink.value = fflate.deflateRaw(batches[next()]!);
    },
    opts(),
  );
  bench(
    "deflate-batch/fflate-dictionary",
    () => {
      sink.value = fflate.deflateRaw(batches[next()]!, dictionary);
    },
    opts(),
  );
  bench(
    "deflate-batch/deltaframe-frameBatch",
    () => {
      sink.value = frameBatch(batches[next()]!, { compress: true, compressThresholdBytes: 0 });
    },
    opts(),
  );
});

describe("inflate-batch", () => {
  bench(
    "inflate-batch/context-takeover",
    async () => {
      if (r === N) {
        receiver.close();
        receiver = new ContextInflater();
        r = 0;
      }
      sink.value = await receiver.inflate(contextStream[r++]!);
    },
    opts(),
  );
  bench(
    "inflate-batch/zlib",
    () => {
      const n = next();
      sink.value = zlib.inflateRaw(deflated[n]!, batches[n]!.length);
    },
    opts(),
  );
  bench(
    "inflate-batch/zlib-dictionary",
    () => {
      const n = next();
      sink.value = zlib.inflateRaw(deflatedDict[n]!, batches[n]!.length, dictionary);
    },
    opts(),
  );
  bench(
    "inflate-batch/fflate",
    () => {
      const n = next();
      sink.value = fflate.inflateRaw(deflated[n]!, batches[n]!.length);
    },
    opts(),
  );
  bench(
    "inflate-batch/fflate-dictionary",
    () => {
      const n = next();
      sink.value = fflate.inflateRaw(deflatedDict[n]!, batches[n]!.length, dictionary);
    },
    opts(),
  );
  bench(
    "inflate-batch/deltaframe-unframeBatch",
    () => {
      sink.value = unframeBatch(framed[next()]!, { decompress: true });
    },
    opts(),
  );
});

// One batch to many subscribers: compressed once and shared, or once per connection context.
const contexts = Array.from({ length: FANOUT_SUBSCRIBERS }, () => new ContextDeflater());
describe("deflate-fanout", () => {
  bench(
    "deflate-fanout/context-takeover",
    async () => {
      const b = batches[next()]!;
      sink.value = await Promise.all(contexts.map((c) => c.deflate(b)));
    },
    opts(600),
  );
  bench(
    "deflate-fanout/deltaframe-shared",
    () => {
      const message = frameBatch(batches[next()]!, { compress: true, compressThresholdBytes: 0 });
      const out: Uint8Array[] = [];
      for (let s = 0; s < FANOUT_SUBSCRIBERS; s++) out.push(message);
      sink.value = out;
    },
    opts(),
  );
  bench(
    "deflate-fanout/deltaframe-shared-dictionary",
    () => {
      const message = frameBatch(batches[next()]!, {
        compress: true,
        compressThresholdBytes: 0,
        dictionary: { index: 1, bytes: dictionary },
      });
      const out: Uint8Array[] = [];
      for (let s = 0; s < FANOUT_SUBSCRIBERS; s++) out.push(message);
      sink.value = out;
    },
    opts(),
  );
});
