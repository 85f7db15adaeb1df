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
import { bench, describe } from "vitest";
import { WINDOW_MESSAGES_PER_ITERATION } from "./support/groups.js";
import { opts, sink } from "./support/options.js";
import { ackAll, STREAM, syncedSession } from "./support/session-pair.js";

const PER = WINDOW_MESSAGES_PER_ITERATION;

const server = syncedSession(1);
const pair = syncedSession(2);
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
      ackAll(s, now);
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
