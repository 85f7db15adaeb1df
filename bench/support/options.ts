/**
 * Bench options shared by every bench file. A full run measures each case for
 * a short time (the whole suite must finish in about five minutes on two
 * cores); `BENCH_SMOKE=1` runs every case once with no warm-up, so that CI
 * checks that the benches still run without timing anything.
 *
 * @module
 */
import type { BenchOptions } from "vitest";

/** True when `BENCH_SMOKE=1`: every case runs once, nothing is timed. */
export const SMOKE = process.env.BENCH_SMOKE === "1";

/**
 * Returns the options of one bench case: `timeMs` of measurement after a
 * warm-up of a quarter of that (at least 5 samples), or a single run in smoke
 * mode. Default 300 ms: enough for a stable mean on microsecond cases.
 */
export function opts(timeMs = 300): BenchOptions {
  // No `throws` here: with no warm-up, vitest 4.1 hangs on a throwing case when `throws` is set; a
  // throwing case still fails the run.
  if (SMOKE) return { time: 0, iterations: 1, warmupTime: 0, warmupIterations: 0 };
  return {
    time: timeMs,
    iterations: 5,
    warmupTime: Math.ceil(timeMs / 4),
    warmupIterations: 5,
    throws: true,
  };
}

/** Holds each case's last result, so that no case is optimised away. */
export const sink: { value: unknown } = { value: undefined };
