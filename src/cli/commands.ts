/**
 * The table of `deltaframe` subcommands: their usage, option grammar and
 * runner. Heavy commands load their module only when run.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import type { CliIo, OptionValues } from "./io.js";

export type { OptionValues } from "./io.js";

/** One subcommand. */
export interface Command {
  /** Words that select it, e.g. `["dict", "train"]`. */
  readonly path: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text. */
  readonly usage: () => Promise<string>;
  /** Option grammar (without `--help`, which every command takes). */
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  /** Runs the command; returns the exit code. */
  readonly run: (values: OptionValues, positionals: string[], io: CliIo) => Promise<number>;
}

/** Every subcommand of `deltaframe`. */
export const COMMANDS: readonly Command[] = [
  {
    path: ["demo"],
    summary: "live loopback demo: a server publishing the odds feed, many clients, a replica check",
    usage: async () => (await import("./demo.js")).DEMO_USAGE,
    options: {
      clients: { type: "string" },
      seconds: { type: "string" },
      seed: { type: "string" },
      port: { type: "string" },
      rate: { type: "string" },
      plain: { type: "boolean" },
      hashes: { type: "boolean" },
    },
    run: async (values, positionals, io) => (await import("./demo.js")).runDemo(values, positionals, io),
  },
  {
    path: ["serve"],
    summary: "serve the odds feed over WebSocket",
    usage: async () => (await import("./serve.js")).SERVE_USAGE,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      seed: { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
      hashes: { type: "boolean" },
    },
    run: async (values, positionals, io) => (await import("./serve.js")).runServe(values, positionals, io),
  },
  {
    path: ["connect"],
    summary: "connect to a deltaframe server, follow a stream, print what arrives",
    usage: async () => (await import("./connect.js")).CONNECT_USAGE,
    options: {
      stream: { type: "string" },
      seconds: { type: "string" },
      json: { type: "boolean" },
    },
    run: async (values, positionals, io) =>
      (await import("./connect.js")).runConnect(values, positionals, io),
  },
  {
    path: ["inspect"],
    summary: "decode transport messages or frames (file, hex or stdin) into JSON",
    usage: async () => (await import("./inspect.js")).INSPECT_USAGE,
    options: {
      hex: { type: "string" },
      frame: { type: "boolean" },
      schema: { type: "string" },
      dict: { type: "string", multiple: true },
      pretty: { type: "boolean" },
    },
    run: async (values, positionals, io) =>
      (await import("./inspect.js")).runInspect(values, positionals, io),
  },
  {
    path: ["dict", "train"],
    summary: "build a compression dictionary from sample frames",
    usage: async () => (await import("./dict.js")).DICT_TRAIN_USAGE,
    options: {
      out: { type: "string" },
      "max-bytes": { type: "string" },
      gram: { type: "string" },
      "min-samples": { type: "string" },
      odds: { type: "string" },
      seed: { type: "string" },
    },
    run: async (values, positionals, io) => (await import("./dict.js")).runDictTrain(values, positionals, io),
  },
];
