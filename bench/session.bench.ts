/**
 * Session cost per message (DESIGN §7: sans-IO window bookkeeping ≤ 50 ns
 * per message). A ratio is not possible here: the figure is nanoseconds per
 * message, shown next to an empty loop of the same length. Each iteration
 * handles 1,000 messages.
 *
 * - `window/send-window`, `window/receive-window`: the credit window alone
 *   (`SendWindow`, `ReceiveWindow` of deltaframe/session), as the sessions
 *   use it: per message a credit check and a charge (sender), or a receive
 *   check, a consume and an ack-due check (receiver); one cumulative ack per
 *   iteration. This is the bookkeeping the target is about.
 * - `window/server`: the whole ServerSession.publish path for 1,000 changes
 *   (one odds tick each, bodies encoded beforehand, as the hub hands them
 *   over) to a synced subscription with ample credit, draining its transport
 *   messages and taking one cumulative ack: bookkeeping plus laying out and
 *   encoding the `Updates` frames.
 * - `window/pair`: the same with a real ClientSession receiving every
 *   message, consuming it and acking on its timer (both ends, decode included).
 */
import { ReceiveWindow, SendWindow } from "deltaframe/session";
import { bench, describe } from "vitest";
import { WINDOW_MESSAGES_PER_ITERATION } from "./support/groups.js";
import { opts, sink } from "./support/options.js";
import { ackAll, STREAM, syncedSession } from "./support/session-pair.js";

const PER = WINDOW_MESSAGES_PER_ITERATION;
/** Payload bytes of one message: the mean patch size of an odds tick. */
const BODY_BYTES = 9;

const sendWindow = new SendWindow(65_536, 1 << 24);
const receiveWindow = new ReceiveWindow(65_536, 1 << 24);
const server = syncedSession(1);
const pair = syncedSession(2);
// One clock per connection: a session that sees no input for its idle timeout closes itself.
let serverNow = 1000;
let pairNow = 1000;

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
    "window/send-window",
    () => {
      const w = sendWindow;
      let sent = 0;
      for (let n = 0; n < PER; n++) {
        if (w.canSend(BODY_BYTES)) {
          w.charge(BODY_BYTES);
          sent++;
        }
      }
      if (sent !== PER) throw new Error("bench window: ran out of credit");
      w.ack(BigInt(w.sentMessages), BigInt(w.sentBytes));
    },
    opts(),
  );
  bench(
    "window/receive-window",
    () => {
      const w = receiveWindow;
      let acks = 0;
      for (let n = 0; n < PER; n++) {
        w.receive(BODY_BYTES);
        w.consume(BODY_BYTES, 1);
        if (w.ackDue) acks++;
      }
      sink.value = w.ack();
      sink.value = acks;
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
      ackAll(server, serverNow);
    },
    opts(),
  );
  bench(
    "window/pair",
    () => {
      pairNow += 100;
      pair.pair.server.publish(STREAM, pair.next(PER), pairNow);
      pair.pair.settle(pairNow);
      if (pair.pair.server.isClosed || pair.pair.client.isClosed) throw new Error("bench session closed");
    },
    opts(),
  );
});
