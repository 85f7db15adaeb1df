/**
 * `deltaframe serve`: serves the reference odds feed over WebSocket.
 *
 * @module
 */
import { type CliIo, flagOption, type OptionValues, parseIntOption, stringOption } from "./io.js";
import { ODDS_STREAM, startOddsServer } from "./odds-server.js";

/** Usage text of `deltaframe serve`. */
export const SERVE_USAGE = `Usage: deltaframe serve [options]

Serves the reference odds workload (stream "${ODDS_STREAM}") over WebSocket,
with resume. Follow it with 'deltaframe connect ws://HOST:PORT/'.

Options:
  --port <n>       port to listen on, 0 for any free port (default 8080)
  --host <addr>    address to listen on (default 127.0.0.1)
  --seed <n>       seed of the workload (default 1)
  --rate <n>       ticks per second (default 200)
  --seconds <n>    stop after this many seconds; 0 runs until interrupted (default 0)
  --hashes         send the canonical hash of each result with every update
  -h, --help       show this help`;

/** Runs `deltaframe serve`; returns the exit code. */
export async function runServe(values: OptionValues, _positionals: string[], io: CliIo): Promise<number> {
  const port = parseIntOption("port", stringOption(values, "port"), 8080, 0, 65_535);
  const host = stringOption(values, "host") ?? "127.0.0.1";
  const seed = parseIntOption("seed", stringOption(values, "seed"), 1);
  const rate = parseIntOption("rate", stringOption(values, "rate"), 200, 1, 1_000_000);
  const seconds = parseIntOption("seconds", stringOption(values, "seconds"), 0, 0, 86_400 * 365);
  const server = await startOddsServer({
    port,
    host,
    seed,
    rate,
    session: {},
    hashes: flagOption(values, "hashes"),
  });
  io.stdout(
    `deltaframe serve: stream "${ODDS_STREAM}" at ${server.server.url} (${rate} ticks/s, seed ${seed})\n`,
  );
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  io.signal?.addEventListener("abort", onSignal);
  const report = setInterval(() => {
    io.stdout(
      `ticks=${server.ticks()} offset=${server.hub.offset} connections=${server.server.connections.size} encoded=${server.hub.metrics.changesEncoded}\n`,
    );
  }, 5000);
  let deadline: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    stop.signal.addEventListener("abort", () => resolve());
    if (seconds > 0) deadline = setTimeout(resolve, seconds * 1000);
  });
  // Stopped early (Ctrl-C): the deadline must not keep the process alive.
  clearTimeout(deadline);
  clearInterval(report);
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
  await server.close();
  io.stdout(`deltaframe serve: stopped after ${server.ticks()} ticks\n`);
  return 0;
}
