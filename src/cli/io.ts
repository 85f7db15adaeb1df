/**
 * The command line's view of the outside world, injectable so that tests can
 * run commands in-process.
 *
 * @module
 */
import { DeltaframeError, isDeltaframeError } from "../errors.js";

/** Where a command reads and writes; every member has a process default. */
export interface CliIo {
  /** Writes text to standard output. */
  stdout: (text: string) => void;
  /** Writes text to standard error. */
  stderr: (text: string) => void;
  /** Reads all of standard input. */
  readStdin: () => Promise<Uint8Array>;
  /** True when standard output is a terminal (live views redraw in place). */
  isTTY: boolean;
  /** Aborted when the command should stop early (Ctrl-C). */
  signal: AbortSignal | undefined;
}

let stdoutGuarded = false;

/** Returns the process's standard streams as a {@link CliIo}. */
export function processIo(): CliIo {
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    // A reader that goes away (`deltaframe inspect … | head -1`) ends the output, not with a stack trace.
    process.stdout.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
    isTTY: process.stdout.isTTY === true,
    signal: undefined,
  };
}

/** A usage error: bad options or arguments. The command prints it with the usage line and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Returns the one-line message printed for an error: `DF_ERR_… : message`
 * for deltaframe errors, the message otherwise.
 */
export function describeError(error: unknown): string {
  if (isDeltaframeError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Throws a usage error unless `value` parses as an integer within `[min, max]`. */
export function parseIntOption(
  name: string,
  value: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Parses hex text (whitespace ignored, optional `0x`) into bytes; throws
 * `DF_ERR_INVALID_ARGUMENT` for anything else.
 */
export function parseHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "").replace(/^0x/i, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_ARGUMENT",
      "cannot parse hex: not an even number of hex digits",
    );
  }
  return new Uint8Array(Buffer.from(clean, "hex"));
}

/** Returns true when `bytes` look like hex text: only hex digits and whitespace, at least one digit. */
export function looksLikeHex(bytes: Uint8Array): boolean {
  let digits = 0;
  for (const b of bytes) {
    const isDigit = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
    const isSpace = b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
    if (isDigit) digits++;
    else if (!isSpace) return false;
  }
  return digits > 0;
}

/** Parsed option values of one command, as `node:util` `parseArgs` returns them. */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Returns a string option's value, or undefined when absent. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/** Returns the values of a repeatable string option. */
export function listOption(values: OptionValues, name: string): string[] {
  const v = values[name];
  if (typeof v === "string") return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Returns true when a boolean option was given. */
export function flagOption(values: OptionValues, name: string): boolean {
  return values[name] === true;
}
