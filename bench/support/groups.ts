/**
 * What each bench group measures and which of its cases is the baseline that
 * every other case of the group is compared with (same run, same machine).
 * Read by scripts/perf-table.ts to write docs/performance.md.
 *
 * @module
 */

/** Metadata of one bench group (a `describe` block). */
export interface GroupInfo {
  /** Section of docs/performance.md the group's table goes under. */
  section: string;
  /** One sentence: what one iteration does. */
  title: string;
  /** Full case name of the baseline (ratio 1×). */
  baseline: string;
  /** Units of work per iteration (e.g. messages); per-unit time is reported when above 1. Default 1. */
  perIteration?: number;
  /** Name of the unit of work, e.g. "message". Default "op". */
  unit?: string;
}

/** Messages handed to the window bookkeeping per bench iteration (tinybench's own overhead is ~100 ns). */
export const WINDOW_MESSAGES_PER_ITERATION = 1000;

/** Subscribers of the fanned-out compression groups. */
export const FANOUT_SUBSCRIBERS = 100;

/** Every bench group, by name. */
export const GROUPS: Record<string, GroupInfo> = {
  "update-encode": {
    section: "Codec",
    title: "encode one `Updates` frame carrying one odds tick (24 B)",
    baseline: "update-encode/protobufjs",
  },
  "update-decode": {
    section: "Codec",
    title: "decode the same 24 B `Updates` frame (deltaframe also validates it)",
    baseline: "update-decode/protobufjs",
  },
  "snapshot-encode": {
    section: "Codec",
    title: "encode a `SnapshotChunk` frame of two markets (1,077 B)",
    baseline: "snapshot-encode/protobufjs",
  },
  "snapshot-decode": {
    section: "Codec",
    title: "decode the same snapshot chunk (deltaframe also validates it)",
    baseline: "snapshot-decode/protobufjs",
  },
  "tick-diff": {
    section: "Delta",
    title: "turn one market tick into wire bytes: diff + encode vs encoding the whole market",
    baseline: "tick-diff/protobuf-es-full",
  },
  "tick-apply": {
    section: "Delta",
    title: "turn one tick's wire bytes back into the market: decode + apply vs decoding the whole market",
    baseline: "tick-apply/protobuf-es-full",
  },
  "deflate-batch": {
    section: "Compression",
    title:
      "compress one transport message a server session sends per 100 ms of the reference workload (mean size: see the sizes table)",
    baseline: "deflate-batch/context-takeover",
  },
  "inflate-batch": {
    section: "Compression",
    title: "decompress the same batch",
    baseline: "inflate-batch/context-takeover",
  },
  "deflate-fanout": {
    section: "Compression",
    title: `send one 100 ms batch compressed to ${FANOUT_SUBSCRIBERS} subscribers (cost per subscriber)`,
    baseline: "deflate-fanout/context-takeover",
    perIteration: FANOUT_SUBSCRIBERS,
    unit: "subscriber",
  },
  window: {
    section: "Session",
    title: `${WINDOW_MESSAGES_PER_ITERATION} messages through the credit window alone, and through the whole session`,
    baseline: "window/empty-loop",
    perIteration: WINDOW_MESSAGES_PER_ITERATION,
    unit: "message",
  },
  fanout: {
    section: "Fan-out",
    title: "hand an already encoded 100 ms batch to one more subscriber",
    baseline: "fanout/slice",
  },
};
