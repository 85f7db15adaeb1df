/**
 * Fan-out (DESIGN §7: the cost of one more subscriber to an already encoded
 * batch at ≤ 2× a copy of its bytes). Baseline: `Uint8Array.prototype.slice`
 * of the transport message. The hub layer is not there yet, so the
 * deltaframe case does what a sender can do today with the codec: the update
 * bodies are encoded once, and each subscriber gets its own `Updates` frame
 * (its alias; key ids and offsets shared) around them, its batch and its
 * transport message. `fanout/shared-message` is the lower bound: the very
 * same message object handed to one more subscriber.
 */
import { create } from "@bufbuild/protobuf";
import { encodeBatchFromEncodedFrames, encodeFrame, frameBatch } from "deltaframe/codec";
import { FrameSchema, UpdatesSchema } from "deltaframe/proto";
import { bench, describe } from "vitest";
import { referenceBatches } from "./support/batches.js";
import { BENCH_SEED } from "./support/frames.js";
import { opts, sink } from "./support/options.js";

const stream = referenceBatches(BENCH_SEED, 10);
const messages = stream.batches.map((b) => frameBatch(b));
const N = messages.length;
let i = 0;
function next(): number {
  i = (i + 1) % N;
  return i;
}
let alias = 0;
const subscribers: Uint8Array[] = [];

describe("fanout", () => {
  bench(
    "fanout/slice",
    () => {
      sink.value = messages[next()]!.slice();
    },
    opts(),
  );
  bench(
    "fanout/shared-message",
    () => {
      subscribers.push(messages[next()]!);
      if (subscribers.length > 1000) subscribers.length = 0;
    },
    opts(),
  );
  bench(
    "fanout/deltaframe",
    () => {
      const n = next();
      const u = stream.updates[n]!;
      alias = (alias % 1000) + 1;
      const updates = encodeFrame(
        create(FrameSchema, {
          body: {
            case: "updates",
            value: create(UpdatesSchema, {
              alias,
              firstOffset: BigInt(u.firstOffset),
              keyIds: u.keyIds,
              sizes: u.sizes,
              bodies: u.bodies,
            }),
          },
        }),
      );
      sink.value = frameBatch(encodeBatchFromEncodedFrames([updates, ...stream.events[n]!]));
    },
    opts(),
  );
});
