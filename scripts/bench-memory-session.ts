/**
 * The session part of scripts/bench-memory.ts: heap per idle session and per
 * slow consumer.
 */
import type { MemoryResult } from "../bench/support/results.js";

/** What {@link measureSessions} found. */
export interface SessionMemory {
  idleSessionBytes: number | null;
  slowConsumer: MemoryResult["slowConsumer"];
  note: string;
}

/** Measures `count` sessions; `settle` collects garbage and returns memory usage. */
export async function measureSessions(
  _count: number,
  _settle: () => NodeJS.MemoryUsage,
): Promise<SessionMemory> {
  return {
    idleSessionBytes: null,
    slowConsumer: [],
    note: "the session layer (deltaframe/session) exports no session yet",
  };
}
