/**
 * The state a server session keeps per subscription (docs/sessions.md): what
 * its client holds (its own per-key maps, or the source's lockstep view: see
 * lockstep.ts), its live lane (conflated keys, queued events, skip counts)
 * and the sync in progress. The session's behaviour is in server.ts.
 *
 * @module
 */
import type { SlowPolicy, SyncMode } from "../gen/deltaframe/v1/frames_pb.js";
import type { LockstepView, SharedBatch } from "./shared-batch.js";
import type { KeyedSource, PublishedChange, PublishedEvent } from "./types.js";

/** A key waiting for credit (or its rate limit): conflated to its latest change. */
export interface Dirty {
  /** Latest published version (stream offset) of the key. */
  version: bigint;
  /** When the key first waited. */
  since: number;
  /** The latest published change, reused when it applies to what the client holds. */
  change: PublishedChange | undefined;
}

/** A snapshot or catch-up in progress. */
export interface Sync {
  mode: SyncMode;
  offset: bigint;
  keys: string[];
  index: number;
  removed: string[];
  begun: boolean;
}

/** One subscription of a server session: what its client holds, its live lane, its sync. */
export interface Sub {
  alias: number;
  stream: string;
  source: KeyedSource;
  policy: SlowPolicy;
  maxBufferedEvents: number;
  maxStalenessMs: number;
  minIntervalMs: number;
  keyIds: Map<string, number>;
  nextKeyId: number;
  held: Map<string, bigint>;
  dirty: Map<string, Dirty>;
  events: PublishedEvent[];
  eventsHead: number;
  lastSentAt: Map<string, number>;
  /** Published items at or below this offset are already covered. */
  lastPublished: bigint;
  /**
   * Last live-lane offset the client has been sent (update, event, or the lane's start offset); undefined until the
   * lane starts. An `Updates` run whose first version is one more omits `first_offset` (docs/protocol.md §6.1).
   */
  seen: bigint | undefined;
  sync: Sync | undefined;
  resyncAll: boolean;
  resyncKeys: Set<string>;
  skipConflated: number;
  skipDropped: number;
  /**
   * The source's lockstep view this subscription follows (shared-batch.ts):
   * while set, `held` and `keyIds` are empty and the client holds exactly
   * the view's versions as of `lastPublished` (the view's offset, or the end
   * of `viewBatch` when the view has not yet been advanced past it).
   */
  view: LockstepView | undefined;
  /** The last batch taken while following, until the view is advanced past it. */
  viewBatch: SharedBatch | undefined;
  /** Batches to let pass before the next attempt to follow the view (after a failed one). */
  followBackoff: number;
}
