/**
 * `deltaframe connect`: follows a stream of a deltaframe server and prints
 * what arrives.
 *
 * @module
 */
import { fromBinary, toJson } from "@bufbuild/protobuf";
import { connectWs, Follower } from "../adapters/ws.js";
import { MarketSchema, MarketStatusChangedSchema } from "../workload/index.js";
import { type CliIo, flagOption, type OptionValues, parseIntOption, stringOption, UsageError } from "./io.js";

/** Usage text of `deltaframe connect`. */
export const CONNECT_USAGE = `Usage: deltaframe connect [options] <ws://host:port/>

Follows a stream of the odds schema, reconnecting and resuming when the
connection drops, and prints a summary line per second (or, with --json,
one JSON line per event). Ends with the replica's key count and state hash.

Options:
  --stream <name>  stream to follow (default odds)
  --seconds <n>    stop after this many seconds; 0 runs until interrupted (default 0)
  --json           print every event as a JSON line
  -h, --help       show this help`;

/** Runs `deltaframe connect`; returns the exit code. */
export async function runConnect(values: OptionValues, positionals: string[], io: CliIo): Promise<number> {
  const url = positionals[0];
  if (url === undefined || positionals.length > 1 || !/^wss?:\/\//.test(url)) {
    throw new UsageError("give one ws:// or wss:// URL");
  }
  const stream = stringOption(values, "stream") ?? "odds";
  const seconds = parseIntOption("seconds", stringOption(values, "seconds"), 0, 0, 86_400 * 365);
  const json = flagOption(values, "json");
  let s = 0x9e3779b9;
  const follower = new Follower({
    schema: MarketSchema,
    stream,
    random: () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    },
    connect: (session, handlers) => connectWs(url, session, handlers),
    onEvent: (event) => {
      if (!json) {
        if (event.type === "closed") io.stdout(`closed: ${event.code} ${event.reason}\n`);
        return;
      }
      const line: Record<string, unknown> = { type: event.type };
      if (event.type === "update") {
        Object.assign(line, {
          key: event.key,
          version: event.version.toString(),
          kind: event.kind,
          bytes: event.body.length,
        });
      } else if (event.type === "event") {
        let payload: unknown;
        try {
          payload = toJson(MarketStatusChangedSchema, fromBinary(MarketStatusChangedSchema, event.payload));
        } catch {
          // Not an odds event: shown as bytes rather than ending the command.
          payload = { bytes: event.payload.length, undecodable: true };
        }
        Object.assign(line, { offset: event.offset.toString(), payload });
      } else if (event.type === "snapshot") {
        Object.assign(line, { entries: event.entries.length, removed: event.removed.length });
      } else if (event.type === "closed" || event.type === "unsubscribed") {
        Object.assign(line, { code: event.code, reason: event.reason });
      } else if (event.type === "welcome") {
        Object.assign(line, { resumed: event.resumed, windowMessages: event.windowMessages });
      }
      io.stdout(`${JSON.stringify(line)}\n`);
    },
  });
  follower.start();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  io.signal?.addEventListener("abort", onSignal);
  let last = 0;
  const report = json
    ? undefined
    : setInterval(() => {
        const m = follower.metrics;
        io.stdout(
          `keys=${follower.replica.size} updates=${m.updates} (+${m.updates - last}/s) events=${m.events} conflated=${m.conflated} resumes=${m.resumes}\n`,
        );
        last = m.updates;
      }, 1000);
  let deadline: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    stop.signal.addEventListener("abort", () => resolve());
    if (seconds > 0) deadline = setTimeout(resolve, seconds * 1000);
  });
  // Stopped early (Ctrl-C): the deadline must not keep the process alive.
  clearTimeout(deadline);
  if (report) clearInterval(report);
  process.removeListener("SIGINT", onSignal);
  follower.stop();
  await new Promise((r) => setTimeout(r, 50));
  const hash = follower.replica.stateHash().toString(16).padStart(16, "0");
  io.stdout(
    `${json ? JSON.stringify({ type: "summary", keys: follower.replica.size, hash }) : `replica: ${follower.replica.size} keys, state hash 0x${hash}`}\n`,
  );
  return follower.metrics.connects > 0 && follower.replica.size > 0 ? 0 : 1;
}
