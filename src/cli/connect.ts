/**
 * `deltaframe connect`.
 *
 * @module
 */
import type { CliIo, OptionValues } from "./io.js";

/** Usage text of `deltaframe connect`. */
export const CONNECT_USAGE = `Usage: deltaframe connect [options]`;

/** Runs `deltaframe connect`; returns the exit code. */
export async function runConnect(_values: OptionValues, _positionals: string[], io: CliIo): Promise<number> {
  io.stderr("deltaframe connect: not available in this build\n");
  return 1;
}
