/**
 * Session cost per message (DESIGN §7: sans-IO window bookkeeping ≤ 50 ns
 * per message). A ratio is not possible here: the figure is nanoseconds per
 * message, shown next to an empty loop of the same length. Each iteration
 * publishes 1,000 changes (one odds tick each, bodies encoded beforehand, as
 * the hub hands them over) to a synced subscription with ample credit.
 *
 * - `window/server`: ServerSession.publish, draining its transport messages,
 *   and one cumulative ack per iteration (acks are coalesced). The session
 *   does more than bookkeeping here: it also lays out and encodes the
 *   `Updates` frames. The credit accounting is not a separate unit in the
 *   session's API, so this is an upper bound of it.
 * - `window/pair`: the same, with a real ClientSession receiving every
 *   message, consuming it and acking on its timer (both ends' per-message
 *   cost, decode included).
 */
import { create } from "@bufbuild/protobuf";
import { encodeBatch } from "deltaframe/codec";
import { encodeChange } from "deltaframe/delta";
import { AckSchema, FrameSchema } from "deltaframe/proto";
import type { PublishedChange } from "deltaframe/session";
import { MarketSchema } from "deltaframe/workload";
import { bench, describe } from "vitest";
import { BENCH_SEED } from "./support/frames.js";
import { WINDOW_MESSAGES_PER_ITERATION } from "./support/groups.js";
import { opts, sink } from "./support/options.js";
import { referenceHub, SessionPair, STREAM } from "./support/session-pair.js";

const PER = WINDOW_MESSAGES_PER_ITERATION;

/** A synced connection and a generator of the stream's next changes. */
function setup(id: number) {
  const { hub, feed } = referenceHub(BENCH_SEED);
  const pair = new SessionPair(id, { hub, windowMessages: 65_536 });
  pair.settle(100);
  pair.detach(); // changes are published to the session directly below
  const keys = [...feed.keys];
  const versions = keys.map((k) => hub.state.get(k)!.version);
  const bodies = Array.from({ length: 256 }, () => {
    const t = feed.next();
    return { index: keys.indexOf(t.key), body: encodeChange(MarketSchema, t.previous, t.market).body };
  });
  let offset = hub.offset;
  let b = 0;
  return {
    pair,
    /** Returns the next `count` changes, each a patch against the key's previous version. */
    next(count: number): PublishedChange[] {
      const items: PublishedChange[] = new Array(count);
      for (let n = 0; n < count; n++) {
        const { index, body } = bodies[b]!;
        b = (b + 1) & 255;
        offset++;
        items[n] = { type: "change", key: keys[index]!, offset, kind: "patch", body, base: versions[index]! };
        versions[index] = offset;
      }
      return items;
    },
  };
}

/** The server's cumulative sent counters (private fields, read to build a valid ack). */
interface SentCounters {
  sentMessages: number;
  sentBytes: number;
}

const server = setup(1);
const pair = setup(2);
let now = 1000;

describe("window", () => {
  bench(
    "window/empty-loop",
    () => {
      let x = 0;
      for (let n = 0; n < PER; n++) x += n;
      sink.value = x;
    },
    opts(),
  );
  bench(
    "window/server",
    () => {
      const s = server.pair.server;
      now += 100;
      s.publish(STREAM, server.next(PER), now);
      for (let m = s.pollTransmit(); m !== undefined; m = s.pollTransmit()) sink.value = m;
      const sent = s as unknown as SentCounters;
      const ack = encodeBatch([
        create(FrameSchema, {
          body: {
            case: "ack",
            value: create(AckSchema, { messages: BigInt(sent.sentMessages), bytes: BigInt(sent.sentBytes) }),
          },
        }),
      ]);
      s.handleMessage(ack, now);
    },
    opts(),
  );
  bench(
    "window/pair",
    () => {
      now += 100;
      pair.pair.server.publish(STREAM, pair.next(PER), now);
      pair.pair.settle(now);
    },
    opts(),
  );
});
