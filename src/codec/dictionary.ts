/**
 * Static shared compression dictionaries: content ids and a simple trainer
 * (docs/wire-format.md, "Dictionaries").
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";
import { MAX_DICTIONARY_BYTES } from "./deflater.js";
import { DICTIONARY_ID_BYTES } from "./validate.js";

/**
 * Returns a dictionary's content id: the first 8 bytes of the SHA-256 of its
 * bytes, as listed in `Hello.dictionaries`. Asynchronous because it uses
 * WebCrypto (`crypto.subtle.digest`), available in browsers, Deno, Bun and
 * Node ≥ 20, so the codec stays free of node:crypto. Throws
 * `DF_ERR_INVALID_STATE` when WebCrypto is missing.
 */
export async function dictionaryId(bytes: Uint8Array): Promise<Uint8Array> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (subtle === undefined) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_STATE",
      "cannot compute dictionary id: WebCrypto is not available",
    );
  }
  const digest = await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return new Uint8Array(digest, 0, DICTIONARY_ID_BYTES).slice();
}

/** Options of {@link trainDictionary}. */
export interface TrainDictionaryOptions {
  /** Length of the substrings counted, in bytes. Default 8. */
  gramBytes: number;
  /** A substring must occur in at least this many samples to be kept. Default 2. */
  minSamples: number;
}

function toKey(bytes: Uint8Array, start: number, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += String.fromCharCode(bytes[start + i]!);
  return s;
}

/**
 * Builds a dictionary of at most `maxBytes` (≤ 32 KiB) from sample encoded
 * frames or batches: the substrings of `gramBytes` bytes found in the most
 * samples, merged where they overlap in a sample, most frequent last (deflate
 * reaches recent bytes with shorter distances). Deterministic for the same
 * samples. Throws `DF_ERR_INVALID_ARGUMENT` for `maxBytes` outside 1…32768.
 */
export function trainDictionary(
  samples: readonly Uint8Array[],
  maxBytes: number,
  options: Partial<TrainDictionaryOptions> = {},
): Uint8Array {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_DICTIONARY_BYTES) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_ARGUMENT",
      `cannot train dictionary: maxBytes must be 1 to ${MAX_DICTIONARY_BYTES}`,
      { maxBytes },
    );
  }
  const gram = options.gramBytes ?? 8;
  const minSamples = options.minSamples ?? 2;
  // How many samples contain each gram, and where it first occurred.
  const counts = new Map<string, { samples: number; last: number; sample: number; at: number }>();
  samples.forEach((sample, index) => {
    for (let at = 0; at + gram <= sample.length; at++) {
      const key = toKey(sample, at, gram);
      const entry = counts.get(key);
      if (entry === undefined) counts.set(key, { samples: 1, last: index, sample: index, at });
      else if (entry.last !== index) {
        entry.samples++;
        entry.last = index;
      }
    }
  });
  const ranked = [...counts.entries()]
    .filter(([, e]) => e.samples >= minSamples)
    .sort((a, b) => b[1].samples - a[1].samples || a[1].sample - b[1].sample || a[1].at - b[1].at);
  // Take the most common grams, extended to the longest run of kept grams in their sample.
  const chosen: Uint8Array[] = [];
  const covered = new Set<string>();
  let size = 0;
  for (const [key, e] of ranked) {
    if (size >= maxBytes) break;
    if (covered.has(key)) continue;
    const sample = samples[e.sample]!;
    let end = e.at + gram;
    while (end < sample.length) {
      const next = toKey(sample, end - gram + 1, gram);
      const n = counts.get(next);
      if (n === undefined || n.samples < minSamples || covered.has(next)) break;
      covered.add(next);
      end++;
    }
    covered.add(key);
    const piece = sample.subarray(e.at, Math.min(end, e.at + (maxBytes - size)));
    chosen.push(piece);
    size += piece.length;
  }
  // Most frequent last: reverse the ranked order.
  const out = new Uint8Array(size);
  let pos = 0;
  for (let i = chosen.length - 1; i >= 0; i--) {
    out.set(chosen[i]!, pos);
    pos += chosen[i]!.length;
  }
  return out;
}
