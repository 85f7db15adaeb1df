/**
 * `deltaframe serve`.
 *
 * @module
 */
import type { CliIo, OptionValues } from "./io.js";

/** Usage text of `deltaframe serve`. */
export const SERVE_USAGE = `Usage: deltaframe serve [options]`;

/** Runs `deltaframe serve`; returns the exit code. */
export async function runServe(_values: OptionValues, _positionals: string[], io: CliIo): Promise<number> {
  io.stderr("deltaframe serve: not available in this build\n");
  return 1;
}
