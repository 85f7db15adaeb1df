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
// One clock per connection: a session that sees no input for its idle timeout closes itself.
let serverNow = 1000;
let pairNow = 1000;

/** Fails the case when the session closed: a closed session publishes nothing, and its timing means nothing. */
function checkOpen(s: { readonly isClosed: boolean }): void {
  if (s.isClosed) throw new Error("bench session closed");
}

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
      serverNow += 100;
      s.publish(STREAM, server.next(PER), serverNow);
      for (let m = s.pollTransmit(); m !== undefined; m = s.pollTransmit()) sink.value = m;
      ackAll(s, serverNow);
      checkOpen(s);
    },
    opts(),
  );
  bench(
    "window/pair",
    () => {
      pairNow += 100;
      pair.pair.server.publish(STREAM, pair.next(PER), pairNow);
      pair.pair.settle(pairNow);
      checkOpen(pair.pair.server);
      checkOpen(pair.pair.client);
    },
    opts(),
  );
});
