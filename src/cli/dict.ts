/**
 * `deltaframe dict train`: builds a static compression dictionary from sample
 * transport messages or frames, with the codec's trainer.
 *
 * @module
 */
import { readFile, writeFile } from "node:fs/promises";
import { toBinary } from "@bufbuild/protobuf";
import { dictionaryId, MAX_DICTIONARY_BYTES, trainDictionary } from "../codec/index.js";
import { MarketSchema } from "../gen/deltaframe/odds/v1/odds_pb.js";
import { OddsFeed } from "../workload/index.js";
import {
  type CliIo,
  looksLikeHex,
  type OptionValues,
  parseHex,
  parseIntOption,
  stringOption,
  UsageError,
} from "./io.js";

/** Usage text of `deltaframe dict train`. */
export const DICT_TRAIN_USAGE = `Usage: deltaframe dict train [options] --out <file> [sample files...]

Builds a static compression dictionary (at most 32 KiB) from sample
transport messages or frames and prints its content id (the value a client
lists in Hello.dictionaries).

Each sample file is one binary sample, or hex text with one sample per line.

Options:
  --out <file>         where to write the dictionary (required)
  --max-bytes <n>      dictionary size bound, 1-${MAX_DICTIONARY_BYTES} (default 4096)
  --gram <n>           substring length counted, in bytes (default 8)
  --min-samples <n>    keep substrings found in at least this many samples (default 2)
  --odds <n>           add n samples from the reference odds workload (seeded)
  --seed <n>           seed of the odds workload (default 1)
  -h, --help           show this help`;

async function readSamples(path: string): Promise<Uint8Array[]> {
  const raw = new Uint8Array(await readFile(path));
  if (!looksLikeHex(raw)) return [raw];
  return Buffer.from(raw)
    .toString("latin1")
    .split(/\r?\n/)
    .filter((line) => line.trim().length > 0)
    .map(parseHex);
}

/** Runs `deltaframe dict train`; returns the exit code. */
export async function runDictTrain(values: OptionValues, positionals: string[], io: CliIo): Promise<number> {
  const out = stringOption(values, "out");
  if (out === undefined) throw new UsageError("--out <file> is required");
  const maxBytes = parseIntOption(
    "max-bytes",
    stringOption(values, "max-bytes"),
    4096,
    1,
    MAX_DICTIONARY_BYTES,
  );
  const gramBytes = parseIntOption("gram", stringOption(values, "gram"), 8, 2, 64);
  const minSamples = parseIntOption("min-samples", stringOption(values, "min-samples"), 2, 1);
  const odds = parseIntOption("odds", stringOption(values, "odds"), 0, 0, 1_000_000);
  const seed = parseIntOption("seed", stringOption(values, "seed"), 1);
  const samples: Uint8Array[] = [];
  for (const path of positionals) samples.push(...(await readSamples(path)));
  if (odds > 0) {
    const feed = new OddsFeed({ seed });
    for (let i = 0; i < odds; i++) samples.push(toBinary(MarketSchema, feed.next().market));
  }
  if (samples.length === 0) throw new UsageError("no samples: give sample files or --odds <n>");
  const dictionary = trainDictionary(samples, maxBytes, { gramBytes, minSamples });
  await writeFile(out, dictionary);
  const id = Buffer.from(await dictionaryId(dictionary)).toString("hex");
  io.stdout(`${JSON.stringify({ out, bytes: dictionary.length, samples: samples.length, id })}\n`);
  return 0;
}
