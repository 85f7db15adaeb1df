#!/usr/bin/env node
/**
 * The `deltaframe` command: `demo`, `serve`, `connect`, `inspect`,
 * `dict train`. Every subcommand takes `--help`.
 *
 * Exit codes: 0 success, 1 failure (bad input, failed check), 2 usage error.
 *
 * @module
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { COMMANDS, type Command } from "./commands.js";
import { type CliIo, describeError, type OptionValues, processIo, UsageError } from "./io.js";

export type { CliIo } from "./io.js";

/** Usage text of `deltaframe` itself. */
export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(" ").length));
  const lines = COMMANDS.map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`);
  return `Usage: deltaframe <command> [options]

Commands:
${lines.join("\n")}

Run 'deltaframe <command> --help' for a command's options.`;
}

function findCommand(argv: readonly string[]): Command | undefined {
  return COMMANDS.find((c) => c.path.every((word, i) => argv[i] === word));
}

/**
 * Runs the `deltaframe` command line with `argv` (the words after the program
 * name) and returns the exit code: 0 success, 1 failure, 2 usage error.
 * Never throws; errors are printed to `io.stderr` on one line, naming the
 * `DF_ERR_…` code for deltaframe errors.
 */
export async function main(argv: readonly string[], ioOverrides: Partial<CliIo> = {}): Promise<number> {
  const io: CliIo = { ...processIo(), ...ioOverrides };
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    (argv.length === 0 ? io.stderr : io.stdout)(`${mainUsage()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const command = findCommand(argv);
  if (command === undefined) {
    io.stderr(`deltaframe: unknown command ${JSON.stringify(argv.join(" "))}\n${mainUsage()}\n`);
    return 2;
  }
  const name = command.path.join(" ");
  const rest = argv.slice(command.path.length);
  try {
    let parsed: { values: OptionValues; positionals: string[] };
    try {
      parsed = parseArgs({
        args: [...rest],
        options: { ...command.options, help: { type: "boolean", short: "h" } },
        allowPositionals: true,
        strict: true,
      }) as { values: OptionValues; positionals: string[] };
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    if (parsed.values.help === true) {
      io.stdout(`${await command.usage()}\n`);
      return 0;
    }
    return await command.run(parsed.values, parsed.positionals, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`deltaframe ${name}: ${error.message}\nRun 'deltaframe ${name} --help' for usage.\n`);
      return 2;
    }
    io.stderr(`deltaframe ${name}: ${describeError(error).replace(/\s*\n\s*/g, " ")}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`deltaframe: ${describeError(error)}\n`);
      process.exitCode = 1;
    },
  );
}
