/**
 * Fan-out (DESIGN §7: the cost of one more subscriber to an already encoded
 * batch at ≤ 2× a copy of its bytes). Baseline: `Uint8Array.prototype.slice`
 * of a 100 ms transport message of the reference workload (~290 B).
 *
 * - `fanout/deltaframe`: what the hub does per attached session on flush: the
 *   session gets the batch's changes (bodies already encoded, shared), does
 *   its credit accounting, lays out and encodes its own `Updates` frame and
 *   transport message, and takes the coalesced ack. The change items are
 *   created per iteration (the hub creates them once for all sessions; a few
 *   hundred nanoseconds of the total).
 * - `fanout/codec-reframe`: the codec alone: the subscriber's own `Updates`
 *   frame around the shared bodies, its batch and its transport message.
 * - `fanout/shared-message`: the lower bound, the very same message object
 *   handed to one more subscriber.
 */
import { create } from "@bufbuild/protobuf";
import { encodeBatchFromEncodedFrames, encodeFrame, frameBatch } from "deltaframe/codec";
import { FrameSchema, UpdatesSchema } from "deltaframe/proto";
import { bench, describe } from "vitest";
import { referenceBatches } from "./support/batches.js";
import { BENCH_SEED } from "./support/frames.js";
import { opts, sink } from "./support/options.js";
import { ackAll, STREAM, syncedSession } from "./support/session-pair.js";

const stream = referenceBatches(BENCH_SEED, 10);
const messages = stream.batches.map((b) => frameBatch(b));
const N = messages.length;
let i = 0;
function next(): number {
  i = (i + 1) % N;
  return i;
}
let alias = 0;
const session = syncedSession(3);
/** Ticks per 100 ms batch on the reference workload (mean tick gap 5 ms). */
const TICKS_PER_BATCH = Math.round(stream.ticks / stream.batches.length);
let now = 1000;
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
      const server = session.pair.server;
      now += 100;
      server.publish(STREAM, session.next(TICKS_PER_BATCH), now);
      for (let m = server.pollTransmit(); m !== undefined; m = server.pollTransmit()) sink.value = m;
      ackAll(session, now);
    },
    opts(),
  );
  bench(
    "fanout/codec-reframe",
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
