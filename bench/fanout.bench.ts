/**
 * Fan-out (DESIGN §7: the cost of one more subscriber to an already encoded
 * batch at ≤ 2× a copy of its bytes). Baseline: `Uint8Array.prototype.slice`
 * of a 100 ms transport message of the reference workload (~290 B).
 *
 * - `fanout/deltaframe-1` and `fanout/deltaframe-65`: one 100 ms batch of the
 *   reference workload (as the hub flushes it: a `SharedBatch`) handed to 1
 *   and to 65 synced sessions. The first session's request encodes the
 *   batch; every session checks that it is in lockstep, accounts credit and
 *   held versions, hands out the shared message, and takes its client's
 *   coalesced ack. The cost of one more subscriber is the difference of the
 *   two divided by 64 (scripts/perf-table.ts computes it): over that many
 *   subscribers the run-to-run noise of the one-session case matters little.
 * - `fanout/own-framing`: what a session that is not in lockstep (it lags,
 *   or its client has other wire settings) does instead: it gets the
 *   batch's changes (bodies already encoded, shared), lays out and encodes
 *   its own `Updates` frame and transport message, and takes its ack.
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
import {
  ackAll,
  ackMessage,
  STREAM,
  type SyncedFanout,
  syncedFanout,
  syncedSession,
} from "./support/session-pair.js";

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
const one = syncedFanout([10]);
const many = syncedFanout(Array.from({ length: 65 }, (_, i) => 20 + i));

/** Hands the next 100 ms batch to every session of `fanout`, drains what each sends, and acks it. */
function shareBatch(fanout: SyncedFanout): void {
  now += 100;
  const batch = fanout.nextBatch(TICKS_PER_BATCH);
  const ack = ackMessage(fanout);
  for (const pair of fanout.pairs) {
    const server = pair.server;
    server.publishBatch(batch, now);
    for (let m = server.pollTransmit(); m !== undefined; m = server.pollTransmit()) sink.value = m;
    server.handleMessage(ack, now);
  }
  fanout.delivered(batch);
  // Every session must have taken the shared message, else this measures the wrong path.
  if (batch.metrics.deliveries !== fanout.pairs.length || batch.metrics.encodings !== 1) {
    throw new Error("fanout bench: a session did not take the shared batch");
  }
}

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
    "fanout/deltaframe-1",
    () => {
      shareBatch(one);
    },
    opts(),
  );
  bench(
    "fanout/deltaframe-65",
    () => {
      shareBatch(many);
    },
    opts(),
  );
  bench(
    "fanout/own-framing",
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
