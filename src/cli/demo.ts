/**
 * `deltaframe demo`.
 *
 * @module
 */
import type { CliIo, OptionValues } from "./io.js";

/** Usage text of `deltaframe demo`. */
export const DEMO_USAGE = `Usage: deltaframe demo [options]`;

/** Runs `deltaframe demo`; returns the exit code. */
export async function runDemo(_values: OptionValues, _positionals: string[], io: CliIo): Promise<number> {
  io.stderr("deltaframe demo: not available in this build\n");
  return 1;
}
